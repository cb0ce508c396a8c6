"""Thin event notifications: pub/sub channels __mnemo__:<stream>, $all,
$ce-<category>, $et-<type>; one small JSON message per durable event."""
import json
import socket
import time

import pytest

from conftest import wait_msg
from respclient import Closed, Push, RawClient

P = "__mnemo__:"


def no_msg(p, wait=0.5):
    deadline = time.time() + wait
    while time.time() < deadline:
        m = p.get_message(timeout=0.1)
        assert m is None, "unexpected message %r" % (m,)


def subscribed(server, channels=(), patterns=()):
    p = server.client().pubsub()
    if channels:
        p.subscribe(*channels)
    if patterns:
        p.psubscribe(*patterns)
    for _ in range(len(channels) + len(patterns)):
        assert wait_msg(p)["type"] in ("subscribe", "psubscribe")
    return p


def es_events(r, *args):
    """ES.READ / ES.READALL replies (RESP2 flat arrays) as dicts."""
    out = []
    for ev in r.execute_command(*args):
        out.append(dict(zip(ev[0::2], ev[1::2])))
    return out


def expected_payload(ev):
    return {"stream": ev["stream"], "version": ev["version"], "position": ev["position"],
            "id": ev["id"], "type": ev["type"]}


def thin(m):
    d = json.loads(m["data"])
    assert set(d) == {"stream", "version", "position", "id", "type", "entry"}
    return d


def test_subscribe_stream_channel_payload(r, server):
    p = subscribed(server, [P + "order-7"])
    v = r.execute_command("ES.APPEND", "order-7", "any", "EVENT", "*", "OrderPlaced", '{"sku":"SKU-QZW"}',
                          "EVENT", "*", "OrderPaid", '{"amount":5}', "META", '{"correlation_id":"corr-QZW"}')
    assert v[0] == 1
    got = [wait_msg(p), wait_msg(p)]
    # the notified event is readable (and durable) when the message arrives
    events = es_events(r, "ES.READ", "order-7")
    assert [m["type"] for m in got] == ["message", "message"]
    assert [m["channel"] for m in got] == [P + "order-7"] * 2
    payloads = [thin(m) for m in got]
    for d, ev in zip(payloads, events):
        entry = d.pop("entry")
        assert d == expected_payload(ev)
        assert r.xrange("order-7", entry, entry)[0][0] == entry
    # thin: neither data nor metadata travel (markers with letters that no
    # hex UUID or entry id contains, so the check cannot match by chance)
    assert "QZW" not in got[0]["data"] and "QZW" not in got[1]["data"]
    no_msg(p)
    p.close()


def test_xadd_is_notified_with_entry_id(r, server):
    p = subscribed(server, [P + "sensor"])
    eid = r.xadd("sensor", {"t": "21.5"})
    d = thin(wait_msg(p))
    assert d["entry"] == eid and d["type"] == "entry" and d["version"] == 0
    assert d["stream"] == "sensor"
    p.close()


def test_psubscribe_pattern(r, server):
    p = subscribed(server, patterns=[P + "order-*"])
    r.execute_command("ES.APPEND", "order-1", "any", "EVENT", "*", "A", "{}")
    r.execute_command("ES.APPEND", "invoice-1", "any", "EVENT", "*", "A", "{}")
    r.execute_command("ES.APPEND", "order-2", "any", "EVENT", "*", "B", "{}")
    m1, m2 = wait_msg(p), wait_msg(p)
    assert (m1["type"], m1["pattern"], m1["channel"]) == ("pmessage", P + "order-*", P + "order-1")
    assert (m2["pattern"], m2["channel"]) == (P + "order-*", P + "order-2")
    assert thin(m1)["type"] == "A" and thin(m2)["type"] == "B"
    no_msg(p)
    p.close()


def test_virtual_channels(r, server):
    p = subscribed(server, [P + "$all", P + "$ce-order", P + "$et-Shipped"])
    r.execute_command("ES.APPEND", "order-1", "any", "EVENT", "*", "Placed", "{}")
    r.execute_command("ES.APPEND", "user-9", "any", "EVENT", "*", "Shipped", "{}")
    r.execute_command("ES.APPEND", "order", "any", "EVENT", "*", "Other", "{}")  # category "order" too
    r.execute_command("ES.APPEND", "orderx-1", "any", "EVENT", "*", "Other", "{}")  # category "orderx"
    got = []
    for _ in range(7):
        m = wait_msg(p)
        got.append((m["channel"], thin(m)["stream"]))
    no_msg(p)
    assert len(got) == 7
    all_streams = [s for ch, s in got if ch == P + "$all"]
    assert all_streams == ["order-1", "user-9", "order", "orderx-1"]
    assert [s for ch, s in got if ch == P + "$ce-order"] == ["order-1", "order"]
    assert [s for ch, s in got if ch == P + "$et-Shipped"] == ["user-9"]
    p.close()


def test_every_channel_of_one_event_and_its_order(r, server):
    """A catch-all pattern gets the four channels of an event, stream first, $all last."""
    p = subscribed(server, patterns=[P + "*"])
    r.execute_command("ES.APPEND", "cart-3", "any", "EVENT", "*", "ItemAdded", "{}")
    chans = [wait_msg(p)["channel"] for _ in range(4)]
    assert chans == [P + "cart-3", P + "$ce-cart", P + "$et-ItemAdded", P + "$all"]
    no_msg(p)
    p.close()


def test_order_across_clients_matches_the_log(r, server):
    p = subscribed(server, [P + "$all"])
    clients = [server.client() for _ in range(4)]
    pipes = [c.pipeline(transaction=False) for c in clients]
    for i in range(200):
        pipes[i % 4].execute_command("ES.APPEND", "s-%d" % (i % 7), "any", "EVENT", "*", "T%d" % (i % 3), "{}")
    for pp in pipes:
        pp.execute()
    got = [thin(wait_msg(p)) for _ in range(200)]
    no_msg(p, 0.3)
    logged = es_events(r, "ES.READALL", "COUNT", "0")
    assert [d["position"] for d in got] == [e["position"] for e in logged]
    assert [d["id"] for d in got] == [e["id"] for e in logged]
    for c in clients:
        c.close()
    p.close()


@pytest.mark.server_args("--fsync", "never")
def test_more_than_one_pass_of_events(r, server):
    """Bursts larger than a loop pass's budget are all notified, in order."""
    p = subscribed(server, [P + "$all"])
    pipe = r.pipeline(transaction=False)
    n = 0
    for i in range(30):
        args = ["ES.APPEND", "bulk-%d" % i, "any"]
        for j in range(100):
            args += ["EVENT", "*", "Bulk", "{}"]
            n += 1
        pipe.execute_command(*args)
    pipe.execute()
    got = [thin(wait_msg(p)) for _ in range(n)]
    positions = [d["position"] for d in got]
    assert positions == sorted(set(positions))
    assert [d["version"] for d in got[:100]] == list(range(100))
    no_msg(p, 0.3)
    p.close()


def test_tx_notifies_every_stream(r, server):
    p = subscribed(server, patterns=[P + "account-*"])
    r.execute_command("ES.TX", "STREAM", "account-1", "any", "EVENT", "*", "Sent", "{}",
                      "STREAM", "account-2", "any", "EVENT", "*", "Received", "{}")
    m1, m2 = thin(wait_msg(p)), thin(wait_msg(p))
    assert (m1["stream"], m1["type"]) == ("account-1", "Sent")
    assert (m2["stream"], m2["type"]) == ("account-2", "Received")
    assert m1["position"] < m2["position"]
    p.close()


def test_no_message_for_refused_or_repeated_appends(r, server):
    p = subscribed(server, [P + "acc"])
    eid = "0190a000-0000-7000-8000-000000000001"
    r.execute_command("ES.APPEND", "acc", "nostream", "EVENT", eid, "Opened", "{}")
    assert thin(wait_msg(p))["id"] == eid
    # wrong expected version: refused, nothing written
    with pytest.raises(Exception, match="WRONGVERSION"):
        r.execute_command("ES.APPEND", "acc", "5", "EVENT", "*", "Bad", "{}")
    with pytest.raises(Exception, match="WRONGVERSION"):
        r.execute_command("ES.TX", "STREAM", "acc", "any", "EVENT", "*", "Bad", "{}",
                          "STREAM", "missing", "exists", "EVENT", "*", "Bad", "{}")
    # idempotent retry: the original result, nothing written again
    assert r.execute_command("ES.APPEND", "acc", "nostream", "EVENT", eid, "Opened", "{}")[0] == 0
    # malformed: refused before the engine
    with pytest.raises(Exception):
        r.execute_command("ES.APPEND", "acc", "any", "EVENT", "not-a-uuid", "Bad", "{}")
    # writes to a virtual stream are refused
    with pytest.raises(Exception):
        r.xadd("$all", {"a": "b"})
    no_msg(p)
    r.execute_command("ES.APPEND", "acc", "0", "EVENT", "*", "Good", "{}")
    d = thin(wait_msg(p))
    assert (d["type"], d["version"]) == ("Good", 1)
    no_msg(p)
    p.close()


def test_tombstoned_stream_refuses_and_deletes_are_silent(r, server):
    r.execute_command("ES.APPEND", "gone", "any", "EVENT", "*", "A", "{}")
    p = subscribed(server, patterns=[P + "*"])
    r.execute_command("ES.DELETE", "gone")
    with pytest.raises(Exception, match="DELETED"):
        r.execute_command("ES.APPEND", "gone", "any", "EVENT", "*", "B", "{}")
    r.xadd("k", {"a": "1"})
    r.delete("k")
    chans = [wait_msg(p)["channel"] for _ in range(4)]
    assert chans[0] == P + "k"
    no_msg(p)
    p.close()


def test_subscribers_get_only_later_events(r, server):
    r.execute_command("ES.APPEND", "early", "any", "EVENT", "*", "A", "{}")
    p = subscribed(server, [P + "early"])
    no_msg(p, 0.3)
    r.execute_command("ES.APPEND", "early", "any", "EVENT", "*", "B", "{}")
    assert thin(wait_msg(p))["version"] == 1
    p.close()


def test_unsubscribe_stops_messages(r, server):
    p = subscribed(server, [P + "u-1"], [P + "u-*"])
    r.execute_command("ES.APPEND", "u-1", "any", "EVENT", "*", "A", "{}")
    assert {wait_msg(p)["type"], wait_msg(p)["type"]} == {"message", "pmessage"}
    p.unsubscribe(P + "u-1")
    assert wait_msg(p)["type"] == "unsubscribe"
    r.execute_command("ES.APPEND", "u-1", "any", "EVENT", "*", "B", "{}")
    assert wait_msg(p)["type"] == "pmessage"
    p.punsubscribe()
    assert wait_msg(p)["type"] == "punsubscribe"
    assert r.pubsub_numsub(P + "u-1") == [(P + "u-1", 0)]
    assert r.pubsub_numpat() == 0
    r.execute_command("ES.APPEND", "u-1", "any", "EVENT", "*", "C", "{}")
    no_msg(p)
    # subscribing again starts from the new events only
    p.subscribe(P + "u-1")
    assert wait_msg(p)["type"] == "subscribe"
    r.execute_command("ES.APPEND", "u-1", "any", "EVENT", "*", "D", "{}")
    d = thin(wait_msg(p))
    assert (d["type"], d["version"]) == ("D", 3)
    p.close()


def test_publish_under_the_prefix_is_refused(r, server):
    p = subscribed(server, [P + "x"])
    with pytest.raises(Exception, match="reserved for event notifications"):
        r.publish(P + "x", "forged")
    assert r.publish("__mnemo_x", "fine") == 0
    no_msg(p, 0.3)
    p.close()


def test_resp3_push(server):
    sub = RawClient(server.host, server.port)
    sub.call("HELLO", "3")
    assert sub.call("SUBSCRIBE", P + "r3") == Push(["subscribe", P + "r3", 1])
    # RESP3: any command works while subscribed; the append's reply comes
    # before the push announcing it (replies keep request order, and the
    # push is queued behind the durable reply's slot)
    rep = sub.call("ES.APPEND", "r3", "any", "EVENT", "*", "Own", "{}")
    assert rep == [0, rep[1]]
    push = sub.read_reply()
    assert isinstance(push, Push) and push[:2] == ["message", P + "r3"]
    d = json.loads(push[2])
    assert (d["stream"], d["type"], d["position"]) == ("r3", "Own", rep[1])
    other = server.client()
    other.execute_command("ES.APPEND", "r3", "any", "EVENT", "*", "Theirs", "{}")
    push = sub.read_reply()
    assert isinstance(push, Push) and json.loads(push[2])["type"] == "Theirs"
    assert sub.call("PING") == "PONG"
    other.close()
    sub.close()


def test_json_escaping_of_names(r, server):
    p = subscribed(server, patterns=[P + "*"])
    name = 'we"ird\\name\x01-é'
    r.execute_command("ES.APPEND", name, "any", "EVENT", "*", 'T"\n', "{}")
    ms = [wait_msg(p) for _ in range(4)]
    d = thin(ms[0])
    assert d["stream"] == name and d["type"] == 'T"\n'
    assert [m["channel"] for m in ms] == [P + name, P + '$ce-we"ird\\name\x01', P + '$et-T"\n', P + "$all"]
    p.close()


@pytest.mark.server_args("--fsync", "never")
def test_slow_subscriber_is_cut_and_catches_up(r, server):
    r.config_set("client-output-buffer-limit", "pubsub 2mb 0 0")
    # a small receive buffer set before connecting (so the TCP window stays
    # small): the server's output queues up in its own buffer
    slow = RawClient.__new__(RawClient)
    slow.buf = b""
    slow.sock = socket.socket()
    slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sock.settimeout(5)
    slow.sock.connect((server.host, server.port))
    assert slow.call("SUBSCRIBE", P + "$all") == ["subscribe", P + "$all", 1]
    # long names make big notifications: the kernel's socket buffers (which
    # absorb a few MB on loopback) fill up sooner
    stream, etype = "flood-" + "s" * 390, "F" * 1000
    total = 0
    for _ in range(30):
        pipe = r.pipeline(transaction=False)
        for i in range(20):
            pipe.execute_command("ES.APPEND", stream, "any", *(["EVENT", "*", etype, "{}"] * 100))
        pipe.execute()
        total += 2000
        if r.pubsub_numsub(P + "$all") == [(P + "$all", 0)]:
            break
    # the subscriber that did not read was cut at its output-buffer limit
    seen = []
    try:
        while True:
            m = slow.read_reply()
            seen.append(json.loads(m[2])["position"])
    except (Closed, socket.timeout):
        pass
    assert len(seen) < total
    assert r.info("stats")["client_output_buffer_limit_disconnections"] >= 1
    assert r.pubsub_numsub(P + "$all") == [(P + "$all", 0)]
    # after the gap it catches up with ES.READALL FROM <last position + 1>
    rest = es_events(r, "ES.READALL", "FROM", seen[-1] + 1 if seen else 0, "COUNT", "0")
    logged = es_events(r, "ES.READALL", "COUNT", "0")
    assert seen + [e["position"] for e in rest] == [e["position"] for e in logged]
    assert len(logged) == total
    # and the server keeps notifying
    p = subscribed(server, [P + "$all"])
    r.execute_command("ES.APPEND", "after", "any", "EVENT", "*", "A", "{}")
    assert thin(wait_msg(p))["stream"] == "after"
    p.close()


def test_unrelated_pattern_subscribers_get_nothing(r, server):
    p = subscribed(server, patterns=["order-*", "news"])
    r.execute_command("ES.APPEND", "order-1", "any", "EVENT", "*", "A", "{}")
    no_msg(p)
    p.close()


@pytest.mark.server_args("--fsync", "interval:50")
def test_interval_policy_notifies_after_acknowledgement(r, server):
    p = subscribed(server, [P + "iv"])
    r.execute_command("ES.APPEND", "iv", "any", "EVENT", "*", "A", "{}")
    d = thin(wait_msg(p))
    assert es_events(r, "ES.READ", "iv")[0]["position"] == d["position"]
    p.close()


def test_catch_all_pattern_receives_notifications_too(r, server):
    """As with Redis keyspace channels, PSUBSCRIBE * matches __mnemo__: channels."""
    p = subscribed(server, patterns=["*"])
    r.execute_command("ES.APPEND", "k-1", "any", "EVENT", "*", "A", "{}")
    assert r.publish("plain", "x") == 1
    chans = [wait_msg(p)["channel"] for _ in range(5)]
    assert chans == [P + "k-1", P + "$ce-k", P + "$et-A", P + "$all", "plain"]
    p.close()


def test_appends_inside_multi_are_notified_in_order(r, server):
    p = subscribed(server, [P + "$all"])
    pipe = r.pipeline(transaction=True)
    pipe.execute_command("ES.APPEND", "m-1", "any", "EVENT", "*", "A", "{}")
    pipe.xadd("m-2", {"f": "v"})
    pipe.execute_command("ES.APPEND", "m-1", "any", "EVENT", "*", "B", "{}")
    pipe.execute()
    got = [thin(wait_msg(p)) for _ in range(3)]
    assert [(d["stream"], d["type"]) for d in got] == [("m-1", "A"), ("m-2", "entry"), ("m-1", "B")]
    p.close()

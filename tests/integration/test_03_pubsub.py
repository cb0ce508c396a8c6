"""Pub/sub: SUBSCRIBE PSUBSCRIBE PUBLISH PUBSUB, RESP2 subscribed mode, RESP3 pushes."""
import time

import redis

from conftest import wait_msg
from respclient import Error, Push


def test_subscribe_publish_counts(r, server):
    p = server.client().pubsub()
    p.subscribe("news", "sport")
    assert wait_msg(p) == {"type": "subscribe", "pattern": None, "channel": "news", "data": 1}
    assert wait_msg(p)["data"] == 2
    p.psubscribe("n*")
    assert wait_msg(p) == {"type": "psubscribe", "pattern": None, "channel": "n*", "data": 3}
    assert r.publish("news", "hello") == 2  # the channel and the pattern
    m1, m2 = wait_msg(p), wait_msg(p)
    assert {m1["type"], m2["type"]} == {"message", "pmessage"}
    pm = m1 if m1["type"] == "pmessage" else m2
    assert pm == {"type": "pmessage", "pattern": "n*", "channel": "news", "data": "hello"}
    assert r.publish("nothing-here", "x") == 1  # pattern only
    assert r.publish("zzz", "x") == 0
    p.unsubscribe("news")
    assert wait_msg(p)["type"] == "pmessage"
    u = wait_msg(p)
    assert u == {"type": "unsubscribe", "pattern": None, "channel": "news", "data": 2}
    p.close()


def test_pubsub_introspection(r, server):
    p1 = server.client().pubsub()
    p2 = server.client().pubsub()
    p1.subscribe("a", "b")
    p2.subscribe("a")
    p2.psubscribe("x*", "y?")
    p1.psubscribe("x*")
    for p, n in ((p1, 3), (p2, 3)):
        for _ in range(n):
            wait_msg(p)
    assert sorted(r.pubsub_channels()) == ["a", "b"]
    assert r.pubsub_channels("b*") == ["b"]
    assert r.pubsub_numsub("a", "b", "c") == [("a", 2), ("b", 1), ("c", 0)]
    assert r.pubsub_numpat() == 2
    info = r.info("stats")
    assert info["pubsub_channels"] == 2 and info["pubsub_patterns"] == 2
    p1.close()
    p2.close()
    deadline = time.time() + 5
    while r.pubsub_numsub("a") != [("a", 0)] and time.time() < deadline:
        time.sleep(0.05)
    assert r.pubsub_numsub("a") == [("a", 0)]
    assert r.pubsub_numpat() == 0


def test_binary_and_glob_patterns(r, server):
    c = server.client(decode_responses=False)
    p = c.pubsub()
    p.psubscribe(b"h[ae]llo", b"a\\*b", b"[^x]z")
    for _ in range(3):
        wait_msg(p)
    assert r.publish("hallo", "1") == 1
    assert r.publish("hillo", "1") == 0
    assert r.publish("a*b", "1") == 1
    assert r.publish("axb", "1") == 0
    assert r.publish("yz", "1") == 1
    assert r.publish("xz", "1") == 0
    got = [wait_msg(p) for _ in range(3)]
    assert [m["channel"] for m in got] == [b"hallo", b"a*b", b"yz"]
    data = bytes(range(256))
    p.subscribe(b"bin\x00chan")
    assert wait_msg(p)["type"] in ("subscribe", b"subscribe")
    assert c.publish(b"bin\x00chan", data) == 1
    m = wait_msg(p)
    assert m["data"] == data and m["channel"] == b"bin\x00chan"
    p.close()


def test_resp2_subscribed_mode(raw):
    assert raw.call("SUBSCRIBE", "ch") == ["subscribe", "ch", 1]
    assert raw.call("ECHO", "x") == Error(
        "ERR Can't execute 'echo': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
        "are allowed in this context")
    assert raw.call("CLIENT", "ID") == Error(
        "ERR Can't execute 'client|id': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
        "RESET are allowed in this context")
    assert raw.call("PING") == ["pong", ""]
    assert raw.call("PING", "hi") == ["pong", "hi"]
    assert raw.call("PSUBSCRIBE", "p*") == ["psubscribe", "p*", 2]
    assert raw.call("UNSUBSCRIBE") == ["unsubscribe", "ch", 1]
    assert raw.call("PUNSUBSCRIBE") == ["punsubscribe", "p*", 0]
    # out of subscribed mode again
    assert raw.call("ECHO", "x") == "x"
    assert raw.call("UNSUBSCRIBE") == ["unsubscribe", None, 0]
    assert raw.call("PUNSUBSCRIBE", "nope") == ["punsubscribe", "nope", 0]


def test_resp3_pushes(server):
    sub = server.raw()
    sub.call("HELLO", "3")
    s = sub.call("SUBSCRIBE", "c1")
    assert isinstance(s, Push) and s == ["subscribe", "c1", 1]
    # RESP3: any command works while subscribed
    assert sub.call("ECHO", "x") == "x"
    assert sub.call("PING") == "PONG"
    pub = server.raw()
    assert pub.call("PUBLISH", "c1", "payload") == 1
    m = sub.read_reply()
    assert isinstance(m, Push) and m == ["message", "c1", "payload"]
    sub.call("PSUBSCRIBE", "c*")
    assert pub.call("PUBLISH", "c1", "two") == 2
    got = [sub.read_reply(), sub.read_reply()]
    assert ["message", "c1", "two"] in got and ["pmessage", "c*", "c1", "two"] in got
    u = sub.call("UNSUBSCRIBE", "c1")
    assert isinstance(u, Push) and u == ["unsubscribe", "c1", 1]


def test_publish_to_self_resp3(raw):
    raw.call("HELLO", "3")
    raw.call("SUBSCRIBE", "me")
    raw.send(b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nme\r\n$2\r\nhi\r\n")
    first = raw.read_reply()
    second = raw.read_reply()
    assert {repr(first), repr(second)} == {repr(Push(["message", "me", "hi"])), repr(1)}


def test_disconnect_cleans_up(r, server):
    raw = server.raw()
    raw.call("SUBSCRIBE", "gone")
    raw.call("PSUBSCRIBE", "gone*")
    assert r.pubsub_numsub("gone") == [("gone", 1)]
    raw.close()
    deadline = time.time() + 5
    while r.pubsub_numsub("gone") != [("gone", 0)] and time.time() < deadline:
        time.sleep(0.05)
    assert r.pubsub_numsub("gone") == [("gone", 0)] and r.pubsub_numpat() == 0
    assert r.publish("gone", "x") == 0


def test_pubsub_errors(raw):
    assert raw.call("PUBSUB", "FOO") == Error("ERR unknown subcommand 'FOO'. Try PUBSUB HELP.")
    assert raw.call("SUBSCRIBE") == Error("ERR wrong number of arguments for 'subscribe' command")
    assert raw.call("PUBSUB", "NUMPAT", "x") == Error("ERR wrong number of arguments for 'pubsub|numpat' command")

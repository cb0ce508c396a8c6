"""Event store: ES.APPEND ES.TX ES.READ ES.READALL ES.INFO ES.DELETE TRACE, the
virtual streams $all / $ce-<category> / $et-<type>, and "one model, two views"
(issue 4).

`r` is redis-py (RESP2); `raw` shows exact RESP2/RESP3 shapes and error lines.
Queue policies (test_31), consumer groups and XINFO on virtual streams (test_32)
and thin notifications (test_33) have their own files.
"""
import json
import threading
import time
import uuid

import pytest
import redis

from respclient import Error, encode

EVENT_FIELDS = ["stream", "version", "position", "id", "type", "data", "meta", "timestamp"]
READ_ONLY = ("ERR names starting with '$' are reserved for the virtual streams ($all, "
             "$ce-<category>, $et-<type>), which are read-only")


def uid(n=None):
    return str(uuid.uuid4()) if n is None else "00000000-0000-4000-8000-%012d" % n


def ev(type_, data, id_="*", meta=None):
    """The words of one EVENT clause."""
    words = ["EVENT", id_, type_, data if isinstance(data, str) else json.dumps(data)]
    if meta is not None:
        words += ["META", meta if isinstance(meta, str) else json.dumps(meta)]
    return words


def append(r, stream, expected, *events):
    """ES.APPEND with events given as ev(...) lists; returns the reply."""
    args = ["ES.APPEND", stream, expected]
    for e in events:
        args += e
    return r.execute_command(*args)


def wrong_version(expected, actual):
    return "WRONGVERSION expected %s, stream is at %s" % (expected, actual)


def err(r, *args):
    """The error line of a command that must fail (redis-py)."""
    with pytest.raises(redis.ResponseError) as ei:
        r.execute_command(*args)
    return str(ei.value)


def err_append(r, stream, expected, *events):
    args = ["ES.APPEND", stream, expected]
    for e in events:
        args += e
    return err(r, *args)


def pairs(flat):
    """A RESP2 flat field/value array as a dict (order checked separately)."""
    assert len(flat) % 2 == 0
    return dict(zip(flat[::2], flat[1::2]))


def read(r, stream, *opts):
    return [pairs(e) for e in r.execute_command("ES.READ", stream, *opts)]


def readall(r, *opts):
    return [pairs(e) for e in r.execute_command("ES.READALL", *opts)]


def versions(events):
    return [int(e["version"]) for e in events]


def info(r, stream):
    reply = r.execute_command("ES.INFO", stream)
    return None if reply is None else pairs(reply)


# ---------------------------------------------------------------- ES.APPEND expectations


def test_append_nostream_then_exact(r):
    v0, p0 = append(r, "acc-1", "NOSTREAM", ev("Opened", {"n": 0}))
    assert v0 == 0 and p0 > 0
    v1, p1 = append(r, "acc-1", 0, ev("Deposited", {"n": 1}))
    assert v1 == 1 and p1 > p0
    v3, p3 = append(r, "acc-1", 1, ev("Deposited", {"n": 2}), ev("Deposited", {"n": 3}))
    assert v3 == 3 and p3 > p1
    evs = read(r, "acc-1")
    assert versions(evs) == [0, 1, 2, 3]
    assert [int(e["position"]) for e in evs][-1] == p3
    assert int(evs[0]["position"]) == p0 and int(evs[1]["position"]) == p1
    assert [json.loads(e["data"])["n"] for e in evs] == [0, 1, 2, 3]


def test_append_reply_raw_shape(raw):
    reply = raw.call("ES.APPEND", "s-1", "ANY", "EVENT", "*", "T", "{}")
    assert isinstance(reply, list) and len(reply) == 2
    assert reply[0] == 0 and isinstance(reply[1], int)


def test_append_any(r):
    assert append(r, "any-1", "ANY", ev("A", {}))[0] == 0
    assert append(r, "any-1", "any", ev("A", {}))[0] == 1  # case-insensitive
    assert append(r, "any-1", "ANY", ev("A", {}), ev("A", {}))[0] == 3


def test_append_exists(r):
    assert err_append(r, "ex-1", "EXISTS", ev("A", {})) == wrong_version("EXISTS", -1)
    assert info(r, "ex-1") is None
    append(r, "ex-1", "NOSTREAM", ev("A", {}))
    assert append(r, "ex-1", "EXISTS", ev("B", {}))[0] == 1


def test_append_nostream_on_existing(r):
    append(r, "ns-1", "ANY", ev("A", {}), ev("A", {}))
    assert err_append(r, "ns-1", "NOSTREAM", ev("B", {})) == wrong_version("NOSTREAM", 1)
    assert versions(read(r, "ns-1")) == [0, 1]


def test_wrong_version_writes_nothing(r):
    v, p = append(r, "wv-1", "NOSTREAM", ev("A", {}))
    before_all = r.xlen("$all")
    for expected, actual in [(1, 0), (5, 0)]:
        assert err_append(r, "wv-1", expected, ev("B", {}), ev("C", {})) == wrong_version(expected, actual)
    assert err_append(r, "nosuch-1", 0, ev("B", {})) == wrong_version(0, -1)
    assert r.xlen("$all") == before_all
    assert versions(read(r, "wv-1")) == [0]
    assert info(r, "nosuch-1") is None
    assert info(r, "wv-1")["last-position"] == p


def test_wrong_version_raw_error_line(raw):
    raw.call("ES.APPEND", "w-1", "ANY", "EVENT", "*", "T", "{}")
    assert raw.call("ES.APPEND", "w-1", "7", "EVENT", "*", "T", "{}") == Error(
        "WRONGVERSION expected 7, stream is at 0")


def test_append_argument_errors(r):
    assert err(r, "ES.APPEND", "s", "-3", "EVENT", "*", "T", "{}") == \
        "expected version must be ANY, NOSTREAM, EXISTS or a version >= 0"
    assert err(r, "ES.APPEND", "s", "abc", "EVENT", "*", "T", "{}") == \
        "expected version must be ANY, NOSTREAM, EXISTS or a version >= 0"
    assert err(r, "ES.APPEND", "s", "ANY", "EVENT", "not-a-uuid", "T", "{}") == \
        "event id must be a UUID (8-4-4-4-12 hex digits) or *"
    assert err(r, "ES.APPEND", "s", "ANY", "EVENT", "*", "T", "{}", "META", "[1]") == \
        "META must be a JSON object"
    assert err(r, "ES.APPEND", "s", "ANY", "EVENT", "*", "T", "{}", "BOGUS") == "syntax error"
    assert "wrong number of arguments" in err(r, "ES.APPEND", "s", "ANY", "EVENT", "*", "T")
    assert info(r, "s") is None


# ---------------------------------------------------------------- all or nothing


def test_multi_event_append_all_or_nothing(r):
    append(r, "aon-1", "ANY", ev("A", {}))
    before = r.xlen("$all")
    too_long_type = "x" * 1025
    msg = err_append(r, "aon-1", "ANY", ev("B", {}), ev("C", {}), ev(too_long_type, {}))
    assert "event type must be 1..1024 bytes" in msg
    msg = err_append(r, "aon-1", 0, ev("B", {}), ev("C", {}), ev("D", {}, meta="nope"))
    assert msg == "META must be a JSON object"
    assert r.xlen("$all") == before
    assert versions(read(r, "aon-1")) == [0]
    # a successful multi-event append is contiguous in the stream and in $all
    v, p = append(r, "aon-1", 0, *[ev("E", {"i": i}) for i in range(5)])
    assert v == 5
    evs = read(r, "aon-1", "FROM", 1)
    assert versions(evs) == [1, 2, 3, 4, 5]
    positions = [int(e["position"]) for e in evs]
    assert positions == sorted(positions) and positions[-1] == p
    tail = r.xrange("$all", "%d-0" % positions[0], "+")
    assert [int(i.split("-")[0]) for i, _ in tail] == positions


# ---------------------------------------------------------------- idempotence


def test_idempotent_retry_same_reply_nothing_written(r):
    a, b = uid(1), uid(2)
    first = append(r, "idem-1", "NOSTREAM", ev("A", {"x": 1}, a), ev("B", {"x": 2}, b))
    assert first[0] == 1
    n_all = r.xlen("$all")
    for _ in range(3):
        assert append(r, "idem-1", "NOSTREAM", ev("A", {"x": 1}, a), ev("B", {"x": 2}, b)) == first
    assert r.xlen("$all") == n_all
    assert versions(read(r, "idem-1")) == [0, 1]
    # later appends do not change the answer to the retry
    append(r, "idem-1", 1, ev("C", {}))
    assert append(r, "idem-1", "NOSTREAM", ev("A", {"x": 1}, a), ev("B", {"x": 2}, b)) == first
    assert versions(read(r, "idem-1")) == [0, 1, 2]


def test_idempotent_retry_exact_version(r):
    append(r, "idem-2", "ANY", ev("A", {}))
    e = uid(7)
    first = append(r, "idem-2", 0, ev("B", {}, e))
    assert first[0] == 1
    assert append(r, "idem-2", 0, ev("B", {}, e)) == first
    assert versions(read(r, "idem-2")) == [0, 1]


def test_idempotent_retry_across_restart(server):
    r = server.client()
    a, b = uid(11), uid(12)
    first = append(r, "idem-r", "NOSTREAM", ev("A", {}, a), ev("B", {}, b))
    n_all = r.xlen("$all")
    r.close()
    server.restart()
    r = server.client()
    assert append(r, "idem-r", "NOSTREAM", ev("A", {}, a), ev("B", {}, b)) == first
    assert r.xlen("$all") == n_all
    assert versions(read(r, "idem-r")) == [0, 1]
    assert read(r, "idem-r")[0]["id"] == a
    r.close()


def test_partial_id_overlap_is_duplicate(r):
    a, b = uid(21), uid(22)
    append(r, "dup-1", "ANY", ev("A", {}, a))
    n_all = r.xlen("$all")
    msg = err_append(r, "dup-1", "ANY", ev("A", {}, a), ev("B", {}, b))
    assert msg.startswith("DUPLICATE ")
    # the id of another stream's event
    msg = err_append(r, "dup-2", "ANY", ev("A", {}, a))
    assert msg.startswith("DUPLICATE ")
    assert r.xlen("$all") == n_all
    assert info(r, "dup-2") is None
    assert versions(read(r, "dup-1")) == [0]


# ---------------------------------------------------------------- ES.TX


def test_tx_appends_to_several_streams(r):
    append(r, "tx-a", "ANY", ev("A", {}))
    reply = r.execute_command("ES.TX",
                              "STREAM", "tx-a", 0, *ev("A2", {}),
                              "STREAM", "tx-b", "NOSTREAM", *ev("B1", {}), *ev("B2", {}))
    assert len(reply) == 2
    (va, pa), (vb, pb) = reply
    assert va == 1 and vb == 1
    assert pb > pa
    assert versions(read(r, "tx-a")) == [0, 1]
    assert [e["type"] for e in read(r, "tx-b")] == ["B1", "B2"]
    assert int(read(r, "tx-a")[1]["position"]) == pa


def test_tx_one_failing_condition_writes_nothing(r):
    append(r, "txf-a", "ANY", ev("A", {}))
    append(r, "txf-b", "ANY", ev("B", {}), ev("B", {}))
    n_all = r.xlen("$all")
    msg = err(r, "ES.TX",
              "STREAM", "txf-a", 0, *ev("A2", {}),       # holds
              "STREAM", "txf-c", "NOSTREAM", *ev("C", {}),  # holds
              "STREAM", "txf-b", 0, *ev("B2", {}))        # fails: b is at 1
    assert msg == wrong_version(0, 1)
    assert r.xlen("$all") == n_all
    assert versions(read(r, "txf-a")) == [0]
    assert versions(read(r, "txf-b")) == [0, 1]
    assert info(r, "txf-c") is None
    # the first failing part is named
    msg = err(r, "ES.TX", "STREAM", "txf-a", "NOSTREAM", *ev("X", {}),
              "STREAM", "txf-b", 5, *ev("X", {}))
    assert msg == wrong_version("NOSTREAM", 0)


def test_tx_deleted_stream_writes_nothing(r):
    append(r, "txd-a", "ANY", ev("A", {}))
    r.execute_command("ES.DELETE", "txd-a")
    n_all = r.xlen("$all")
    msg = err(r, "ES.TX", "STREAM", "txd-b", "ANY", *ev("B", {}), "STREAM", "txd-a", "ANY", *ev("A", {}))
    assert msg.startswith("DELETED")
    assert info(r, "txd-b") is None
    assert r.xlen("$all") == n_all


def test_tx_idempotent_retry(r):
    a, b = uid(31), uid(32)
    args = ["ES.TX", "STREAM", "txi-a", "NOSTREAM", *ev("A", {}, a), "STREAM", "txi-b", "NOSTREAM", *ev("B", {}, b)]
    first = r.execute_command(*args)
    n_all = r.xlen("$all")
    assert r.execute_command(*args) == first
    assert r.xlen("$all") == n_all


def test_tx_syntax(r):
    assert err(r, "ES.TX", "STREAM", "a", "ANY", "EVENT", "*", "T", "{}", "STREAM", "b") == \
        "ES.TX expects STREAM <stream> <expected> EVENT ... for each stream"
    assert err(r, "ES.TX", "STREAM", "$all", "ANY", "EVENT", "*", "T", "{}") == READ_ONLY[4:]


# ---------------------------------------------------------------- ES.READ


def test_read_from_count_backward(r):
    append(r, "rd-1", "ANY", *[ev("T", {"n": i}) for i in range(10)])
    assert versions(read(r, "rd-1")) == list(range(10))
    assert versions(read(r, "rd-1", "FROM", 4)) == list(range(4, 10))
    assert versions(read(r, "rd-1", "FROM", 4, "COUNT", 3)) == [4, 5, 6]
    assert versions(read(r, "rd-1", "COUNT", 2)) == [0, 1]
    assert versions(read(r, "rd-1", "BACKWARD")) == list(range(9, -1, -1))
    assert versions(read(r, "rd-1", "BACKWARD", "COUNT", 3)) == [9, 8, 7]
    assert versions(read(r, "rd-1", "FROM", 4, "BACKWARD")) == [4, 3, 2, 1, 0]
    assert versions(read(r, "rd-1", "FROM", 4, "COUNT", 2, "BACKWARD")) == [4, 3]
    assert read(r, "rd-1", "FROM", 10) == []
    assert read(r, "nosuch") == []
    assert err(r, "ES.READ", "rd-1", "FROM", "-1") == "FROM must be an integer >= 0"
    assert err(r, "ES.READ", "rd-1", "SIDEWAYS") == "syntax error"


def test_read_event_fields_resp2(r):
    e_id = uid(41)
    v, p = append(r, "f-1", "ANY", ev("Happened", '{"a":1}', e_id, meta={"correlation_id": "c"}))
    before = time.time() * 1000
    flat = r.execute_command("ES.READ", "f-1")[0]
    assert flat[::2] == EVENT_FIELDS  # order as documented
    e = pairs(flat)
    assert e["stream"] == "f-1"
    assert e["version"] == 0 and e["position"] == p
    assert e["id"] == e_id and e["type"] == "Happened" and e["data"] == '{"a":1}'
    assert json.loads(e["meta"]) == {"correlation_id": "c"}
    assert abs(e["timestamp"] - before) < 60000
    # no META: nil
    append(r, "f-1", "ANY", ev("Plain", "raw bytes"))
    e = read(r, "f-1", "FROM", 1)[0]
    assert e["meta"] is None and e["data"] == "raw bytes"


def test_read_event_map_resp3(raw):
    assert isinstance(raw.call("HELLO", "3"), dict)
    e_id = uid(42)
    v, p = raw.call("ES.APPEND", "m-1", "ANY", "EVENT", e_id, "T", '{"k":"v"}')
    evs = raw.call("ES.READ", "m-1")
    assert isinstance(evs, list) and len(evs) == 1
    e = evs[0]
    assert isinstance(e, dict)
    assert list(e.keys()) == EVENT_FIELDS
    assert e["stream"] == "m-1" and e["version"] == 0 and e["position"] == p
    assert e["id"] == e_id and e["type"] == "T" and e["data"] == '{"k":"v"}' and e["meta"] is None
    assert isinstance(raw.call("ES.READALL")[0], dict)
    inf = raw.call("ES.INFO", "m-1")
    assert isinstance(inf, dict) and inf["version"] == 0
    # and back to RESP2: flat arrays
    raw.call("HELLO", "2")
    flat = raw.call("ES.READ", "m-1")[0]
    assert isinstance(flat, list) and flat[::2] == EVENT_FIELDS


# ---------------------------------------------------------------- ES.READALL


def test_readall_global_order_from_count(r):
    append(r, "ra-1", "ANY", ev("A", {}))
    append(r, "rb-1", "ANY", ev("B", {}))
    append(r, "ra-1", "ANY", ev("C", {}))
    evs = readall(r)
    assert [(e["stream"], e["type"]) for e in evs] == [("ra-1", "A"), ("rb-1", "B"), ("ra-1", "C")]
    pos = [int(e["position"]) for e in evs]
    assert pos == sorted(pos)
    # FROM is inclusive
    assert [e["type"] for e in readall(r, "FROM", pos[1])] == ["B", "C"]
    assert [e["type"] for e in readall(r, "FROM", pos[1] + 1)] == ["C"]
    assert [e["type"] for e in readall(r, "COUNT", 2)] == ["A", "B"]
    assert [e["type"] for e in readall(r, "FROM", pos[1], "COUNT", 1)] == ["B"]
    assert readall(r, "FROM", pos[2] + 1) == []


@pytest.mark.server_args("--fsync", "never")
def test_readall_default_count_1000(r):
    append(r, "big-1", "ANY", *[ev("T", {}) for _ in range(1100)])
    assert len(r.execute_command("ES.READALL")) == 1000
    assert len(r.execute_command("ES.READALL", "COUNT", 1050)) == 1050
    assert len(r.execute_command("ES.READALL", "COUNT", 0)) == 1100


def test_readall_type_and_category(r):
    append(r, "order-1", "ANY", ev("OrderPlaced", {}), ev("OrderShipped", {}))
    append(r, "payment-1", "ANY", ev("PaymentTaken", {}))
    append(r, "order-2", "ANY", ev("OrderPlaced", {}))
    append(r, "orderx", "ANY", ev("OrderPlaced", {}))  # category "orderx"
    r.xadd("order-3", {"type": "OrderCancelled", "why": "late"})
    placed = readall(r, "TYPE", "OrderPlaced")
    assert [e["stream"] for e in placed] == ["order-1", "order-2", "orderx"]
    several = readall(r, "TYPE", "OrderShipped", "PaymentTaken", "OrderCancelled")
    assert [(e["stream"], e["type"]) for e in several] == [
        ("order-1", "OrderShipped"), ("payment-1", "PaymentTaken"), ("order-3", "OrderCancelled")]
    cat = readall(r, "CATEGORY", "order")
    assert [(e["stream"], e["type"]) for e in cat] == [
        ("order-1", "OrderPlaced"), ("order-1", "OrderShipped"), ("order-2", "OrderPlaced"),
        ("order-3", "OrderCancelled")]
    both = readall(r, "CATEGORY", "order", "TYPE", "OrderPlaced")
    assert [e["stream"] for e in both] == ["order-1", "order-2"]
    assert [e["stream"] for e in readall(r, "TYPE", "OrderPlaced", "COUNT", 1)] == ["order-1"]
    second = int(placed[1]["position"])
    assert [e["stream"] for e in readall(r, "TYPE", "OrderPlaced", "FROM", second)] == ["order-2", "orderx"]
    assert readall(r, "TYPE", "Nothing") == []
    assert readall(r, "CATEGORY", "nothing") == []


# ---------------------------------------------------------------- ES.INFO


def test_info(r):
    assert r.execute_command("ES.INFO", "nosuch") is None
    v0, p0 = append(r, "inf-1", "ANY", ev("A", {}))
    v2, p2 = append(r, "inf-1", "ANY", ev("B", {}), ev("C", {}))
    i = info(r, "inf-1")
    assert list(i.keys()) == ["version", "length", "first-version", "first-position", "last-position",
                              "created", "deleted", "groups"]
    assert i["version"] == 2 and i["length"] == 3
    assert i["first-version"] == 0 and i["first-position"] == p0 and i["last-position"] == p2
    assert i["deleted"] == 0 and i["groups"] == 0
    assert abs(i["created"] - time.time() * 1000) < 60000
    r.xgroup_create("inf-1", "g", "0")
    assert info(r, "inf-1")["groups"] == 1


# ---------------------------------------------------------------- ES.DELETE


def test_delete_tombstone(r):
    append(r, "del-1", "ANY", ev("A", {}), ev("B", {}))
    assert err(r, "ES.DELETE", "del-1", 0) == wrong_version(0, 1)
    assert versions(read(r, "del-1")) == [0, 1]
    assert r.execute_command("ES.DELETE", "del-1", 1) == "OK"
    assert err(r, "ES.READ", "del-1") == "DELETED stream 'del-1' is deleted"
    assert err_append(r, "del-1", "ANY", ev("C", {})).startswith("DELETED")
    assert err_append(r, "del-1", "NOSTREAM", ev("C", {})).startswith("DELETED")
    assert err(r, "ES.DELETE", "del-1").startswith("DELETED")
    with pytest.raises(redis.ResponseError):
        r.xadd("del-1", {"f": "v"})
    assert err(r, "ES.TX", "STREAM", "del-1", "ANY", *ev("C", {})).startswith("DELETED")
    i = info(r, "del-1")
    assert i["deleted"] == 1 and i["length"] == 0
    assert r.xrange("del-1") == [] and r.xlen("del-1") == 0 and r.exists("del-1") == 0
    # the events stay in the global log
    assert [e["type"] for e in readall(r)] == ["A", "B"]


def test_delete_expected_and_missing(raw):
    raw.call("ES.APPEND", "d-1", "ANY", "EVENT", "*", "T", "{}")
    assert raw.call("ES.DELETE", "d-1", "ANY") == "OK"
    raw.call("ES.APPEND", "d-2", "ANY", "EVENT", "*", "T", "{}")
    assert raw.call("ES.DELETE", "d-2", "EXISTS") == "OK"
    assert raw.call("ES.DELETE", "nosuch") == Error("NOTFOUND no such stream 'nosuch'")
    assert raw.call("ES.DELETE", "d-3", "NOSTREAM") == Error("ERR NOSTREAM makes no sense for a delete")
    assert raw.call("ES.DELETE", "$all") == Error(READ_ONLY)


def test_delete_survives_restart(server):
    r = server.client()
    append(r, "dr-1", "ANY", ev("A", {}))
    r.execute_command("ES.DELETE", "dr-1")
    r.close()
    server.restart()
    r = server.client()
    assert err(r, "ES.READ", "dr-1").startswith("DELETED")
    assert err_append(r, "dr-1", "ANY", ev("A", {})).startswith("DELETED")
    r.close()


# ---------------------------------------------------------------- one model, two views


def test_es_event_read_with_xrange(r, raw):
    e1, e2 = uid(51), uid(52)
    append(r, "mv-1", "ANY", ev("A", '{"x":1}', e1), ev("B", "bytes", e2, meta='{"correlation_id":"k"}'))
    entries = r.xrange("mv-1")
    assert len(entries) == 2
    # flat field lists, in order: id type data [meta]
    raw_fields = raw.call("XRANGE", "mv-1", "-", "+")
    assert raw_fields[0][1] == ["id", e1, "type", "A", "data", '{"x":1}']
    assert raw_fields[1][1] == ["id", e2, "type", "B", "data", "bytes", "meta", '{"correlation_id":"k"}']
    assert r.xlen("mv-1") == 2
    assert r.xread({"mv-1": "0"})[0][1] == entries


def test_xadd_entry_read_with_es_read(r):
    r.execute_command("XADD", "mv-2", "*", "type", "OrderPlaced", "sku", 'A"1', "qty", "2")
    r.execute_command("XADD", "mv-2", "*", "sku", "B", "qty", "1")
    evs = read(r, "mv-2")
    assert [e["type"] for e in evs] == ["OrderPlaced", "entry"]
    assert json.loads(evs[0]["data"]) == {"type": "OrderPlaced", "sku": 'A"1', "qty": "2"}
    assert json.loads(evs[1]["data"]) == {"sku": "B", "qty": "1"}
    assert evs[0]["meta"] is None
    uuid.UUID(evs[0]["id"])
    assert versions(evs) == [0, 1]
    # mixed writers share one version sequence
    assert append(r, "mv-2", 1, ev("Later", {}))[0] == 2
    assert info(r, "mv-2")["version"] == 2
    assert [e["type"] for e in readall(r, "TYPE", "OrderPlaced")] == ["OrderPlaced"]


# ---------------------------------------------------------------- virtual streams


def _fill_virtual(r):
    p = []
    p.append(append(r, "cart-1", "ANY", ev("ItemAdded", {"i": 1}))[1])
    p.append(append(r, "user-1", "ANY", ev("UserJoined", {}))[1])
    p.append(append(r, "cart-2", "ANY", ev("ItemAdded", {"i": 2}), ev("CheckedOut", {}))[1])
    return p


def test_virtual_xrange_ids_are_positions(r):
    _fill_virtual(r)
    evs = readall(r)
    positions = [int(e["position"]) for e in evs]
    all_entries = r.xrange("$all")
    assert [i for i, _ in all_entries] == ["%d-0" % p for p in positions]
    assert [f["type"] for _, f in all_entries] == ["ItemAdded", "UserJoined", "ItemAdded", "CheckedOut"]
    ce = r.xrange("$ce-cart")
    assert [i for i, _ in ce] == ["%d-0" % int(e["position"]) for e in evs if e["stream"].startswith("cart-")]
    et = r.xrange("$et-ItemAdded")
    assert [i for i, _ in et] == ["%d-0" % int(e["position"]) for e in evs if e["type"] == "ItemAdded"]
    assert [json.loads(f["data"])["i"] for _, f in et] == [1, 2]
    # ranges and COUNT by position
    assert r.xrange("$all", "%d-0" % positions[1], "+", count=2) == all_entries[1:3]
    assert r.xrange("$all", "(%d-0" % positions[1], "+") == all_entries[2:]
    assert r.xrevrange("$ce-cart") == ce[::-1]
    assert r.xrange("$ce-nothing") == [] and r.xrange("$et-Nothing") == []


def test_virtual_xlen(r):
    _fill_virtual(r)
    r.xadd("cart-3", {"type": "ItemAdded", "i": "3"})
    assert r.xlen("$all") == 5
    assert r.xlen("$ce-cart") == 4
    assert r.xlen("$ce-user") == 1
    assert r.xlen("$et-ItemAdded") == 3
    assert r.xlen("$et-CheckedOut") == 1
    assert r.xlen("$et-nothing") == 0


def test_virtual_xrevrange_all(r):
    """$all backward: the log is read forward in windows, served last first.
    Enough events (and big enough ones) to span several windows and a
    segment roll would be slow here; the unit tests cover windows."""
    _fill_virtual(r)
    for i in range(300):
        r.execute_command("ES.APPEND", "bulk-%d" % (i % 7), "ANY", "EVENT", "*", "Bulk",
                          '{"i":%d,"pad":"%s"}' % (i, "x" * 400))
    forward = r.xrange("$all", "-", "+")
    assert len(forward) == 304
    assert r.xrevrange("$all", "+", "-") == forward[::-1]
    assert r.xrevrange("$all", "+", "-", count=5) == forward[::-1][:5]
    mid_hi, mid_lo = forward[200][0], forward[150][0]
    assert r.xrevrange("$all", mid_hi, mid_lo) == forward[150:201][::-1]
    # a bound between positions: ids are <position>-0, so "<pos>-5" is past pos
    assert r.xrevrange("$all", mid_hi.replace("-0", "-5"), "-", count=1) == [forward[200]]
    assert r.xrevrange("$all", "-", "+") == []
    assert r.xrevrange("$all", "1-0", "-") == []


def test_virtual_xread(r):
    positions = _fill_virtual(r)
    reply = r.xread({"$all": "0-0", "$ce-user": "0", "$et-CheckedOut": "0"})
    got = {name: [i for i, _ in entries] for name, entries in reply}
    assert got["$ce-user"] == ["%d-0" % positions[1]]
    assert got["$et-CheckedOut"] == ["%d-0" % positions[2]]
    assert len(got["$all"]) == 4
    assert r.xread({"$all": "%d-0" % positions[1]}, count=1)[0][1][0][0] == \
        "%d-0" % (int(readall(r)[2]["position"]))
    assert r.xread({"$all": "$"}) == []


@pytest.mark.parametrize("key,stream,type_", [
    ("$all", "blk-1", "Woke"),
    ("$ce-blk", "blk-2", "Woke"),
    ("$et-Woke", "other-1", "Woke"),
])
def test_virtual_xread_block_woken_by_es_append(server, raw, key, stream, type_):
    r = server.client()
    append(r, "unrelated-1", "ANY", ev("Other", {}))
    raw.send(encode("XREAD", "BLOCK", "10000", "STREAMS", key, "$"))
    deadline = time.time() + 5
    while r.info("clients")["blocked_clients"] != 1 and time.time() < deadline:
        time.sleep(0.01)
    assert r.info("clients")["blocked_clients"] == 1
    # an event that does not belong to the view does not wake it
    if key != "$all":
        append(r, "unrelated-2", "ANY", ev("Other", {}))
        time.sleep(0.2)
        assert r.info("clients")["blocked_clients"] == 1
    other = server.client()
    v, p = append(other, stream, "ANY", ev(type_, {"hello": 1}))
    reply = raw.read_reply()
    assert reply[0][0] == key
    entries = reply[0][1]
    assert entries[0][0] == "%d-0" % p
    f = entries[0][1]
    assert f[2:4] == ["type", type_]
    assert json.loads(f[5]) == {"hello": 1}
    other.close()
    r.close()


def test_virtual_writes_refused(r):
    append(r, "w-1", "ANY", ev("T", {}))
    for key in ["$all", "$ce-w", "$et-T", "$whatever"]:
        assert err(r, "XADD", key, "*", "a", "1") == READ_ONLY[4:]
        assert err(r, "DEL", key) == READ_ONLY[4:]
        assert err(r, "ES.APPEND", key, "ANY", "EVENT", "*", "T", "{}") == READ_ONLY[4:]
        assert err(r, "XTRIM", key, "MAXLEN", "0") == READ_ONLY[4:]
    # consumer groups are served on the virtual streams (test_32_virtual_groups),
    # but not on other reserved names
    assert err(r, "XGROUP", "CREATE", "$whatever", "g", "0", "MKSTREAM") == READ_ONLY[4:]
    assert r.xlen("$all") == 1
    assert r.exists("$all") == 0  # virtual streams are not keys
    assert "$all" not in r.keys("*")


def test_virtual_streams_after_restart(server):
    r = server.client()
    positions = _fill_virtual(r)
    before = r.xrange("$ce-cart")
    r.close()
    server.restart()
    r = server.client()
    assert r.xrange("$ce-cart") == before
    assert r.xlen("$all") == 4
    assert r.xrange("$et-UserJoined")[0][0] == "%d-0" % positions[1]
    r.close()


# ---------------------------------------------------------------- TRACE


def test_trace_causation_tree(r):
    root, pay, stock, cap, other = uid(61), uid(62), uid(63), uid(64), uid(65)
    m = lambda cause=None: dict({"correlation_id": "flow-1"}, **({"causation_id": cause} if cause else {}))
    append(r, "order-1", "ANY", ev("OrderPlaced", {}, root, meta=m()))
    append(r, "payment-1", "ANY", ev("PaymentRequested", {}, pay, meta=m(root)))
    append(r, "stock-1", "ANY", ev("StockReserved", {}, stock, meta=m(root)))
    append(r, "other-1", "ANY", ev("Unrelated", {}, other, meta={"correlation_id": "flow-2"}))
    append(r, "payment-1", "ANY", ev("PaymentCaptured", {}, cap, meta=m(pay)))
    flat = r.execute_command("TRACE", "flow-1")
    assert all(f[::2] == EVENT_FIELDS + ["causation_id", "depth"] for f in flat)
    t = [pairs(f) for f in flat]
    # pre-order: a parent before its children, siblings in global order
    assert [(e["id"], e["depth"], e["causation_id"]) for e in t] == [
        (root, 0, None), (pay, 1, root), (cap, 2, pay), (stock, 1, root)]
    assert [e["type"] for e in t] == ["OrderPlaced", "PaymentRequested", "PaymentCaptured", "StockReserved"]
    assert [e["id"] for e in [pairs(f) for f in r.execute_command("TRACE", "flow-2")]] == [other]
    assert r.execute_command("TRACE", "no-such-flow") == []


def test_trace_resp3(raw):
    raw.call("HELLO", "3")
    a, b = uid(71), uid(72)
    raw.call("ES.APPEND", "t-1", "ANY", "EVENT", a, "A", "{}", "META", '{"correlation_id":"c9"}')
    raw.call("ES.APPEND", "t-2", "ANY", "EVENT", b, "B", "{}", "META",
             '{"correlation_id":"c9","causation_id":"%s"}' % a)
    t = raw.call("TRACE", "c9")
    assert [(e["id"], e["depth"], e["causation_id"]) for e in t] == [(a, 0, None), (b, 1, a)]


def test_trace_unknown_parent_is_a_root(r):
    a = uid(81)
    append(r, "t-1", "ANY", ev("A", {}, uid(82), meta={"correlation_id": "c", "causation_id": uid(99)}))
    append(r, "t-1", "ANY", ev("B", {}, a, meta={"correlation_id": "c"}))
    t = [pairs(f) for f in r.execute_command("TRACE", "c")]
    assert [(e["type"], e["depth"]) for e in t] == [("A", 0), ("B", 0)]
    assert t[0]["causation_id"] == uid(99)


# ---------------------------------------------------------------- the race


def test_race_exact_expected_versions(server):
    clients, rounds = 8, 300
    barrier = threading.Barrier(clients)
    wins = [[] for _ in range(clients)]     # versions each client won
    losses = [[] for _ in range(clients)]   # (round, error) per lost round
    failures = []

    def worker(k):
        c = server.client()
        try:
            for rnd in range(rounds):
                expected = "NOSTREAM" if rnd == 0 else rnd - 1
                barrier.wait(timeout=30)
                try:
                    v, _ = c.execute_command("ES.APPEND", "race-1", expected,
                                             "EVENT", "*", "Won", json.dumps({"client": k, "round": rnd}))
                    wins[k].append((rnd, v))
                except redis.ResponseError as e:
                    losses[k].append((rnd, str(e)))
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(repr(e))
            barrier.abort()
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    all_wins = sorted(w for ws in wins for w in ws)
    # exactly one winner per round, and the winner of round n got version n
    assert [rnd for rnd, _ in all_wins] == list(range(rounds))
    assert all(v == rnd for rnd, v in all_wins)
    # every other client got WRONGVERSION for that round
    all_losses = sorted(l for ls in losses for l in ls)
    assert len(all_losses) == rounds * (clients - 1)
    for rnd, msg in all_losses:
        expected = "NOSTREAM" if rnd == 0 else rnd - 1
        assert msg == wrong_version(expected, rnd), (rnd, msg)
    r = server.client()
    assert info(r, "race-1")["version"] == len(all_wins) - 1
    evs = read(r, "race-1")
    assert versions(evs) == list(range(rounds))  # no gaps
    winner = {rnd: k for k in range(clients) for rnd, _ in wins[k]}
    assert [json.loads(e["data"]) for e in evs] == [{"client": winner[n], "round": n} for n in range(rounds)]
    r.close()


def test_race_free_running(server):
    """No barrier: each client appends at the version it last saw and learns
    the actual version from WRONGVERSION; versions stay contiguous."""
    clients, per_client = 8, 40
    won = [[] for _ in range(clients)]
    failures = []

    def worker(k):
        c = server.client()
        seen = "NOSTREAM"
        try:
            while len(won[k]) < per_client:
                try:
                    v, _ = c.execute_command("ES.APPEND", "race-2", seen, "EVENT", "*", "W", json.dumps({"k": k}))
                    won[k].append(v)
                    seen = v
                except redis.ResponseError as e:
                    msg = str(e)
                    assert msg.startswith("WRONGVERSION expected %s, stream is at " % seen), msg
                    seen = int(msg.rsplit(" ", 1)[1])
        except Exception as e:  # noqa: BLE001
            failures.append(repr(e))
        finally:
            c.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not failures, failures
    all_v = sorted(v for w in won for v in w)
    assert all_v == list(range(clients * per_client))
    r = server.client()
    evs = read(r, "race-2")
    assert versions(evs) == all_v
    assert info(r, "race-2")["version"] == len(all_v) - 1
    r.close()

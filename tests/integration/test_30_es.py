"""
The event store commands through a real client: ES.APPEND with expected
versions and idempotent retries, ES.TX atomicity, ES.READ / ES.READALL /
ES.INFO / ES.DELETE, the virtual streams ($all, $ce-, $et-) seen through the
X* commands, TRACE, and 8 clients racing for the same versions.
"""
import json
import threading

import pytest
import redis

U1 = "3f1c1b2a-1111-4111-8111-000000000001"
U2 = "3f1c1b2a-1111-4111-8111-000000000002"


def ev(items):
    """A RESP2 event (flat field/value list) as a dict."""
    return dict(zip(items[0::2], items[1::2]))


def test_append_expected_versions(r):
    assert r.execute_command("ES.APPEND", "acct-1", "NOSTREAM", "EVENT", "*", "Opened", '{"o":"A"}') == [0, 32]
    v, pos = r.execute_command("ES.APPEND", "acct-1", "0", "EVENT", "*", "Deposited", '{"a":100}',
                               "EVENT", "*", "Withdrawn", '{"a":30}')
    assert v == 2 and pos > 32
    with pytest.raises(redis.ResponseError, match=r"^WRONGVERSION expected 0, stream is at 2$"):
        r.execute_command("ES.APPEND", "acct-1", "0", "EVENT", "*", "X", "{}")
    with pytest.raises(redis.ResponseError, match=r"^WRONGVERSION expected NOSTREAM, stream is at 2$"):
        r.execute_command("ES.APPEND", "acct-1", "NOSTREAM", "EVENT", "*", "X", "{}")
    with pytest.raises(redis.ResponseError, match=r"^WRONGVERSION expected EXISTS, stream is at -1$"):
        r.execute_command("ES.APPEND", "acct-2", "EXISTS", "EVENT", "*", "X", "{}")
    assert r.execute_command("ES.APPEND", "acct-1", "EXISTS", "EVENT", "*", "Y", "{}")[0] == 3
    assert r.execute_command("ES.APPEND", "acct-1", "ANY", "EVENT", "*", "Y", "{}")[0] == 4
    # nothing was written by the failures
    assert [ev(e)["version"] for e in r.execute_command("ES.READ", "acct-1")] == [0, 1, 2, 3, 4]
    assert r.execute_command("ES.INFO", "acct-2") is None


def test_bad_arguments(r):
    for args, msg in [
        (("acct", "sometimes", "EVENT", "*", "T", "{}"), "expected version"),
        (("acct", "ANY", "EVENT", "not-a-uuid", "T", "{}"), "UUID"),
        (("acct", "ANY", "EVENT", "*", "T", "{}", "META", "[1]"), "META must be a JSON object"),
        (("acct", "ANY", "EVENT", "*", "T"), "wrong number|EVENT needs"),
        (("$all", "ANY", "EVENT", "*", "T", "{}"), "reserved"),
    ]:
        with pytest.raises(redis.ResponseError, match=msg):
            r.execute_command("ES.APPEND", *args)
    assert r.execute_command("ES.READ", "acct") == []


def test_idempotent_retry_also_after_restart(server):
    r = server.client()
    first = r.execute_command("ES.APPEND", "pay-1", "ANY", "EVENT", U1, "Paid", '{"n":1}',
                              "EVENT", U2, "Paid", '{"n":2}')
    again = r.execute_command("ES.APPEND", "pay-1", "ANY", "EVENT", U1, "Paid", '{"n":1}',
                              "EVENT", U2, "Paid", '{"n":2}')
    assert again == first
    server.restart()
    r = server.client()
    assert r.execute_command("ES.APPEND", "pay-1", "ANY", "EVENT", U1, "Paid", '{"n":1}',
                             "EVENT", U2, "Paid", '{"n":2}') == first
    assert len(r.execute_command("ES.READ", "pay-1")) == 2
    with pytest.raises(redis.ResponseError, match="^DUPLICATE"):
        r.execute_command("ES.APPEND", "pay-1", "ANY", "EVENT", U1, "Paid", "{}",
                          "EVENT", "*", "Paid", "{}")


def test_tx_is_atomic(r):
    res = r.execute_command("ES.TX", "STREAM", "a-1", "NOSTREAM", "EVENT", "*", "T", "1",
                            "STREAM", "b-1", "NOSTREAM", "EVENT", "*", "T", "2", "EVENT", "*", "U", "3")
    info = r.execute_command("ES.INFO", "b-1")
    assert res == [[0, 32], [1, info[info.index("last-position") + 1]]]
    with pytest.raises(redis.ResponseError, match="^WRONGVERSION expected 7, stream is at 1"):
        r.execute_command("ES.TX", "STREAM", "a-2", "ANY", "EVENT", "*", "T", "x",
                          "STREAM", "b-1", "7", "EVENT", "*", "T", "y")
    assert r.execute_command("ES.READ", "a-2") == []          # nothing of the failed TX
    assert len(r.execute_command("ES.READ", "b-1")) == 2


def test_reads_and_filters(r):
    for i in range(5):
        r.execute_command("ES.APPEND", "order-%d" % (i % 2), "ANY", "EVENT", "*",
                          "Placed" if i % 2 == 0 else "Paid", json.dumps({"i": i}))
    r.execute_command("ES.APPEND", "user-1", "ANY", "EVENT", "*", "Placed", "{}")
    evs = [ev(e) for e in r.execute_command("ES.READ", "order-0", "FROM", "1", "COUNT", "1")]
    assert [(e["version"], json.loads(e["data"])["i"]) for e in evs] == [(1, 2)]
    back = [ev(e)["version"] for e in r.execute_command("ES.READ", "order-0", "BACKWARD")]
    assert back == [2, 1, 0]
    allv = [ev(e) for e in r.execute_command("ES.READALL")]
    assert [e["position"] for e in allv] == sorted(e["position"] for e in allv)
    assert len(allv) == 6
    cat = [ev(e)["stream"] for e in r.execute_command("ES.READALL", "CATEGORY", "order")]
    assert cat == ["order-0", "order-1", "order-0", "order-1", "order-0"]
    types = [ev(e)["type"] for e in r.execute_command("ES.READALL", "TYPE", "Paid")]
    assert types == ["Paid", "Paid"]
    both = r.execute_command("ES.READALL", "TYPE", "Paid", "Placed", "COUNT", "3")
    assert len(both) == 3
    frm = r.execute_command("ES.READALL", "FROM", str(allv[3]["position"]))
    assert [ev(e)["position"] for e in frm] == [e["position"] for e in allv[3:]]


def test_delete_is_a_tombstone(r):
    r.execute_command("ES.APPEND", "gone-1", "ANY", "EVENT", "*", "T", "{}")
    with pytest.raises(redis.ResponseError, match="^WRONGVERSION"):
        r.execute_command("ES.DELETE", "gone-1", "5")
    assert r.execute_command("ES.DELETE", "gone-1", "0") in ("OK", b"OK", True)
    with pytest.raises(redis.ResponseError, match="^DELETED"):
        r.execute_command("ES.READ", "gone-1")
    with pytest.raises(redis.ResponseError, match="^DELETED"):
        r.execute_command("ES.APPEND", "gone-1", "ANY", "EVENT", "*", "T", "{}")
    info = r.execute_command("ES.INFO", "gone-1")
    assert info[info.index("deleted") + 1] == 1


def test_one_model_two_views(r):
    r.execute_command("ES.APPEND", "m-1", "ANY", "EVENT", U1, "Opened", '{"a":1}', "META", '{"k":"v"}')
    (eid, fields), = r.xrange("m-1")
    assert fields == {"id": U1, "type": "Opened", "data": '{"a":1}', "meta": '{"k":"v"}'}
    r.xadd("orders", {"type": "OrderPlaced", "total": "5"})
    r.xadd("orders", {"sku": "x"})
    a, b = [ev(e) for e in r.execute_command("ES.READ", "orders")]
    assert a["type"] == "OrderPlaced" and json.loads(a["data"]) == {"type": "OrderPlaced", "total": "5"}
    assert b["type"] == "entry" and json.loads(b["data"]) == {"sku": "x"}


def test_virtual_streams(r):
    p1 = r.execute_command("ES.APPEND", "acct-1", "ANY", "EVENT", "*", "Deposited", "{}")[1]
    p2 = r.execute_command("ES.APPEND", "acct-2", "ANY", "EVENT", "*", "Withdrawn", "{}")[1]
    p3 = r.execute_command("ES.APPEND", "order-1", "ANY", "EVENT", "*", "Deposited", "{}")[1]
    assert [i for i, _ in r.xrange("$all")] == ["%d-0" % p for p in (p1, p2, p3)]
    assert [i for i, _ in r.xrange("$ce-acct")] == ["%d-0" % p for p in (p1, p2)]
    assert [i for i, _ in r.xrange("$et-Deposited")] == ["%d-0" % p for p in (p1, p3)]
    assert [i for i, _ in r.xrevrange("$ce-acct")] == ["%d-0" % p for p in (p2, p1)]
    assert r.xlen("$ce-acct") == 2 and r.xlen("$et-Deposited") == 2 and r.xlen("$all") == 3
    got = r.xread({"$all": "%d-0" % p1})
    assert [i for i, _ in got[0][1]] == ["%d-0" % p for p in (p2, p3)]
    for cmd in (("XADD", "$all", "*", "a", "b"), ("DEL", "$ce-acct"), ("XTRIM", "$all", "MAXLEN", "0")):
        with pytest.raises(redis.ResponseError, match="reserved for the virtual streams"):
            r.execute_command(*cmd)


def test_xread_block_on_a_category(server):
    r = server.client()
    r2 = server.client()
    out = {}

    def reader():
        out["got"] = r.xread({"$ce-acct": "$"}, block=5000)

    t = threading.Thread(target=reader)
    t.start()
    import time
    time.sleep(0.3)
    r2.execute_command("ES.APPEND", "other-1", "ANY", "EVENT", "*", "T", "{}")   # not in the category
    pos = r2.execute_command("ES.APPEND", "acct-9", "ANY", "EVENT", "*", "T", "{}")[1]
    t.join(6)
    assert [i for i, _ in out["got"][0][1]] == ["%d-0" % pos]


def test_trace_tree(r):
    def append(stream, eid, etype, cause=None):
        meta = {"correlation_id": "flow-1"}
        if cause:
            meta["causation_id"] = cause
        r.execute_command("ES.APPEND", stream, "ANY", "EVENT", eid, etype, "{}", "META", json.dumps(meta))

    ids = ["3f1c1b2a-2222-4222-8222-00000000000%d" % i for i in range(1, 6)]
    append("order-1", ids[0], "OrderPlaced")
    append("pay-1", ids[1], "PaymentRequested", ids[0])
    append("ship-1", ids[2], "ShipmentRequested", ids[0])
    append("pay-1", ids[3], "PaymentAccepted", ids[1])
    r.execute_command("ES.APPEND", "noise-1", "ANY", "EVENT", "*", "Other", "{}",
                      "META", '{"correlation_id":"flow-2"}')
    tree = [ev(e) for e in r.execute_command("TRACE", "flow-1")]
    assert [(e["type"], e["depth"]) for e in tree] == [
        ("OrderPlaced", 0), ("PaymentRequested", 1), ("PaymentAccepted", 2), ("ShipmentRequested", 1)]
    assert tree[1]["causation_id"] == ids[0] and tree[0]["causation_id"] is None
    assert r.execute_command("TRACE", "nothing") == []


def test_resp3_events_are_maps(raw):
    raw.call("HELLO", "3")
    raw.call("ES.APPEND", "r3-1", "ANY", "EVENT", "*", "T", "{}")
    (e,) = raw.call("ES.READ", "r3-1")
    assert isinstance(e, dict) and e["type"] == "T" and e["version"] == 0 and e["meta"] is None


def test_eight_clients_race_for_versions(server):
    rounds, nclients = 150, 8
    wins = [[] for _ in range(nclients)]
    errors = []

    def worker(k):
        c = server.client()
        for v in range(rounds):
            try:
                c.execute_command("ES.APPEND", "race-1", str(v - 1) if v else "NOSTREAM",
                                  "EVENT", "*", "Won", json.dumps({"by": k, "v": v}))
                wins[k].append(v)
            except redis.ResponseError as e:
                if not str(e).startswith("WRONGVERSION"):
                    errors.append(str(e))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(nclients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    allwins = sorted(v for w in wins for v in w)
    assert allwins == list(range(rounds)), "exactly one winner per version, no gaps"
    evs = [ev(e) for e in server.client().execute_command("ES.READ", "race-1")]
    assert [e["version"] for e in evs] == list(range(rounds))
    for e in evs:
        d = json.loads(e["data"])
        assert e["version"] == d["v"] and d["v"] in wins[d["by"]]

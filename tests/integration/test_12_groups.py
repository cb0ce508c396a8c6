"""Consumer groups: XGROUP XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM XINFO.

Replies and error texts as Redis 7 gives them. `raw` shows exact RESP
(nil entries, RESP3 maps); `r` is redis-py for the common paths.
"""
import threading
import time

import pytest
import redis

from respclient import Error, encode

NOGROUP_RG = "NOGROUP No such key '%s' or consumer group '%s' in XREADGROUP with GROUP option"
NOGROUP_KG = "NOGROUP No such key '%s' or consumer group '%s'"
NOGROUP_FOR = "NOGROUP No such consumer group '%s' for key name '%s'"
REQUIRES_KEY = ("ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you "
                "may want to use the MKSTREAM option to create an empty stream automatically.")
BAD_ID = "ERR Invalid stream ID specified as stream command argument"


def fill(raw, key, n, start=1):
    ids = []
    for i in range(start, start + n):
        ids.append(raw.call("XADD", key, "%d-0" % i, "f", "v%d" % i))
    return ids


def entry(i):
    return ["%d-0" % i, ["f", "v%d" % i]]


# ---------------------------------------------------------------- XGROUP

def test_xgroup_create(raw):
    fill(raw, "s", 3)
    assert raw.call("XGROUP", "CREATE", "s", "g", "0") == "OK"
    assert raw.call("XGROUP", "CREATE", "s", "g", "0") == Error("BUSYGROUP Consumer Group name already exists")
    assert raw.call("XGROUP", "CREATE", "nokey", "g", "$") == Error(REQUIRES_KEY)
    assert raw.call("XGROUP", "CREATE", "s", "g2", "bad") == Error(BAD_ID)
    assert raw.call("XGROUP", "CREATE", "s", "g2", "-") == Error(BAD_ID)  # strict
    assert raw.call("XGROUP", "CREATE", "s", "g2", "$", "FOO") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'CREATE'. Try XGROUP HELP.")
    assert raw.call("XGROUP", "CREATE", "s", "g2", "$", "ENTRIESREAD", "-5") == Error(
        "ERR value for ENTRIESREAD must be positive or -1")
    assert raw.call("XGROUP", "CREATE", "s", "g2", "$", "ENTRIESREAD", "x") == Error(
        "ERR value is not an integer or out of range")
    assert raw.call("XGROUP", "CREATE", "s", "g2") == Error(
        "ERR wrong number of arguments for 'xgroup|create' command")
    assert raw.call("XGROUP", "FOO") == Error("ERR unknown subcommand 'FOO'. Try XGROUP HELP.")
    # MKSTREAM creates an empty stream
    assert raw.call("XGROUP", "CREATE", "fresh", "g", "$", "MKSTREAM") == "OK"
    assert raw.call("XLEN", "fresh") == 0
    assert raw.call("TYPE", "fresh") == "stream"
    # $ and ENTRIESREAD
    assert raw.call("XGROUP", "CREATE", "s", "tail", "$") == "OK"
    assert raw.call("XGROUP", "CREATE", "s", "er", "1-0", "ENTRIESREAD", "1") == "OK"
    groups = {g[1]: dict(zip(g[0::2], g[1::2])) for g in raw.call("XINFO", "GROUPS", "s")}
    assert groups["g"]["last-delivered-id"] == "0-0" and groups["g"]["lag"] == 3
    assert groups["tail"]["last-delivered-id"] == "3-0" and groups["tail"]["lag"] == 0
    assert groups["er"]["entries-read"] == 1 and groups["er"]["lag"] == 2


def test_xgroup_setid(raw):
    fill(raw, "s", 3)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    assert raw.call("XGROUP", "SETID", "s", "g", "2-0") == "OK"
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">") == [["s", [entry(3)]]]
    assert raw.call("XGROUP", "SETID", "s", "g", "0", "ENTRIESREAD", "0") == "OK"
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">") == [["s", [entry(1)]]]
    assert raw.call("XGROUP", "SETID", "s", "g", "$") == "OK"
    g = raw.call("XINFO", "GROUPS", "s")[0]
    assert dict(zip(g[0::2], g[1::2]))["last-delivered-id"] == "3-0"
    assert raw.call("XGROUP", "SETID", "s", "nog", "0") == Error(NOGROUP_FOR % ("nog", "s"))
    assert raw.call("XGROUP", "SETID", "nokey", "g", "0") == Error(REQUIRES_KEY)
    assert raw.call("XGROUP", "SETID", "s", "g", "zz") == Error(BAD_ID)
    assert raw.call("XGROUP", "SETID", "s", "g", "0", "MKSTREAM") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'SETID'. Try XGROUP HELP.")


def test_xgroup_destroy_and_consumers(raw):
    fill(raw, "s", 3)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    assert raw.call("XGROUP", "CREATECONSUMER", "s", "g", "alice") == 1
    assert raw.call("XGROUP", "CREATECONSUMER", "s", "g", "alice") == 0
    assert raw.call("XGROUP", "CREATECONSUMER", "s", "nog", "alice") == Error(NOGROUP_FOR % ("nog", "s"))
    assert raw.call("XGROUP", "CREATECONSUMER", "nokey", "g", "alice") == Error(REQUIRES_KEY)
    raw.call("XREADGROUP", "GROUP", "g", "bob", "COUNT", "2", "STREAMS", "s", ">")
    names = [dict(zip(c[0::2], c[1::2]))["name"] for c in raw.call("XINFO", "CONSUMERS", "s", "g")]
    assert names == ["alice", "bob"]
    assert raw.call("XGROUP", "DELCONSUMER", "s", "g", "bob") == 2  # its pending count
    assert raw.call("XGROUP", "DELCONSUMER", "s", "g", "bob") == 0
    assert raw.call("XPENDING", "s", "g")[0] == 0
    assert raw.call("XGROUP", "DELCONSUMER", "s", "nog", "x") == Error(NOGROUP_FOR % ("nog", "s"))
    assert raw.call("XGROUP", "DESTROY", "s", "g") == 1
    assert raw.call("XGROUP", "DESTROY", "s", "g") == 0
    assert raw.call("XGROUP", "DESTROY", "nokey", "g") == Error(REQUIRES_KEY)
    assert raw.call("XINFO", "GROUPS", "s") == []


def test_xgroup_help(raw):
    lines = raw.call("XGROUP", "HELP")
    assert lines[0].startswith("XGROUP <subcommand>")
    assert any(l.startswith("CREATECONSUMER") for l in lines) and lines[-2] == "HELP"
    lines = raw.call("XINFO", "HELP")
    assert lines[0].startswith("XINFO <subcommand>") and any(l.startswith("STREAM") for l in lines)


# ------------------------------------------------------------ XREADGROUP

def test_xreadgroup_new_and_history(raw, r):
    fill(raw, "s", 5)
    r.xgroup_create("s", "g", "0")
    got = r.xreadgroup("g", "alice", {"s": ">"}, count=2)
    assert got == [["s", [("1-0", {"f": "v1"}), ("2-0", {"f": "v2"})]]]
    assert raw.call("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">") == [["s", [entry(3), entry(4), entry(5)]]]
    assert raw.call("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">") is None
    # history: this consumer's pending entries after the id
    assert raw.call("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0") == [["s", [entry(i) for i in range(1, 6)]]]
    assert raw.call("XREADGROUP", "GROUP", "g", "alice", "COUNT", "2", "STREAMS", "s", "2-0") == [["s", [entry(3), entry(4)]]]
    assert raw.call("XACK", "s", "g", "1-0", "3-0") == 2
    assert raw.call("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", "0") == [["s", [entry(2), entry(4), entry(5)]]]
    # another consumer has no history: the stream is still listed, empty
    assert raw.call("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", "0") == [["s", []]]
    # entries-read and lag follow
    g = dict(zip(*[iter(raw.call("XINFO", "GROUPS", "s")[0])] * 2))
    assert g["entries-read"] == 5 and g["lag"] == 0 and g["pending"] == 3


def test_xreadgroup_multiple_streams(raw):
    fill(raw, "a", 2)
    fill(raw, "b", 2, start=10)
    fill(raw, "c", 1, start=20)
    for k in ("a", "b", "c"):
        raw.call("XGROUP", "CREATE", k, "g", "$" if k == "c" else "0")
    got = raw.call("XREADGROUP", "GROUP", "g", "x", "STREAMS", "a", "b", "c", ">", ">", ">")
    assert got == [["a", [entry(1), entry(2)]], ["b", [entry(10), entry(11)]]]
    # mixed history and new
    raw.call("XADD", "c", "21-0", "f", "v21")
    got = raw.call("XREADGROUP", "GROUP", "g", "x", "STREAMS", "a", "c", "1-0", ">")
    assert got == [["a", [entry(2)]], ["c", [entry(21)]]]


def test_xreadgroup_errors(raw):
    fill(raw, "s", 1)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    assert raw.call("XREADGROUP", "GROUP", "nog", "c", "STREAMS", "s", ">") == Error(NOGROUP_RG % ("s", "nog"))
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "nokey", ">") == Error(NOGROUP_RG % ("nokey", "g"))
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "$") == Error(
        "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of "
        "this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID "
        "would just return an empty result set.")
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "s", ">") == Error(
        "ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.")
    assert raw.call("XREADGROUP", "COUNT", "1", "NOACK", "STREAMS", "s", ">") == Error("ERR Missing GROUP option for XREADGROUP")
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "FOO", "STREAMS", "s", ">") == Error("ERR syntax error")
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "x", "STREAMS", "s", ">") == Error(
        "ERR value is not an integer or out of range")
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "-1", "STREAMS", "s", ">") == Error("ERR timeout is negative")
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "x", "STREAMS", "s", ">") == Error(
        "ERR timeout is not an integer or out of range")
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "x-y") == Error(BAD_ID)
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s") == Error(
        "ERR wrong number of arguments for 'xreadgroup' command")
    # nothing was delivered by the failed calls
    assert raw.call("XPENDING", "s", "g")[0] == 0


def test_xreadgroup_noack(raw):
    fill(raw, "s", 3)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    got = raw.call("XREADGROUP", "GROUP", "g", "c", "NOACK", "STREAMS", "s", ">")
    assert got == [["s", [entry(1), entry(2), entry(3)]]]
    assert raw.call("XPENDING", "s", "g") == [0, None, None, None]
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0") == [["s", []]]
    g = dict(zip(*[iter(raw.call("XINFO", "GROUPS", "s")[0])] * 2))
    assert g["last-delivered-id"] == "3-0" and g["consumers"] == 1


def test_competing_consumers(server):
    a, b, p = server.raw(), server.raw(), server.raw()
    try:
        fill(p, "q", 10)
        p.call("XGROUP", "CREATE", "q", "workers", "0")
        seen = {"a": [], "b": []}
        for _ in range(5):
            for name, cl in (("a", a), ("b", b)):
                got = cl.call("XREADGROUP", "GROUP", "workers", name, "COUNT", "1", "STREAMS", "q", ">")
                seen[name] += [e[0] for e in got[0][1]]
        assert len(seen["a"]) == 5 and len(seen["b"]) == 5
        assert not set(seen["a"]) & set(seen["b"])
        assert sorted(seen["a"] + seen["b"], key=lambda x: int(x.split("-")[0])) == ["%d-0" % i for i in range(1, 11)]
        summary = p.call("XPENDING", "q", "workers")
        assert summary[0] == 10 and summary[1] == "1-0" and summary[2] == "10-0"
        assert summary[3] == [["a", "5"], ["b", "5"]]
    finally:
        a.close(); b.close(); p.close()


def test_history_shows_deleted_entry_as_nil(raw):
    fill(raw, "s", 3)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    assert raw.call("XDEL", "s", "2-0") == 1
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0") == [["s", [entry(1), ["2-0", None], entry(3)]]]


# ------------------------------------------------------------------ XACK

def test_xack(raw):
    fill(raw, "s", 3)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">")
    assert raw.call("XACK", "s", "g", "1-0", "1-0", "9-0") == 1
    assert raw.call("XACK", "s", "g", "1-0") == 0
    assert raw.call("XACK", "s", "g", "bad") == Error(BAD_ID)
    assert raw.call("XACK", "s", "g", "-") == Error(BAD_ID)
    assert raw.call("XACK", "s", "nog", "2-0") == 0
    assert raw.call("XACK", "nokey", "g", "2-0") == 0
    assert raw.call("XACK", "s", "g", "2", "3") == 2  # ms alone = ms-0
    assert raw.call("XPENDING", "s", "g")[0] == 0


# -------------------------------------------------------------- XPENDING

def test_xpending(raw, r):
    fill(raw, "s", 4)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    assert raw.call("XPENDING", "s", "g") == [0, None, None, None]
    raw.call("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", ">")
    time.sleep(0.15)
    raw.call("XREADGROUP", "GROUP", "g", "bob", "STREAMS", "s", ">")
    assert raw.call("XPENDING", "s", "g") == [4, "1-0", "4-0", [["alice", "3"], ["bob", "1"]]]
    rows = raw.call("XPENDING", "s", "g", "-", "+", "10")
    assert [row[0] for row in rows] == ["1-0", "2-0", "3-0", "4-0"]
    assert [row[1] for row in rows] == ["alice"] * 3 + ["bob"]
    assert all(row[3] == 1 for row in rows)
    assert rows[0][2] >= 100 and rows[3][2] < 100
    # consumer filter, count, exclusive ranges, IDLE
    assert [x[0] for x in raw.call("XPENDING", "s", "g", "-", "+", "10", "bob")] == ["4-0"]
    assert raw.call("XPENDING", "s", "g", "-", "+", "10", "nobody") == []
    assert [x[0] for x in raw.call("XPENDING", "s", "g", "-", "+", "2")] == ["1-0", "2-0"]
    assert raw.call("XPENDING", "s", "g", "-", "+", "0") == []
    assert [x[0] for x in raw.call("XPENDING", "s", "g", "(1-0", "(4-0", "10")] == ["2-0", "3-0"]
    assert [x[0] for x in raw.call("XPENDING", "s", "g", "IDLE", "100", "-", "+", "10")] == ["1-0", "2-0", "3-0"]
    assert [x[0] for x in raw.call("XPENDING", "s", "g", "IDLE", "100", "-", "+", "10", "alice")] == ["1-0", "2-0", "3-0"]
    # redis-py parses both forms
    summary = r.xpending("s", "g")
    assert summary["pending"] == 4 and summary["min"] == "1-0" and summary["max"] == "4-0"
    assert r.xpending_range("s", "g", "-", "+", 10, consumername="bob")[0]["times_delivered"] == 1
    # errors
    assert raw.call("XPENDING", "s", "nog") == Error(NOGROUP_KG % ("s", "nog"))
    assert raw.call("XPENDING", "nokey", "g") == Error(NOGROUP_KG % ("nokey", "g"))
    assert raw.call("XPENDING", "s", "g", "-", "+") == Error("ERR syntax error")
    assert raw.call("XPENDING", "s", "g", "IDLE", "10", "-", "+") == Error("ERR syntax error")
    assert raw.call("XPENDING", "s", "g", "-", "+", "x") == Error("ERR value is not an integer or out of range")
    assert raw.call("XPENDING", "s", "g", "IDLE", "x", "-", "+", "1") == Error("ERR value is not an integer or out of range")
    assert raw.call("XPENDING", "s", "g", "x", "+", "10") == Error(BAD_ID)


# ---------------------------------------------------------------- XCLAIM

def pel(raw, key="s", group="g"):
    return {row[0]: row[1:] for row in raw.call("XPENDING", key, group, "-", "+", "100")}


def test_xclaim(raw):
    fill(raw, "s", 5)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    raw.call("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", ">")
    # min-idle not reached: nothing claimed (the consumer is still created)
    assert raw.call("XCLAIM", "s", "g", "bob", "60000", "1-0") == []
    names = [dict(zip(c[0::2], c[1::2]))["name"] for c in raw.call("XINFO", "CONSUMERS", "s", "g")]
    assert "bob" in names
    time.sleep(0.1)
    # claimed: entries returned, count bumped, idle reset
    assert raw.call("XCLAIM", "s", "g", "bob", "50", "1-0", "2-0") == [entry(1), entry(2)]
    p = pel(raw)
    assert p["1-0"][0] == "bob" and p["1-0"][2] == 2 and p["1-0"][1] < 50
    # JUSTID: ids only, no bump
    assert raw.call("XCLAIM", "s", "g", "carol", "0", "1-0", "JUSTID") == ["1-0"]
    assert pel(raw)["1-0"][0] == "carol" and pel(raw)["1-0"][2] == 2
    # IDLE and RETRYCOUNT
    assert raw.call("XCLAIM", "s", "g", "carol", "0", "2-0", "IDLE", "5000", "RETRYCOUNT", "7", "JUSTID") == ["2-0"]
    p = pel(raw)
    assert p["2-0"][0] == "carol" and p["2-0"][2] == 7 and 5000 <= p["2-0"][1] < 8000
    # TIME
    now = int(time.time() * 1000)
    raw.call("XCLAIM", "s", "g", "dave", "0", "3-0", "TIME", str(now - 20000), "JUSTID")
    assert 20000 <= pel(raw)["3-0"][1] < 23000
    # not pending: ignored unless FORCE (the entry must exist)
    assert raw.call("XCLAIM", "s", "g", "dave", "0", "4-0") == []
    assert raw.call("XCLAIM", "s", "g", "dave", "0", "4-0", "99-0", "FORCE") == [entry(4)]
    assert pel(raw)["4-0"][0] == "dave" and pel(raw)["4-0"][2] >= 1  # Redis: 2 (see below)
    assert "99-0" not in pel(raw)
    # LASTID moves the group's last-delivered id forward only
    raw.call("XCLAIM", "s", "g", "dave", "0", "4-0", "LASTID", "4-0", "JUSTID")
    g = dict(zip(*[iter(raw.call("XINFO", "GROUPS", "s")[0])] * 2))
    assert g["last-delivered-id"] == "4-0"
    raw.call("XCLAIM", "s", "g", "dave", "0", "4-0", "LASTID", "1-0", "JUSTID")
    g = dict(zip(*[iter(raw.call("XINFO", "GROUPS", "s")[0])] * 2))
    assert g["last-delivered-id"] == "4-0"
    assert raw.call("XREADGROUP", "GROUP", "g", "x", "STREAMS", "s", ">") == [["s", [entry(5)]]]
    # a deleted entry is dropped from the PEL, not claimed
    raw.call("XDEL", "s", "1-0")
    assert raw.call("XCLAIM", "s", "g", "bob", "0", "1-0") == []
    assert "1-0" not in pel(raw)
    # errors
    assert raw.call("XCLAIM", "s", "nog", "c", "0", "1-0") == Error(NOGROUP_KG % ("s", "nog"))
    assert raw.call("XCLAIM", "nokey", "g", "c", "0", "1-0") == Error(NOGROUP_KG % ("nokey", "g"))
    assert raw.call("XCLAIM", "s", "g", "c", "x", "1-0") == Error("ERR Invalid min-idle-time argument for XCLAIM")
    assert raw.call("XCLAIM", "s", "g", "c", "0", "1-0", "BOGUS") == Error("ERR Unrecognized XCLAIM option 'BOGUS'")
    assert raw.call("XCLAIM", "s", "g", "c", "0", "1-0", "IDLE", "x") == Error("ERR Invalid IDLE option argument for XCLAIM")
    assert raw.call("XCLAIM", "s", "g", "c", "0", "1-0", "TIME", "x") == Error("ERR Invalid TIME option argument for XCLAIM")
    assert raw.call("XCLAIM", "s", "g", "c", "0", "1-0", "RETRYCOUNT", "x") == Error(
        "ERR Invalid RETRYCOUNT option argument for XCLAIM")
    assert raw.call("XCLAIM", "s", "g", "c", "0", "1-0", "LASTID", "x") == Error(BAD_ID)


def test_xclaim_force_delivery_count_as_redis(raw):
    fill(raw, "s", 2)
    raw.call("XGROUP", "CREATE", "s", "g", "$")
    raw.call("XCLAIM", "s", "g", "c", "0", "1-0", "FORCE")
    raw.call("XCLAIM", "s", "g", "c", "0", "2-0", "FORCE", "JUSTID")
    p = pel(raw)
    assert (p["1-0"][2], p["2-0"][2]) == (2, 1)


def test_redelivery_after_setid_resets_count_as_redis(raw):
    fill(raw, "s", 1)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    raw.call("XREADGROUP", "GROUP", "g", "a", "STREAMS", "s", ">")
    raw.call("XGROUP", "SETID", "s", "g", "0")
    raw.call("XREADGROUP", "GROUP", "g", "b", "STREAMS", "s", ">")
    assert pel(raw)["1-0"][:1] == ["b"] and pel(raw)["1-0"][2] == 1


def test_xclaim_redis_py(r):
    r.xadd("s", {"a": "1"}, id="1-0")
    r.xgroup_create("s", "g", "0")
    r.xreadgroup("g", "c1", {"s": ">"})
    assert r.xclaim("s", "g", "c2", 0, ["1-0"]) == [("1-0", {"a": "1"})]
    assert r.xclaim("s", "g", "c3", 0, ["1-0"], justid=True) == ["1-0"]


# ------------------------------------------------------------ XAUTOCLAIM

def test_xautoclaim(raw):
    fill(raw, "s", 6)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    raw.call("XREADGROUP", "GROUP", "g", "alice", "STREAMS", "s", ">")
    # min-idle 2000 ms with a 2.1 s wait: the claims below happen well within
    # 2 s of each other even on a loaded machine, so "not idle enough" holds
    time.sleep(2.1)
    # paging with COUNT
    assert raw.call("XAUTOCLAIM", "s", "g", "bob", "2000", "0", "COUNT", "2") == ["3-0", [entry(1), entry(2)], []]
    assert raw.call("XAUTOCLAIM", "s", "g", "bob", "2000", "3-0", "COUNT", "2", "JUSTID") == ["5-0", ["3-0", "4-0"], []]
    p = pel(raw)
    assert p["1-0"][0] == "bob" and p["1-0"][2] == 2  # claimed: count bumped
    assert p["3-0"][0] == "bob" and p["3-0"][2] == 1  # JUSTID: no bump
    # min-idle: the just-claimed ones are not idle enough; 5-0 and 6-0 are
    assert raw.call("XAUTOCLAIM", "s", "g", "carol", "2000", "0", "JUSTID") == ["0-0", ["5-0", "6-0"], []]
    # deleted entries that are pending come back in the third element
    raw.call("XDEL", "s", "2-0", "4-0")
    assert raw.call("XAUTOCLAIM", "s", "g", "dave", "0", "0", "JUSTID") == ["0-0", ["1-0", "3-0", "5-0", "6-0"], ["2-0", "4-0"]]
    assert sorted(pel(raw)) == ["1-0", "3-0", "5-0", "6-0"]
    # exclusive start
    assert raw.call("XAUTOCLAIM", "s", "g", "dave", "0", "(3-0", "JUSTID") == ["0-0", ["5-0", "6-0"], []]
    # errors
    assert raw.call("XAUTOCLAIM", "s", "nog", "c", "0", "0") == Error(NOGROUP_KG % ("s", "nog"))
    assert raw.call("XAUTOCLAIM", "nokey", "g", "c", "0", "0") == Error(NOGROUP_KG % ("nokey", "g"))
    assert raw.call("XAUTOCLAIM", "s", "g", "c", "x", "0") == Error("ERR Invalid min-idle-time argument for XAUTOCLAIM")
    assert raw.call("XAUTOCLAIM", "s", "g", "c", "0", "x") == Error(BAD_ID)
    assert raw.call("XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "0") == Error("ERR COUNT must be > 0")
    assert raw.call("XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", "x") == Error("ERR COUNT must be > 0")
    assert raw.call("XAUTOCLAIM", "s", "g", "c", "0", "0", "FOO") == Error("ERR syntax error")
    # a huge COUNT is accepted (and does not make the server allocate it)
    assert raw.call("XAUTOCLAIM", "s", "g", "c", "0", "0", "COUNT", str(2**63 // 16 - 1), "JUSTID")[0] == "0-0"


# ----------------------------------------------------------------- XINFO

def kv(flat):
    return dict(zip(flat[0::2], flat[1::2]))


def test_xinfo_stream_resp2(raw):
    fill(raw, "s", 3)
    raw.call("XDEL", "s", "2-0")
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    info = raw.call("XINFO", "STREAM", "s")
    assert info[0::2] == ["length", "radix-tree-keys", "radix-tree-nodes", "last-generated-id",
                          "max-deleted-entry-id", "entries-added", "recorded-first-entry-id",
                          "groups", "first-entry", "last-entry"]
    d = kv(info)
    assert d["length"] == 2 and d["last-generated-id"] == "3-0" and d["max-deleted-entry-id"] == "2-0"
    assert d["entries-added"] == 3 and d["recorded-first-entry-id"] == "1-0" and d["groups"] == 1
    assert d["first-entry"] == entry(1) and d["last-entry"] == entry(3)
    assert d["radix-tree-keys"] >= 1 and d["radix-tree-nodes"] >= 1
    raw.call("XGROUP", "CREATE", "e", "g", "$", "MKSTREAM")
    d = kv(raw.call("XINFO", "STREAM", "e"))
    assert d["length"] == 0 and d["first-entry"] is None and d["last-entry"] is None
    assert raw.call("XINFO", "STREAM", "nokey") == Error("ERR no such key")
    assert raw.call("XINFO", "STREAM", "s", "FOO") == Error(
        "ERR unknown subcommand or wrong number of arguments for 'STREAM'. Try XINFO HELP.")
    assert raw.call("XINFO", "STREAM", "s", "FULL", "COUNT", "x") == Error("ERR value is not an integer or out of range")


def test_xinfo_full(raw):
    fill(raw, "s", 4)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    raw.call("XREADGROUP", "GROUP", "g", "alice", "COUNT", "3", "STREAMS", "s", ">")
    raw.call("XGROUP", "CREATECONSUMER", "s", "g", "idle")
    full = raw.call("XINFO", "STREAM", "s", "FULL")
    assert full[0::2] == ["length", "radix-tree-keys", "radix-tree-nodes", "last-generated-id",
                          "max-deleted-entry-id", "entries-added", "recorded-first-entry-id",
                          "entries", "groups"]
    d = kv(full)
    assert d["entries"] == [entry(i) for i in range(1, 5)]
    (g,) = d["groups"]
    g = kv(g)
    assert g["name"] == "g" and g["last-delivered-id"] == "3-0" and g["entries-read"] == 3
    assert g["lag"] == 1 and g["pel-count"] == 3
    assert [p[0] for p in g["pending"]] == ["1-0", "2-0", "3-0"]
    assert all(p[1] == "alice" and p[3] == 1 for p in g["pending"])
    assert abs(g["pending"][0][2] - time.time() * 1000) < 60000  # a unix time in ms
    cons = {kv(c)["name"]: kv(c) for c in g["consumers"]}
    assert cons["alice"]["pel-count"] == 3 and len(cons["alice"]["pending"]) == 3
    assert cons["alice"]["pending"][0][0] == "1-0" and cons["alice"]["pending"][0][2] == 1
    assert cons["idle"]["pel-count"] == 0 and cons["idle"]["active-time"] == -1
    # COUNT limits entries and PELs
    d = kv(raw.call("XINFO", "STREAM", "s", "FULL", "COUNT", "1"))
    assert d["entries"] == [entry(1)]
    assert len(kv(d["groups"][0])["pending"]) == 1


def test_xinfo_groups_consumers(raw, r):
    fill(raw, "s", 3)
    raw.call("XGROUP", "CREATE", "s", "a", "0")
    raw.call("XGROUP", "CREATE", "s", "b", "$")
    raw.call("XREADGROUP", "GROUP", "a", "c1", "COUNT", "2", "STREAMS", "s", ">")
    raw.call("XGROUP", "CREATECONSUMER", "s", "a", "c2")
    groups = raw.call("XINFO", "GROUPS", "s")
    assert [g[0::2] for g in groups] == [["name", "consumers", "pending", "last-delivered-id", "entries-read", "lag"]] * 2
    a, b = kv(groups[0]), kv(groups[1])
    assert a == {"name": "a", "consumers": 2, "pending": 2, "last-delivered-id": "2-0", "entries-read": 2, "lag": 1}
    assert b["consumers"] == 0 and b["lag"] == 0
    time.sleep(0.05)
    cons = raw.call("XINFO", "CONSUMERS", "s", "a")
    assert [c[0::2] for c in cons] == [["name", "pending", "idle", "inactive"]] * 2
    c1, c2 = kv(cons[0]), kv(cons[1])
    assert c1["name"] == "c1" and c1["pending"] == 2 and c1["idle"] >= 40 and c1["inactive"] >= 40
    assert c2["name"] == "c2" and c2["pending"] == 0 and c2["inactive"] == -1
    assert [c["name"] for c in r.xinfo_consumers("s", "a")] == ["c1", "c2"]
    assert [g["name"] for g in r.xinfo_groups("s")] == ["a", "b"]
    assert raw.call("XINFO", "GROUPS", "nokey") == Error("ERR no such key")
    assert raw.call("XINFO", "CONSUMERS", "nokey", "a") == Error("ERR no such key")
    assert raw.call("XINFO", "CONSUMERS", "s", "nog") == Error(NOGROUP_FOR % ("nog", "s"))


def test_xinfo_resp3(raw):
    fill(raw, "s", 2)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    raw.call("XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">")
    raw.call("HELLO", "3")
    info = raw.call("XINFO", "STREAM", "s")
    assert isinstance(info, dict) and info["length"] == 2 and info["first-entry"] == ["1-0", ["f", "v1"]]
    full = raw.call("XINFO", "STREAM", "s", "FULL")
    assert isinstance(full, dict) and isinstance(full["groups"][0], dict)
    assert isinstance(full["groups"][0]["consumers"][0], dict)
    (g,) = raw.call("XINFO", "GROUPS", "s")
    assert g == {"name": "g", "consumers": 1, "pending": 1, "last-delivered-id": "1-0", "entries-read": 1, "lag": 1}
    (c,) = raw.call("XINFO", "CONSUMERS", "s", "g")
    assert isinstance(c, dict) and c["name"] == "c" and c["pending"] == 1
    # XREADGROUP is a map in RESP3, nil is '_'
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">") == {"s": [["2-0", ["f", "v2"]]]}
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">") is None
    raw.call("XDEL", "s", "1-0")
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", "0") == {"s": [["1-0", None], ["2-0", ["f", "v2"]]]}
    assert raw.call("XPENDING", "s", "g")[0] == 2
    e = raw.call("XINFO", "STREAM", "nokey")
    assert e == Error("ERR no such key")


# -------------------------------------------------------------- blocking

def test_xreadgroup_block_woken_by_xadd(server):
    waiter, producer = server.raw(), server.raw()
    try:
        producer.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        t0 = time.time()
        waiter.send(encode("XREADGROUP", "GROUP", "g", "c", "BLOCK", "5000", "STREAMS", "s", ">")
                    + encode("PING"))
        time.sleep(0.2)
        assert "blocked_clients:1" in producer.call("INFO", "clients")
        producer.call("XADD", "s", "1-0", "f", "v1")
        assert waiter.read_reply() == [["s", [entry(1)]]]
        assert waiter.read_reply() == "PONG"  # the pipelined command waited its turn
        assert time.time() - t0 < 4
        assert producer.call("XPENDING", "s", "g")[0] == 1
    finally:
        waiter.close(); producer.close()


def test_xreadgroup_block_timeout_and_multi(raw):
    raw.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    t0 = time.time()
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "150", "STREAMS", "s", ">") is None
    assert 0.12 <= time.time() - t0 < 2
    # inside MULTI a BLOCK never blocks
    assert raw.call("MULTI") == "OK"
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">") == "QUEUED"
    assert raw.call("EXEC") == [None]
    # data present: BLOCK returns at once
    raw.call("XADD", "s", "1-0", "f", "v1")
    assert raw.call("XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s", ">") == [["s", [entry(1)]]]


def test_xreadgroup_block_competing(server):
    c1, c2, p = server.raw(), server.raw(), server.raw()
    try:
        p.call("XGROUP", "CREATE", "q", "g", "$", "MKSTREAM")
        cmd = lambda name: ("XREADGROUP", "GROUP", "g", name, "BLOCK", "5000", "STREAMS", "q", ">")
        c1.send(encode(*cmd("one")))
        c2.send(encode(*cmd("two")))
        time.sleep(0.2)
        p.call("XADD", "q", "1-0", "f", "v1")
        results = {}

        def read(name, cl):
            try:
                results[name] = cl.read_reply()
            except Exception as e:  # socket timeout
                results[name] = e

        c1.sock.settimeout(1.0)
        c2.sock.settimeout(1.0)
        t1 = threading.Thread(target=read, args=("one", c1))
        t2 = threading.Thread(target=read, args=("two", c2))
        t1.start(); t2.start(); t1.join(); t2.join()
        got = [v for v in results.values() if isinstance(v, list)]
        assert got == [[["q", [entry(1)]]]], results  # exactly one consumer got it
        loser = c1 if not isinstance(results["one"], list) else c2
        # the other one is still blocked and gets the next entry
        loser.sock.settimeout(5)
        p.call("XADD", "q", "2-0", "f", "v2")
        assert loser.read_reply() == [["q", [entry(2)]]]
        assert p.call("XPENDING", "q", "g")[0] == 2
    finally:
        c1.close(); c2.close(); p.close()


def test_xreadgroup_block_redis_py(server):
    r1, r2 = server.client(), server.client()
    r1.xgroup_create("s", "g", "$", mkstream=True)
    out = {}

    def reader():
        out["v"] = r2.xreadgroup("g", "c", {"s": ">"}, block=3000)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.2)
    r1.xadd("s", {"k": "v"}, id="5-0")
    t.join(5)
    assert out["v"] == [["s", [("5-0", {"k": "v"})]]]


def test_xreadgroup_block_group_destroyed(server):
    w, p = server.raw(), server.raw()
    try:
        p.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
        w.send(encode("XREADGROUP", "GROUP", "g", "c", "BLOCK", "3000", "STREAMS", "s", ">"))
        time.sleep(0.1)
        p.call("XGROUP", "DESTROY", "s", "g")
        p.call("XADD", "s", "1-0", "f", "v")
        assert w.read_reply() == Error(NOGROUP_RG % ("s", "g"))
    finally:
        w.close(); p.close()


def test_group_commands_in_multi_and_pipeline(raw):
    fill(raw, "s", 3)
    raw.call("XGROUP", "CREATE", "s", "g", "0")
    assert raw.call("MULTI") == "OK"
    for cmd in (("XREADGROUP", "GROUP", "g", "c", "COUNT", "2", "STREAMS", "s", ">"),
                ("XACK", "s", "g", "1-0"),
                ("XPENDING", "s", "g"),
                ("XCLAIM", "s", "g", "d", "0", "2-0", "JUSTID"),
                ("XINFO", "GROUPS", "s")):
        assert raw.call(*cmd) == "QUEUED"
    res = raw.call("EXEC")
    assert res[0] == [["s", [entry(1), entry(2)]]]
    assert res[1] == 1
    assert res[2] == [1, "2-0", "2-0", [["c", "1"]]]
    assert res[3] == ["2-0"]
    assert kv(res[4][0])["pending"] == 1
    # pipelined: replies in order, each write visible to the next command
    raw.send(encode("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">") + encode("XPENDING", "s", "g")
             + encode("XACK", "s", "g", "2-0", "3-0") + encode("XPENDING", "s", "g"))
    assert raw.read_reply() == [["s", [entry(3)]]]
    assert raw.read_reply()[0] == 2
    assert raw.read_reply() == 2
    assert raw.read_reply() == [0, None, None, None]

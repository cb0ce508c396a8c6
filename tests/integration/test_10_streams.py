"""Stream commands: XADD XRANGE XREVRANGE XLEN XDEL XTRIM XSETID XREAD, with
Redis 7's replies and error texts, RESP2 and RESP3, blocking reads, the
engine/CLI interplay ("one model, two views") and restart persistence."""
import json
import os
import subprocess
import threading
import time

import pytest
import redis

from respclient import Error

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MNEMO = os.environ.get("MNEMO_BIN", os.path.join(ROOT, "build", "mnemo"))

BAD_ID = Error("ERR Invalid stream ID specified as stream command argument")


def ids(entries):
    return [e[0] for e in entries]


# ---------------------------------------------------------------- XADD


def test_xadd_auto_ids_increase(r):
    a = r.xadd("s", {"f": "v"})
    b = r.xadd("s", {"f": "w"})
    ms_a, seq_a = map(int, a.split("-"))
    ms_b, seq_b = map(int, b.split("-"))
    assert (ms_b, seq_b) > (ms_a, seq_a)
    assert abs(ms_a - time.time() * 1000) < 60000
    assert r.xlen("s") == 2
    assert r.type("s") == "stream"
    assert r.exists("s") == 1


def test_xadd_explicit_and_partial_ids(raw):
    assert raw.call("XADD", "s", "1-1", "a", "1") == "1-1"
    assert raw.call("XADD", "s", "1-*", "a", "2") == "1-2"
    assert raw.call("XADD", "s", "5", "a", "3") == "5-0"
    assert raw.call("XADD", "s", "5-*", "a", "4") == "5-1"
    assert raw.call("XADD", "s", "7-*", "a", "5") == "7-0"
    assert raw.call("XADD", "s", "0-*", "a", "6") == Error(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item")
    assert raw.call("XADD", "s", "7-0", "a", "7") == Error(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item")
    assert raw.call("XADD", "s", "6-9", "a", "7") == Error(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item")
    assert raw.call("XADD", "s", "0-0", "a", "7") == Error(
        "ERR The ID specified in XADD must be greater than 0-0")
    assert raw.call("XADD", "fresh", "0-*", "a", "1") == "0-1"
    assert raw.call("XADD", "s", "*", "a", "8").startswith(tuple("123456789"))
    assert [e[0] for e in raw.call("XRANGE", "s", "-", "7")] == ["1-1", "1-2", "5-0", "5-1", "7-0"]
    # a failed XADD leaves nothing behind
    assert raw.call("XLEN", "s") == 6


def test_xadd_max_id(raw):
    top = "18446744073709551615-18446744073709551615"
    assert raw.call("XADD", "s", top, "a", "b") == top
    assert raw.call("XADD", "s", "*", "a", "b") == Error(
        "ERR The stream has exhausted the last possible ID, unable to add more items")
    assert raw.call("XADD", "s", "18446744073709551615-*", "a", "b") == Error(
        "ERR The stream has exhausted the last possible ID, unable to add more items")


def test_xadd_bad_ids_and_arity(raw):
    for bad in ("-", "+", "abc", "1-x", "1-", "-1", "1-2-3", "x-*", "18446744073709551616",
                "1-18446744073709551616", "*-1", "1 2", ""):
        assert raw.call("XADD", "s", bad, "f", "v") == BAD_ID, bad
    assert raw.call("XADD", "s", "*") == Error("ERR wrong number of arguments for 'xadd' command")
    assert raw.call("XADD", "s", "*", "f") == Error("ERR wrong number of arguments for 'xadd' command")
    assert raw.call("XADD", "s", "*", "f", "v", "g") == Error(
        "ERR wrong number of arguments for 'xadd' command")
    assert raw.call("XADD", "s") == Error("ERR wrong number of arguments for 'xadd' command")
    assert raw.call("EXISTS", "s") == 0
    # Redis reads ids with strtoull as a fallback: leading zeros are fine
    assert raw.call("XADD", "s", "007-01", "f", "v") == "7-1"


def test_xadd_nomkstream(raw, r):
    assert raw.call("XADD", "s", "NOMKSTREAM", "*", "f", "v") is None
    assert r.exists("s") == 0
    assert r.xadd("s", {"f": "v"}, id="1-1") == "1-1"
    assert raw.call("XADD", "s", "NOMKSTREAM", "2-1", "f", "v") == "2-1"
    assert r.xadd("s", {"f": "v"}, nomkstream=True, id="3-1") == "3-1"
    assert r.xlen("s") == 3


def test_xadd_nomkstream_pipelined_after_create(server):
    # the first XADD creates the stream; the NOMKSTREAM one pipelined right
    # behind it must see it
    c = server.client()
    p = c.pipeline(transaction=False)
    p.xadd("p", {"a": "1"}, id="1-1")
    p.xadd("p", {"a": "2"}, id="2-1", nomkstream=True)
    assert p.execute() == ["1-1", "2-1"]
    c.close()


def test_xadd_fields_preserved_and_binary(server, raw):
    b = server.client(decode_responses=False)
    blob = bytes(range(256)) + b"\r\n\x00end"
    i = b.xadd(b"bin\x00key", {b"f\x00\xff": blob, b"": b"", b"x": b"\r\n"})
    assert b.xrange(b"bin\x00key") == [(i, {b"f\x00\xff": blob, b"": b"", b"x": b"\r\n"})]
    # duplicates and order are kept as given
    assert raw.call("XADD", "d", "1-1", "b", "1", "a", "2", "b", "3") == "1-1"
    assert raw.call("XRANGE", "d", "-", "+") == [["1-1", ["b", "1", "a", "2", "b", "3"]]]
    b.close()


def test_xadd_maxlen_minid(raw, r):
    for i in range(1, 11):
        raw.call("XADD", "s", "%d-1" % i, "n", str(i))
    assert raw.call("XADD", "s", "MAXLEN", "5", "11-1", "n", "11") == "11-1"
    assert ids(raw.call("XRANGE", "s", "-", "+")) == ["%d-1" % i for i in range(7, 12)]
    assert raw.call("XADD", "s", "MAXLEN", "=", "3", "*", "n", "12") is not None
    assert raw.call("XLEN", "s") == 3
    assert raw.call("XADD", "s", "MAXLEN", "~", "2", "LIMIT", "100", "*", "n", "13") is not None
    assert 2 <= raw.call("XLEN", "s") <= 4
    raw.call("DEL", "m")
    for i in range(1, 11):
        raw.call("XADD", "m", "%d-1" % i, "n", str(i))
    assert raw.call("XADD", "m", "MINID", "8", "11-1", "n", "x") == "11-1"
    assert ids(raw.call("XRANGE", "m", "-", "+")) == ["8-1", "9-1", "10-1", "11-1"]
    assert raw.call("XADD", "m", "MINID", "=", "10-1", "12-1", "n", "y") == "12-1"
    assert ids(raw.call("XRANGE", "m", "-", "+")) == ["10-1", "11-1", "12-1"]
    assert raw.call("XADD", "m", "MINID", "~", "11", "LIMIT", "1", "13-1", "n", "z") == "13-1"
    assert ids(raw.call("XRANGE", "m", "-", "+"))[-1] == "13-1"
    # maxlen 0 with the new entry: Redis trims after adding, so it is gone too
    assert raw.call("XADD", "z", "MAXLEN", "0", "1-1", "a", "b") == "1-1"
    assert raw.call("XLEN", "z") == 0
    # redis-py spelling
    r.xadd("py", {"a": 1}, maxlen=2, approximate=False)
    r.xadd("py", {"a": 2}, maxlen=2, approximate=False)
    r.xadd("py", {"a": 3}, maxlen=2, approximate=False)
    assert r.xlen("py") == 2


def test_xadd_trim_errors(raw):
    e = raw.call
    assert e("XADD", "s", "MAXLEN", "-1", "*", "a", "b") == Error("ERR The MAXLEN argument must be >= 0.")
    assert e("XADD", "s", "MAXLEN", "x", "*", "a", "b") == Error(
        "ERR value is not an integer or out of range")
    assert e("XADD", "s", "MAXLEN", "1", "MINID", "1", "*", "a", "b") == Error(
        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
    assert e("XADD", "s", "LIMIT", "5", "*", "a", "b") == Error(
        "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    assert e("XADD", "s", "LIMIT", "0", "*", "a", "b") == Error(
        "ERR syntax error, LIMIT cannot be used without the special ~ option")
    assert e("XADD", "s", "MAXLEN", "5", "LIMIT", "5", "*", "a", "b") == Error(
        "ERR syntax error, LIMIT cannot be used without the special ~ option")
    assert e("XADD", "s", "MAXLEN", "=", "5", "LIMIT", "5", "*", "a", "b") == Error(
        "ERR syntax error, LIMIT cannot be used without the special ~ option")
    assert e("XADD", "s", "MAXLEN", "~", "5", "LIMIT", "-1", "*", "a", "b") == Error(
        "ERR The LIMIT argument must be >= 0.")
    assert e("XADD", "s", "MINID", "-", "*", "a", "b") == BAD_ID
    assert e("XADD", "s", "MINID", "x", "*", "a", "b") == BAD_ID
    assert e("XADD", "s", "FOO", "*", "a", "b") == BAD_ID
    assert e("EXISTS", "s") == 0


def test_xadd_type_field_becomes_event_type(server, raw):
    raw.call("XADD", "s", "1-1", "type", "OrderPlaced", "id", "7")
    raw.call("XADD", "s", "2-1", "x", "y")
    assert server.stop() == 0
    out = subprocess.run([MNEMO, "--dir", server.dir, "read", "s"], capture_output=True, check=True)
    events = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert [e["type"] for e in events] == ["OrderPlaced", "entry"]
    assert events[0]["data"] == {"type": "OrderPlaced", "id": "7"}
    assert events[1]["data"] == {"x": "y"}
    server.start()


def test_pipelined_xadds(server):
    c = server.client()
    p = c.pipeline(transaction=False)
    for i in range(500):
        p.xadd("pl", {"n": str(i)})
    got = p.execute()
    assert len(got) == 500 and len(set(got)) == 500
    entries = c.xrange("pl")
    assert ids(entries) == got
    assert [e[1]["n"] for e in entries] == [str(i) for i in range(500)]
    # read-your-writes: XLEN pipelined right behind XADDs
    p = c.pipeline(transaction=False)
    p.xadd("pl2", {"a": "1"})
    p.xadd("pl2", {"a": "2"})
    p.xlen("pl2")
    p.xrange("pl2")
    res = p.execute()
    assert res[2] == 2 and ids(res[3]) == res[:2]
    c.close()


def test_xadd_in_multi(raw):
    assert raw.call("MULTI") == "OK"
    assert raw.call("XADD", "s", "1-1", "a", "b") == "QUEUED"
    assert raw.call("XADD", "s", "2-1", "a", "b") == "QUEUED"
    assert raw.call("XLEN", "s") == "QUEUED"
    assert raw.call("XADD", "s", "1-1", "a", "b") == "QUEUED"
    assert raw.call("EXEC") == ["1-1", "2-1", 2, Error(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item")]


# ---------------------------------------------------------------- XRANGE


def fill(raw, key, n, start=1):
    for i in range(start, start + n):
        raw.call("XADD", key, "%d-%d" % (i, i), "n", str(i))


def test_xrange_and_count(raw, r):
    fill(raw, "s", 5)
    assert ids(raw.call("XRANGE", "s", "-", "+")) == ["1-1", "2-2", "3-3", "4-4", "5-5"]
    assert ids(raw.call("XRANGE", "s", "2", "4")) == ["2-2", "3-3", "4-4"]
    assert ids(raw.call("XRANGE", "s", "2-3", "4-3")) == ["3-3"]
    assert ids(raw.call("XRANGE", "s", "-", "+", "COUNT", "2")) == ["1-1", "2-2"]
    assert raw.call("XRANGE", "s", "-", "+", "count", "0") is None  # Redis 7: a null array
    assert raw.call("XRANGE", "nokey", "-", "+", "count", "0") == []
    assert raw.call("XRANGE", "s", "-", "+", "COUNT", "-5") is None  # negative = 0: null array
    assert ids(raw.call("XRANGE", "s", "4", "2")) == []
    assert raw.call("XRANGE", "nokey", "-", "+") == []
    assert raw.call("XRANGE", "s", "3-3", "3-3") == [["3-3", ["n", "3"]]]
    assert ids(raw.call("XREVRANGE", "s", "+", "-")) == ["5-5", "4-4", "3-3", "2-2", "1-1"]
    assert ids(raw.call("XREVRANGE", "s", "4", "2", "COUNT", "2")) == ["4-4", "3-3"]
    assert ids(raw.call("XREVRANGE", "s", "2", "4")) == []
    assert raw.call("XREVRANGE", "nokey", "+", "-") == []
    assert r.xrange("s", "2-2", "3-3") == [("2-2", {"n": "2"}), ("3-3", {"n": "3"})]
    assert r.xrevrange("s", count=1) == [("5-5", {"n": "5"})]


def test_xrange_exclusive(raw):
    fill(raw, "s", 5)
    assert ids(raw.call("XRANGE", "s", "(2-2", "+")) == ["3-3", "4-4", "5-5"]
    assert ids(raw.call("XRANGE", "s", "-", "(4-4")) == ["1-1", "2-2", "3-3"]
    assert ids(raw.call("XRANGE", "s", "(1-1", "(3-3")) == ["2-2"]
    assert ids(raw.call("XREVRANGE", "s", "(5-5", "(2-2")) == ["4-4", "3-3"]
    assert ids(raw.call("XRANGE", "s", "(2", "+")) == ["2-2", "3-3", "4-4", "5-5"]
    assert raw.call("XRANGE", "s", "(18446744073709551615-18446744073709551615", "+") == Error(
        "ERR invalid start ID for the interval")
    assert raw.call("XRANGE", "s", "-", "(0-0") == Error("ERR invalid end ID for the interval")
    assert raw.call("XRANGE", "s", "(-", "+") == BAD_ID
    assert raw.call("XRANGE", "s", "-", "(+") == BAD_ID
    assert raw.call("XRANGE", "s", "(", "+") == BAD_ID


def test_xrange_errors(raw):
    fill(raw, "s", 2)
    assert raw.call("XRANGE", "s", "x", "+") == BAD_ID
    assert raw.call("XRANGE", "s", "-", "1-x") == BAD_ID
    assert raw.call("XRANGE", "s", "-", "+", "COUNT") == Error("ERR syntax error")
    assert raw.call("XRANGE", "s", "-", "+", "COUNT", "x") == Error(
        "ERR value is not an integer or out of range")
    assert raw.call("XRANGE", "s", "-", "+", "FOO", "1") == Error("ERR syntax error")
    assert raw.call("XRANGE", "s", "-") == Error("ERR wrong number of arguments for 'xrange' command")
    assert raw.call("XREVRANGE", "s", "+") == Error(
        "ERR wrong number of arguments for 'xrevrange' command")


# ---------------------------------------------------------------- XLEN XDEL


def test_xlen_xdel(raw):
    assert raw.call("XLEN", "nokey") == 0
    fill(raw, "s", 5)
    assert raw.call("XLEN", "s") == 5
    assert raw.call("XDEL", "s", "2-2", "4-4", "4-4", "9-9") == 2
    assert raw.call("XLEN", "s") == 3
    assert ids(raw.call("XRANGE", "s", "-", "+")) == ["1-1", "3-3", "5-5"]
    assert raw.call("XDEL", "s", "2-2") == 0
    assert raw.call("XDEL", "nokey", "1-1") == 0
    assert raw.call("XDEL", "nokey", "bad") == 0  # missing key first, as Redis
    assert raw.call("XDEL", "s", "1-1", "bad") == BAD_ID
    assert raw.call("XDEL", "s", "-") == BAD_ID
    assert raw.call("XLEN", "s") == 3  # nothing half-applied
    assert raw.call("XDEL", "s", "1") == 0  # "1" is 1-0
    assert raw.call("XDEL", "s") == Error("ERR wrong number of arguments for 'xdel' command")
    assert raw.call("XLEN") == Error("ERR wrong number of arguments for 'xlen' command")
    # deleting every entry keeps the stream (Redis keeps an empty stream)
    assert raw.call("XDEL", "s", "1-1", "3-3", "5-5") == 3
    assert raw.call("XLEN", "s") == 0
    assert raw.call("EXISTS", "s") == 1
    # the top id stays: a smaller explicit id is refused
    assert raw.call("XADD", "s", "5-5", "a", "b") == Error(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item")


# ---------------------------------------------------------------- XTRIM


def test_xtrim(raw):
    fill(raw, "s", 10)
    assert raw.call("XTRIM", "s", "MAXLEN", "7") == 3
    assert raw.call("XLEN", "s") == 7
    assert raw.call("XTRIM", "s", "MAXLEN", "=", "5") == 2
    assert raw.call("XTRIM", "s", "MAXLEN", "10") == 0
    assert raw.call("XTRIM", "s", "MINID", "8") == 2
    assert ids(raw.call("XRANGE", "s", "-", "+")) == ["8-8", "9-9", "10-10"]
    assert raw.call("XTRIM", "s", "MINID", "=", "9-9") == 1
    assert raw.call("XTRIM", "s", "MAXLEN", "~", "0", "LIMIT", "1") <= 1
    assert raw.call("XTRIM", "nokey", "MAXLEN", "0") == 0
    assert raw.call("XTRIM", "s", "MAXLEN", "0") >= 0
    assert raw.call("XLEN", "s") == 0
    assert raw.call("EXISTS", "s") == 1


def test_xtrim_errors(raw):
    e = raw.call
    fill(raw, "s", 3)
    assert e("XTRIM", "s", "LIMIT", "0") == Error(
        "ERR syntax error, XTRIM must be called with a trimming strategy")
    assert e("XTRIM", "s", "LIMIT", "5") == Error(
        "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
    assert e("XTRIM", "s", "MAXLEN", "1", "LIMIT", "1") == Error(
        "ERR syntax error, LIMIT cannot be used without the special ~ option")
    assert e("XTRIM", "s", "MAXLEN", "-1") == Error("ERR The MAXLEN argument must be >= 0.")
    assert e("XTRIM", "s", "MAXLEN", "~") == Error("ERR value is not an integer or out of range")
    assert e("XTRIM", "s", "MAXLEN", "1", "MINID", "1") == Error(
        "ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
    assert e("XTRIM", "s", "MINID", "+") == BAD_ID
    assert e("XTRIM", "s", "FOO", "1") == Error("ERR syntax error")
    assert e("XTRIM", "s", "MAXLEN", "1", "junk") == Error("ERR syntax error")
    assert e("XTRIM", "s", "MAXLEN") == Error("ERR wrong number of arguments for 'xtrim' command")
    assert e("XLEN", "s") == 3


# ---------------------------------------------------------------- XSETID


def test_xsetid(raw):
    assert raw.call("XSETID", "nokey", "1-1") == Error("ERR no such key")
    fill(raw, "s", 3)
    assert raw.call("XSETID", "s", "2-0") == Error(
        "ERR The ID specified in XSETID is smaller than the target stream top item")
    assert raw.call("XSETID", "s", "100-0") == "OK"
    assert raw.call("XADD", "s", "50-0", "a", "b") == Error(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item")
    assert raw.call("XADD", "s", "*", "a", "b").split("-")[0] != "100"
    # back down to the top item is allowed (Redis compares with the last entry)
    raw.call("XADD", "t", "5-5", "a", "b")
    assert raw.call("XSETID", "t", "9-9") == "OK"
    assert raw.call("XSETID", "t", "5-5") == "OK"
    assert raw.call("XADD", "t", "6-0", "a", "b") == "6-0"


def test_xsetid_options_and_errors(raw):
    fill(raw, "s", 3)
    assert raw.call("XSETID", "s", "10-0", "ENTRIESADDED", "2") == Error(
        "ERR The entries_added specified in XSETID is smaller than the target stream length")
    assert raw.call("XSETID", "s", "10-0", "ENTRIESADDED", "-1") == Error(
        "ERR entries_added must be positive")
    assert raw.call("XSETID", "s", "10-0", "ENTRIESADDED", "x") == Error(
        "ERR value is not an integer or out of range")
    assert raw.call("XSETID", "s", "10-0", "MAXDELETEDID", "11-0") == Error(
        "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
    assert raw.call("XSETID", "s", "10-0", "MAXDELETEDID", "-") == BAD_ID
    assert raw.call("XSETID", "s", "10-0", "FOO", "1") == Error("ERR syntax error")
    assert raw.call("XSETID", "s", "10-0", "ENTRIESADDED") == Error("ERR syntax error")
    assert raw.call("XSETID", "s", "+") == BAD_ID
    assert raw.call("XSETID", "s") == Error("ERR wrong number of arguments for 'xsetid' command")
    assert raw.call("XSETID", "s", "10-0", "ENTRIESADDED", "50", "MAXDELETEDID", "8-0") == "OK"
    # the max deleted id now bounds XSETID from below
    assert raw.call("XSETID", "s", "7-0") == Error(
        "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id")
    assert raw.call("XSETID", "s", "9-0") == "OK"


# ---------------------------------------------------------------- XREAD


def test_xread_basic(raw, r):
    fill(raw, "a", 3)
    fill(raw, "b", 2, start=10)
    assert raw.call("XREAD", "STREAMS", "a", "0") == [
        ["a", [["1-1", ["n", "1"]], ["2-2", ["n", "2"]], ["3-3", ["n", "3"]]]]]
    assert raw.call("XREAD", "COUNT", "1", "STREAMS", "a", "b", "1-1", "0-0") == [
        ["a", [["2-2", ["n", "2"]]]], ["b", [["10-10", ["n", "10"]]]]]
    # streams without new entries are left out; none at all is a null array
    assert raw.call("XREAD", "STREAMS", "a", "b", "3-3", "0") == [
        ["b", [["10-10", ["n", "10"]], ["11-11", ["n", "11"]]]]]
    assert raw.call("XREAD", "STREAMS", "a", "nokey", "3-3", "0") is None
    assert raw.call("XREAD", "STREAMS", "a", "$") is None
    assert raw.call("XREAD", "COUNT", "0", "STREAMS", "a", "2-2") == [
        ["a", [["3-3", ["n", "3"]]]]]
    assert r.xread({"a": "2-2"}) == [["a", [("3-3", {"n": "3"})]]]
    # "+" (Redis 7.4): the last entry
    assert raw.call("XREAD", "STREAMS", "a", "+") == [["a", [["3-3", ["n", "3"]]]]]
    assert raw.call("XREAD", "STREAMS", "nokey", "+") is None


def test_xread_errors(raw):
    e = raw.call
    assert e("XREAD", "STREAMS", "a") == Error("ERR wrong number of arguments for 'xread' command")
    assert e("XREAD", "STREAMS", "a", "b", "0") == Error(
        "ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.")
    assert e("XREAD", "COUNT", "1", "a", "0") == Error("ERR syntax error")
    assert e("XREAD", "COUNT", "x", "STREAMS", "a", "0") == Error(
        "ERR value is not an integer or out of range")
    assert e("XREAD", "BLOCK", "x", "STREAMS", "a", "0") == Error(
        "ERR timeout is not an integer or out of range")
    assert e("XREAD", "BLOCK", "-1", "STREAMS", "a", "0") == Error("ERR timeout is negative")
    assert e("XREAD", "STREAMS", "a", ">") == Error(
        "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> "
        "<consumer> option.")
    assert e("XREAD", "STREAMS", "a", "-") == BAD_ID
    assert e("XREAD", "STREAMS", "a", "x") == BAD_ID
    assert e("XREAD", "NOACK", "STREAMS", "a", "0") == Error(
        "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
    assert e("XREAD", "GROUP", "g", "c", "STREAMS", "a", "0") == Error(
        "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
    assert e("XREAD", "COUNT", "1", "BLOCK", "10", "a") == Error("ERR syntax error")


def test_xread_block_woken_by_xadd(server, raw):
    fill(raw, "s", 1)
    other = server.client()

    def writer():
        time.sleep(0.3)
        other.xadd("s", {"late": "1"}, id="5-5")

    t = threading.Thread(target=writer)
    t0 = time.time()
    t.start()
    got = raw.call("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    t.join()
    assert got == [["s", [["5-5", ["late", "1"]]]]]
    assert 0.2 < time.time() - t0 < 5
    other.close()


def test_xread_block_multiple_streams_and_count(server, raw):
    other = server.client()

    def writer():
        time.sleep(0.2)
        p = other.pipeline(transaction=False)
        for i in range(5):
            p.xadd("y", {"i": str(i)}, id="%d-1" % (i + 1))
        p.execute()

    t = threading.Thread(target=writer)
    t.start()
    got = raw.call("XREAD", "COUNT", "2", "BLOCK", "5000", "STREAMS", "x", "y", "$", "$")
    t.join()
    assert got[0][0] == "y"
    assert 1 <= len(got[0][1]) <= 2
    assert got[0][1][0] == ["1-1", ["i", "0"]]
    other.close()


def test_xread_block_timeout_and_blocked_clients(server, raw):
    t0 = time.time()
    assert raw.call("XREAD", "BLOCK", "200", "STREAMS", "s", "$") is None
    assert 0.15 < time.time() - t0 < 3
    # counted in INFO while blocked
    raw.send(b"*6\r\n$5\r\nXREAD\r\n$5\r\nBLOCK\r\n$4\r\n1000\r\n$7\r\nSTREAMS\r\n$1\r\ns\r\n$1\r\n$\r\n")
    c = server.client()
    deadline = time.time() + 3
    while c.info("clients")["blocked_clients"] != 1 and time.time() < deadline:
        time.sleep(0.02)
    assert c.info("clients")["blocked_clients"] == 1
    assert raw.read_reply() is None
    assert c.info("clients")["blocked_clients"] == 0
    c.close()


def test_xread_block_ignores_old_entries_and_sees_dollar(server, raw):
    fill(raw, "s", 3)
    other = server.client()

    def writer():
        time.sleep(0.2)
        other.xadd("unrelated", {"a": "b"})
        time.sleep(0.2)
        other.xadd("s", {"new": "1"}, id="9-9")

    t = threading.Thread(target=writer)
    t.start()
    got = raw.call("XREAD", "BLOCK", "5000", "STREAMS", "s", "$")
    t.join()
    assert got == [["s", [["9-9", ["new", "1"]]]]]
    other.close()


def test_xread_block_in_multi_does_not_block(raw):
    raw.call("MULTI")
    raw.call("XREAD", "BLOCK", "0", "STREAMS", "s", "$")
    assert raw.call("EXEC") == [None]


def test_xread_block_client_disconnect(server):
    c = server.raw()
    c.send(b"*6\r\n$5\r\nXREAD\r\n$5\r\nBLOCK\r\n$1\r\n0\r\n$7\r\nSTREAMS\r\n$1\r\ns\r\n$1\r\n$\r\n")
    time.sleep(0.1)
    c.close()
    time.sleep(0.1)
    r2 = server.client()
    r2.xadd("s", {"a": "b"})
    assert r2.info("clients")["blocked_clients"] == 0
    r2.close()


# ---------------------------------------------------------------- RESP3


def test_resp3_replies(server):
    c = server.raw()
    hello = c.call("HELLO", "3")
    assert hello["proto"] == 3
    assert c.call("XADD", "s", "1-1", "a", "1") == "1-1"
    assert c.call("XADD", "s", "2-1", "b", "2") == "2-1"
    assert c.call("XRANGE", "s", "-", "+") == [["1-1", ["a", "1"]], ["2-1", ["b", "2"]]]
    assert c.call("XRANGE", "nokey", "-", "+") == []
    # XREAD is a map keyed by stream name in RESP3
    assert c.call("XREAD", "STREAMS", "s", "nokey", "0", "0") == {"s": [["1-1", ["a", "1"]], ["2-1", ["b", "2"]]]}
    assert c.call("XREAD", "STREAMS", "s", "$") is None
    c.send(b"*6\r\n$5\r\nXREAD\r\n$5\r\nBLOCK\r\n$2\r\n50\r\n$7\r\nSTREAMS\r\n$1\r\ns\r\n$1\r\n$\r\n")
    assert c.read_all(0.5) == b"_\r\n"
    c.send(b"*6\r\n$4\r\nXADD\r\n$1\r\nq\r\n$10\r\nNOMKSTREAM\r\n$1\r\n*\r\n$1\r\na\r\n$1\r\nb\r\n")
    assert c.read_all(0.5) == b"_\r\n"
    assert c.call("XLEN", "s") == 2
    assert c.call("XDEL", "s", "1-1") == 1
    assert c.call("XTRIM", "s", "MAXLEN", "0") == 1
    c.close()


def test_resp2_null_shapes(raw):
    raw.send(b"*6\r\n$4\r\nXADD\r\n$1\r\nq\r\n$10\r\nNOMKSTREAM\r\n$1\r\n*\r\n$1\r\na\r\n$1\r\nb\r\n")
    assert raw.read_all(0.3) == b"$-1\r\n"
    raw.send(b"*4\r\n$5\r\nXREAD\r\n$7\r\nSTREAMS\r\n$1\r\nq\r\n$1\r\n0\r\n")
    assert raw.read_all(0.3) == b"*-1\r\n"


# ---------------------------------------------------------------- one model, two views


def test_engine_reads_what_xadd_wrote(server, raw):
    raw.call("XADD", "orders", "1-1", "type", "Placed", "sku", "A1", "qty", "2")
    raw.call("XADD", "orders", "2-1", "note", "ü \"quoted\"")
    assert server.stop() == 0
    out = subprocess.run([MNEMO, "--dir", server.dir, "read", "orders"], capture_output=True,
                         check=True)
    events = [json.loads(line) for line in out.stdout.decode().splitlines()]
    assert [e["version"] for e in events] == [0, 1]
    assert events[0]["type"] == "Placed"
    assert events[0]["data"] == {"type": "Placed", "sku": "A1", "qty": "2"}
    assert events[1]["type"] == "entry"
    assert events[1]["data"] == {"note": "ü \"quoted\""}
    server.start()


def test_xrange_shows_engine_events(server):
    assert server.stop() == 0
    subprocess.run([MNEMO, "--dir", server.dir, "append", "acct", "Deposited", '{"a":1}'],
                   capture_output=True, check=True)
    subprocess.run([MNEMO, "--dir", server.dir, "append", "acct", "Tagged", '{"b":2}', "--meta",
                    '{"correlation_id":"c1"}'], capture_output=True, check=True)
    server.start()
    c = server.client()
    entries = c.xrange("acct")
    assert len(entries) == 2
    f0, f1 = entries[0][1], entries[1][1]
    assert set(f0) == {"id", "type", "data"}
    assert f0["type"] == "Deposited" and json.loads(f0["data"]) == {"a": 1}
    assert len(f0["id"]) == 36 and f0["id"].count("-") == 4
    assert f1["type"] == "Tagged" and json.loads(f1["meta"]) == {"correlation_id": "c1"}
    # field order as documented: id type data [meta]
    raw = server.raw()
    assert raw.call("XRANGE", "acct", "-", "+")[0][1][0::2] == ["id", "type", "data"]
    assert raw.call("XRANGE", "acct", "-", "+")[1][1][0::2] == ["id", "type", "data", "meta"]
    # the ids go on increasing with XADD after engine appends
    new = c.xadd("acct", {"x": "y"})
    assert ids(c.xrange("acct")) == [entries[0][0], entries[1][0], new]
    assert c.xread({"acct": entries[1][0]}) == [["acct", [(new, {"x": "y"})]]]
    raw.close()
    c.close()


def test_xadd_after_del_recreates(raw):
    fill(raw, "s", 3)
    assert raw.call("DEL", "s") == 1
    assert raw.call("XLEN", "s") == 0
    assert raw.call("XADD", "s", "NOMKSTREAM", "*", "a", "b") is None
    assert raw.call("XADD", "s", "1-1", "a", "b") == "1-1"
    assert raw.call("XRANGE", "s", "-", "+") == [["1-1", ["a", "b"]]]


# ---------------------------------------------------------------- persistence


@pytest.mark.server_args("--fsync", "always")
def test_restart_persistence(server):
    c = server.client()
    for i in range(1, 11):
        c.xadd("s", {"n": str(i)}, id="%d-1" % i)
    assert c.xdel("s", "3-1", "4-1") == 2
    assert c.xtrim("s", maxlen=6, approximate=False) == 2
    assert c.execute_command("XSETID", "s", "50-0", "ENTRIESADDED", "20", "MAXDELETEDID", "40-0") == "OK"
    before = c.xrange("s")
    c.close()
    server.restart()
    c = server.client()
    assert c.xrange("s") == before
    assert ids(before) == ["%d-1" % i for i in (5, 6, 7, 8, 9, 10)]
    assert c.xlen("s") == 6
    with pytest.raises(redis.ResponseError, match="equal or smaller"):
        c.xadd("s", {"a": "b"}, id="50-0")
    c.close()


@pytest.mark.server_args("--fsync", "always")
def test_restart_persists_setid(server, raw):
    raw.call("XADD", "s", "1-1", "a", "b")
    raw.call("XSETID", "s", "50-0", "MAXDELETEDID", "40-0")
    raw.call("XADD", "t", "1-1", "a", "b")
    raw.call("XDEL", "t", "1-1")
    raw.close()
    server.restart()
    raw2 = server.raw()
    assert raw2.call("XADD", "s", "50-0", "a", "b") == Error(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item")
    assert raw2.call("XSETID", "s", "39-0") == Error(
        "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id")
    assert raw2.call("XADD", "s", "50-1", "a", "b") == "50-1"
    assert raw2.call("XLEN", "t") == 0
    assert raw2.call("EXISTS", "t") == 1
    assert raw2.call("XADD", "t", "1-1", "a", "b") == Error(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item")
    raw2.close()


# ---------------------------------------------------------------- model check


def test_random_ops_match_a_model(server):
    """Random XADD/XDEL/XTRIM against a Python model of a Redis stream;
    XRANGE/XREVRANGE/XREAD/XLEN must agree with it after every step."""
    import random
    rnd = random.Random(1234)
    c = server.client()
    model = []  # [(ms, seq)] in order
    top = (0, 0)

    def fmt(i):
        return "%d-%d" % i

    for step in range(400):
        op = rnd.random()
        if op < 0.55:
            ms = top[0] + rnd.choice([0, 0, 1, 2, 5])
            seq = top[1] + 1 + rnd.randrange(3) if ms == top[0] else rnd.randrange(3)
            assert c.xadd("m", {"s": str(step)}, id=fmt((ms, seq))) == fmt((ms, seq))
            model.append((ms, seq))
            top = (ms, seq)
        elif op < 0.75 and model:
            victims = rnd.sample(model, min(len(model), rnd.randrange(1, 4)))
            assert c.xdel("m", *map(fmt, victims)) == len(set(victims))
            model = [e for e in model if e not in victims]
        elif op < 0.82 and model:
            keep = rnd.randrange(len(model) + 2)
            removed = max(0, len(model) - keep)
            assert c.xtrim("m", maxlen=keep, approximate=False) == removed
            model = model[removed:]
        elif op < 0.88 and model:
            pivot = rnd.choice(model)
            before = len(model)
            model = [e for e in model if e >= pivot]
            assert c.xtrim("m", minid=fmt(pivot), approximate=False) == before - len(model)
        assert c.xlen("m") == len(model)
        if not model:
            continue
        lo, hi = sorted(rnd.sample(range(top[0] + 2), 2)) if top[0] >= 1 else (0, top[0] + 1)
        want = [e for e in model if lo <= e[0] <= hi]
        assert [x[0] for x in c.xrange("m", str(lo), str(hi))] == list(map(fmt, want))
        cnt = rnd.randrange(1, 5)
        assert [x[0] for x in c.xrevrange("m", str(hi), str(lo), count=cnt)] == \
            list(map(fmt, want[::-1][:cnt]))
        after = rnd.choice(model)
        res = c.xread({"m": fmt(after)}, count=cnt)
        want = [e for e in model if e > after][:cnt]
        assert (res[0][1] if res else []) == [(fmt(e), c.xrange("m", fmt(e), fmt(e))[0][1]) for e in want]
    c.close()


def test_large_entries_and_many_fields(server, raw):
    # entries past the one-buffer encoding take the field-by-field path
    b = server.client(decode_responses=False)
    big = os.urandom(20000)
    i1 = b.xadd(b"L", {b"big": big, b"small": b"x"})
    many = {("f%d" % k).encode(): ("v%d" % k).encode() for k in range(3000)}
    i2 = b.xadd(b"L", many)
    got = b.xrange(b"L")
    assert got == [(i1, {b"big": big, b"small": b"x"}), (i2, many)]
    assert b.xread({b"L": i1}) == [[b"L", [(i2, many)]]]
    b.close()
    assert server.stop() == 0
    data = "x" * 9000
    subprocess.run([MNEMO, "--dir", server.dir, "append", "L", "Big", json.dumps({"d": data})],
                   capture_output=True, check=True)
    server.start()
    c = server.client()
    last = c.xrevrange("L", count=1)[0][1]
    assert last["type"] == "Big" and json.loads(last["data"]) == {"d": data}
    c.close()


def test_xrange_count_zero_is_null(raw):
    """Redis 7 answers an explicit COUNT 0 (or negative) with a null array."""
    raw.call("XADD", "cz", "1-1", "f", "v")
    assert raw.call("XRANGE", "cz", "-", "+", "COUNT", "0") is None
    assert raw.call("XREVRANGE", "cz", "+", "-", "COUNT", "-5") is None
    assert raw.call("XRANGE", "cz", "-", "+", "COUNT", "1") == [["1-1", ["f", "v"]]]


def test_minus_zero_is_not_an_integer(raw):
    # Redis's string2ll refuses "-0" (the first digit must be 1-9 unless the
    # whole string is "0"); these are the replies of Redis 7 to each. Found by
    # fuzz_args (tests/fuzz/corpus/fuzz_args/resp-str2ll-minus-zero).
    fill(raw, "s", 2)
    not_int = Error("ERR value is not an integer or out of range")
    assert raw.call("XADD", "s", "MAXLEN", "-0", "*", "f", "v") == not_int
    assert raw.call("XADD", "s", "MAXLEN", "~", "1", "LIMIT", "-0", "*", "f", "v") == not_int
    assert raw.call("XTRIM", "s", "MAXLEN", "-0") == not_int
    assert raw.call("XRANGE", "s", "-", "+", "COUNT", "-0") == not_int
    assert raw.call("XREVRANGE", "s", "+", "-", "COUNT", "-0") == not_int
    assert raw.call("XREAD", "COUNT", "-0", "STREAMS", "s", "0") == not_int
    assert raw.call("XREAD", "BLOCK", "-0", "STREAMS", "s", "0") == Error(
        "ERR timeout is not an integer or out of range")
    assert raw.call("XINFO", "STREAM", "s", "FULL", "COUNT", "-0") == not_int
    assert raw.call("SCAN", "0", "COUNT", "-0") == not_int
    assert raw.call("SELECT", "-0") == not_int
    assert raw.call("HELLO", "-0") == Error("ERR Protocol version is not an integer or out of range")
    assert raw.call("XLEN", "s") == 2  # nothing was added or trimmed

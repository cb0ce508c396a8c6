"""Keyspace commands over the store's streams (empty store here; the stream
tests add content)."""
import os
import subprocess
import time

import pytest
import redis

from conftest import ROOT, ServerProc
from respclient import Error


def test_empty_keyspace(r, raw):
    assert r.dbsize() == 0
    assert r.keys() == []
    assert r.keys("a*") == []
    assert r.scan(0) == (0, [])
    assert r.scan(0, match="x*", count=100) == (0, [])
    assert r.scan(0, _type="stream") == (0, [])
    assert r.exists("a", "b") == 0
    assert r.type("a") == "none"
    assert r.delete("a", "b") == 0
    assert r.unlink("a") == 0
    assert r.flushall() is True
    assert r.flushdb() is True
    assert raw.call("FLUSHALL", "ASYNC") == "OK"
    assert list(r.scan_iter()) == []
    assert "db0:" not in raw.call("INFO", "keyspace")


def test_key_errors(raw):
    assert raw.call("SCAN", "x") == Error("ERR invalid cursor")
    assert raw.call("SCAN", "0", "COUNT", "0") == Error("ERR syntax error")
    assert raw.call("SCAN", "0", "COUNT", "x") == Error("ERR value is not an integer or out of range")
    assert raw.call("SCAN", "0", "FOO") == Error("ERR syntax error")
    assert raw.call("SCAN", "0", "MATCH") == Error("ERR syntax error")
    assert raw.call("DBSIZE", "x") == Error("ERR wrong number of arguments for 'dbsize' command")
    assert raw.call("FLUSHALL", "FOO") == Error("ERR syntax error")
    assert raw.call("DEL") == Error("ERR wrong number of arguments for 'del' command")
    assert raw.call("TYPE") == Error("ERR wrong number of arguments for 'type' command")
    assert raw.call("KEYS") == Error("ERR wrong number of arguments for 'keys' command")
    assert raw.call("EXISTS") == Error("ERR wrong number of arguments for 'exists' command")


def test_del_is_ordered_in_pipeline(raw):
    # DEL is answered after the background worker; replies stay in order
    raw.send(b"ECHO a\r\nDEL x y\r\nECHO b\r\nFLUSHDB\r\nPING\r\n")
    assert [raw.read_reply() for _ in range(5)] == ["a", 0, "b", "OK", "PONG"]


def test_restart_keeps_working(server):
    r = server.client()
    assert r.dbsize() == 0
    server.restart()
    r = server.client()
    assert r.dbsize() == 0 and r.ping()


def test_pipelined_deferred_replies_stay_ordered(raw):
    # UNLINK is CMD_PIPELINE_DEFER: a client's consecutive UNLINKs are all
    # started at once (several deferred replies outstanding, each in its
    # slot); ECHO is not, so it waits for them. Replies keep request order.
    n = 300
    raw.send(b"".join(b"UNLINK k%d\r\n" % i for i in range(n)) + b"ECHO done\r\nDEL a\r\nUNLINK b\r\nPING\r\n")
    got = [raw.read_reply() for _ in range(n + 4)]
    assert got == [0] * n + ["done", 0, 0, "PONG"]


def test_pipelined_deferred_inside_multi(raw):
    raw.call("MULTI")
    for i in range(5):
        raw.call("UNLINK", "x%d" % i)
    raw.call("ECHO", "e")
    raw.call("UNLINK", "y")
    assert raw.call("EXEC") == [0, 0, 0, 0, 0, "e", 0]


def test_client_gone_while_deferred(server):
    c = server.raw()
    c.send(b"".join(b"UNLINK k%d\r\n" % i for i in range(200)))
    c.close()
    r = server.client()
    assert r.ping()
    deadline = time.time() + 5
    while r.info("clients")["pending_deferred_replies"] != 0:
        assert time.time() < deadline
        time.sleep(0.02)


# ---- with content, seeded through the mnemo CLI (same engine, same dir) ----

MNEMO = os.environ.get("MNEMO_BIN", os.path.join(ROOT, "build", "mnemo"))


def seed(dirpath, names):
    for n in names:
        subprocess.run([MNEMO, "--dir", str(dirpath), "--fsync", "never", "append", n, "Created", "{}"],
                       check=True, capture_output=True, timeout=30)


@pytest.fixture
def seeded(tmp_path):
    if not os.path.exists(MNEMO):
        pytest.skip("build/mnemo not built")
    names = ["user:%02d" % i for i in range(30)] + ["order:%d" % i for i in range(10)] + ["odd name\n*"]
    seed(tmp_path / "data", names)
    srv = ServerProc(tmp_path / "data", ["--fsync", "never"]).start()
    yield srv, set(names)
    assert srv.stop() == 0


def test_keys_with_streams(seeded):
    srv, names = seeded
    r = srv.client()
    assert r.dbsize() == len(names)
    assert set(r.keys()) == names
    assert set(r.keys("order:*")) == {"order:%d" % i for i in range(10)}
    assert set(r.keys("user:0[0-2]")) == {"user:00", "user:01", "user:02"}
    assert r.keys("odd name\n\\*") == ["odd name\n*"]
    assert r.type("user:01") == "stream" and r.type("nope") == "none"
    assert r.exists("user:01", "user:01", "nope") == 2
    assert "db0:keys=%d,expires=0,avg_ttl=0" % len(names) in srv.raw().call("INFO", "keyspace")


def test_scan_iterates_everything_once(seeded):
    srv, names = seeded
    r = srv.client()
    seen = []
    cursor = 0
    calls = 0
    while True:
        cursor, keys = r.scan(cursor, count=7)
        seen += keys
        calls += 1
        if cursor == 0:
            break
    assert sorted(seen) == sorted(names) and calls >= 6
    assert set(r.scan_iter(match="user:1*", count=5)) == {"user:1%d" % i for i in range(10)}
    assert list(r.scan_iter(_type="string")) == []
    assert set(r.scan_iter(_type="stream")) == names


def test_scan_stable_under_deletes(seeded):
    srv, names = seeded
    r = srv.client()
    cursor, first = r.scan(0, count=10)
    assert cursor != 0
    # delete names already returned and names not yet returned
    gone = set(first[:5]) | {"user:29", "order:9"}
    assert r.delete(*gone) == len(gone)
    rest = []
    while cursor != 0:
        cursor, keys = r.scan(cursor, count=10)
        rest += keys
    # every stream that existed throughout is returned exactly once
    assert sorted(first + rest) == sorted(set(first) | (names - gone))
    assert not (set(rest) & gone)


def test_del_flushall_durable(seeded):
    srv, names = seeded
    r = srv.client()
    assert r.delete("user:00", "user:01", "nope") == 2
    assert r.exists("user:00") == 0 and r.type("user:00") == "none"
    assert r.dbsize() == len(names) - 2
    srv.restart()
    r = srv.client()
    assert r.dbsize() == len(names) - 2
    assert r.flushall() is True
    assert r.dbsize() == 0 and r.keys() == []
    srv.restart()
    assert srv.client().dbsize() == 0

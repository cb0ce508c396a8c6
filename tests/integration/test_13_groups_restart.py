"""Consumer-group state is durable: groups, last-delivered ids, entries-read,
pending entries with their consumers, delivery counts and delivery times
(idle keeps growing across a restart), and consumers — after a clean
restart (SIGTERM) and after kill -9 of a server running with --fsync always.
"""
import signal
import time

import pytest

from conftest import ServerProc


def kv(flat):
    return dict(zip(flat[0::2], flat[1::2]))


def build_state(c):
    """Every kind of group record, acknowledged before we return."""
    for i in range(1, 9):
        c.call("XADD", "jobs", "%d-0" % i, "n", str(i))
    assert c.call("XGROUP", "CREATE", "jobs", "workers", "0") == "OK"
    assert c.call("XGROUP", "CREATE", "jobs", "audit", "$") == "OK"
    assert c.call("XGROUP", "CREATE", "jobs", "gone", "0") == "OK"
    assert c.call("XGROUP", "CREATE", "other", "g", "$", "MKSTREAM") == "OK"
    c.call("XREADGROUP", "GROUP", "workers", "alice", "COUNT", "3", "STREAMS", "jobs", ">")   # 1 2 3
    c.call("XREADGROUP", "GROUP", "workers", "bob", "COUNT", "2", "STREAMS", "jobs", ">")     # 4 5
    c.call("XREADGROUP", "GROUP", "workers", "carol", "NOACK", "COUNT", "1", "STREAMS", "jobs", ">")  # 6
    assert c.call("XACK", "jobs", "workers", "2-0") == 1
    assert c.call("XCLAIM", "jobs", "workers", "bob", "0", "1-0", "RETRYCOUNT", "5", "IDLE", "3000", "JUSTID") == ["1-0"]
    assert c.call("XCLAIM", "jobs", "workers", "bob", "0", "3-0", "JUSTID") == ["3-0"]
    assert c.call("XGROUP", "CREATECONSUMER", "jobs", "workers", "dave") == 1
    assert c.call("XGROUP", "CREATECONSUMER", "jobs", "workers", "eve") == 1
    assert c.call("XGROUP", "DELCONSUMER", "jobs", "workers", "eve") == 0
    assert c.call("XGROUP", "SETID", "jobs", "audit", "7-0", "ENTRIESREAD", "7") == "OK"
    assert c.call("XGROUP", "DESTROY", "jobs", "gone") == 1
    assert c.call("XDEL", "jobs", "5-0") == 1  # pending with bob, now deleted


def snapshot(c):
    groups = [kv(g) for g in c.call("XINFO", "GROUPS", "jobs")]
    pel = c.call("XPENDING", "jobs", "workers", "-", "+", "100")
    consumers = [kv(x) for x in c.call("XINFO", "CONSUMERS", "jobs", "workers")]
    return {
        "groups": groups,
        "pel": [(p[0], p[1], p[3]) for p in pel],
        "idle": {p[0]: p[2] for p in pel},
        "consumers": [(x["name"], x["pending"]) for x in consumers],
        "summary": c.call("XPENDING", "jobs", "workers"),
        "other": [kv(g) for g in c.call("XINFO", "GROUPS", "other")],
        "history_bob": c.call("XREADGROUP", "GROUP", "workers", "bob", "STREAMS", "jobs", "0"),
    }


def check_state(before, after, elapsed_ms):
    assert after["groups"] == before["groups"]
    assert after["pel"] == before["pel"]
    assert after["consumers"] == before["consumers"]
    assert after["summary"] == before["summary"]
    assert after["other"] == before["other"]
    assert after["history_bob"] == before["history_bob"]
    for i, idle in before["idle"].items():
        # idle keeps counting across the restart (times are wall-clock)
        assert after["idle"][i] >= idle + elapsed_ms - 50, (i, idle, after["idle"][i])


def expected_shape(s):
    names = [g["name"] for g in s["groups"]]
    assert names == ["audit", "workers"]
    w = s["groups"][1]
    assert w["last-delivered-id"] == "6-0" and w["entries-read"] == 6 and w["pending"] == 4
    assert w["consumers"] == 4
    a = s["groups"][0]
    assert a["last-delivered-id"] == "7-0" and a["entries-read"] == 7 and a["lag"] == 1
    assert s["pel"] == [("1-0", "bob", 5), ("3-0", "bob", 1), ("4-0", "bob", 1), ("5-0", "bob", 1)]
    assert s["consumers"] == [("alice", 0), ("bob", 4), ("carol", 0), ("dave", 0)]
    assert s["idle"]["1-0"] >= 3000
    assert s["history_bob"] == [["jobs", [["1-0", ["n", "1"]], ["3-0", ["n", "3"]], ["4-0", ["n", "4"]], ["5-0", None]]]]


def continue_after(c):
    # the group goes on where it was: only new entries are delivered
    assert c.call("XREADGROUP", "GROUP", "workers", "dave", "STREAMS", "jobs", ">") == [["jobs", [["7-0", ["n", "7"]], ["8-0", ["n", "8"]]]]]
    assert c.call("XREADGROUP", "GROUP", "workers", "dave", "STREAMS", "jobs", ">") is None
    assert c.call("XACK", "jobs", "workers", "1-0", "3-0", "4-0") == 3
    nxt, claimed, deleted = c.call("XAUTOCLAIM", "jobs", "workers", "alice", "0", "0", "JUSTID")
    assert claimed == ["7-0", "8-0"] and deleted == ["5-0"]


def test_groups_survive_clean_restart(server):
    c = server.raw()
    build_state(c)
    before = snapshot(c)
    expected_shape(before)
    c.close()
    t0 = time.time()
    time.sleep(0.3)
    server.restart()
    c = server.raw()
    after = snapshot(c)
    check_state(before, after, int((time.time() - t0) * 1000) - 100)
    continue_after(c)
    c.close()
    # and once more, with the state continue_after wrote
    server.restart()
    c = server.raw()
    pel = c.call("XPENDING", "jobs", "workers", "-", "+", "100")
    assert [(p[0], p[1]) for p in pel] == [("7-0", "alice"), ("8-0", "alice")]
    assert [p[3] for p in pel] == [1, 1]  # JUSTID did not bump
    c.close()


def test_groups_survive_kill9(tmp_path):
    srv = ServerProc(tmp_path / "data", ["--fsync", "always"]).start()
    try:
        c = srv.raw()
        build_state(c)
        before = snapshot(c)
        expected_shape(before)
        c.close()
        t0 = time.time()
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        srv.proc = None
        srv.log.close()
        time.sleep(0.2)
        srv.start()
        c = srv.raw()
        after = snapshot(c)
        check_state(before, after, int((time.time() - t0) * 1000) - 100)
        continue_after(c)
        c.close()
        # kill -9 again right after acknowledged acks/claims
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        srv.proc = None
        srv.log.close()
        srv.start()
        c = srv.raw()
        pel = c.call("XPENDING", "jobs", "workers", "-", "+", "100")
        assert [(p[0], p[1]) for p in pel] == [("7-0", "alice"), ("8-0", "alice")]
        c.close()
    finally:
        rc = srv.stop()
    assert rc == 0, srv.read_log()


def test_blocked_reader_and_restart(server):
    """A delivery made to a blocked reader just before shutdown is pending after it."""
    c, p = server.raw(), server.raw()
    p.call("XGROUP", "CREATE", "s", "g", "$", "MKSTREAM")
    from respclient import encode
    c.send(encode("XREADGROUP", "GROUP", "g", "w", "BLOCK", "5000", "STREAMS", "s", ">"))
    time.sleep(0.1)
    p.call("XADD", "s", "1-0", "f", "v")
    assert c.read_reply() == [["s", [["1-0", ["f", "v"]]]]]
    c.close()
    p.close()
    server.restart()
    p = server.raw()
    assert [row[:2] for row in p.call("XPENDING", "s", "g", "-", "+", "10")] == [["1-0", "w"]]
    p.close()

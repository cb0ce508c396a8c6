#!/usr/bin/python3
"""
A short mnemosyned session under valgrind (make test-valgrind): start the
server under the valgrind command line given as argv[1], run a handful of
commands of every family (connection, admin, streams, groups, blocking reads,
pub/sub, MULTI, ES.*, a protocol error, a client that vanishes mid-request),
SIGTERM it, and require exit 0 -- valgrind's --error-exitcode turns any
memcheck error or leak into a non-zero exit -- and no "==pid==" report in
its output. Exit 0 on success.
"""
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import redis

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SERVER = os.environ.get("MNEMOSYNED", os.path.join(ROOT, "build", "mnemosyned"))


def main():
    vg = shlex.split(sys.argv[1]) if len(sys.argv) > 1 else ["valgrind", "--error-exitcode=1",
                                                             "--leak-check=full"]
    d = tempfile.mkdtemp(prefix="mnemo-vg-")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    logp = os.path.join(d, "server.log")
    log = open(logp, "wb")
    p = subprocess.Popen(vg + [SERVER, "--port", str(port), "--dir", os.path.join(d, "data")],
                         stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while True:
        if p.poll() is not None or time.time() > deadline:
            print(open(logp, errors="replace").read())
            return 1
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.2)
    n = 0
    try:
        r = redis.Redis(port=port, decode_responses=True, socket_timeout=60)
        assert r.ping()
        assert r.echo("x" * 100000) == "x" * 100000
        assert r.config_get("maxclients")["maxclients"] == "10000"
        assert "mn_fsync" in r.info("persistence")
        ids = [r.xadd("s", {"type": "T", "n": str(i)}) for i in range(50)]
        assert len(r.xrange("s")) == 50 and r.xrevrange("s", count=1)[0][0] == ids[-1]
        r.xgroup_create("s", "g", id="0")
        got = r.xreadgroup("g", "c1", {"s": ">"}, count=20)
        r.xack("s", "g", *[i for i, _ in got[0][1][:10]])
        assert r.xpending("s", "g")["pending"] == 10
        r.xclaim("s", "g", "c2", 0, [got[0][1][10][0]])
        r.xautoclaim("s", "g", "c3", 0, count=5)
        r.xinfo_stream("s", full=True)
        r.xinfo_groups("s")
        r.xinfo_consumers("s", "g")
        r.xdel("s", ids[0])
        r.xtrim("s", maxlen=40, approximate=False)
        # a blocked read woken by a write
        res = {}
        t = threading.Thread(target=lambda: res.setdefault(
            "r", redis.Redis(port=port, decode_responses=True).xread({"b": "$"}, block=20000)))
        t.start()
        time.sleep(1.0)
        r.xadd("b", {"k": "v"})
        t.join(30)
        assert res.get("r"), res
        # pub/sub
        ps = redis.Redis(port=port, decode_responses=True).pubsub()
        ps.subscribe("ch")
        ps.get_message(timeout=5)
        assert r.publish("ch", "hello") == 1
        m = ps.get_message(timeout=10)
        assert m and m["data"] == "hello", m
        ps.close()
        # MULTI
        pipe = r.pipeline(transaction=True)
        pipe.xadd("m", {"a": "1"}).xlen("m")
        assert pipe.execute()[1] == 1
        # ES.*
        r.execute_command("ES.APPEND", "acc-1", "NOSTREAM", "EVENT", "*", "Opened", '{"x":1}',
                          "META", '{"correlation_id":"c1"}')
        r.execute_command("ES.APPEND", "acc-1", "0", "EVENT", "*", "Deposited", '{"x":2}')
        assert len(r.execute_command("ES.READ", "acc-1")) == 2
        r.execute_command("ES.READALL", "COUNT", "10")
        r.execute_command("ES.INFO", "acc-1")
        r.xrange("$all", count=5)
        try:
            r.execute_command("ES.APPEND", "acc-1", "0", "EVENT", "*", "X", "{}")
        except redis.ResponseError as e:
            assert "WRONGVERSION" in str(e)
        r.delete("m")
        # projections (a thread with Lua and SQLite), a failing one, ES.FOLD
        defn = ("return {source = '$ce-acc', init = function(db) db:exec('CREATE TABLE t(v)') end,"
                " handlers = {Deposited = function(db, e) db:exec('INSERT INTO t VALUES(?)', e.data.x) end}}")
        r.execute_command("PROJECTION.CREATE", "p", defn)
        pos = r.execute_command("ES.APPEND", "acc-1", "ANY", "EVENT", "*", "Deposited", '{"x":3}')[1]
        assert r.execute_command("PROJECTION.QUERY", "p", "SELECT sum(v) FROM t", "AFTER", pos,
                                 "TIMEOUT", 60000) == [[5]]
        r.execute_command("PROJECTION.CREATE", "p", defn.replace("t(v)", "u(v)").replace("INTO t", "INTO u"))
        r.execute_command("PROJECTION.CREATE", "bad", "return {source = '$all', handlers = {Deposited = "
                          "function() local t = {} while true do t[#t + 1] = ('x'):rep(100) end end}}")
        r.execute_command("PROJECTION.STATUS", "p")
        r.execute_command("PROJECTION.LIST")
        r.execute_command("ES.FOLD", "acc-1", "return {handlers = {Deposited = function(s, e) s.x = (s.x or 0) + e.data.x end}}")
        try:
            r.execute_command("PROJECTION.QUERY", "p", "CREATE TABLE z(a)")
        except redis.ResponseError as e:
            assert "read-only" in str(e)
        # protocol error, and a client gone mid-request
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"*1\r\n$x\r\n")
        c.settimeout(10)
        assert c.recv(100).startswith(b"-ERR Protocol error")
        c.close()
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(b"*3\r\n$4\r\nXADD\r\n$1\r\ns\r\n$100\r\nabc")
        c.close()
        assert r.ping()
        n = 30
        r.close()
    except Exception as e:  # noqa: BLE001 -- report and still stop the server
        import traceback
        traceback.print_exc(file=sys.stdout)
        print("session failed: %r" % (e,))
        n = -1
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(120)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "timeout"
    log.close()
    out = open(logp, errors="replace").read()
    reports = [line for line in out.splitlines() if line.startswith("==")]
    if n < 0 or rc != 0 or reports:
        print("exit %s\n%s" % (rc, out[-8000:]))
        return 1
    print("about %d commands of every family, then SIGTERM: exit 0, no memcheck report, no leak" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main())

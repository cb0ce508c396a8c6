"""COMMAND, INFO, CONFIG, unknown-command and arity errors."""
import re

import pytest
import redis

from respclient import Error


def test_unknown_command_text(raw):
    assert raw.call("FOO", "a", "b") == Error("ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")
    assert raw.call("foo") == Error("ERR unknown command 'foo', with args beginning with: ")
    long_arg = "x" * 200
    e = raw.call("nope", long_arg, "y")
    assert str(e).startswith("ERR unknown command 'nope', with args beginning with: 'xxx")
    assert "'y'" not in str(e)  # at most ~128 bytes of arguments


def test_arity_errors(raw):
    assert raw.call("ECHO") == Error("ERR wrong number of arguments for 'echo' command")
    assert raw.call("ECHO", "a", "b") == Error("ERR wrong number of arguments for 'echo' command")
    assert raw.call("CONFIG", "GET") == Error("ERR wrong number of arguments for 'config|get' command")
    assert raw.call("PUBLISH", "a") == Error("ERR wrong number of arguments for 'publish' command")


def test_command_count_info_docs(r, raw):
    n = raw.call("COMMAND", "COUNT")
    assert n >= 25
    everything = raw.call("COMMAND")
    assert len(everything) == n
    names = {c[0] for c in everything}
    assert {"ping", "echo", "hello", "client", "config", "info", "publish", "multi", "scan"} <= names
    info = raw.call("COMMAND", "INFO", "echo", "nosuch", "config|get")
    echo, missing, cget = info
    assert echo[0] == "echo" and echo[1] == 2 and "fast" in echo[2]
    assert len(echo) == 10
    assert missing is None
    assert cget[0] == "config|get" and cget[1] == -3
    exists = raw.call("COMMAND", "INFO", "exists")[0]
    assert exists[3:6] == [1, -1, 1]
    assert exists[8][0][1] == "RO" or "RO" in str(exists[8])
    client = raw.call("COMMAND", "INFO", "client")[0]
    assert any(s[0] == "client|setname" for s in client[9])
    # redis-py's parser for COMMAND
    cmds = r.command()
    assert cmds["echo"]["arity"] == 2
    docs = raw.call("COMMAND", "DOCS", "ping", "config")
    d = dict(zip(docs[0::2], docs[1::2]))
    ping = dict(zip(d["ping"][0::2], d["ping"][1::2]))
    assert ping["group"] == "connection" and ping["summary"]
    cfg = dict(zip(d["config"][0::2], d["config"][1::2]))
    assert "config|get" in cfg["subcommands"]
    assert "ping" in raw.call("COMMAND", "LIST")


def test_command_docs_resp3(raw):
    raw.call("HELLO", "3")
    docs = raw.call("COMMAND", "DOCS", "echo")
    assert docs["echo"]["since"] == "1.0.0"


def parse_info(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def test_info_sections(r, raw):
    text = raw.call("INFO")
    for sec in ("# Server", "# Clients", "# Persistence", "# Stats", "# Errorstats", "# Keyspace"):
        assert sec in text
    assert "# Commandstats" not in text
    f = parse_info(text)
    for k in ("redis_version", "process_id", "tcp_port", "uptime_in_seconds", "connected_clients",
              "blocked_clients", "total_connections_received", "total_commands_processed",
              "instantaneous_ops_per_sec", "aof_enabled", "mn_end_position", "mn_streams"):
        assert k in f, k
    assert f["aof_enabled"] == "1"
    assert int(f["connected_clients"]) >= 1
    assert f["blocked_clients"] == "0"
    server_only = raw.call("INFO", "server")
    assert server_only.startswith("# Server") and "# Clients" not in server_only
    multi = raw.call("INFO", "server", "clients")
    assert "# Server" in multi and "# Clients" in multi and "# Stats" not in multi
    assert "# Commandstats" in raw.call("INFO", "all")
    assert raw.call("INFO", "nosuchsection") == ""
    info = r.info()
    assert info["redis_version"].startswith("7.")
    assert info["tcp_port"] == r.connection_pool.connection_kwargs["port"]


def test_info_resp3_verbatim(raw):
    raw.call("HELLO", "3")
    v = raw.call("INFO", "server")
    assert v.fmt == "txt" and "redis_version" in v


def test_commandstats_errorstats(r, raw):
    r.config_resetstat()
    raw.call("ECHO", "x")
    raw.call("ECHO")  # rejected
    raw.call("SELECT", "3")  # failed
    raw.call("NOSUCH")
    text = raw.call("INFO", "commandstats")
    assert re.search(r"cmdstat_echo:calls=1,usec=\d+,usec_per_call=[\d.]+,rejected_calls=1,failed_calls=0", text)
    assert re.search(r"cmdstat_select:calls=1,.*rejected_calls=0,failed_calls=1", text)
    errs = parse_info(raw.call("INFO", "errorstats"))
    assert errs["errorstat_ERR"] == "count=3"
    stats = parse_info(raw.call("INFO", "stats"))
    assert int(stats["total_error_replies"]) == 3
    raw.call("CONFIG", "SET", "foo", "bar")
    assert "cmdstat_config|set" in raw.call("INFO", "commandstats")
    assert r.config_resetstat()
    assert "cmdstat_echo" not in raw.call("INFO", "commandstats")
    assert "errorstat_ERR" not in raw.call("INFO", "errorstats")


def test_config_get(r, server):
    assert r.config_get("port") == {"port": str(server.port)}
    assert r.config_get("save") == {"save": ""}
    assert r.config_get("appendonly") == {"appendonly": "yes"}
    assert r.config_get("appendfsync") == {"appendfsync": "always"}  # the default
    assert r.config_get("fsync") == {"fsync": "always"}
    assert r.config_get("nosuchparam") == {}
    assert r.config_get("dir")["dir"] == server.dir
    both = r.execute_command("CONFIG", "GET", "port", "bind")
    assert dict(zip(both[0::2], both[1::2])) == {"port": str(server.port), "bind": "127.0.0.1"}
    m = r.config_get("max*")
    assert set(m) >= {"maxclients", "max-event-size"}
    assert "pubsub 33554432 8388608 60" in r.config_get("client-output-buffer-limit")["client-output-buffer-limit"]


def test_config_set(r):
    assert r.config_set("maxclients", 5000)
    assert r.config_get("maxclients") == {"maxclients": "5000"}
    assert r.config_set("proto-max-bulk-len", "64mb")
    assert r.config_get("proto-max-bulk-len") == {"proto-max-bulk-len": str(64 * 1024 * 1024)}
    assert r.config_set("save", "")
    assert r.config_set("appendonly", "yes")
    assert r.config_set("loglevel", "warning")
    with pytest.raises(redis.ResponseError, match=re.escape("Unknown option or number of arguments for CONFIG SET - 'foo'")):
        r.config_set("foo", "bar")
    with pytest.raises(redis.ResponseError, match=re.escape("CONFIG SET failed (possibly related to argument 'port') - can't set immutable config")):
        r.config_set("port", 1)
    with pytest.raises(redis.ResponseError, match=re.escape("CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer")):
        r.config_set("maxclients", "abc")
    # all or nothing
    with pytest.raises(redis.ResponseError):
        r.execute_command("CONFIG", "SET", "maxclients", "100", "timeout", "x")
    assert r.config_get("maxclients") == {"maxclients": "5000"}
    assert r.execute_command("CONFIG", "SET", "maxclients", "100", "timeout", "0")
    assert r.config_get("maxclients") == {"maxclients": "100"}


def test_config_file_and_flags(tmp_path):
    from conftest import ServerProc
    conf = tmp_path / "m.conf"
    conf.write_text('# a comment\nmaxclients 77\nrequirepass "from file"\nfsync interval:250\n'
                    'client-output-buffer-limit pubsub 1mb 512kb 10\n')
    srv = ServerProc(tmp_path / "d", ["--config", str(conf), "--maxclients", "88"]).start()
    try:
        c = srv.client(password="from file")
        assert c.config_get("maxclients") == {"maxclients": "88"}  # flag overrides file
        assert c.config_get("fsync") == {"fsync": "interval:250"}
        assert c.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert "pubsub 1048576 524288 10" in c.config_get("client-output-buffer-limit")["client-output-buffer-limit"]
        assert c.info("server")["config_file"] == str(conf)
    finally:
        assert srv.stop() == 0


def test_config_set_fsync_at_run_time(tmp_path):
    """CONFIG SET fsync/appendfsync switches the engine's policy from the next
    batch on; switching to always also syncs what was left unsynced."""
    import time
    from conftest import ServerProc
    srv = ServerProc(tmp_path / "d", ["--fsync", "never"]).start()
    try:
        c = srv.client()

        def positions():
            p = c.info("persistence")
            return p["mn_fsync"], int(p["mn_end_position"]), int(p["mn_durable_position"])

        for i in range(20):
            c.xadd("s", {"i": i})
        pol, end, durable = positions()
        assert pol == "never" and durable < end  # nothing synced under never
        assert c.config_set("appendfsync", "always")
        assert c.config_get("fsync") == {"fsync": "always"}
        deadline = time.time() + 5
        while positions()[2] < positions()[1] and time.time() < deadline:
            time.sleep(0.05)
        pol, end, durable = positions()
        assert pol == "always" and durable == end  # the backlog was synced
        c.xadd("s", {"i": 20})
        pol, end, durable = positions()
        assert durable == end  # acknowledged = synced
        assert c.config_set("fsync", "interval:50")
        assert c.config_get("appendfsync") == {"appendfsync": "everysec"}
        assert positions()[0] == "interval"
        c.xadd("s", {"i": 21})
        deadline = time.time() + 5
        while positions()[2] < positions()[1] and time.time() < deadline:
            time.sleep(0.02)
        assert positions()[2] == positions()[1]  # the interval sync came
        with pytest.raises(redis.ResponseError, match="interval must be 1..3600000 ms"):
            c.config_set("fsync", "interval:0")
        assert c.config_get("fsync") == {"fsync": "interval:50"}  # unchanged
        assert c.xlen("s") == 22
    finally:
        assert srv.stop() == 0


def test_bad_flags_exit_nonzero(tmp_path):
    import subprocess
    from conftest import BINARY
    p = subprocess.run([BINARY, "--fsync", "sometimes", "--dir", str(tmp_path / "x")], capture_output=True, timeout=10)
    assert p.returncode != 0 and b"fsync" in p.stderr


def test_time_and_shutdown(server):
    raw = server.raw()
    t = raw.call("TIME")
    assert len(t) == 2 and int(t[0]) > 1600000000
    raw.send(b"SHUTDOWN\r\n")
    assert raw.is_closed(5)
    assert server.proc.wait(10) == 0


def test_nothing_starts_after_shutdown(server):
    # Redis's SHUTDOWN exits there and then: what a client pipelined after it
    # does not run. A second SHUTDOWN must not force an exit that cuts an
    # EXEC's reply in the middle (fuzz_dispatch: the client got "*1" and no
    # element). Nothing after the first SHUTDOWN runs; the server exits 0.
    raw = server.raw()
    raw.send(b"SHUTDOWN\r\nSHUTDOWN\r\nMULTI\r\nXADD m * a 1\r\nEXEC\r\n")
    assert raw.read_all(5) == b"<CLOSED>"
    assert server.proc.wait(10) == 0
    server.start()
    assert server.client().exists("m") == 0

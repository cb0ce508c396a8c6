"""Projections (issue 5): Lua definitions folding events into SQLite read
models, PROJECTION.* commands, read-your-writes (QUERY ... AFTER), exactly
once across kill -9, background rebuild and switch-over, the sandbox, and
bad input that leaves the server serving."""
import json
import os
import threading
import time

import pytest
import redis

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BALANCES = open(os.path.join(ROOT, "examples", "projections", "balances.lua")).read()


def append(r, stream, *events, expected="ANY"):
    """events: (type, data) pairs; returns [last version, last position]."""
    args = ["ES.APPEND", stream, expected]
    for type_, data in events:
        args += ["EVENT", "*", type_, json.dumps(data)]
    return r.execute_command(*args)


def query(r, name, sql, *args):
    return r.execute_command("PROJECTION.QUERY", name, sql, *args)


def status(r, name):
    flat = r.execute_command("PROJECTION.STATUS", name)
    return dict(zip(flat[::2], flat[1::2]))


def wait_for(cond, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def seed_account(r, acct="account-1"):
    append(r, acct, ("AccountCreated", {"name": "Alice"}), expected="NOSTREAM")
    append(r, acct, ("MoneyDeposited", {"amount": 100}))
    return append(r, acct, ("MoneyWithdrawn", {"amount": 30}))


def counter_def(source="$all", extra=""):
    """A projection with one row per event (a primary key: applying an event
    twice would fail) and a running total."""
    return """
return {
  source = %s,
  init = function(db)
    db:exec("CREATE TABLE seen(id TEXT PRIMARY KEY, pos INTEGER)")
    db:exec("CREATE TABLE total(k INTEGER PRIMARY KEY, n INTEGER)")
    db:exec("INSERT INTO total VALUES(1, 0)")
  end,
  handlers = {
    Inc = function(db, e)
      %s
      db:exec("INSERT INTO seen VALUES(?, ?)", e.id, e.position)
      db:exec("UPDATE total SET n = n + ? WHERE k = 1", e.data.n)
    end,
  },
}
""" % (json.dumps(source), extra)


# ---------------------------------------------------------------- the example

def test_balances_read_your_writes(r):
    assert r.execute_command("PROJECTION.CREATE", "balances", BALANCES) == "created"
    _, pos = seed_account(r)
    rows = query(r, "balances", "SELECT id, name, balance FROM balances", "AFTER", pos)
    assert rows == [["account-1", "Alice", 70]]
    # every later write is visible to the query that waits for it
    for i in range(30):
        _, pos = append(r, "account-1", ("MoneyDeposited", {"amount": 1}))
        got = query(r, "balances", "SELECT balance FROM balances WHERE id = ?", "account-1",
                    "AFTER", pos)
        assert got == [[71 + i]]


def test_status_and_list(r):
    r.execute_command("PROJECTION.CREATE", "balances", BALANCES)
    _, pos = seed_account(r)
    query(r, "balances", "SELECT 1", "AFTER", pos)
    st = status(r, "balances")
    assert st["name"] == "balances" and st["source"] == "$ce-account"
    assert st["state"] == "running" and st["generation"] == 1
    assert st["position"] > pos and st["events"] == 3 and st["lag"] == 0
    assert st["last_error"] is None and st["rebuilding"] == 0
    assert float(st["events_per_sec"]) >= 0
    assert r.execute_command("PROJECTION.LIST") == [["balances", "running", st["position"]]]
    with pytest.raises(redis.ResponseError, match="^NOPROJECTION"):
        status(r, "nope")


def test_event_fields(r):
    """e has stream, version, position, id, type, data, meta, timestamp; an XADD
    entry's data is its field table."""
    defn = """
return {
  source = "$all",
  init = function(db) db:exec("CREATE TABLE ev(stream, version, position, id, type, data, meta, ts)") end,
  handlers = {
    T = function(db, e)
      db:exec("INSERT INTO ev VALUES(?, ?, ?, ?, ?, ?, ?, ?)", e.stream, e.version, e.position,
              e.id, e.type, json.encode(e.data), e.meta and json.encode(e.meta) or nil, e.timestamp)
    end,
  },
}"""
    r.execute_command("PROJECTION.CREATE", "ev", defn)
    eid = "00000000-0000-4000-8000-000000000001"
    v, pos = r.execute_command("ES.APPEND", "s-1", "ANY", "EVENT", eid, "T", '{"a":[1,2.5,null]}',
                               "META", '{"correlation_id":"c1"}')
    xid = r.xadd("x-1", {"f": "v"})
    r.execute_command("ES.APPEND", "s-2", "ANY", "EVENT", "*", "Other", "{}")
    end = r.execute_command("ES.APPEND", "s-2", "ANY", "EVENT", "*", "Other", "{}")[1]
    query(r, "ev", "SELECT 1", "AFTER", end)
    rows = query(r, "ev", "SELECT * FROM ev ORDER BY position")
    assert len(rows) == 1
    stream, version, position, id_, type_, data, meta, ts = rows[0]
    assert (stream, version, position, id_, type_) == ("s-1", v, pos, eid, "T")
    assert json.loads(data) == {"a": [1, 2.5, None]}
    assert json.loads(meta) == {"correlation_id": "c1"}
    assert abs(ts / 1000 - time.time()) < 60
    assert xid


def test_event_id_of_a_kept_event(r):
    """e.id is made when read; a table kept from an earlier call still gives
    its own event's id (looked up by position), and pairs(e) shows id only
    once it was read."""
    defn = """
local prev
return {
  source = "s-1",
  init = function(db) db:exec("CREATE TABLE ids(version, mine, previous, keys)") end,
  handlers = {
    T = function(db, e)
      local keys = {}
      for k in pairs(e) do keys[#keys + 1] = k end
      table.sort(keys)
      db:exec("INSERT INTO ids VALUES(?, ?, ?, ?)", e.version, e.id, prev and prev.id or nil,
              table.concat(keys, ","))
      prev = e
    end,
  },
}"""
    r.execute_command("PROJECTION.CREATE", "ids", defn)
    ids = ["00000000-0000-4000-8000-00000000000%d" % i for i in range(1, 4)]
    for i in ids:
        _, pos = r.execute_command("ES.APPEND", "s-1", "ANY", "EVENT", i, "T", "{}")
    rows = query(r, "ids", "SELECT version, mine, previous, keys FROM ids ORDER BY version",
                 "AFTER", pos)
    keys = "data,position,stream,timestamp,type,version"
    assert rows == [[0, ids[0], None, keys], [1, ids[1], ids[0], keys], [2, ids[2], ids[1], keys]]
    fold = r.execute_command("ES.FOLD", "s-1", "return {handlers = {T = function(s, e) s[#s + 1] = e.id end}}")
    assert json.loads(fold) == ids


def test_stream_source_and_xadd_fields(r):
    defn = """
return {
  source = "orders-7",
  init = function(db) db:exec("CREATE TABLE o(v INTEGER, f TEXT)") end,
  handlers = { ["*"] = function() end,
               Placed = function(db, e) db:exec("INSERT INTO o VALUES(?, ?)", e.version, e.data.item) end },
}"""
    r.execute_command("PROJECTION.CREATE", "orders", defn)
    append(r, "orders-8", ("Placed", {"item": "not mine"}))
    append(r, "orders-7", ("Placed", {"item": "a"}), ("Placed", {"item": "b"}))
    _, pos = append(r, "orders-7", ("Placed", {"item": "c"}))
    assert query(r, "orders", "SELECT v, f FROM o ORDER BY v", "AFTER", pos) == \
        [[0, "a"], [1, "b"], [2, "c"]]
    assert status(r, "orders")["lag"] == 0


# ---------------------------------------------------------------- QUERY

def test_query_values_and_args(server, r):
    r.execute_command("PROJECTION.CREATE", "balances", BALANCES)
    _, pos = seed_account(r)
    query(r, "balances", "SELECT 1", "AFTER", pos)
    b = server.client(decode_responses=False)
    assert query(b, "balances", "SELECT 1, 2.5, 'x', NULL, X'00ff'") == [[1, b"2.5", b"x", None, b"\x00\xff"]]
    b.close()
    assert query(r, "balances", "SELECT balance FROM balances WHERE balance > ? LIMIT ?", "10", "5") == [[70]]
    assert query(r, "balances", "SELECT count(*) FROM balances WHERE name = ?", "Bob") == [[0]]
    assert query(r, "balances", "SELECT ? || ?", "a", "AFTER") == [["aAFTER"]]
    assert query(r, "balances", "SELECT id FROM balances WHERE 0") == []


@pytest.mark.parametrize("sql", [
    "DELETE FROM balances",
    "UPDATE balances SET balance = 0",
    "INSERT INTO balances VALUES('x', 'y', 1)",
    "DROP TABLE balances",
    "CREATE TABLE t(a)",
    "PRAGMA journal_mode=DELETE",
    "ATTACH DATABASE '/tmp/mn-attack.db' AS a",
    "VACUUM INTO '/tmp/mn-attack.db'",
    "SELECT load_extension('/tmp/mn-attack.so')",
])
def test_query_refuses_writes(r, sql):
    r.execute_command("PROJECTION.CREATE", "balances", BALANCES)
    _, pos = seed_account(r)
    query(r, "balances", "SELECT 1", "AFTER", pos)
    with pytest.raises(redis.ResponseError) as e:
        query(r, "balances", sql)
    # -READONLY (redis-py: ReadOnlyError), or ATTACH refused by name
    assert isinstance(e.value, redis.exceptions.ReadOnlyError) or \
        "not authorized" in str(e.value), str(e.value)
    assert query(r, "balances", "SELECT balance FROM balances") == [[70]]
    assert not os.path.exists("/tmp/mn-attack.db")


def test_query_bad_sql(r):
    r.execute_command("PROJECTION.CREATE", "balances", BALANCES)
    with pytest.raises(redis.ResponseError, match="SQL error"):
        query(r, "balances", "SELEKT 1")
    with pytest.raises(redis.ResponseError, match="one statement"):
        query(r, "balances", "SELECT 1; DELETE FROM balances")
    with pytest.raises(redis.ResponseError, match="parameters"):
        query(r, "balances", "SELECT ?")
    with pytest.raises(redis.ResponseError, match="^NOPROJECTION"):
        query(r, "nope", "SELECT 1")
    with pytest.raises(redis.ResponseError, match="AFTER needs a number"):
        query(r, "balances", "SELECT 1", "AFTER", "x")
    assert r.ping()


def test_after_timeout(r):
    r.execute_command("PROJECTION.CREATE", "balances", BALANCES)
    t0 = time.time()
    with pytest.raises(redis.ResponseError, match="^TIMEOUT projection 'balances' has not applied"):
        query(r, "balances", "SELECT 1", "AFTER", 10 ** 12, "TIMEOUT", 150)
    assert 0.1 < time.time() - t0 < 3
    assert r.ping()


def test_after_waits_without_blocking_others(server, r):
    """A parked QUERY AFTER does not hold up other clients, and is answered
    as soon as the event it waits for is applied."""
    r.execute_command("PROJECTION.CREATE", "balances", BALANCES)
    append(r, "account-1", ("AccountCreated", {"name": "A"}))
    r.execute_command("PROJECTION.PAUSE", "balances")
    _, pos = append(r, "account-1", ("MoneyDeposited", {"amount": 5}))
    result = {}

    def waiter():
        c = server.client()
        result["rows"] = query(c, "balances", "SELECT balance FROM balances", "AFTER", pos,
                               "TIMEOUT", 10000)
        c.close()

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.3)
    assert r.ping()  # the loop is free
    assert "rows" not in result
    t0 = time.time()
    r.execute_command("PROJECTION.RESUME", "balances")
    th.join(15)
    assert result["rows"] == [[5]]
    assert time.time() - t0 < 2


# ---------------------------------------------------------------- bad definitions

@pytest.mark.parametrize("defn,msg", [
    ("return {", "unexpected symbol"),
    ("return 42", "must return a table"),
    ("return {source = 5, handlers = {}}", "source must be a string"),
    ("return {source = '$nope-x', handlers = {}}", "is not"),
    ("return {source = '$all'}", "handlers must be a table"),
    ("return {source = '$all', handlers = {X = 1}}", "handlers.X must be a function"),
    ("return {source = '$all', init = 1, handlers = {}}", "init must be a function"),
    ("error('boom')", "boom"),
    ("\x1bLua", "binary"),
    ("while true do end", "instruction budget"),
    ("local t = {} for i = 1, 1e9 do t[i] = i end", "memory budget"),
    ("return {source = '$all', handlers = {}, x = os.getenv('HOME')}", "global 'os'"),
])
def test_bad_definition(r, defn, msg):
    with pytest.raises(redis.ResponseError, match=msg):
        r.execute_command("PROJECTION.CREATE", "bad", defn)
    assert r.execute_command("PROJECTION.LIST") == []
    assert r.ping()


def test_definition_too_large(r):
    with pytest.raises(redis.ResponseError, match="at most 1048576 bytes"):
        r.execute_command("PROJECTION.CREATE", "big", "-- " + "x" * (1 << 20))


def test_status_resp3(server, r):
    r.execute_command("PROJECTION.CREATE", "balances", BALANCES)
    _, pos = seed_account(r)
    query(r, "balances", "SELECT 1", "AFTER", pos)
    raw = server.raw()
    raw.call("HELLO", "3")
    st = raw.call("PROJECTION.STATUS", "balances")
    assert st["state"] == "running" and st["events"] == 3 and isinstance(st["events_per_sec"], float)
    assert raw.call("PROJECTION.QUERY", "balances", "SELECT balance, 0.5 FROM balances") == [[70, 0.5]]
    raw.close()


def test_bad_name(r):
    for name in ["", "a b", "../x", "x" * 65, "a.b"]:
        with pytest.raises(redis.ResponseError, match="projection names"):
            r.execute_command("PROJECTION.CREATE", name, BALANCES)


# ---------------------------------------------------------------- the sandbox

def handler_def(body, name="T"):
    return """
return {
  source = "$all",
  init = function(db) db:exec("CREATE TABLE t(a)") end,
  handlers = { %s = function(db, e) %s end },
}""" % (name, body)


@pytest.mark.parametrize("body,msg", [
    ("os.execute('touch /tmp/mn-pwned')", "global 'os'"),
    ("io.open('/tmp/mn-pwned', 'w')", "global 'io'"),
    ("require('os')", "global 'require'"),
    ("load('return 1')()", "global 'load'"),
    ("dofile('/etc/passwd')", "global 'dofile'"),
    ("string.dump(function() end)", "field 'dump'"),
    ("debug.sethook()", "global 'debug'"),
    ("while true do end", "instruction budget"),
    ("while true do pcall(function() while true do end end) end", "instruction budget"),
    ("local t = {} for i = 1, 1e9 do t[i] = ('x'):rep(1000) .. i end", "memory budget"),
    ("local s = ('x'):rep(1e8)", "memory budget"),
    ("db:exec('INSERT INTO nope VALUES(1)')", "no such table: nope"),
    ("db:exec(\"ATTACH DATABASE '/tmp/mn-pwned' AS x\")", "not authorized"),
    ("db:exec('PRAGMA journal_mode=DELETE')", "not authorized"),
    ("db:exec('COMMIT')", "not authorized"),
    ("db:exec(\"VACUUM INTO '/tmp/mn-pwned'\")", "cannot VACUUM"),
    ("db:exec('UPDATE _mn_checkpoint SET next_position = 0')", "not authorized"),
    ("db:exec('INSERT INTO t VALUES(?)', {})", "cannot bind a table"),
    ("db:exec('INSERT INTO t VALUES(1); DELETE FROM t')", "one statement"),
    ("db:exec('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c')",
     "time budget"),
])
def test_handler_failure_stops_the_projection_only(r, body, msg):
    r.execute_command("PROJECTION.CREATE", "good", BALANCES)
    r.execute_command("PROJECTION.CREATE", "evil", handler_def(body))
    append(r, "x-1", ("Other", {}))
    _, bad_pos = append(r, "x-1", ("T", {}))
    st = wait_for(lambda: (lambda s: s if s["state"] == "failed" else None)(status(r, "evil")),
                  timeout=60, what="the projection to fail")
    assert msg in st["last_error"], st["last_error"]
    assert "handler T failed at position %d (stream x-1, version 1)" % bad_pos in st["last_error"]
    assert st["error_position"] == bad_pos
    assert st["position"] == bad_pos  # everything before it applied, not it
    assert not os.path.exists("/tmp/mn-pwned")
    # QUERY AFTER the failing event says so at once
    with pytest.raises(redis.ResponseError, match="^PROJECTIONFAILED"):
        query(r, "evil", "SELECT 1", "AFTER", bad_pos)
    # the server and the other projection go on
    _, pos = seed_account(r)
    assert query(r, "good", "SELECT balance FROM balances", "AFTER", pos) == [[70]]
    assert query(r, "evil", "SELECT count(*) FROM t") == [[0]]
    # RESUME retries the event (and fails again); DROP removes it
    assert r.execute_command("PROJECTION.RESUME", "evil") == "OK"
    wait_for(lambda: status(r, "evil")["state"] == "failed", timeout=60, what="failing again")
    assert r.execute_command("PROJECTION.DROP", "evil") == "OK"
    assert [p[0] for p in r.execute_command("PROJECTION.LIST")] == ["good"]


def test_init_failure(r):
    defn = "return {source = '$all', init = function(db) db:exec('CREATE TABLE') end, handlers = {}}"
    r.execute_command("PROJECTION.CREATE", "p", defn)
    st = wait_for(lambda: (lambda s: s if s["state"] == "failed" else None)(status(r, "p")),
                  what="init to fail")
    assert st["last_error"].startswith("init failed:") and "SQL error" in st["last_error"]


# ---------------------------------------------------------------- lifecycle

def test_pause_resume_and_restart(server, r):
    r.execute_command("PROJECTION.CREATE", "balances", BALANCES)
    _, pos = seed_account(r)
    query(r, "balances", "SELECT 1", "AFTER", pos)
    assert r.execute_command("PROJECTION.PAUSE", "balances") == "OK"
    _, pos = append(r, "account-1", ("MoneyDeposited", {"amount": 30}))
    with pytest.raises(redis.ResponseError, match="TIMEOUT"):
        query(r, "balances", "SELECT 1", "AFTER", pos, "TIMEOUT", 300)
    assert status(r, "balances")["state"] == "paused"
    assert query(r, "balances", "SELECT balance FROM balances") == [[70]]  # still answers
    # PAUSE is durable
    server.restart()
    r2 = server.client()
    assert status(r2, "balances")["state"] == "paused"
    assert r2.execute_command("PROJECTION.RESUME", "balances") == "OK"
    assert query(r2, "balances", "SELECT balance FROM balances", "AFTER", pos) == [[100]]
    # the read model survives a restart and catches up with what came after
    server.restart()
    r3 = server.client()
    _, pos = append(r3, "account-1", ("MoneyWithdrawn", {"amount": 1}))
    assert query(r3, "balances", "SELECT balance FROM balances", "AFTER", pos) == [[99]]
    assert status(r3, "balances")["events"] == 5


def test_drop(server, r):
    r.execute_command("PROJECTION.CREATE", "balances", BALANCES)
    _, pos = seed_account(r)
    query(r, "balances", "SELECT 1", "AFTER", pos)
    assert r.execute_command("PROJECTION.DROP", "balances") == "OK"
    with pytest.raises(redis.ResponseError, match="^NOPROJECTION"):
        query(r, "balances", "SELECT 1")
    with pytest.raises(redis.ResponseError, match="^NOPROJECTION"):
        r.execute_command("PROJECTION.DROP", "balances")
    assert os.listdir(os.path.join(server.dir, "projections")) == []
    server.restart()
    assert server.client().execute_command("PROJECTION.LIST") == []
    # the same name again starts from scratch
    r2 = server.client()
    r2.execute_command("PROJECTION.CREATE", "balances", BALANCES)
    _, pos = append(r2, "account-1", ("MoneyDeposited", {"amount": 1}))
    assert query(r2, "balances", "SELECT balance FROM balances", "AFTER", pos) == [[71]]


def test_create_same_definition_is_unchanged(r):
    assert r.execute_command("PROJECTION.CREATE", "balances", BALANCES) == "created"
    assert r.execute_command("PROJECTION.CREATE", "balances", BALANCES) == "unchanged"
    assert status(r, "balances")["generation"] == 1


@pytest.mark.server_args("--fsync", "never")
def test_rebuild_switch_over(r):
    """A new version builds in the background while the old one answers
    queries; then it takes over at once, and the old read model is gone."""
    n = 3000
    for i in range(0, n, 500):
        r.execute_command("ES.APPEND", "c-1", "ANY",
                          *sum((["EVENT", "*", "Inc", '{"n":1}'] for _ in range(500)), []))
    v1 = counter_def()
    r.execute_command("PROJECTION.CREATE", "count", v1)
    end = r.execute_command("ES.APPEND", "c-1", "ANY", "EVENT", "*", "Other", "{}")[1]
    assert query(r, "count", "SELECT n FROM total", "AFTER", end, "TIMEOUT", 30000) == [[n]]
    # v2: another table, and slow (a busy loop per event)
    v2 = counter_def(extra="local x = 0 for i = 1, 3000 do x = x + i end").replace(
        "total", "total2")
    assert r.execute_command("PROJECTION.CREATE", "count", v2) == "rebuilding"
    st = status(r, "count")
    assert st["rebuilding"] == 1 and st["generation"] == 1 and st["next_generation"] == 2
    saw_old_while_building = 0
    deadline = time.time() + 60
    while time.time() < deadline:
        st = status(r, "count")
        if st["generation"] == 2:
            break
        # the old model answers every query, whole, meanwhile (unless the
        # switch happened between the STATUS and the query: then the new
        # one answers, which has no table "total")
        try:
            assert query(r, "count", "SELECT n FROM total") == [[n]]
        except redis.ResponseError as e:
            assert "no such table: total" in str(e)
            assert status(r, "count")["generation"] == 2
            continue
        saw_old_while_building += 1
        time.sleep(0.01)
    assert st["generation"] == 2 and st["rebuilding"] == 0
    assert saw_old_while_building > 0
    assert query(r, "count", "SELECT n FROM total2") == [[n]]
    with pytest.raises(redis.ResponseError, match="no such table: total"):
        query(r, "count", "SELECT n FROM total")
    # RESET: a third generation with the same definition
    assert r.execute_command("PROJECTION.RESET", "count") == "OK"
    wait_for(lambda: status(r, "count")["generation"] == 3, timeout=60, what="RESET to switch")
    assert query(r, "count", "SELECT n FROM total2") == [[n]]


def test_rebuild_survives_restart(server, r):
    r.execute_command("PROJECTION.CREATE", "p", counter_def())
    _, pos = append(r, "c-1", ("Inc", {"n": 2}))
    query(r, "p", "SELECT 1", "AFTER", pos)
    r.execute_command("PROJECTION.PAUSE", "p")  # the next version builds only after RESUME
    r.execute_command("PROJECTION.CREATE", "p", counter_def().replace("total", "t2"))
    assert status(r, "p")["rebuilding"] == 1
    server.restart()
    r2 = server.client()
    st = status(r2, "p")
    assert st["rebuilding"] == 1 and st["generation"] == 1 and st["state"] == "paused"
    r2.execute_command("PROJECTION.RESUME", "p")
    wait_for(lambda: status(r2, "p")["generation"] == 2, what="the switch")
    assert query(r2, "p", "SELECT n FROM t2", "AFTER", pos) == [[2]]
    # the old generation's files go once its thread has stopped
    pdir = os.path.join(server.dir, "projections")
    wait_for(lambda: [f for f in sorted(os.listdir(pdir)) if f.endswith(".db")] == ["p.2.db"],
             what="the old read model to be removed")


def test_projections_dir(tmp_path):
    from conftest import ServerProc
    pdir = tmp_path / "defs"
    pdir.mkdir()
    (pdir / "balances.lua").write_text(BALANCES)
    (pdir / "broken.lua").write_text("return {")
    srv = ServerProc(tmp_path / "data", ["--projections", str(pdir)]).start()
    try:
        r = srv.client()
        assert [p[0] for p in r.execute_command("PROJECTION.LIST")] == ["balances"]
        assert "broken.lua" in srv.read_log()
        _, pos = seed_account(r)
        assert query(r, "balances", "SELECT balance FROM balances", "AFTER", pos) == [[70]]
        # a changed file is a new version at the next start
        (pdir / "balances.lua").write_text(BALANCES.replace("balance - ?", "balance - 2 * ?"))
        srv.restart()
        r = srv.client()
        wait_for(lambda: status(r, "balances")["generation"] == 2, what="the new version")
        assert query(r, "balances", "SELECT balance FROM balances") == [[40]]
        srv.restart()  # unchanged now
        assert status(srv.client(), "balances")["generation"] == 2
    finally:
        assert srv.stop() == 0


# ---------------------------------------------------------------- exactly once

def kill9(server):
    server.proc.kill()
    server.proc.wait()
    server.proc = None
    server.log.close()


@pytest.mark.server_args("--fsync", "always")
def test_exactly_once_under_kill9(server, r):
    """Many events, kill -9 while the projection is mid-way (several times),
    restart: every event applied once (a primary key per event would fail a
    second application), none skipped, the total exact."""
    n, per = 12000, 400
    expect = 0
    for i in range(0, n, per):
        args = []
        for k in range(per):
            args += ["EVENT", "*", "Inc", '{"n":%d}' % ((i + k) % 7 + 1)]
            expect += (i + k) % 7 + 1
        end = r.execute_command("ES.APPEND", "c-%d" % (i % 5), "ANY", *args)[1]
    # slow enough per event that a kill lands mid-way
    r.execute_command("PROJECTION.CREATE", "p", counter_def(extra="local x = 0 for i = 1, 2000 do x = x + i end"))
    kills = midway = 0
    for cycle in range(4):
        c = server.client()
        wait_for(lambda: status(c, "p")["events"] > 0 or None, timeout=30, what="progress")
        time.sleep(0.05 * (cycle + 1))
        before = status(c, "p")["events"]
        c.close()
        kill9(server)
        kills += 1
        midway += 0 < before < n
        server.start()
        if before >= n:
            break
    c = server.client()
    rows = query(c, "p", "SELECT n FROM total", "AFTER", end, "TIMEOUT", 60000)
    assert rows == [[expect]]
    assert query(c, "p", "SELECT count(*) FROM seen") == [[n]]
    st = status(c, "p")
    assert st["state"] == "running" and st["events"] == n and st["lag"] == 0
    assert kills >= 2 and midway >= 1


@pytest.mark.server_args("--fsync", "always")
def test_exactly_once_kill9_with_appends_in_flight(server, r):
    """kill -9 while writers append and the projection applies: after the
    restart the read model matches the store exactly (counted against the
    type view, summed by ES.FOLD over each stream)."""
    r.execute_command("PROJECTION.CREATE", "p", counter_def(source="$et-Inc"))
    streams = ["c-%d" % i for i in range(4)]
    for cycle in range(3):
        stop = threading.Event()

        def writer(stream):
            c = server.client(socket_timeout=5)
            k = 0
            try:
                while not stop.is_set():
                    c.execute_command("ES.APPEND", stream, "ANY",
                                      *sum((["EVENT", "*", "Inc", '{"n":%d}' % (k % 5 + 1)]
                                            for _ in range(20)), []))
                    k += 1
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                pass
            finally:
                c.close()

        threads = [threading.Thread(target=writer, args=(s_,)) for s_ in streams]
        for th in threads:
            th.start()
        time.sleep(0.4)
        kill9(server)
        stop.set()
        for th in threads:
            th.join(10)
        server.start()
    c = server.client()
    total = c.xlen("$et-Inc")
    end = c.execute_command("ES.APPEND", "z", "ANY", "EVENT", "*", "Inc", '{"n":0}')[1]
    assert query(c, "p", "SELECT count(*) FROM seen", "AFTER", end, "TIMEOUT", 60000) == [[total + 1]]
    reducer = "return {init = function() return {n = 0} end, handlers = {Inc = function(s, e) s.n = s.n + e.data.n end}}"
    expect = sum(json.loads(c.execute_command("ES.FOLD", s_, reducer))["n"] for s_ in streams)
    assert query(c, "p", "SELECT n FROM total") == [[expect]]
    assert total > 0 and status(c, "p")["state"] == "running"


# ---------------------------------------------------------------- isolation

@pytest.mark.server_args("--fsync", "never")
def test_slow_projection_does_not_delay_appends(r):
    slow = counter_def(extra="local x = 0 for i = 1, 1000000 do x = x + i end")
    r.execute_command("PROJECTION.CREATE", "slow", slow)
    worst = 0.0
    for i in range(200):
        t0 = time.time()
        append(r, "c-1", ("Inc", {"n": 1}))
        r.execute_command("ES.READ", "c-1", "0", "COUNT", "1") if False else r.ping()
        worst = max(worst, time.time() - t0)
    st = status(r, "slow")
    assert st["lag"] > 0, "the projection should be behind: it is slow"
    assert worst < 0.5, "an append waited %.3fs" % worst


# ---------------------------------------------------------------- ES.FOLD (time travel)

REDUCER = """
return {
  init = function() return {balance = 0, history = {}} end,
  handlers = {
    AccountCreated = function(s, e) s.name = e.data.name end,
    MoneyDeposited = function(s, e) s.balance = s.balance + e.data.amount; s.history[#s.history + 1] = e.version end,
    MoneyWithdrawn = function(s, e) return {balance = s.balance - e.data.amount, name = s.name, history = s.history} end,
  },
}"""


def test_es_fold_time_travel(r):
    seed_account(r)
    fold = lambda *a: json.loads(r.execute_command("ES.FOLD", "account-1", REDUCER, *a))
    assert fold() == {"balance": 70, "name": "Alice", "history": [1]}
    assert fold("UNTIL", 1) == {"balance": 100, "name": "Alice", "history": [1]}
    assert fold("UNTIL", 0) == {"balance": 0, "name": "Alice", "history": {}}  # an empty table is {}
    assert fold("UNTIL", 99) == fold()
    # a stream with no events: the initial state
    assert json.loads(r.execute_command("ES.FOLD", "account-9", REDUCER)) == {"balance": 0, "history": {}}
    assert json.loads(r.execute_command("ES.FOLD", "account-1", "return {handlers = {}}")) == {}


@pytest.mark.parametrize("reducer,args,msg", [
    ("return {", [], "bad reducer"),
    ("return {handlers = {MoneyDeposited = function(s, e) while true do end end}}", [],
     "instruction budget"),
    ("return {handlers = {MoneyDeposited = function(s, e) os.exit(1) end}}", [], "global 'os'"),
    ("return {handlers = {MoneyDeposited = function(s, e) return function() end end}}", [],
     "cannot encode"),
    ("return {handlers = {}}", ["UNTIL", "-1"], "UNTIL needs a version"),
    ("return {handlers = {}}", ["UNTIL"], "syntax error"),
])
def test_es_fold_errors(r, reducer, args, msg):
    seed_account(r)
    with pytest.raises(redis.ResponseError, match=msg):
        r.execute_command("ES.FOLD", "account-1", reducer, *args)
    with pytest.raises(redis.ResponseError, match="virtual streams"):
        r.execute_command("ES.FOLD", "$ce-account", "return {handlers = {}}")
    assert r.ping()

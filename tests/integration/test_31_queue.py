"""Work-queue policies (QUEUE.POLICY) and dead letters (QUEUE.REPLAY),
through python3-redis against the real server.

  - a pending entry older than VISIBILITY goes again to the next
    XREADGROUP '>' of its group (any consumer), before new entries, with its
    delivery count raised;
  - after MAXDELIVER deliveries it moves to the DEADLETTER stream (fields in
    the agreed order) and leaves the group's PEL, atomically;
  - QUEUE.REPLAY puts dead letters back on their source streams;
  - policies and dead letters survive a restart and kill -9 (fsync always).
"""
import signal
import threading
import time

import pytest
import redis

from conftest import ServerProc

DLQ_KEYS = ["dlq-source", "dlq-id", "dlq-group", "dlq-deliveries", "dlq-consumer", "dlq-reason"]


def fields_list(r, key):
    """XRANGE as [(id, [f, v, f, v...])] keeping the field order: the reply
    without redis-py's XRANGE callback, which makes a dict of the fields."""
    plain = redis.Redis(connection_pool=r.connection_pool)
    del plain.response_callbacks["XRANGE"]
    return [(e[0], list(e[1])) for e in plain.execute_command("XRANGE", key, "-", "+")]


def pel(r, key, group):
    return [(p["message_id"], p["consumer"], p["times_delivered"])
            for p in r.xpending_range(key, group, "-", "+", 100)]


def policy(r, key, group):
    flat = r.execute_command("QUEUE.POLICY", key, group)
    return dict(zip(flat[0::2], flat[1::2]))


def setup_queue(r, n=3, key="jobs", group="workers"):
    for i in range(1, n + 1):
        r.xadd(key, {"job": str(i)}, id="%d-0" % i)
    r.xgroup_create(key, group, id="0")


def read(r, consumer, count=None, key="jobs", group="workers", block=None):
    res = r.xreadgroup(group, consumer, {key: ">"}, count=count, block=block)
    if not res:
        return []
    return [(eid, f) for eid, f in res[0][1]]


# ---------------------------------------------------------------- policy show / set


def test_policy_unset_shows_zeros_and_nil(r):
    setup_queue(r)
    assert policy(r, "jobs", "workers") == {"visibility": 0, "maxdeliver": 0, "deadletter": None}


def test_policy_set_show_partial_update_and_clear(r):
    setup_queue(r)
    assert r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "5000") == "OK"
    assert policy(r, "jobs", "workers") == {"visibility": 5000, "maxdeliver": 0, "deadletter": None}
    assert r.execute_command("QUEUE.POLICY", "jobs", "workers", "MAXDELIVER", "3",
                             "DEADLETTER", "jobs-dlq") == "OK"
    # options not given keep their value
    assert policy(r, "jobs", "workers") == {"visibility": 5000, "maxdeliver": 3,
                                            "deadletter": "jobs-dlq"}
    # option names are case-insensitive; the last of a repeated option wins
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "visibility", "1", "VISIBILITY", "250")
    assert policy(r, "jobs", "workers")["visibility"] == 250
    # VISIBILITY 0 = off, MAXDELIVER 0 = unlimited, DEADLETTER "" = none
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "0")
    assert policy(r, "jobs", "workers") == {"visibility": 0, "maxdeliver": 3,
                                            "deadletter": "jobs-dlq"}
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "MAXDELIVER", "0", "DEADLETTER", "")
    assert policy(r, "jobs", "workers") == {"visibility": 0, "maxdeliver": 0, "deadletter": None}


def test_policy_resp3_is_a_map(server):
    c = server.raw()
    try:
        c.call("HELLO", "3")
        c.call("XADD", "jobs", "1-0", "a", "1")
        c.call("XGROUP", "CREATE", "jobs", "workers", "0")
        c.call("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "100")
        got = c.call("QUEUE.POLICY", "jobs", "workers")
        assert isinstance(got, dict), got
        assert got == {"visibility": 100, "maxdeliver": 0, "deadletter": None}
    finally:
        c.close()


def test_policy_is_per_group_and_goes_with_the_group(r):
    setup_queue(r)
    r.xgroup_create("jobs", "other", id="0")
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "100")
    assert policy(r, "jobs", "other")["visibility"] == 0
    r.xgroup_destroy("jobs", "workers")
    r.xgroup_create("jobs", "workers", id="0")
    # a group created again is a new group: no policy (as Redis forgets a
    # destroyed group's state)
    assert policy(r, "jobs", "workers")["visibility"] == 0


def test_policy_errors(r):
    setup_queue(r)
    before = policy(r, "jobs", "workers")
    errors = [
        (("QUEUE.POLICY", "jobs", "nope", "VISIBILITY", "10"), "NOGROUP"),
        (("QUEUE.POLICY", "jobs", "nope"), "NOGROUP"),
        (("QUEUE.POLICY", "missing", "workers", "VISIBILITY", "10"), "NOGROUP"),
        (("QUEUE.POLICY", "missing", "workers"), "NOGROUP"),
        (("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "-1"), "non-negative integer"),
        (("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "abc"), "non-negative integer"),
        (("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "1.5"), "non-negative integer"),
        (("QUEUE.POLICY", "jobs", "workers", "MAXDELIVER", "-3"), "non-negative integer"),
        (("QUEUE.POLICY", "jobs", "workers", "MAXDELIVER", "99999999999999999999"),
         "non-negative integer"),
        (("QUEUE.POLICY", "jobs", "workers", "VISIBILITY"), "syntax error"),
        (("QUEUE.POLICY", "jobs", "workers", "BOGUS", "1"), "syntax error"),
        (("QUEUE.POLICY", "jobs", "workers", "MAXDELIVER", "3"), "needs a DEADLETTER"),
        (("QUEUE.POLICY", "jobs", "workers", "DEADLETTER", "$all"), "virtual"),
        (("QUEUE.POLICY", "jobs", "workers", "DEADLETTER", "$ce-jobs"), "virtual"),
        (("QUEUE.POLICY", "jobs", "workers", "MAXDELIVER", "2", "DEADLETTER", "jobs"),
         "own stream"),
        (("QUEUE.POLICY", "jobs"), "wrong number of arguments"),
        (("QUEUE.POLICY",), "wrong number of arguments"),
    ]
    for args, text in errors:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert text in str(e.value), (args, str(e.value))
    # nothing changed, and the failed calls wrote nothing
    assert policy(r, "jobs", "workers") == before
    # clearing the dead-letter stream while MAXDELIVER needs it is refused too
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "MAXDELIVER", "2", "DEADLETTER", "d")
    with pytest.raises(redis.ResponseError, match="needs a DEADLETTER"):
        r.execute_command("QUEUE.POLICY", "jobs", "workers", "DEADLETTER", "")
    assert policy(r, "jobs", "workers") == {"visibility": 0, "maxdeliver": 2, "deadletter": "d"}


def test_replay_errors(r):
    for args, text in [
        (("QUEUE.REPLAY",), "wrong number of arguments"),
        (("QUEUE.REPLAY", "d", "COUNT"), "syntax error"),
        (("QUEUE.REPLAY", "d", "LIMIT", "3"), "syntax error"),
        (("QUEUE.REPLAY", "d", "COUNT", "0"), "positive integer"),
        (("QUEUE.REPLAY", "d", "COUNT", "-1"), "positive integer"),
        (("QUEUE.REPLAY", "d", "COUNT", "x"), "positive integer"),
        (("QUEUE.REPLAY", "$all"), "virtual"),
    ]:
        with pytest.raises(redis.ResponseError) as e:
            r.execute_command(*args)
        assert text in str(e.value), (args, str(e.value))
    # a missing dead-letter stream has nothing to replay
    assert r.execute_command("QUEUE.REPLAY", "nothing-here") == 0


# ---------------------------------------------------------------- redelivery


def test_no_redelivery_without_visibility(r):
    setup_queue(r, 2)
    assert [e for e, _ in read(r, "alice", count=1)] == ["1-0"]
    time.sleep(0.15)
    assert [e for e, _ in read(r, "bob")] == ["2-0"]
    assert read(r, "bob") == []
    assert pel(r, "jobs", "workers") == [("1-0", "alice", 1), ("2-0", "bob", 1)]


def test_visibility_redelivers_before_new_entries(r):
    setup_queue(r, 3)
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "500")
    assert [e for e, _ in read(r, "alice", count=1)] == ["1-0"]
    # not yet due: the next reader gets the next new entry
    assert [e for e, _ in read(r, "bob", count=1)] == ["2-0"]
    time.sleep(0.6)
    r.xadd("jobs", {"job": "4"}, id="4-0")
    # both are due: they come first, to whoever asks, then new entries
    got = read(r, "carol", count=3)
    assert [e for e, _ in got] == ["1-0", "2-0", "3-0"]
    assert got[0][1] == {"job": "1"}
    assert pel(r, "jobs", "workers") == [("1-0", "carol", 2), ("2-0", "carol", 2),
                                         ("3-0", "carol", 1)]
    # the consumer that got them now holds them (XINFO CONSUMERS pending)
    cons = {c["name"]: c["pending"] for c in r.xinfo_consumers("jobs", "workers")}
    assert cons == {"alice": 0, "bob": 0, "carol": 3}
    assert [e for e, _ in read(r, "dave")] == ["4-0"]


def test_redelivery_counts_against_count_and_acked_entries_stay_done(r):
    setup_queue(r, 4)
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "400")
    assert [e for e, _ in read(r, "alice", count=3)] == ["1-0", "2-0", "3-0"]
    assert r.xack("jobs", "workers", "2-0") == 1
    time.sleep(0.5)
    assert [e for e, _ in read(r, "bob", count=1)] == ["1-0"]
    assert [e for e, _ in read(r, "bob", count=5)] == ["3-0", "4-0"]
    assert pel(r, "jobs", "workers") == [("1-0", "bob", 2), ("3-0", "bob", 2), ("4-0", "bob", 1)]


def test_redelivery_drops_deleted_entries(r):
    setup_queue(r, 2)
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "100")
    read(r, "alice")
    r.xdel("jobs", "1-0")
    time.sleep(0.2)
    assert [e for e, _ in read(r, "bob")] == ["2-0"]
    assert pel(r, "jobs", "workers") == [("2-0", "bob", 2)]


def test_blocked_reader_gets_redelivery_without_new_writes(r, server):
    setup_queue(r, 1)
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "300")
    assert [e for e, _ in read(r, "alice")] == ["1-0"]
    other = server.client()
    t0 = time.time()
    got = read(other, "bob", block=5000)
    waited = time.time() - t0
    other.close()
    assert [e for e, _ in got] == ["1-0"]
    assert 0.15 < waited < 2.0, waited
    assert pel(r, "jobs", "workers") == [("1-0", "bob", 2)]


def test_reader_parked_before_the_policy_is_set(r, server):
    setup_queue(r, 1)
    assert [e for e, _ in read(r, "alice")] == ["1-0"]
    time.sleep(0.3)
    out = {}

    def blocked():
        c = server.client()
        t0 = time.time()
        out["got"] = read(c, "bob", block=4000)
        out["waited"] = time.time() - t0
        c.close()

    t = threading.Thread(target=blocked)
    t.start()
    time.sleep(0.3)
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "200")
    t.join(10)
    assert [e for e, _ in out["got"]] == ["1-0"]
    assert out["waited"] < 2.0, out["waited"]


def test_two_blocked_readers_the_second_gets_the_unacked_entry(r, server):
    """Both park while nothing is pending; one gets the new entry and never
    acks it; the other, still parked, gets it once it is due."""
    r.xgroup_create("jobs", "workers", id="$", mkstream=True)
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "300")
    got = {}

    def blocked(name):
        c = server.client()
        got[name] = (read(c, name, block=5000), time.time())
        c.close()

    ts = [threading.Thread(target=blocked, args=(n,)) for n in ("alice", "bob")]
    for t in ts:
        t.start()
    time.sleep(0.3)
    t0 = time.time()
    r.xadd("jobs", {"job": "1"}, id="1-0")
    for t in ts:
        t.join(10)
    assert sorted(e for v, _ in got.values() for e, _ in v) == ["1-0", "1-0"]
    first, second = sorted(got.values(), key=lambda v: v[1])
    # the second gets it once due (300 ms after the first got it), not before
    assert second[1] - first[1] > 0.2 and second[1] - t0 < 3.0, (first[1] - t0, second[1] - t0)
    assert [p[2] for p in pel(r, "jobs", "workers")] == [2]


def test_xreadgroup_noack_takes_due_entries_out_of_the_pel(r):
    setup_queue(r, 2)
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "100")
    read(r, "alice", count=1)
    time.sleep(0.2)
    res = r.xreadgroup("workers", "bob", {"jobs": ">"}, noack=True)
    assert [e for e, _ in res[0][1]] == ["1-0", "2-0"]
    assert pel(r, "jobs", "workers") == []


# ---------------------------------------------------------------- dead letters


def test_maxdeliver_moves_to_dead_letter_stream(r):
    r.xadd("jobs", {"job": "poison", "attempt": "x"}, id="1-0")
    r.xadd("jobs", {"job": "ok"}, id="2-0")
    r.xgroup_create("jobs", "workers", id="0")
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "100", "MAXDELIVER", "2",
                      "DEADLETTER", "jobs-dlq")
    assert [e for e, _ in read(r, "alice", count=1)] == ["1-0"]       # delivery 1
    time.sleep(0.15)
    assert [e for e, _ in read(r, "bob", count=1)] == ["1-0"]         # delivery 2
    assert pel(r, "jobs", "workers") == [("1-0", "bob", 2)]
    time.sleep(0.15)
    # due again after 2 deliveries: dead-lettered, and the reader gets the next entry
    assert [e for e, _ in read(r, "carol")] == ["2-0"]
    assert pel(r, "jobs", "workers") == [("2-0", "carol", 1)]
    dl = fields_list(r, "jobs-dlq")
    assert len(dl) == 1
    assert dl[0][1] == ["dlq-source", "jobs", "dlq-id", "1-0", "dlq-group", "workers",
                        "dlq-deliveries", "2", "dlq-consumer", "bob", "dlq-reason", "maxdeliver",
                        "job", "poison", "attempt", "x"]
    summary = r.xpending("jobs", "workers")
    assert summary["pending"] == 1
    # the dead-letter stream is an ordinary stream: it can have its own groups
    r.xgroup_create("jobs-dlq", "ops", id="0")
    assert len(read(r, "human", key="jobs-dlq", group="ops")) == 1


def test_maxdeliver_one_dead_letters_on_first_timeout(r):
    setup_queue(r, 1)
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "100", "MAXDELIVER", "1",
                      "DEADLETTER", "dl")
    read(r, "alice")
    time.sleep(0.15)
    assert read(r, "alice") == []
    assert pel(r, "jobs", "workers") == []
    assert r.xlen("dl") == 1
    assert fields_list(r, "dl")[0][1][:12:2] == DLQ_KEYS


def test_dead_letter_of_non_field_event(r):
    """An ES.APPEND event has no field list: its dead letter carries the
    fields the X* commands show for it (id, type, data, meta)."""
    r.execute_command("ES.APPEND", "orders", "ANY", "EVENT", "*", "OrderPlaced", '{"n":1}',
                      "META", '{"correlation_id":"c-1"}')
    r.xgroup_create("orders", "g", id="0")
    r.execute_command("QUEUE.POLICY", "orders", "g", "VISIBILITY", "50", "MAXDELIVER", "1",
                      "DEADLETTER", "orders-dlq")
    shown = r.xrange("orders")[0][1]
    read(r, "c", key="orders", group="g")
    time.sleep(0.1)
    read(r, "c", key="orders", group="g")
    dl = fields_list(r, "orders-dlq")
    assert dl[0][1][:12:2] == DLQ_KEYS
    body = dl[0][1][12:]
    assert dict(zip(body[0::2], body[1::2])) == shown


def test_replay_puts_dead_letters_back(r):
    setup_queue(r, 3)
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "100", "MAXDELIVER", "1",
                      "DEADLETTER", "dl")
    read(r, "alice", count=2)                      # 1-0 and 2-0
    time.sleep(0.15)
    assert [e for e, _ in read(r, "bob")] == ["3-0"]  # 1, 2 dead-lettered
    assert r.xlen("dl") == 2
    r.xadd("dl", {"note": "not a dead letter"})
    top = r.xinfo_stream("jobs")["last-generated-id"]
    assert r.execute_command("QUEUE.REPLAY", "dl", "COUNT", "1") == 1
    entries = r.xrange("jobs", "(" + top, "+")
    assert [f for _, f in entries] == [{"job": "1"}]
    assert r.execute_command("QUEUE.REPLAY", "dl") == 1
    entries = r.xrange("jobs", "(" + top, "+")
    assert [f for _, f in entries] == [{"job": "1"}, {"job": "2"}]
    # only the entry that is not a dead letter is left
    assert [f for _, f in r.xrange("dl")] == [{"note": "not a dead letter"}]
    assert r.execute_command("QUEUE.REPLAY", "dl") == 0
    # replayed entries are new entries: the group delivers them again
    got = read(r, "carol")
    assert [f for _, f in got] == [{"job": "1"}, {"job": "2"}]


def test_replay_to_several_sources_and_a_deleted_source(r):
    for key in ("a", "b"):
        r.xadd(key, {"k": key})
        r.xgroup_create(key, "g", id="0")
        r.execute_command("QUEUE.POLICY", key, "g", "VISIBILITY", "50", "MAXDELIVER", "1",
                          "DEADLETTER", "dl")
        read(r, "c", key=key, group="g")
    time.sleep(0.1)
    for key in ("a", "b"):
        read(r, "c", key=key, group="g")
    assert r.xlen("dl") == 2
    r.delete("b")  # a soft-deleted source starts again as a new stream
    assert r.execute_command("QUEUE.REPLAY", "dl") == 2
    assert [f for _, f in r.xrange("a")][-1] == {"k": "a"}
    assert [f for _, f in r.xrange("b")] == [{"k": "b"}]
    assert r.xlen("dl") == 0


def test_dead_letter_stream_tombstoned_keeps_entries_pending(r):
    setup_queue(r, 1)
    r.xadd("dl", {"x": "1"})
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "50", "MAXDELIVER", "1",
                      "DEADLETTER", "dl")
    r.execute_command("ES.DELETE", "dl")
    read(r, "alice")
    time.sleep(0.1)
    assert read(r, "alice") == []
    assert pel(r, "jobs", "workers") == [("1-0", "alice", 1)]
    with pytest.raises(redis.ResponseError, match="deleted"):
        r.execute_command("QUEUE.POLICY", "jobs", "workers", "DEADLETTER", "dl")


def test_competing_consumers_each_entry_once(server):
    """Many consumers, a visibility timeout: every entry is either acked
    exactly once or dead-lettered, never lost."""
    r = server.client()
    n = 60
    for i in range(n):
        r.xadd("q", {"i": str(i)})
    r.xgroup_create("q", "g", id="0")
    # a good job is acked well within the visibility timeout, even on a
    # loaded machine; a poison one is never acked
    r.execute_command("QUEUE.POLICY", "q", "g", "VISIBILITY", "300", "MAXDELIVER", "2",
                      "DEADLETTER", "q-dl")
    done, lock = [], threading.Lock()

    def worker(name):
        c = server.client()
        idle = 0
        while idle < 6:
            res = c.xreadgroup("g", name, {"q": ">"}, count=3, block=100)
            if not res:
                idle += 1
                continue
            idle = 0
            for eid, f in res[0][1]:
                if int(f["i"]) % 10 == 7:
                    continue  # poison: never acked
                if c.xack("q", "g", eid) == 1:
                    with lock:
                        done.append(f["i"])
        c.close()

    ts = [threading.Thread(target=worker, args=("w%d" % k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(60)
    poison = {str(i) for i in range(n) if i % 10 == 7}
    assert sorted(done, key=int) == [str(i) for i in range(n) if str(i) not in poison]
    dead = [dict(zip(f[12::2], f[13::2])) for _, f in fields_list(r, "q-dl")]
    assert sorted((d["i"] for d in dead), key=int) == sorted(poison, key=int)
    assert r.xpending("q", "g")["pending"] == 0
    r.close()


# ---------------------------------------------------------------- durability


def dead_letter_state(r):
    r.xadd("jobs", {"job": "1"}, id="1-0")
    r.xadd("jobs", {"job": "2"}, id="2-0")
    r.xgroup_create("jobs", "workers", id="0")
    r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "100", "MAXDELIVER", "1",
                      "DEADLETTER", "dl")
    read(r, "alice", count=1)
    time.sleep(0.15)
    assert [e for e, _ in read(r, "bob")] == ["2-0"]
    return fields_list(r, "dl")


def check_after_restart(r, dl):
    assert policy(r, "jobs", "workers") == {"visibility": 100, "maxdeliver": 1, "deadletter": "dl"}
    assert fields_list(r, "dl") == dl
    assert pel(r, "jobs", "workers") == [("2-0", "bob", 1)]
    # the policy still acts after the restart
    time.sleep(0.15)
    assert read(r, "carol") == []
    assert r.xlen("dl") == 2
    assert pel(r, "jobs", "workers") == []


def test_policy_and_dead_letters_survive_restart(server):
    r = server.client()
    dl = dead_letter_state(r)
    r.close()
    server.restart()
    r = server.client()
    check_after_restart(r, dl)
    assert r.execute_command("QUEUE.REPLAY", "dl") == 2
    r.close()
    server.restart()
    r = server.client()
    assert r.xlen("dl") == 0
    assert [f for _, f in r.xrange("jobs", "3", "+")] == [{"job": "1"}, {"job": "2"}]
    r.close()


def kill9(srv):
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait()
    srv.proc = None
    srv.log.close()
    srv.start()


def test_policy_and_dead_letters_survive_kill9(tmp_path):
    srv = ServerProc(tmp_path / "data", ["--fsync", "always"]).start()
    try:
        r = srv.client()
        dl = dead_letter_state(r)
        r.close()
        kill9(srv)
        r = srv.client()
        check_after_restart(r, dl)
        # an acknowledged policy change and replay are there after kill -9
        r.execute_command("QUEUE.POLICY", "jobs", "workers", "VISIBILITY", "0")
        assert r.execute_command("QUEUE.REPLAY", "dl", "COUNT", "1") == 1
        r.close()
        kill9(srv)
        r = srv.client()
        assert policy(r, "jobs", "workers")["visibility"] == 0
        assert r.xlen("dl") == 1
        assert [f for _, f in r.xrange("jobs", "3", "+")] == [{"job": "1"}]
        r.close()
    finally:
        rc = srv.stop()
    assert rc == 0, srv.read_log()


def test_reindex_rebuilds_policies(tmp_path):
    """Policies are derived state: a store whose index is removed gets them
    back from the log."""
    import shutil
    srv = ServerProc(tmp_path / "data", []).start()
    try:
        r = srv.client()
        dl = dead_letter_state(r)
        r.close()
        assert srv.stop() == 0
        shutil.rmtree(str(tmp_path / "data" / "index"))
        srv.start()
        r = srv.client()
        check_after_restart(r, dl)
        r.close()
    finally:
        rc = srv.stop()
    assert rc == 0, srv.read_log()

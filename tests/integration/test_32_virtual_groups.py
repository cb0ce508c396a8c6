"""Consumer groups on virtual streams ($all, $ce-<category>, $et-<type>):
persistent subscriptions. Entry ids are <position>-0; the group's state
(last-delivered id, PEL, consumers) is durable like any group's, across a
clean restart and kill -9 with --fsync always. Through python3-redis.
"""
import signal
import threading
import time

import pytest
import redis

from conftest import ServerProc


def append(r, stream, etype, data="{}"):
    """ES.APPEND one event; returns its virtual id <position>-0."""
    _, pos = r.execute_command("ES.APPEND", stream, "ANY", "EVENT", "*", etype, data)
    return "%d-0" % pos


def ids_of(reply):
    """The entry ids of an XREADGROUP reply (one stream)."""
    if not reply:
        return []
    assert len(reply) == 1
    return [e[0] for e in reply[0][1]]


def read_new(r, stream, group, consumer, count=None, noack=False):
    return ids_of(r.xreadgroup(group, consumer, {stream: ">"}, count=count, noack=noack))


def mixed(r):
    """Orders, users and payments interleaved; returns {category: [ids]}."""
    out = {"order": [], "user": [], "payment": []}
    for i in range(4):
        out["order"].append(append(r, "order-%d" % (i % 2), "OrderPlaced", '{"n":%d}' % i))
        out["user"].append(append(r, "user-%d" % i, "UserRegistered"))
        out["payment"].append(append(r, "payment-%d" % i, "OrderPlaced"))
    return out


def test_competing_consumers_on_category_get_each_event_once_in_global_order(r):
    assert r.xgroup_create("$ce-order", "workers", "0") is True
    ev = mixed(r)
    got = {"a": [], "b": []}
    turn = 0
    while True:
        who = "ab"[turn % 2]
        ids = read_new(r, "$ce-order", "workers", who, count=1)
        if not ids:
            break
        got[who] += ids
        turn += 1
    delivered = sorted(got["a"] + got["b"], key=lambda i: int(i.split("-")[0]))
    assert delivered == ev["order"]                       # each once, across two streams
    assert got["a"] == ev["order"][0::2] and got["b"] == ev["order"][1::2]  # global order
    assert [e[0] for e in r.xrange("$ce-order")] == ev["order"]
    # the entries are the events: stream, type, data
    entry = r.xreadgroup("workers", "a", {"$ce-order": "0"}, count=1)[0][1][0]
    assert entry[1]["type"] == "OrderPlaced" and entry[1]["data"] == '{"n":0}'


def test_competing_consumers_racing_clients_exactly_once(server):
    c0 = server.client()
    c0.xgroup_create("$ce-job", "g", "$")
    expect = [append(c0, "job-%d" % (i % 3), "Job", '{"i":%d}' % i) for i in range(60)]
    got, lock = [], threading.Lock()

    def worker(name):
        c = server.client()
        while True:
            ids = read_new(c, "$ce-job", "g", name, count=3)
            if not ids:
                return
            with lock:
                got.extend(ids)

    ts = [threading.Thread(target=worker, args=("w%d" % i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert sorted(got, key=lambda i: int(i.split("-")[0])) == expect
    assert len(set(got)) == len(got)
    assert c0.xpending("$ce-job", "g")["pending"] == 60


def test_event_type_and_all_groups(r):
    ev = mixed(r)
    r.xgroup_create("$et-OrderPlaced", "billing", "0")
    r.xgroup_create("$all", "audit", "0")
    placed = sorted(ev["order"] + ev["payment"], key=lambda i: int(i.split("-")[0]))
    assert read_new(r, "$et-OrderPlaced", "billing", "x") == placed
    everything = sorted(sum(ev.values(), []), key=lambda i: int(i.split("-")[0]))
    assert read_new(r, "$all", "audit", "x", count=5) == everything[:5]
    assert read_new(r, "$all", "audit", "y") == everything[5:]
    # group records are not events: $all delivers only events
    assert read_new(r, "$all", "audit", "y") == []
    nxt = append(r, "user-9", "UserRegistered")
    assert read_new(r, "$all", "audit", "x") == [nxt]
    assert read_new(r, "$et-OrderPlaced", "billing", "x") == []


def test_create_on_empty_virtual_stream_with_dollar_and_zero(r):
    assert r.xgroup_create("$ce-empty", "g0", "0") is True
    assert r.xgroup_create("$ce-empty", "gd", "$") is True
    assert r.xgroup_create("$et-Nothing", "g", "$", mkstream=True) is True  # MKSTREAM accepted
    groups = {g["name"]: g for g in r.xinfo_groups("$ce-empty")}
    assert groups["g0"]["last-delivered-id"] == "0-0" and groups["gd"]["last-delivered-id"] == "0-0"
    assert groups["g0"]["entries-read"] == 0 and groups["g0"]["lag"] == 0
    assert read_new(r, "$ce-empty", "g0", "c") == []
    first = append(r, "empty-1", "E")
    assert read_new(r, "$ce-empty", "g0", "c") == [first]
    assert read_new(r, "$ce-empty", "gd", "c") == [first]


def test_dollar_skips_existing_events(r):
    ev = mixed(r)
    r.xgroup_create("$ce-user", "late", "$")
    g = r.xinfo_groups("$ce-user")[0]
    assert g["last-delivered-id"] == ev["user"][-1]
    assert g["entries-read"] == 4 and g["lag"] == 0
    assert read_new(r, "$ce-user", "late", "c") == []
    nxt = append(r, "user-7", "UserRegistered")
    assert read_new(r, "$ce-user", "late", "c") == [nxt]


def test_ack_pending_claim_autoclaim_with_virtual_ids(r):
    ev = mixed(r)
    o = ev["order"]
    r.xgroup_create("$ce-order", "g", "0")
    assert read_new(r, "$ce-order", "g", "alice", count=2) == o[:2]
    assert read_new(r, "$ce-order", "g", "bob", count=2) == o[2:]
    s = r.xpending("$ce-order", "g")
    assert s["pending"] == 4 and s["min"] == o[0] and s["max"] == o[3]
    assert sorted((c["name"], c["pending"]) for c in s["consumers"]) == [("alice", 2), ("bob", 2)]
    rows = r.xpending_range("$ce-order", "g", "-", "+", 10)
    assert [(p["message_id"], p["consumer"], p["times_delivered"]) for p in rows] == \
        [(o[0], "alice", 1), (o[1], "alice", 1), (o[2], "bob", 1), (o[3], "bob", 1)]
    rows = r.xpending_range("$ce-order", "g", "-", "+", 10, consumername="bob")
    assert [p["message_id"] for p in rows] == o[2:]
    assert r.xpending_range("$ce-order", "g", "-", "+", 10, idle=60000) == []
    time.sleep(0.05)
    assert [p["message_id"] for p in r.xpending_range("$ce-order", "g", "-", "+", 10, idle=40)] == o

    assert r.xack("$ce-order", "g", o[0], o[0], "1-0") == 1  # unknown ids count nothing
    assert r.xack("$ce-order", "g", o[0]) == 0
    # XCLAIM moves o[1] to carol and bumps its count; the entry comes back
    claimed = r.xclaim("$ce-order", "g", "carol", 0, [o[1]])
    assert [e[0] for e in claimed] == [o[1]] and claimed[0][1]["type"] == "OrderPlaced"
    assert r.xclaim("$ce-order", "g", "carol", 0, [o[2]], justid=True) == [o[2]]
    rows = {p["message_id"]: p for p in r.xpending_range("$ce-order", "g", "-", "+", 10)}
    assert rows[o[1]]["consumer"] == "carol" and rows[o[1]]["times_delivered"] == 2
    assert rows[o[2]]["consumer"] == "carol" and rows[o[2]]["times_delivered"] == 1
    # an id that is no entry of the view is not claimed, even with FORCE
    user_id = ev["user"][0]
    assert r.xclaim("$ce-order", "g", "carol", 0, [user_id], justid=True, force=True) == []
    # XAUTOCLAIM walks the PEL in id order
    nxt, entries = r.xautoclaim("$ce-order", "g", "dave", 0, "0-0", count=2)[:2]
    assert [e[0] for e in entries] == o[1:3] and nxt == o[3]
    # (redis-py's JUSTID form returns the ids only)
    assert r.xautoclaim("$ce-order", "g", "dave", 0, nxt, justid=True) == [o[3]]
    assert r.execute_command("XAUTOCLAIM", "$ce-order", "g", "dave", 0, "0-0", "JUSTID")[0] == "0-0"
    assert r.xpending("$ce-order", "g")["consumers"] == [{"name": "dave", "pending": 3}]
    assert r.xack("$ce-order", "g", *o[1:]) == 3
    assert r.xpending("$ce-order", "g")["pending"] == 0


def test_history_noack_and_consumers(r):
    ev = mixed(r)
    o = ev["order"]
    r.xgroup_create("$ce-order", "g", "0")
    read_new(r, "$ce-order", "g", "alice", count=3)
    hist = r.xreadgroup("g", "alice", {"$ce-order": "0"})
    assert ids_of(hist) == o[:3]
    assert ids_of(r.xreadgroup("g", "alice", {"$ce-order": o[0]})) == o[1:3]
    assert ids_of(r.xreadgroup("g", "bob", {"$ce-order": "0"})) == []
    assert read_new(r, "$ce-order", "g", "bob", noack=True) == [o[3]]
    assert r.xpending("$ce-order", "g")["pending"] == 3          # NOACK: not pending
    assert r.xgroup_createconsumer("$ce-order", "g", "carol") == 1
    assert r.xgroup_createconsumer("$ce-order", "g", "carol") == 0
    names = [c["name"] for c in r.xinfo_consumers("$ce-order", "g")]
    assert names == ["alice", "bob", "carol"]
    assert r.xgroup_delconsumer("$ce-order", "g", "alice") == 3
    assert r.xpending("$ce-order", "g")["pending"] == 0
    # SETID back to 0 redelivers; entries-read follows
    assert r.xgroup_setid("$ce-order", "g", "0") is True
    assert read_new(r, "$ce-order", "g", "bob") == o
    assert r.xgroup_setid("$ce-order", "g", "$") is True
    g = r.xinfo_groups("$ce-order")[0]
    assert g["last-delivered-id"] == o[-1] and g["entries-read"] == 4 and g["lag"] == 0
    assert r.xgroup_destroy("$ce-order", "g") == 1
    assert r.xgroup_destroy("$ce-order", "g") == 0
    assert r.xinfo_groups("$ce-order") == []


def test_xinfo_groups_entries_read_and_lag(r):
    ev = mixed(r)
    o = ev["order"]
    r.xgroup_create("$ce-order", "g", "0")
    r.xgroup_create("$ce-order", "mid", o[1])
    g = {x["name"]: x for x in r.xinfo_groups("$ce-order")}
    assert g["g"]["entries-read"] == 0 and g["g"]["lag"] == 4
    assert g["mid"]["entries-read"] == 2 and g["mid"]["lag"] == 2
    read_new(r, "$ce-order", "g", "c", count=3)
    g = r.xinfo_groups("$ce-order")[0]
    assert g["last-delivered-id"] == o[2] and g["entries-read"] == 3 and g["lag"] == 1
    assert g["pending"] == 3 and g["consumers"] == 1
    append(r, "order-5", "OrderPlaced")
    assert r.xinfo_groups("$ce-order")[0]["lag"] == 2
    append(r, "user-5", "UserRegistered")  # another category: no lag
    assert r.xinfo_groups("$ce-order")[0]["lag"] == 2


def test_counts_of_types_sharing_a_prefix(r):
    # XLEN and lag of $et-/$ce- count the view's index entries without
    # reading events: types and categories that share a prefix (up to the
    # longest name a virtual stream can have) count only their own.
    longest = "T" * (400 - len("$et-"))
    a, b = longest[:-1] + "a", longest
    for etype in (a, b, a, b, b, "T", "TT"):
        append(r, "pre-1", etype)
    short = append(r, "pre-1", "T")
    append(r, "pre2-1", "T")
    assert [r.xlen("$et-" + t) for t in (a, b, "T", "TT")] == [2, 3, 3, 1]
    assert r.xlen("$ce-pre") == 8 and r.xlen("$ce-pre2") == 1
    r.xgroup_create("$et-" + b, "g", "0")
    read_new(r, "$et-" + b, "g", "c", count=1)
    assert r.xinfo_groups("$et-" + b)[0]["lag"] == 2
    r.xgroup_create("$ce-pre", "g", "0")
    read_new(r, "$ce-pre", "g", "c", count=7)
    g = r.xinfo_groups("$ce-pre")[0]
    assert g["lag"] == 1 and g["entries-read"] == 7
    read_new(r, "$ce-pre", "g", "c")
    g = r.xinfo_groups("$ce-pre")[0]
    assert g["lag"] == 0 and g["last-delivered-id"] == short


def test_xinfo_stream_on_virtual_streams(r):
    assert r.xinfo_stream("$ce-none")["length"] == 0
    ev = mixed(r)
    o = ev["order"]
    r.xgroup_create("$ce-order", "g1", "0")
    r.xgroup_create("$ce-order", "g2", "$")
    info = r.xinfo_stream("$ce-order")
    assert info["length"] == 4 and info["groups"] == 2
    assert info["last-generated-id"] == o[-1] and info["entries-added"] == 4
    assert info["first-entry"][0] == o[0] and info["last-entry"][0] == o[-1]
    assert info["first-entry"][1]["data"] == '{"n":0}'
    everything = sorted(sum(ev.values(), []), key=lambda i: int(i.split("-")[0]))
    info = r.xinfo_stream("$all")
    assert info["length"] == 12 and info["groups"] == 0
    assert info["last-generated-id"] == everything[-1] and info["last-entry"][0] == everything[-1]
    assert info["first-entry"][0] == everything[0]
    read_new(r, "$ce-order", "g1", "c", count=1)
    full = r.xinfo_stream("$ce-order", full=True)
    assert list(full["entries"]) == o  # (redis-py makes it a dict by id)
    assert [g["name"] for g in full["groups"]] == ["g1", "g2"]
    g1 = full["groups"][0]
    assert g1["pel-count"] == 1 and g1["pending"][0][0] == o[0]
    assert g1["consumers"][0][:2] == ["name", "c"]


def test_blocking_xreadgroup_woken_by_matching_append(server):
    r = server.client()
    r.xgroup_create("$ce-order", "g", "$")
    out = {}

    def reader():
        c = server.client()
        t0 = time.time()
        out["reply"] = c.xreadgroup("g", "c", {"$ce-order": ">"}, block=5000)
        out["elapsed"] = time.time() - t0

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.3)
    append(r, "user-1", "UserRegistered")          # does not match: keeps blocking
    time.sleep(0.3)
    assert t.is_alive()
    want = append(r, "order-1", "OrderPlaced")
    t.join(5)
    assert not t.is_alive()
    assert ids_of(out["reply"]) == [want] and out["elapsed"] < 4
    assert r.xpending("$ce-order", "g")["pending"] == 1
    # an $et- group blocks and wakes the same way; timeout gives nil
    r.xgroup_create("$et-Ping", "g", "$")
    assert r.xreadgroup("g", "c", {"$et-Ping": ">"}, block=200) == []


def test_errors(r):
    ev = mixed(r)
    with pytest.raises(redis.ResponseError, match="NOGROUP"):
        r.xreadgroup("nope", "c", {"$ce-order": ">"})
    r.xgroup_create("$ce-order", "g", "0")
    with pytest.raises(redis.ResponseError, match="NOGROUP"):
        r.xreadgroup("nope", "c", {"$ce-order": ">"})
    assert r.xack("$ce-user", "g", ev["user"][0]) == 0  # as Redis: no group, nothing acked
    with pytest.raises(redis.ResponseError, match="NOGROUP"):
        r.xpending("$ce-user", "g")
    with pytest.raises(redis.ResponseError, match="NOGROUP"):
        r.xgroup_setid("$ce-user", "g", "0")
    with pytest.raises(redis.ResponseError, match="NOGROUP"):
        r.xinfo_consumers("$ce-user", "g")
    with pytest.raises(redis.ResponseError, match="BUSYGROUP"):
        r.xgroup_create("$ce-order", "g", "0")
    with pytest.raises(redis.ResponseError, match="reserved"):
        r.xadd("$ce-order", {"a": "1"})
    with pytest.raises(redis.ResponseError, match="reserved"):
        r.xtrim("$ce-order", maxlen=0)
    with pytest.raises(redis.ResponseError, match="reserved"):
        r.delete("$ce-order")
    with pytest.raises(redis.ResponseError, match="reserved"):
        r.execute_command("ES.APPEND", "$ce-order", "ANY", "EVENT", "*", "T", "{}")
    with pytest.raises(redis.ResponseError):
        r.xgroup_create("$ce-order", "h", "not-an-id")
    # the group holder is no key and nothing was written to the view
    assert "$ce-order" not in r.keys("*") and not any(k.startswith("$") for k in r.scan_iter())
    assert r.xlen("$ce-order") == 4
    assert r.xinfo_groups("$ce-user") == []


def build_state(r):
    ev = mixed(r)
    o = ev["order"]
    r.xgroup_create("$ce-order", "g", "0")
    r.xgroup_create("$all", "audit", "$")
    r.xgroup_create("$et-UserRegistered", "gone", "0")
    read_new(r, "$ce-order", "g", "alice", count=2)
    read_new(r, "$ce-order", "g", "bob", count=1)
    r.xack("$ce-order", "g", o[0])
    r.xclaim("$ce-order", "g", "carol", 0, [o[2]], justid=True)
    r.xgroup_createconsumer("$ce-order", "g", "dave")
    r.xgroup_destroy("$et-UserRegistered", "gone")
    return ev


def snapshot(r):
    return {
        "groups": r.xinfo_groups("$ce-order"),
        "all": r.xinfo_groups("$all"),
        "et": r.xinfo_groups("$et-UserRegistered"),
        "pel": [(p["message_id"], p["consumer"], p["times_delivered"])
                for p in r.xpending_range("$ce-order", "g", "-", "+", 10)],
        "consumers": [(c["name"], c["pending"]) for c in r.xinfo_consumers("$ce-order", "g")],
    }


def check_after(r, ev, before):
    o = ev["order"]
    assert snapshot(r) == before
    assert before["pel"] == [(o[1], "alice", 1), (o[2], "carol", 1)]
    assert before["groups"][0]["last-delivered-id"] == o[2]
    # the group goes on where it was
    assert read_new(r, "$ce-order", "g", "dave") == [o[3]]
    assert read_new(r, "$ce-order", "g", "dave") == []
    nxt = append(r, "order-9", "OrderPlaced")
    assert read_new(r, "$ce-order", "g", "dave") == [nxt]
    assert read_new(r, "$all", "audit", "x") == [nxt]


def test_virtual_groups_survive_clean_restart(server):
    r = server.client()
    ev = build_state(r)
    before = snapshot(r)
    r.close()
    server.restart()
    check_after(server.client(), ev, before)


def test_virtual_groups_survive_kill9(tmp_path):
    srv = ServerProc(tmp_path / "data", ["--fsync", "always"]).start()
    try:
        r = srv.client()
        ev = build_state(r)
        before = snapshot(r)
        r.close()
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        srv.proc = None
        srv.log.close()
        srv.start()
        r = srv.client()
        check_after(r, ev, before)
        # and kill -9 right after acknowledged deliveries and acks
        pend = r.xpending("$ce-order", "g")
        r.xack("$ce-order", "g", pend["min"])
        before = snapshot(r)
        r.close()
        srv.proc.send_signal(signal.SIGKILL)
        srv.proc.wait()
        srv.proc = None
        srv.log.close()
        srv.start()
        assert snapshot(srv.client()) == before
    finally:
        assert srv.stop() == 0


def test_holder_is_no_key_and_flushall_drops_groups(r):
    append(r, "order-1", "OrderPlaced")
    r.xadd("plain", {"a": "1"})
    assert r.dbsize() == 2
    r.xgroup_create("$ce-order", "g", "0")
    r.xgroup_create("$all", "g", "0")
    assert r.dbsize() == 2 and sorted(r.keys("*")) == ["order-1", "plain"]
    assert r.info("keyspace")["db0"]["keys"] == 2
    assert r.exists("$ce-order", "$all") == 0 and r.type("$ce-order") == "none"
    assert r.flushall() is True
    assert r.dbsize() == 0
    assert r.xinfo_groups("$ce-order") == [] and r.xinfo_groups("$all") == []
    # the names are free for new groups
    assert r.xgroup_create("$ce-order", "g", "0") is True


def test_virtual_and_plain_streams_in_one_xreadgroup(r):
    a = append(r, "order-1", "OrderPlaced")
    r.xadd("jobs", {"n": "1"}, id="5-0")
    r.xgroup_create("$ce-order", "g", "0")
    r.xgroup_create("jobs", "g", "0")
    reply = r.xreadgroup("g", "c", {"$ce-order": ">", "jobs": ">"})
    assert [(s, [e[0] for e in es]) for s, es in reply] == [("$ce-order", [a]), ("jobs", ["5-0"])]
    assert r.xgroup_destroy("$et-Nothing", "g") == 0


@pytest.mark.server_args("--fsync", "never")
def test_one_delivery_is_at_most_10000_entries(r):
    p = r.pipeline(transaction=False)
    for i in range(10005):
        p.xadd("bulk-%d" % (i % 3), {"i": str(i)})
    p.execute()
    r.xgroup_create("$ce-bulk", "g", "0")
    assert len(read_new(r, "$ce-bulk", "g", "c")) == 10000
    assert len(read_new(r, "$ce-bulk", "g", "c", count=20000)) == 5
    g = r.xinfo_groups("$ce-bulk")[0]
    assert g["entries-read"] == 10005 and g["lag"] == 0 and g["pending"] == 10005

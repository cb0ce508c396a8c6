"""kill -9 under XADD load with --fsync always: every acknowledged entry is
present after restart, in order, exactly once (several crash cycles on the
same directory)."""
import threading
import time

import pytest
import redis

THREADS = 6
CYCLES = 3
LOAD_SECONDS = 0.8


def load(server, tid, start_seq, acked, stop):
    """XADD s * t <tid> n <seq> until stop or the server dies; records each
    acknowledged (id, seq) in order."""
    c = server.client(socket_timeout=5)
    seq = start_seq
    try:
        while not stop.is_set():
            try:
                i = c.xadd("s", {"t": str(tid), "n": str(seq)})
            except (redis.ConnectionError, redis.TimeoutError, OSError):
                return
            acked.append((i, seq))
            seq += 1
    finally:
        c.close()


def kill9(server):
    server.proc.kill()
    server.proc.wait()
    server.proc = None
    server.log.close()


def id_key(i):
    ms, seq = i.split("-")
    return (int(ms), int(seq))


@pytest.mark.server_args("--fsync", "always")
def test_kill9_under_xadd_load(server):
    acked = {t: [] for t in range(THREADS)}
    next_seq = {t: 0 for t in range(THREADS)}
    t_begin = time.time()
    for cycle in range(CYCLES):
        stop = threading.Event()
        before = {t: len(acked[t]) for t in range(THREADS)}
        threads = [threading.Thread(target=load, args=(server, t, next_seq[t], acked[t], stop))
                   for t in range(THREADS)]
        for th in threads:
            th.start()
        time.sleep(LOAD_SECONDS)
        kill9(server)  # mid-load: appends in flight
        stop.set()
        for th in threads:
            th.join(10)
        n_acked = sum(len(acked[t]) - before[t] for t in range(THREADS))
        print("cycle %d: %d acknowledged" % (cycle, n_acked))
        assert n_acked > 0, "no XADD acknowledged"
        # the next cycle's sequence numbers continue past anything that may
        # have been written without an acknowledgement
        for t in range(THREADS):
            next_seq[t] = (acked[t][-1][1] if acked[t] else next_seq[t]) + 1000
        server.start()

        c = server.client()
        entries = c.xrange("s")
        c.close()
        got_ids = [e[0] for e in entries]
        # strictly increasing ids, so no entry twice
        keys = [id_key(i) for i in got_ids]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        by_id = {e[0]: e[1] for e in entries}
        seen = set()
        for e in entries:
            pair = (e[1]["t"], e[1]["n"])
            assert pair not in seen, "entry %s stored twice" % (pair,)
            seen.add(pair)
        for t in range(THREADS):
            prev = None
            for i, seq in acked[t]:
                assert i in by_id, "acknowledged %s (thread %d seq %d) lost in cycle %d" % (
                    i, t, seq, cycle)
                assert by_id[i] == {"t": str(t), "n": str(seq)}
                # a thread's entries keep its order
                if prev is not None:
                    assert id_key(i) > id_key(prev)
                prev = i
    assert time.time() - t_begin < 30


@pytest.mark.server_args("--fsync", "always")
def test_kill9_keeps_acknowledged_deletes_trims_setids(server):
    c = server.client()
    for i in range(1, 21):
        c.xadd("d", {"n": str(i)}, id="%d-1" % i)
    assert c.xdel("d", "2-1", "3-1") == 2
    assert c.xtrim("d", maxlen=15, approximate=False) == 3
    assert c.xtrim("d", minid="8-1", approximate=False) == 2
    assert c.execute_command("XSETID", "d", "100-0", "MAXDELETEDID", "90-0") == "OK"
    want = c.xrange("d")
    c.close()
    kill9(server)
    server.start()
    c = server.client()
    assert c.xrange("d") == want
    assert [e[0] for e in want] == ["%d-1" % i for i in range(8, 21)]
    with pytest.raises(redis.ResponseError, match="equal or smaller"):
        c.xadd("d", {"a": "b"}, id="100-0")
    with pytest.raises(redis.ResponseError, match="max_deleted_entry_id"):
        c.execute_command("XSETID", "d", "80-0")
    c.close()

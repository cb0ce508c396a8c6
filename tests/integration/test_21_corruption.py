"""Damage to a stopped server's files, seen from the server (see
docs/reliability.md, "Torn writes, corruption, disk full"; the engine-level
cases are in tests/unit/test_recovery.c and test_faults.c):

  - a byte flipped in the middle of a sealed segment: the server refuses to
    start (non-zero exit, the position in its log) when it has to verify that
    part of the log, i.e. whenever the index is rebuilt; with --repair it
    starts, cuts the log there and says how many events it dropped;
  - the same flip with the index intact (a clean stop: opening verifies only
    the tail after the index checkpoint): the server starts, and a read that
    reaches the damaged entry answers an error instead of a silently short
    reply; `mnemo check` names the position;
  - the tail of the last segment cut: the server starts, the torn entry is
    gone, every complete entry is there;
  - DIR/index removed: the server starts, rebuilds it, same XRANGE results.

Segment layout (docs/storage.md): 32-byte header; records 8-byte aligned,
each {crc u32, len u32 (header+payload), pos u64, kind u8, ...}.
"""
import glob
import os
import re
import shutil
import struct
import subprocess

import pytest
import redis

from conftest import BINARY, ROOT, free_port

MNEMO = os.path.join(ROOT, "build", "mnemo")
SEG_HDR = 32
N = 1500  # ~100-byte entries in 64 KiB segments: 3 segments


def segments(d):
    """[(base, path)] of DIR/log, ascending."""
    out = []
    for p in glob.glob(os.path.join(d, "log", "*.seg")):
        out.append((int(os.path.basename(p)[:-4]), p))
    return sorted(out)


def records(path, base):
    """[(global position, offset, len, kind)] of one segment's records."""
    with open(path, "rb") as f:
        b = f.read()
    out, off = [], SEG_HDR
    while off + 24 <= len(b):
        _crc, ln, pos, kind = struct.unpack_from("<IIQB", b, off)
        if ln < 24 or pos != base + off:
            break
        out.append((pos, off, ln, kind))
        off += (ln + 7) & ~7
    return out


def events(d):
    """Every event record of the log: [(position, path, offset, len)]."""
    out = []
    for base, path in segments(d):
        for pos, off, ln, kind in records(path, base):
            if kind == 1:
                out.append((pos, path, off, ln))
    return out


def flip(path, off, mask=0x40):
    with open(path, "r+b") as f:
        f.seek(off)
        c = f.read(1)[0]
        f.seek(off)
        f.write(bytes([c ^ mask]))


def fill(c):
    """N entries on stream s with fixed-size fields; returns [(id, n)]."""
    acked = []
    for start in range(0, N, 250):
        p = c.pipeline(transaction=False)
        for k in range(start, min(N, start + 250)):
            p.xadd("s", {"n": "%06d" % k, "pad": "p" * 40})
        acked += [(i, k) for k, i in zip(range(start, N), p.execute())]
    return acked


def as_pairs(entries):
    return [(i, int(f["n"])) for i, f in entries]


@pytest.fixture
def store(server):
    """A stopped server whose store holds N entries in several segments."""
    c = server.client()
    acked = fill(c)
    c.close()
    rc = server.stop()
    assert rc == 0, server.read_log()
    assert len(segments(server.dir)) >= 3, "the test wants several segments"
    assert len(events(server.dir)) == N
    return server, acked


def run_expect_refusal(server, extra=()):
    """Runs mnemosyned on the store and expects it to exit (non-zero)
    instead of serving; returns its output."""
    cmd = [BINARY, "--port", str(free_port()), "--dir", server.dir] + server.args + list(extra)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    except subprocess.TimeoutExpired as e:
        pytest.fail("the server started on a damaged log instead of refusing:\n%s" % (e.stdout or ""))
    assert r.returncode != 0, "exit code 0 on a damaged log:\n" + r.stdout + r.stderr
    return r.stdout + r.stderr


def mnemo_check(d):
    return subprocess.run([MNEMO, "--dir", d, "check"], capture_output=True, text=True, timeout=30)


pytestmark = pytest.mark.server_args("--segment-size", "64kb")


def middle_event(d):
    """An event record in the middle of the first (sealed) segment: its
    index among all events, position, file, offset."""
    evs = events(d)
    base0 = segments(d)[0][0]
    first_seg = [e for e in evs if e[1] == segments(d)[0][1]]
    k = len(first_seg) // 2
    pos, path, off, ln = first_seg[k]
    assert pos == base0 + off
    return k, pos, path, off, ln


def test_mid_segment_flip_refused_then_repair(store):
    server, acked = store
    k, pos, path, off, ln = middle_event(server.dir)
    flip(path, off + ln // 2)  # inside the payload: the CRC no longer matches
    shutil.rmtree(os.path.join(server.dir, "index"))  # the open must verify the whole log

    out = run_expect_refusal(server)
    assert str(pos) in out, "the refusal does not give the damaged position %d:\n%s" % (pos, out)
    assert "--repair" in out, "the refusal does not say how to start anyway:\n" + out
    chk = mnemo_check(server.dir)
    assert chk.returncode == 1 and str(pos) in chk.stdout + chk.stderr, chk.stdout + chk.stderr
    # nothing was changed by the refusal
    assert len(events(server.dir)) >= k

    # --repair: starts, cuts at the damaged entry, says how many were dropped
    server.args = server.args + ["--repair"]
    server.start()
    try:
        log = server.read_log()
        m = re.search(r"Repair: (\d+) bytes cut from the log, (\d+) events dropped", log)
        assert m, "the repair does not report what it dropped:\n" + log[-2000:]
        assert int(m.group(2)) > 0
        c = server.client()
        assert as_pairs(c.xrange("s", "-", "+")) == acked[:k]
        # and the store goes on
        i = c.xadd("s", {"n": "%06d" % N, "pad": "after repair"})
        assert c.xlen("s") == k + 1 and i > acked[k - 1][0]
        c.close()
    finally:
        server.args = [a for a in server.args if a != "--repair"]
        rc = server.stop()
    assert rc == 0
    chk = mnemo_check(server.dir)
    assert chk.returncode == 0, chk.stdout + chk.stderr


def repair_dropped(server, seg_index):
    """Flips a byte in the middle event of segment seg_index, starts with
    --repair; returns (events that should be dropped, events reported)."""
    segs = segments(server.dir)
    base, path = segs[seg_index]
    evs = events(server.dir)
    mine = [e for e in evs if e[1] == path]
    pos, _, off, ln = mine[len(mine) // 2]
    k = [e[0] for e in evs].index(pos)
    flip(path, off + ln // 2)
    server.args = server.args + ["--repair"]
    server.start()
    server.args = [a for a in server.args if a != "--repair"]
    m = re.search(r"Repair: (\d+) bytes cut from the log, (\d+) events dropped", server.read_log())
    assert m, server.read_log()[-2000:]
    c = server.client()
    assert c.xlen("s") == k
    c.close()
    return N - k, int(m.group(2))


def test_repair_reports_dropped_count_last_segment(store):
    server, acked = store
    want, got = repair_dropped(server, -1)
    assert got == want, "--repair reported %d events dropped, %d were" % (got, want)


def test_repair_reports_dropped_count_sealed_segment(store):
    server, acked = store
    want, got = repair_dropped(server, 0)
    assert got == want, "--repair reported %d events dropped, %d were" % (got, want)


def test_mid_segment_flip_refused_with_index(store):
    """A clean stop left the index checkpoint at the end of the log, so the
    open verifies nothing: the server starts. The damage must still never be
    served as a short answer: a read reaching it is an error."""
    server, acked = store
    k, pos, path, off, ln = middle_event(server.dir)
    flip(path, off + ln // 2)
    server.start()
    c = server.client()
    # entries before the damage are fine
    assert as_pairs(c.xrange("s", "-", "+", count=k)) == acked[:k]
    # the damaged one alone
    with pytest.raises(redis.ResponseError):
        c.xrange("s", acked[k][0], acked[k][0])
    c.close()
    rc = server.stop()
    assert rc == 0
    chk = mnemo_check(server.dir)
    assert chk.returncode == 1 and str(pos) in chk.stdout + chk.stderr, chk.stdout + chk.stderr


def test_read_across_damage_is_an_error(store):
    """A read that meets a damaged record in the middle answers an error, not
    the entries before it: the half-built reply is taken back (client.c,
    reply_failure_check), and the connection stays in step."""
    server, acked = store
    k, pos, path, off, ln = middle_event(server.dir)
    flip(path, off + ln // 2)
    server.start()
    c = server.client()
    with pytest.raises(redis.ResponseError, match="corrupt|damaged|CRC|inconsistent") as e:
        got = c.xrange("s", "-", "+")
        pytest.fail("XRANGE across the damaged entry %d answered %d entries" % (k, len(got)))
    assert str(pos) in str(e.value)
    with pytest.raises(redis.ResponseError, match="corrupt|damaged|CRC|inconsistent"):
        c.xread({"s": "0-0"}, count=N)
    with pytest.raises(redis.ResponseError, match="corrupt|damaged|CRC|inconsistent"):
        c.xrevrange("s", "+", "-")
    # the connection is in step, and what lies before the damage reads fine
    assert c.ping()
    before = c.xrange("s", "-", "+", count=k)
    assert as_pairs(before) == acked[:k]
    # inside MULTI only the failing command's part becomes the error
    p = c.pipeline(transaction=True)
    p.xlen("s")
    p.xrange("s", "-", "+")
    p.echo("after")
    res = p.execute(raise_on_error=False)
    assert res[0] == len(acked) and isinstance(res[1], redis.ResponseError) and res[2] == "after"
    c.close()


def test_torn_tail_truncated(store):
    server, acked = store
    base, path = segments(server.dir)[-1]
    recs = records(path, base)
    # cut inside the second-to-last record: the last two entries are torn
    pos, off, ln, kind = recs[-2]
    assert kind == 1
    os.truncate(path, off + ln // 2)
    server.start()
    log = server.read_log()
    c = server.client()
    assert as_pairs(c.xrange("s", "-", "+")) == acked[:-2]
    i = c.xadd("s", {"n": "%06d" % N, "pad": "after the cut"})
    assert i > acked[-3][0]
    c.close()
    opened = [l for l in log.splitlines() if "Store opened" in l][-1]
    assert "truncated 0 bytes" not in opened, opened
    rc = server.stop()
    assert rc == 0
    chk = mnemo_check(server.dir)
    assert chk.returncode == 0, chk.stdout + chk.stderr


def test_torn_tail_in_header_of_new_segment(store):
    """A cut inside the last segment's header (a roll torn by a crash)."""
    server, acked = store
    base, path = segments(server.dir)[-1]
    lost = len(records(path, base))
    os.truncate(path, SEG_HDR // 2)
    server.start()
    c = server.client()
    assert as_pairs(c.xrange("s", "-", "+")) == acked[:N - lost]
    c.xadd("s", {"n": "%06d" % N, "pad": "after the cut"})
    c.close()
    rc = server.stop()
    assert rc == 0
    chk = mnemo_check(server.dir)
    assert chk.returncode == 0, chk.stdout + chk.stderr


def test_index_removed_rebuilt(store):
    server, acked = store
    server.start()
    c = server.client()
    before = c.xrange("s", "-", "+")
    rev = c.xrevrange("s", "+", "-", count=10)
    c.close()
    rc = server.stop()
    assert rc == 0
    shutil.rmtree(os.path.join(server.dir, "index"))
    server.start()
    opened = [l for l in server.read_log().splitlines() if "Store opened" in l][-1]
    assert "index rebuilt" in opened, opened
    c = server.client()
    assert c.xrange("s", "-", "+") == before
    assert c.xrevrange("s", "+", "-", count=10) == rev
    assert as_pairs(before) == acked
    assert c.xlen("s") == N
    c.close()


def test_index_damaged_at_rest_is_rebuilt(store):
    # A clean stop seals data.mdb (size and CRC32C in index/seal); bytes
    # flipped in it while the server is down (bit rot, a bad restore) are
    # seen at the next start, before LMDB reads them, and the index is
    # rebuilt from the log, which has its own CRCs.
    server, acked = store
    seal = os.path.join(server.dir, "index", "seal")
    assert open(seal).read().startswith("mnemosyne-index-seal 1 ")
    mdb = os.path.join(server.dir, "index", "data.mdb")
    size = os.path.getsize(mdb)
    for off in (0, 4096 + 16, size // 2, size - 100):  # meta page, a page header, data
        flip(mdb, off)
    server.start()
    log = server.read_log()
    assert "changed since the store was closed" in log and "rebuilding it from the log" in log, log
    opened = [l for l in log.splitlines() if "Store opened" in l][-1]
    assert "index rebuilt" in opened, opened
    assert not os.path.exists(seal)  # unsealed while it runs
    c = server.client()
    assert as_pairs(c.xrange("s", "-", "+")) == acked
    c.xadd("s", {"n": "%06d" % N, "pad": "x"})
    c.close()
    assert server.stop() == 0
    # sealed again; an untouched index opens without a rebuild
    assert os.path.exists(seal)
    server.start()
    opened = [l for l in server.read_log().splitlines() if "Store opened" in l][-1]
    assert "index rebuilt" not in opened, opened
    assert server.client().xlen("s") == N + 1


def test_index_seal_kill9_trusts_lmdb(store):
    # kill -9 leaves no seal (it is removed at start): the next start trusts
    # the index as LMDB's crash safety allows and replays the log's tail.
    server, acked = store
    server.start()
    c = server.client()
    c.xadd("s", {"n": "%06d" % N, "pad": "x"})
    server.proc.kill()
    server.proc.wait()
    assert not os.path.exists(os.path.join(server.dir, "index", "seal"))
    server.start()
    opened = [l for l in server.read_log().splitlines() if "Store opened" in l][-1]
    assert "index rebuilt" not in opened, opened
    assert server.client().xlen("s") == N + 1

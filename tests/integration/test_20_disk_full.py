"""Disk full, for real: mnemosyned on a size-limited tmpfs (as root; skipped
with a message where mounting is not allowed).

XADD until the filesystem is full: the failing XADD gets an -ERR that says
the disk is full, reads keep working and the server stays up; once space is
freed (a ballast file put there beforehand is deleted), XADD works again; a
restart finds every acknowledged entry exactly once and in order, and
`mnemo check` finds the log intact. See docs/reliability.md.
"""
import os
import subprocess

import pytest
import redis

from conftest import ROOT, ServerProc

MNEMO = os.path.join(ROOT, "build", "mnemo")
FS_SIZE = "8m"
BALLAST = 2 << 20
PAD = "x" * 1000
BATCH = 100
MAX_ENTRIES = 20000  # 8 MiB / ~1.1 KiB per entry is ~7000: a bound, not a target


@pytest.fixture
def small_fs(tmp_path):
    """A FS_SIZE tmpfs mounted at tmp_path/fs, unmounted afterwards."""
    mnt = tmp_path / "fs"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("disk-full test needs root to mount a %s tmpfs (running as uid %d)"
                    % (FS_SIZE, os.geteuid()))
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + FS_SIZE, "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("disk-full test cannot mount a tmpfs here (mount exit %d: %s)"
                    % (r.returncode, (r.stderr or r.stdout).strip()))
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        if os.path.ismount(str(mnt)):
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def xadd(c, n):
    return c.xadd("s", {"n": str(n), "pad": PAD})


def fill(c, acked):
    """XADD s * n <seq> pad <1000 bytes> until one fails; records every
    acknowledged (id, seq) in order and returns the first error. Pipelined
    batches first (one group commit each: a batch that does not fit fails
    whole), then one at a time, so that the disk is really full."""
    seq = 0
    while seq < MAX_ENTRIES:
        p = c.pipeline(transaction=False)
        for k in range(BATCH):
            p.xadd("s", {"n": str(seq + k), "pad": PAD})
        res = p.execute(raise_on_error=False)
        failed = False
        for k, r in enumerate(res):
            if isinstance(r, Exception):
                failed = True
            else:
                acked.append((r, seq + k))
        seq += BATCH
        if failed:
            break
    while seq < MAX_ENTRIES:
        try:
            acked.append((xadd(c, seq), seq))
        except redis.ResponseError as e:
            return e
        seq += 1
    pytest.fail("%d entries of %d bytes fitted in a %s filesystem: it never filled up"
                % (seq, len(PAD), FS_SIZE))


def start_on(small_fs, tmp_path):
    """A 2 MiB ballast file, then the server with its store on small_fs."""
    ballast = small_fs / "ballast"
    with open(ballast, "wb") as f:
        f.write(b"\0" * BALLAST)
        f.flush()
        os.fsync(f.fileno())
    srv = ServerProc(small_fs / "store", ["--segment-size", "1mb", "--fsync", "always"])
    srv.logpath = str(tmp_path / "server.log")  # not on the small filesystem
    srv.start()
    return srv, ballast


def restart_and_verify(srv, acked, stream="s"):
    """Clean stop (exit 0), start, every acknowledged entry once and in
    order; stop again and run mnemo check."""
    rc = srv.stop()
    assert rc == 0, "exit code %s\n%s" % (rc, srv.read_log())
    srv.start()
    c = srv.client()
    entries = c.xrange(stream, "-", "+")
    assert [(i, int(f["n"])) for i, f in entries] == acked, \
        "after a restart the stream is not exactly the acknowledged entries in order"
    c.close()
    rc = srv.stop()
    assert rc == 0, "exit code %s\n%s" % (rc, srv.read_log())
    chk = subprocess.run([MNEMO, "--dir", srv.dir, "check"], capture_output=True, text=True,
                         timeout=30)
    assert chk.returncode == 0, "mnemo check: %s%s" % (chk.stdout, chk.stderr)


def test_disk_full_index_enospc(small_fs, tmp_path):
    """Once the log is full, small appends to new streams still fit in the
    log's last page but need new index pages: each must either succeed or
    fail with the disk-full error, and appends resume once space is freed."""
    srv, ballast = start_on(small_fs, tmp_path)
    try:
        c = srv.client()
        acked = []
        fill(c, acked)
        tiny = []
        for k in range(300):
            name = "t-%d" % k
            try:
                tiny.append((name, c.xadd(name, {"n": str(k)})))
            except redis.ResponseError as e:
                assert "disk full" in str(e), "XADD %s on a full disk: %s" % (name, e)
        assert c.ping()
        os.unlink(ballast)
        for k in range(5):
            n = 2 * MAX_ENTRIES + k
            acked.append((xadd(c, n), n))
        c.close()
        restart_and_verify(srv, acked)
    finally:
        srv.stop()


def test_disk_full(small_fs, tmp_path):
    srv, ballast = start_on(small_fs, tmp_path)
    try:
        c = srv.client()
        acked = []
        err = fill(c, acked)
        assert len(acked) > 1000, "only %d XADDs succeeded before: %s" % (len(acked), err)
        text = str(err)
        # the reply says the disk is full, in words a client can act on
        assert "disk full" in text.lower() and "no space left on device" in text.lower(), text
        # reads keep working, the server stays up
        assert c.ping()
        assert c.xlen("s") == len(acked)
        head = c.xrange("s", "-", "+", count=3)
        assert [i for i, _ in head] == [i for i, _ in acked[:3]]
        tail = c.xrevrange("s", "+", "-", count=1)
        assert tail[0][0] == acked[-1][0]
        got = c.xread({"s": acked[-2][0]}, count=10)
        assert [i for i, _ in got[0][1]] == [acked[-1][0]]
        # still full: the same XADD fails the same way (nothing was latched)
        with pytest.raises(redis.ResponseError) as again:
            xadd(c, MAX_ENTRIES)
        assert "disk full" in str(again.value), str(again.value)
        assert c.xlen("s") == len(acked)
        # free space: appends resume
        os.unlink(ballast)
        for k in range(20):
            n = 2 * MAX_ENTRIES + k
            acked.append((xadd(c, n), n))
        assert c.xlen("s") == len(acked)
        c.close()
        restart_and_verify(srv, acked)
    finally:
        srv.stop()

#!/usr/bin/python3
"""
Crash soak: mixed load against build/mnemosyned, kill -9 at a random moment,
restart, verify; many cycles on the same store directory.

Per cycle (one phase = SOAK_CYCLES cycles on one fresh directory):

  load     4 writer threads   XADD s<k> * t <writer> n <seq>  (k random of 3)
           1 versioned writer XADD v <N>-0 v <N>, N = previous + 1 -- an
                              expected-version append: "equal or smaller than
                              the target stream top item" means N is already
                              there (written, then the reply lost to a kill)
           1 ES.APPEND writer ES.APPEND es <version-1|NOSTREAM> EVENT <uuid(v)>
                              Deposited {"n":v}; after a kill the append in
                              flight is retried with the same event id and
                              expectation: answered as stored, or stored now
           2 consumers        XREADGROUP GROUP g c<i> COUNT 50 BLOCK 100
                              STREAMS s0 s1 s2 > > >, then XACK (about 1 batch
                              in 7 is left pending on purpose); at the start
                              of a cycle each first re-reads its own pending
                              entries (id 0) and acks about half of them
  kill     SIGKILL after a random 0.1-1.0 s of load; in about 1 cycle in 7
           the restarted server is killed again 0-40 ms after exec (inside
           recovery, before it accepts) and started once more
  verify   with the server restarted:
           - every acknowledged XADD is present, once, with its fields, at
             the id it was acknowledged with; each writer's entries in a
             stream are in its order; the only unacknowledged entries present
             are the ones in flight at the kill (at most one per writer);
             XLEN matches the model (so nothing older was lost either).
             Entries added since the last cycle are read each cycle; the
             whole streams every 10 cycles and in the last one
           - stream v holds exactly ids 1-0 .. M-0 (no gap, no duplicate),
             M = last acknowledged N, or N+1 when that append was in flight
           - stream es holds versions 0..K-1, each with its event id and data
             (ES.READ, and XLEN for the count), K = acknowledged or +1
           - every entry a consumer received is still in its stream with the
             same fields, and is either acked (XACK answered: not pending) or
             still pending for that consumer; never delivered twice by '>';
             the group's last-delivered-id is at least the largest delivered id
           then SIGTERM (exit 0 required) and `mnemo --dir D check` clean
           (exit 0, "intact").

Phases: --fsync always, then --fsync interval:200. Under interval:<ms> a reply
is sent after write(2) and the fsync follows within <ms>; kill -9 kills the
process, not the machine, so the page cache keeps every acknowledged write
and the same invariants must hold: nothing acknowledged lost, nothing
corrupt. (A power cut could lose up to <ms> of acknowledged writes; this test
does not simulate one -- tests/crash/crash_kill9.c cuts torn tails at the
engine level.)

Environment: SOAK_CYCLES (default 100, per phase), SOAK_SEED,
SOAK_PHASES (default "always,interval:200"), MNEMOSYNED / MNEMO_BIN (the
binaries), SOAK_KEEP=1 keeps the directories. Last line:
"soak: N passed, N failed" (one test per cycle).

Run with Debian's interpreter: /usr/bin/python3 tests/soak/soak.py
"""
import os
import random
import shutil
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
MNEMO = os.environ.get("MNEMO_BIN", os.path.join(ROOT, "build", "mnemo"))
CYCLES = int(os.environ.get("SOAK_CYCLES", "100"))
SEED = int(os.environ.get("SOAK_SEED", "0") or 0) or (int(time.time() * 1000) & 0xFFFFFFFF)
PHASES = [p for p in os.environ.get("SOAK_PHASES", "always,interval:200").split(",") if p]
KEEP = os.environ.get("SOAK_KEEP") == "1"

WRITERS = 4
STREAMS = ["s0", "s1", "s2"]
CONSUMERS = 2
GROUP = "g"
FULL_EVERY = 10
MAX_FAILS = 3  # per phase: stop the phase after this many failed cycles
CONN_ERRORS = (redis.ConnectionError, redis.TimeoutError, OSError)


class Fail(Exception):
    pass


def idk(i):
    ms, seq = i.split("-")
    return (int(ms), int(seq))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, d, fsync):
        self.dir = d
        self.fsync = fsync
        self.port = free_port()
        self.proc = None
        self.logpath = d + ".log"

    def spawn(self):
        log = open(self.logpath, "ab")
        self.proc = subprocess.Popen(
            [SERVER, "--port", str(self.port), "--dir", self.dir, "--fsync", self.fsync,
             "--segment-size", "1mb"], stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def start(self, timeout=20.0):
        self.spawn()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Fail("server exited %s at start:\n%s" % (self.proc.returncode, self.tail()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.01)
        raise Fail("server did not accept within %ss:\n%s" % (timeout, self.tail()))

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "timeout"
        self.proc = None
        return rc

    def client(self, timeout=10):
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True,
                           socket_timeout=timeout, retry_on_timeout=False)

    def tail(self, n=30):
        try:
            with open(self.logpath, "rb") as f:
                return "\n".join(f.read().decode(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


class Model:
    """What the clients were told, accumulated over every cycle of a phase."""

    def __init__(self):
        self.next_seq = [0] * WRITERS
        self.acked = {}        # (t, n) -> (stream, id)          acknowledged XADDs
        self.inflight = set()  # (t, n) whose reply was lost (may be present, or not)
        self.kept_unacked = set()  # such (t, n) found present after the restart
        self.present = {s: {} for s in STREAMS}   # id -> (t, n): verified content
        self.where = {}        # (t, n) -> (stream, id) for every verified entry
        self.top = {s: None for s in STREAMS}     # last verified id per stream
        self.v_confirmed = 0   # versioned: 1..v_confirmed known present
        self.v_inflight = False
        self.v_found_present = 0  # retries answered "already there"
        self.v_verified_top = 0
        self.es_confirmed = 0  # ES.APPEND: versions 0..es_confirmed-1 acknowledged
        self.es_inflight = False
        self.es_verified = 0
        self.es_retries = 0    # appends retried after a kill (same event id, same expectation)
        self.salt = random.getrandbits(32)
        self.delivered = {}    # (stream, id) -> consumer
        self.redelivered = []
        self.acked_deliv = set()
        self.ack_unknown = set()
        self.lock = threading.Lock()
        self.errors = []       # unexpected errors seen by the load threads


# ---------------------------------------------------------------- load ---

def writer(srv, m, t, rnd, stop, counts):
    c = srv.client(5)
    try:
        while not stop.is_set():
            n = m.next_seq[t]
            m.next_seq[t] = n + 1
            s = STREAMS[rnd.randrange(len(STREAMS))]
            with m.lock:
                m.inflight.add((t, n))
            try:
                i = c.xadd(s, {"t": str(t), "n": str(n)})
            except CONN_ERRORS:
                return
            except redis.ResponseError as e:
                m.errors.append("writer %d: XADD %s: %s" % (t, s, e))
                return
            with m.lock:
                m.inflight.discard((t, n))
                m.acked[(t, n)] = (s, i)
                counts["xadd"] += 1
    finally:
        c.close()


def versioned(srv, m, stop, counts):
    c = srv.client(5)
    first = True
    maybe_there = m.v_inflight  # the previous cycle's last append got no reply
    try:
        while not stop.is_set():
            n = m.v_confirmed + 1
            m.v_inflight = True
            try:
                c.xadd("v", {"v": str(n)}, id="%d-0" % n)
            except CONN_ERRORS:
                return
            except redis.ResponseError as e:
                if "equal or smaller" in str(e) and first and maybe_there:
                    # the append in flight at the last kill did reach the log
                    m.v_found_present += 1
                else:
                    m.errors.append("versioned: XADD v %d-0: %s (first of cycle: %s)" % (n, e, first))
                    return
            m.v_confirmed = n
            m.v_inflight = False
            first = False
            counts["versioned"] += 1
    finally:
        c.close()


def es_id(m, n):
    return "%08x-%04x-7%03x-8%03x-%012x" % (m.salt, (n >> 48) & 0xFFFF, (n >> 36) & 0xFFF,
                                           (n >> 24) & 0xFFF, n & 0xFFFFFFFFFFFF)


def es_writer(srv, m, stop, counts):
    """ES.APPEND es <expected version> EVENT <deterministic id> Deposited {"n":v}.
    The append in flight at a kill is retried with the same id and the same
    expectation: the store must answer it as stored (idempotent) or store it now,
    never -WRONGVERSION or -DUPLICATE."""
    c = srv.client(5)
    try:
        while not stop.is_set():
            v = m.es_confirmed
            if m.es_inflight:
                m.es_retries += 1
            m.es_inflight = True
            try:
                rep = c.execute_command("ES.APPEND", "es", v - 1 if v else "NOSTREAM",
                                        "EVENT", es_id(m, v), "Deposited", '{"n":%d}' % v)
            except CONN_ERRORS:
                return
            except redis.ResponseError as e:
                m.errors.append("ES.APPEND es version %d: %s" % (v, e))
                return
            if int(rep[0]) != v:
                m.errors.append("ES.APPEND es version %d answered %r" % (v, rep))
                return
            m.es_confirmed = v + 1
            m.es_inflight = False
            counts["es"] += 1
    finally:
        c.close()


def consumer(srv, m, ci, rnd, stop, counts):
    name = "c%d" % ci
    c = srv.client(5)
    streams_gt = {s: ">" for s in STREAMS}
    try:
        # first, this consumer's pending history (a pure read): ack about half
        try:
            hist = c.xreadgroup(GROUP, name, {s: "0" for s in STREAMS}, count=1000000)
        except CONN_ERRORS:
            return
        for s, entries in hist or []:
            with m.lock:
                for i, f in entries:
                    # a reply lost to the last kill: delivered, never seen
                    m.delivered.setdefault((s, i), (name, fpair(f)))
            ids = [i for i, _ in entries if rnd.random() < 0.5]
            if ids and not stop.is_set():
                if not ack(c, m, s, ids, counts):
                    return
        while not stop.is_set():
            try:
                res = c.xreadgroup(GROUP, name, streams_gt, count=50, block=100)
            except CONN_ERRORS:
                return
            except redis.ResponseError as e:
                m.errors.append("%s: XREADGROUP: %s" % (name, e))
                return
            for s, entries in res or []:
                with m.lock:
                    for i, f in entries:
                        k = (s, i)
                        if k in m.delivered:
                            m.redelivered.append(k)
                        m.delivered[k] = (name, fpair(f))
                    counts["delivered"] += len(entries)
                if rnd.random() < 1 / 7:
                    continue  # left pending on purpose
                if not ack(c, m, s, [i for i, _ in entries], counts):
                    return
    finally:
        c.close()


def fpair(f):
    try:
        return (int(f["t"]), int(f["n"]))
    except (KeyError, ValueError, TypeError):
        return ("?", repr(f))


def ack(c, m, s, ids, counts):
    keys = [(s, i) for i in ids]
    with m.lock:
        m.ack_unknown.update(keys)
    try:
        c.xack(s, GROUP, *ids)
    except CONN_ERRORS:
        return False
    except redis.ResponseError as e:
        m.errors.append("XACK %s: %s" % (s, e))
        return False
    with m.lock:
        m.ack_unknown.difference_update(keys)
        m.acked_deliv.update(keys)
        counts["acked"] += len(ids)
    return True


# -------------------------------------------------------------- verify ---

def verify(c, m, full):
    """Checks the restarted server against the model; raises Fail."""
    with m.lock:
        pass  # the load threads are gone; the lock only orders memory
    # 1. XADD streams
    if full:
        present = {s: {} for s in STREAMS}
        where = {}
        start = {s: "-" for s in STREAMS}
    else:
        present = {s: dict(m.present[s]) for s in STREAMS}
        where = dict(m.where)
        start = {s: ("(" + m.top[s]) if m.top[s] else "-" for s in STREAMS}
    for s in STREAMS:
        entries = c.xrange(s, start[s], "+")
        last_n = {}
        # the writer's order: within the range read, and after the verified part
        for i, pair in present[s].items():
            t, n = pair
            if last_n.get(t) is None or n > last_n[t][0]:
                last_n[t] = (n, i)
        prev = m.top[s] if not full else None
        for i, f in entries:
            if prev is not None and idk(i) <= idk(prev):
                raise Fail("%s: ids not increasing: %s after %s" % (s, i, prev))
            prev = i
            try:
                pair = (int(f["t"]), int(f["n"]))
            except (KeyError, ValueError):
                raise Fail("%s %s: unexpected fields %r" % (s, i, f))
            if pair in where:
                raise Fail("writer %d seq %d stored twice: %s %s and %s %s"
                           % (pair[0], pair[1], where[pair][0], where[pair][1], s, i))
            if pair in m.acked:
                if m.acked[pair] != (s, i):
                    raise Fail("writer %d seq %d acknowledged as %s %s, found at %s %s"
                               % (pair[0], pair[1], m.acked[pair][0], m.acked[pair][1], s, i))
            elif pair not in m.inflight and pair not in m.kept_unacked:
                raise Fail("%s %s: writer %d seq %d present but neither acknowledged nor in flight"
                           % (s, i, pair[0], pair[1]))
            t, n = pair
            if t in last_n and n <= last_n[t][0]:
                raise Fail("%s: writer %d's seq %d (%s) after its seq %d (%s)"
                           % (s, t, n, i, last_n[t][0], last_n[t][1]))
            last_n[t] = (n, i)
            present[s][i] = pair
            where[pair] = (s, i)
        xlen = c.xlen(s)
        if xlen != len(present[s]):
            raise Fail("%s: XLEN %d, the verified entries are %d (something older vanished or "
                       "appeared)" % (s, xlen, len(present[s])))
    for pair, (s, i) in m.acked.items():
        if pair not in where:
            raise Fail("acknowledged XADD lost: writer %d seq %d, %s %s" % (pair[0], pair[1], s, i))
    if full:
        for s in STREAMS:
            if m.present[s] and any(present[s].get(i) != p for i, p in m.present[s].items()):
                raise Fail("%s: an entry verified in an earlier cycle changed or vanished" % s)
    # the in-flight pairs are settled now: present (kept) or absent (lost, unacknowledged)
    for s in STREAMS:
        m.present[s] = present[s]
        m.top[s] = max(present[s], key=idk) if present[s] else None
    m.where = where
    m.kept_unacked |= {p for p in m.inflight if p in where}
    m.inflight = set()
    n_xadd = len(m.acked)

    # 2. the versioned stream: 1-0 .. M-0, no gap
    M = c.xlen("v")
    want = {m.v_confirmed, m.v_confirmed + 1} if m.v_inflight else {m.v_confirmed}
    if M not in want:
        raise Fail("stream v has %d entries, expected %s (confirmed %d, in flight %s)"
                   % (M, sorted(want), m.v_confirmed, m.v_inflight))
    lo = 0 if full else m.v_verified_top
    ents = c.xrange("v", "(%d-0" % lo if lo else "-", "+")
    expect = lo + 1
    for i, f in ents:
        if i != "%d-0" % expect or f != {"v": str(expect)}:
            raise Fail("stream v: expected %d-0 {v: %d}, got %s %r (a gap or a duplicate)"
                       % (expect, expect, i, f))
        expect += 1
    if expect - 1 != M:
        raise Fail("stream v: read up to %d, XLEN %d" % (expect - 1, M))
    m.v_verified_top = M

    # 2b. the event-store stream: versions 0..K-1, each with its own id and data
    want = {m.es_confirmed, m.es_confirmed + 1} if m.es_inflight else {m.es_confirmed}
    start = 0 if full else m.es_verified
    evs = []
    while True:
        page = c.execute_command("ES.READ", "es", "FROM", start + len(evs), "COUNT", 10000)
        if not page:
            break
        evs += [dict(zip(e[0::2], e[1::2])) for e in page]
        if len(page) < 10000:
            break
    total = start + len(evs)
    if total not in want or c.xlen("es") != total:
        raise Fail("stream es has %d events (XLEN %d), expected %s"
                   % (total, c.xlen("es"), sorted(want)))
    for k, d in enumerate(evs, start):
        if (int(d["version"]), d["id"], d["type"], d["data"]) != (k, es_id(m, k), "Deposited",
                                                                '{"n":%d}' % k):
            raise Fail("stream es version %d: %r" % (k, d))
    m.es_verified = total

    # 3. deliveries
    if m.redelivered:
        raise Fail("delivered twice by '>': %s" % m.redelivered[:5])
    pel = {}
    for s in STREAMS:
        for p in c.xpending_range(s, GROUP, "-", "+", 10 ** 7):
            pel[(s, p["message_id"])] = p["consumer"]
    for k, (who, pair) in m.delivered.items():
        s, i = k
        if m.present[s].get(i) != pair:
            raise Fail("delivered %s %s %r to %s, the stream now has %r"
                       % (s, i, pair, who, m.present[s].get(i)))
        if k in m.acked_deliv:
            if k in pel:
                raise Fail("%s %s acked (XACK answered) but pending again for %s" % (s, i, pel[k]))
        elif k in m.ack_unknown:
            if k not in pel:
                m.acked_deliv.add(k)  # the XACK in flight was made durable
        else:
            if pel.get(k) != who:
                raise Fail("%s %s delivered to %s, not acked, but %s" % (
                    s, i, who, "pending for %s" % pel[k] if k in pel else "not pending (lost)"))
    m.ack_unknown = set()
    # pending entries the model has not seen: an XREADGROUP reply lost to the
    # kill (the delivery was durable); the consumers pick them up as history
    unseen = [k for k in pel if k not in m.delivered]
    maxdel = {}
    for (s, i) in m.delivered:
        if s not in maxdel or idk(i) > idk(maxdel[s]):
            maxdel[s] = i
    for s in STREAMS:
        g = [x for x in c.xinfo_groups(s) if x["name"] == GROUP]
        if not g:
            raise Fail("%s: group %s is gone" % (s, GROUP))
        if s in maxdel and idk(g[0]["last-delivered-id"]) < idk(maxdel[s]):
            raise Fail("%s: last-delivered-id %s < delivered %s" % (s, g[0]["last-delivered-id"], maxdel[s]))
    return n_xadd, len(m.delivered), len(unseen), len(pel)


def check_store(d):
    p = subprocess.run([MNEMO, "--dir", d, "check"], capture_output=True, text=True, timeout=300)
    if p.returncode != 0 or "intact" not in p.stdout:
        raise Fail("mnemo check: exit %d\n%s%s" % (p.returncode, p.stdout, p.stderr))
    return p.stdout.strip()


# --------------------------------------------------------------- phase ---

def run_phase(fsync, rnd, base):
    d = os.path.join(base, "store-" + fsync.replace(":", "-"))
    srv = Server(d, fsync)
    m = Model()
    passed = failed = 0
    tot = {"xadd": 0, "versioned": 0, "es": 0, "delivered": 0, "acked": 0, "startkills": 0}
    srv.start()
    c = srv.client()
    for s in STREAMS:
        c.xgroup_create(s, GROUP, id="0", mkstream=True)
    c.close()
    last = None
    t0 = time.time()
    for cyc in range(1, CYCLES + 1):
        full = cyc % FULL_EVERY == 0 or cyc == CYCLES
        counts = {"xadd": 0, "versioned": 0, "es": 0, "delivered": 0, "acked": 0}
        try:
            if srv.proc is None:
                srv.start()
            stop = threading.Event()
            threads = [threading.Thread(target=writer, args=(srv, m, t, random.Random(rnd.random()), stop, counts))
                       for t in range(WRITERS)]
            threads.append(threading.Thread(target=versioned, args=(srv, m, stop, counts)))
            threads.append(threading.Thread(target=es_writer, args=(srv, m, stop, counts)))
            threads += [threading.Thread(target=consumer, args=(srv, m, i, random.Random(rnd.random()), stop, counts))
                        for i in range(CONSUMERS)]
            for th in threads:
                th.start()
            load = rnd.uniform(0.1, 1.0)
            time.sleep(load)
            srv.kill9()
            stop.set()
            for th in threads:
                th.join(30)
                if th.is_alive():
                    raise Fail("a load thread did not stop")
            if m.errors:
                raise Fail("load errors: %s" % m.errors[:5])
            for k in counts:
                tot[k] += counts[k]
            if rnd.random() < 1 / 7:
                # kill again inside startup/recovery
                srv.spawn()
                time.sleep(rnd.uniform(0, 0.04))
                srv.kill9()
                tot["startkills"] += 1
            srv.start()
            c = srv.client(30)
            n_xadd, n_del, unseen, npel = verify(c, m, full)
            c.close()
            rc = srv.stop()
            if rc != 0:
                raise Fail("SIGTERM: exit %s\n%s" % (rc, srv.tail()))
            chk = check_store(d)
            last = (n_xadd, m.v_verified_top + m.es_verified, n_del)
            passed += 1
            print("%s cycle %d: load %.2fs: +%d xadd, +%d versioned, +%d es, +%d delivered, +%d acked; "
                  "verified%s %d xadd, v 1..%d, es 0..%d, %d delivered (%d pending, %d unseen); %s"
                  % (fsync, cyc, load, counts["xadd"], counts["versioned"], counts["es"], counts["delivered"],
                     counts["acked"], " (full)" if full else "", n_xadd, m.v_verified_top,
                     m.es_verified - 1, n_del,
                     npel, unseen, chk.split(":", 1)[-1].strip()), flush=True)
            if counts["xadd"] == 0:
                raise Fail("no XADD acknowledged in this cycle")
        except Fail as e:
            failed += 1
            print("%s cycle %d: FAIL: %s" % (fsync, cyc, e), flush=True)
            print("  server log tail:\n" + srv.tail(15), flush=True)
            if srv.proc is not None:
                srv.kill9()
            if failed >= MAX_FAILS:
                print("%s: %d failures, phase stopped" % (fsync, failed))
                break
            m.errors = []
            m.redelivered = []
    if srv.proc is not None:
        srv.stop()
    el = time.time() - t0
    print("%s: %d cycles in %.0fs: %d passed, %d failed; acknowledged %d XADD, %d explicit-id "
          "XADD, %d ES.APPEND; %d deliveries, %d XACKed entries; %d extra kills during startup; "
          "explicit-id appends found already stored after a kill: %d; ES.APPEND retried after a "
          "kill: %d"
          % (fsync, passed + failed, el, passed, failed, tot["xadd"], tot["versioned"], tot["es"],
             tot["delivered"], tot["acked"], tot["startkills"], m.v_found_present, m.es_retries),
          flush=True)
    if last:
        print("%s: verified at the end: %d XADD + %d explicit-id/ES.APPEND = %d writes, "
              "%d deliveries" % (fsync, last[0], last[1], last[0] + last[1], last[2]), flush=True)
    return passed, failed, (last[0] + last[1] if last else 0), (last[2] if last else 0)


def main():
    for b in (SERVER, MNEMO):
        if not os.access(b, os.X_OK):
            print("soak: %s is not built" % b)
            print("soak: 0 passed, 1 failed")
            return 1
    print("soak: %d cycles per phase, phases %s, seed %d (SOAK_SEED=%d to repeat the choices)"
          % (CYCLES, ",".join(PHASES), SEED, SEED), flush=True)
    rnd = random.Random(SEED)
    base = tempfile.mkdtemp(prefix="mnemo-soak-")
    P = F = W = D = 0
    try:
        for ph in PHASES:
            try:
                p, f, w, dl = run_phase(ph, rnd, base)
            except Fail as e:  # the first start failed
                print("%s: FAIL: %s" % (ph, e))
                p, f, w, dl = 0, 1, 0, 0
            P += p; F += f; W += w; D += dl
    finally:
        if KEEP or F:
            print("soak: directories kept in %s" % base)
        else:
            shutil.rmtree(base, ignore_errors=True)
    print("soak totals: %d cycles, %d writes verified, %d deliveries verified" % (P + F, W, D))
    print("soak: %d passed, %d failed" % (P, F))
    return 1 if F else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""A work queue: competing consumers, and a poison message that ends in the
dead-letter stream.

Two workers in one consumer group share the jobs of a stream (XREADGROUP
with ">": each job goes to one worker) and XACK what they finished. The
group has a queue policy:

    QUEUE.POLICY <jobs> workers VISIBILITY 400 MAXDELIVER 3 DEADLETTER <jobs>-dlq

so the server itself does what a worker would otherwise do with XAUTOCLAIM:
a job left pending (unacknowledged) for 400 ms is delivered again to the
next worker that reads, before any new job, with its delivery count raised.
One job is poison: its worker fails on it every time and never acks it.
After its third delivery times out, the server moves it — atomically, and
durably before anyone is told — to the dead-letter stream, with its source
stream, entry id, group, delivery count and last consumer (dlq-* fields),
and takes it out of the group's pending list.

Then "the bug is fixed" and QUEUE.REPLAY puts the dead letter back on the
jobs stream as a new entry, where a worker processes it.

    MNEMO_PORT=6390 /usr/bin/python3 examples/work_queue.py
"""
import threading
import time
import uuid

from _common import connect

GROUP = "workers"
WORKERS = ("worker-a", "worker-b")
JOBS = 10
POISON = 4            # job number 4 always fails (until the fix)
VISIBILITY_MS = 400   # a pending job older than this is delivered again
MAX_DELIVERIES = 3    # after this many deliveries: dead letter


class Failed(Exception):
    pass


def process(fields, fixed):
    """The business logic: every job succeeds except the poison one, until
    the fix is deployed."""
    if fields.get("poison") == "yes" and not fixed.is_set():
        raise Failed("cannot process job %s" % fields["job"])
    return int(fields["job"]) ** 2


def run_worker(name, jobs, done, stop, fixed, log):
    r = connect()
    try:
        while not stop.is_set():
            # Due jobs (redelivered by the server) come first, then new ones.
            reply = r.xreadgroup(GROUP, name, {jobs: ">"}, count=1, block=50)
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    try:
                        result = process(fields, fixed)
                    except Failed:
                        p = r.xpending_range(jobs, GROUP, entry_id, entry_id, 1)
                        log.append((name, "failed", fields["job"],
                                    p[0]["times_delivered"] if p else None))
                        continue  # no XACK: the server delivers it again later
                    r.xack(jobs, GROUP, entry_id)
                    done.append((int(fields["job"]), name, result))
    finally:
        r.close()


def wait_for(cond, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline and not cond():
        time.sleep(0.05)
    return cond()


def main(timeout=20.0):
    r = connect()
    tag = uuid.uuid4().hex[:12]
    jobs, dlq = "jobs-%s" % tag, "jobs-%s-dlq" % tag
    r.xgroup_create(jobs, GROUP, id="0", mkstream=True)
    r.execute_command("QUEUE.POLICY", jobs, GROUP, "VISIBILITY", VISIBILITY_MS,
                      "MAXDELIVER", MAX_DELIVERIES, "DEADLETTER", dlq)
    flat = r.execute_command("QUEUE.POLICY", jobs, GROUP)
    policy = dict(zip(flat[0::2], flat[1::2]))
    for n in range(JOBS):
        r.xadd(jobs, {"type": "Job", "job": str(n), "poison": "yes" if n == POISON else "no"})

    done, log, stop, fixed = [], [], threading.Event(), threading.Event()
    threads = [threading.Thread(target=run_worker, args=(w, jobs, done, stop, fixed, log))
               for w in WORKERS]
    for t in threads:
        t.start()
    try:
        # every good job done, and the poison one in the dead-letter stream
        wait_for(lambda: len(done) == JOBS - 1 and r.xlen(dlq) >= 1, timeout)
        dead = [fields for _id, fields in r.xrange(dlq)]
        pending = r.xpending(jobs, GROUP)["pending"]
        # the fix is deployed: put the dead letter back and let it run
        fixed.set()
        replayed = r.execute_command("QUEUE.REPLAY", dlq)
        wait_for(lambda: len(done) == JOBS, timeout)
    finally:
        stop.set()
        for t in threads:
            t.join()
    print("policy:", policy)
    print("processed:", sorted(j for j, _, _ in done))
    print("by worker:", {w: sum(1 for _, n, _ in done if n == w) for w in WORKERS})
    for name, what, job, deliveries in log:
        print("  %s %s job %s (delivery %s)" % (name, what, job, deliveries))
    print("dead letters:", dead)
    print("replayed:", replayed, "- dead-letter stream now holds", r.xlen(dlq))
    res = {"jobs": jobs, "dlq": dlq, "policy": policy,
           "processed": sorted(j for j, _, _ in done),
           "workers": sorted({n for _, n, _ in done}), "dead_letters": dead,
           "pending_before_replay": pending, "replayed": replayed,
           "dlq_after_replay": r.xlen(dlq), "pending": r.xpending(jobs, GROUP)["pending"],
           "log": log}
    r.close()
    return res


if __name__ == "__main__":
    main()

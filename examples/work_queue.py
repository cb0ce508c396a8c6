#!/usr/bin/python3
"""A work queue: competing consumers, and a poison message that ends in the
dead-letter stream.

Two workers in one consumer group share the jobs of a stream (XREADGROUP
with ">": each job goes to one worker) and XACK what they finished. One job
is poison: its worker fails on it every time and never acks it. A job left
pending longer than VISIBILITY_MS is taken over by the next worker that
calls XAUTOCLAIM (each claim counts as a delivery). Once a job has been
delivered MAX_DELIVERIES times and fails again, the worker moves it to the
dead-letter stream: XADD of the job with its source stream, entry id, group,
delivery count and last consumer, then XACK on the source group (in that
order: a crash in between leaves a duplicate dead letter, never a lost job).

NOTE: the server will do this itself with QUEUE.POLICY <stream> <group>
VISIBILITY <ms> MAXDELIVER <n> DEADLETTER <stream> (and QUEUE.REPLAY to put
dead letters back) — QUEUE.POLICY is not implemented yet, so here the
example code does the redelivery and the dead-lettering by hand.

    MNEMO_PORT=6390 /usr/bin/python3 examples/work_queue.py
"""
import threading
import time
import uuid

from _common import connect

GROUP = "workers"
WORKERS = ("worker-a", "worker-b")
JOBS = 10
POISON = 4            # job number 4 always fails
VISIBILITY_MS = 200   # a pending job older than this is claimed again
MAX_DELIVERIES = 3    # after this many failed deliveries: dead letter


class Failed(Exception):
    pass


def process(fields):
    """The business logic: every job succeeds except the poison one."""
    if fields.get("poison") == "yes":
        raise Failed("cannot process job %s" % fields["job"])
    return int(fields["job"]) ** 2


def run_worker(name, jobs, dlq, done, stop, log):
    r = connect()

    def handle(entry_id, fields):
        try:
            result = process(fields)
        except Failed:
            # how many times has this entry been delivered (this one included)?
            p = r.xpending_range(jobs, GROUP, entry_id, entry_id, 1)
            deliveries = p[0]["times_delivered"] if p else 1
            log.append((name, "failed", fields["job"], deliveries))
            if deliveries >= MAX_DELIVERIES:
                r.xadd(dlq, dict(fields, source_stream=jobs, source_id=entry_id, group=GROUP,
                                 deliveries=str(deliveries), last_consumer=name))
                r.xack(jobs, GROUP, entry_id)
                log.append((name, "dead-lettered", fields["job"], deliveries))
            # else: no XACK -- the job stays pending and becomes visible again
            return
        r.xack(jobs, GROUP, entry_id)
        done.append((int(fields["job"]), name, result))

    try:
        while not stop.is_set():
            # 1. jobs whose worker did not ack them within VISIBILITY_MS
            _next, claimed, _deleted = r.xautoclaim(jobs, GROUP, name, VISIBILITY_MS, "0-0", count=10)
            for entry_id, fields in claimed:
                if fields is not None:
                    handle(entry_id, fields)
            # 2. new jobs
            reply = r.xreadgroup(GROUP, name, {jobs: ">"}, count=1, block=50)
            for _stream, entries in reply or []:
                for entry_id, fields in entries:
                    handle(entry_id, fields)
    finally:
        r.close()


def main(timeout=20.0):
    r = connect()
    tag = uuid.uuid4().hex[:12]
    jobs, dlq = "jobs-%s" % tag, "jobs-%s-dlq" % tag
    r.xgroup_create(jobs, GROUP, id="0", mkstream=True)
    for n in range(JOBS):
        r.xadd(jobs, {"type": "Job", "job": str(n), "poison": "yes" if n == POISON else "no"})

    done, log, stop = [], [], threading.Event()
    threads = [threading.Thread(target=run_worker, args=(w, jobs, dlq, done, stop, log)) for w in WORKERS]
    for t in threads:
        t.start()
    deadline = time.time() + timeout
    while time.time() < deadline and not (len(done) == JOBS - 1 and r.xlen(dlq) >= 1):
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()

    dead = [fields for _id, fields in r.xrange(dlq)]
    pending = r.xpending(jobs, GROUP)["pending"]
    print("processed:", sorted(j for j, _, _ in done))
    print("by worker:", {w: sum(1 for _, n, _ in done if n == w) for w in WORKERS})
    for name, what, job, deliveries in log:
        print("  %s %s job %s (delivery %s)" % (name, what, job, deliveries))
    print("dead letters:", dead)
    r.close()
    return {"jobs": jobs, "dlq": dlq, "processed": sorted(j for j, _, _ in done),
            "workers": sorted({n for _, n, _ in done}), "dead_letters": dead,
            "pending": pending, "log": log}


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""The projection benchmark (bench/run-projections.sh starts the server):
load N events into account-* streams, create the balances projection
(examples/projections/balances.lua), and measure

  apply rate   events/s from PROJECTION.CREATE until QUERY ... AFTER <last>
               answers (the whole store folded into SQLite)
  query        latency of PROJECTION.QUERY by primary key (p50/p99/max),
               and of QUERY ... AFTER right after an append (read-your-writes)

    /usr/bin/python3 bench/projections.py PORT N
"""
import json
import os
import sys
import time

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNTS = 10000
PER_CMD = 1000


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def cpu_seconds():
    """User + system CPU time of the server (SERVER_PID), or None."""
    pid = os.environ.get("SERVER_PID")
    if not pid:
        return None
    with open("/proc/%s/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    r = redis.Redis(port=port, decode_responses=True, socket_timeout=600)
    t0 = time.time()
    pipe = r.pipeline(transaction=False)
    sent = last = 0
    expect = {}
    while sent < n:
        # one command per account batch: created first, then deposits/withdrawals
        acct = (sent // PER_CMD) % ACCOUNTS
        stream = "account-%d" % acct
        args = ["ES.APPEND", stream, "ANY"]
        for k in range(min(PER_CMD, n - sent)):
            if stream not in expect:
                args += ["EVENT", "*", "AccountCreated", '{"name":"n%d"}' % acct]
                expect[stream] = 0
            elif k % 3 == 2:
                args += ["EVENT", "*", "MoneyWithdrawn", '{"amount":1}']
                expect[stream] -= 1
            else:
                args += ["EVENT", "*", "MoneyDeposited", '{"amount":2}']
                expect[stream] += 2
        sent += (len(args) - 3) // 4
        pipe.execute_command(*args)
        if len(pipe) >= 20:
            last = pipe.execute()[-1][1]
    if len(pipe):
        last = pipe.execute()[-1][1]
    load_s = time.time() - t0
    print("loaded %d events in %.1fs (%.0f events/s appended, fsync never)" % (n, load_s, n / load_s))

    definition = open(os.path.join(HERE, "..", "examples", "projections", "balances.lua")).read()
    t0, c0 = time.time(), cpu_seconds()
    r.execute_command("PROJECTION.CREATE", "balances", definition)
    r.execute_command("PROJECTION.QUERY", "balances", "SELECT 1", "AFTER", last, "TIMEOUT", 0)
    apply_s = time.time() - t0
    rate = n / apply_s
    print("applied %d events in %.2fs: %.0f events/s (target >= 200000)" % (n, apply_s, rate))
    cpu_rate = None
    if c0 is not None:
        cpu = cpu_seconds() - c0
        cpu_rate = n / cpu if cpu > 0 else None
        print("  server CPU time meanwhile %.2fs: %.0f events per CPU-second (load-independent)"
              % (cpu, cpu_rate or 0))

    rows = r.execute_command("PROJECTION.QUERY", "balances", "SELECT id, balance FROM balances")
    got = {k: v for k, v in rows}
    assert got == expect, "the read model does not match the events"

    lat = []
    for i in range(2000):
        t = time.perf_counter()
        r.execute_command("PROJECTION.QUERY", "balances", "SELECT balance FROM balances WHERE id = ?",
                          "account-%d" % (i % ACCOUNTS))
        lat.append((time.perf_counter() - t) * 1000)
    print("query by key: p50 %.3f ms, p99 %.3f ms, max %.3f ms" % (pct(lat, 50), pct(lat, 99), max(lat)))
    ryw = []
    for i in range(300):
        t = time.perf_counter()
        pos = r.execute_command("ES.APPEND", "account-1", "ANY", "EVENT", "*", "MoneyDeposited",
                                '{"amount":1}')[1]
        r.execute_command("PROJECTION.QUERY", "balances", "SELECT balance FROM balances WHERE id = ?",
                          "account-1", "AFTER", pos)
        ryw.append((time.perf_counter() - t) * 1000)
    print("append + QUERY AFTER (read-your-writes): p50 %.3f ms, p99 %.3f ms" % (pct(ryw, 50), pct(ryw, 99)))
    print(json.dumps({"events": n, "apply_events_per_s": round(rate), "events_per_cpu_s": cpu_rate and round(cpu_rate), "query_p50_ms": pct(lat, 50),
                      "query_p99_ms": pct(lat, 99), "ryw_p50_ms": pct(ryw, 50)}))


if __name__ == "__main__":
    main()

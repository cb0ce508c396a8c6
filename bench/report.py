#!/usr/bin/python3
"""report.py — turns the raw samples of the benchmarks into markdown.

    report.py SAMPLES.tsv META.txt > foundation-DATE.md          (run-foundation.sh)
    report.py server SAMPLES.tsv META.txt XADD_N XADD16_N READ_N RSS_N > server-DATE.md
                                                                   (run-server.sh)
    report.py es SAMPLES.tsv META.txt ES_N PG_SECS CLIENTS STREAMS DATA > es-DATE.md
                                                                   (run-es.sh)

SAMPLES.tsv has one line per figure and run: run, name, value, unit (the
RESULT lines of append_bench and fio.sh, or run-server.sh's figures, tagged
with their run). META.txt is
"key: value" lines (machine, commands) printed as they are. Every figure is
shown as the median over runs, with min-max where it matters; every ratio is
taken within one run (Mnemosyne and the disk, or Mnemosyne and Redis,
measured minutes apart under the same neighbours) and the median of those
per-run ratios is shown.
"""
import statistics
import sys
from collections import OrderedDict


def load(path):
    samples = OrderedDict()  # name -> {run: value}
    units = {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            run, name, value, unit = parts
            samples.setdefault(name, {})[int(run)] = float(value)
            units[name] = unit
    return samples, units


def fmt(x):
    if x is None:
        return "-"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


class Figures:
    def __init__(self, samples, units):
        self.s = samples
        self.u = units

    def med(self, name):
        v = self.s.get(name)
        return statistics.median(v.values()) if v else None

    def rng(self, name):
        v = self.s.get(name)
        if not v:
            return "-"
        return f"{fmt(min(v.values()))}–{fmt(max(v.values()))}"

    def cell(self, name, spread=False):
        m = self.med(name)
        if m is None:
            return "-"
        return f"{fmt(m)} ({self.rng(name)})" if spread else fmt(m)

    def ratio_median(self, num, den):
        a, b = self.s.get(num, {}), self.s.get(den, {})
        rs = [a[r] / b[r] for r in a if r in b and b[r]]
        return statistics.median(rs) if rs else None

    def ratio(self, num, den):
        a, b = self.s.get(num, {}), self.s.get(den, {})
        rs = [a[r] / b[r] for r in a if r in b and b[r]]
        if not rs:
            return "-", "-"
        return fmt(statistics.median(rs)), f"{fmt(min(rs))}–{fmt(max(rs))}"


def setup_lines(meta_path, runs):
    out = ["## Setup\n"]
    with open(meta_path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                out.append(f"- {line}")
    out.append(f"- runs: {len(runs)}; each figure is the median over runs (min–max in brackets)\n")
    return out


def every_figure(samples, units, F):
    out = ["## Every figure\n", "| metric | median | min–max | unit | n |", "|---|---|---|---|---|"]
    for name in samples:
        out.append(f"| {name} | {F.cell(name)} | {F.rng(name)} | {units[name]} | {len(samples[name])} |")
    return out


def main():
    samples, units = load(sys.argv[1])
    F = Figures(samples, units)
    runs = sorted({r for v in samples.values() for r in v})
    out = []
    p = out.append

    out.extend(setup_lines(sys.argv[2], runs))

    p("## Disk limits (fio, same filesystem, same runs)\n")
    p("| fio case | MiB/s | fdatasync/s | fdatasync p50 µs | fdatasync p99 µs |")
    p("|---|---|---|---|---|")
    for case, label in [("seq_1M_direct", "sequential 1 MiB, O_DIRECT, qd1 (+ final fsync)"),
                        ("seq_1M_buffered", "sequential 1 MiB, buffered (+ final fsync)"),
                        ("append_256B_fdatasync", "append 256 B + fdatasync"),
                        ("append_4k_fdatasync", "append 4 KiB + fdatasync"),
                        ("append_64k_fdatasync", "append 64 KiB + fdatasync"),
                        ("append_256k_fdatasync", "append 256 KiB + fdatasync")]:
        n = f"fio.{case}"
        p(f"| {label} | {F.cell(n + '.MiB_per_s', True)} | {F.cell(n + '.syncs_per_s', True)} "
          f"| {F.cell(n + '.sync_p50_us')} | {F.cell(n + '.sync_p99_us')} |")
    p("")

    p("## Appends (in-process mn_append, 100-byte events, 1000 streams)\n")
    p("events/s and the rest are medians over runs; log MiB/s counts the bytes the log grew "
      "by (224 B per event: header, ids, type, data); written B/event is everything passed to "
      "write(2) — log plus index (LMDB) pages; appends/fdatasync is mn_append calls per "
      "fdatasync call (the index flush every ~2 s included).\n")
    p("| fsync | batch | threads | events/s (min–max) | ns/event | log MiB/s | p50 µs/call "
      "| p99 µs/call | appends/fdatasync | written B/event |")
    p("|---|---|---|---|---|---|---|---|---|---|")
    cases = []
    for name in samples:
        if name.startswith("append.") and name.endswith(".events_per_s"):
            cases.append(name[: -len(".events_per_s")])
    for c in cases:
        _, pol, b, t = c.split(".")
        pol_label = {"always": "always", "never": "never"}.get(pol, pol.replace("interval", "interval:"))
        p(f"| {pol_label} | {b[1:]} | {t[1:]} | {F.cell(c + '.events_per_s', True)} "
          f"| {F.cell(c + '.ns_per_event')} | {F.cell(c + '.log_MiB_per_s')} "
          f"| {F.cell(c + '.p50_us')} | {F.cell(c + '.p99_us')} "
          f"| {F.cell(c + '.appends_per_fdatasync')} | {F.cell(c + '.written_bytes_per_event')} |")
    p("")

    p("## Ratios to the disk (each taken within one run, then the median)\n")
    p("| claim | Mnemosyne | disk (fio) | ratio | min–max |")
    p("|---|---|---|---|---|")
    rows = [
        ("fsync=always, 1 appender, batch 1: appends/s vs 4 KiB append+fdatasync/s",
         "append.always.b1.t1.appends_per_s", "fio.append_4k_fdatasync.syncs_per_s"),
        ("fsync=always, 1 appender, batch 1: appends/s vs 256 B append+fdatasync/s (same write size)",
         "append.always.b1.t1.appends_per_s", "fio.append_256B_fdatasync.syncs_per_s"),
        ("fsync=always, 1 appender, batch 1: p50 µs per append vs 256 B fdatasync p50 µs",
         "append.always.b1.t1.p50_us", "fio.append_256B_fdatasync.sync_p50_us"),
        ("fsync=always, 64 appenders, batch 1 (group commit): appends/s vs 4 KiB fdatasync/s",
         "append.always.b1.t64.appends_per_s", "fio.append_4k_fdatasync.syncs_per_s"),
        ("fsync=always, 1 appender, batch 1000: log MiB/s vs sequential O_DIRECT MiB/s",
         "append.always.b1000.t1.log_MiB_per_s", "fio.seq_1M_direct.MiB_per_s"),
        ("fsync=always, 1 appender, batch 1000: log MiB/s vs sequential buffered MiB/s",
         "append.always.b1000.t1.log_MiB_per_s", "fio.seq_1M_buffered.MiB_per_s"),
        ("fsync=always, 1 appender, batch 1000: log MiB/s vs 256 KiB append+fdatasync MiB/s",
         "append.always.b1000.t1.log_MiB_per_s", "fio.append_256k_fdatasync.MiB_per_s"),
        ("fsync=always, 4 appenders, batch 1000: log MiB/s vs sequential O_DIRECT MiB/s",
         "append.always.b1000.t4.log_MiB_per_s", "fio.seq_1M_direct.MiB_per_s"),
        ("fsync=always, 4 appenders, batch 1000: log MiB/s vs 256 KiB append+fdatasync MiB/s",
         "append.always.b1000.t4.log_MiB_per_s", "fio.append_256k_fdatasync.MiB_per_s"),
        ("fsync=never, 1 appender, batch 1000: log MiB/s vs sequential buffered MiB/s",
         "append.never.b1000.t1.log_MiB_per_s", "fio.seq_1M_buffered.MiB_per_s"),
    ]
    for label, a, b in rows:
        r, mm = F.ratio(a, b)
        p(f"| {label} | {F.cell(a)} {units.get(a, '')} | {F.cell(b)} {units.get(b, '')} | {r} | {mm} |")
    p("")

    nev = F.med("fill.events")
    nev_s = f"{nev / 1e6:g}M" if nev else "?"
    p(f"## Reads (the store of the memory check below: {nev_s} events in 1000 streams, warm page cache)\n")
    p("| read | figure | min–max |")
    p("|---|---|---|")
    for n, label in [("scan.events_per_s", "$all scan (mn_read_all), events/s"),
                     ("scan.log_MiB_per_s", "$all scan, log MiB/s"),
                     ("scan.payload_MiB_per_s", "$all scan, payload MiB/s"),
                     ("reads.stream100.reads_per_s", "mn_read_stream of 100 events, random stream and start, reads/s"),
                     ("reads.stream100.events_per_s", "  the same, events/s"),
                     ("reads.stream100.p50_us", "  the same, p50 µs per read"),
                     ("reads.stream100.p99_us", "  the same, p99 µs per read")]:
        p(f"| {label} | {F.cell(n)} | {F.rng(n)} |")
    p("")

    p(f"## Memory: RSS while appending {nev_s} events (fsync=never, batches of 100, 1000 streams)\n")
    p("VmRSS = RssAnon (heap, stacks) + RssFile (pages of mapped files: the LMDB index "
      "and, after reads, the log segments; page cache, reclaimable, shared).\n")
    p("| after | VmRSS MiB | RssAnon MiB | RssFile MiB |")
    p("|---|---|---|---|")
    for at, label in [("open_before", "start (before mn_open)"), ("0", "mn_open"), ("100k", "100k events"),
                      ("250k", "250k events"), ("500k", "500k events"), ("1M", "1M events")]:
        p(f"| {label} | {F.cell('fill.VmRSS_at_' + at, True)} | {F.cell('fill.RssAnon_at_' + at)} "
          f"| {F.cell('fill.RssFile_at_' + at)} |")
    p(f"| after a full $all scan (new process, read-only) | {F.cell('scan.VmRSS_after', True)} "
      f"| {F.cell('scan.RssAnon_after')} | {F.cell('scan.RssFile_after')} |")
    p("")
    p("| on disk, per event | bytes |")
    p("|---|---|")
    for n, label in [("fill.log_bytes_per_event", "log (logical)"),
                     ("fill.disk_log_bytes_per_event", "log (allocated)"),
                     ("fill.disk_index_bytes_per_event", "index (LMDB, allocated)"),
                     ("fill.disk_total_bytes_per_event", "total")]:
        p(f"| {label} | {F.cell(n)} |")
    p(f"\nFill rate while measuring: {F.cell('fill.events_per_s', True)} events/s.\n")

    out.extend(every_figure(samples, units, F))
    print("\n".join(out))


def count_label(n):
    if n == 0:
        return "0"
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def targets_and_figures(out, title, verdicts, samples, units, F):
    """The end of a report: the targets met or not, every figure; printed."""
    out.append(f"## {title}\n")
    out.append("| target | measured | met? |")
    out.append("|---|---|---|")
    for label, what, met in verdicts:
        out.append(f"| {label} | {what} | {'yes' if met else '**no**'} |")
    out.append("")
    out.extend(every_figure(samples, units, F))
    print("\n".join(out))


def throughput_table(F, p, other, rows):
    """One row per (label, mine, theirs, target): ops/s, p50 and p99 of both
    sides (figures NAME.ops_per_s/.p50_ms/.p99_ms) and the median of the
    per-run ratios against the target. Returns (label, measured, met) per row."""
    p(f"| case | Mnemosyne ops/s | p50 ms | p99 ms | {other} | p50 ms | p99 ms "
      "| ratio (min–max) | target | met? |")
    p("|---|---|---|---|---|---|---|---|---|---|")
    verdicts = []
    for label, m, r, target in rows:
        ratio, mm = F.ratio(m + ".ops_per_s", r + ".ops_per_s")
        med = F.ratio_median(m + ".ops_per_s", r + ".ops_per_s")
        met = med is not None and med >= target
        verdicts.append((label, f"×{ratio} (runs {mm}) against ≥ ×{target:g}", met))
        p(f"| {label} | {F.cell(m + '.ops_per_s', True)} | {F.cell(m + '.p50_ms')} | {F.cell(m + '.p99_ms')} "
          f"| {F.cell(r + '.ops_per_s', True)} | {F.cell(r + '.p50_ms')} | {F.cell(r + '.p99_ms')} "
          f"| **×{ratio}** ({mm}) | ≥ ×{target:g} | {'yes' if met else '**no**'} |")
    p("")
    return verdicts


def server_main(args):
    """The report of run-server.sh: mnemosyned ("mn.*") next to redis-server
    ("redis.*"), the ratios against issue 3's targets, fsyncs, CPU, RSS."""
    tsv, meta, xadd_n, xadd16_n, read_n, rss_n = args[0], args[1], *map(int, args[2:6])
    samples, units = load(tsv)
    F = Figures(samples, units)
    runs = sorted({r for v in samples.values() for r in v})
    val = "<100B>"  # a literal 100-byte value: 'v' x 100
    out = setup_lines(meta, runs)
    p = out.append

    p("## Commands (each run; the two servers alternate, Mnemosyne first in odd runs)\n")
    p("Every server is fresh (new data directory), on its own free loopback port, and stopped by "
      "its PID. Field value: a literal 100-byte string (`v` × 100), one stream `s`, no `-r`.\n")
    p("```sh")
    p("# 1. durable XADD, -P 1")
    p("mnemosyned --port P --bind 127.0.0.1 --dir DIR --fsync always")
    p("redis-server --port P --bind 127.0.0.1 --dir DIR --save '' --appendonly yes --appendfsync always")
    p(f"redis-benchmark -h 127.0.0.1 -p P -n {xadd_n} -c 50 -P 1 --csv XADD s '*' f {val}")
    p(f"# 3. then, on the same server and its {xadd_n}-entry stream")
    p(f"redis-benchmark -h 127.0.0.1 -p P -n {read_n} -c 50 -P 1 --csv XRANGE s - + COUNT 100")
    p("# 2. XADD -P 16, fsync once a second (fresh servers)")
    p("mnemosyned ... --fsync interval:1000")
    p("redis-server ... --appendonly yes --appendfsync everysec")
    p(f"redis-benchmark -h 127.0.0.1 -p P -n {xadd16_n} -c 50 -P 16 --csv XADD s '*' f {val}")
    p(f"# 4. memory: fresh servers, VmRSS read at 0, then after each of 4 steps of {rss_n // 4}")
    p("mnemosyned ... --fsync never")
    p("redis-server ... --appendonly no")
    p(f"redis-benchmark -h 127.0.0.1 -p P -n {rss_n // 4} -c 50 -P 40 -q XADD s '*' f {val}   # x 4")
    p("```\n")

    targets = [
        ("durable XADD, -P 1: Mnemosyne `--fsync always` vs Redis `appendfsync always`",
         "xadd_durable.P1", 2.0),
        ("XADD -P 16: Mnemosyne `--fsync interval:1000` vs Redis `appendfsync everysec`",
         "xadd_interval.P16", 1.5),
        ("`XRANGE s - + COUNT 100`, -P 1", "xrange100.P1", 1.0),
    ]
    p("## Throughput and latency (redis-benchmark -c 50; ratio = Mnemosyne / Redis within each run)\n")
    verdicts = throughput_table(F, p, "Redis ops/s",
                                [(label, f"mn.{case}", f"redis.{case}", target) for label, case, target in targets])

    p("## Where the writes go (during cases 1 and 2)\n")
    p("fsyncs = the server's `fdatasync` + `fsync` calls, counted with "
      "`perf stat -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -p PID` over the "
      "redis-benchmark run; ops/fsync = requests / fsyncs (how many appends share one sync). "
      "CPU = user + system time of the server's threads (from /proc/PID/task/*/stat) per "
      "request: the main thread is the event loop in both servers; the other threads are "
      "mnemosyned's engine writer (+ an idle worker) and Redis's bio threads.\n")
    p("| case | server | fsyncs/s | ops/fsync | CPU µs/op, event loop | CPU µs/op, other threads |")
    p("|---|---|---|---|---|---|")
    for label, case, _ in targets[:2]:
        for who, name in (("mn", "Mnemosyne"), ("redis", "Redis")):
            n = f"{who}.{case}"
            p(f"| {case} | {name} | {F.cell(n + '.syncs_per_s', True)} | {F.cell(n + '.ops_per_sync')} "
              f"| {F.cell(n + '.cpu_loop_us_per_op')} | {F.cell(n + '.cpu_other_us_per_op')} |")
    p("")

    step = rss_n // 4
    at = [0, step, 2 * step, 3 * step, rss_n]
    labels = [count_label(n) for n in at]
    p(f"## Memory: VmRSS of the server while {count_label(rss_n)} XADDs of 100 B arrive "
      "(Mnemosyne `--fsync never`, Redis no persistence)\n")
    p("RssAnon is the process's own memory (heap, stacks); RssFile is resident pages of mapped "
      "files (for Mnemosyne: the LMDB index and log segments; page cache, shared and reclaimable).\n")
    p("| after | Mnemosyne VmRSS MiB | RssAnon | RssFile | Redis VmRSS MiB | RssAnon | Mnemosyne / Redis |")
    p("|---|---|---|---|---|---|---|")
    for lab in labels:
        m, r = f"mn.rss.VmRSS_at_{lab}", f"redis.rss.VmRSS_at_{lab}"
        ratio, mm = F.ratio(m, r)
        p(f"| {lab} XADDs | {F.cell(m, True)} | {F.cell(f'mn.rss.RssAnon_at_{lab}')} "
          f"| {F.cell(f'mn.rss.RssFile_at_{lab}')} | {F.cell(r, True)} "
          f"| {F.cell(f'redis.rss.RssAnon_at_{lab}')} | ×{ratio} ({mm}) |")
    p("")
    last, first = labels[-1], labels[1]
    rmed = F.ratio_median(f"mn.rss.VmRSS_at_{last}", f"redis.rss.VmRSS_at_{last}")
    ratio, mm = F.ratio(f"mn.rss.VmRSS_at_{last}", f"redis.rss.VmRSS_at_{last}")
    grow = {}
    for who in ("mn", "redis"):
        a, b = F.med(f"{who}.rss.VmRSS_at_{first}"), F.med(f"{who}.rss.VmRSS_at_{last}")
        grow[who] = None if a is None or b is None else (b - a, (b - a) * 1048576 / (rss_n - step), b / a if a else None)
    flat = grow["mn"] is not None and grow["mn"][2] is not None and grow["mn"][2] <= 1.10
    for who, name in (("mn", "Mnemosyne"), ("redis", "Redis")):
        g = grow[who]
        if g:
            p(f"- {name}: VmRSS grows by {fmt(g[0])} MiB from {first} to {last} XADDs "
              f"({fmt(g[1])} bytes per added entry; ×{fmt(g[2])})")
    p(f"- Mnemosyne's store on disk after {last}: {F.cell('mn.disk.allocated_MiB')} MiB allocated "
      f"({F.cell('mn.disk.allocated_bytes_per_entry')} B/entry; log {F.cell('mn.disk.log_bytes_per_entry')} "
      "B/entry, the rest is the LMDB index)")
    p("")
    verdicts.append((f"RSS after {last} XADDs ≤ ¼ of Redis's",
                     f"×{ratio} (runs {mm}) against ≤ ×0.25", rmed is not None and rmed <= 0.25))
    verdicts.append((f"RSS flat as the log grows (here: VmRSS at {last} within 10 % of VmRSS at {first})",
                     (f"×{fmt(grow['mn'][2])} ({fmt(grow['mn'][1])} B per added entry)" if grow["mn"] else "-"),
                     flat))

    targets_and_figures(out, "Targets (issue 3)", verdicts, samples, units, F)


def es_main(args):
    """The report of run-es.sh: ES.APPEND on mnemosyned ("mn.*") next to
    PostgreSQL as an event-store table ("pg.*"), and the ratio against the
    target (issue 4: Mnemosyne >= 5x PostgreSQL)."""
    tsv, meta, es_n, pg_secs, clients, streams, data = args[0], args[1], int(args[2]), int(args[3]), \
        int(args[4]), int(args[5]), args[6]
    samples, units = load(tsv)
    F = Figures(samples, units)
    runs = sorted({r for v in samples.values() for r in v})
    per = streams // clients
    out = setup_lines(meta, runs)
    p = out.append

    p("## Commands (each run; the two alternate, Mnemosyne first in odd runs)\n")
    p(f"Both sides: {clients} clients, one request in flight each, one event per request / "
      f"transaction, {streams} streams, data = the same {len(data.encode())}-byte JSON "
      "(`DATA` below), type `Deposited`, event id generated by the server. Every server is "
      "fresh, on its own free loopback port, and stopped by its PID.\n")
    p("```sh")
    p(f"DATA='{data}'")
    p("mnemosyned --port P --bind 127.0.0.1 --dir DIR --fsync always")
    p("# any: expected version ANY, a random stream of the 1000")
    p(f"redis-benchmark -h 127.0.0.1 -p P -n {es_n} -c {clients} -P 1 -r {streams} --csv \\")
    p("    ES.APPEND 'acct-__rand_int__' ANY EVENT '*' Deposited \"$DATA\"")
    p(f"# exact: client k owns streams k*{per}..k*{per}+{per - 1}, appends round-robin "
      "with the exact expected version")
    p(f"es_load -h 127.0.0.1 -p P -c {clients} -n {es_n} -s {streams} -m exact --prefix ex- "
      "--type Deposited --data \"$DATA\"")
    p("# any, again with es_load (a check of the load generator)")
    p(f"es_load -h 127.0.0.1 -p P -c {clients} -n {es_n} -s {streams} -m any --prefix load- "
      "--type Deposited --data \"$DATA\"")
    p("")
    p("initdb -U postgres -A trust -E UTF8 --no-locale   # then default settings: fsync on, "
      "synchronous_commit on")
    p("postgres -D DATA -p P -c listen_addresses=127.0.0.1 -c unix_socket_directories=")
    p("psql -c 'CREATE TABLE streams (stream text PRIMARY KEY, version bigint NOT NULL)'")
    p("psql -c 'CREATE TABLE events (stream text NOT NULL, version bigint NOT NULL, "
      "id uuid NOT NULL DEFAULT gen_random_uuid(), type text NOT NULL, data jsonb NOT NULL, "
      "meta jsonb, ts timestamptz NOT NULL DEFAULT now(), position bigserial NOT NULL, "
      "PRIMARY KEY (stream, version), UNIQUE (id), UNIQUE (position))'")
    p(f"pgbench -h 127.0.0.1 -p P -U postgres -n -c {clients} -j 2 -T {pg_secs} -M prepared "
      "-D i=0 -l -f pg_any.sql bench     # then -f pg_exact.sql")
    p("```\n")
    p("```sql")
    p("-- pg_any.sql: the stream's row is created or bumped (its lock orders appends to one stream)")
    p(f"\\set r random(0, {streams - 1})")
    p("WITH v AS (INSERT INTO streams VALUES ('acct-' || lpad(:r::text, 12, '0'), 0)")
    p("           ON CONFLICT (stream) DO UPDATE SET version = streams.version + 1")
    p("           RETURNING stream, version)")
    p("INSERT INTO events (stream, version, type, data) SELECT stream, version, 'Deposited', 'DATA' FROM v;")
    p("-- pg_exact.sql: client k's i-th event, at the version it knows; the primary key is the check")
    p(f"\\set s :client_id * {per} + :i % {per}")
    p(f"\\set v :i / {per}")
    p("INSERT INTO events (stream, version, type, data) VALUES ('ex-' || lpad(:s::text, 12, '0'), :v, 'Deposited', 'DATA');")
    p("\\set i :i + 1")
    p("```\n")

    target = 5.0
    cases = [("ES.APPEND … ANY, random stream of 1000 (Mnemosyne: redis-benchmark)", "any", "any"),
             ("ES.APPEND … exact expected version, 1000 streams (Mnemosyne: es_load)", "exact", "exact"),
             ("ES.APPEND … ANY, random stream of 1000 (Mnemosyne: es_load)", "any.es_load", "any")]
    p("## Throughput and latency (ratio = Mnemosyne / PostgreSQL within each run)\n")
    verdicts = throughput_table(F, p, "PostgreSQL tps",
                                [(label, f"mn.{mc}", f"pg.{pc}", target) for label, mc, pc in cases])
    verdicts = verdicts[:2]  # the es_load ANY row is a check of the generator, not a target
    if any(f"mn.{mc}.ops_per_sync" in samples for _, mc, _ in cases):
        p("Mnemosyne's group commits (appends per `fdatasync`, counted with perf over each case): "
          + ", ".join(f"{mc} {F.cell(f'mn.{mc}.ops_per_sync', True)}" for _, mc, _ in cases) + ".\n")
    verdicts = [(f"{label}: Mnemosyne ≥ 5× PostgreSQL", what, met) for label, what, met in verdicts]
    targets_and_figures(out, "Targets (issue 4)", verdicts, samples, units, F)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "server":
        server_main(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == "es":
        es_main(sys.argv[2:])
    else:
        main()

#!/usr/bin/python3
"""report.py — turns the raw samples of bench/run-foundation.sh into markdown.

    report.py SAMPLES.tsv META.txt > foundation-DATE.md

SAMPLES.tsv has one line per figure and run: run, name, value, unit (the
RESULT lines of append_bench and fio.sh, tagged with their run). META.txt is
"key: value" lines (machine, commands) printed as they are. Every figure is
shown as the median over runs, with min-max where it matters; every ratio is
taken within one run (Mnemosyne and the disk measured minutes apart, under
the same neighbours) and the median of those per-run ratios is shown.
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

    def ratio(self, num, den):
        a, b = self.s.get(num, {}), self.s.get(den, {})
        rs = [a[r] / b[r] for r in a if r in b and b[r]]
        if not rs:
            return "-", "-"
        return fmt(statistics.median(rs)), f"{fmt(min(rs))}–{fmt(max(rs))}"


def main():
    samples, units = load(sys.argv[1])
    F = Figures(samples, units)
    runs = sorted({r for v in samples.values() for r in v})
    out = []
    p = out.append

    p("## Setup\n")
    with open(sys.argv[2]) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                p(f"- {line}")
    p(f"- runs: {len(runs)}; each figure is the median over runs (min–max in brackets)\n")

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

    p("## Every figure\n")
    p("| metric | median | min–max | unit | n |")
    p("|---|---|---|---|---|")
    for name in samples:
        p(f"| {name} | {F.cell(name)} | {F.rng(name)} | {units[name]} | {len(samples[name])} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()

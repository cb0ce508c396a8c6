#!/bin/sh
# run-server.sh — the server benchmark: redis-benchmark against mnemosyned and
# Debian's redis-server in the same run, side by side, the two alternating
# (Mnemosyne first in odd runs, Redis first in even runs), BENCH_RUNS times;
# then a markdown report of medians, min-max and per-run ratios
# (report.py server). Benchmarks, not tests: `make test` never runs this.
#
#   bench/run-server.sh            (or `make -C bench server`; `make bench` runs it
#                                   after the foundation benchmark)
#
# Every case is redis-benchmark -c 50 with a literal 100-byte field value (as
# ../shared/anchors/02-redis-streams.sh does: one stream `s`, no -r):
#   1. XADD s * f <100B>, -P 1:  mnemosyned --fsync always   vs redis appendfsync always
#   2. XADD s * f <100B>, -P 16: mnemosyned --fsync interval:1000 vs redis appendfsync everysec
#   3. XRANGE s - + COUNT 100, -P 1, on the stream case 1 left (BENCH_XADD_N entries)
#   4. RSS (VmRSS) of the server after 0, 250k, 500k, 750k, 1M XADDs of 100 B
#      (-P 40; mnemosyned --fsync never, redis --appendonly no --save ''),
#      and mnemosyned's store size on disk.
# Each server starts fresh (new data dir under BENCH_DIR) on a free loopback
# port, is waited for with PING, and is stopped by its PID (SIGTERM, wait).
# While cases 1 and 2 run, `perf stat` counts the server's fdatasync/fsync
# calls (tracepoints; skipped when perf cannot) and the server's per-thread CPU
# time is read from /proc (main thread = event loop; the others = mnemosyned's
# engine writer and worker, redis's bio threads).
#
# Variables:
#   BENCH_RUNS      repetitions (default 5); figures are medians over them
#   BENCH_XADD_N    requests in case 1 (default 200000, as the anchors' ALWAYS_N)
#   BENCH_XADD16_N  requests in case 2 (default 500000)
#   BENCH_READ_N    requests in case 3 (default 50000)
#   BENCH_RSS_N     entries in case 4, added in 4 equal steps (default 1000000)
#   BENCH_DIR       where to make the scratch directory (mn-server-bench.XXXXXX,
#                   removed at the end; default ${TMPDIR:-/tmp})
#   BENCH_PORT      first port to try (default 17400; the next free one is used)
#   BENCH_PERF=0    do not count fsyncs with perf
#   MNEMOSYNED      the server binary (default TOP/build/mnemosyned)
#   BENCH_ENGINE    how to name the build in the report (default: git describe of TOP)
# Functions use `local` (dash, bash and busybox sh have it).
# Output: bench/results/server-<date>.md (report), .tsv (raw samples), .meta,
# and the report on stdout. About 3.5 minutes with the defaults.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "${TOP:-$HERE/..}" && pwd)
RUNS=${BENCH_RUNS:-5}
XADD_N=${BENCH_XADD_N:-200000}
XADD16_N=${BENCH_XADD16_N:-500000}
READ_N=${BENCH_READ_N:-50000}
RSS_N=${BENCH_RSS_N:-1000000}
BASE=${BENCH_DIR:-${TMPDIR:-/tmp}}
PORT=${BENCH_PORT:-17400}
MN=${MNEMOSYNED:-$TOP/build/mnemosyned}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
OUTDIR="$HERE/results"
TSV="$OUTDIR/server-$STAMP.tsv"
META="$OUTDIR/server-$STAMP.meta"
MD="$OUTDIR/server-$STAMP.md"

. "$HERE/lib.sh"

for c in redis-server redis-benchmark redis-cli ss "$PY"; do
    command -v "$c" >/dev/null 2>&1 || die "missing $c (scripts/install-deps.sh --bench)"
done
[ -x "$MN" ] || make -s -C "$TOP" build/mnemosyned
[ -x "$MN" ] || die "no $MN"
[ "$((RSS_N % 4))" -eq 0 ] || die "BENCH_RSS_N must be a multiple of 4"

bench_scratch server

VAL=$(printf 'v%.0s' $(seq 1 100)) # the 100-byte field value

# start_server mn|redis ARGS... -> SRV_PID, SRV_PORT, SRV_DIR; waits for PONG
start_server() {
    local kind
    kind=$1; shift
    SRV_PORT=$(free_port)
    SRV_DIR=$(mktemp -d "$DIR/$kind.XXXXXX")
    if [ "$kind" = mn ]; then
        "$MN" --port "$SRV_PORT" --bind 127.0.0.1 --dir "$SRV_DIR/data" --loglevel warning \
            "$@" >"$SRV_DIR/server.log" 2>&1 &
    else
        redis-server --port "$SRV_PORT" --bind 127.0.0.1 --dir "$SRV_DIR" --save '' \
            --daemonize no --loglevel warning "$@" >"$SRV_DIR/server.log" 2>&1 &
    fi
    SRV_PID=$!
    wait_ready "$SRV_PID" answers_ping "$SRV_PORT" ||
        die "$kind did not answer PING on $SRV_PORT: $(tail -5 "$SRV_DIR/server.log")"
}

# stop_server: SIGTERM to SRV_PID, wait for it (SIGKILL after 30 s).
stop_server() {
    local pid
    pid=$SRV_PID
    SRV_PID=""
    stop_pid "$pid" TERM 30
}

rcli() { redis-cli -h 127.0.0.1 -p "$SRV_PORT" "$@"; }

# status_kib FIELD -> a /proc/SRV_PID/status field in KiB
status_kib() { awk -v f="$1:" '$1 == f {print $2}' "/proc/$SRV_PID/status"; }

# cpu_ticks -> "main others": user+system clock ticks of the server's main
# thread (the event loop) and of all its other threads together
cpu_ticks() {
    local m=0 o=0 t v
    for t in /proc/"$SRV_PID"/task/*; do
        v=$(sed 's/^.*) //' "$t/stat" 2>/dev/null | awk '{print $12 + $13}') || continue
        [ -n "$v" ] || continue
        if [ "${t##*/}" = "$SRV_PID" ]; then m=$((m + v)); else o=$((o + v)); fi
    done
    echo "$m $o"
}
HZ=$(getconf CLK_TCK)

# bench RUN NAME N P CMD... : redis-benchmark -c 50 against the running
# server; records NAME.ops_per_s/.p50_ms/.p99_ms, and with COUNT_SYNCS=1 the
# server's fdatasync+fsync calls and CPU time per request.
bench() {
    local run="$1" name="$2" n="$3" p="$4" c0 c1 t0 t1 out rps p50 p99 syncs secs
    shift 4
    [ "${COUNT_SYNCS:-0}" = 1 ] && syncs_begin "$SRV_PID" "$DIR/perf.txt"
    c0=$(cpu_ticks)
    t0=$(date +%s.%N)
    out=$(timeout 600 redis-benchmark -h 127.0.0.1 -p "$SRV_PORT" -n "$n" -c 50 -P "$p" --csv "$@" | tail -1)
    t1=$(date +%s.%N)
    c1=$(cpu_ticks)
    # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
    rps=$(echo "$out" | awk -F'","' '{print $2}')
    p50=$(echo "$out" | awk -F'","' '{print $5}')
    p99=$(echo "$out" | awk -F'","' '{print $7}')
    [ -n "$rps" ] || die "$name: no result from redis-benchmark"
    record "$run" "$name.ops_per_s" "$rps" ops/s
    record "$run" "$name.p50_ms" "$p50" ms
    record "$run" "$name.p99_ms" "$p99" ms
    if [ "${COUNT_SYNCS:-0}" = 1 ]; then
        set -- $c0 $c1
        record "$run" "$name.cpu_loop_us_per_op" \
            "$(awk -v a="$1" -v b="$3" -v n="$n" -v hz="$HZ" 'BEGIN {print (b - a) / hz * 1e6 / n}')" "µs/op"
        record "$run" "$name.cpu_other_us_per_op" \
            "$(awk -v a="$2" -v b="$4" -v n="$n" -v hz="$HZ" 'BEGIN {print (b - a) / hz * 1e6 / n}')" "µs/op"
    fi
    syncs_end "$DIR/perf.txt"
    if [ -n "$SYNCS" ]; then
        syncs=$SYNCS
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
        record "$run" "$name.syncs" "$syncs" calls
        record "$run" "$name.syncs_per_s" "$(awk -v s="$syncs" -v t="$secs" 'BEGIN {print s / t}')" "calls/s"
        [ "$syncs" -gt 0 ] &&
            record "$run" "$name.ops_per_sync" "$(awk -v s="$syncs" -v n="$n" 'BEGIN {print n / s}')" "ops/sync"
    fi
    log "  $name: $rps ops/s (p50 $p50 ms, p99 $p99 ms)"
}

# The cases for one server kind in one run.
run_xadd_read() { # RUN KIND
    local r="$1" k="$2" len
    if [ "$k" = mn ]; then start_server mn --fsync always; else start_server redis --appendonly yes --appendfsync always; fi
    COUNT_SYNCS=1 bench "$r" "$k.xadd_durable.P1" "$XADD_N" 1 XADD s '*' f "$VAL"
    len=$(rcli xlen s)
    [ "$len" -ge 1000 ] || die "$k: XLEN s is $len after the XADDs"
    record "$r" "$k.xrange_stream_len" "$len" entries
    bench "$r" "$k.xrange100.P1" "$READ_N" 1 XRANGE s - + COUNT 100
    stop_server
    rm -rf "$SRV_DIR"

    if [ "$k" = mn ]; then start_server mn --fsync interval:1000; else start_server redis --appendonly yes --appendfsync everysec; fi
    COUNT_SYNCS=1 bench "$r" "$k.xadd_interval.P16" "$XADD16_N" 16 XADD s '*' f "$VAL"
    stop_server
    rm -rf "$SRV_DIR"
}

run_rss() { # RUN KIND
    local r="$1" k="$2" step at label len rss
    if [ "$k" = mn ]; then start_server mn --fsync never; else start_server redis --appendonly no; fi
    step=$((RSS_N / 4))
    at=0
    while :; do
        label=$(awk -v n="$at" 'BEGIN {if (n == 0) print 0; else if (n >= 1000000 && n % 1000000 == 0) print n / 1000000 "M"; else if (n % 1000 == 0) print n / 1000 "k"; else print n}')
        record "$r" "$k.rss.VmRSS_at_$label" "$(awk -v k="$(status_kib VmRSS)" 'BEGIN {print k / 1024}')" MiB
        record "$r" "$k.rss.RssAnon_at_$label" "$(awk -v k="$(status_kib RssAnon)" 'BEGIN {print k / 1024}')" MiB
        record "$r" "$k.rss.RssFile_at_$label" "$(awk -v k="$(status_kib RssFile)" 'BEGIN {print k / 1024}')" MiB
        [ "$at" -ge "$RSS_N" ] && break
        timeout 600 redis-benchmark -h 127.0.0.1 -p "$SRV_PORT" -n "$step" -c 50 -P 40 -q XADD s '*' f "$VAL" >/dev/null
        at=$((at + step))
    done
    len=$(rcli xlen s)
    [ "$len" -eq "$RSS_N" ] || die "$k: XLEN s is $len, expected $RSS_N"
    rss=$(status_kib VmRSS)
    record "$r" "$k.rss.bytes_per_entry" "$(awk -v k="$rss" -v n="$len" 'BEGIN {print k * 1024 / n}')" B/entry
    if [ "$k" = mn ]; then
        record "$r" "mn.disk.apparent_MiB" "$(du -sb "$SRV_DIR/data" | awk '{print $1 / 1048576}')" MiB
        record "$r" "mn.disk.allocated_MiB" "$(du -sk "$SRV_DIR/data" | awk '{print $1 / 1024}')" MiB
        record "$r" "mn.disk.log_bytes_per_entry" "$(rcli info persistence | tr -d '\r' | awk -F: -v n="$len" '$1 == "mn_log_bytes" {print $2 / n}')" B/entry
        record "$r" "mn.disk.allocated_bytes_per_entry" "$(du -sk "$SRV_DIR/data" | awk -v n="$len" '{print $1 * 1024 / n}')" B/entry
        du -ak "$SRV_DIR/data" | sort -k2 >"$DIR/du.txt"
    fi
    stop_server
    rm -rf "$SRV_DIR"
}

{
    machine_meta "$DIR"
    echo "mnemosyned: ${BENCH_ENGINE:-$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)} ($MN), $("$MN" --version 2>&1 | head -1)"
    echo "redis: $(redis-server --version); $(redis-benchmark --version 2>/dev/null || echo redis-benchmark)"
    echo "load at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "fsync counting: $([ "$PERF_OK" = 1 ] && echo "$PERF_HOW" || echo 'off (perf missing or not permitted)')"
} >"$META"
cat "$META" >&2

RUN_I=1
while [ "$RUN_I" -le "$RUNS" ]; do
    if [ $((RUN_I % 2)) -eq 1 ]; then order="mn redis"; else order="redis mn"; fi
    for kind_i in $order; do
        log "run $RUN_I/$RUNS: $kind_i XADD/XRANGE (load $(cut -d' ' -f1-3 /proc/loadavg))"
        run_xadd_read "$RUN_I" "$kind_i"
    done
    for kind_i in $order; do
        log "run $RUN_I/$RUNS: $kind_i RSS over $RSS_N XADDs"
        run_rss "$RUN_I" "$kind_i"
    done
    RUN_I=$((RUN_I + 1))
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"

{
    echo "# Server benchmark (mnemosyned vs redis-server), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    "$PY" "$HERE/report.py" server "$TSV" "$META" "$XADD_N" "$XADD16_N" "$READ_N" "$RSS_N"
} >"$MD"
cat "$MD"
log "store files after the last fill (du -k):"
cat "$DIR/du.txt" >&2
log "report: $MD   raw samples: $TSV"

#!/bin/sh
# profile-server.sh — one profile of mnemosyned under the XADD load of
# run-server.sh case 1 (redis-benchmark -c 50 -P 1 XADD s * f <100 B>,
# --fsync always; PROFILE_PIPELINE=16 PROFILE_FSYNC=interval:1000 gives
# case 2), for docs/benchmarks.md:
#   1. perf record -g -e cpu-clock -p PID (frame pointers; this guest has no
#      PMU): top symbols by self time, and the samples per thread
#   2. perf record --call-graph dwarf: inclusive time of the server's and the
#      engine's main functions (the build has no frame pointers)
#   3. strace -c -w -f -p PID: system calls, their count and wall time
#      (how long the writer thread sits in fdatasync)
#   4. perf stat on the fdatasync tracepoint + /proc CPU time per thread,
#      against the requests served in the same window: appends per fdatasync
# The load runs in the background for all four windows; the server is
# stopped by its PID at the end.
#
#   bench/profile-server.sh      (needs perf and strace)
#
# Variables: PROFILE_DIR (scratch base, default ${TMPDIR:-/tmp}),
#            PROFILE_SECS (seconds per window, default 5), PROFILE_PIPELINE (-P,
#            default 1), PROFILE_FSYNC (default always), PROFILE_TOP (symbols
#            shown, default 15), BENCH_PORT (first port tried, default 17500),
#            MNEMOSYNED (default TOP/build/mnemosyned).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=${TOP:-$(cd "$HERE/.." && pwd)}
MN=${MNEMOSYNED:-$TOP/build/mnemosyned}
SECS=${PROFILE_SECS:-5}
TOPN=${PROFILE_TOP:-15}
PIPE=${PROFILE_PIPELINE:-1}
FSYNC=${PROFILE_FSYNC:-always}
PORT=${BENCH_PORT:-17500}
for c in perf strace redis-benchmark redis-cli ss; do
    command -v "$c" >/dev/null 2>&1 || { echo "profile-server.sh: $c is not installed" >&2; exit 1; }
done
[ -x "$MN" ] || make -s -C "$TOP" build/mnemosyned
DIR=$(mktemp -d "${PROFILE_DIR:-${TMPDIR:-/tmp}}/mn-srvprof.XXXXXX")
SRV_PID="" LOAD_PID=""
cleanup() {
    set +e # a failing kill/wait must not end the clean-up
    if [ -n "$LOAD_PID" ]; then kill "$LOAD_PID" 2>/dev/null; wait "$LOAD_PID" 2>/dev/null; fi
    if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; fi
    rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

while ss -Hltn "sport = :$PORT" | grep -q .; do PORT=$((PORT + 1)); done
"$MN" --port "$PORT" --bind 127.0.0.1 --dir "$DIR/data" --fsync "$FSYNC" --loglevel warning \
    >"$DIR/server.log" 2>&1 &
SRV_PID=$!
n=0
until redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG; do
    n=$((n + 1)); [ "$n" -lt 100 ] || { echo "server did not start" >&2; exit 1; }
    sleep 0.1
done
VAL=$(printf 'v%.0s' $(seq 1 100))
# Enough requests for 4 windows + warm-up at up to ~100k/s per -P; bounded by timeout.
timeout $((SECS * 6 + 30)) redis-benchmark -h 127.0.0.1 -p "$PORT" -c 50 -P "$PIPE" \
    -n $((100000 * PIPE * (SECS * 5 + 10))) -q XADD s '*' f "$VAL" >/dev/null 2>&1 &
LOAD_PID=$!
sleep 2

xlen() { redis-cli -p "$PORT" xlen s; }
ticks() { # per thread: tid user+sys ticks
    for t in /proc/"$SRV_PID"/task/*; do
        printf '%s %s\n' "${t##*/}" "$(sed 's/^.*) //' "$t/stat" | awk '{print $12 + $13}')"
    done
}

echo "== mnemosyned $("$MN" --version 2>&1 | head -1), --fsync $FSYNC; load: redis-benchmark -c 50 -P $PIPE XADD s * f <100B>"
echo "== host load: $(cut -d' ' -f1-3 /proc/loadavg); threads: $(ls /proc/$SRV_PID/task | tr '\n' ' ')(main thread = event loop)"

echo
echo "== 1. perf record -g -e cpu-clock -p PID, ${SECS}s: top $TOPN symbols, self time"
perf record -q -g -e cpu-clock -p "$SRV_PID" -o "$DIR/fp.data" -- sleep "$SECS" 2>/dev/null
perf report -i "$DIR/fp.data" --no-children --sort symbol --stdio 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -n "$TOPN" | sed 's/ *- *- *$//' || true
echo "-- samples per thread (tid:comm)"
perf report -i "$DIR/fp.data" --no-children --sort pid -g none --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' || true
for t in $(ls /proc/"$SRV_PID"/task); do
    echo "-- thread $t$([ "$t" = "$SRV_PID" ] && echo ' (event loop)'): top 10 symbols, self time, % of all samples"
    perf report -i "$DIR/fp.data" --tid="$t" --no-children --sort dso,symbol -g none --stdio 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -n 10 || true
done
echo
echo "== 2. perf record --call-graph dwarf -e cpu-clock -p PID, ${SECS}s: inclusive time"
perf record -q --call-graph dwarf,16384 -e cpu-clock -p "$SRV_PID" -o "$DIR/dw.data" -- sleep "$SECS" 2>/dev/null
perf report -i "$DIR/dw.data" --children --sort symbol --stdio 2>/dev/null |
    grep -E '^ +[0-9.]+% +[0-9.]+% ' |
    grep -E ' (loop_run|epoll_wait|read_handler|process_input|process_command|call|cmd_xadd|stream_lookup|mn_append_async|writer_submit|server_before_sleep|write_client|post_handler|drain_posts|xadd_appended|xadd_reply_appended|deferred_done|writer_main|commit_batch|append_stage|check_part|apply_group|apply_event|mdb_put|mdb_get|mdb_txn_commit|store_save_counters|log_batch_write|complete|xadd_engine_cb|server_post_submit|__x64_sys_fdatasync|__x64_sys_pwrite64|__x64_sys_writev|__x64_sys_write|__x64_sys_read|__x64_sys_futex|__x64_sys_epoll_wait)( |$)' |
    sed 's/ *- *- *$//' | head -40 || true

echo
echo "== 3. strace -c -w -f -p PID, ${SECS}s (wall time per syscall, all threads)"
n0=$(xlen)
timeout -s INT "$SECS" strace -c -w -f -p "$SRV_PID" -o "$DIR/strace.txt" 2>/dev/null || true
n1=$(xlen)
head -20 "$DIR/strace.txt"
echo "-- XADDs served meanwhile (slowed by strace): $((n1 - n0))"

echo
echo "== 4. perf stat -e syscalls:sys_enter_fdatasync -p PID, ${SECS}s + CPU per thread"
ticks >"$DIR/t0"
n0=$(xlen)
perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync,syscalls:sys_enter_pwrite64,syscalls:sys_enter_pwritev,syscalls:sys_enter_writev,syscalls:sys_enter_write,syscalls:sys_enter_futex,syscalls:sys_enter_epoll_wait \
    -p "$SRV_PID" -o "$DIR/stat.txt" -- sleep "$SECS" 2>/dev/null
n1=$(xlen)
ticks >"$DIR/t1"
ops=$((n1 - n0))
syncs=$(awk -F, '/sys_enter_f(data)?sync/ {s += $1} END {print s + 0}' "$DIR/stat.txt")
awk -F, '/syscalls:/ {sub(/syscalls:sys_enter_/, "", $3); printf "%-12s %10d calls  %10.0f/s\n", $3, $1, $1 / '"$SECS"'}' "$DIR/stat.txt"
echo "XADDs: $ops in ${SECS}s = $((ops / SECS))/s; fdatasync+fsync: $syncs = $((syncs / SECS))/s; XADDs per sync: $(awk -v a="$ops" -v b="$syncs" 'BEGIN {printf "%.1f", b ? a / b : 0}')"
hz=$(getconf CLK_TCK)
join "$DIR/t0" "$DIR/t1" | awk -v hz="$hz" -v s="$SECS" -v ops="$ops" -v pid="$SRV_PID" \
    '{d = ($3 - $2) / hz; printf "thread %s%s: CPU %.2f s of %d s (%.0f %%), %.2f µs per XADD\n", $1, ($1 == pid ? " (event loop)" : ""), d, s, 100 * d / s, ops ? d * 1e6 / ops : 0}'

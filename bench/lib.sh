# bench/lib.sh — shell helpers the server-side benchmarks share
# (run-server.sh, run-es.sh); sourced, not run. POSIX sh plus `local`.
# The caller sets TSV (the raw-sample file) and PORT (the first port to try),
# and, to skip fsync counting, BENCH_PERF=0.

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# record RUN NAME VALUE UNIT -> one TSV row (the format report.py reads)
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$TSV"; }

# A port nothing listens on, from PORT upwards.
free_port() {
    while ss -Hltn "sport = :$PORT" | grep -q .; do PORT=$((PORT + 1)); done
    echo "$PORT"
}

# wait_ready PID CMD...: polls CMD (quietly) every 0.1 s, at most 30 s,
# until it succeeds (0) or PID has exited (1).
wait_ready() {
    local pid i
    pid=$1
    shift
    i=0
    while [ "$i" -lt 300 ]; do
        "$@" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}

# answers_ping PORT: 0 if a Redis-protocol server on 127.0.0.1:PORT says PONG
answers_ping() { redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null | grep -q PONG; }

# stop_pid PID SIGNAL SECONDS: sends SIGNAL to PID (a child of this shell)
# and waits for it to end; SIGKILL after SECONDS.
stop_pid() {
    local pid st i limit
    pid=$1
    limit=$(($3 * 10))
    kill -"$2" "$pid" 2>/dev/null || return 0
    i=0
    while [ "$i" -lt "$limit" ]; do
        st=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
        [ -z "$st" ] || [ "$st" = Z ] && break
        sleep 0.1
        i=$((i + 1))
    done
    if [ "$i" -ge "$limit" ]; then
        log "server $pid did not stop in $3 s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# machine_meta DIR: the "key: value" lines on the machine and the disk DIR
# is on, for a report's Setup section.
machine_meta() {
    local dev blk
    dev=$(findmnt -n -o SOURCE -T "$1" | sed 's|^/dev/||; s|\[.*||')
    blk=$(echo "$dev" | sed 's/[0-9]*$//')
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpu: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) (client and servers share them)"
    echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel: $(uname -r); virtualization: $(systemd-detect-virt 2>/dev/null || echo unknown)"
    echo "data dir: $1 on $(findmnt -n -o SOURCE,FSTYPE,OPTIONS -T "$1" | tr -s ' ')"
    echo "disk: /dev/$blk, write cache: $(cat /sys/block/"$blk"/queue/write_cache 2>/dev/null || echo unknown)"
}

# Counting a server's fdatasync + fsync calls with perf (tracepoints; off
# when perf is missing or not permitted). PERF_OK says whether it can;
# syncs_begin PID FILE starts counting; syncs_end FILE stops and sets
# SYNCS to the count (empty when not counting). Not in $(...): the counter
# is a child of this shell, which must wait for it.
PERF_OK=0
PERF_PID=""
if [ "${BENCH_PERF:-1}" != 0 ] && command -v perf >/dev/null 2>&1 &&
    perf stat -x, -e syscalls:sys_enter_fdatasync -- true >/dev/null 2>&1; then
    PERF_OK=1
fi
PERF_HOW="perf stat -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -p PID"

syncs_begin() {
    [ "$PERF_OK" = 1 ] || return 0
    perf stat -x, -o "$2" -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -p "$1" 2>/dev/null &
    PERF_PID=$!
    sleep 0.3 # perf attaches
}

syncs_end() {
    SYNCS=""
    [ -n "$PERF_PID" ] || return 0
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    PERF_PID=""
    SYNCS=$(awk -F, '/sys_enter_f(data)?sync/ {s += $1} END {print s + 0}' "$1")
}

# Makes the run's scratch directory DIR under BASE (mn-<name>-bench.XXXXXX),
# and the clean-up that stops a server still running (stop_server, defined
# by the script), a perf counter, and removes DIR on any exit; empties TSV.
bench_scratch() {
    mkdir -p "$OUTDIR" "$BASE"
    DIR=$(mktemp -d "$(cd "$BASE" && pwd)/mn-$1-bench.XXXXXX")
    SRV_PID=""
    PERF_PID=""
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    : >"$TSV"
}
bench_cleanup() {
    set +e # a failing kill/wait must not end the clean-up
    [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null
    [ -n "$SRV_PID" ] && stop_server
    rm -rf "$DIR"
}


#!/bin/sh
# run-sagas.sh — the saga benchmark: three-step sagas completed per second
# through mnemosyned with --fsync always, participants in a C client
# (saga_bench.c, hiredis: three threads, one consumer group each). Each run
# starts a fresh server on a free loopback port and stops it by its PID.
# Benchmarks, not tests: `make test` never runs this.
#
#   bench/run-sagas.sh            (or `make -C bench sagas`)
#
# Variables:
#   BENCH_SAGAS     sagas per run (default 5000)
#   BENCH_RUNS      runs (default 3); every run's line is printed
#   BENCH_FSYNC     the server's --fsync (default always)
#   BENCH_DIR       where to make the scratch directory (default ${TMPDIR:-/tmp})
#   BENCH_PORT      first port to try (default 17600)
#   MNEMOSYNED      the server binary (default TOP/build/mnemosyned)
set -eu
TOP=${TOP:-$(cd "$(dirname "$0")/.." && pwd)}
MNEMOSYNED=${MNEMOSYNED:-$TOP/build/mnemosyned}
BENCH=${BENCH_BIN:-$TOP/bench/build/saga_bench}
N=${BENCH_SAGAS:-5000}
RUNS=${BENCH_RUNS:-3}
FSYNC=${BENCH_FSYNC:-always}
PORT=${BENCH_PORT:-17600}
SCRATCH=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/mn-saga-bench.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

free_port() {
    local p=$1
    while redis-cli -p "$p" PING >/dev/null 2>&1; do p=$((p + 1)); done
    echo "$p"
}

echo "saga benchmark: $N three-step sagas per run, --fsync $FSYNC, $RUNS runs"
run=1
while [ "$run" -le "$RUNS" ]; do
    port=$(free_port "$PORT")
    "$MNEMOSYNED" --port "$port" --dir "$SCRATCH/data-$run" --fsync "$FSYNC" \
        --loglevel warning >"$SCRATCH/log-$run" 2>&1 &
    pid=$!
    i=0
    until redis-cli -p "$port" PING >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -gt 200 ] && { echo "server did not start"; cat "$SCRATCH/log-$run"; exit 1; }
        sleep 0.05
    done
    printf 'run %d: ' "$run"
    "$BENCH" 127.0.0.1 "$port" "$N"
    kill "$pid"; wait "$pid" || true
    run=$((run + 1))
done

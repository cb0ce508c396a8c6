#!/bin/sh
# The projection benchmark: events/s applied by the balances projection
# (examples/projections/balances.lua) over N events (default 1,000,000), and
# query latency. Starts build/mnemosyned (--fsync never: the load is not what
# is measured) on a scratch directory, runs bench/projections.py, stops it.
#
#   bench/run-projections.sh [N]
set -eu
cd "$(dirname "$0")/.."
N=${1:-1000000}
PORT=${PORT:-6461}
[ -x build/mnemosyned ] || make build/mnemosyned
DIR=$(mktemp -d "${TMPDIR:-/tmp}/mn-bench-proj.XXXXXX")
build/mnemosyned --port "$PORT" --dir "$DIR/data" --fsync never >"$DIR/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done
SERVER_PID=$PID /usr/bin/python3 bench/projections.py "$PORT" "$N"

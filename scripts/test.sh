#!/bin/sh
# make test: every suite in turn; each prints "SUITE: N passed, N failed";
# the last line is the total. Exits non-zero if anything failed.
#
# Suites: unit tests, the same under ASan+UBSan, the kill -9 crash test, the
# CLI tests and the server's integration tests (pytest through python3-redis),
# a short crash soak, and the CLI + integration suites under ASan+UBSan and
# the unit tests under valgrind.
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
total_pass=0; total_fail=0; log=$(mktemp)

suite() { # name, command...
    name=$1; shift
    echo "== $name"
    "$@" >"$log" 2>&1; rc=$?
    cat "$log"
    line=$(grep -E '[0-9]+ (passed|failed)' "$log" | tail -n 1)
    p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
    f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
    [ -n "$p" ] || p=0
    [ -n "$f" ] || f=0
    e=$(echo "$line" | grep -oE "[0-9]+ error" | grep -oE "[0-9]+")
    f=$((f + ${e:-0}))
    # a suite that crashed before printing its count is one failure
    # a suite that crashed before printing its count, or exited non-zero with
    # nothing counted as failed, is one failure
    if [ -z "$line" ] || { [ $rc -ne 0 ] && [ $f -eq 0 ]; }; then f=$((f + 1)); fi
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
}

suite unit ./scripts/run-units.sh build/tests unit
suite unit-asan ./scripts/run-units.sh build/asan/tests unit-asan
for t in build/tests/crash_*; do
    [ -x "$t" ] && suite "$(basename "$t")" "$t"
done
for d in tests/cli tests/integration examples; do
    if ls $d/test_*.py >/dev/null 2>&1; then
        suite "$d" $PY -m pytest -q -p no:cacheprovider $d
    fi
done
# every saved fuzzing input through the ASan+UBSan parsers (tests/fuzz/replay.sh)
suite fuzz-replay ./tests/fuzz/replay.sh
# the crash soak, short (tests/soak/soak.py; make soak runs 100 cycles per phase)
suite soak env SOAK_CYCLES=5 $PY tests/soak/soak.py
# the CLI and integration suites against the ASan+UBSan binaries, and the
# unit tests + a server session under valgrind (docs/reliability.md, Sanitizers)
suite test-asan ./scripts/test-asan.sh
suite test-valgrind ./scripts/test-valgrind.sh
rm -f "$log"
echo
echo "total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]

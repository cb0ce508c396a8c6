#!/bin/sh
# Runs every unit-test binary in DIR, each in its own process with a time limit
# (as libuv does), and ends with one line: "unit: N passed, N failed".
# A test binary prints its own failures (both sides of the failed assertion).
dir=${1:-build/tests}
label=${2:-unit}
limit=${UNIT_TIMEOUT:-120}
pass=0; fail=0; failed=""
for t in "$dir"/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    out=$(MN_TEST_TMP=${TMPDIR:-/tmp} timeout "$limit" "$t" 2>&1); rc=$?
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); echo "  ok    $name"
    else
        fail=$((fail + 1)); failed="$failed $name"
        echo "  FAIL  $name (exit $rc)"; echo "$out" | tail -n 30 | sed 's/^/        /'
    fi
done
echo "$label: $pass passed, $fail failed"
[ $fail -eq 0 ]

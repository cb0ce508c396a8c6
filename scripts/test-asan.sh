#!/bin/sh
# make test-asan: the CLI and integration suites against build/asan/mnemo and
# build/asan/mnemosyned (ASan + UBSan; LeakSanitizer at exit). A sanitizer
# report makes the binary exit non-zero: the CLI tests check exit codes and
# the server fixture requires exit 0 after SIGTERM, so a report fails a test
# (the report is in the test's output). Ends with "test-asan: N passed, N failed".
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
export MNEMOSYNED=build/asan/mnemosyned MNEMO_BIN=build/asan/mnemo MNEMO_SANITIZED=asan
export MNEMOSYNED="$PWD/$MNEMOSYNED" MNEMO_BIN="$PWD/$MNEMO_BIN"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for b in "$MNEMOSYNED" "$MNEMO_BIN"; do
    [ -x "$b" ] || { echo "$b is not built (make $b)"; echo "test-asan: 0 passed, 1 failed"; exit 1; }
done
pass=0; fail=0; log=$(mktemp)
for d in ${ASAN_SUITES:-tests/cli tests/integration}; do
    echo "== $d (ASan+UBSan)"
    $PY -m pytest -q -p no:cacheprovider "$d" >"$log" 2>&1; rc=$?
    cat "$log"
    line=$(grep -E '[0-9]+ (passed|failed)' "$log" | tail -n 1)
    p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+'); p=${p:-0}
    f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+'); f=${f:-0}
    e=$(echo "$line" | grep -oE '[0-9]+ error' | grep -oE '[0-9]+'); f=$((f + ${e:-0}))
    if [ -z "$line" ] || { [ $rc -ne 0 ] && [ $f -eq 0 ]; }; then f=$((f + 1)); fi
    pass=$((pass + p)); fail=$((fail + f))
done
rm -f "$log"
echo "test-asan: $pass passed, $fail failed"
[ $fail -eq 0 ]

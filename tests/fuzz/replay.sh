#!/bin/sh
# fuzz-replay: every saved input of every fuzz target (tests/fuzz/corpus/<target>/)
# through an ASan+UBSan build of the target without libFuzzer
# (build/fuzz-replay/<target>: the target + replay_main.c, built by the
# Makefile's fuzzing block with $(CC), so no clang needed). One process per
# input: a crash, a sanitizer report, a broken invariant (abort) or a leak
# fails that input. Ends with "fuzz-replay: N passed, N failed".
set -u
cd "$(dirname "$0")/../.."
log=$(mktemp)
out=$(mktemp)
trap 'rm -f "$log" "$out"' EXIT
if ! make -s --no-print-directory fuzz-replay-bins >"$log" 2>&1; then
    cat "$log"
    echo "fuzz-replay: 0 passed, 1 failed (build)"
    exit 1
fi
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
pass=0
fail=0
for bin in build/fuzz-replay/fuzz_*; do
    [ -x "$bin" ] || continue
    t=$(basename "$bin")
    n=0
    for f in tests/fuzz/corpus/"$t"/*; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        if timeout 60 "$bin" "$f" >"$out" 2>&1; then
            pass=$((pass + 1))
        else
            fail=$((fail + 1))
            echo "FAIL $t $f"
            tail -n 30 "$out" | sed 's/^/    /'
        fi
    done
    echo "$t: $n inputs"
done
echo "fuzz-replay: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/bin/sh
# fuzz-replay: every saved input of every fuzz target through an ASan+UBSan
# build of the target without libFuzzer (build/fuzz-replay/<target>: the
# target + replay_main.c, built by the Makefile's fuzzing block with $(CC),
# so no clang is needed). One process per input; a crash, a sanitizer
# report, a broken invariant (abort) or a leak (checked at exit) fails it.
#
#   tests/fuzz/corpus/<target>/  seeds and regressions of fixed bugs: must pass
#   tests/fuzz/known/<target>/   reproducers of known, unfixed bugs: run with
#                                MN_FUZZ_STRICT=1 (fuzz.h) and expected to fail;
#                                one that passes is reported (XPASS) and counts
#                                as a failure, so it moves to corpus/ once fixed
#
# Every input also goes through the recovery target's whole-store path
# (MN_FUZZ_STORE_EVERY=1), which the fuzzer itself takes on 1 input in 32.
# Ends with "fuzz-replay: N passed, N failed".
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
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export MN_FUZZ_STORE_EVERY=1
pass=0
fail=0
for bin in build/fuzz-replay/fuzz_*; do
    [ -x "$bin" ] || continue
    t=$(basename "$bin")
    n=0
    k=0
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
    for f in tests/fuzz/known/"$t"/*; do
        [ -f "$f" ] || continue
        k=$((k + 1))
        if MN_FUZZ_STRICT=1 timeout 60 "$bin" "$f" >"$out" 2>&1; then
            fail=$((fail + 1))
            echo "XPASS $t $f: the known bug no longer shows; move it to tests/fuzz/corpus/$t/"
        else
            pass=$((pass + 1))
            echo "xfail $t $(basename "$f"): $(grep -m1 -E 'invariant broken|ERROR: AddressSanitizer|runtime error' "$out" | sed 's/^==[0-9]*==//')"
        fi
    done
    echo "$t: $n inputs, $k known bugs"
done
echo "fuzz-replay: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

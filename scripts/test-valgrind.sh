#!/bin/sh
# make test-valgrind: every unit-test binary, then a short mnemosyned session,
# under valgrind memcheck. Any memcheck error or leak (definite, indirect or
# possible) fails: --error-exitcode=1 --errors-for-leak-kinds=... Still-reachable
# blocks at exit are not leaks. Ends with "test-valgrind: N passed, N failed".
#
#   MN_TEST_STRIDE   test_recovery's every-offset truncation test tries every
#                    Nth cut (and every group boundary) instead of all ~19k
#                    (default here 7, as under ASan)
#   VALGRIND_UNITS   the unit binaries to run (default: all in build/tests)
#   VALGRIND_SKIP    "binary:test ..." not run under valgrind (default below)
#
# Skipped by default: test_faults' index_damage_{truncated,pages,flips} --
# each case opens a deliberately damaged index in a forked child that may
# crash (SIGBUS, LMDB assertions) or _exit with the store open; valgrind
# follows the fork, leak-checks the child and turns its exit code into 1,
# which the test reads as "the child failed". Memcheck has nothing to say
# about those children that the native and ASan runs do not.
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; echo "test-valgrind: 0 passed, 1 failed"; exit 1; }
export MN_TEST_STRIDE=${MN_TEST_STRIDE:-7}
# LMDB's 64 GiB index map is more than valgrind can map: cap it (test-only shim)
shim=build/valgrind/mapsize_shim.so
[ -f "$shim" ] || { echo "$shim is not built (make $shim)"; echo "test-valgrind: 0 passed, 1 failed"; exit 1; }
export LD_PRELOAD="$PWD/$shim"
VG="valgrind -q --suppressions=tests/valgrind/valgrind.supp --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 --track-fds=no"
limit=${UNIT_TIMEOUT:-1200}
skip=${VALGRIND_SKIP-test_faults:index_damage_truncated test_faults:index_damage_pages test_faults:index_damage_flips}
pass=0; fail=0
for t in ${VALGRIND_UNITS:-build/tests/test_*}; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    start=$(date +%s)
    # the harness runs only the tests named on its command line: all but the skipped
    args=""; skipped=""
    for sk in $skip; do
        [ "${sk%%:*}" = "$name" ] && skipped="$skipped ${sk#*:}"
    done
    if [ -n "$skipped" ]; then
        for r in $(grep -oE 'RUN(_XFAIL)?\([a-z_0-9]+[),]' "tests/unit/$name.c" | sed 's/RUN_XFAIL(//; s/RUN(//; s/[),]$//'); do
            case " $skipped " in *" $r "*) ;; *) args="$args $r" ;; esac
        done
        echo "        ($name: skipped under valgrind:$skipped)"
    fi
    # shellcheck disable=SC2086
    out=$(MN_TEST_TMP=${TMPDIR:-/tmp} timeout "$limit" $VG "$t" $args 2>&1); rc=$?
    secs=$(( $(date +%s) - start ))
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); echo "  ok    $name (${secs}s)"
    else
        fail=$((fail + 1)); echo "  FAIL  $name (exit $rc, ${secs}s)"
        echo "$out" | tail -n 60 | sed 's/^/        /'
    fi
done

# A server session: a handful of commands of each family, then SIGTERM.
if [ -z "${VALGRIND_UNITS:-}" ] || [ "${VALGRIND_SERVER:-}" = 1 ]; then
    start=$(date +%s)
    if out=$($PY tests/valgrind/session.py "$VG" 2>&1); then
        pass=$((pass + 1)); echo "  ok    mnemosyned session ($(( $(date +%s) - start ))s)"
        echo "$out" | sed 's/^/        /'
    else
        fail=$((fail + 1)); echo "  FAIL  mnemosyned session"
        echo "$out" | tail -n 80 | sed 's/^/        /'
    fi
fi
echo "test-valgrind: $pass passed, $fail failed"
[ $fail -eq 0 ]

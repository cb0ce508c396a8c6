#!/bin/sh
# profile.sh — one perf profile of two engine paths, for docs/benchmarks.md:
#   1. appends, fsync=never, batch 100, one appender (append_bench append)
#   2. a $all scan of a 1M-event store (append_bench scan)
# For each: the top self-time symbols (perf record -g, frame pointers) and
# the inclusive time of the engine's own functions (a second recording with
# DWARF unwinding, since the library is built without frame pointers).
#
#   bench/profile.sh            (after `make -C bench build`)
#
# Variables: PROFILE_DIR (scratch base, default ${TMPDIR:-/tmp}), PROFILE_SECS (5),
#            PROFILE_TOP (5: symbols shown per case).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
BIN="$HERE/build/append_bench"
SECS=${PROFILE_SECS:-5}
TOPN=${PROFILE_TOP:-5}
command -v perf >/dev/null 2>&1 || { echo "profile.sh: perf is not installed" >&2; exit 1; }
[ -x "$BIN" ] || make -s -C "$HERE" build
DIR=$(mktemp -d "${PROFILE_DIR:-${TMPDIR:-/tmp}}/mn-profile.XXXXXX")
trap 'rm -rf "$DIR"' EXIT INT TERM

# top SELF DATA: the TOPN symbols with the most self time.
top_self() {
    perf report -i "$1" --no-children --sort symbol --stdio 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -n "$TOPN" | sed 's/ *- *- *$//'
}

# engine_incl DATA: inclusive time of the engine's and LMDB's main functions.
engine_incl() {
    perf report -i "$1" --children --sort symbol --stdio 2>/dev/null |
        grep -E '^ +[0-9.]+% +[0-9.]+% ' |
        grep -E ' (commit_batch|append_stage|apply_group|apply_event|stream_get|stream_put|mdb_put|mdb_get|mdb_txn_commit|log_batch_write|io_fdatasync|complete|mn_iter_next|log_read_at|rec_check|crc32c_extend|ev_decode|load_event|next_all|fill_view|seg_ref|seg_unref|log_seek|log_next_pos|mn_read_all)( |$)' |
        sed 's/ *- *- *$//'
}

profile() { # NAME ARGS...
    name=$1; shift
    if ! perf record -q -o "$DIR/$name.fp.data" -g -- "$BIN" "$@" >"$DIR/$name.fp.out" 2>"$DIR/perf.err"; then
        echo "perf record failed (not supported here?):"; cat "$DIR/perf.err"; return 1
    fi
    perf record -q -o "$DIR/$name.dw.data" --call-graph dwarf,16384 -F 999 -- "$BIN" "$@" \
        >"$DIR/$name.dw.out" 2>/dev/null
    echo "== $name: $BIN $*"
    grep -E 'events_per_s' "$DIR/$name.fp.out" | sed 's/^/   (under perf) /'
    echo "-- top $TOPN symbols by self time (perf record -g)"
    top_self "$DIR/$name.fp.data"
    echo "-- inclusive time (children) of engine/LMDB functions (perf record --call-graph dwarf)"
    engine_incl "$DIR/$name.dw.data"
    echo
}

profile append_never_b100 append --fsync never --batch 100 --threads 1 --secs "$SECS" --dir "$DIR"
"$BIN" fill --events 1000000 --keep --dir "$DIR" >/dev/null
profile scan_all scan --passes 20 --dir "$DIR"

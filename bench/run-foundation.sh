#!/bin/sh
# run-foundation.sh — the foundation benchmark: the disk's limits (fio.sh) and
# the in-process engine (append_bench), BENCH_RUNS times, interleaved, then a
# markdown report of medians, min-max and per-run ratios (report.py).
# Benchmarks, not tests: `make test` never runs this.
#
#   bench/run-foundation.sh            (or `make bench` from the top)
#
# Variables:
#   BENCH_RUNS    repetitions (default 5); figures are medians over them
#   BENCH_SECS    seconds per timed append/read case (default 3)
#   BENCH_EVENTS  events in the memory check (default 1000000)
#   BENCH_DIR     where to make the scratch directory (mn-bench.XXXXXX, removed
#                 at the end): put it on the filesystem to measure
#                 (default ${TMPDIR:-/tmp})
#   BENCH_ENGINE  how to name the engine build in the report (default: git describe of TOP)
#   FIO_SEQ_SIZE, FIO_SYNC_SECS   see fio.sh
# Output: bench/results/foundation-<date>.md (report) and .tsv (raw samples),
# and the report on stdout.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=${TOP:-$(cd "$HERE/.." && pwd)}
RUNS=${BENCH_RUNS:-5}
SECS=${BENCH_SECS:-3}
EVENTS=${BENCH_EVENTS:-1000000}
BASE=${BENCH_DIR:-${TMPDIR:-/tmp}}
BIN="$HERE/build/append_bench"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
OUTDIR="$HERE/results"
TSV="$OUTDIR/foundation-$STAMP.tsv"
META="$OUTDIR/foundation-$STAMP.meta"
MD="$OUTDIR/foundation-$STAMP.md"

[ -x "$BIN" ] || make -s -C "$HERE" build
mkdir -p "$OUTDIR" "$BASE"
DIR=$(mktemp -d "$(cd "$BASE" && pwd)/mn-bench.XXXXXX")
trap 'rm -rf "$DIR"' EXIT INT TERM
: >"$TSV"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# bench RUN CMD...: runs CMD, files its RESULT lines under RUN, shows the rest
bench() {
    run=$1; shift
    "$@" >"$DIR/out.txt"
    grep -v '^RESULT ' "$DIR/out.txt" | grep -v '^$' >&2 || true
    collect "$run" <"$DIR/out.txt"
}

# collect RUN: RESULT lines on stdin -> TSV rows (run, name, value, unit)
collect() {
    sed -n 's/^RESULT name=\([^ ]*\) value=\([^ ]*\) unit=\(.*\)$/\1\t\2\t\3/p' |
        while IFS="$(printf '\t')" read -r name value unit; do
            printf '%s\t%s\t%s\t%s\n' "$1" "$name" "$value" "$unit" >>"$TSV"
        done
}

dev=$(findmnt -n -o SOURCE -T "$DIR" | sed 's|^/dev/||; s|\[.*||')
blk=$(echo "$dev" | sed 's/[0-9]*$//')
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpu: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "memory: $(awk '/^MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel: $(uname -r); virtualization: $(systemd-detect-virt 2>/dev/null || echo unknown)"
    echo "data dir: $DIR on $(findmnt -n -o SOURCE,FSTYPE,OPTIONS -T "$DIR" | tr -s ' ')"
    echo "disk: /dev/$blk, $(df -h --output=size "$DIR" | tail -1 | tr -d ' ') filesystem, write cache: $(cat /sys/block/"$blk"/queue/write_cache 2>/dev/null || echo unknown), rotational flag: $(cat /sys/block/"$blk"/queue/rotational 2>/dev/null || echo unknown)"
    echo "engine: ${BENCH_ENGINE:-$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo "unknown")} ($TOP), mnemosyne $("$BIN" version)"
    echo "commands per run: \`bench/fio.sh DIR\` (FIO_SEQ_SIZE=${FIO_SEQ_SIZE:-2G} FIO_SYNC_SECS=${FIO_SYNC_SECS:-5}); \`append_bench suite --secs $SECS --dir DIR\`; \`append_bench fill --events $EVENTS --keep\`; \`append_bench scan --passes 3\`; \`append_bench reads --secs $SECS\`"
} >"$META"
cat "$META" >&2

i=1
while [ "$i" -le "$RUNS" ]; do
    log "run $i/$RUNS: fio (load $(cut -d' ' -f1-3 /proc/loadavg))"
    bench "$i" "$HERE/fio.sh" "$DIR"
    log "run $i/$RUNS: appends (load $(cut -d' ' -f1-3 /proc/loadavg))"
    bench "$i" "$BIN" suite --secs "$SECS" --dir "$DIR"
    log "run $i/$RUNS: memory check, scan, stream reads"
    bench "$i" "$BIN" fill --events "$EVENTS" --keep --dir "$DIR"
    bench "$i" "$BIN" scan --passes 3 --dir "$DIR"
    bench "$i" "$BIN" reads --secs "$SECS" --dir "$DIR"
    rm -rf "$DIR/fill"
    sync
    i=$((i + 1))
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"

{
    echo "# Foundation benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    "$PY" "$HERE/report.py" "$TSV" "$META"
} >"$MD"
cat "$MD"
log "report: $MD   raw samples: $TSV"

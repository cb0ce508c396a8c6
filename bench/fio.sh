#!/bin/sh
# fio.sh — the disk's own limits, measured with fio on the filesystem that
# holds DIR (the store's directory), so the engine's figures can be read as
# ratios of what the disk can do. Prints one line per figure:
#   RESULT name=fio.<case>.<metric> value=<number> unit=<unit>
#
#   bench/fio.sh DIR
#
# Cases (each in a fresh subdirectory of DIR, deleted afterwards):
#   seq_1M_direct    1 MiB sequential writes, O_DIRECT, queue depth 1, one
#                    fsync at the end (inside the timing)
#   seq_1M_buffered  1 MiB sequential writes through the page cache, one fsync
#                    at the end (inside the timing)
#   append_<bs>_fdatasync for bs in 256B 4k 64k 256k: append bs, fdatasync,
#                    repeat — what a log does under fsync=always. --file_append
#                    with --fallocate=none makes the file really grow, so every
#                    fdatasync also commits the new size (as the log's do).
#                    256 B is about one of the engine's 100-byte events as a
#                    log record (224 B); 256 KiB about a batch of 1000.
# Variables: FIO_SEQ_SIZE (2G), FIO_SYNC_SECS (5).
set -eu

DIR=${1:?usage: fio.sh DIR}
SEQ_SIZE=${FIO_SEQ_SIZE:-2G}
SYNC_SECS=${FIO_SYNC_SECS:-5}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
command -v fio >/dev/null 2>&1 || { echo "fio.sh: fio is not installed (apt-get install fio)" >&2; exit 1; }
mkdir -p "$DIR"

# run_fio CASE ARGS... : runs one job in DIR/fio-CASE and prints its RESULT lines.
run_fio() {
    case_name=$1; shift
    d="$DIR/fio-$case_name"
    rm -rf "$d"; mkdir -p "$d"
    fio --name="$case_name" --directory="$d" --output-format=json --output="$d.json" "$@" >/dev/null
    rm -rf "$d"
    "$PY" - "$case_name" "$d.json" <<'EOF'
import json, sys
name, path = sys.argv[1], sys.argv[2]
job = json.load(open(path))["jobs"][0]
w = job["write"]
def out(metric, value, unit):
    print(f"RESULT name=fio.{name}.{metric} value={value:.6g} unit={unit}")
out("MiB_per_s", w["bw_bytes"] / 1048576.0, "MiB/s")
sync = job.get("sync", {}).get("lat_ns", {})
if sync.get("N"):
    secs = w["runtime"] / 1000.0
    out("syncs_per_s", sync["N"] / secs, "syncs/s")
    pct = sync.get("percentile", {})
    if pct:
        out("sync_p50_us", pct["50.000000"] / 1000.0, "us")
        out("sync_p99_us", pct["99.000000"] / 1000.0, "us")
    out("write_plus_sync_mean_us", (w["lat_ns"]["mean"] + sync["mean"]) / 1000.0, "us")
EOF
    rm -f "$d.json"
}

sync
run_fio seq_1M_direct --rw=write --bs=1M --direct=1 --ioengine=psync --size="$SEQ_SIZE" --end_fsync=1
run_fio seq_1M_buffered --rw=write --bs=1M --ioengine=psync --size="$SEQ_SIZE" --end_fsync=1
for spec in 256:256B 4k:4k 64k:64k 256k:256k; do
    bs=${spec%%:*}
    run_fio "append_${spec#*:}_fdatasync" --rw=write --bs="$bs" --fdatasync=1 --ioengine=sync \
        --file_append=1 --fallocate=none --size=4G --runtime="$SYNC_SECS"
done

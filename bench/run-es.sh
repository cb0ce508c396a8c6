#!/bin/sh
# run-es.sh — the event-store benchmark: ES.APPEND on mnemosyned (--fsync
# always) against PostgreSQL 15 used as an event-store table (fsync on,
# synchronous_commit on, otherwise default settings), in the same run, the two
# alternating (Mnemosyne first in odd runs, PostgreSQL first in even runs),
# BENCH_RUNS times; then a markdown report of medians, min-max and per-run
# ratios against the target (Mnemosyne >= 5x PostgreSQL) (report.py es).
# Benchmarks, not tests: `make test` never runs this.
#
#   bench/run-es.sh                (or `make -C bench es`)
#
# One event (100 bytes of JSON data, type Deposited, server-generated id) per
# request / transaction, 50 clients on both sides, over 1000 streams:
#   any    expected version ANY — the event goes at the stream's next version.
#          Mnemosyne: redis-benchmark -c 50 -r 1000 with `acct-__rand_int__`.
#          PostgreSQL: pgbench -c 50, a random stream of 1000; one statement
#          that bumps the stream's row in `streams` (the row lock orders
#          concurrent appends to one stream, as an event store must) and
#          inserts the event at that version.
#   exact  expected version exact. Client k owns streams k*20 .. k*20+19 and
#          appends to them round-robin, so it knows every version it writes:
#          Mnemosyne gets ES.APPEND <stream> <version-1> (es_load.c, hiredis,
#          50 connections), PostgreSQL gets INSERT ... version = <version>
#          (pgbench, :client_id and a per-client counter), where the primary
#          key (stream, version) is the optimistic-concurrency check.
#   any.es_load  (Mnemosyne only) the any case once more with es_load, to
#          show the load generator is not what limits the figures.
# Every server starts fresh (Mnemosyne: a new data dir; PostgreSQL: a copy of
# a freshly initdb'ed cluster with the schema) on a free loopback port, is
# waited for, and is stopped by its PID (SIGTERM / SIGINT, wait).
#
# Variables:
#   BENCH_RUNS      repetitions (default 3); figures are medians over them
#   BENCH_ES_N      Mnemosyne requests per case (default 100000)
#   BENCH_PG_SECS   pgbench duration per case, seconds (default 20)
#   BENCH_DIR       where to make the scratch directory (mn-es-bench.XXXXXX,
#                   removed at the end; default ${TMPDIR:-/tmp}). When run as
#                   root PostgreSQL runs as `nobody`, which must be able to
#                   reach it.
#   BENCH_PORT      first port to try (default 17600; the next free one is used)
#   BENCH_PERF=0    do not count Mnemosyne's fdatasyncs with perf (ops/sync)
#   PGBIN           PostgreSQL's programs (default /usr/lib/postgresql/15/bin)
#   MNEMOSYNED      the server binary (default TOP/build/mnemosyned)
#   ES_LOAD         the load generator (default bench/build/es_load)
#   BENCH_ENGINE    how to name the build in the report (default: git describe of TOP)
# Output: bench/results/es-<date>.md (report), .tsv (raw samples), .meta, and
# the report on stdout. About 3 minutes per run with the defaults.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "${TOP:-$HERE/..}" && pwd)
RUNS=${BENCH_RUNS:-3}
ES_N=${BENCH_ES_N:-100000}
PG_SECS=${BENCH_PG_SECS:-20}
BASE=${BENCH_DIR:-${TMPDIR:-/tmp}}
PORT=${BENCH_PORT:-17600}
MN=${MNEMOSYNED:-$TOP/build/mnemosyned}
LOAD=${ES_LOAD:-$HERE/build/es_load}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
CLIENTS=50
STREAMS=1000
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
STAMP=$(date -u +%Y-%m-%dT%H%M%SZ)
OUTDIR="$HERE/results"
TSV="$OUTDIR/es-$STAMP.tsv"
META="$OUTDIR/es-$STAMP.meta"
MD="$OUTDIR/es-$STAMP.md"

. "$HERE/lib.sh"

for c in redis-benchmark redis-cli ss "$PY" "$PGBIN/initdb" "$PGBIN/postgres" "$PGBIN/pgbench" "$PGBIN/psql"; do
    command -v "$c" >/dev/null 2>&1 || die "missing $c (scripts/install-deps.sh --bench)"
done
[ -x "$MN" ] || make -s -C "$TOP" build/mnemosyned
[ -x "$MN" ] || die "no $MN"
[ -x "$LOAD" ] || make -s -C "$HERE" build/es_load
[ -x "$LOAD" ] || die "no $LOAD"
[ $((STREAMS % CLIENTS)) -eq 0 ] || die "streams must be a multiple of clients"
PER=$((STREAMS / CLIENTS))

# PostgreSQL refuses to run as root: then it runs as nobody (setpriv execs,
# so $! is the postmaster's PID).
if [ "$(id -u)" -eq 0 ]; then
    command -v setpriv >/dev/null 2>&1 || die "missing setpriv (util-linux)"
    AS_PG="setpriv --reuid=nobody --regid=nogroup --clear-groups"
    PG_OWNER=nobody
else
    AS_PG=""
    PG_OWNER=""
fi

bench_scratch es
chmod 755 "$DIR"
SRV_KIND=""

# 100 bytes of JSON, the same for both
DATA='{"amount":12345,"currency":"EUR","account":"a-000001","note":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}'
[ "${#DATA}" -eq 100 ] || die "DATA is ${#DATA} bytes"

# ---- PostgreSQL -------------------------------------------------------

PSQL() { "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$SRV_PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }

# The schema: the events table of an event store. (stream, version) is the
# primary key (the expected-version check), id is unique (idempotent
# appends by event id, which Mnemosyne does too), position is unique (reads
# of the global order). Mnemosyne also keeps its category and event-type
# views; the table gets no such indexes, which only favours PostgreSQL.
SCHEMA="
CREATE TABLE streams (stream text PRIMARY KEY, version bigint NOT NULL);
CREATE TABLE events (
    stream   text        NOT NULL,
    version  bigint      NOT NULL,
    id       uuid        NOT NULL DEFAULT gen_random_uuid(),
    type     text        NOT NULL,
    data     jsonb       NOT NULL,
    meta     jsonb,
    ts       timestamptz NOT NULL DEFAULT now(),
    position bigserial   NOT NULL,
    PRIMARY KEY (stream, version),
    UNIQUE (id),
    UNIQUE (position)
);"

# any: the stream's row is created at version 0 or bumped (locked until
# commit), and the event inserted at that version, in one statement (one
# round trip, one transaction).
cat >"$DIR/pg_any.sql" <<EOF
\\set r random(0, $((STREAMS - 1)))
WITH v AS (INSERT INTO streams VALUES ('acct-' || lpad(:r::text, 12, '0'), 0) ON CONFLICT (stream) DO UPDATE SET version = streams.version + 1 RETURNING stream, version) INSERT INTO events (stream, version, type, data) SELECT stream, version, 'Deposited', '$DATA' FROM v;
EOF
# exact: client k's i-th event goes to its stream i mod PER at version
# i / PER (pgbench keeps :i per client across transactions; -D i=0).
cat >"$DIR/pg_exact.sql" <<EOF
\\set s :client_id * $PER + :i % $PER
\\set v :i / $PER
INSERT INTO events (stream, version, type, data) VALUES ('ex-' || lpad(:s::text, 12, '0'), :v, 'Deposited', '$DATA');
\\set i :i + 1
EOF

# A fresh cluster with the schema, made once; every run starts on a copy.
make_pg_template() {
    mkdir -p "$DIR/pg-template"
    [ -n "$PG_OWNER" ] && chown "$PG_OWNER" "$DIR/pg-template"
    $AS_PG "$PGBIN/initdb" -D "$DIR/pg-template/data" -U postgres -A trust -E UTF8 --no-locale \
        >"$DIR/initdb.log" 2>&1 || die "initdb failed: $(tail -5 "$DIR/initdb.log")"
    SRV_DIR="$DIR/pg-template"
    start_pg_in "$SRV_DIR"
    PSQL -d postgres -c "CREATE DATABASE bench"
    PSQL -d bench -c "$SCHEMA"
    PG_SETTINGS=$(PSQL -d bench -At -F= -c "SELECT name, setting FROM pg_settings WHERE name IN
        ('fsync','synchronous_commit','wal_sync_method','full_page_writes','shared_buffers',
         'commit_delay','wal_level','max_connections','checkpoint_timeout','max_wal_size')
        ORDER BY name" | tr '\n' ' ')
    PG_VERSION=$(PSQL -d bench -At -c "SHOW server_version")
    stop_server
}

# start_pg_in DIR: postgres on DIR/data, a free loopback port, TCP only (no
# Unix socket, whose path length a deep BENCH_DIR could exceed)
start_pg_in() {
    SRV_PORT=$(free_port)
    $AS_PG "$PGBIN/postgres" -D "$1/data" -p "$SRV_PORT" -c listen_addresses=127.0.0.1 \
        -c unix_socket_directories= \
        >"$1/server.log" 2>&1 &
    SRV_PID=$!
    SRV_KIND=pg
    wait_ready "$SRV_PID" "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$SRV_PORT" ||
        die "postgres did not start on $SRV_PORT: $(tail -5 "$1/server.log")"
}

# ---- Mnemosyne --------------------------------------------------------

start_mn() {
    SRV_PORT=$(free_port)
    SRV_DIR=$(mktemp -d "$DIR/mn.XXXXXX")
    "$MN" --port "$SRV_PORT" --bind 127.0.0.1 --dir "$SRV_DIR/data" --loglevel warning \
        --fsync always >"$SRV_DIR/server.log" 2>&1 &
    SRV_PID=$!
    SRV_KIND=mn
    wait_ready "$SRV_PID" answers_ping "$SRV_PORT" ||
        die "mnemosyned did not answer PING on $SRV_PORT: $(tail -5 "$SRV_DIR/server.log")"
}

# stop_server: SIGTERM (mnemosyned) or SIGINT (postgres: fast shutdown) to
# SRV_PID, and wait for it.
stop_server() {
    local pid
    pid=$SRV_PID
    SRV_PID=""
    if [ "$SRV_KIND" = pg ]; then stop_pid "$pid" INT 60; else stop_pid "$pid" TERM 60; fi
}

# record_syncs RUN NAME: after a Mnemosyne case, its group commits —
# mn.NAME.ops_per_sync (appends per fdatasync) — when perf counts them.
record_syncs() {
    syncs_end "$DIR/perf.txt"
    [ -n "$SYNCS" ] && [ "$SYNCS" -gt 0 ] || return 0
    record "$1" "mn.$2.ops_per_sync" "$(awk -v s="$SYNCS" -v n="$ES_N" 'BEGIN {print n / s}')" ops/sync
}

mn_events() { redis-cli -h 127.0.0.1 -p "$SRV_PORT" info persistence | tr -d '\r' | awk -F: '$1 == "mn_events" {print $2}'; }

# ---- the cases --------------------------------------------------------

run_mn() { # RUN
    local r="$1" out rps p50 p99 n
    start_mn
    # any: redis-benchmark --csv; the test name (first column) holds the JSON
    # and its commas, so the figures are taken counting from the end
    syncs_begin "$SRV_PID" "$DIR/perf.txt"
    out=$(timeout 900 redis-benchmark -h 127.0.0.1 -p "$SRV_PORT" -n "$ES_N" -c "$CLIENTS" -P 1 \
        -r "$STREAMS" --csv ES.APPEND 'acct-__rand_int__' ANY EVENT '*' Deposited "$DATA" | tail -1)
    record_syncs "$r" any
    # ..."rps","avg","min","p50","p95","p99","max"
    rps=$(echo "$out" | awk -F'","' '{print $(NF-6)}')
    p50=$(echo "$out" | awk -F'","' '{print $(NF-3)}')
    p99=$(echo "$out" | awk -F'","' '{print $(NF-1)}')
    [ -n "$rps" ] || die "mn any: no result from redis-benchmark"
    n=$(mn_events)
    [ "$n" -eq "$ES_N" ] || die "mn any: $n events stored after $ES_N ES.APPENDs (errors?)"
    record "$r" mn.any.ops_per_s "$rps" ops/s
    record "$r" mn.any.p50_ms "$p50" ms
    record "$r" mn.any.p99_ms "$p99" ms
    log "  mn any (redis-benchmark): $rps ops/s (p50 $p50 ms, p99 $p99 ms)"

    mn_load "$r" exact exact ex-
    [ "$(mn_events)" -eq $((2 * ES_N)) ] || die "mn exact: events stored do not add up"
    mn_load "$r" any.es_load any load-
    stop_server
    rm -rf "$SRV_DIR"
}

mn_load() { # RUN NAME MODE PREFIX
    local out
    syncs_begin "$SRV_PID" "$DIR/perf.txt"
    out=$(timeout 900 "$LOAD" -h 127.0.0.1 -p "$SRV_PORT" -c "$CLIENTS" -n "$ES_N" -s "$STREAMS" \
        -m "$3" --prefix "$4" --type Deposited --data "$DATA" 2>"$DIR/load.err") ||
        die "mn $2: es_load failed: $(cat "$DIR/load.err")"
    record_syncs "$1" "$2"
    echo "$out" | sed -n 's/^RESULT name=\([^ ]*\) value=\([^ ]*\) unit=\(.*\)$/\1 \2 \3/p' |
        while read -r name value unit; do
            case $name in ops_per_s|p50_ms|p99_ms) record "$1" "mn.$2.$name" "$value" "$unit" ;; esac
        done
    log "  mn $2 (es_load): $(cat "$DIR/load.err")"
}

run_pg() { # RUN
    local r="$1"
    SRV_DIR="$DIR/pg.$r"
    cp -a "$DIR/pg-template" "$SRV_DIR"
    rm -f "$SRV_DIR/data/postmaster.pid"
    start_pg_in "$SRV_DIR"
    pg_case "$r" any "$DIR/pg_any.sql" "acct-%"
    pg_case "$r" exact "$DIR/pg_exact.sql" "ex-%"
    stop_server
    rm -rf "$SRV_DIR"
}

pg_case() { # RUN NAME SCRIPT STREAM-LIKE
    local out n tps failed lat p50 p99 stored
    rm -f "$DIR"/pglog*
    # -j 2: two client threads (the machine's CPUs are shared by everything)
    out=$(cd "$DIR" && timeout 900 "$PGBIN/pgbench" -h 127.0.0.1 -p "$SRV_PORT" -U postgres -n \
        -c "$CLIENTS" -j 2 -T "$PG_SECS" -M prepared -D i=0 -l --log-prefix=pglog -f "$3" bench 2>&1) ||
        die "pg $2: pgbench failed: $(echo "$out" | tail -5)"
    n=$(echo "$out" | sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p')
    tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p')
    failed=$(echo "$out" | sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p')
    [ -n "$n" ] && [ -n "$tps" ] || die "pg $2: cannot read pgbench's output: $out"
    [ "${failed:-0}" -eq 0 ] || die "pg $2: $failed failed transactions"
    echo "$out" | grep -q 'aborted' && die "pg $2: a client aborted: $(echo "$out" | grep aborted | head -1)"
    stored=$(PSQL -d bench -At -c "SELECT count(*) FROM events WHERE stream LIKE '$4'")
    [ "$stored" -eq "$n" ] || die "pg $2: $stored events stored, pgbench processed $n"
    # per-transaction log: client_id transaction_no latency_us script_no epoch us
    lat=$(cat "$DIR"/pglog* | awk '{print $3}' | sort -n |
        awk '{a[NR] = $1} END {print a[int(NR * 0.5) + 1] / 1000, a[int(NR * 0.99) + 1] / 1000}')
    p50=${lat% *}
    p99=${lat#* }
    record "$1" "pg.$2.ops_per_s" "$tps" ops/s
    record "$1" "pg.$2.p50_ms" "$p50" ms
    record "$1" "pg.$2.p99_ms" "$p99" ms
    log "  pg $2 (pgbench): $tps tps, $n transactions (p50 $p50 ms, p99 $p99 ms)"
}

# ---- run --------------------------------------------------------------

log "making the PostgreSQL template cluster"
make_pg_template

{
    machine_meta "$DIR"
    echo "mnemosyned: ${BENCH_ENGINE:-$(git -C "$TOP" describe --always --dirty 2>/dev/null || echo unknown)} ($MN), --fsync always"
    echo "postgresql: $PG_VERSION ($PGBIN), settings: $PG_SETTINGS"
    echo "clients: redis-benchmark ($(redis-benchmark --version 2>/dev/null | head -1)), es_load (hiredis), $("$PGBIN/pgbench" --version)"
    echo "fsync counting (Mnemosyne): $([ "$PERF_OK" = 1 ] && echo "$PERF_HOW" || echo 'off (perf missing or not permitted)')"
    echo "load at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$META"
cat "$META" >&2

RUN_I=1
while [ "$RUN_I" -le "$RUNS" ]; do
    if [ $((RUN_I % 2)) -eq 1 ]; then order="mn pg"; else order="pg mn"; fi
    for kind_i in $order; do
        log "run $RUN_I/$RUNS: $kind_i (load $(cut -d' ' -f1-3 /proc/loadavg))"
        if [ "$kind_i" = mn ]; then run_mn "$RUN_I"; else run_pg "$RUN_I"; fi
    done
    RUN_I=$((RUN_I + 1))
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"

{
    echo "# Event-store benchmark (ES.APPEND vs PostgreSQL), $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    "$PY" "$HERE/report.py" es "$TSV" "$META" "$ES_N" "$PG_SECS" "$CLIENTS" "$STREAMS" "$DATA"
} >"$MD"
cat "$MD"
log "report: $MD   raw samples: $TSV"

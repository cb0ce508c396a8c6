#!/bin/sh
# Installs the Debian packages Mnemosyne builds, tests and benchmarks with.
# Idempotent and quick when everything is present: it asks dpkg first and only
# calls apt-get for what is missing. Run as root (or with sudo available).
#
#   scripts/install-deps.sh          build + test packages
#   scripts/install-deps.sh --bench  also the peers the benchmarks run
set -eu

PKGS="build-essential clang pkg-config liblmdb-dev lmdb-utils libhiredis-dev
      python3 python3-redis python3-pytest redis-tools valgrind
      liblua5.4-dev libsqlite3-dev"
# postgresql: the peer of bench/run-es.sh (initdb, postgres, pgbench from
# /usr/lib/postgresql/15/bin; the script runs its own private cluster)
BENCH_PKGS="redis-server fio postgresql"

[ "${1:-}" = "--bench" ] && PKGS="$PKGS $BENCH_PKGS"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null

#!/bin/sh
# make run: start mnemosyned in the foreground on ./data (or $MNEMO_DIR),
# port 6363 (or $MNEMO_PORT). Extra arguments go to the server:
#   make run ARGS="--fsync interval:100"
cd "$(dirname "$0")/.."
dir=${MNEMO_DIR:-./data}
port=${MNEMO_PORT:-6363}
echo "mnemosyned: data in $dir, port $port — connect with: redis-cli -p $port"
echo "            (Ctrl-C stops it cleanly; the CLI: build/mnemo --dir $dir --help)"
# shellcheck disable=SC2086
exec build/mnemosyned --dir "$dir" --port "$port" $ARGS

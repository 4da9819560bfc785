#!/usr/bin/env bash
# The example robot by one launch script: discod, a C camera, a C consumer
# and a legacy-protocol Python consumer, all started in any order.
#   launch.sh start RUN_DIR [BIN_DIR]   start everything, logs in RUN_DIR
#   launch.sh stop RUN_DIR              stop everything
#   launch.sh restart-camera RUN_DIR [BIN_DIR]
# BIN_DIR holds discod, camera_pub and consumer (default: the build tree).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command=${1:?usage: launch.sh start|stop|restart-camera RUN_DIR [BIN_DIR]}
run=${2:?RUN_DIR}
bin=${3:-$here/../../../build/deploy/examples/robot}
discod_bin=${DISCOD_BIN:-$bin/discod}
[ -x "$discod_bin" ] || discod_bin=$here/../../../build/server/discod
endpoint="ipc://$run/discovery.sock"
mkdir -p "$run"

start_one() { # name, command...
  local name=$1
  shift
  "$@" > "$run/$name.log" 2>&1 &
  echo $! > "$run/$name.pid"
}

case $command in
  start)
    # Consumers first: they wait for what is not there yet.
    start_one consumer "$bin/consumer" "$endpoint"
    start_one consumer_legacy /usr/bin/python3 "$here/consumer_legacy.py" "$endpoint"
    start_one discod "$discod_bin" --address "$endpoint" --db "$run/registry.db" \
      --events "ipc://$run/events.sock"
    start_one camera "$bin/camera_pub" "$endpoint" "$run"
    ;;
  restart-camera)
    start_one camera "$bin/camera_pub" "$endpoint" "$run"
    ;;
  stop)
    for name in camera consumer consumer_legacy discod; do
      [ -f "$run/$name.pid" ] && kill "$(cat "$run/$name.pid")" 2>/dev/null || true
    done
    ;;
  *) echo "unknown command $command" >&2; exit 2 ;;
esac

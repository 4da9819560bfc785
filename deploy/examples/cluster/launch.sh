#!/usr/bin/env bash
# Three discod members of one cluster on one machine, for trying failover:
# Raft peer links on loopback ports BASE+1..BASE+3, each member with its own
# ipc endpoint, events endpoint, database and Raft log in RUN_DIR.
#   launch.sh start RUN_DIR [BASE_PORT]   start the three members (default 7400)
#   launch.sh kill RUN_DIR ID             kill -9 member ID (try the leader)
#   launch.sh restart RUN_DIR ID [BASE_PORT]
#   launch.sh status RUN_DIR              discoctl members, asking every member
#   launch.sh stop RUN_DIR                stop them all (SIGTERM)
# DISCOD_BIN and DISCOCTL_BIN override the binaries (default: the build tree).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
command=${1:?usage: launch.sh start|kill|restart|status|stop RUN_DIR [...]}
run=${2:?RUN_DIR}
discod_bin=${DISCOD_BIN:-$here/../../../build/server/discod}
discoctl_bin=${DISCOCTL_BIN:-$here/../../../build/client/discoctl}
mkdir -p "$run"

start_member() { # id base_port
  local id=$1 base=$2 members=()
  for m in 1 2 3; do members+=(--cluster-member "$m=127.0.0.1:$((base + m))"); done
  # --insecure-tcp: the peer links stay on this machine's loopback. On a robot
  # they cross the wire: give every member --curve-key (deploy/README.md).
  "$discod_bin" --member-id "$id" "${members[@]}" --insecure-tcp \
    --address "ipc://$run/m$id.sock" --events "ipc://$run/m$id-events.sock" \
    --db "$run/m$id.db" >> "$run/m$id.log" 2>&1 &
  echo $! > "$run/m$id.pid"
}

endpoints() {
  for m in 1 2 3; do printf -- '-e ipc://%s/m%s.sock ' "$run" "$m"; done
}

case $command in
  start)
    base=${3:-7400}
    echo "$base" > "$run/base_port"
    for id in 1 2 3; do start_member "$id" "$base"; done
    # Clients list every member; --prefer-local would pick this machine's first.
    echo "endpoints: $(endpoints)"
    ;;
  kill)
    id=${3:?member id}
    kill -9 "$(cat "$run/m$id.pid")"
    ;;
  restart)
    id=${3:?member id}
    start_member "$id" "${4:-$(cat "$run/base_port")}"
    ;;
  status)
    # shellcheck disable=SC2046
    "$discoctl_bin" --timeout-ms 1000 --retries 1 $(endpoints) members
    ;;
  stop)
    for id in 1 2 3; do
      [ -f "$run/m$id.pid" ] && kill "$(cat "$run/m$id.pid")" 2>/dev/null || true
    done
    ;;
  *) echo "unknown command $command" >&2; exit 2 ;;
esac

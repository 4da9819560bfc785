#!/bin/bash
# System calls the daemon makes per node of the robot bring-up (discod-bench
# --workload bringup), by thread, counted with strace over 2 s of a 5 s run:
# where a connection, a wake-up and a hand-over between threads go.
#
#   tests/bench/syscalls.sh BUILD [NODES]   (default: 100 nodes a round)
#
# A fresh daemon of BUILD (ipc endpoint, temporary database, no events, no
# prober). Prints each busy thread's calls per node (threads named by
# dc_thread.h; libzmq's I/O thread is ZMQbg/IO/0) and the total; a node is an
# accepted connection. strace slows the daemon: compare builds with this, not
# timings. Needs strace.
set -euo pipefail
build=${1:?usage: syscalls.sh BUILD [NODES]}
clients=${2:-100}
bench=${BENCH:-$build/tests/bench/discod-bench} # BENCH: another build's tool
command -v strace >/dev/null || { echo "syscalls.sh: needs strace" >&2; exit 2; }
work=$(mktemp -d /tmp/dc-syscalls.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

"$build/server/discod" --address "ipc://$work/d.sock" --db "$work/d.db" --events none \
  --probe false --log-level WARNING >"$work/log" 2>&1 &
pid=$!
for _ in $(seq 50); do
  "$bench" --endpoint "ipc://$work/d.sock" --workload ping --clients 1 --seconds 0.1 \
    >/dev/null 2>&1 && break
  sleep 0.1
done
for t in /proc/$pid/task/*; do echo "$(basename "$t") $(cat "$t/comm")"; done >"$work/threads"
"$bench" --endpoint "ipc://$work/d.sock" --pid "$pid" --workload bringup \
  --clients "$clients" --seconds 5 >"$work/bench" &
run=$!
sleep 1
timeout -s INT 2 strace -f -p "$pid" -o "$work/trace" 2>/dev/null || true
wait "$run"
# A node is a connection accepted (a whole call, or one resumed).
units=$(grep -cE "accept4(\(| resumed>).*= [0-9]+$" "$work/trace" || true)
[ "${units:-0}" -gt 0 ] || { echo "syscalls.sh: nothing counted" >&2; exit 1; }
awk -v n="$units" -v unit=node '
  FNR == NR { name[$1] = $2; next }
  !/resumed>/ { calls[$1]++; total++ }
  END {
    for (t in calls)
      if (calls[t] / n >= 0.5)
        printf "%-8s %-14s %6.1f a %s\n", t, name[t], calls[t] / n, unit
    printf "%-23s %6.1f a %s (%d %ss)\n", "total", total / n, unit, n, unit
  }' "$work/threads" "$work/trace" | sort -k3 -n -r

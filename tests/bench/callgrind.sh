#!/bin/bash
# Instructions the daemon executes per request, by workload (valgrind's
# callgrind: deterministic for a binary and a workload, so two builds compare
# across a noisy machine where timings do not).
#
#   tests/bench/callgrind.sh BUILD [WORKLOAD...]    (default: lookup register write-path)
#
# For each workload: a fresh daemon of BUILD under callgrind (ipc endpoint,
# temporary database, no events, no prober, no datagram channel), the 1,000
# lookup topics registered first, counters zeroed, then 2 discod-bench
# clients for 4 s (--no-prefill), then the counters dumped. The poll loop's
# turns are counted too (they follow the timing): compare builds measured in
# one sitting. Prints "workload requests instructions per-request". Needs
# valgrind; about 20 s a workload.
set -euo pipefail
build=${1:?usage: callgrind.sh BUILD [WORKLOAD...]}
shift
workloads=("$@")
[ ${#workloads[@]} -gt 0 ] || workloads=(lookup register write-path)
bench=${BENCH:-$build/tests/bench/discod-bench} # BENCH: another build's tool
discod=$build/server/discod
command -v valgrind >/dev/null || { echo "callgrind.sh: needs valgrind" >&2; exit 2; }
work=$(mktemp -d /tmp/dc-callgrind.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

printf "%-12s %10s %14s %12s\n" workload requests instructions per-request
for w in "${workloads[@]}"; do
  rm -rf "${work:?}"/*
  valgrind --tool=callgrind --callgrind-out-file="$work/out.%p" "$discod" \
    --address "ipc://$work/d.sock" --db "$work/d.db" --events none --probe false \
    --datagram false --log-level WARNING >"$work/log" 2>&1 &
  pid=$!
  up=
  for _ in $(seq 150); do
    if "$bench" --endpoint "ipc://$work/d.sock" --workload ping --clients 1 --seconds 0.2 \
      >/dev/null 2>&1; then up=1; break; fi
    sleep 0.2
  done
  [ -n "$up" ] || { echo "callgrind.sh: the daemon did not start" >&2; cat "$work/log" >&2; exit 1; }
  # The lookups' topics, registered before the counters start.
  "$bench" --endpoint "ipc://$work/d.sock" --workload lookup --clients 1 --seconds 0.5 >/dev/null
  callgrind_control -z "$pid" >/dev/null 2>&1
  row=$("$bench" --endpoint "ipc://$work/d.sock" --workload "$w" --clients 2 --seconds 4 \
    --no-prefill --json)
  callgrind_control -d "$pid" >/dev/null 2>&1
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
  requests=$(echo "$row" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
  # The dump asked for after the zeroing is part 1: what ran since.
  ir=$(awk '/^summary:/ {print $2}' "$work"/out.*.1)
  printf "%-12s %10d %14d %12.0f\n" "$w" "$requests" "$ir" "$(awk "BEGIN {print $ir / $requests}")"
done

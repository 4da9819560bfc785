#!/usr/bin/env bash
# Runs the whole benchmark suite in one go (about 7 minutes) and prints
# BENCHMARKS.md-ready tables: discod next to its floor (a ROUTER doing no work)
# and next to etcd (Debian's etcd-server, loaded through its HTTP gateway with
# wrk), all measured in this run on this machine.
# Usage: tests/bench/run-bench.sh [BUILD_DIR]      (BENCH_SECONDS=N per run, default 8)
# Not part of CI's pass/fail: the machines are shared and noisy.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:-$here/../../build}" && pwd)
seconds=${BENCH_SECONDS:-8}
bench=$build/tests/bench/discod-bench
floor=$build/tests/bench/discod-floor
discod=$build/server/discod

need=()
command -v etcd > /dev/null || need+=(etcd-server)
command -v wrk > /dev/null || need+=(wrk)
command -v curl > /dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get install -y -qq "${need[@]}" > /dev/null
fi

work=$(mktemp -d /tmp/dc-bench-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; wait 2> /dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

ms() { date +%s%3N; }
wait_ping() { # endpoint
  for _ in $(seq 400); do
    "$build/client/discoctl" -e "$1" --timeout-ms 100 --retries 1 ping > /dev/null 2>&1 && return 0
    sleep 0.025
  done
  return 1
}
start_discod() {
  "$discod" --address "ipc://$work/d.sock" --db "$work/registry.db" --events none --probe false \
    --log-level WARNING 2>> "$work/discod.log" &
  discod_pid=$!
  pids+=("$discod_pid")
  wait_ping "ipc://$work/d.sock"
}

"$floor" "ipc://$work/f.sock" &
floor_pid=$!
pids+=("$floor_pid")
start_discod

echo "## Machine"
echo
echo "- $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "- $(free -g | awk '/Mem:/ {print $2}') GiB memory; database on $(df -h "$work" | awk 'NR==2 {print $1}')"
echo "- $(uname -sr); discod $("$discod" --version | cut -d' ' -f2); libzmq $(pkg-config --modversion libzmq); SQLite $(sqlite3 --version 2>/dev/null | cut -d' ' -f1)"
sync_us=$(dd if=/dev/zero of="$work/fsync-probe" bs=4k count=500 oflag=dsync 2>&1 | \
          awk '/copied/ {for (i=1;i<=NF;i++) if ($i=="s,") print int($(i-1)*1000000/500)}')
echo "- one synchronous 4 KiB write (dd oflag=dsync) on this disk: ${sync_us} us"
# SQLite's WAL is rewritten from its start after each checkpoint: in steady
# state a commit overwrites blocks the file already has, which syncs faster
# than an append (no size change to record).
overwrite_us=$(dd if=/dev/zero of="$work/fsync-probe" bs=4k count=500 oflag=dsync conv=notrunc 2>&1 | \
               awk '/copied/ {for (i=1;i<=NF;i++) if ($i=="s,") print int($(i-1)*1000000/500)}')
echo "- the same 4 KiB written over blocks the file has (conv=notrunc, as a WAL in steady state): ${overwrite_us} us"
echo
echo "## discod and its floor"
echo
echo "| workload | clients | throughput | p50 us | p99 us | p999 us | daemon CPU us/req | daemon CPU | RSS MB | notes |"
echo "|---|---|---|---|---|---|---|---|---|---|"
row() { "$bench" --endpoint "ipc://$work/$1.sock" --pid "$2" --seconds "$seconds" "${@:3}"; }
num() { echo "$1" | awk -F'|' "{print \$$2}" | sed 's/[^0-9.]//g'; }
median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# The floor and discod take turns, BENCH_ROUNDS times: the machine's speed
# drifts within a minute, so each ratio compares neighbours, and the report
# gives the median round.
rounds=${BENCH_ROUNDS:-3}
cpu_ratios=(); tp_ratios=(); lookup_tps=(); floor_p50s=(); sub_cpu_ratios=()
for round in $(seq "$rounds"); do
  floor_row=$(row f "$floor_pid" --workload ping --clients 8)
  echo "${floor_row/| ping |/| floor: ping (round $round) |}"
  ping_row=$(row d "$discod_pid" --workload ping --clients 8)
  echo "${ping_row/| ping |/| ping (round $round) |}"
  lookup_row=$(row d "$discod_pid" --workload lookup --clients 8 --topics 1000)
  echo "${lookup_row/| lookup |/| lookup (round $round) |}"
  cpu_ratios+=("$(awk "BEGIN {printf \"%.2f\", $(num "$lookup_row" 8) / $(num "$floor_row" 8)}")")
  tp_ratios+=("$(awk "BEGIN {printf \"%.2f\", $(num "$lookup_row" 4) / $(num "$floor_row" 4)}")")
  lookup_tps+=("$(num "$lookup_row" 4)"); floor_p50s+=("$(num "$floor_row" 5)")
  # The same lookups (protocol 1, each counted per topic) with 10,000 more
  # subscriptions held each round.
  sub_row=$(row d "$discod_pid" --workload lookup-subscribed --clients 8 --topics 1000 --subscriptions 10000)
  echo "${sub_row/| lookup-subscribed |/| lookup-subscribed (round $round) |}"
  sub_cpu_ratios+=("$(awk "BEGIN {printf \"%.2f\", $(num "$sub_row" 8) / $(num "$floor_row" 8)}")")
done
list_ratios=()
for round in $(seq "$rounds"); do
  list_row=$(row d "$discod_pid" --workload list-under-load --clients 1 --topics 10000)
  echo "${list_row/| list-under-load |/| list-under-load (round $round) |}"
  list_ratios+=("$(echo "$list_row" | sed 's/.*ratio \([0-9.]*\).*/\1/')")
done
register8=$(row d "$discod_pid" --workload register --clients 8)
echo "$register8"
row d "$discod_pid" --workload register --clients 1
# The write path without its fsync (an UNREGISTER of a name never registered):
# what a registration costs besides the disk.
write_path8=$(row d "$discod_pid" --workload write-path --clients 8)
echo "$write_path8"
row d "$discod_pid" --workload mixed --clients 8 --topics 1000
row d "$discod_pid" --workload wait --clients 1
# Durable SUBSCRIBEs of new nodes with 10,000 subscriptions held: agreeing
# with their topic's publisher, then each a mismatch to detect, log and count.
subscribe8=$(row d "$discod_pid" --workload subscribe --clients 8 --subscriptions 10000)
echo "$subscribe8"
subscribe_mm8=$(row d "$discod_pid" --workload subscribe-mismatch --clients 8 --subscriptions 10000)
echo "$subscribe_mm8"
# A robot's bring-up: N nodes at once, each with its own libdiscod client.
row d "$discod_pid" --workload bringup --clients 100
row d "$discod_pid" --workload bringup --clients 200
hb_cpu=(); hb_dgram_cpu=()
for round in $(seq "$rounds"); do
  hb_row=$(row d "$discod_pid" --workload heartbeat --clients 4 --leases 10000)
  echo "${hb_row/| heartbeat |/| heartbeat (round $round) |}"
  hb_dgram_row=$(row d "$discod_pid" --workload heartbeat-datagram --clients 4 --leases 10000)
  echo "${hb_dgram_row/| heartbeat-datagram |/| heartbeat-datagram (round $round) |}"
  hb_cpu+=("$(num "$hb_row" 9)"); hb_dgram_cpu+=("$(num "$hb_dgram_row" 9)")
done

echo
echo "## Restart with 100,000 topics"
echo
kill "$discod_pid"; wait "$discod_pid" 2> /dev/null || true
rm -f "$work"/registry.db*
start_discod
"$bench" --endpoint "ipc://$work/d.sock" --workload lookup --topics 100000 --clients 1 \
  --seconds 0.2 > /dev/null
kill "$discod_pid"; wait "$discod_pid" 2> /dev/null || true
t0=$(ms)
start_discod
t1=$(ms)
rss=$(awk '/VmRSS/ {printf "%.1f", $2/1024}' "/proc/$discod_pid/status")
echo "| topics | restart to serving | RSS after load |"
echo "|---|---|---|"
echo "| $("$build/client/discoctl" -e "ipc://$work/d.sock" stats --json | sed 's/.*"topics":\([0-9]*\).*/\1/') | $((t1 - t0)) ms | ${rss} MB |"

echo
echo "## etcd in the same run"
echo
etcd --data-dir "$work/etcd" --listen-client-urls http://127.0.0.1:23790 \
  --advertise-client-urls http://127.0.0.1:23790 --listen-peer-urls http://127.0.0.1:23800 \
  --initial-advertise-peer-urls http://127.0.0.1:23800 \
  --initial-cluster default=http://127.0.0.1:23800 > "$work/etcd.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf http://127.0.0.1:23790/health > /dev/null && break; sleep 0.1; done
lease=$(curl -s -X POST http://127.0.0.1:23790/v3/lease/grant -d '{"TTL": 600}' | sed 's/.*"ID":"\([0-9]*\)".*/\1/')
curl -sf -X POST http://127.0.0.1:23790/v3/kv/put -d '{"key": "L2NhbQ==", "value": "aXBjOi8vL3RtcC9jYW0="}' > /dev/null
# A leased put must succeed before it is measured (a bad lease id is a 4xx too).
curl -sf -X POST http://127.0.0.1:23790/v3/kv/put \
  -d '{"key": "L3Byb2Jl", "value": "eA==", "lease": "'"$lease"'"}' > /dev/null ||
  { echo "etcd refused a leased put (lease '$lease'); the run is void" >&2; exit 1; }
cat > "$work/range.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"key": "L2NhbQ=="}'
LUA
etcd_row() { # name script path [-- script args]
  wrk -t2 -c8 -d"${seconds}s" --latency -s "$2" "http://127.0.0.1:23790$3" "${@:4}" > "$work/wrk.out"
  if grep -q "Non-2xx" "$work/wrk.out"; then
    echo "etcd answered errors to the $1 workload; the run is void:" >&2
    cat "$work/wrk.out" >&2
    exit 1
  fi
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/wrk.out")
  p50=$(awk '/ 50%/ {print $2}' "$work/wrk.out")
  p99=$(awk '/ 99%/ {print $2}' "$work/wrk.out")
  echo "$rps" > "$work/$(basename "$2").rps"
  echo "| etcd: $1 | 8 | $rps/s | $p50 | $p99 |"
}
echo "| workload | connections | throughput | p50 | p99 |"
echo "|---|---|---|---|---|"
etcd_row "range read" "$work/range.lua" /v3/kv/range
etcd_row "leased put" "$here/etcd_put.lua" /v3/kv/put -- "$lease"

echo
echo "## Ratios (this run)"
echo
reg_tp=$(num "$register8" 4); lookup_tp=$(median "${lookup_tps[@]}")
range_tp=$(cat "$work/range.lua.rps"); put_tp=$(cat "$work/etcd_put.lua.rps")
fsyncs=$(echo "$register8" | sed 's/.*fsyncs\/registration \([0-9.]*\).*/\1/')
echo "- daemon CPU per lookup / floor CPU per ping: $(median "${cpu_ratios[@]}") (median of rounds: ${cpu_ratios[*]})"
echo "- lookup throughput / floor: $(median "${tp_ratios[@]}") (median of rounds: ${tp_ratios[*]})"
echo "- daemon CPU per lookup with 10,000+ subscriptions held / floor CPU per ping: $(median "${sub_cpu_ratios[@]}") (median of rounds: ${sub_cpu_ratios[*]})"
echo "- SUBSCRIBE (8 clients, 10,000 held) / durable registrations: $(awk "BEGIN {printf \"%.2f\", $(num "$subscribe8" 4) / $(num "$register8" 4)}") in throughput; mismatch detection: $(awk "BEGIN {printf \"%.2f\", $(num "$subscribe_mm8" 8) / $(num "$subscribe8" 8)}")x the daemon CPU per SUBSCRIBE"
echo "- lookup throughput (median round) / etcd range reads: $(awk "BEGIN {printf \"%.1f\", $lookup_tp / $range_tp}")"
echo "- durable registrations (8 clients) / etcd leased puts: $(awk "BEGIN {printf \"%.1f\", $reg_tp / $put_tp}"); fsyncs per registration: $fsyncs"
# Little's law: 8 closed-loop clients do 8 / (one registration's latency)
# per second. A registration's latency is at least the write path's (measured
# at 8 clients, without a commit) plus one fsync; with no daemon at all it is
# at least the floor's round trip plus one fsync.
wp_p50=$(num "$write_path8" 5); floor_p50=$(median "${floor_p50s[@]}")
echo "- bound for 8 closed-loop clients, this write path: 8 / (write-path p50 ${wp_p50} us + ${overwrite_us} us fsync) = $(awk "BEGIN {b = 8e6 / ($wp_p50 + $overwrite_us); printf \"%.0f/s = %.1fx etcd\", b, b / $put_tp}")"
echo "- bound for 8 closed-loop clients, a daemon costing nothing: 8 / (floor ping p50 ${floor_p50} us + ${overwrite_us} us fsync) = $(awk "BEGIN {b = 8e6 / ($floor_p50 + $overwrite_us); printf \"%.0f/s = %.1fx etcd\", b, b / $put_tp}")"
echo "- lookup p99 under a LIST loop / alone: $(median "${list_ratios[@]}") (median of rounds: ${list_ratios[*]})"
echo "- daemon CPU for 10,000 leases at 1 Hz, % of a core (median of rounds): $(median "${hb_dgram_cpu[@]}") on the datagram channel (${hb_dgram_cpu[*]}), $(median "${hb_cpu[@]}") through ZeroMQ (${hb_cpu[*]})"

# The HTTP listener's cost: a second daemon with --http, /metrics fetched
# every second, the dashboard's refresh (graph, stats, members) every 5 s and
# one event stream open; lookups on both, taking turns.
echo
echo "## Lookups with the HTTP listener on (a scrape a second, a dashboard open)"
echo
echo "| workload | clients | throughput | p50 us | p99 us | p999 us | daemon CPU us/req | daemon CPU | RSS MB | notes |"
echo "|---|---|---|---|---|---|---|---|---|---|"
"$discod" --address "ipc://$work/off.sock" --db "$work/off.db" --events none --probe false \
  --log-level WARNING 2>> "$work/discod.log" &
off_pid=$!; pids+=("$off_pid")
http_port=$((20000 + RANDOM % 10000))
"$discod" --address "ipc://$work/on.sock" --db "$work/on.db" --events none --probe false \
  --http "127.0.0.1:$http_port" --log-level WARNING 2>> "$work/discod.log" &
on_pid=$!; pids+=("$on_pid")
wait_ping "ipc://$work/off.sock"; wait_ping "ipc://$work/on.sock"
( for i in $(seq 100000); do
    curl -s -o /dev/null "http://127.0.0.1:$http_port/metrics"
    if [ $((i % 5)) = 0 ]; then
      for v in graph stats members; do curl -s -o /dev/null "http://127.0.0.1:$http_port/api/v1/$v"; done
    fi
    sleep 1
  done ) &
pids+=($!)
curl -s -N -o /dev/null "http://127.0.0.1:$http_port/api/v1/events" &
pids+=($!)
off_cpu=(); on_cpu=(); off_p99=(); on_p99=()
for round in $(seq "$rounds"); do
  off_row=$(row off "$off_pid" --workload lookup --clients 8 --topics 1000)
  echo "${off_row/| lookup |/| lookup, listener off (round $round) |}"
  on_row=$(row on "$on_pid" --workload lookup --clients 8 --topics 1000)
  echo "${on_row/| lookup |/| lookup, listener on (round $round) |}"
  off_cpu+=("$(num "$off_row" 8)"); on_cpu+=("$(num "$on_row" 8)")
  off_p99+=("$(num "$off_row" 6)"); on_p99+=("$(num "$on_row" 6)")
done
echo
echo "- daemon CPU per lookup, listener on / off (medians): $(awk "BEGIN {printf \"%.2f\", $(median "${on_cpu[@]}") / $(median "${off_cpu[@]}")}") (on ${on_cpu[*]}; off ${off_cpu[*]})"
echo "- lookup p99, listener on / off (medians): $(awk "BEGIN {printf \"%.2f\", $(median "${on_p99[@]}") / $(median "${off_p99[@]}")}") (on ${on_p99[*]}; off ${off_p99[*]})"

# A member cut off from its cluster (network namespaces: root only).
echo
/usr/bin/python3 "$here/island_bench.py" "$build" --seconds "$seconds"

# The cluster: three members against a three-member etcd (failover, durable
# registrations, lookups on a follower); BENCH_KILLS leader kills (default 20).
echo
/usr/bin/python3 "$here/cluster_bench.py" "$build" --kills "${BENCH_KILLS:-20}" --seconds "$seconds"

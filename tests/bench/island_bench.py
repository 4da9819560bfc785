#!/usr/bin/python3
"""Benchmarks of a member cut off from its cluster (run by run-bench.sh as
root; network namespaces, as tests/python/test_island.py): durable
registrations per second on an isolated member (8 local clients) next to a
standalone daemon on the same machine; the time from the cut to the first
local write acknowledged, next to the failover of a three-member cluster
whose leader is cut off; the time from the heal to 1,000 provisional
registrations merged. Prints BENCHMARKS.md-ready lines.

Usage: island_bench.py BUILD_DIR [--seconds S]"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))

from cluster import Cluster  # noqa: E402
from conftest import Daemon, topic_blob  # noqa: E402
from netns import SUBNET, Netns  # noqa: E402


def bench_register(build, endpoint, pid, seconds):
    out = subprocess.run([os.path.join(build, "tests", "bench", "discod-bench"), "--endpoint",
                          endpoint, "--pid", str(pid), "--workload", "register", "--clients", "8",
                          "--seconds", str(seconds)], capture_output=True, text=True, check=True)
    row = out.stdout.strip()
    return row, float(row.split("|")[3].strip().rstrip("/s"))


def first_ack(member, deadline_s=20):
    """Seconds until a REGISTER on member is answered OK (tries every 20 ms)."""
    t0 = time.time()
    i = 0
    while time.time() - t0 < deadline_s:
        i += 1
        try:
            r = member.request({"command": 1, "topic_name": None,
                                "topic_info": topic_blob(f"/first/{i}", publisher_node="b")},
                               timeout_ms=200)
            if r["status"] == 0:
                return time.time() - t0
        except TimeoutError:
            pass
        time.sleep(0.02)
    return float("nan")


def cluster_in(net, tmp, size, isolated):
    tmp = tempfile.mkdtemp(prefix="c", dir=tmp)  # a fresh cluster: its own logs
    c = Cluster(tmp, size=size, election_ms=300, isolated=isolated)
    c.addresses = {i: f"{SUBNET}.{i}:7400" for i in range(1, size + 1)}
    for i, m in c.members.items():
        m.wrapper = ("ip", "netns", "exec", net.names[i - 1])
    c.start()
    c.leader()
    return c


RUNNING = []  # (cluster, netns) to stop whatever happens


def cluster_net(n, tmp, isolated):
    net = Netns(n=n)
    try:
        c = cluster_in(net, tmp, n, isolated)
    except Exception:
        net.close()
        raise
    RUNNING.append((c, net))
    return c, net


def stop(c, net):
    RUNNING.remove((c, net))
    c.stop()
    net.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("build")
    p.add_argument("--seconds", type=float, default=8)
    a = p.parse_args()
    build = os.path.abspath(a.build)
    os.environ.setdefault("DISCOD_BIN", os.path.join(build, "server", "discod"))
    print("## A member cut off from its cluster (two computers, network namespaces)")
    print()
    # Standalone, on the same machine.
    tmp = tempfile.mkdtemp(prefix="dc-island-bench-")
    d = Daemon(tmp, "alone")
    d.start("--events", "none")
    alone_row, alone = bench_register(build, d.endpoint, d.proc.pid, a.seconds)
    d.stop()
    # Two members, the cable cut.
    c, net = cluster_net(2, tmp, "serve-local")
    one = c.members[1]
    net.cut(1)
    t_island = first_ack(one)
    island_row, island = bench_register(build, one.endpoint, one.proc.pid, a.seconds)
    print("| workload | clients | throughput | p50 us | p99 us | p999 us | daemon CPU us/req | "
          "daemon CPU | RSS MB | notes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(alone_row.replace("| register |", "| register, standalone |"))
    print(island_row.replace("| register |", "| register, isolated member |"))
    print()
    print(f"- durable registrations on an isolated member / standalone: {island / alone:.2f}")
    stop(c, net)
    # 1,000 provisional registrations merged after the heal.
    c, net = cluster_net(2, tmp, "serve-local")
    one = c.members[1]
    net.cut(1)
    first_ack(one)
    for i in range(1000 - one.cluster_stats()["provisional"]):
        one.request({"command": 1, "topic_name": None,
                     "topic_info": topic_blob(f"/merge/{i}", publisher_node="m")})
    held = one.cluster_stats()["provisional"]
    net.heal(1)
    t0 = time.time()
    while one.cluster_stats()["provisional"] and time.time() - t0 < 120:
        time.sleep(0.02)
    merge_s = time.time() - t0
    print(f"- heal to {held} provisional writes merged: {merge_s:.2f} s "
          f"({held / merge_s:.0f} merged/s)")
    stop(c, net)
    # Three members, the leader cut off: the majority's failover.
    c, net = cluster_net(3, tmp, "serve-local")
    leader = c.leader()
    follower = [m for m in c.members.values() if m is not leader][0]
    net.cut(leader.id)
    t_failover = first_ack(follower)
    stop(c, net)
    print(f"- cut to the first local write acknowledged on an isolated member: {t_island:.2f} s;"
          f" a three-member cluster's failover (cut leader, a follower's first write): "
          f"{t_failover:.2f} s (election timeout 300 ms; the isolation bound is two)")
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    if os.geteuid() != 0:
        print("island_bench.py: network namespaces need root; skipped")
        sys.exit(0)
    try:
        main()
    finally:
        for c, net in list(RUNNING):
            c.stop()
            net.close()

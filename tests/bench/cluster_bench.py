#!/usr/bin/python3
"""The cluster benchmarks: three discod members on loopback against three
etcd members on loopback, in the same run on the same machine.

- failover: kill -9 of the leader, time until the first acknowledged write on
  a survivor (a client writing in a loop there, 20 kills each);
- durable registrations/s with 8 clients (discod-bench register, on the
  leader and on a follower) against etcd's leased puts (wrk, 8 connections),
  and one client's registration latency on the leader and through a follower;
- lookups/s on a follower against the same on a standalone discod;
- the registration targets of issue #20, in rounds that take turns (a
  standalone daemon, the leader, a follower: 8 clients each, --rounds of
  them) with the median of each ratio: leader / standalone, follower /
  leader, and the follower's p99 against the leader's.

Usage: cluster_bench.py BUILD_DIR [--kills N] [--seconds S] [--rounds R]
Prints markdown for BENCHMARKS.md. Every request's status is checked: a run
with failed requests is void (exit 1). Not part of CI's pass/fail."""
import argparse
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import msgpack
import zmq


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p * (len(values) - 1))))]


class Discod:
    def __init__(self, build, work, size=3):
        self.bin = os.path.join(build, "server", "discod")
        self.work = work
        self.ports = {i: free_port() for i in range(1, size + 1)}
        self.procs = {}

    def endpoint(self, i):
        return f"ipc://{self.work}/m{i}.sock"

    def start(self, i):
        args = [self.bin, "--member-id", str(i), "--address", self.endpoint(i),
                "--db", f"{self.work}/m{i}.db", "--events", "none", "--probe", "false",
                "--log-level", "WARNING", "--insecure-tcp"]  # peer links on loopback
        for m, port in self.ports.items():
            args += ["--cluster-member", f"{m}=127.0.0.1:{port}"]
        log = open(f"{self.work}/m{i}.log", "a")
        self.procs[i] = subprocess.Popen(args, stdout=log, stderr=log)

    def request(self, i, body, timeout_ms=500):
        ctx = zmq.Context.instance()
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, timeout_ms)
        s.connect(self.endpoint(i))
        try:
            s.send(msgpack.packb(body, use_bin_type=True))
            return msgpack.unpackb(s.recv(), raw=False)
        except zmq.Again:
            return None
        finally:
            s.close()

    def leader(self, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for i in self.procs:
                if self.procs[i].poll() is None:
                    r = self.request(i, {"command": 9, "v": 2}, 300)
                    if r and r["stats"]["role"] == 3:
                        return i
            time.sleep(0.02)
        raise RuntimeError("no discod leader")

    def stats(self, i):
        r = self.request(i, {"command": 9, "v": 2}, 1000)
        if not r:
            raise RuntimeError(f"discod member {i} did not answer STATS")
        return r["stats"]

    def write(self, i, name, timeout_ms):
        blob = msgpack.packb({"name": name, "address": "ipc:///x", "message_type": "M",
                              "fingerprint": 1, "publisher_node": "bench"}, use_bin_type=True)
        r = self.request(i, {"command": 1, "topic_name": None, "topic_info": blob}, timeout_ms)
        return r is not None and r["status"] == 0

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=15)


class Etcd:
    def __init__(self, work, size=3):
        self.work = work
        self.client = {i: free_port() for i in range(1, size + 1)}
        self.peer = {i: free_port() for i in range(1, size + 1)}
        self.procs = {}
        self.initial = ",".join(f"e{i}=http://127.0.0.1:{self.peer[i]}" for i in self.peer)
        self.started = set()

    def start(self, i):
        state = "existing" if i in self.started else "new"
        args = ["etcd", "--name", f"e{i}", "--data-dir", f"{self.work}/etcd{i}",
                "--listen-client-urls", f"http://127.0.0.1:{self.client[i]}",
                "--advertise-client-urls", f"http://127.0.0.1:{self.client[i]}",
                "--listen-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
                "--initial-cluster", self.initial, "--initial-cluster-state", state]
        log = open(f"{self.work}/etcd{i}.log", "a")
        self.procs[i] = subprocess.Popen(args, stdout=log, stderr=log)
        self.started.add(i)

    def post(self, i, path, body, timeout=0.5):
        req = urllib.request.Request(f"http://127.0.0.1:{self.client[i]}{path}",
                                     data=json.dumps(body).encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"{}")
        except Exception:
            return None, None

    def leader(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for i in self.procs:
                if self.procs[i].poll() is None:
                    status, body = self.post(i, "/v3/maintenance/status", {})
                    if status == 200 and body.get("leader") == body["header"]["member_id"]:
                        return i
            time.sleep(0.05)
        raise RuntimeError("no etcd leader")

    def write(self, i, name, timeout_ms):
        key = base64.b64encode(name.encode()).decode()
        status, _ = self.post(i, "/v3/kv/put", {"key": key, "value": "eA=="}, timeout_ms / 1000)
        return status == 200

    def stop(self):
        for p in self.procs.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=15)


def failover(system, kills, settle):
    """Seconds from kill -9 of the leader to the first acknowledged write on a
    survivor, once per kill; the killed member is restarted between kills."""
    times = []
    for k in range(kills):
        leader = system.leader()
        survivor = next(i for i in system.procs if i != leader)
        assert system.write(survivor, f"/warm/{k}", 3000), "a write before the kill failed"
        system.procs[leader].kill()
        system.procs[leader].wait()
        t0 = time.monotonic()
        n = 0
        while not system.write(survivor, f"/fo/{k}/{n}", 200):
            n += 1
            if time.monotonic() - t0 > 30:
                raise RuntimeError("no write acknowledged within 30 s of the kill")
        times.append(time.monotonic() - t0)
        system.start(leader)
        time.sleep(settle)
    return times


def bench_row(build, endpoint, workload, clients, seconds, extra=()):
    out = subprocess.run([os.path.join(build, "tests", "bench", "discod-bench"), "--endpoint",
                          endpoint, "--workload", workload, "--clients", str(clients),
                          "--seconds", str(seconds), "--json", *extra],
                         capture_output=True, text=True, timeout=seconds * 10 + 60)
    if out.returncode != 0:
        raise RuntimeError(f"discod-bench {workload}: {out.stderr}")
    r = json.loads(out.stdout)
    if r.get("errors"):
        raise RuntimeError(f"discod-bench {workload}: {r['errors']} failed requests: void")
    return r


def start_standalone(binary, work, name):
    """A standalone discod (synchronous=FULL, the default) on a fresh
    database; returns the process and its endpoint once it listens."""
    sa_work = os.path.join(work, name)
    os.mkdir(sa_work)
    proc = subprocess.Popen([binary, "--address", f"ipc://{sa_work}/s.sock", "--db",
                             f"{sa_work}/s.db", "--events", "none", "--probe", "false",
                             "--log-level", "WARNING"])
    for _ in range(200):
        if os.path.exists(f"{sa_work}/s.sock"):
            break
        time.sleep(0.02)
    time.sleep(0.2)
    return proc, f"ipc://{sa_work}/s.sock"


def register_rounds(build, d, work, rounds, seconds, started):
    """Durable registrations, 8 clients, taking turns: a standalone daemon,
    the cluster's leader, a follower (forwarding to it), `rounds` times;
    prints each round and the median ratios. The standalone process goes
    into started (the caller kills what is left running)."""
    leader = d.leader()
    follower = next(i for i in d.procs if i != leader)
    standalone, endpoint = start_standalone(d.bin, work, "registrations")
    started.append(standalone)
    print("| round | standalone | leader | follower | leader / standalone | "
          "follower / leader | follower p99 / leader p99 | writes an entry |")
    print("|---|---|---|---|---|---|---|---|")
    ratios = {"ls": [], "fl": [], "p99": []}
    for k in range(1, rounds + 1):
        sa = bench_row(build, endpoint, "register", 8, seconds)
        s0 = d.stats(leader)
        le = bench_row(build, d.endpoint(leader), "register", 8, seconds)
        fo = bench_row(build, d.endpoint(follower), "register", 8, seconds)
        s1 = d.stats(leader)
        # The leader's proposals: changes committed / entries (both rows).
        per_entry = ((s1["batched_writes"] - s0["batched_writes"]) /
                     max(1, s1["commits"] - s0["commits"]))
        ratios["ls"].append(le["throughput"] / sa["throughput"])
        ratios["fl"].append(fo["throughput"] / le["throughput"])
        ratios["p99"].append(fo["p99_us"] / le["p99_us"])
        cells = [f"{r['throughput']:.0f}/s (p99 {r['p99_us']:.0f} us)" for r in (sa, le, fo)]
        print(f"| {k} | {' | '.join(cells)} | {ratios['ls'][-1]:.2f} | "
              f"{ratios['fl'][-1]:.2f} | {ratios['p99'][-1]:.1f} | {per_entry:.1f} |")
    print(f"| median | | | | {percentile(ratios['ls'], .5):.2f} (target >= 0.8) | "
          f"{percentile(ratios['fl'], .5):.2f} (target >= 0.8) | "
          f"{percentile(ratios['p99'], .5):.1f} (target <= 3) | |")
    standalone.send_signal(signal.SIGTERM)
    standalone.wait(timeout=15)


def wrk_puts(etcd, i, seconds):
    status, body = etcd.post(i, "/v3/lease/grant", {"TTL": 600}, 5)
    assert status == 200, "etcd lease grant failed"
    lease = body["ID"]
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "etcd_put.lua")
    out = subprocess.run(["wrk", "-t2", "-c8", f"-d{seconds}s", "-s", script,
                          f"http://127.0.0.1:{etcd.client[i]}/v3/kv/put", "--", str(lease), "/c/"],
                         capture_output=True, text=True, timeout=seconds + 60)
    if "Non-2xx" in out.stdout:
        raise RuntimeError("etcd answered errors to the puts: void\n" + out.stdout)
    for line in out.stdout.splitlines():
        if line.startswith("Requests/sec:"):
            return float(line.split()[1])
    raise RuntimeError("wrk printed no rate:\n" + out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    work = tempfile.mkdtemp(prefix="dc-cbench-")
    d = Discod(build, work)
    e = Etcd(work)
    started = []  # standalone daemons, killed at the end if still running
    try:
        for i in d.ports:
            d.start(i)
        for i in e.client:
            e.start(i)
        leader = d.leader()
        follower = next(i for i in d.procs if i != leader)
        e_leader = e.leader()

        print("## Cluster: three members on loopback, next to a three-member etcd")
        print()
        print("| measurement | discod | etcd | ratio |")
        print("|---|---|---|---|")
        reg_leader = bench_row(build, d.endpoint(leader), "register", 8, args.seconds)
        reg_follower = bench_row(build, d.endpoint(follower), "register", 8, args.seconds)
        one_leader = bench_row(build, d.endpoint(leader), "register", 1, args.seconds)
        one_follower = bench_row(build, d.endpoint(follower), "register", 1, args.seconds)
        puts = wrk_puts(e, e_leader, int(args.seconds))
        print(f"| durable registrations/s, 8 clients, on the leader | {reg_leader['throughput']:.0f} "
              f"(p99 {reg_leader['p99_us']:.0f} us) | {puts:.0f} leased puts/s | "
              f"{reg_leader['throughput'] / puts:.1f}x |")
        print(f"| the same on a follower (forwarded) | {reg_follower['throughput']:.0f} "
              f"(p99 {reg_follower['p99_us']:.0f} us) | | {reg_follower['throughput'] / puts:.1f}x |")
        print(f"| one client's registration, p50 / p99: on the leader; through a follower | "
              f"{one_leader['p50_us']:.0f} / {one_leader['p99_us']:.0f} us; "
              f"{one_follower['p50_us']:.0f} / {one_follower['p99_us']:.0f} us | | |")

        look_follower = bench_row(build, d.endpoint(follower), "lookup", 8, args.seconds,
                                  ("--topics", "1000"))
        # A standalone daemon, same workload, for the follower's ratio.
        standalone, sa_endpoint = start_standalone(d.bin, work, "lookups")
        started.append(standalone)
        look_sa = bench_row(build, sa_endpoint, "lookup", 8, args.seconds, ("--topics", "1000"))
        standalone.send_signal(signal.SIGTERM)
        standalone.wait(timeout=15)
        print(f"| lookups/s on a follower, 8 clients | {look_follower['throughput']:.0f} | "
              f"standalone discod: {look_sa['throughput']:.0f} | "
              f"{look_follower['throughput'] / look_sa['throughput']:.2f}x standalone |")

        fo_d = failover(d, args.kills, 1.0)
        fo_e = failover(e, args.kills, 2.0)
        print(f"| leader kill -9 to first acknowledged write on a survivor, {args.kills} kills: "
              f"p50 / p99 / max | {percentile(fo_d, .5) * 1000:.0f} / "
              f"{percentile(fo_d, .99) * 1000:.0f} / {max(fo_d) * 1000:.0f} ms | "
              f"{percentile(fo_e, .5) * 1000:.0f} / {percentile(fo_e, .99) * 1000:.0f} / "
              f"{max(fo_e) * 1000:.0f} ms | p99 {percentile(fo_d, .99) / percentile(fo_e, .99):.2f}x |")
        print()
        e.stop()  # idle, but not on the machine while the rounds run
        print(f"Durable registrations, 8 clients, {args.rounds} rounds taking turns "
              "(etcd stopped; leader and follower found again after the kills):")
        print()
        register_rounds(build, d, work, args.rounds, args.seconds, started)
        print()
        print("discod: election timeout 400 ms (default), heartbeat 5 ms; etcd: its defaults "
              "(election 1000 ms, heartbeat 100 ms). The failover write loop retries every "
              "200 ms at most (a try that gets no answer in 200 ms is retried).")
    finally:
        for p in started:
            if p.poll() is None:
                p.kill()
        d.stop()
        e.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

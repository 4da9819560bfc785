"""A smoke run of discod-bench: every workload for a moment against the real
daemon (and the floor), to keep the tool working. It checks that requests
were made and answered without errors, never how fast: speed lives in
BENCHMARKS.md."""
import json
import os
import subprocess

import pytest

BUILD = os.environ.get("DISCOD_BUILD_DIR") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
BENCH = os.path.join(BUILD, "tests", "bench", "discod-bench")
FLOOR = os.path.join(BUILD, "tests", "bench", "discod-floor")


def bench(endpoint, pid, *args):
    out = subprocess.run([BENCH, "--endpoint", endpoint, "--pid", str(pid), "--seconds", "0.4",
                          "--json", *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("args", [
    ["--workload", "ping", "--clients", "2"],
    ["--workload", "lookup", "--clients", "2", "--topics", "100"],
    ["--workload", "register", "--clients", "2"],
    ["--workload", "write-path", "--clients", "2"],
    ["--workload", "mixed", "--clients", "2", "--topics", "100"],
    ["--workload", "heartbeat", "--clients", "2", "--leases", "200"],
    ["--workload", "heartbeat-datagram", "--clients", "2", "--leases", "200"],
    ["--workload", "wait", "--clients", "1"],
    ["--workload", "list-under-load", "--clients", "1", "--topics", "500"],
])
def test_every_workload_runs(daemon, args):
    r = bench(daemon.endpoint, daemon.proc.pid, *args)
    assert r["requests"] > 0 and r["errors"] == 0
    assert r["daemon_rss_mb"] > 0


def test_floor_answers_the_bench(short_tmp):
    endpoint = f"ipc://{short_tmp}/floor.sock"
    floor = subprocess.Popen([FLOOR, endpoint])
    try:
        r = bench(endpoint, floor.pid, "--workload", "ping", "--clients", "2")
        assert r["requests"] > 0 and r["errors"] == 0
    finally:
        floor.kill()
        floor.wait()

"""discoctl (and through it the client library) against the real daemon and
against a daemon that speaks only Cortex part 1."""
import json
import os
import subprocess
import sys
import time

import pytest

from conftest import Daemon

BUILD = os.environ.get("DISCOD_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..",
                                                           "build")
DISCOCTL = os.path.join(BUILD, "client", "discoctl")
HERE = os.path.dirname(__file__)


def ctl(endpoint, *args, timeout=30, env_endpoint=False):
    env = dict(os.environ)
    env.pop("DISCOD_ENDPOINT", None)
    argv = [DISCOCTL, "--timeout-ms", "1000", "--retries", "2"]
    if env_endpoint:
        env["DISCOD_ENDPOINT"] = endpoint
    elif endpoint:
        argv += ["-e", endpoint]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_register_lookup_list_unregister(daemon):
    ep = daemon.endpoint
    r = ctl(ep, "register", "/cam/front", "ipc:///tmp/cortex/topics/cam", "sensor.Image",
            "--fingerprint", "18446744073709551615", "--node", "camera")
    assert r.returncode == 0 and "Registered topic: /cam/front" in r.stdout
    ctl(ep, "register", "/imu", "tcp://127.0.0.1:6000", "sensor.Imu")

    r = ctl(ep, "lookup", "/cam/front", "--json")
    assert r.returncode == 0
    found = json.loads(r.stdout)
    publishers = found.pop("publishers")
    topic = {"name": "/cam/front", "address": "ipc:///tmp/cortex/topics/cam",
             "message_type": "sensor.Image", "fingerprint": 18446744073709551615,
             "publisher_node": "camera"}
    assert found == topic
    assert len(publishers) == 1 and publishers[0]["lease_id"] == 0
    assert publishers[0]["registered_at_ms"] > 0
    assert {k: publishers[0][k] for k in topic} == topic
    r = ctl(ep, "list")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "ADDRESS", "TYPE", "NODE", "FINGERPRINT"]
    assert len(lines) == 3
    # Aligned: every row starts its second column at the same offset.
    col = lines[0].index("ADDRESS")
    assert all(line[col - 2:col] == "  " and line[col] != " " for line in lines)

    r = ctl(ep, "list", "--json", "--prefix", "/cam")
    assert [t["name"] for t in json.loads(r.stdout)] == ["/cam/front"]
    r = ctl(ep, "list", "--json", "--type", "sensor.Imu")
    assert [t["name"] for t in json.loads(r.stdout)] == ["/imu"]
    r = ctl(ep, "list", "--json", "--node", "camera")
    assert [t["name"] for t in json.loads(r.stdout)] == ["/cam/front"]

    assert ctl(ep, "unregister", "/imu").returncode == 0
    assert ctl(ep, "unregister", "/imu").returncode == 1
    assert ctl(ep, "lookup", "/imu").returncode == 1


def test_exit_codes(daemon, short_tmp):
    ep = daemon.endpoint
    assert ctl(ep, "ping").returncode == 0
    r = ctl(ep, "register", "/t", "ipc:///a", "T", "--node", "a")
    assert r.returncode == 0
    r = ctl(ep, "register", "/t", "ipc:///b", "T", "--node", "b")
    assert r.returncode == 4 and "already registered" in r.stderr
    assert ctl(ep, "lookup").returncode == 2
    assert ctl(ep, "frobnicate").returncode == 2
    assert ctl(ep, "register", "/t", "ipc:///a", "T", "--fingerprint", "-1").returncode == 2
    assert ctl(ep, "list", "--bogus").returncode == 2
    for command in ("ping", "list", "lookup", "register", "unregister", "wait", "stats"):
        r = ctl(ep, command, "--help")
        assert r.returncode == 0 and r.stdout.startswith(f"discoctl {command}")
    r = subprocess.run([DISCOCTL, "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "Exit codes" in r.stdout
    # Nobody there: exit 3 after timeout x retries, not a hang.
    t0 = time.time()
    r = ctl(f"ipc://{short_tmp}/nobody.sock", "ping")
    assert r.returncode == 3 and "unreachable" in r.stderr
    assert time.time() - t0 < 10


def test_endpoint_from_environment(daemon):
    assert ctl(daemon.endpoint, "ping", env_endpoint=True).returncode == 0


def test_stats(daemon):
    r = ctl(daemon.endpoint, "stats", "--json")
    stats = json.loads(r.stdout)
    assert r.returncode == 0 and stats["epoch"] >= 1 and "topics" in stats
    assert stats["role"] == 0 and stats["role_name"] == "standalone"
    r = ctl(daemon.endpoint, "stats")
    assert any(line.split()[0] == "requests" for line in r.stdout.splitlines())
    assert [line.split()[1:] for line in r.stdout.splitlines()
            if line.split()[0] == "role"] == [["standalone"]]


def test_wait_returns_when_registered(daemon):
    waiter = subprocess.Popen([DISCOCTL, "-e", daemon.endpoint, "wait", "/late", "--timeout", "10",
                               "--json"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    assert ctl(daemon.endpoint, "register", "/late", "ipc:///l", "T").returncode == 0
    out, _ = waiter.communicate(timeout=15)
    assert waiter.returncode == 0 and json.loads(out)["name"] == "/late"
    r = ctl(daemon.endpoint, "wait", "/never", "--timeout", "0.3")
    assert r.returncode == 1


def test_failover_to_second_endpoint(daemon, short_tmp):
    r = subprocess.run([DISCOCTL, "--timeout-ms", "300", "--retries", "2",
                        "-e", f"ipc://{short_tmp}/dead.sock", "-e", daemon.endpoint, "ping"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0 and daemon.endpoint in r.stdout


def test_legacy_daemon_fallbacks(legacy):
    r = ctl(legacy, "ping")
    assert r.returncode == 0 and "protocol 1" in r.stdout
    assert ctl(legacy, "register", "/a/x", "ipc:///x", "T1", "--node", "n1").returncode == 0
    assert ctl(legacy, "register", "/b/y", "ipc:///y", "T2", "--node", "n2").returncode == 0
    assert ctl(legacy, "register", "/a/x", "ipc:///z", "T1", "--node", "n9").returncode == 4
    r = ctl(legacy, "lookup", "/a/x", "--json")
    assert json.loads(r.stdout)["publisher_node"] == "n1"
    # The legacy daemon ignores filters; the library applies them.
    r = ctl(legacy, "list", "--json", "--prefix", "/b")
    assert [t["name"] for t in json.loads(r.stdout)] == ["/b/y"]
    # No held WAIT there: the library polls, and still finds late topics.
    waiter = subprocess.Popen([DISCOCTL, "-e", legacy, "wait", "/late", "--timeout", "10"],
                              stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    assert ctl(legacy, "register", "/late", "ipc:///l", "T").returncode == 0
    waiter.communicate(timeout=15)
    assert waiter.returncode == 0
    assert ctl(legacy, "wait", "/never", "--timeout", "0.3").returncode == 1
    # STATS needs protocol 2.
    r = ctl(legacy, "stats")
    assert r.returncode == 4 and "protocol 2" in r.stderr
    assert ctl(legacy, "unregister", "/a/x").returncode == 0

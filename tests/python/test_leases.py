"""Leases, heartbeats and stale-entry removal (issue 4), against the real daemon.

Time bounds asserted here are the behaviour the daemon promises (expiry within
TTL + 1 s, a dead legacy publisher gone within 3 s), not performance targets.
DISCOD_LEASE_SOAK_SECONDS sets how long a living lease is kept under load (the
test command runs 10 s, about 7 TTLs; the issue's soak is 60)."""
import os
import signal
import subprocess
import sys
import threading
import time

import msgpack
import pytest
import zmq

from conftest import free_port, pack, topic_blob
from cortex_legacy import DiscoveryClient, TopicInfo

BUILD = os.environ.get("DISCOD_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..",
                                                           "build")
DISCOCTL = os.path.join(BUILD, "client", "discoctl")
SOAK_SECONDS = float(os.environ.get("DISCOD_LEASE_SOAK_SECONDS", "10"))


def v2(d, **body):
    body["v"] = 2
    return d.request(body)


def register_leased(d, name, ttl_ms=None, lease_id=None, node="n", **kw):
    body = {"command": 1, "topic_info": topic_blob(name, publisher_node=node, **kw)}
    if ttl_ms is not None:
        body["lease_ttl_ms"] = ttl_ms
    if lease_id is not None:
        body["lease_id"] = lease_id
    return v2(d, **body)


def exists(d, name):
    return d.request({"command": 3, "topic_name": name})["status"] == 0


def wait_gone(d, name, limit):
    """Seconds until name disappears (polling), or None after limit seconds."""
    t0 = time.time()
    while time.time() - t0 < limit:
        if not exists(d, name):
            return time.time() - t0
        time.sleep(0.05)
    return None


def test_lease_lifecycle(daemon):
    r = register_leased(daemon, "/l/a", ttl_ms=1000)
    assert r["status"] == 0 and r["lease_ttl_ms"] == 1000 and r["lease_id"] > 0
    lease = r["lease_id"]
    # One lease covers several topics: attach a second.
    r = register_leased(daemon, "/l/b", lease_id=lease)
    assert r["status"] == 0 and r["lease_id"] == lease
    # Heartbeats keep both alive past the TTL.
    for _ in range(8):
        hb = v2(daemon, command=6, lease_id=lease)
        assert hb["status"] == 0 and hb["lease_ttl_ms"] == 1000
        time.sleep(0.25)
    assert exists(daemon, "/l/a") and exists(daemon, "/l/b")
    # Without heartbeats: both gone within TTL + 1 s, counted as expired.
    t0 = time.time()
    assert wait_gone(daemon, "/l/a", 3) is not None
    assert not exists(daemon, "/l/b")
    assert time.time() - t0 <= 1.0 + 1.0 + 0.3
    assert v2(daemon, command=6, lease_id=lease)["status"] == 1
    stats = daemon.stats()
    assert stats["leases_expired"] == 1 and stats["topics_expired"] == 2
    assert "lease %d expired" % lease in daemon.read_log()


def test_revoke_removes_everything_at_once(daemon):
    lease = register_leased(daemon, "/r/a", ttl_ms=60000)["lease_id"]
    register_leased(daemon, "/r/b", lease_id=lease)
    r = v2(daemon, command=8, lease_id=lease)
    assert r["status"] == 0
    assert not exists(daemon, "/r/a") and not exists(daemon, "/r/b")
    assert v2(daemon, command=8, lease_id=lease)["status"] == 1


def test_bad_lease_requests(daemon):
    r = register_leased(daemon, "/bad", ttl_ms=10)
    assert r["status"] == 3 and "lease_ttl_ms must be in" in r["message"]
    r = register_leased(daemon, "/bad", ttl_ms=10**12)
    assert r["status"] == 3
    r = register_leased(daemon, "/bad", lease_id=987654)
    assert r["status"] == 1 and "Lease 987654 not found" in r["message"]
    assert not exists(daemon, "/bad")
    assert v2(daemon, command=6)["status"] == 3  # no lease_id
    # A legacy client's lease keys are ignored, as it never sent them knowingly.
    r = daemon.request({"command": 1, "topic_info": topic_blob("/legacy"), "lease_ttl_ms": 10})
    assert r == {"status": 0, "message": "Registered topic: /legacy"}


def test_same_node_restart_replaces_entry_and_lease(daemon):
    old = register_leased(daemon, "/cam", ttl_ms=800, node="camera")["lease_id"]
    # The publisher crashed and came back: same node, new lease.
    new = register_leased(daemon, "/cam", ttl_ms=60000, node="camera",
                          address="ipc:///tmp/new")["lease_id"]
    assert new != old
    time.sleep(2.0)  # the old lease has expired by now
    assert exists(daemon, "/cam")
    info = msgpack.unpackb(daemon.request({"command": 3, "topic_name": "/cam"})["topic_info"])
    assert info["address"] == "ipc:///tmp/new"


def test_other_node_blocked_while_live_free_once_expired(daemon):
    lease = register_leased(daemon, "/owned", ttl_ms=600, node="a")["lease_id"]
    assert register_leased(daemon, "/owned", ttl_ms=600, node="b")["status"] == 2
    v2(daemon, command=6, lease_id=lease)
    time.sleep(1.0)
    r = register_leased(daemon, "/owned", ttl_ms=60000, node="b")
    assert r["status"] == 0
    info = msgpack.unpackb(daemon.request({"command": 3, "topic_name": "/owned"})["topic_info"])
    assert info["publisher_node"] == "b"


def test_heartbeats_cost_no_fsync_each(daemon):
    lease = register_leased(daemon, "/hb", ttl_ms=5000)["lease_id"]
    before = daemon.stats()["commits"]
    t0 = time.time()
    for _ in range(300):
        assert v2(daemon, command=6, lease_id=lease)["status"] == 0
    elapsed = time.time() - t0
    after = daemon.stats()["commits"]
    # Renewals are saved at most once a second, in one transaction.
    assert after - before <= int(elapsed) + 2


def start_keepalive(d, name, ttl_ms, node="pub"):
    """discoctl register --ttl-ms: a real leased publisher process."""
    proc = subprocess.Popen([DISCOCTL, "-e", d.endpoint, "--timeout-ms", "500", "register", name,
                             "ipc:///tmp/x", "T", "--node", node, "--ttl-ms", str(ttl_ms)],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert "renewing until interrupted" in line, line
    return proc


def test_kill9_leased_publisher_gone_within_ttl_plus_1s(daemon):
    proc = start_keepalive(daemon, "/dying", 1000)
    time.sleep(1.5)  # alive past one TTL thanks to its heartbeats
    assert exists(daemon, "/dying")
    proc.kill()
    proc.wait()
    gone = wait_gone(daemon, "/dying", 5)
    assert gone is not None and gone <= 2.0 + 0.3


def test_clean_stop_revokes_at_once(daemon):
    proc = start_keepalive(daemon, "/polite", 60000)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert not exists(daemon, "/polite")


def test_restart_live_sessions_keep_dead_ones_expire(make_daemon):
    d = make_daemon()
    d.start("--lease-grace-ms", "1500")
    live = start_keepalive(d, "/live", 1500, node="live")
    dead = register_leased(d, "/dead", ttl_ms=1500, node="dead")["lease_id"]
    last_heartbeat = time.time()
    assert dead
    # Three restarts in a row, each faster than the TTL.
    for _ in range(3):
        d.stop()
        d.start("--lease-grace-ms", "1500")
        time.sleep(0.3)
    # The dead lease is gone by TTL + grace after its last heartbeat.
    gone = wait_gone(d, "/dead", 6)
    assert gone is not None
    assert time.time() - last_heartbeat <= 1.5 + 1.5 + 1.0 + 0.5
    # The live session never lost its topic for good.
    time.sleep(2)
    assert exists(d, "/live")
    live.send_signal(signal.SIGTERM)
    live.wait(timeout=10)


def test_living_lease_never_expires_under_load(daemon):
    """SOAK_SECONDS of heartbeats at TTL/3 under load: the topic never disappears."""
    proc = start_keepalive(daemon, "/steady", 1500, node="steady")
    stop = threading.Event()
    missing = []

    def load():
        c = DiscoveryClient(daemon.endpoint)
        i = 0
        while not stop.is_set():
            c.register_topic(TopicInfo(f"/load/{i % 500}", "ipc:///x", "M", i, "loader"))
            c.lookup_topic("/load/1")
            c.list_topics()
            i += 1
        c.close()

    loaders = [threading.Thread(target=load) for _ in range(3)]
    for t in loaders:
        t.start()
    end = time.time() + SOAK_SECONDS
    while time.time() < end:
        if not exists(daemon, "/steady"):
            missing.append(time.time())
        time.sleep(0.2)
    stop.set()
    for t in loaders:
        t.join()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)
    assert not missing
    assert daemon.stats()["leases_expired"] == 0


PUBLISHER = r"""
import sys, time, zmq, msgpack
sys.path.insert(0, sys.argv[3])
from cortex_legacy import DiscoveryClient, TopicInfo
ctx = zmq.Context()
pub = ctx.socket(zmq.PUB)
pub.bind(sys.argv[2])
c = DiscoveryClient(sys.argv[1])
assert c.register_topic(TopicInfo("/legacy/cam", sys.argv[2], "Img", 1, "legacy-node")).status == 0
print("ready", flush=True)
while True:
    pub.send(b"frame")
    time.sleep(0.05)
"""


def start_legacy_publisher(d, address):
    proc = subprocess.Popen([sys.executable, "-c", PUBLISHER, d.endpoint, address,
                             os.path.dirname(__file__)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


@pytest.mark.parametrize("scheme", ["ipc", "tcp"])
def test_kill9_legacy_publisher_gone_within_3s(make_daemon, short_tmp, scheme):
    d = make_daemon()
    d.start(probe=True)
    address = (f"ipc://{short_tmp}/legacy-cam.sock" if scheme == "ipc"
               else f"tcp://127.0.0.1:{free_port()}")
    proc = start_legacy_publisher(d, address)
    time.sleep(2.5)  # several probes: a live publisher is left alone
    assert exists(d, "/legacy/cam")
    proc.kill()
    proc.wait()
    gone = wait_gone(d, "/legacy/cam", 6)
    assert gone is not None and gone <= 3.0
    assert d.stats()["endpoints_dead"] == 1
    assert "endpoint-dead" in d.read_log()


def test_probing_can_be_limited_and_legacy_ttl(make_daemon, short_tmp):
    d = make_daemon()
    d.start("--probe-schemes", "tcp", "--legacy-ttl-ms", "1500", probe=True)
    d.request({"command": 1, "topic_info": topic_blob("/old", address=f"ipc://{short_tmp}/none")})
    time.sleep(1.0)
    assert exists(d, "/old")  # ipc is not probed here...
    assert wait_gone(d, "/old", 3) is not None  # ...but the legacy TTL applies
    assert "legacy-ttl" in d.read_log()

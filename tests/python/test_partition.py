"""A real network partition: three members, each in a network namespace made by
the test, joined by a bridge in a fourth namespace (no address of the test is
reachable from outside those namespaces; clients reach the members over their
ipc sockets, which cross namespaces as files). Cutting the leader's link makes
it the minority: it never acknowledges a write, the majority elects and
serves, and after healing every member converges with nothing acknowledged
lost. Needs root (ip netns); CI runs as root."""
import os
import subprocess
import threading

import pytest

from cluster import Cluster, wait_for
from netns import SUBNET, Netns
from cortex_legacy import DiscoveryClient, DiscoveryStatus, TopicInfo

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


@pytest.fixture
def partitioned_cluster(short_tmp):
    net = Netns(outsider=True)
    # Each member's HTTP listener on its own namespace's loopback.
    c = Cluster(short_tmp, election_ms=300, extra=["--http", "127.0.0.1:9710"])
    c.addresses = {i: f"{SUBNET}.{i}:7400" for i in (1, 2, 3)}
    for i, m in c.members.items():
        m.wrapper = ("ip", "netns", "exec", net.names[i - 1])
    c.start()
    yield c, net
    c.stop()
    net.close()


def readyz(net, i):
    """(status, reason) of member i's /readyz, asked inside its namespace."""
    code = ("import urllib.request, urllib.error\n"
            "try:\n"
            "    r = urllib.request.urlopen('http://127.0.0.1:9710/readyz', timeout=3)\n"
            "    print(r.status, r.read().decode().strip())\n"
            "except urllib.error.HTTPError as e:\n"
            "    print(e.code, e.read().decode().strip())\n")
    out = subprocess.run(["ip", "netns", "exec", net.names[i - 1], "/usr/bin/python3", "-c", code],
                         capture_output=True, text=True, timeout=30).stdout.strip()
    status, _, reason = out.partition(" ")
    return (int(status), reason) if status.isdigit() else (None, out)


def legacy_register(member, name, timeout_ms=8000):
    client = DiscoveryClient(member.endpoint, timeout_ms=timeout_ms, retries=1)
    try:
        return client.register_topic(TopicInfo(name, "ipc:///x", "M", 1, "n"))
    finally:
        client.close()


def test_minority_never_acknowledges_majority_serves_then_converges(partitioned_cluster):
    c, net = partitioned_cluster
    leader = c.leader()
    if leader.id != 1:
        r = leader.request({"command": 17, "v": 2, "member_id": 1}, timeout_ms=15000)
        assert r["status"] == 0, r
        assert wait_for(lambda: c.leader().id == 1, timeout=10)
    old = c.members[1]
    for i in range(10):
        assert legacy_register(old, f"/before/{i}").status == DiscoveryStatus.OK
    c.converged()

    net.cut(1)
    # The old leader is the minority now: a write to it is never acknowledged.
    minority = {}
    t = threading.Thread(target=lambda: minority.update(r=legacy_register(old, "/minority")))
    t.start()
    # The majority elects a new leader and takes writes.
    new_leader = c.leader(timeout=10, among=[c.members[2], c.members[3]])
    assert new_leader.id in (2, 3)
    acked = []
    for i in range(20):
        m = c.members[2 + i % 2]
        if legacy_register(m, f"/majority/{i}").status == DiscoveryStatus.OK:
            acked.append(f"/majority/{i}")
    assert len(acked) == 20
    # Reads keep working on the minority, from its own copy.
    r = old.request({"command": 3, "topic_name": "/before/3"})
    assert r["status"] == 0
    t.join(timeout=15)
    assert minority["r"].status == DiscoveryStatus.ERROR, minority["r"]

    # /readyz says the cut-off member is not ready (no leader), the majority is.
    assert wait_for(lambda: readyz(net, 1)[0] == 503, timeout=10), readyz(net, 1)
    assert "knows no leader" in readyz(net, 1)[1]
    assert readyz(net, new_leader.id)[0] == 200

    net.heal(1)
    assert wait_for(lambda: readyz(net, 1)[0] == 200, timeout=20), readyz(net, 1)
    listing = c.converged(timeout=20)
    import msgpack
    names = {msgpack.unpackb(b, raw=False)["name"] for b in listing}
    assert all(n in names for n in acked)
    assert all(f"/before/{i}" in names for i in range(10))
    assert "/minority" not in names
    assert c.leader().id in (2, 3)


OUTSIDER = r"""
import sys, msgpack, zmq
endpoint = sys.argv[1]
change = [1, "/intruder", "ipc:///x", "M", 1, "evil", 0, 0, 0, None, 0]
op = [1, 0, 2, None, None, None, 0, None, None, 0, change, 0, 0]
ctx = zmq.Context()
s = ctx.socket(zmq.DEALER)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.RCVTIMEO, 2000)
s.connect(endpoint)
s.send_multipart([b"F", (7).to_bytes(8, "little"), msgpack.packb(op, use_bin_type=True)])
try:
    print("answered", s.recv_multipart())
except zmq.Again:
    print("no answer")
"""


def test_the_member_channel_refuses_other_hosts(partitioned_cluster):
    c, net = partitioned_cluster
    leader = c.leader()
    line = [l for l in leader.read_log().splitlines() if "writes forwarded to the leader at" in l]
    endpoint = line[-1].rsplit(" ", 1)[1]
    out = subprocess.run(["ip", "netns", "exec", net.names[-1], "/usr/bin/python3", "-c",
                          OUTSIDER, endpoint], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "no answer", out.stdout + out.stderr
    r = leader.request({"command": 3, "topic_name": "/intruder"})
    assert r["status"] == 1
    # The same bytes from a member's host are a forwarded write like any other.
    member_ns = net.names[leader.id % 3]
    out = subprocess.run(["ip", "netns", "exec", member_ns, "/usr/bin/python3", "-c",
                          OUTSIDER, endpoint], capture_output=True, text=True, timeout=30)
    assert out.stdout.startswith("answered"), out.stdout + out.stderr
    assert wait_for(lambda: leader.request({"command": 3, "topic_name": "/intruder"})["status"] == 0)

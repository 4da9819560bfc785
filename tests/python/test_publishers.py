"""Several publishers per topic (--publishers-per-topic N), against the real
daemon: the limit and the type rule, what legacy clients are given byte for
byte (one five-key TopicInfo, one blob per name in LIST), protocol 2's
"publishers", unregistering one node's registration, held WAITs, events,
leases per registration, restart, discoctl, and a cluster failover."""
import os
import subprocess
import time

import msgpack
import pytest
import zmq

from cluster import Cluster, wait_for
from conftest import DISCOD_BIN, pack, topic_blob
from cortex_legacy import DiscoveryClient, DiscoveryStatus, TopicInfo

DISCOCTL = os.path.join(os.path.dirname(DISCOD_BIN), "..", "client", "discoctl")
TOPIC_INFO_KEYS = {"name", "address", "message_type", "fingerprint", "publisher_node"}


@pytest.fixture
def multi(make_daemon):
    d = make_daemon()
    d.start("--publishers-per-topic", "3")
    yield d
    d.stop()


def info(name, node, address=None, message_type="vision.Detections", fingerprint=77):
    return TopicInfo(name=name, address=address or f"ipc:///tmp/cortex/topics/{node}",
                     message_type=message_type, fingerprint=fingerprint, publisher_node=node)


def register(d, name, node, v2=False, **extra):
    body = {"command": 1, "topic_name": None,
            "topic_info": topic_blob(name, address=f"ipc:///tmp/cortex/topics/{node}",
                                     message_type="vision.Detections", fingerprint=77,
                                     publisher_node=node)}
    if v2:
        body["v"] = 2
    body.update(extra)
    return d.request(body)


def lookup_v2(d, name):
    return d.request({"command": 3, "topic_name": name, "v": 2})


def nodes_of(reply):
    return [msgpack.unpackb(p["topic_info"], raw=False)["publisher_node"]
            for p in reply["publishers"]]


def test_up_to_n_nodes_then_already_exists_naming_the_limit(multi):
    c = DiscoveryClient(multi.endpoint, timeout_ms=3000)
    for node in ("cam1", "cam2", "cam3"):
        r = c.register_topic(info("/det", node))
        assert r.status == DiscoveryStatus.OK, r.message
    r = c.register_topic(info("/det", "cam4"))
    assert r.status == DiscoveryStatus.ALREADY_EXISTS
    assert "publishers_per_topic = 3" in r.message and "cam1, cam2, cam3" in r.message
    # A holder registering again overwrites its own registration.
    r = c.register_topic(info("/det", "cam2", address="ipc:///tmp/moved"))
    assert r.status == DiscoveryStatus.OK
    reply = lookup_v2(multi, "/det")
    assert nodes_of(reply) == ["cam1", "cam2", "cam3"]
    moved = msgpack.unpackb(reply["publishers"][1]["topic_info"], raw=False)
    assert moved["address"] == "ipc:///tmp/moved"
    c.close()


def test_another_message_type_is_refused_naming_the_type(multi):
    c = DiscoveryClient(multi.endpoint, timeout_ms=3000)
    assert c.register_topic(info("/pose", "loc1")).status == DiscoveryStatus.OK
    r = c.register_topic(info("/pose", "loc2", message_type="geometry.Pose"))
    assert r.status == DiscoveryStatus.ERROR
    assert "vision.Detections" in r.message and "loc1" in r.message
    r = c.register_topic(info("/pose", "loc2", fingerprint=78))
    assert r.status == DiscoveryStatus.ERROR
    assert c.register_topic(info("/pose", "loc2")).status == DiscoveryStatus.OK
    c.close()


def test_legacy_clients_get_one_five_key_topic_info_the_most_recent(multi):
    for node in ("cam1", "cam2", "cam3"):
        assert register(multi, "/det", node)["status"] == 0
        time.sleep(0.01)  # registered_at_ms apart
    assert register(multi, "/other", "cam1")["status"] == 0
    # Byte level: exactly the legacy keys, a five-key blob of the newest.
    raw = multi.request_raw(pack({"command": 3, "topic_name": "/det"}))
    reply = msgpack.unpackb(raw, raw=False)
    assert set(reply) == {"status", "message", "topic_info"}
    blob = msgpack.unpackb(reply["topic_info"], raw=False)
    assert set(blob) == TOPIC_INFO_KEYS and blob["publisher_node"] == "cam3"
    # cam1 registers again: now it is the most recent.
    time.sleep(0.01)
    assert register(multi, "/det", "cam1")["status"] == 0
    c = DiscoveryClient(multi.endpoint, timeout_ms=3000)
    assert c.lookup_topic("/det").publisher_node == "cam1"
    # LIST: one blob per name, never a name twice, each five keys.
    raw = multi.request_raw(pack({"command": 4, "topic_name": None}))
    reply = msgpack.unpackb(raw, raw=False)
    assert set(reply) == {"status", "message", "topics"}
    blobs = [msgpack.unpackb(b, raw=False) for b in reply["topics"]]
    assert sorted(b["name"] for b in blobs) == ["/det", "/other"]
    assert all(set(b) == TOPIC_INFO_KEYS for b in blobs)
    assert [b["publisher_node"] for b in blobs if b["name"] == "/det"] == ["cam1"]
    topics = c.list_topics()
    assert sorted(t.name for t in topics) == ["/det", "/other"]
    c.close()


def test_protocol_2_lookup_and_list_show_every_registration(multi):
    assert register(multi, "/det", "cam1", v2=True, lease_ttl_ms=60000,
                    metadata={"side": "left"})["status"] == 0
    assert register(multi, "/det", "cam2", v2=True)["status"] == 0
    reply = lookup_v2(multi, "/det")
    assert reply["status"] == 0 and nodes_of(reply) == ["cam1", "cam2"]
    first, second = reply["publishers"]
    assert first["lease_id"] > 0 and first["metadata"] == {"side": "left"}
    assert second["lease_id"] == 0 and "metadata" not in second
    assert all(p["registered_at_ms"] > 0 for p in reply["publishers"])
    # The top-level keys stay those of one publisher: the newest.
    top = msgpack.unpackb(reply["topic_info"], raw=False)
    assert top["publisher_node"] == "cam2"
    # LIST: one entry per registration; the node filter picks one.
    listed = multi.request({"command": 4, "v": 2})["topics"]
    assert len(listed) == 2
    by_node = multi.request({"command": 4, "v": 2, "filter": {"publisher_node": "cam1"}})
    assert [msgpack.unpackb(b, raw=False)["publisher_node"] for b in by_node["topics"]] == ["cam1"]


def test_unregister_rules(multi):
    for node in ("cam1", "cam2"):
        assert register(multi, "/det", node)["status"] == 0
    # A legacy UNREGISTER with only the name: refused between two, naming them.
    c = DiscoveryClient(multi.endpoint, timeout_ms=3000)
    r = c.unregister_topic("/det")
    assert r.status == DiscoveryStatus.ERROR
    assert "cam1" in r.message and "cam2" in r.message
    # A legacy UNREGISTER carrying the publisher's topic_info removes its own.
    r = multi.request({"command": 2, "topic_name": "/det",
                       "topic_info": topic_blob("/det", publisher_node="cam1")})
    assert r["status"] == 0
    assert nodes_of(lookup_v2(multi, "/det")) == ["cam2"]
    # Protocol 2 names the node; another node's name is NOT_FOUND.
    r = multi.request({"command": 2, "topic_name": "/det", "v": 2, "node_name": "cam9"})
    assert r["status"] == 1 and "cam2" in r["message"]
    # One left: by name alone, as Cortex does.
    assert c.unregister_topic("/det").status == DiscoveryStatus.OK
    assert c.lookup_topic("/det") is None
    c.close()


def test_held_wait_wakes_on_the_first_publisher(multi):
    ctx = zmq.Context.instance()
    socks = []
    for _ in range(2):
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, 5000)
        s.connect(multi.endpoint)
        s.send(pack({"command": 7, "topic_name": "/late", "timeout_ms": 4000, "v": 2}))
        socks.append(s)
    assert wait_for(lambda: multi.stats()["waiters"] == 2)
    assert register(multi, "/late", "cam1")["status"] == 0
    for s in socks:
        woken = msgpack.unpackb(s.recv(), raw=False)
        assert woken["status"] == 0 and nodes_of(woken) == ["cam1"]
        assert msgpack.unpackb(woken["topic_info"], raw=False)["publisher_node"] == "cam1"
    # Present already: the answer lists every publisher.
    assert register(multi, "/late", "cam2")["status"] == 0
    r = multi.request({"command": 7, "topic_name": "/late", "v": 2, "timeout_ms": 100})
    assert nodes_of(r) == ["cam1", "cam2"]
    for s in socks:
        s.close()


def test_events_carry_the_node(multi):
    ctx = zmq.Context.instance()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVTIMEO, 3000)
    sub.connect(multi.events)
    time.sleep(0.3)  # the subscription reaches the PUB
    for node in ("cam1", "cam2"):
        assert register(multi, "/det", node)["status"] == 0
    assert multi.request({"command": 2, "topic_name": "/det", "v": 2,
                          "node_name": "cam1"})["status"] == 0
    seen = []
    for _ in range(3):
        name, body = sub.recv_multipart()
        event = msgpack.unpackb(body, raw=False)
        seen.append((name.decode(), event["publisher_node"],
                     msgpack.unpackb(event["topic_info"], raw=False)["publisher_node"]))
    assert seen == [("topic.added", "cam1", "cam1"), ("topic.added", "cam2", "cam2"),
                    ("topic.removed", "cam1", "cam1")]
    sub.close()


def test_one_publishers_lease_expiring_leaves_the_others(multi):
    assert register(multi, "/pose", "loc1", v2=True, lease_ttl_ms=300)["status"] == 0
    assert register(multi, "/pose", "loc2", v2=True)["status"] == 0
    assert nodes_of(lookup_v2(multi, "/pose")) == ["loc1", "loc2"]
    assert wait_for(lambda: nodes_of(lookup_v2(multi, "/pose")) == ["loc2"], timeout=5)
    assert multi.stats()["topics_expired"] == 1


def test_restart_keeps_every_registration(multi):
    for node in ("cam1", "cam2", "cam3"):
        assert register(multi, "/det", node)["status"] == 0
    assert multi.stop() == 0
    multi.start("--publishers-per-topic", "3")
    assert nodes_of(lookup_v2(multi, "/det")) == ["cam1", "cam2", "cam3"]
    # Started again with the default (one per topic): nothing is dropped, a
    # fourth node is still refused, and legacy clients still get one answer.
    assert multi.stop() == 0
    multi.start()
    assert nodes_of(lookup_v2(multi, "/det")) == ["cam1", "cam2", "cam3"]
    assert register(multi, "/det", "cam4")["status"] == 2


def test_discoctl_lookup_prints_a_row_per_publisher(multi):
    for node in ("cam1", "cam2"):
        assert register(multi, "/det", node)["status"] == 0
    r = subprocess.run([DISCOCTL, "-e", multi.endpoint, "lookup", "/det"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    rows = r.stdout.splitlines()
    assert rows[0].split()[0] == "NAME" and len(rows) == 3
    assert [row.split()[3] for row in rows[1:]] == ["cam1", "cam2"]
    r = subprocess.run([DISCOCTL, "-e", multi.endpoint, "unregister", "/det"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 4 and "name the node" in r.stderr
    r = subprocess.run([DISCOCTL, "-e", multi.endpoint, "unregister", "/det", "--node", "cam1"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert nodes_of(lookup_v2(multi, "/det")) == ["cam2"]


def test_the_default_keeps_cortexs_owner_rule(daemon):
    c = DiscoveryClient(daemon.endpoint, timeout_ms=3000)
    assert c.register_topic(info("/cam", "a")).status == DiscoveryStatus.OK
    r = c.register_topic(info("/cam", "b"))
    assert r.status == DiscoveryStatus.ALREADY_EXISTS
    assert r.message == "Topic /cam already registered by a"
    assert nodes_of(lookup_v2(daemon, "/cam")) == ["a"]
    c.close()


def test_bad_publishers_per_topic_is_refused(make_daemon):
    d = make_daemon("bad")
    for value in ("0", "65", "many"):
        with pytest.raises(RuntimeError, match="publishers-per-topic"):
            d.start("--publishers-per-topic", value)


def test_failover_keeps_every_registration(short_tmp):
    cluster = Cluster(short_tmp, extra=["--publishers-per-topic", "3"]).start()
    try:
        follower = cluster.followers()[0]
        for node in ("cam1", "cam2", "cam3"):
            assert register(follower, "/det", node)["status"] == 0
        cluster.converged()
        leader = cluster.leader()
        leader.kill9()
        survivor = [m for m in cluster.live()][0]
        new_leader = cluster.leader(timeout=10)
        assert new_leader is not leader
        for m in cluster.live():
            assert nodes_of(lookup_v2(m, "/det")) == ["cam1", "cam2", "cam3"]
        # Removing one node's registration after the failover reaches everyone.
        r = survivor.request({"command": 2, "topic_name": "/det", "v": 2, "node_name": "cam2"})
        assert r["status"] == 0
        leader.start()
        cluster.converged()
        for m in cluster.live():
            assert nodes_of(lookup_v2(m, "/det")) == ["cam1", "cam3"]
    finally:
        cluster.stop()

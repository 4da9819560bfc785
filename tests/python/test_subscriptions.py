"""Subscriptions in the registry, mismatches reported instead of silent, and
the topic graph, on real daemons: SUBSCRIBE and UNSUBSCRIBE, a mismatch in
either order of arrival and on a publisher's re-registration (in the reply,
the event stream, one WARNING naming both nodes, STATS), subscriptions under
a lease (a SIGKILLed subscriber is gone within TTL + 1 s), kept across a
restart, legacy lookups counted per topic, the Python Session and the Cortex
drop-in, and discoctl topic, node and graph in text, DOT (checked with
Graphviz's dot) and JSON. Bad input gets an ERROR and changes nothing."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import msgpack
import pytest

from cluster import wait_for
from conftest import DISCOD_BIN, PYTHON_CLIENT, register, subscribe, v2

import discod

BUILD = os.path.join(os.path.dirname(DISCOD_BIN), "..")
DISCOCTL = os.path.join(BUILD, "client", "discoctl")
HERE = os.path.dirname(os.path.abspath(__file__))
CORTEX_PKG = os.path.join(HERE, "cortex_pkg")
SUBSCRIBE, UNSUBSCRIBE, GRAPH = 18, 19, 20


def next_event(sub):
    name, body = sub.recv_multipart()
    return name.decode(), msgpack.unpackb(body, raw=False)


def warnings(d):
    return [line for line in d.read_log().splitlines() if "type mismatch" in line]


def ctl(d, *args, check=True):
    p = subprocess.run([DISCOCTL, "-e", d.endpoint, *args], capture_output=True, text=True,
                       timeout=20)
    if check:
        assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p


def test_subscribe_and_unsubscribe(daemon):
    r = subscribe(daemon, "/scan", "mapper")
    assert r["status"] == 0 and "mapper" in r["message"] and "mismatch" not in r
    g = v2(daemon, command=GRAPH)
    assert [(s["topic"], s["node"], s["message_type"], s["fingerprint"])
            for s in g["subscriptions"]] == [("/scan", "mapper", "Points", 7)]
    # The same node again replaces its own (a changed expectation).
    assert subscribe(daemon, "/scan", "mapper", "Points", 8)["status"] == 0
    g = v2(daemon, command=GRAPH, topic_name="/scan")
    assert len(g["subscriptions"]) == 1 and g["subscriptions"][0]["fingerprint"] == 8
    assert v2(daemon, command=UNSUBSCRIBE, topic_name="/scan", node_name="nobody")["status"] == 1
    assert v2(daemon, command=UNSUBSCRIBE, topic_name="/scan", node_name="mapper")["status"] == 0
    assert v2(daemon, command=GRAPH)["subscriptions"] == []
    assert daemon.stats()["subscriptions"] == 0


@pytest.mark.parametrize("body,needle", [
    ({"command": SUBSCRIBE, "topic_name": "/x"}, "node_name"),
    ({"command": SUBSCRIBE, "node_name": "n"}, "topic_name"),
    ({"command": SUBSCRIBE, "topic_name": "/x", "node_name": "n", "fingerprint": "7"},
     "fingerprint"),
    ({"command": SUBSCRIBE, "topic_name": "/x", "node_name": "n", "message_type": 5},
     "message_type"),
    ({"command": SUBSCRIBE, "topic_name": "/x", "node_name": "n" * 300}, "node_name"),
    ({"command": UNSUBSCRIBE, "topic_name": "/x"}, "node_name"),
])
def test_bad_subscriptions_are_refused_and_change_nothing(daemon, body, needle):
    body["v"] = 2
    r = daemon.request(body)
    assert r["status"] == 3 and needle in r["message"], r
    assert daemon.stats()["subscriptions"] == 0
    assert daemon.request({"command": 5, "topic_name": None})["status"] == 0


def test_a_mismatch_in_either_order_and_on_reregistration(daemon):
    sub = daemon.events_socket()
    # Publisher first, then a subscriber that expects another type.
    assert register(daemon, "/lidar", "lidar_node")["status"] == 0
    r = subscribe(daemon, "/lidar", "viewer", "Scan", 0)
    assert r["status"] == 0
    assert [(m["node"], m["message_type"], m["fingerprint"]) for m in r["mismatch"]] == \
        [("lidar_node", "Points", 7)]
    # A subscriber that agrees hears of none.
    assert "mismatch" not in subscribe(daemon, "/lidar", "mapper", "Points", 7)
    # Subscriber first, then its publisher: the registration's event says so.
    assert subscribe(daemon, "/odom", "planner", "Odometry", 3)["status"] == 0
    assert register(daemon, "/odom", "base", "Odometry", 4)["status"] == 0
    names = [next_event(sub) for _ in range(5)]
    assert [n for n, _ in names] == ["topic.added", "subscription.added", "subscription.added",
                                     "subscription.added", "topic.added"]
    assert names[1][1]["mismatch"][0]["subscriber"]["node"] == "viewer"
    assert "mismatch" not in names[2][1]
    odom = names[4][1]["mismatch"]
    assert odom == [{"topic": "/odom",
                     "subscriber": {"node": "planner", "message_type": "Odometry",
                                    "fingerprint": 3},
                     "publisher": {"node": "base", "message_type": "Odometry",
                                   "fingerprint": 4, "address": "ipc:///tmp/cortex/topics/x"}}]
    seqs = [e["seq"] for _, e in names]
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    # The publisher of /lidar re-registers with another fingerprint: mapper
    # (7) now mismatches too.
    assert register(daemon, "/lidar", "lidar_node", "Points", 9)["status"] == 0
    name, e = next_event(sub)
    assert name == "topic.updated" and {m["subscriber"]["node"] for m in e["mismatch"]} == \
        {"viewer", "mapper"}
    # A LOOKUP or WAIT naming the subscriber lists what it cannot decode.
    look = v2(daemon, command=3, topic_name="/lidar", node_name="mapper")
    assert look["status"] == 0 and look["mismatch"][0]["fingerprint"] == 9
    assert "mismatch" not in v2(daemon, command=3, topic_name="/lidar")
    wait = v2(daemon, command=7, topic_name="/odom", node_name="planner", timeout_ms=1000)
    assert wait["status"] == 0 and wait["mismatch"][0]["node"] == "base"
    # One WARNING per mismatch made, naming both nodes; STATS counts them.
    lines = warnings(daemon)
    assert len(lines) == 4, lines
    assert "subscriber viewer expects Scan" in lines[0] and "publisher lidar_node" in lines[0]
    assert "subscriber planner" in lines[1] and "publisher base" in lines[1]
    stats = daemon.stats()
    assert stats["mismatches_detected"] == 4 and stats["mismatches"] == 3
    assert stats["subscriptions"] == 3
    sub.close()


def test_a_held_wait_is_told_of_the_mismatch_when_woken(daemon):
    assert subscribe(daemon, "/late", "viewer", "Scan", 1)["status"] == 0
    got = {}

    def waiter():
        got["r"] = v2(daemon, command=7, topic_name="/late", node_name="viewer",
                      timeout_ms=10000)

    import threading
    t = threading.Thread(target=waiter)
    t.start()
    assert wait_for(lambda: daemon.stats()["waiters"] == 1, timeout=5)
    register(daemon, "/late", "cam", "Image", 2)
    t.join(timeout=10)
    assert got["r"]["status"] == 0 and got["r"]["mismatch"][0]["message_type"] == "Image"


def test_a_killed_subscriber_goes_within_ttl(daemon):
    keeper = subprocess.Popen([DISCOCTL, "-e", daemon.endpoint, "subscribe", "/cmd", "Twist",
                               "--node", "teleop", "--ttl-ms", "1000"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert "renewing" in keeper.stdout.readline()
        g = v2(daemon, command=GRAPH, topic_name="/cmd")
        assert g["subscriptions"][0]["lease_id"] > 0
        assert 0 < g["subscriptions"][0]["lease_remaining_ms"] <= 1000
        time.sleep(1.5)  # renewed: still there after its TTL
        assert len(v2(daemon, command=GRAPH)["subscriptions"]) == 1
    finally:
        keeper.send_signal(signal.SIGKILL)
        keeper.wait()
    killed = time.time()
    assert wait_for(lambda: v2(daemon, command=GRAPH)["subscriptions"] == [], timeout=5)
    assert time.time() - killed < 1.0 + 1.0


def test_subscriptions_are_kept_across_a_restart(daemon):
    subscribe(daemon, "/kept", "mapper", "Points", 7)
    subscribe(daemon, "/kept", "viewer", "Scan", 0, metadata={"qos": "best-effort"})
    before = v2(daemon, command=GRAPH)["subscriptions"]
    daemon.stop()
    daemon.start()
    after = v2(daemon, command=GRAPH)["subscriptions"]
    assert [(s["node"], s["message_type"], s.get("metadata")) for s in after] == \
        [(s["node"], s["message_type"], s.get("metadata")) for s in before]
    assert after[1]["metadata"] == {"qos": "best-effort"}
    import sqlite3
    con = sqlite3.connect(daemon.db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM subscriptions").fetchone()[0] == 2
    con.close()


def test_legacy_lookups_are_counted_per_topic(daemon):
    register(daemon, "/odom", "base")
    for _ in range(3):
        daemon.request({"command": 3, "topic_name": "/odom", "topic_info": None})
    daemon.request({"command": 3, "topic_name": "/nowhere", "topic_info": None})
    v2(daemon, command=3, topic_name="/odom")  # protocol 2: not counted
    g = v2(daemon, command=GRAPH)
    counts = {x["topic"]: x["count"] for x in g["lookups"]}
    assert counts == {"/odom": 3, "/nowhere": 1}
    assert all(x["last_ms"] > 0 for x in g["lookups"])
    assert daemon.stats()["legacy_lookups"] == 4
    only = v2(daemon, command=GRAPH, topic_name="/odom")
    assert [x["topic"] for x in only["lookups"]] == ["/odom"]


def test_python_session_subscribe_and_client_graph(daemon):
    client = discod.Client(daemon.endpoint)
    client.register("/lidar", "ipc:///x", "Points", 7, "lidar_node")
    with discod.Session(endpoints=daemon.endpoint, ttl_ms=1000) as s:
        r = s.subscribe("/lidar", "Scan", node="viewer")
        assert r.lease_id == s.lease_id > 0
        assert [m.node for m in r.mismatch] == ["lidar_node"]
        found = client.wait("/lidar", 1000, node="viewer")
        assert found.mismatch[0].message_type == "Points"
        g = client.graph(topic="/lidar")
        assert [p.node for p in g.publishers] == ["lidar_node"]
        assert [(x.node, x.lease_id) for x in g.subscriptions] == [("viewer", s.lease_id)]
        assert str(g.mismatches[0]).startswith("/lidar: viewer expects Scan")
        assert s.subscriptions == [("/lidar", "viewer")]
    # Closing the session revokes its lease: the subscription goes at once.
    assert client.graph().subscriptions == []
    client.close()


SUBSCRIBER = textwrap.dedent("""
    import logging, sys
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    import discod.cortex; assert discod.cortex.install()
    from cortex.core.message import Message
    from cortex.core.subscriber import Subscriber
    class {kind}(Message):
        pass
    sub = Subscriber("/scan", {kind}, node_name="mapper", discovery_address="{endpoint}")
    print("connected", sub.connect(timeout=5), flush=True)
    sys.stdin.readline()
""")

PUBLISHER = textwrap.dedent("""
    import sys, time
    import discod.cortex; assert discod.cortex.install()
    from cortex.core.message import Message
    from cortex.core.publisher import Publisher
    class Scan(Message):
        pass
    pub = Publisher("/scan", Scan, node_name="lidar", discovery_address="{endpoint}")
    print("registered", pub.is_registered, flush=True)
    sys.stdin.readline()
""")


def child(daemon, code):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([CORTEX_PKG, HERE, PYTHON_CLIENT])
    env["CORTEX_TEST_IPC_DIR"] = os.path.join(daemon.dir, "topics")
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.parametrize("kind", ["Scan", "PointCloud"])
def test_the_cortex_dropin_declares_its_subscriber_and_warns(daemon, kind):
    pub = child(daemon, PUBLISHER.format(endpoint=daemon.endpoint))
    assert pub.stdout.readline().split() == ["registered", "True"]
    sub = child(daemon, SUBSCRIBER.format(kind=kind, endpoint=daemon.endpoint))
    try:
        line = sub.stdout.readline().split()
        # Cortex's own Subscriber refuses a publisher of another fingerprint.
        assert line == ["connected", "True" if kind == "Scan" else "False"], line
        g = v2(daemon, command=GRAPH, topic_name="/scan")
        s = g["subscriptions"]
        assert [(x["node"], x["message_type"]) for x in s] == [("mapper", kind)]
        assert s[0]["lease_id"] > 0  # under the drop-in's lease
        assert bool(g["mismatches"]) == (kind != "Scan")
    finally:
        _, log = sub.communicate("\n", timeout=10)
        pub.communicate("\n", timeout=10)
    # Where Cortex drops the messages silently, the drop-in says why.
    if kind == "Scan":
        assert "mismatch" not in log.lower(), log
    else:
        assert "Type mismatch on /scan: subscriber mapper expects PointCloud" in log, log
        assert "lidar publishes Scan" in log and log.count("Type mismatch") == 1
    assert wait_for(lambda: v2(daemon, command=GRAPH)["subscriptions"] == [], timeout=5)


@pytest.fixture
def robot(daemon):
    register(daemon, "/lidar", "lidar_node")
    subscribe(daemon, "/lidar", "mapper")
    subscribe(daemon, "/lidar", "viewer", "Scan", 0)
    register(daemon, "/odom", "base", "Odometry", 1)
    subscribe(daemon, "/cmd", "base", "Twist", 0)
    daemon.request({"command": 3, "topic_name": "/odom", "topic_info": None})
    return daemon


def test_discoctl_subscribe_and_unsubscribe(daemon):
    register(daemon, "/lidar", "lidar_node")
    p = ctl(daemon, "subscribe", "/lidar", "Scan", "--node", "viewer")
    assert "Subscribed viewer to topic: /lidar" in p.stdout
    assert "MISMATCH on /lidar: lidar_node sends Points (fingerprint 7)" in p.stdout
    p = ctl(daemon, "subscribe", "/lidar", "Points", "--fingerprint", "7")
    assert "MISMATCH" not in p.stdout
    assert ctl(daemon, "unsubscribe", "/lidar", "--node", "nobody", check=False).returncode == 1
    ctl(daemon, "unsubscribe", "/lidar", "--node", "viewer")
    ctl(daemon, "unsubscribe", "/lidar")  # the default node, discoctl
    assert v2(daemon, command=GRAPH)["subscriptions"] == []


def test_discoctl_topic(robot):
    out = ctl(robot, "topic", "/lidar").stdout
    rows = {line.split()[1]: line for line in out.splitlines()
            if line.startswith(("publisher", "subscriber"))}
    assert set(rows) == {"lidar_node", "mapper", "viewer"}
    assert "tcp" not in rows["mapper"] and "ipc:///tmp/cortex/topics/x" in rows["lidar_node"]
    assert "MISMATCH" in rows["viewer"] and "MISMATCH" not in rows["mapper"]
    assert "MISMATCH on /lidar: viewer expects Scan (fingerprint 0), lidar_node sends Points" \
        in out
    out = ctl(robot, "topic", "/odom").stdout
    assert "looked up 1 time(s)" in out
    j = json.loads(ctl(robot, "topic", "/lidar", "--json").stdout)
    assert len(j["publishers"]) == 1 and len(j["subscriptions"]) == 2
    assert j["mismatches"][0]["subscriber"]["node"] == "viewer"
    assert ctl(robot, "topic", "/none", check=False).returncode == 1


def test_discoctl_node_adds_its_subscriptions(robot):
    v2(robot, command=10, node={"name": "base", "description": "the base",
                                "capabilities": ["drive"]})
    out = ctl(robot, "node", "base").stdout
    assert "the base" in out and re.search(r"subscriber\s+/cmd\s+Twist", out)
    assert re.search(r"publisher\s+/odom\s+Odometry", out)
    j = json.loads(ctl(robot, "node", "base", "--json").stdout)
    assert j["name"] == "base" and j["topics"] == ["/odom"]
    assert [s["topic"] for s in j["subscriptions"]] == ["/cmd"]
    # A node that never registered itself is shown by what it reads.
    out = ctl(robot, "node", "viewer").stdout
    assert "not registered as a node" in out and "MISMATCH" in out
    j = json.loads(ctl(robot, "node", "viewer", "--json").stdout)
    assert j["registered"] is False and j["mismatches"][0]["publisher"]["node"] == "lidar_node"
    assert ctl(robot, "node", "ghost", check=False).returncode == 1


def test_discoctl_graph_text_dot_and_json(robot, short_tmp):
    text = ctl(robot, "graph").stdout
    assert "lidar_node -> /lidar -> mapper\n" in text
    assert re.search(r"lidar_node -> /lidar -> viewer\s+MISMATCH: expects Scan", text)
    assert "(no publisher) -> /cmd -> base" in text
    assert "base -> /odom -> (no subscriber)" in text
    assert "looked up 1 time(s) by undeclared clients" in text
    dot = ctl(robot, "graph", "--format", "dot").stdout
    assert dot.startswith("digraph discod {")
    assert '"n:lidar_node" -> "t:/lidar"' in dot and '"t:/lidar" -> "n:viewer" [color=red' in dot
    assert shutil.which("dot"), "Graphviz's dot (Debian graphviz) is needed: install-deps.sh"
    svg = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True,
                         timeout=20)
    assert svg.returncode == 0, svg.stderr
    assert "<svg" in svg.stdout and "lidar_node" in svg.stdout and "/cmd" in svg.stdout
    j = json.loads(ctl(robot, "graph", "--json").stdout)
    assert {p["topic"] for p in j["publishers"]} == {"/lidar", "/odom"}
    assert len(j["subscriptions"]) == 3 and len(j["mismatches"]) == 1
    assert j["lookups"] == [{"topic": "/odom", "count": 1, "last_ms": j["lookups"][0]["last_ms"]}]
    part = json.loads(ctl(robot, "graph", "--node", "base", "--json").stdout)
    assert [p["topic"] for p in part["publishers"]] == ["/odom"]
    assert [s["topic"] for s in part["subscriptions"]] == ["/cmd"]
    assert ctl(robot, "graph", "--format", "png", check=False).returncode == 2


def test_discoctl_watch_shows_subscription_events(daemon):
    watch = subprocess.Popen([DISCOCTL, "-e", daemon.endpoint, "watch", "--events",
                              daemon.events, "--count", "2"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.6)
    register(daemon, "/lidar", "lidar_node")
    subscribe(daemon, "/lidar", "viewer", "Scan", 0)
    out, _ = watch.communicate(timeout=10)
    assert re.search(r"subscription\.added\s+/lidar\s+viewer\s+Scan\s+\(registered\)\s+MISMATCH",
                     out), out


def test_a_cluster_replicates_subscriptions_and_reports_mismatches_everywhere(short_tmp):
    from cluster import Cluster
    c = Cluster(short_tmp).start()
    try:
        leader = c.leader()
        follower = [m for m in c.live() if m is not leader][0]
        assert register(follower, "/lidar", "lidar_node")["status"] == 0
        # Through a follower: a subscriber that expects another type, under a
        # lease nobody renews, and one that agrees, without a lease.
        r = subscribe(follower, "/lidar", "viewer", "Scan", 0, lease_ttl_ms=1500)
        assert r["status"] == 0 and r["lease_id"] > 0
        assert r["mismatch"][0]["node"] == "lidar_node"
        assert subscribe(follower, "/lidar", "mapper")["status"] == 0
        c.converged()
        for m in c.live():
            g = v2(m, command=GRAPH, topic_name="/lidar")
            assert sorted(s["node"] for s in g["subscriptions"]) == ["mapper", "viewer"]
            assert [x["subscriber"]["node"] for x in g["mismatches"]] == ["viewer"]
            assert wait_for(lambda: len(warnings(m)) == 1, timeout=5), m.read_log()[-2000:]
            assert "subscriber viewer expects Scan" in warnings(m)[0]
            assert m.cluster_stats()["mismatches"] == 1
        # The leader dies; the new one counts the lease from its election, and
        # the subscription nobody renews expires on every member left.
        leader.kill9()
        killed = time.time()
        c.leader(timeout=10)
        for m in c.live():
            assert wait_for(lambda: [s["node"] for s in v2(m, command=GRAPH)["subscriptions"]]
                            == ["mapper"], timeout=10)
        assert time.time() - killed < 1.5 + 2 * c.election_ms / 1000 + 2.5
        c.converged()
        for m in c.live():
            assert m.cluster_stats()["mismatches"] == 0
    finally:
        c.stop()

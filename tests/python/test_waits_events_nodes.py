"""Held waits, the event stream, nodes and metadata (issue 5), against the
real daemon; and the SSSN service-discovery scenario end to end."""
import json
import os
import signal
import subprocess
import threading
import time

import msgpack
import pytest
import zmq

from conftest import pack, topic_blob
from cortex_legacy import DiscoveryClient

BUILD = os.environ.get("DISCOD_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..",
                                                           "build")
DISCOCTL = os.path.join(BUILD, "client", "discoctl")


@pytest.fixture
def evd(daemon):
    """A daemon with its event stream (on a private endpoint, as every test daemon)."""
    return daemon


def v2(d, **body):
    body["v"] = 2
    return d.request(body)


def subscribe(d):
    return d.events_socket()


def next_event(sub):
    name, body = sub.recv_multipart()
    return name.decode(), msgpack.unpackb(body, raw=False)


def test_wait_answers_at_once_when_present(daemon):
    daemon.request({"command": 1, "topic_info": topic_blob("/here")})
    r = v2(daemon, command=7, topic_name="/here", timeout_ms=5000)
    assert r["status"] == 0 and msgpack.unpackb(r["topic_info"])["name"] == "/here"


def test_wait_is_held_until_registration(daemon):
    result = {}

    def waiter():
        t0 = time.time()
        result["reply"] = v2(daemon, command=7, topic_name="/later", timeout_ms=10000)
        result["took"] = time.time() - t0

    t = threading.Thread(target=waiter)
    t.start()
    time.sleep(0.5)
    assert daemon.stats()["waiters"] == 1
    daemon.request({"command": 1, "topic_info": topic_blob("/later")})
    t.join(10)
    assert result["reply"]["status"] == 0
    assert msgpack.unpackb(result["reply"]["topic_info"])["name"] == "/later"
    assert 0.4 < result["took"] < 5
    assert daemon.stats()["waiters"] == 0


def test_wait_times_out_with_not_found(daemon):
    t0 = time.time()
    r = v2(daemon, command=7, topic_name="/never", timeout_ms=400)
    took = time.time() - t0
    assert r["status"] == 1 and 0.35 < took < 3


def test_thousands_of_concurrent_waits_cost_no_threads(daemon):
    n = 3000
    dealers = [daemon.ctx.socket(zmq.DEALER) for _ in range(4)]
    for s in dealers:
        s.setsockopt(zmq.LINGER, 0)
        s.connect(daemon.endpoint)
    for i in range(n):
        dealers[i % 4].send_multipart([b"", pack({"command": 7, "v": 2, "topic_name": f"/w/{i}",
                                                  "timeout_ms": 60000})])
    deadline = time.time() + 10
    while daemon.stats()["waiters"] < n and time.time() < deadline:
        time.sleep(0.1)
    assert daemon.stats()["waiters"] == n
    threads = int([l for l in open(f"/proc/{daemon.proc.pid}/status")
                   if l.startswith("Threads:")][0].split()[1])
    assert threads < 16
    filler = daemon.ctx.socket(zmq.DEALER)
    filler.connect(daemon.endpoint)
    for i in range(n):
        filler.send_multipart([b"", pack({"command": 1, "topic_info": topic_blob(f"/w/{i}")})])
    answered = 0
    poller = zmq.Poller()
    for s in dealers:
        poller.register(s, zmq.POLLIN)
    deadline = time.time() + 30
    while answered < n and time.time() < deadline:
        for s, _ in poller.poll(1000):
            while True:
                try:
                    reply = msgpack.unpackb(s.recv_multipart(zmq.NOBLOCK)[-1], raw=False)
                except zmq.Again:
                    break
                assert reply["status"] == 0
                answered += 1
    assert answered == n
    for s in dealers + [filler]:
        s.close()


def test_events_in_order_with_reasons(evd):
    sub = subscribe(evd)
    evd.request({"command": 1, "topic_info": topic_blob("/e")})
    evd.request({"command": 1, "topic_info": topic_blob("/e", address="ipc:///tmp/2")})
    evd.request({"command": 2, "topic_name": "/e"})
    lease = v2(evd, command=1, topic_info=topic_blob("/exp"), lease_ttl_ms=300)["lease_id"]
    events = [next_event(sub) for _ in range(5)]
    names = [e[0] for e in events]
    assert names == ["topic.added", "topic.updated", "topic.removed", "topic.added",
                     "topic.expired"]
    seqs = [e[1]["seq"] for e in events]
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    assert [e[1]["reason"] for e in events] == ["registered", "registered", "unregistered",
                                                "registered", "expired"]
    assert msgpack.unpackb(events[1][1]["topic_info"])["address"] == "ipc:///tmp/2"
    assert events[4][1]["lease_id"] == lease
    sub.close()


def test_events_have_no_gap_under_concurrent_writers(evd):
    sub = subscribe(evd)
    per_writer, writers = 150, 6

    def write(w):
        c = DiscoveryClient(evd.endpoint)
        for i in range(per_writer):
            c.register_topic(__import__("cortex_legacy").TopicInfo(f"/c/{w}/{i}", "ipc:///x", "M",
                                                                   i, f"w{w}"))
        c.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    seqs = [next_event(sub)[1]["seq"] for _ in range(per_writer * writers)]
    for t in threads:
        t.join()
    assert seqs == list(range(seqs[0], seqs[0] + per_writer * writers))
    sub.close()


def test_event_seq_continues_across_restart(evd):
    sub = subscribe(evd)
    evd.request({"command": 1, "topic_info": topic_blob("/s1")})
    first = next_event(sub)[1]["seq"]
    sub.close()
    evd.stop()
    evd.start()
    sub = subscribe(evd)
    evd.request({"command": 1, "topic_info": topic_blob("/s2")})
    assert next_event(sub)[1]["seq"] == first + 1
    sub.close()


def test_watch_prints_changes_and_late_joiner_resyncs(evd):
    evd.request({"command": 1, "topic_info": topic_blob("/before")})
    watch = subprocess.Popen([DISCOCTL, "-e", evd.endpoint, "watch", "--json", "--events",
                              evd.events, "--count", "2"], stdout=subprocess.PIPE, text=True)
    sync = json.loads(watch.stdout.readline())
    assert sync["event"] == "sync" and [t["name"] for t in sync["topics"]] == ["/before"]
    time.sleep(0.4)
    evd.request({"command": 1, "topic_info": topic_blob("/after")})
    evd.request({"command": 2, "topic_name": "/before"})
    out, _ = watch.communicate(timeout=10)
    lines = [json.loads(l) for l in out.splitlines()]
    assert [(l["event"], l["topic"]["name"]) for l in lines] == [("topic.added", "/after"),
                                                                  ("topic.removed", "/before")]
    assert lines[1]["seq"] == lines[0]["seq"] + 1


def test_watch_reports_gap_and_resyncs(make_daemon, short_tmp):
    # A stream that skips a seq, served by a fake publisher: watch must say so
    # and list again.
    d = make_daemon()
    d.start("--events", "none")
    events = f"ipc://{short_tmp}/fake-events.sock"
    pub = d.ctx.socket(zmq.PUB)
    pub.bind(events)
    watch = subprocess.Popen([DISCOCTL, "-e", d.endpoint, "watch", "--json", "--events", events,
                              "--count", "2"], stdout=subprocess.PIPE, text=True)
    assert json.loads(watch.stdout.readline())["event"] == "sync"
    time.sleep(0.4)
    for seq in (10, 12):
        pub.send_multipart([b"topic.added", pack({"seq": seq, "reason": "registered",
                                                 "topic_info": topic_blob(f"/g{seq}")})])
    out, _ = watch.communicate(timeout=10)
    kinds = [json.loads(l)["event"] for l in out.splitlines()]
    assert kinds == ["topic.added", "gap", "sync", "topic.added"]
    pub.close()


def test_metadata_and_filters(daemon):
    r = v2(daemon, command=1, topic_info=topic_blob("/feed/temp", publisher_node="temp-svc"),
           metadata={"visibility": "public", "description": "Live temperature"})
    assert r["status"] == 0
    v2(daemon, command=1, topic_info=topic_blob("/feed/secret"), metadata={"visibility": "private"})
    v2(daemon, command=1, topic_info=topic_blob("/other", message_type="Other"))
    r = v2(daemon, command=3, topic_name="/feed/temp")
    assert r["metadata"] == {"visibility": "public", "description": "Live temperature"}
    # Legacy clients get the five-key blob and nothing else.
    legacy = daemon.request({"command": 3, "topic_name": "/feed/temp"})
    assert set(legacy) == {"status", "message", "topic_info"}
    names = lambda r: [msgpack.unpackb(t)["name"] for t in r.get("topics", [])]
    assert names(v2(daemon, command=4, filter={"metadata": {"visibility": "public"}})) == [
        "/feed/temp"]
    assert names(v2(daemon, command=4, filter={"prefix": "/feed"})) == ["/feed/temp",
                                                                      "/feed/secret"]
    assert names(v2(daemon, command=4, filter={"message_type": "Other"})) == ["/other"]
    assert names(v2(daemon, command=4, filter={"publisher_node": "temp-svc"})) == ["/feed/temp"]
    r = v2(daemon, command=4, filter={"prefix": "/feed"})
    assert r["topic_metadata"][0]["visibility"] == "public"
    bad = v2(daemon, command=1, topic_info=topic_blob("/x"), metadata={"k": 1})
    assert bad["status"] == 3


def test_nodes(evd):
    sub = subscribe(evd)
    node = {"name": "temp-svc", "description": "Temperature service",
            "capabilities": ["temperature", "humidity"], "metadata": {"room": "lab"}}
    r = v2(evd, command=10, node=node)
    assert r["status"] == 0
    v2(evd, command=10, node={"name": "arm", "capabilities": ["manipulation"]})
    evd.request({"command": 1, "topic_info": topic_blob("/temp", publisher_node="temp-svc")})
    r = v2(evd, command=12, node_name="temp-svc")
    assert r["status"] == 0 and len(r["nodes"]) == 1
    n = r["nodes"][0]
    assert n["description"] == "Temperature service" and n["topics"] == ["/temp"]
    assert n["capabilities"] == ["temperature", "humidity"] and n["metadata"] == {"room": "lab"}
    found = v2(evd, command=13, capability="temperature")["nodes"]
    assert [x["name"] for x in found] == ["temp-svc"]
    assert sorted(x["name"] for x in v2(evd, command=13)["nodes"]) == ["arm", "temp-svc"]
    assert v2(evd, command=12, node_name="ghost")["status"] == 1
    assert v2(evd, command=11, node_name="arm")["status"] == 0
    assert v2(evd, command=11, node_name="arm")["status"] == 1
    assert v2(evd, command=10, node={"description": "no name"})["status"] == 3
    kinds = [next_event(sub)[0] for _ in range(4)]
    assert kinds == ["node.added", "node.added", "topic.added", "node.removed"]
    # Nodes are persisted like topics.
    evd.stop()
    evd.start()
    assert v2(evd, command=12, node_name="temp-svc")["nodes"][0]["capabilities"] == [
        "temperature", "humidity"]
    assert v2(evd, command=12, node_name="arm")["status"] == 1
    sub.close()


def test_leased_node_expires(evd):
    sub = subscribe(evd)
    r = v2(evd, command=10, node={"name": "blip"}, lease_ttl_ms=300)
    assert r["status"] == 0 and r["lease_id"]
    assert next_event(sub)[0] == "node.added"
    name, body = next_event(sub)
    assert name == "node.expired" and body["node"]["name"] == "blip"
    assert v2(evd, command=12, node_name="blip")["status"] == 1
    sub.close()


def test_discoctl_nodes(daemon):
    r = subprocess.run([DISCOCTL, "-e", daemon.endpoint, "register-node", "cam",
                        "--description", "Front camera", "--capability", "camera",
                        "--meta", "room=lab"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    subprocess.run([DISCOCTL, "-e", daemon.endpoint, "register", "/cam/img", "ipc:///x", "Img",
                    "--node", "cam"], check=True, capture_output=True, timeout=10)
    r = subprocess.run([DISCOCTL, "-e", daemon.endpoint, "node", "cam", "--json"],
                       capture_output=True, text=True, timeout=10)
    n = json.loads(r.stdout)
    assert n["topics"] == ["/cam/img"] and n["metadata"] == {"room": "lab"}
    r = subprocess.run([DISCOCTL, "-e", daemon.endpoint, "nodes", "--capability", "lidar",
                        "--json"], capture_output=True, text=True, timeout=10)
    assert json.loads(r.stdout) == []
    r = subprocess.run([DISCOCTL, "-e", daemon.endpoint, "nodes"], capture_output=True,
                       text=True, timeout=10)
    assert "cam  (Front camera)" in r.stdout and "/cam/img" in r.stdout
    assert subprocess.run([DISCOCTL, "-e", daemon.endpoint, "node", "none"],
                          capture_output=True, timeout=10).returncode == 1

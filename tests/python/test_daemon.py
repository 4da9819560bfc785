"""Integration: the real discod binary, real sockets, a real SQLite file.
Restarts, crashes, heavy LISTs, bad databases, limits and shutdown."""
import os
import random
import signal
import socket
import subprocess
import threading
import time

import msgpack
import pytest
import zmq

from conftest import DISCOD_BIN, Daemon, free_port, pack, topic_blob
from cortex_legacy import DiscoveryClient, TopicInfo


def register(d, name, node="n", **kw):
    return d.request({"command": 1, "topic_name": None,
                      "topic_info": topic_blob(name, publisher_node=node, **kw)})


def lookup(d, name):
    return d.request({"command": 3, "topic_name": name})


def list_names(d):
    r = d.request({"command": 4, "topic_name": None}, timeout_ms=30000)
    return [msgpack.unpackb(t, raw=False)["name"] for t in r.get("topics", [])]


def test_restart_keeps_everything_and_raises_epoch(daemon):
    epoch1 = daemon.request({"command": 5, "v": 2})["epoch"]
    for i in range(50):
        assert register(daemon, f"/t/{i}", node=f"n{i % 3}", fingerprint=2**64 - 1 - i)["status"] == 0
    assert daemon.request({"command": 2, "topic_name": "/t/7"})["status"] == 0
    before = list_names(daemon)
    daemon.stop()
    daemon.start()
    assert list_names(daemon) == before
    info = msgpack.unpackb(lookup(daemon, "/t/9")["topic_info"], raw=False)
    assert info == {"name": "/t/9", "address": "ipc:///tmp/cortex/topics/x", "message_type": "Msg",
                    "fingerprint": 2**64 - 10, "publisher_node": "n0"}
    assert lookup(daemon, "/t/7")["status"] == 1
    # The owner rule survives the restart too.
    assert register(daemon, "/t/9", node="intruder")["status"] == 2
    assert daemon.request({"command": 5, "v": 2})["epoch"] == epoch1 + 1
    assert "49 topic(s)" in daemon.read_log().split("started:")[-1]


def test_sigterm_unlinks_socket_and_exits_zero(daemon):
    assert os.path.exists(daemon.socket_path)
    assert daemon.stop(signal.SIGTERM) == 0
    assert not os.path.exists(daemon.socket_path)
    assert "discod stopped" in daemon.read_log()


def test_sigint_also_stops_cleanly(daemon):
    assert daemon.stop(signal.SIGINT) == 0
    assert not os.path.exists(daemon.socket_path)


def test_shutdown_command_stops_cleanly(daemon):
    r = daemon.request({"command": 99, "topic_name": None})
    assert r == {"status": 0, "message": "Shutting down"}
    assert daemon.proc.wait(timeout=10) == 0
    assert not os.path.exists(daemon.socket_path)


def test_stale_socket_file_is_removed_at_start(make_daemon):
    d = make_daemon()
    # A socket file nobody listens on, as a crashed daemon leaves behind.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(d.socket_path)
    s.close()
    assert os.path.exists(d.socket_path)
    d.start()
    assert d.request({"command": 5})["status"] == 0
    assert "removed stale socket file" in d.read_log()


def test_live_daemon_is_not_taken_over(make_daemon):
    first = make_daemon("a")
    first.start()
    second = Daemon(first.dir, "b")
    second.endpoint, second.socket_path = first.endpoint, first.socket_path
    second.start(wait=False)
    assert second.proc.wait(timeout=10) == 1
    assert "another daemon is serving" in second.read_log()
    assert first.request({"command": 5})["status"] == 0


def test_kill9_during_registration_burst_loses_no_acknowledged_write(daemon):
    acked = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(worker):
        ctx = zmq.Context.instance()
        i = 0
        while not stop.is_set():
            sock = ctx.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVTIMEO, 1000)
            sock.connect(daemon.endpoint)
            name = f"/burst/{worker}/{i}"
            try:
                sock.send(pack({"command": 1, "topic_name": None,
                                "topic_info": topic_blob(name, publisher_node=f"w{worker}")}))
                reply = msgpack.unpackb(sock.recv(), raw=False)
                if reply["status"] == 0:
                    with lock:
                        acked.append(name)
            except zmq.Again:
                pass
            finally:
                sock.close()
            i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    deadline = time.time() + 10
    while len(acked) < 200 and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(random.uniform(0, 0.2))
    daemon.kill9()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) >= 200
    daemon.start()
    present = set(list_names(daemon))
    missing = [n for n in acked if n not in present]
    assert not missing, f"{len(missing)} acknowledged registrations lost"


def test_group_commit_batches_concurrent_registrations(daemon):
    def burst(worker):
        c = DiscoveryClient(daemon.endpoint)
        for i in range(100):
            assert c.register_topic(TopicInfo(f"/g/{worker}/{i}", "ipc:///x", "M", i,
                                              f"w{worker}")).status == 0
        c.close()

    before = daemon.stats()
    threads = [threading.Thread(target=burst, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = daemon.stats()
    registrations = after["registrations"] - before["registrations"]
    commits = after["commits"] - before["commits"]
    assert registrations == 800
    assert after["batched_writes"] - before["batched_writes"] == 800
    # Eight writers at once must share commits: fewer fsyncs than writes.
    assert commits < registrations


def test_lookups_keep_flowing_during_a_list_loop_over_50000_topics(daemon):
    # Fill through many connections at once (group commit makes this quick).
    def fill(worker):
        ctx = zmq.Context.instance()
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(daemon.endpoint)
        names = [f"/big/{worker}/{i}" for i in range(12500)]
        window = 200
        sent = received = 0
        while received < len(names):
            while sent < len(names) and sent - received < window:
                sock.send_multipart([b"", pack({"command": 1, "topic_name": None,
                                                 "topic_info": topic_blob(names[sent])})])
                sent += 1
            assert msgpack.unpackb(sock.recv_multipart()[-1], raw=False)["status"] == 0
            received += 1
        sock.close()

    fillers = [threading.Thread(target=fill, args=(w,)) for w in range(4)]
    for t in fillers:
        t.start()
    for t in fillers:
        t.join()
    assert daemon.stats()["topics"] == 50000

    listing = threading.Event()
    stop = threading.Event()
    lists_done = []
    overlapped = []
    latencies = []

    def list_loop():
        while not stop.is_set():
            listing.set()
            n = len(list_names(daemon))
            listing.clear()
            lists_done.append(n)

    lister = threading.Thread(target=list_loop)
    lister.start()
    sock = daemon.ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.RCVTIMEO, 5000)
    sock.connect(daemon.endpoint)
    body = pack({"command": 3, "topic_name": "/big/2/777"})
    end = time.time() + 4
    while time.time() < end:
        during = listing.is_set()
        t0 = time.perf_counter()
        sock.send(body)
        assert msgpack.unpackb(sock.recv(), raw=False)["status"] == 0
        latencies.append(time.perf_counter() - t0)
        if during and listing.is_set():
            overlapped.append(1)
    stop.set()
    lister.join()
    sock.close()
    assert lists_done and all(n == 50000 for n in lists_done)
    # A single-threaded daemon answers nothing while a LIST is being built;
    # discod keeps answering lookups in the middle of LISTs.
    assert len(overlapped) > 50
    latencies.sort()
    assert latencies[len(latencies) // 2] < 0.05, "median lookup latency under LIST load"


def test_corrupt_database_is_moved_aside_and_daemon_starts_empty(make_daemon):
    d = make_daemon()
    with open(d.db, "wb") as f:
        f.write(b"SQLite format 3\x00" + os.urandom(8192))
    d.start()
    assert d.request({"command": 4})["status"] == 0
    assert register(d, "/fresh")["status"] == 0
    log = d.read_log()
    assert "corrupt" in log and "EMPTY" in log
    aside = [f for f in os.listdir(d.dir) if ".corrupt-" in f]
    assert aside, "the damaged file is kept for a post-mortem"


def test_corrupt_database_refused_when_configured(make_daemon):
    d = make_daemon()
    with open(d.db, "wb") as f:
        f.write(b"garbage" * 1000)
    d.start("--on-corrupt", "refuse", wait=False)
    assert d.proc.wait(timeout=10) == 1
    assert "refusing to start" in d.read_log()
    assert os.path.getsize(d.db) == 7000


def test_full_database_refuses_writes_but_keeps_serving_reads(make_daemon):
    d = make_daemon()
    d.start("--db-max-size", "65536")
    assert register(d, "/first")["status"] == 0
    statuses = []
    for i in range(400):
        r = register(d, f"/fill/{i}", address="ipc:///tmp/" + "p" * 200)
        statuses.append(r["status"])
        if r["status"] == 3:
            assert "Storage error" in r["message"] and "full" in r["message"]
            break
    assert statuses[-1] == 3, "the cap was never reached"
    # Nothing unacknowledged appears, everything acknowledged is served.
    assert lookup(d, f"/fill/{len(statuses) - 1}")["status"] == 1
    assert lookup(d, "/first")["status"] == 0
    assert len(list_names(d)) == len(statuses)  # /first + the acknowledged ones
    assert d.request({"command": 5})["status"] == 0
    assert d.stats()["commit_failures"] >= 1


def test_registry_capacity_gives_error(make_daemon):
    d = make_daemon()
    d.start("--max-topics", "3")
    for i in range(3):
        assert register(d, f"/cap/{i}")["status"] == 0
    r = register(d, "/cap/3")
    assert r["status"] == 3 and "Registry full" in r["message"]
    assert register(d, "/cap/1")["status"] == 0  # re-registration still fine
    assert d.request({"command": 2, "topic_name": "/cap/0"})["status"] == 0
    assert register(d, "/cap/3")["status"] == 0


def test_oversized_frame_is_dropped_and_others_served(make_daemon):
    d = make_daemon()
    d.start("--max-message-size", "4096")
    with pytest.raises(TimeoutError):
        d.request_raw(pack({"command": 3, "topic_name": "x" * 10000}), timeout_ms=1000)
    assert d.request({"command": 5})["status"] == 0


def test_shutdown_is_refused_on_tcp_unless_allowed(make_daemon):
    d = make_daemon()
    tcp = f"tcp://127.0.0.1:{free_port()}"
    d.start("--insecure-tcp", endpoints=[d.endpoint, tcp])
    r = d.request({"command": 99}, endpoint=tcp)
    assert r["status"] == 3 and "refused" in r["message"]
    assert register(d, "/over-ipc")["status"] == 0
    assert d.request({"command": 3, "topic_name": "/over-ipc"}, endpoint=tcp)["status"] == 0
    d.stop()

    d.start("--allow-remote-shutdown", "--insecure-tcp", endpoints=[d.endpoint, tcp])
    assert d.request({"command": 99}, endpoint=tcp)["status"] == 0
    assert d.proc.wait(timeout=10) == 0


def test_retried_write_with_request_id_is_applied_once(daemon):
    register(daemon, "/once")
    body = {"command": 2, "topic_name": "/once", "v": 2, "request_id": 123456789}
    first = daemon.request(body)
    retry = daemon.request(body)
    assert first["status"] == 0 and retry == first
    assert daemon.stats()["deduplicated"] == 1
    # A new id is a new request.
    body["request_id"] = 987654321
    assert daemon.request(body)["status"] == 1


def test_config_file_and_bad_config(short_tmp):
    conf = os.path.join(short_tmp, "discod.conf")
    with open(conf, "w") as f:
        f.write('server\n    address = "ipc://%s/c.sock"\n    workers = 1\n'
                'store\n    path = "%s/c.db"\n' % (short_tmp, short_tmp))
    proc = subprocess.Popen([DISCOD_BIN, "--config", conf], stderr=subprocess.PIPE)
    d = Daemon(short_tmp, "c")
    d.proc = proc
    deadline = time.time() + 10
    while time.time() < deadline and not os.path.exists(d.socket_path):
        time.sleep(0.05)
    assert d.request({"command": 5})["status"] == 0
    proc.terminate()
    err = proc.communicate(timeout=10)[1].decode()
    assert "workers 1" in err and "c.db" in err

    with open(conf, "w") as f:
        f.write("server\n    wrokers = 2\n")
    bad = subprocess.run([DISCOD_BIN, "--config", conf], capture_output=True, timeout=10)
    assert bad.returncode == 2
    assert b"unknown setting" in bad.stderr and b"wrokers" in bad.stderr


def test_help_and_version():
    out = subprocess.run([DISCOD_BIN, "--help"], capture_output=True, timeout=10)
    assert out.returncode == 0 and b"--address" in out.stdout and b"--db" in out.stdout
    out = subprocess.run([DISCOD_BIN, "--version"], capture_output=True, timeout=10)
    assert out.returncode == 0 and out.stdout.startswith(b"discod ")


def test_default_database_location_is_created(short_tmp):
    env = dict(os.environ, STATE_DIRECTORY=os.path.join(short_tmp, "state", "discod"))
    endpoint = f"ipc://{short_tmp}/def.sock"
    proc = subprocess.Popen([DISCOD_BIN, "--address", endpoint], env=env,
                            stderr=subprocess.DEVNULL)
    d = Daemon(short_tmp, "def")
    d.proc = proc
    d.wait_ready()
    assert d.request({"command": 1, "topic_info": topic_blob("/x")})["status"] == 0
    d.stop()
    assert os.path.exists(os.path.join(short_tmp, "state", "discod", "registry.db"))


def test_list_reply_is_reused_only_while_the_registry_is_unchanged(daemon):
    """Unfiltered LISTs are answered from a kept reply while nothing changed:
    every kind of change must show in the very next LIST, in both shapes."""
    def list_raw(v):
        body = {"command": 4, "topic_name": None}
        if v == 2:
            body["v"] = 2
        return daemon.request_raw(pack(body))

    def names(raw):
        return [msgpack.unpackb(t, raw=False)["name"]
                for t in msgpack.unpackb(raw, raw=False).get("topics", [])]

    for i in range(300):
        assert register(daemon, f"/c/{i}")["status"] == 0
    v1, v2 = list_raw(1), list_raw(2)
    assert list_raw(1) == v1 and list_raw(2) == v2  # unchanged registry, same bytes
    assert "v" not in msgpack.unpackb(v1, raw=False) and msgpack.unpackb(v2)["v"] == 2
    assert names(v1) == names(v2) == [f"/c/{i}" for i in range(300)]

    assert register(daemon, "/c/new")["status"] == 0                       # added
    assert names(list_raw(1))[-1] == "/c/new" and names(list_raw(2))[-1] == "/c/new"
    assert daemon.request({"command": 2, "topic_name": "/c/5"})["status"] == 0  # removed
    assert "/c/5" not in names(list_raw(1)) and "/c/5" not in names(list_raw(2))
    # Replaced in place by the same node: new fields, same position.
    assert register(daemon, "/c/7", message_type="Changed")["status"] == 0
    topics = [msgpack.unpackb(t, raw=False) for t in
              msgpack.unpackb(list_raw(2), raw=False)["topics"]]
    assert topics[6]["name"] == "/c/7" and topics[6]["message_type"] == "Changed"
    # A lease running out removes its topic from the next LIST too.
    r = daemon.request({"command": 1, "v": 2, "lease_ttl_ms": 300,
                        "topic_info": topic_blob("/c/leased")})
    assert r["status"] == 0 and "/c/leased" in names(list_raw(1))
    time.sleep(1.6)
    assert "/c/leased" not in names(list_raw(1))
    # Filtered LISTs are never answered from the kept reply.
    r = daemon.request({"command": 4, "v": 2, "filter": {"prefix": "/c/new"}})
    assert [msgpack.unpackb(t)["name"] for t in r["topics"]] == ["/c/new"]
    assert names(list_raw(2)) == names(list_raw(1)) and len(names(list_raw(1))) == 300

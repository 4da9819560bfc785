"""Fault injection against the real daemon: a full disk, the database deleted
while running, a slow disk. In each case writes
get a clear ERROR (or are slow), lookups keep working, and the daemon
recovers by itself when the fault clears. The disk faults use a small tmpfs
of the test's own (they are skipped where mounting is not allowed)."""
import os
import signal
import subprocess
import threading
import time

import msgpack
import pytest
import zmq

from conftest import Daemon, topic_blob


def register(d, name, **kw):
    return d.request({"command": 1, "topic_info": topic_blob(name, **kw)}, timeout_ms=10000)


def lookup(d, name):
    return d.request({"command": 3, "topic_name": name})["status"]


def start_with_failpoint(d, spec):
    """Starts d with DISCOD_FAILPOINT=spec (a slow disk, say) in its environment."""
    os.environ["DISCOD_FAILPOINT"] = spec
    try:
        d.start()
    finally:
        del os.environ["DISCOD_FAILPOINT"]


@pytest.fixture
def tmpfs(short_tmp):
    path = os.path.join(short_tmp, "fs")
    os.mkdir(path)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", path],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    yield path
    subprocess.run(["umount", "-l", path], capture_output=True)


def on_tmpfs(short_tmp, tmpfs):
    d = Daemon(short_tmp)
    d.db = os.path.join(tmpfs, "registry.db")
    return d


def test_disk_full_refuses_writes_keeps_reads_and_recovers(short_tmp, tmpfs):
    d = on_tmpfs(short_tmp, tmpfs)
    d.start()
    try:
        assert register(d, "/before")["status"] == 0
        # Leave almost no room.
        ballast = os.path.join(tmpfs, "ballast")
        subprocess.run(["dd", "if=/dev/zero", f"of={ballast}", "bs=4k", "count=2000"],
                       capture_output=True)
        failures = []
        for i in range(300):
            r = register(d, f"/fill/{i}", address="ipc:///tmp/" + "x" * 500)
            if r["status"] == 3:
                failures.append(r["message"])
                break
        assert failures and "Storage error" in failures[0]
        assert lookup(d, "/before") == 0
        assert d.request({"command": 4})["status"] == 0
        assert d.stats()["commit_failures"] >= 1
        os.unlink(ballast)
        r = register(d, "/after-space-freed")
        assert r["status"] == 0, r
    finally:
        d.stop()
    d.start()
    assert lookup(d, "/after-space-freed") == 0 and lookup(d, "/before") == 0
    d.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the daemon as another user")
def test_read_only_database_serves_reads_and_recovers(short_tmp):
    d = Daemon(short_tmp)
    d.start()
    assert register(d, "/kept")["status"] == 0
    d.stop()
    # The daemon runs as nobody; the database stays root's: read-only to it.
    # Its sockets go to a directory it may write.
    os.chmod(short_tmp, 0o755)
    sockets = os.path.join(short_tmp, "sockets")
    os.mkdir(sockets)
    os.chmod(sockets, 0o777)
    d.endpoint = f"ipc://{sockets}/d.sock"
    d.socket_path = f"{sockets}/d.sock"
    d.events = f"ipc://{sockets}/events.sock"
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    d.start("--ipc-mode", "0666", wrapper=as_nobody)
    try:
        assert "is read-only" in d.read_log()
        assert lookup(d, "/kept") == 0
        r = register(d, "/refused")
        assert r["status"] == 3 and "readonly" in r["message"]
        assert lookup(d, "/refused") == 1
        # The fault clears: the files become writable for the daemon.
        os.chmod(short_tmp, 0o777)
        for name in os.listdir(short_tmp):
            if name.startswith("d.db"):
                os.chmod(os.path.join(short_tmp, name), 0o666)
        deadline = time.time() + 10
        while register(d, "/accepted")["status"] != 0 and time.time() < deadline:
            time.sleep(0.3)
        assert lookup(d, "/accepted") == 0
        assert "writable again" in d.read_log()
    finally:
        d.stop()


def test_shutdown_finishes_in_flight_writes(make_daemon):
    d = make_daemon()
    start_with_failpoint(d, "slow-commit:700")
    result = {}
    t = threading.Thread(target=lambda: result.update(r=register(d, "/in-flight")))
    t.start()
    time.sleep(0.2)  # the write is committing (slowly) now
    d.proc.send_signal(signal.SIGTERM)
    t.join(15)
    assert result["r"]["status"] == 0
    assert d.proc.wait(timeout=15) == 0
    d.start()
    assert lookup(d, "/in-flight") == 0


def test_database_deleted_while_running_is_recreated(daemon):
    for i in range(20):
        assert register(daemon, f"/kept/{i}")["status"] == 0
    lease = daemon.request({"command": 10, "v": 2, "node": {"name": "n1"},
                            "lease_ttl_ms": 60000})["lease_id"]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(daemon.db + suffix):
            os.unlink(daemon.db + suffix)
    deadline = time.time() + 5
    while "recreated" not in daemon.read_log() and time.time() < deadline:
        time.sleep(0.1)
    assert "was deleted or replaced while running" in daemon.read_log()
    assert register(daemon, "/after-delete")["status"] == 0
    daemon.stop()
    daemon.start()
    for i in range(20):
        assert lookup(daemon, f"/kept/{i}") == 0
    assert lookup(daemon, "/after-delete") == 0
    node = daemon.request({"command": 12, "v": 2, "node_name": "n1"})
    assert node["status"] == 0 and node["nodes"][0]["lease_id"] == lease


def test_slow_disk_delays_writes_not_lookups(make_daemon):
    d = make_daemon()
    start_with_failpoint(d, "slow-commit:400")
    register(d, "/hot")
    done = threading.Event()
    lookups = []

    def reader():
        while not done.is_set():
            t0 = time.time()
            assert lookup(d, "/hot") == 0
            lookups.append(time.time() - t0)

    t = threading.Thread(target=reader)
    t.start()
    t0 = time.time()
    assert register(d, "/slow")["status"] == 0
    took = time.time() - t0
    done.set()
    t.join()
    assert took >= 0.35  # the write waited for its (slow) commit...
    assert len(lookups) > 20  # ...while lookups went on being answered
    assert sorted(lookups)[len(lookups) // 2] < 0.1


def test_writes_piling_up_behind_a_slow_disk_never_block_lookups(make_daemon):
    """3,000 pipelined registrations against commits of 1.5 s: more than the
    writer's queue holds, so the front hands the overflow to the workers
    instead of waiting. Lookups are answered meanwhile, every registration
    is acknowledged once, and all of them are there afterwards."""
    d = make_daemon()
    start_with_failpoint(d, "slow-commit:1500")
    assert register(d, "/probe")["status"] == 0
    dealer = d.ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.setsockopt(zmq.SNDHWM, 0)
    dealer.connect(d.endpoint)
    n, waits = 3000, 100
    waits_before = d.request({"command": 9, "v": 2})["stats"]["waits"]
    for i in range(n):
        dealer.send_multipart([b"", msgpack.packb({"command": 1, "topic_info":
                                                   topic_blob(f"/pile/{i}")})])
    # WAITs behind the pile: the overflow ones go through a worker too, and
    # each is counted once wherever it goes.
    for i in range(waits):
        dealer.send_multipart([b"", msgpack.packb({"command": 7, "topic_name":
                                                   f"/pile/{n - 1 - i}", "timeout_ms": 60000})])
    time.sleep(0.3)
    t0 = time.time()
    assert lookup(d, "/probe") == 0
    assert time.time() - t0 < 1.0  # a blocked front would wait for a 1.5 s commit
    dealer.setsockopt(zmq.RCVTIMEO, 30000)
    statuses = [msgpack.unpackb(dealer.recv_multipart()[1])["status"]
                for _ in range(n + waits)]
    assert statuses == [0] * (n + waits)
    dealer.close()
    assert d.request({"command": 9, "v": 2})["stats"]["waits"] - waits_before == waits
    names = d.request({"command": 4}, timeout_ms=30000)["topics"]
    assert len(names) == n + 1
    assert "writer queue full: a worker takes this write" in d.read_log()

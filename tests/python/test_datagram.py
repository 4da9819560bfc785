"""The datagram channel: PING and HEARTBEAT by unix datagram on PATH.hb
beside each ipc endpoint (proto/PROTOCOL.md, part 3), against the real
daemon."""
import os
import socket
import stat
import time

import msgpack
import pytest

from conftest import pack, topic_blob


def dgram_path(d):
    return d.socket_path + ".hb"


def dgram_socket(d, named=True):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if named:
        s.bind("")  # autobind: an abstract address the daemon can answer
    s.connect(dgram_path(d))
    s.settimeout(2.0)
    return s


def dgram_call(s, body):
    s.send(body if isinstance(body, bytes) else pack(body))
    return msgpack.unpackb(s.recv(65536), raw=False)


def register_leased(d, name, ttl_ms):
    r = d.request({"command": 1, "v": 2, "lease_ttl_ms": ttl_ms,
                   "topic_info": topic_blob(name)})
    assert r["status"] == 0
    return r["lease_id"]


def exists(d, name):
    return d.request({"command": 3, "topic_name": name})["status"] == 0


def test_heartbeats_by_datagram_keep_a_lease_alive(daemon):
    lease = register_leased(daemon, "/dg/alive", 600)
    s = dgram_socket(daemon)
    t0 = time.time()
    while time.time() - t0 < 2.0:
        r = dgram_call(s, {"command": 6, "v": 2, "lease_id": lease})
        assert r["status"] == 0 and r["lease_id"] == lease and r["lease_ttl_ms"] == 600
        assert r["v"] == 2 and r["epoch"] >= 1
        time.sleep(0.15)
    assert exists(daemon, "/dg/alive")
    # Silence: the lease expires as usual.
    t0 = time.time()
    while exists(daemon, "/dg/alive") and time.time() - t0 < 3:
        time.sleep(0.05)
    assert not exists(daemon, "/dg/alive")
    assert time.time() - t0 < 1.6
    stats = daemon.stats()
    assert stats["datagrams"] >= 10 and stats["heartbeats"] >= 10


def test_ping_and_unknown_lease(daemon):
    s = dgram_socket(daemon)
    r = dgram_call(s, {"command": 5})
    assert r["status"] == 0 and r["message"] == "pong" and r["v"] == 2
    r = dgram_call(s, {"command": 6, "v": 2, "lease_id": 987654})
    assert r["status"] == 1 and "987654" in r["message"]


@pytest.mark.parametrize("body, words", [
    (b"\xc1\x00junk", "parse"),
    (pack({"command": 3, "topic_name": "/x"}), "Only PING and HEARTBEAT"),
    (pack({"command": 4}), "Only PING and HEARTBEAT"),
    (pack({"command": 6, "v": 2}), "Missing lease_id"),
    (pack({"command": 6, "v": 2, "lease_id": "seven"}), "lease_id"),
    (pack({"command": "HEARTBEAT"}), "command"),
    (pack([1, 2, 3]), ""),
    (b"", ""),
    (b"\x81" + b"\xa1k" * 2000, "too large"),
])
def test_bad_datagrams_get_an_error_and_lose_nothing(daemon, body, words):
    lease = register_leased(daemon, "/dg/keep", 60000)
    s = dgram_socket(daemon)
    r = dgram_call(s, body)
    assert r["status"] == 3 and words in r["message"]
    # The daemon still serves, on both channels, and lost nothing.
    assert dgram_call(s, {"command": 6, "v": 2, "lease_id": lease})["status"] == 0
    assert exists(daemon, "/dg/keep")


def test_unnamed_sender_renews_without_a_reply(daemon):
    lease = register_leased(daemon, "/dg/anon", 500)
    s = dgram_socket(daemon, named=False)
    before = daemon.stats()["heartbeats"]
    t0 = time.time()
    while time.time() - t0 < 1.5:
        s.send(pack({"command": 6, "v": 2, "lease_id": lease}))
        time.sleep(0.1)
    assert exists(daemon, "/dg/anon")
    assert daemon.stats()["heartbeats"] - before >= 10
    s.settimeout(0.2)
    with pytest.raises(socket.timeout):
        s.recv(100)


def test_many_senders_at_once_are_all_answered(daemon):
    lease = register_leased(daemon, "/dg/many", 60000)
    socks = [dgram_socket(daemon) for _ in range(40)]
    body = pack({"command": 6, "v": 2, "lease_id": lease})
    for _ in range(25):
        for s in socks:
            s.send(body)  # blocks, not fails, while the daemon's queue is full
        for s in socks:
            assert msgpack.unpackb(s.recv(1000))["status"] == 0
    assert daemon.stats()["datagrams"] >= 1000


def test_socket_file_mode_stale_file_and_clean_stop(make_daemon):
    d = make_daemon()
    # A file left by a dead daemon is replaced.
    with open(d.socket_path + ".hb", "w") as f:
        f.write("stale")
    d.start("--ipc-mode", "0600")
    st = os.stat(dgram_path(d))
    assert stat.S_ISSOCK(st.st_mode) and oct(st.st_mode & 0o777) == "0o600"
    assert d.stop() == 0
    assert not os.path.exists(dgram_path(d))


def test_channel_can_be_turned_off(make_daemon):
    d = make_daemon()
    d.start("--datagram", "false")
    assert not os.path.exists(dgram_path(d))
    assert d.request({"command": 5})["status"] == 0


def test_bad_datagram_setting_is_refused(make_daemon):
    d = make_daemon()
    d.start("--datagram", "maybe", wait=False)
    assert d.proc.wait(timeout=10) != 0


def test_random_datagrams_never_hurt(daemon):
    import random
    rnd = random.Random(20261125)
    lease = register_leased(daemon, "/dg/fuzz", 60000)
    s = dgram_socket(daemon)
    for _ in range(500):
        body = bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 64)))
        r = dgram_call(s, body)
        assert r["status"] in (0, 1, 3)  # a random body may even be a valid PING
    assert dgram_call(s, {"command": 6, "v": 2, "lease_id": lease})["status"] == 0
    assert exists(daemon, "/dg/fuzz")
    assert daemon.proc.poll() is None

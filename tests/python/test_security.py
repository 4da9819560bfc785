"""Security (CURVE, per-key roles, owners, SHUTDOWN policy, the ipc group)
against the real daemon: keys made by discoctl keygen, a tcp endpoint and a
tcp events PUB that need them, an ipc endpoint that does not."""
import grp
import os
import random
import shutil
import signal
import socket
import subprocess
import time

import msgpack
import pytest
import zmq

import discod
from cluster import wait_for
from conftest import DISCOD_BIN, Daemon, free_port, pack, topic_blob
from cortex_legacy import DiscoveryClient, DiscoveryStatus, TopicInfo

DISCOCTL = os.path.join(os.path.dirname(DISCOD_BIN), "..", "client", "discoctl")


def keygen(path, role=None):
    args = [DISCOCTL, "keygen", path] + (["--role", role] if role else [])
    subprocess.run(args, check=True, capture_output=True, timeout=10)


class Keys:
    """A server certificate, a clients directory (public certificates with
    roles) and the clients' secrets kept apart, as on a robot."""

    def __init__(self, base):
        self.dir = os.path.join(base, "keys")
        self.clients = os.path.join(self.dir, "clients")
        os.makedirs(self.clients)
        self.server = os.path.join(self.dir, "server")
        keygen(self.server)
        for name, role in (("reader", "read"), ("writer", "write"), ("writer2", "write"),
                           ("admin", "admin")):
            self.add(name, role)
        self.stranger = os.path.join(self.dir, "stranger")
        keygen(self.stranger, "admin")  # never put in the directory

    def add(self, name, role):
        keygen(os.path.join(self.clients, name), role)
        shutil.move(os.path.join(self.clients, name + "_secret"),
                    os.path.join(self.dir, name + "_secret"))
        shutil.copy(os.path.join(self.clients, name), os.path.join(self.dir, name))

    def key(self, name):
        return os.path.join(self.dir, name)


@pytest.fixture
def keys(short_tmp):
    return Keys(short_tmp)


@pytest.fixture
def secure(short_tmp, keys):
    d = Daemon(short_tmp, "s")
    d.tcp = f"tcp://127.0.0.1:{free_port()}"
    d.events_tcp = f"tcp://127.0.0.1:{free_port()}"
    d.start("--curve-key", keys.server, "--curve-clients", keys.clients, "--events",
            d.events_tcp, endpoints=[d.endpoint, d.tcp])
    yield d
    d.stop()


def client(d, keys, name, **kw):
    kw.setdefault("timeout_ms", 1000)
    kw.setdefault("retries", 1)
    return discod.Client(d.tcp, server_key=keys.server,
                         client_key=keys.key(name) if name else None, **kw)


def ctl(d, keys, name, *args):
    flags = ["--server-key", keys.server, "--client-key", keys.key(name)] if name else []
    return subprocess.run([DISCOCTL, "-e", d.tcp, "--timeout-ms", "1000", "--retries", "2",
                           *flags, *args], capture_output=True, text=True, timeout=20)


def call(c, body):
    """A raw request through a discod.Client; raises what its status means."""
    return c._run(discod._calls.Call(lambda v2: dict(body, v=2), lambda r, v2: r))


def log_count(d, text):
    return d.read_log().count(text)


def test_a_tcp_endpoint_without_a_key_is_refused_at_start(short_tmp):
    tcp = f"tcp://127.0.0.1:{free_port()}"
    r = subprocess.run([DISCOD_BIN, "--db", f"{short_tmp}/x.db", "--events", "none",
                        "--address", tcp], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "open to anyone" in r.stderr and "--insecure-tcp" in r.stderr


def test_a_plain_tcp_client_gets_nothing_and_is_logged(secure):
    with pytest.raises(TimeoutError):
        secure.request({"command": 5}, endpoint=secure.tcp, timeout_ms=1000)
    assert wait_for(lambda: "handshake(s) on " + secure.tcp in secure.read_log(), timeout=5)
    log = secure.read_log()
    assert "(CURVE)" in log  # the banner says which endpoints are protected


def test_an_unknown_key_is_refused_and_told_so_once_per_peer(secure, keys):
    t0 = time.monotonic()
    r = subprocess.run([DISCOCTL, "-e", secure.tcp, "--timeout-ms", "3000", "--retries", "3",
                        "--server-key", keys.server, "--client-key", keys.stranger, "ping"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 4 and "authentication refused" in r.stderr
    assert time.monotonic() - t0 < 3.0  # said at once, not after every retry timed out
    for _ in range(3):
        with pytest.raises(discod.Refused, match="authentication refused"):
            client(secure, keys, "stranger").ping()
    assert wait_for(lambda: log_count(secure, "not in --curve-clients") >= 1)
    time.sleep(0.3)
    assert log_count(secure, "not in --curve-clients") == 1


def test_roles(secure, keys):
    reader = client(secure, keys, "reader")
    writer = client(secure, keys, "writer")
    admin = client(secure, keys, "admin")
    assert reader.ping().protocol == 2
    writer.register("/cam", "ipc:///tmp/cam", "Image", 1, "camera")
    assert reader.lookup("/cam").topic.publisher_node == "camera"
    assert [t.name for t in reader.list()] == ["/cam"]
    assert reader.stats()["topics"] == 1
    with pytest.raises(discod.Refused, match="role read"):
        reader.register("/mine", "ipc:///tmp/m", "Image", 1, "reader")
    with pytest.raises(discod.Refused, match="role read"):
        reader.unregister("/cam")
    with pytest.raises(discod.Refused, match="role write"):
        call(writer, {"command": 16, "member_id": 2})  # a membership change: admin only
    assert "has role read, too little" in secure.read_log()
    with open(keys.key("reader")) as f:
        assert any(line.split('"')[1] in secure.read_log() for line in f if "public-key" in line)
    admin.register_node("arm", "the arm", ["grip"])
    assert [n.name for n in reader.nodes("grip")] == ["arm"]


def test_a_write_key_changes_only_its_own(secure, keys):
    a = client(secure, keys, "writer")
    b = client(secure, keys, "writer2")
    a.register("/a", "ipc:///tmp/a", "M", 1, "node-a")
    b.register("/b", "ipc:///tmp/b", "M", 1, "node-b")
    with pytest.raises(discod.Refused, match="belongs to another key"):
        b.unregister("/a")
    with pytest.raises(discod.Refused, match="belongs to another key"):
        b.register("/a", "ipc:///tmp/hijack", "M", 1, "node-a")  # the same node name
    with pytest.raises(discod.AlreadyExists):
        b.register("/a", "ipc:///tmp/hijack", "M", 1, "node-b")
    assert b.lookup("/a").topic.address == "ipc:///tmp/a"
    # The ipc side owns what comes in on ipc; neither side touches the other's.
    legacy = DiscoveryClient(secure.endpoint, timeout_ms=2000)
    assert legacy.unregister_topic("/a").status == DiscoveryStatus.ERROR
    assert legacy.register_topic(TopicInfo("/local", "ipc:///tmp/l", "M", 1, "n")).status == 0
    with pytest.raises(discod.Refused, match="belongs to another key"):
        a.unregister("/local")
    # Leases too: another key can neither attach to nor revoke one.
    lease = a.register("/leased", "ipc:///tmp/l2", "M", 1, "node-a", lease_ttl_ms=60000).lease_id
    with pytest.raises(discod.Refused, match="Lease"):
        b.revoke(lease)
    with pytest.raises(discod.Refused, match="Lease"):
        b.register("/b2", "ipc:///tmp/b2", "M", 1, "node-b", lease_id=lease)
    # Nodes likewise.
    a.register_node("arm")
    with pytest.raises(discod.Refused, match="belongs to another key"):
        b.unregister_node("arm")
    # An admin key may change anything; the owner its own.
    client(secure, keys, "admin").unregister("/a")
    a.revoke(lease)
    assert [t.name for t in b.list()] == ["/b", "/local"]
    legacy.close()


def test_owners_survive_a_restart(secure, keys):
    client(secure, keys, "writer").register("/kept", "ipc:///tmp/k", "M", 1, "n")
    secure.stop()
    secure.start("--curve-key", keys.server, "--curve-clients", keys.clients, "--events",
                 secure.events_tcp, endpoints=[secure.endpoint, secure.tcp])
    with pytest.raises(discod.Refused, match="belongs to another key"):
        client(secure, keys, "writer2").unregister("/kept")
    client(secure, keys, "writer").unregister("/kept")


def test_a_removed_key_is_refused_after_sighup_others_stay(secure, keys):
    writer = client(secure, keys, "writer")
    reader = client(secure, keys, "reader")
    writer.register("/w", "ipc:///tmp/w", "M", 1, "n")
    assert reader.lookup("/w")
    os.unlink(os.path.join(keys.clients, "writer"))
    secure.proc.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "client keys reloaded" in secure.read_log(), timeout=5)
    # Its open connection: every request refused now.
    with pytest.raises(discod.Refused, match="no longer in the client keys"):
        writer.ping()
    # A new connection: the handshake itself.
    with pytest.raises(discod.Refused, match="authentication refused"):
        client(secure, keys, "writer").ping()
    # The reader's connection was never dropped.
    assert reader.lookup("/w").topic.name == "/w"
    assert secure.proc.poll() is None


def test_a_key_added_to_the_directory_is_taken_without_a_signal(secure, keys):
    keys.add("newcomer", "read")
    assert wait_for(lambda: _pings(secure, keys, "newcomer"), timeout=10, interval=0.3)


def _pings(d, keys, name):
    try:
        return client(d, keys, name).ping().protocol == 2
    except discod.DiscodError:
        return False


def test_the_events_pub_over_tcp_needs_a_key(secure, keys):
    ctx = zmq.Context.instance()
    plain = ctx.socket(zmq.SUB)
    plain.setsockopt(zmq.SUBSCRIBE, b"")
    plain.connect(secure.events_tcp)
    keyed = ctx.socket(zmq.SUB)
    keyed.setsockopt(zmq.SUBSCRIBE, b"")
    from discod._curve import apply_curve
    assert apply_curve(keyed, secure.events_tcp, keys.server, keys.key("reader"))
    keyed.connect(secure.events_tcp)
    time.sleep(0.5)
    client(secure, keys, "writer").register("/ev", "ipc:///tmp/ev", "M", 1, "n")
    assert keyed.poll(3000)
    name, body = keyed.recv_multipart()
    assert name == b"topic.added" and msgpack.unpackb(body)["seq"] >= 1
    assert not plain.poll(500)
    plain.close(0)
    keyed.close(0)


def test_the_asyncio_client_takes_keys(secure, keys):
    import asyncio
    import discod.aio

    async def main():
        c = discod.aio.Client(secure.tcp, server_key=keys.server,
                              client_key=keys.key("writer"), timeout_ms=2000)
        await c.register("/async", "ipc:///tmp/a", "M", 1, "n")
        found = await c.lookup("/async")
        c.close()
        return found.topic.name
    assert asyncio.run(main()) == "/async"


def test_legacy_cortex_clients_on_ipc_are_unchanged(secure):
    c = DiscoveryClient(secure.endpoint, timeout_ms=2000)
    assert c.ping()
    info = TopicInfo("/camera/image", "ipc:///tmp/cam", "sensor_msgs.Image", 0xDEADBEEF, "cam")
    r = c.register_topic(info)
    assert r.status == DiscoveryStatus.OK and r.message == "Registered topic: /camera/image"
    assert c.lookup_topic("/camera/image") == info
    assert c.register_topic(TopicInfo("/camera/image", "ipc:///x", "sensor_msgs.Image", 1,
                                      "other")).status == DiscoveryStatus.ALREADY_EXISTS
    assert [t.name for t in c.list_topics()] == ["/camera/image"]
    assert c.unregister_topic("/camera/image").status == DiscoveryStatus.OK
    c.close()


def test_garbage_on_a_curve_endpoint_does_not_hurt_the_daemon(secure, keys):
    host, port = secure.tcp[len("tcp://"):].rsplit(":", 1)
    rng = random.Random(1234)
    greeting = bytes([0xFF] + [0] * 8 + [0x7F, 3, 0]) + b"NULL" + bytes(16) + bytes(32)
    for i in range(200):
        s = socket.create_connection((host, int(port)), timeout=2)
        try:
            if i % 3 == 0:
                s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 600))))
            elif i % 3 == 1:
                s.sendall(greeting + bytes(rng.randrange(256) for _ in range(rng.randrange(64))))
            else:  # a CURVE greeting, then a HELLO of noise
                s.sendall(greeting[:12] + b"CURVE" + bytes(15) + bytes(32) +
                          bytes([4, 200]) + b"\x05HELLO" + bytes(rng.randrange(256)
                                                               for _ in range(rng.randrange(300))))
            s.settimeout(0.05)
            try:
                s.recv(64)
            except (socket.timeout, OSError):
                pass
        finally:
            s.close()
    # Random frames after a good handshake (a key holder gone wrong).
    from discod._curve import apply_curve
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    apply_curve(sock, secure.tcp, keys.server, keys.key("writer"))
    sock.connect(secure.tcp)
    for _ in range(300):
        frames = [bytes(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
                  for _ in range(rng.randrange(1, 5))]
        sock.send_multipart(frames)
    sock.close(0)
    time.sleep(0.5)
    assert secure.proc.poll() is None
    assert client(secure, keys, "reader").ping().protocol == 2
    assert secure.request({"command": 5})["status"] == 0


@pytest.mark.parametrize("policy,ipc_ok,admin_ok", [("none", False, False), ("ipc", True, False),
                                                    ("admin", True, True)])
def test_shutdown_policies(short_tmp, keys, policy, ipc_ok, admin_ok):
    d = Daemon(short_tmp, f"sd-{policy}")
    d.tcp = f"tcp://127.0.0.1:{free_port()}"
    d.start("--curve-key", keys.server, "--curve-clients", keys.clients, "--allow-shutdown",
            policy, endpoints=[d.endpoint, d.tcp])
    with pytest.raises(discod.Refused, match="role write"):
        call(client(d, keys, "writer"), {"command": 99})
    try:
        call(client(d, keys, "admin"), {"command": 99})
        stopped_by = "admin"
    except discod.Refused as e:
        assert "SHUTDOWN refused" in e.message
        stopped_by = None
    if stopped_by is None:
        reply = d.request({"command": 99})  # on ipc
        if reply["status"] == 0:
            stopped_by = "ipc"
        else:
            assert "SHUTDOWN refused" in reply["message"] and "none" in reply["message"]
    assert stopped_by == ("admin" if admin_ok else "ipc" if ipc_ok else None)
    if stopped_by:
        assert d.proc.wait(timeout=10) == 0
    else:
        assert d.proc.poll() is None and "SHUTDOWN refused" in d.read_log()
    d.stop()


def test_the_shipped_unit_and_config_never_leave_discovery_down():
    here = os.path.dirname(__file__)
    with open(os.path.join(here, "..", "..", "deploy", "systemd", "discod.service")) as f:
        unit = f.read()
    assert "Restart=always" in unit
    with open(os.path.join(here, "..", "..", "config", "discod.conf")) as f:
        conf = f.read()
    assert "allow_shutdown = none" in conf


@pytest.fixture
def cortex_group():
    """Group cortex as the Debian package creates it (made here when absent)."""
    try:
        grp.getgrnam("cortex")
        made = False
    except KeyError:
        if os.geteuid() != 0:
            pytest.skip("needs root to create group cortex")
        subprocess.run(["groupadd", "--system", "cortex"], check=True)
        made = True
    yield "cortex"
    if made:
        subprocess.run(["groupdel", "cortex"], check=False)


def test_a_user_outside_group_cortex_can_still_run_discod(short_tmp, cortex_group):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv")
    run = os.path.join(short_tmp, "nobody")
    os.makedirs(run)
    os.chmod(short_tmp, 0o755)
    os.chmod(run, 0o777)
    as_nobody = ["setpriv", "--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]
    d = Daemon(run, "n")
    d.start(wrapper=as_nobody)  # the default group applies when it can; here it cannot
    assert d.request({"command": 5})["status"] == 0
    assert "cannot give" in d.read_log() and "keeps this user's group" in d.read_log()
    assert grp.getgrgid(os.stat(d.socket_path).st_gid).gr_name != cortex_group
    d.stop()
    # An explicitly configured group that cannot be applied stays an error.
    r = subprocess.run(as_nobody + [DISCOD_BIN, "--db", f"{run}/e.db", "--events", "none",
                                    "--address", f"ipc://{run}/e.sock", "--ipc-group",
                                    cortex_group], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "cannot give" in r.stderr


def test_a_cluster_over_curve_replicates_fails_over_and_refuses_non_members(short_tmp, keys):
    """Members share the server key: the Raft links (tunnelled, dc_peer_tunnel)
    and the forwarding channel take that key only; nothing runs in the clear."""
    import re
    from cluster import Cluster
    c = Cluster(short_tmp, insecure=False,
                extra=["--curve-key", keys.server, "--curve-clients", keys.clients]).start()
    try:
        leader = c.leader()
        follower = c.followers()[0]
        for i in range(20):
            r = follower.request({"command": 1, "topic_name": None,
                                  "topic_info": topic_blob(f"/fwd/{i}", publisher_node="n")})
            assert r["status"] == 0  # forwarded to the leader over CURVE, replicated over CURVE
        assert len(c.converged()) == 20
        assert "Raft peer links over CURVE" in leader.read_log()
        channel = re.search(r"member channel .* on (tcp://\S+) \(CURVE\)", leader.read_log())
        assert channel
        from discod._curve import apply_curve
        for endpoint in (channel.group(1), "tcp://" + c.addresses[leader.id]):
            for key in (keys.key("admin"), None):  # a client key, or no CURVE at all
                sock = zmq.Context.instance().socket(zmq.DEALER)
                sock.setsockopt(zmq.LINGER, 0)
                if key:
                    apply_curve(sock, endpoint, keys.server, key)
                sock.connect(endpoint)
                sock.send_multipart([b"\1\0\0\0", b"O"])
                assert not sock.poll(1000)
                sock.close(0)
        assert wait_for(lambda: "not the cluster's key" in leader.read_log(), timeout=5)
        # Raw bytes at a member's Raft address read nothing of the stream.
        host, port = c.addresses[leader.id].rsplit(":", 1)
        raw = socket.create_connection((host, int(port)), timeout=2)
        raw.sendall(bytes(64))
        raw.settimeout(1.0)
        try:
            got = raw.recv(4096)
        except (socket.timeout, OSError):
            got = b""
        raw.close()
        assert b"/fwd/" not in got
        # An outsider with its own server key, claiming to be member 9, cannot join.
        outsider = Keys(os.path.join(short_tmp, "outsider"))
        intruder_addr = f"127.0.0.1:{free_port()}"
        args = [DISCOD_BIN, "--address", f"ipc://{short_tmp}/x.sock", "--db",
                f"{short_tmp}/x.db", "--events", "none", "--member-id", "9",
                "--cluster-member", f"9={intruder_addr}", "--curve-key", outsider.server]
        for mid, address in c.addresses.items():
            args += ["--cluster-member", f"{mid}={address}"]
        intruder = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            # Its CURVE handshakes (for the wrong server key) fail at each member's
            # Raft address, and are logged there.
            assert wait_for(lambda: sum(f"handshake(s) on {c.addresses[m.id]}" in m.read_log()
                                        for m in c.members.values()) >= 2, timeout=15)
            assert c.leader().id == leader.id
        finally:
            intruder.send_signal(signal.SIGTERM)
            intruder.wait(timeout=10)
        # Failover over the tunnel: the leader dies, the others elect and keep everything.
        leader.kill9()
        new_leader = c.leader(timeout=15)
        assert new_leader is not leader
        r = new_leader.request({"command": 1, "topic_name": None,
                                "topic_info": topic_blob("/after", publisher_node="n")})
        assert r["status"] == 0
        leader.start()
        assert len(c.converged(timeout=20)) == 21
    finally:
        c.stop()


def test_a_wiped_member_catches_up_over_curve(short_tmp, keys):
    """A snapshot (larger than one tunnel frame) and a long log, through the tunnel."""
    from cluster import Cluster
    c = Cluster(short_tmp, insecure=False,
                extra=["--curve-key", keys.server, "--snapshot-threshold", "32"]).start()
    try:
        leader = c.leader()
        victim = [m for m in c.live() if m is not leader][0]
        victim.stop()
        meta = {f"k{i}": "v" * 900 for i in range(60)}  # big entries: frames of many KB
        for i in range(150):
            body = {"command": 1, "topic_name": None, "v": 2, "metadata": meta,
                    "topic_info": topic_blob(f"/snap/{i}", publisher_node="n")}
            assert leader.request(body)["status"] == 0
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(victim.db + suffix):
                os.unlink(victim.db + suffix)
        subprocess.run(["rm", "-rf", victim.raft_dir()], check=True)
        victim.start()
        assert len(c.converged(timeout=30)) == 150
        assert "restored a snapshot" in victim.read_log()
        r = victim.request({"command": 3, "topic_name": "/snap/149", "v": 2})
        assert r["status"] == 0 and r["metadata"] == meta
    finally:
        c.stop()

"""The defaults a newcomer trips on: the events endpoint follows --address,
a setting that cannot be bound is named, listening sockets get a backlog
sized for a robot's bring-up, discoctl names the role."""
import os
import shutil
import socket
import stat
import subprocess
import time

import pytest

import discod
from conftest import DISCOD_BIN, Daemon, free_port

BUILD = os.environ.get("DISCOD_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..",
                                                           "build")
DISCOCTL = os.path.join(BUILD, "client", "discoctl")


def one_event(endpoint, topic, **watch_args):
    """Registers topic on the daemon at endpoint and returns the first event
    a discod.watch() given only the client's endpoint sees for it."""
    client = discod.Client(endpoint, timeout_ms=2000)
    with discod.watch(client, idle_timeout=5, **watch_args) as w:
        items = iter(w)
        assert isinstance(next(items), discod.Snapshot)
        client.register(topic, "ipc:///x", "T", 1, "n")
        for item in items:
            if isinstance(item, discod.Event) and item.topic and item.topic.name == topic:
                return item
    return None


def test_two_daemons_on_two_addresses_without_events_run_side_by_side(short_tmp):
    a, b = Daemon(short_tmp, "a"), Daemon(short_tmp, "b")
    try:
        a.start(events=False)
        b.start(events=False)
        # Each put its events beside its own address and says so in its banner.
        for d in (a, b):
            assert os.path.exists(d.events[len("ipc://"):])
            assert f"events {d.events}," in d.read_log()
        # The clients find each stream from the daemon's address alone.
        assert one_event(a.endpoint, "/on-a").name == "topic.added"
        assert one_event(b.endpoint, "/on-b").name == "topic.added"
        out = subprocess.Popen([DISCOCTL, "-e", b.endpoint, "watch", "--json", "--count", "1"],
                               stdout=subprocess.PIPE, text=True)
        time.sleep(0.5)
        assert subprocess.run([DISCOCTL, "-e", b.endpoint, "register", "/again", "ipc:///y",
                               "T"]).returncode == 0
        line, _ = out.communicate(timeout=15)
        assert '"/again"' in line
    finally:
        a.stop()
        b.stop()


def test_a_user_who_cannot_write_tmp_cortex_starts_on_its_own_address(short_tmp):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv")
    made = not os.path.exists("/tmp/cortex")
    os.makedirs("/tmp/cortex", exist_ok=True)  # root's, as after a first root daemon
    if made:
        os.chmod("/tmp/cortex", 0o755)
    if os.stat("/tmp/cortex").st_mode & stat.S_IWOTH:
        pytest.skip("/tmp/cortex is writable by anyone here: nothing to show")
    run = os.path.join(short_tmp, "user")
    os.makedirs(run)
    os.chmod(short_tmp, 0o755)
    os.chmod(run, 0o777)
    d = Daemon(run, "u")
    try:
        d.start(events=False, wrapper=["setpriv", "--reuid", "nobody", "--regid", "nogroup",
                                       "--clear-groups"])
        assert d.request({"command": 5, "topic_name": None})["status"] == 0
        assert os.stat(d.events[len("ipc://"):]).st_uid != 0
    finally:
        d.stop()
        if made:
            shutil.rmtree("/tmp/cortex", ignore_errors=True)


def failed_start(short_tmp, *args):
    r = subprocess.run([DISCOD_BIN, "--db", f"{short_tmp}/f.db", "--probe", "false"] + list(args),
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 1, r.stderr
    return r.stderr


def test_an_endpoint_that_cannot_be_bound_names_its_setting(short_tmp):
    ep = f"ipc://{short_tmp}/n.sock"
    err = failed_start(short_tmp, "--address", ep, "--events", "ipc:///proc/no/ev.sock")
    assert "cannot use the events endpoint ipc:///proc/no/ev.sock (set by --events)" in err
    conf = os.path.join(short_tmp, "bad.conf")
    with open(conf, "w") as f:
        f.write('server\n    events = "ipc:///proc/no/ev.sock"\n')
    err = failed_start(short_tmp, "--config", conf, "--address", ep)
    assert f"(set by server/events in {conf})" in err
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        err = failed_start(short_tmp, "--address", f"tcp://127.0.0.1:{port}", "--insecure-tcp",
                           "--events", "none")
    finally:
        taken.close()
    assert f"cannot bind tcp://127.0.0.1:{port} (set by --address)" in err
    # An events endpoint nobody chose says where it came from: an address
    # whose events path (7 bytes longer) no longer fits a unix socket path.
    long_dir = f"{short_tmp}/" + "d" * (104 - len(short_tmp) - len("//g.sock"))
    os.makedirs(long_dir)
    good = f"ipc://{long_dir}/g.sock"
    assert len(good) - len("ipc://") == 104
    err = failed_start(short_tmp, "--address", good)
    assert "beside the first ipc address (--events to choose)" in err, err


def listen_backlog(port):
    """The accept queue size of the listening tcp socket on port (ss: Send-Q)."""
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                         timeout=10).stdout
    return [int(line.split()[2]) for line in out.splitlines() if line.strip()]


def test_tcp_endpoints_queue_a_robots_bring_up(short_tmp):
    if not shutil.which("ss"):
        pytest.skip("needs ss (iproute2)")
    port, events_port = free_port(), free_port()
    d = Daemon(short_tmp)
    try:
        d.start("--insecure-tcp", "--events", f"tcp://127.0.0.1:{events_port}", events=False,
                endpoints=[d.endpoint, f"tcp://127.0.0.1:{port}"])
        with open("/proc/sys/net/core/somaxconn") as f:
            want = min(max(int(f.read()), 1024), 65535)
        assert listen_backlog(port) == [want]      # ZeroMQ's own default is 100
        assert listen_backlog(events_port) == [want]
        # 300 connections at once are all accepted and answered.
        import zmq
        ctx = zmq.Context()
        socks = []
        try:
            for _ in range(300):
                s = ctx.socket(zmq.REQ)
                s.setsockopt(zmq.LINGER, 0)
                s.setsockopt(zmq.RCVTIMEO, 5000)
                s.connect(f"tcp://127.0.0.1:{port}")
                socks.append(s)
            import msgpack
            for s in socks:
                s.send(msgpack.packb({"command": 5, "topic_name": None}))
            assert all(msgpack.unpackb(s.recv())["status"] == 0 for s in socks)
        finally:
            for s in socks:
                s.close()
            ctx.term()
    finally:
        d.stop()

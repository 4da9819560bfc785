"""Shared fixtures: a real discod binary on a private ipc endpoint and a
temporary database, and small clients that speak to it over real sockets."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import msgpack
import pytest
import zmq

sys.path.insert(0, os.path.dirname(__file__))
# The Python client from the source tree (client/python/discod).
PYTHON_CLIENT = os.path.join(os.path.dirname(__file__), "..", "..", "client", "python")
sys.path.insert(0, PYTHON_CLIENT)

DISCOD_BIN = os.environ.get("DISCOD_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "server", "discod")


def free_port():
    """A tcp port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_port_run(count):
    """A base port whose next `count` ports on 127.0.0.1 were all free a
    moment ago, below Linux's ephemeral range (32768 and up), so no client
    connection takes one of them before the daemons bind it."""
    import random
    for _ in range(200):
        base = random.randrange(20000, 32000 - count)
        socks = []
        try:
            for port in range(base + 1, base + count + 1):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError(f"no run of {count} free ports")


def pack(obj) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def topic_blob(name, address="ipc:///tmp/cortex/topics/x", message_type="Msg",
               fingerprint=1, publisher_node="node"):
    return pack({"name": name, "address": address, "message_type": message_type,
                 "fingerprint": fingerprint, "publisher_node": publisher_node})


def v2(d, **body):
    """A protocol 2 request to daemon d (the subscription and HTTP tests)."""
    body["v"] = 2
    return d.request(body)


def register(d, name, node, message_type="Points", fingerprint=7, **extra):
    """A protocol 2 REGISTER of name by node (extra: lease keys, ...)."""
    return v2(d, command=1, topic_info=topic_blob(name, message_type=message_type,
                                                   fingerprint=fingerprint,
                                                   publisher_node=node), **extra)


def subscribe(d, name, node, message_type="Points", fingerprint=7, **extra):
    """A SUBSCRIBE of node to name, expecting message_type and fingerprint."""
    return v2(d, command=18, topic_name=name, node_name=node, message_type=message_type,
              fingerprint=fingerprint, **extra)


class Daemon:
    """One discod process. start() returns once it answers PING."""

    def __init__(self, tmp_path, name="d"):
        self.dir = tmp_path
        self.endpoint = f"ipc://{tmp_path}/{name}.sock"
        self.socket_path = f"{tmp_path}/{name}.sock"
        self.db = f"{tmp_path}/{name}.db"
        self.log_path = f"{tmp_path}/{name}.log"
        self.events = f"ipc://{tmp_path}/{name}-events.sock"
        self.proc = None
        self.ctx = zmq.Context.instance()

    def start(self, *extra, wait=True, endpoints=None, probe=False, wrapper=(), events=True):
        """Most tests register made-up endpoints nobody listens on, which the
        prober would rightly remove; they run with probing off unless asked.
        events=False leaves --events out (the daemon places them itself)."""
        args = [DISCOD_BIN, "--db", self.db, "--log-level", "DEBUG"]
        if events:
            args += ["--events", self.events]
        if not probe:
            args += ["--probe", "false"]
        for ep in endpoints or [self.endpoint]:
            args += ["--address", ep]
        args += list(extra)
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(list(wrapper) + args, stdout=self.log, stderr=self.log)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout=15.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"discod exited with {self.proc.returncode}:\n{self.read_log()}")
            try:
                if self.request({"command": 5, "topic_name": None}, timeout_ms=200)["status"] == 0:
                    return
            except TimeoutError:
                pass
        raise RuntimeError("discod did not answer PING in time:\n" + self.read_log())

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def request_raw(self, body: bytes, timeout_ms=5000, endpoint=None) -> bytes:
        sock = self.ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, timeout_ms)
        sock.setsockopt(zmq.SNDTIMEO, timeout_ms)
        sock.connect(endpoint or self.endpoint)
        try:
            sock.send(body)
            return sock.recv()
        except zmq.Again:
            raise TimeoutError("no reply")
        finally:
            sock.close()

    def request(self, obj, **kw):
        return msgpack.unpackb(self.request_raw(pack(obj), **kw), raw=False)

    def stats(self):
        return self.request({"command": 9, "v": 2})["stats"]

    def events_socket(self):
        """A SUB socket on the events endpoint, subscribed to everything and
        given time to reach the publisher."""
        sub = self.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt(zmq.RCVTIMEO, 5000)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(self.events)
        time.sleep(0.3)
        return sub

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        code = self.proc.returncode if self.proc else None
        self.proc = None
        return code

    def kill9(self):
        return self.stop(signal.SIGKILL)


@pytest.fixture
def short_tmp():
    """A short directory: unix socket paths must stay under 108 bytes."""
    path = tempfile.mkdtemp(prefix="dc-")
    yield path
    if os.environ.get("DC_KEEP_TMP"):  # debugging: the daemons' logs stay
        print(f"kept {path}")
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def daemon(short_tmp):
    d = Daemon(short_tmp)
    d.start()
    yield d
    d.stop()


@pytest.fixture
def make_daemon(short_tmp):
    made = []

    def make(name="d"):
        d = Daemon(short_tmp, name)
        made.append(d)
        return d

    yield make
    for d in made:
        d.stop()


@pytest.fixture(params=["lenient", "strict"])
def legacy(request, short_tmp):
    """The endpoint of a daemon that speaks only Cortex part 1 (tests/python/
    legacy_daemon.py), lenient and strict about unknown keys."""
    endpoint = f"ipc://{short_tmp}/legacy.sock"
    args = [sys.executable, os.path.join(os.path.dirname(__file__), "legacy_daemon.py"), endpoint]
    if request.param == "strict":
        args.append("--strict")
    proc = subprocess.Popen(args)
    deadline = time.time() + 10
    while not os.path.exists(f"{short_tmp}/legacy.sock") and time.time() < deadline:
        time.sleep(0.05)
    yield endpoint
    proc.kill()
    proc.wait()

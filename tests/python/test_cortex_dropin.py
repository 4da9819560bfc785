"""discod.cortex.DiscoveryClient, the one-import drop-in for Cortex's client:
the interop cases (test_interop.py, PROTOCOL.md part 1's table) run through
the original Cortex client and through the drop-in, against discod and
against a daemon that speaks only Cortex's protocol, must give the same
answers. Then what the drop-in adds on discod: a crashed node's topics go
within the lease TTL, and waits are held by the daemon."""
import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import cortex_legacy
from cluster import wait_for
from conftest import PYTHON_CLIENT, Daemon
from discod import cortex


class Original:
    """Cortex's DiscoveryClient as shipped: bools from register/unregister
    (cortex_legacy keeps the raw responses for the byte-level tests)."""

    def __init__(self, address, timeout_ms=5000, retries=1):
        self._c = cortex_legacy.DiscoveryClient(address, timeout_ms, retries)

    def register_topic(self, info):
        return self._c.register_topic(cortex_legacy.TopicInfo(*_fields(info))).status == 0

    def unregister_topic(self, name):
        return self._c.unregister_topic(name).status == 0

    def lookup_topic(self, name):
        return self._c.lookup_topic(name)

    def list_topics(self):
        return self._c.list_topics()

    def ping(self):
        try:
            return self._c.ping()
        except Exception:
            return False

    def wait_for_topic(self, name, timeout=30.0, poll_interval=0.5):
        return self._c.wait_for_topic(name, timeout, poll_interval)

    async def wait_for_topic_async(self, name, timeout=600.0, poll_interval=0.5):
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            info = self.lookup_topic(name)
            if info:
                return info
            await asyncio.sleep(poll_interval)
        return None

    def close(self):
        self._c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _fields(info):
    return (info.name, info.address, info.message_type, info.fingerprint, info.publisher_node)


def info(name, node="cam-node", address=None, fingerprint=0xDEADBEEF):
    return cortex.TopicInfo(name, address or f"ipc:///tmp/cortex/topics/{name.strip('/')}",
                            "sensor_msgs.Image", fingerprint, node)


def _pings(endpoint):
    """One ping by a client that is closed after it: one left to the garbage
    collector after a time-out sits in a reference cycle (its exception's
    traceback), and pyzmq's Context.__del__ may then run term() before the
    socket is closed, which blocks the test forever."""
    o = Original(endpoint, 300)
    try:
        return o.ping()
    finally:
        o.close()


@pytest.fixture(params=["discod", "legacy"])
def server(request, short_tmp):
    """The endpoint of discod, or of the strict legacy daemon."""
    if request.param == "discod":
        d = Daemon(short_tmp).start()
        yield d.endpoint
        d.stop()
        return
    endpoint = f"ipc://{short_tmp}/legacy.sock"
    script = os.path.join(os.path.dirname(__file__), "legacy_daemon.py")
    proc = subprocess.Popen([sys.executable, script, endpoint, "--strict"])
    assert wait_for(lambda: _pings(endpoint), timeout=10)
    yield endpoint
    proc.kill()
    proc.wait()


@pytest.fixture(params=["original", "dropin"])
def make(request):
    made = []

    def factory(address, **kw):
        c = (Original if request.param == "original" else cortex.DiscoveryClient)(address, **kw)
        made.append(c)
        return c
    yield factory
    for c in made:
        c.close()


def test_ping(server, make, short_tmp):
    assert make(server).ping() is True
    assert make(f"ipc://{short_tmp}/nobody.sock", timeout_ms=200).ping() is False


def test_new_topic_is_inserted_and_looked_up(server, make):
    c = make(server)
    assert c.register_topic(info("/camera/image")) is True
    found = c.lookup_topic("/camera/image")
    assert _fields(found) == _fields(info("/camera/image"))
    assert c.lookup_topic("/nothing") is None


def test_same_node_reregistration_overwrites(server, make):
    c = make(server)
    assert c.register_topic(info("/cam", address="ipc:///tmp/old"))
    assert c.register_topic(info("/cam", address="ipc:///tmp/new")) is True
    assert c.lookup_topic("/cam").address == "ipc:///tmp/new"
    assert len(c.list_topics()) == 1


def test_other_node_is_refused(server, make):
    a, b = make(server), make(server)
    assert a.register_topic(info("/cam", node="a"))
    assert b.register_topic(info("/cam", node="b", address="ipc:///tmp/other")) is False
    assert b.lookup_topic("/cam").publisher_node == "a"


def test_unregister_and_missing_topics(server, make):
    c = make(server)
    assert c.register_topic(info("/cam"))
    assert c.unregister_topic("/cam") is True
    assert c.lookup_topic("/cam") is None
    assert c.unregister_topic("/cam") is False


def test_list_keeps_registration_order(server, make):
    c = make(server)
    assert c.list_topics() == []
    names = ["/z", "/a", "/m"]
    for n in names:
        assert c.register_topic(info(n))
    assert [t.name for t in c.list_topics()] == names


@pytest.mark.parametrize("name,fingerprint", [("/kamera/bild/\u00fc", 0), ("/\u76f8\u673a", 2**64 - 1)])
def test_utf8_names_and_u64_fingerprints(server, make, name, fingerprint):
    c = make(server)
    assert c.register_topic(info(name, fingerprint=fingerprint))
    found = c.lookup_topic(name)
    assert found.name == name and found.fingerprint == fingerprint


def test_wait_for_topic(server, make):
    c = make(server)
    threading.Timer(0.3, lambda: make(server).register_topic(info("/late"))).start()
    found = c.wait_for_topic("/late", timeout=5.0, poll_interval=0.1)
    assert found is not None and found.name == "/late"
    assert c.wait_for_topic("/never", timeout=0.4, poll_interval=0.1) is None


def test_wait_for_topic_async_does_not_block_the_loop(server, make):
    c = make(server)

    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.02)
                ticks += 1

        t = asyncio.ensure_future(ticker())
        loop = asyncio.get_running_loop()
        loop.call_later(0.4, lambda: make(server).register_topic(info("/async")))
        found = await c.wait_for_topic_async("/async", timeout=5.0, poll_interval=0.1)
        t.cancel()
        return found, ticks
    found, ticks = asyncio.run(main())
    assert found is not None and found.name == "/async"
    assert ticks >= 10  # the loop ran while waiting


def test_context_manager(server, make):
    with make(server) as c:
        assert c.ping()


def test_topic_info_is_cortexs():
    t = info("/x")
    assert cortex.TopicInfo.from_bytes(t.to_bytes()) == t
    assert cortex_legacy.TopicInfo.from_bytes(t.to_bytes()) == cortex_legacy.TopicInfo(*_fields(t))
    assert cortex.DEFAULT_DISCOVERY_ADDRESS == "ipc:///tmp/cortex/discovery.sock"


def test_a_crashed_nodes_topics_go_within_its_ttl(daemon):
    """Unmodified Cortex: a crashed publisher's topics wait for the prober.
    With the drop-in they hang on a lease: gone within TTL + 1 s."""
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {PYTHON_CLIENT!r})
        from discod.cortex import DiscoveryClient, TopicInfo
        c = DiscoveryClient({daemon.endpoint!r}, lease_ttl_ms=1000)
        assert c.register_topic(TopicInfo("/node/out", "ipc:///tmp/x", "M", 1, "node"))
        print("ready", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    c = cortex.DiscoveryClient(daemon.endpoint)
    time.sleep(1.5)
    assert c.lookup_topic("/node/out") is not None  # alive: its lease is renewed
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = time.monotonic()
    assert wait_for(lambda: c.lookup_topic("/node/out") is None, timeout=5, interval=0.02)
    assert time.monotonic() - killed <= 2.0
    c.close()


def test_waits_are_held_by_the_daemon(daemon):
    c = cortex.DiscoveryClient(daemon.endpoint)
    lookups = daemon.stats()["lookups"]
    threading.Timer(0.5, lambda: cortex.DiscoveryClient(daemon.endpoint).register_topic(
        info("/held"))).start()
    assert c.wait_for_topic("/held", timeout=5.0, poll_interval=0.01) is not None
    stats = daemon.stats()
    assert stats["waits"] >= 1
    assert stats["lookups"] - lookups < 5  # not polled every 10 ms
    c.close()


def test_close_revokes_the_lease(daemon):
    c = cortex.DiscoveryClient(daemon.endpoint)
    assert c.register_topic(info("/mine"))
    other = cortex.DiscoveryClient(daemon.endpoint)
    assert other.lookup_topic("/mine") is not None
    c.close()
    assert other.lookup_topic("/mine") is None
    other.close()

"""The Python client (client/python/discod) against the real daemon: every
call on both protocols (discod, and a daemon that speaks only Cortex's),
failover, restarts between calls, sessions (across a restart, and killed
with SIGKILL in a subprocess), held waits in the sync and asyncio clients,
watch across a restart, and 100 concurrent asyncio waits."""
import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import discod
import discod.aio
from cluster import wait_for
from conftest import PYTHON_CLIENT


def client(endpoint, **kw):
    kw.setdefault("timeout_ms", 2000)
    return discod.Client(endpoint, **kw)


def test_the_package_is_documented_and_typed():
    assert os.path.exists(os.path.join(PYTHON_CLIENT, "discod", "py.typed"))
    assert os.path.exists(os.path.join(PYTHON_CLIENT, "pyproject.toml"))
    for obj in (discod, discod.Client, discod.Client.register, discod.Session, discod.watch,
                discod.aio.Client, discod.aio.Session):
        assert obj.__doc__ and obj.__doc__.strip()
    assert discod.Client.lookup.__annotations__["return"] in ("Lookup", discod.Lookup)


def test_every_call_on_protocol_2(daemon):
    c = client(daemon.endpoint)
    ping = c.ping()
    assert ping.protocol == 2 and ping.epoch >= 1 and c.protocol == 2
    r = c.register("/cam", "ipc:///tmp/cam", "sensor.Image", 2**64 - 1, "camera",
                   metadata={"side": "left"}, lease_ttl_ms=60000)
    assert r.lease_id > 0 and r.lease_ttl_ms == 60000
    c.register(discod.TopicInfo("/imu", "tcp://127.0.0.1:6000", "sensor.Imu", 7, "imu"))
    found = c.lookup("/cam")
    assert found.topic == discod.TopicInfo("/cam", "ipc:///tmp/cam", "sensor.Image", 2**64 - 1,
                                           "camera", {"side": "left"})
    assert [p.lease_id for p in found.publishers] == [r.lease_id]
    with pytest.raises(discod.AlreadyExists, match="already registered by camera"):
        c.register("/cam", "ipc:///tmp/other", "sensor.Image", 1, "intruder")
    with pytest.raises(discod.NotFound, match="not found"):
        c.lookup("/none")
    assert [t.name for t in c.list()] == ["/cam", "/imu"]
    assert [t.name for t in c.list(prefix="/i")] == ["/imu"]
    assert [t.name for t in c.list(message_type="sensor.Image")] == ["/cam"]
    assert [t.name for t in c.list(publisher_node="imu")] == ["/imu"]
    assert [t.name for t in c.list(metadata={"side": "left"})] == ["/cam"]
    assert c.wait("/imu", 1000).topic.name == "/imu"
    with pytest.raises(discod.NotFound):
        c.wait("/never", 300)
    assert c.heartbeat(r.lease_id) == 60000
    node = c.register_node("arm", "the arm", ["grip", "lift"], {"room": "lab"})
    assert node.name == "arm"
    assert c.node("arm").capabilities == ["grip", "lift"]
    assert [n.name for n in c.nodes("grip")] == ["arm"] and c.nodes("fly") == []
    assert c.capabilities() == ["grip", "lift"]
    stats = c.stats()
    assert stats["topics"] == 2 and stats["nodes"] == 1
    assert c.members() == []  # standalone
    c.unregister_node("arm")
    with pytest.raises(discod.NotFound):
        c.node("arm")
    c.unregister("/imu")
    with pytest.raises(discod.NotFound):
        c.unregister("/imu")
    c.revoke(r.lease_id)
    with pytest.raises(discod.NotFound):
        c.lookup("/cam")
    with pytest.raises(discod.NotFound):
        c.heartbeat(r.lease_id)
    with pytest.raises(discod.Refused, match="lease_ttl_ms"):
        c.register("/x", "ipc:///x", lease_ttl_ms=1)
    c.close()


def test_every_call_on_a_legacy_daemon(legacy):
    c = client(legacy)
    assert c.ping().protocol == 1 and c.protocol == 1
    c.register("/cam", "ipc:///tmp/cam", "sensor.Image", 5, "camera")
    with pytest.raises(discod.AlreadyExists):
        c.register("/cam", "ipc:///tmp/x", "sensor.Image", 5, "other")
    assert c.lookup("/cam").topic.address == "ipc:///tmp/cam"
    assert len(c.lookup("/cam").publishers) == 1
    c.register("/imu", "ipc:///tmp/imu", "sensor.Imu", 1, "imu")
    assert [t.name for t in c.list(prefix="/c")] == ["/cam"]  # filtered here
    assert [t.name for t in c.list(publisher_node="imu")] == ["/imu"]
    assert c.wait("/imu", 1000).topic.name == "/imu"  # polled
    threading.Timer(0.3, lambda: discod.Client(legacy).register(
        "/late", "ipc:///late", "M", 1, "n")).start()
    assert c.wait("/late", 3000).topic.name == "/late"
    with pytest.raises(discod.NotFound):
        c.wait("/never", 300)
    for call in (lambda: c.stats(), lambda: c.nodes(), lambda: c.members(),
                 lambda: c.register("/l", "ipc:///l", lease_ttl_ms=1000),
                 lambda: c.list(metadata={"a": "b"})):
        with pytest.raises(discod.Unsupported):
            call()
    c.unregister("/cam")
    with pytest.raises(discod.NotFound):
        c.lookup("/cam")


def test_failover_across_two_endpoints(make_daemon, short_tmp):
    a, b = make_daemon("a").start(), make_daemon("b").start()
    c = discod.Client([f"ipc://{short_tmp}/dead.sock", a.endpoint, b.endpoint], timeout_ms=300,
                      retries=3)
    assert c.ping().protocol == 2 and c.endpoint == a.endpoint
    c.register("/on-a", "ipc:///x", "M", 1, "n")
    a.kill9()
    c.register("/on-b", "ipc:///y", "M", 1, "n")  # the next endpoint takes it
    assert c.endpoint == b.endpoint
    assert b.request({"command": 3, "topic_name": "/on-b"})["status"] == 0
    b.kill9()
    with pytest.raises(discod.Unreachable):
        c.ping()


def test_a_daemon_restart_between_two_calls(daemon):
    c = client(daemon.endpoint)
    c.register("/kept", "ipc:///x", "M", 1, "n")
    epoch = c.ping().epoch
    daemon.stop()
    daemon.start()
    assert c.lookup("/kept").topic.name == "/kept"  # a new socket, same client
    assert c.epoch == epoch + 1


def test_session_kept_alive_across_a_restart(daemon):
    with discod.Session(client(daemon.endpoint), ttl_ms=600) as s:
        s.register("/s/a", "ipc:///a", "M", 1, "sess")
        s.register(discod.TopicInfo("/s/b", "ipc:///b", "M", 1, "sess"))
        lease = s.lease_id
        time.sleep(1.5)  # well past the TTL: renewals keep it
        c = client(daemon.endpoint)
        assert [p.lease_id for p in c.lookup("/s/a").publishers] == [lease]
        daemon.stop()
        time.sleep(0.8)  # the lease's TTL passes while the daemon is down
        daemon.start("--lease-grace-ms", "0")
        # The session sees the new epoch (or the lost lease) and registers again.
        assert wait_for(lambda: s.reregistrations >= 1, timeout=5)
        assert wait_for(lambda: _names(c) == ["/s/a", "/s/b"], timeout=5)
        time.sleep(1.0)
        assert _names(c) == ["/s/a", "/s/b"]
        s.unregister("/s/b")
        assert _names(c) == ["/s/a"]
    assert _names(c) == []  # closing revoked the lease


def _names(c):
    return [t.name for t in c.list()]


def test_a_killed_sessions_topics_go_within_ttl(daemon):
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {PYTHON_CLIENT!r})
        import discod
        s = discod.Session(discod.Client({daemon.endpoint!r}), ttl_ms=1000)
        s.register("/crash/a", "ipc:///a", "M", 1, "crasher")
        s.register("/crash/b", "ipc:///b", "M", 1, "crasher")
        print("ready", flush=True)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    c = client(daemon.endpoint)
    time.sleep(1.5)  # alive past its TTL: the session renews
    assert _names(c) == ["/crash/a", "/crash/b"]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed = time.monotonic()
    assert wait_for(lambda: _names(c) == [], timeout=5, interval=0.02)
    assert time.monotonic() - killed <= 1.0 + 1.0  # TTL + 1 s


def test_held_wait_woken_by_a_registration(daemon):
    c = client(daemon.endpoint)
    threading.Timer(0.3, lambda: client(daemon.endpoint).register(
        "/late", "ipc:///late", "M", 1, "n")).start()
    t0 = time.monotonic()
    assert c.wait("/late", 5000).topic.name == "/late"
    assert time.monotonic() - t0 < 2.0
    assert daemon.stats()["waits"] >= 1  # held by the daemon, not polled


def test_asyncio_held_wait_and_calls(daemon):
    async def main():
        async with discod.aio.Client(daemon.endpoint, timeout_ms=2000) as c:
            assert (await c.ping()).protocol == 2
            waiting = asyncio.ensure_future(c.wait("/async", 5000))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            ticks = 0
            while ticks < 3:  # the loop keeps running while the wait is held
                await asyncio.sleep(0.01)
                ticks += 1
            r = await c.register("/async", "ipc:///a", "M", 1, "n", metadata={"k": "v"})
            found = await waiting
            assert found.topic.name == "/async" and r.lease_id == 0
            assert (await c.lookup("/async")).topic.metadata == {"k": "v"}
            assert [t.name for t in await c.list()] == ["/async"]
            await c.register_node("arm", "", ["grip"])
            assert await c.capabilities() == ["grip"]
            assert (await c.stats())["waits"] >= 1
            await c.unregister("/async")
            with pytest.raises(discod.NotFound):
                await c.lookup("/async")
            async with discod.aio.Session(c, ttl_ms=500) as s:
                await s.register("/as", "ipc:///as", "M", 1, "n")
                await asyncio.sleep(1.2)
                assert [p.lease_id for p in (await c.lookup("/as")).publishers] == [s.lease_id]
            with pytest.raises(discod.NotFound):
                await c.lookup("/as")
    asyncio.run(main())


def test_asyncio_serves_100_concurrent_waits_on_one_loop(daemon):
    async def main():
        c = discod.aio.Client(daemon.endpoint, timeout_ms=3000)
        waits = [asyncio.ensure_future(c.wait(f"/many/{i}", 10000)) for i in range(100)]
        await asyncio.sleep(0.5)
        assert daemon.stats()["waiters"] == 100
        for i in range(100):
            await c.register(f"/many/{i}", "ipc:///m", "M", 1, "n")
        found = await asyncio.wait_for(asyncio.gather(*waits), 10)
        c.close()
        return sorted(f.topic.name for f in found)
    assert asyncio.run(main()) == sorted(f"/many/{i}" for i in range(100))


def test_watch_resumes_after_a_restart_with_no_gap(daemon):
    c = client(daemon.endpoint)
    c.register("/before", "ipc:///b", "M", 1, "n")
    items = []
    w = discod.watch(discod.Client(daemon.endpoint), events=daemon.events, idle_timeout=10)

    def consume():  # a watcher is always waiting on the stream, as a program's loop is
        for item in w:
            items.append(item)
            if len(items) == 3:
                return
    reader = threading.Thread(target=consume)
    reader.start()
    assert wait_for(lambda: len(items) == 1)
    assert isinstance(items[0], discod.Snapshot)
    assert [t.name for t in items[0].topics] == ["/before"]
    c.register("/one", "ipc:///1", "M", 1, "n")
    assert wait_for(lambda: len(items) == 2)
    daemon.stop()
    daemon.start()
    time.sleep(1.0)  # the subscription reconnects (ZeroMQ retries every 0.1 s)
    c.register("/two", "ipc:///2", "M", 1, "n")
    reader.join(timeout=15)
    w.close()
    assert w.gaps == 0
    one, two = items[1:]
    assert [(e.name, e.topic.name) for e in (one, two)] == [("topic.added", "/one"),
                                                            ("topic.added", "/two")]
    assert two.seq == one.seq + 1 and two.epoch == one.epoch + 1


def test_asyncio_watch(daemon):
    async def main():
        c = discod.aio.Client(daemon.endpoint)
        seen = []
        async for item in discod.aio.watch(c, events=daemon.events, idle_timeout=3):
            if isinstance(item, discod.Snapshot):
                await c.register("/w", "ipc:///w", "M", 1, "n")
                await c.unregister("/w")
                continue
            seen.append(item.name)
            if len(seen) == 2:
                break
        return seen
    assert asyncio.run(main()) == ["topic.added", "topic.removed"]


def test_several_publishers_through_the_client(make_daemon):
    d = make_daemon("multi").start("--publishers-per-topic", "2")
    c = client(d.endpoint)
    c.register("/det", "ipc:///1", "M", 1, "cam1")
    time.sleep(0.01)
    c.register("/det", "ipc:///2", "M", 1, "cam2")
    found = c.lookup("/det")
    assert [p.topic.publisher_node for p in found.publishers] == ["cam1", "cam2"]
    assert found.topic.publisher_node == "cam2"
    with pytest.raises(discod.Refused, match="name the node"):
        c.unregister("/det")
    c.unregister("/det", node="cam1")
    assert [p.topic.publisher_node for p in c.lookup("/det").publishers] == ["cam2"]


def test_endpoints_from_the_environment(daemon, monkeypatch):
    monkeypatch.setenv("DISCOD_ENDPOINT", f"ipc:///nonexistent/x.sock,{daemon.endpoint}")
    c = discod.Client(timeout_ms=300)
    assert c.endpoints == ["ipc:///nonexistent/x.sock", daemon.endpoint]
    assert c.ping().protocol == 2
    monkeypatch.delenv("DISCOD_ENDPOINT")
    assert discod.Client().endpoints == [discod.DEFAULT_ENDPOINT]
    with pytest.raises(ValueError):
        discod.Client("udp://x")

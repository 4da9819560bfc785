"""discod.cortex.install() under Cortex's own Publisher and Subscriber
(tests/python/cortex_pkg: Cortex's modules as its reference lays them out):
the drop-in is used whether Cortex is imported before or after install(),
leases remove a SIGKILLed publisher, waits are held by the daemon, messages
flow; without install() the same code still works as a legacy client. And
register_topic takes any TopicInfo-shaped value."""
import dataclasses
import importlib
import os
import shutil
import subprocess
import sys
import textwrap
import time

import pytest

from cluster import wait_for
from conftest import PYTHON_CLIENT

HERE = os.path.dirname(os.path.abspath(__file__))
CORTEX_PKG = os.path.join(HERE, "cortex_pkg")
sys.path.insert(0, CORTEX_PKG)

import cortex.core.publisher  # noqa: E402  (Cortex imported before install())
import cortex.discovery  # noqa: E402
import cortex.discovery.client  # noqa: E402
from cortex.discovery.protocol import TopicInfo as CortexTopicInfo  # noqa: E402

from discod import cortex as dropin  # noqa: E402

ORIGINAL = cortex.discovery.client.DiscoveryClient


def child_env(tmp, **extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([CORTEX_PKG, HERE, PYTHON_CLIENT])
    env["CORTEX_TEST_IPC_DIR"] = os.path.join(tmp, "topics")
    env.update(extra)
    return env


PUBLISHER = textwrap.dedent("""
    import sys, time
    {prelude}
    from cortex.core.message import Message
    from cortex.core.publisher import Publisher, DiscoveryClient
    class Scan(Message):
        pass
    pub = Publisher("{topic}", Scan, node_name="lidar", discovery_address="{endpoint}")
    print("registered", pub.is_registered, DiscoveryClient.__module__, flush=True)
    for i in range(600):
        pub.publish(Scan(b"scan %d" % i))
        time.sleep(0.05)
""")

INSTALL_FIRST = "import discod.cortex; assert discod.cortex.install()"
INSTALL_AFTER = ("import cortex.core.publisher, cortex.discovery\n"
                 "import discod.cortex; assert discod.cortex.install()")


def start_publisher(daemon, topic, prelude, **env):
    code = PUBLISHER.format(prelude=prelude, topic=topic, endpoint=daemon.endpoint)
    proc = subprocess.Popen([sys.executable, "-c", code],
                            stdout=subprocess.PIPE, text=True,
                            env=child_env(daemon.dir, **env))
    line = proc.stdout.readline().split()
    return proc, line


def lookup(daemon, topic):
    return daemon.request({"command": 3, "topic_name": topic, "v": 2})


@pytest.mark.parametrize("prelude", [INSTALL_FIRST, INSTALL_AFTER], ids=["before", "after"])
def test_cortex_publisher_with_install_holds_a_lease_and_dies_with_sigkill(daemon, prelude):
    proc, line = start_publisher(daemon, "/scan", prelude)
    try:
        assert line[:2] == ["registered", "True"] and line[2] == "discod.cortex", line
        r = lookup(daemon, "/scan")
        assert r["status"] == 0 and r["publishers"][0]["lease_id"] > 0
        sock = os.path.join(daemon.dir, "topics", "lidar__scan.sock")
        assert os.path.exists(sock)
    finally:
        proc.kill()
        proc.wait()
    killed = time.time()
    assert os.path.exists(sock)  # left behind, as after any crash
    assert wait_for(lambda: lookup(daemon, "/scan")["status"] == 1, timeout=6)
    assert time.time() - killed < dropin.DEFAULT_LEASE_TTL_MS / 1000 + 1


def test_without_install_the_same_code_is_a_legacy_client(daemon):
    proc, line = start_publisher(daemon, "/plain", "pass")
    try:
        assert line == ["registered", "True", "cortex.discovery.client"], line
        r = lookup(daemon, "/plain")
        assert r["status"] == 0 and r["publishers"][0]["lease_id"] == 0
    finally:
        proc.kill()
        proc.wait()


SUBSCRIBER = textwrap.dedent("""
    import time
    {prelude}
    from cortex.core.message import Message
    from cortex.core.subscriber import Subscriber
    class Scan(Message):
        pass
    sub = Subscriber("/late", Scan, node_name="mapper", discovery_address="{endpoint}")
    print("waiting", flush=True)
    assert sub.connect(timeout=20)
    print("connected", time.time(), flush=True)
    got = None
    for _ in range(100):
        got = sub.receive(200)
        if got is not None:
            break
    print("received", got.data.decode() if got else None, flush=True)
    sub.close()
""")


def test_cortex_subscriber_wait_is_held_and_messages_flow(daemon):
    before = daemon.stats()
    code = SUBSCRIBER.format(prelude=INSTALL_FIRST, endpoint=daemon.endpoint)
    sub = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                           env=child_env(daemon.dir))
    try:
        assert sub.stdout.readline().strip() == "waiting"
        assert wait_for(lambda: daemon.stats()["waiters"] == before["waiters"] + 1, timeout=10)
        time.sleep(1.5)  # a polling client would send three LOOKUPs meanwhile
        pub, line = start_publisher(daemon, "/late", INSTALL_FIRST)
        try:
            assert line[:2] == ["registered", "True"]
            connected = sub.stdout.readline().split()
            assert connected[0] == "connected"
            received = sub.stdout.readline().split()
            assert received[0] == "received" and received[1] == "scan", received
        finally:
            pub.kill()
            pub.wait()
        assert sub.wait(timeout=10) == 0
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    after = daemon.stats()
    # One held WAIT, not a poll: no LOOKUP came from the subscriber.
    assert after["waits"] >= before["waits"] + 1
    assert after["lookups"] - before["lookups"] <= 1


def test_install_is_idempotent_and_uninstall_restores_the_originals():
    try:
        assert dropin.install() and dropin.install()
        assert cortex.discovery.client.DiscoveryClient is dropin.DiscoveryClient
        assert cortex.discovery.DiscoveryClient is dropin.DiscoveryClient
        assert cortex.core.publisher.DiscoveryClient is dropin.DiscoveryClient
        # A Cortex module imported after install() gets the drop-in too.
        sys.modules.pop("cortex.core.subscriber", None)
        subscriber = importlib.import_module("cortex.core.subscriber")
        assert subscriber.DiscoveryClient is dropin.DiscoveryClient
    finally:
        dropin.uninstall()
    assert not dropin.installed()
    assert cortex.discovery.client.DiscoveryClient is ORIGINAL
    assert cortex.discovery.DiscoveryClient is ORIGINAL
    assert cortex.core.publisher.DiscoveryClient is ORIGINAL
    assert subscriber.DiscoveryClient is ORIGINAL


def test_install_without_cortex_does_nothing_and_says_so(short_tmp):
    code = textwrap.dedent("""
        import logging, sys
        logging.basicConfig(level=logging.DEBUG, stream=sys.stdout)
        import discod.cortex
        assert discod.cortex.install() is False
        assert not discod.cortex.installed()
    """)
    env = dict(os.environ, PYTHONPATH=PYTHON_CLIENT)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert "Cortex is not importable" in r.stdout


@dataclasses.dataclass
class Plain:
    name: str
    address: str
    message_type: str
    fingerprint: int
    publisher_node: str


class Attributes:
    def __init__(self, **fields):
        self.__dict__.update(fields)


FIELDS = dict(name="/shape", address="ipc:///tmp/s", message_type="Shape", fingerprint=42,
              publisher_node="shaper")


@pytest.mark.parametrize("make", [lambda: CortexTopicInfo(**FIELDS), lambda: dict(FIELDS),
                                  lambda: Plain(**FIELDS), lambda: Attributes(**FIELDS),
                                  lambda: dropin.TopicInfo(**FIELDS)],
                         ids=["cortex", "dict", "dataclass", "object", "discod"])
def test_register_topic_takes_any_topic_info_shape(daemon, make):
    with dropin.DiscoveryClient(daemon.endpoint) as c:
        assert c.register_topic(make())
        found = c.lookup_topic("/shape")
        # Equal to Cortex's own TopicInfo of the same fields, either way round.
        cortex_own = CortexTopicInfo(**FIELDS)
        assert found == cortex_own and cortex_own == found
        assert found != CortexTopicInfo(**dict(FIELDS, fingerprint=43))
        assert found.to_bytes() == cortex_own.to_bytes()
        assert CortexTopicInfo.from_bytes(found.to_bytes()) == cortex_own
        assert dropin.TopicInfo.from_bytes(cortex_own.to_bytes()) == found
        assert c.unregister_topic("/shape")


@pytest.mark.parametrize("field", list(FIELDS))
def test_a_value_missing_a_field_is_a_clear_error(daemon, field):
    partial = {k: v for k, v in FIELDS.items() if k != field}
    with dropin.DiscoveryClient(daemon.endpoint) as c:
        for value in (partial, Attributes(**partial)):
            with pytest.raises(TypeError, match=f"'{field}'"):
                c.register_topic(value)
    assert daemon.stats()["registrations"] == 0


def test_a_field_of_the_wrong_kind_is_named(daemon):
    with dropin.DiscoveryClient(daemon.endpoint) as c:
        with pytest.raises(TypeError, match="fingerprint must be an int"):
            c.register_topic(dict(FIELDS, fingerprint="42"))
        with pytest.raises(ValueError, match="fingerprint"):
            c.register_topic(dict(FIELDS, fingerprint=-1))
        with pytest.raises(TypeError, match="name must be a str"):
            c.register_topic(dict(FIELDS, name=None))
        with pytest.raises(TypeError, match="None"):
            c.register_topic(None)


def test_the_start_up_hook_follows_discod_cortex(short_tmp):
    """client/python/_discod_cortex_hook.py behind deploy/python/discod-cortex.pth:
    read by site from a directory, as dist-packages is."""
    site_dir = os.path.join(short_tmp, "site")
    os.makedirs(site_dir)
    with open(os.path.join(HERE, "..", "..", "deploy", "python", "discod-cortex.pth")) as f:
        pth = f.read()
    with open(os.path.join(site_dir, "discod-cortex.pth"), "w") as f:
        f.write(pth)
    code = ("import site, sys; site.addsitedir(sys.argv[1])\n"
            "from cortex.core.subscriber import DiscoveryClient\n"
            "print(DiscoveryClient.__module__, 'discod.cortex' in sys.modules)")
    for flag, want in (("1", "discod.cortex True"), ("", "cortex.discovery.client False"),
                       ("0", "cortex.discovery.client False")):
        env = child_env(short_tmp, DISCOD_CORTEX=flag)
        r = subprocess.run([sys.executable, "-c", code, site_dir], capture_output=True,
                           text=True, env=env, timeout=30)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == want, (flag, r.stdout, r.stderr)
    # Set, but discod not importable: Cortex keeps its own client, and says so.
    env = child_env(short_tmp, DISCOD_CORTEX="1")
    hook_only = os.path.join(short_tmp, "hook-only")
    os.makedirs(hook_only)
    shutil.copy(os.path.join(PYTHON_CLIENT, "_discod_cortex_hook.py"), hook_only)
    env["PYTHONPATH"] = os.pathsep.join([CORTEX_PKG, HERE, hook_only])
    r = subprocess.run([sys.executable, "-c", code, site_dir], capture_output=True, text=True,
                       env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "cortex.discovery.client False", r.stdout
    assert "discod.cortex cannot be imported" in r.stderr
    # Set, but Cortex never imported: discod is not even loaded.
    env = child_env(short_tmp, DISCOD_CORTEX="1")
    r = subprocess.run([sys.executable, "-c", "import site, sys; site.addsitedir(sys.argv[1]);"
                        "print('discod' in sys.modules, '_discod_cortex_hook' in sys.modules)",
                        site_dir], capture_output=True, text=True, env=env, timeout=30)
    assert r.stdout.strip() == "False True", r.stderr

"""Byte-level interop with unmodified Cortex clients: every row of the
registry semantics table (PROTOCOL.md part 1), packed exactly as the Python
client packs it, plus malformed bodies answered with ERROR. Every case runs
twice: against a daemon on ipc alone, and against one that also serves tcp
with CURVE (the Cortex clients stay on ipc, unchanged)."""
import shutil
import tempfile

import msgpack
import pytest
import zmq

from conftest import Daemon, free_port, pack, topic_blob
from cortex_legacy import (DiscoveryClient, DiscoveryCommand, DiscoveryRequest,
                           DiscoveryStatus, TopicInfo)

LEGACY_REPLY_KEYS = {"status", "message", "topic_info", "topics"}


TRANSPORTS = ["ipc", "ipc+curve-tcp"]


def _start(transport, directory):
    d = Daemon(directory)
    if transport == "ipc":
        d.start()
    else:
        from test_security import Keys
        keys = Keys(directory)
        d.start("--curve-key", keys.server, "--curve-clients", keys.clients,
                endpoints=[d.endpoint, f"tcp://127.0.0.1:{free_port()}"])
    return d


@pytest.fixture(params=TRANSPORTS)
def daemon(request, short_tmp):
    d = _start(request.param, short_tmp)
    yield d
    d.stop()


@pytest.fixture(scope="module", params=TRANSPORTS)
def shared(request):
    """One daemon per transport for the parametrised cases of one row
    (dozens of bodies or values each): every case leaves it serving and its
    registry intact for the next, and it must still be running at the end."""
    directory = tempfile.mkdtemp(prefix="dc-")
    d = _start(request.param, directory)
    yield d
    assert d.proc.poll() is None, "the daemon died during the cases"
    d.stop()
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def client(daemon):
    c = DiscoveryClient(daemon.endpoint, timeout_ms=3000)
    yield c
    c.close()


@pytest.fixture
def shared_client(shared):
    c = DiscoveryClient(shared.endpoint, timeout_ms=3000)
    yield c
    c.close()


def info(name, node="cam-node", fingerprint=0xDEADBEEF, address=None):
    return TopicInfo(name=name, address=address or f"ipc:///tmp/cortex/topics/{name.strip('/')}",
                     message_type="sensor_msgs.Image", fingerprint=fingerprint,
                     publisher_node=node)


def test_ping_answers_pong(client):
    r = client.send(DiscoveryRequest(DiscoveryCommand.PING))
    assert r.status == DiscoveryStatus.OK and r.message == "pong"


def test_new_topic_is_inserted_and_looked_up(client):
    r = client.register_topic(info("/camera/image"))
    assert r.status == DiscoveryStatus.OK
    assert r.message == "Registered topic: /camera/image"
    assert client.lookup_topic("/camera/image") == info("/camera/image")


def test_same_node_reregistration_overwrites(client):
    client.register_topic(info("/cam", address="ipc:///tmp/old"))
    r = client.register_topic(info("/cam", address="ipc:///tmp/new"))
    assert r.status == DiscoveryStatus.OK
    assert client.lookup_topic("/cam").address == "ipc:///tmp/new"
    assert len(client.list_topics()) == 1


def test_other_node_gets_already_exists(client):
    client.register_topic(info("/cam", node="a"))
    r = client.register_topic(info("/cam", node="b", address="ipc:///tmp/other"))
    assert r.status == DiscoveryStatus.ALREADY_EXISTS
    assert r.message == "Topic /cam already registered by a"
    assert client.lookup_topic("/cam").publisher_node == "a"


def test_unregister_and_missing_topics(client):
    client.register_topic(info("/cam"))
    r = client.unregister_topic("/cam")
    assert r.status == DiscoveryStatus.OK and r.message == "Unregistered topic: /cam"
    assert client.lookup_topic("/cam") is None
    r = client.unregister_topic("/cam")
    assert r.status == DiscoveryStatus.NOT_FOUND and r.message == "Topic /cam not found"
    r = client.send(DiscoveryRequest(DiscoveryCommand.LOOKUP_TOPIC, topic_name="/nope"))
    assert r.status == DiscoveryStatus.NOT_FOUND and r.message == "Topic /nope not found"


def test_unregister_by_topic_info_only(daemon):
    daemon.request({"command": 1, "topic_name": None, "topic_info": topic_blob("/t")})
    r = daemon.request({"command": 2, "topic_name": None, "topic_info": topic_blob("/t")})
    assert r["status"] == 0
    assert daemon.request({"command": 3, "topic_name": "/t"})["status"] == 1


def test_missing_fields_give_error(daemon):
    r = daemon.request({"command": 1, "topic_name": None, "topic_info": None})
    assert r == {"status": 3, "message": "Missing topic_info in register request"}
    r = daemon.request({"command": 3, "topic_name": None, "topic_info": None})
    assert r == {"status": 3, "message": "Missing topic_name in lookup request"}
    r = daemon.request({"command": 2, "topic_name": None})
    assert r["status"] == 3 and "Missing topic name" in r["message"]


def test_list_empty_has_no_topics_key_and_keeps_order(daemon, client):
    r = daemon.request({"command": 4, "topic_name": None, "topic_info": None})
    assert r == {"status": 0, "message": ""}
    names = [f"/t/{i}" for i in (3, 1, 2)]
    for n in names:
        client.register_topic(info(n))
    client.register_topic(info("/t/1", address="ipc:///tmp/changed"))  # keeps its place
    assert [t.name for t in client.list_topics()] == names


def test_topic_info_blob_is_exactly_five_keys_in_python_order(daemon, client):
    client.register_topic(info("/cam"))
    raw = msgpack.unpackb(daemon.request_raw(pack({"command": 3, "topic_name": "/cam",
                                                   "topic_info": None})), raw=False)
    assert set(raw) == {"status", "message", "topic_info"}
    # The blob is byte-identical to what TopicInfo.to_bytes() packs.
    assert raw["topic_info"] == info("/cam").to_bytes()


@pytest.mark.parametrize("fingerprint", [0, 1, 127, 128, 255, 65535, 2**32, 2**63 - 1, 2**63,
                                         2**64 - 1])
def test_full_range_u64_fingerprints(shared_client, fingerprint):
    client = shared_client
    client.register_topic(info("/fp", fingerprint=fingerprint))
    assert client.lookup_topic("/fp").fingerprint == fingerprint


@pytest.mark.parametrize("name", ["/kamera/bild", "/caméra/été", "/ロボット/腕", "/🤖/arm",
                                  "/a b c", "/" + "x" * 500])
def test_utf8_names_round_trip(shared_client, name):
    client = shared_client
    assert client.register_topic(info(name, node="nœud-1")).status == DiscoveryStatus.OK
    got = client.lookup_topic(name)
    assert got.name == name and got.publisher_node == "nœud-1"
    assert name in [t.name for t in client.list_topics()]


def test_unknown_command_is_error_and_daemon_keeps_serving(daemon, client):
    r = daemon.request({"command": 42, "topic_name": None})
    assert r["status"] == 3 and r["message"] == "Unknown command: 42"
    assert client.ping()


MALFORMED = [
    b"",                                  # empty body
    b"\xc1",                              # invalid msgpack byte
    b"\x93\x01\x02\x03",                  # an array, not a map
    b"\x81\xa7command",                   # truncated
    b"\xdd\xff\xff\xff\xff",              # array claiming 4 billion elements
    b"\xdf\xff\xff\xff\xff",              # map claiming 4 billion pairs
    b"\x80\x80",                          # trailing bytes
    b"\x91" * 40 + b"\xc0",               # deep nesting
    pack({"topic_name": "/x"}),           # no command
    pack({"command": "3", "topic_name": "/x"}),          # command as str
    pack({"command": 3.0, "topic_name": "/x"}),          # command as float
    pack({"command": 3, "topic_name": b"/x"}),           # bin where str is expected
    pack({"command": 3, "topic_name": 7}),               # int where str is expected
    pack({"command": 1, "topic_info": "not bin"}),       # str where bin is expected
    pack({"command": 1, "topic_info": b"\xc1"}),         # bin that is not msgpack
    pack({"command": 1, "topic_info": pack([1, 2])}),    # blob not a map
    pack({"command": 1, "topic_info": pack({"name": "/x"})}),  # blob missing keys
    pack({"command": 1, "topic_info": topic_blob("/x", fingerprint=-1)}),   # negative
    pack({"command": 1, "topic_info": topic_blob("/x", fingerprint="1")}),  # wrong type
    pack({"command": 1, "topic_info": topic_blob("")}),  # empty name
    pack({"command": 1, "topic_info": topic_blob("/" + "x" * 600)}),  # name too long
    pack({"command": 1, "topic_info": topic_blob("/x", address="a" * 2000)}),
    b"\x82\xa7command\x03\xaatopic_name\xa3\xff\xfe\xfd",  # invalid UTF-8
    pack({1: 2, "command": 3}),                          # non-str key
]


@pytest.mark.parametrize("body", MALFORMED, ids=range(len(MALFORMED)))
def test_malformed_bodies_get_error_and_lose_nothing(shared, shared_client, body):
    daemon, client = shared, shared_client
    client.register_topic(info("/keep"))
    reply = msgpack.unpackb(daemon.request_raw(body), raw=False)
    assert reply["status"] == 3
    assert isinstance(reply["message"], str) and reply["message"]
    assert set(reply) <= LEGACY_REPLY_KEYS
    assert client.lookup_topic("/keep") == info("/keep")


def test_extra_keys_in_blob_and_request_are_ignored(daemon, client):
    blob = pack({"name": "/x", "address": "ipc:///tmp/x", "message_type": "M",
                 "fingerprint": 5, "publisher_node": "n", "colour": "blue"})
    r = daemon.request({"command": 1, "topic_name": None, "topic_info": blob, "future": [1]})
    assert r["status"] == 0
    # ...and legacy clients still get exactly the five keys back.
    assert client.lookup_topic("/x") == TopicInfo("/x", "ipc:///tmp/x", "M", 5, "n")


def test_legacy_replies_never_carry_protocol2_keys(daemon, client):
    client.register_topic(info("/a"))
    for body in ({"command": 3, "topic_name": "/a"}, {"command": 4, "topic_name": None},
                 {"command": 5}, {"command": 3, "topic_name": "/none"}):
        assert set(daemon.request(body)) <= LEGACY_REPLY_KEYS


def test_protocol2_replies_carry_version_and_epoch(daemon):
    r = daemon.request({"command": 5, "v": 2})
    assert r["v"] == 2 and r["epoch"] >= 1 and r["message"] == "pong"


def test_extra_frames_get_error(daemon):
    sock = daemon.ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 3000)
    sock.connect(daemon.endpoint)
    sock.send_multipart([pack({"command": 5}), b"extra"])
    r = msgpack.unpackb(sock.recv(), raw=False)
    sock.close()
    assert r["status"] == 3 and "one body frame" in r["message"]


def test_dealer_without_delimiter_is_dropped_and_others_served(daemon, client):
    dealer = daemon.ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(daemon.endpoint)
    dealer.send(pack({"command": 5}))          # no empty delimiter frame
    dealer.send_multipart([b"", b""])          # delimiter, then an empty body
    assert client.ping()
    r = msgpack.unpackb(dealer.recv_multipart()[-1], raw=False)
    assert r["status"] == 3
    dealer.close()
    assert daemon.stats()["dropped"] >= 1


def test_wait_for_topic_polling_works(daemon, client):
    other = DiscoveryClient(daemon.endpoint)
    other.register_topic(info("/late"))
    assert client.wait_for_topic("/late", timeout=2, poll_interval=0.05) == info("/late")
    other.close()


MALFORMED_V2 = [
    {"command": 6, "v": 2, "lease_id": "1"},
    {"command": 6, "v": 2, "lease_id": -1},
    {"command": 1, "v": 2, "topic_info": topic_blob("/x"), "lease_ttl_ms": 1.5},
    {"command": 1, "v": 2, "topic_info": topic_blob("/x"), "lease_ttl_ms": b"\x01"},
    {"command": 7, "v": 2, "topic_name": "/x", "timeout_ms": "soon"},
    {"command": 1, "v": 2, "topic_info": topic_blob("/x"), "request_id": -5},
    {"command": 4, "v": 2, "filter": "prefix"},
    {"command": 4, "v": 2, "filter": {"prefix": 3}},
    {"command": 4, "v": 2, "filter": {"metadata": {"k": 1}}},
    {"command": 1, "v": 2, "topic_info": topic_blob("/x"), "metadata": ["k", "v"]},
    {"command": 1, "v": 2, "topic_info": topic_blob("/x"), "metadata": {"k": b"v"}},
    {"command": 1, "v": 2, "topic_info": topic_blob("/x"),
     "metadata": {f"k{i}": "v" for i in range(65)}},
    {"command": 10, "v": 2, "node": "name"},
    {"command": 10, "v": 2, "node": {"name": 7}},
    {"command": 10, "v": 2, "node": {"name": "n", "capabilities": "temperature"}},
    {"command": 10, "v": 2, "node": {"name": "n", "capabilities": [1]}},
    {"command": 10, "v": 2, "node": {"name": "n", "description": ["d"]}},
    {"command": 11, "v": 2, "node_name": 3},
    {"command": 12, "v": 2, "node_name": ""},
    {"command": 13, "v": 2, "capability": ["a"]},
    {"command": 5, "v": "2"},
    {"command": 5, "v": -2},
    # Names end up as C strings: an embedded NUL is refused, not cut short.
    {"command": 10, "v": 2, "node": {"name": "ar\x00m"}},
    {"command": 1, "v": 2, "topic_info": topic_blob("/x\x00y")},
    {"command": 15, "v": 2, "member_id": 4, "member_address": "h\x00:1"},
    {"command": 15, "v": 2, "member_id": "4", "member_address": "h:1"},
]


@pytest.mark.parametrize("body", MALFORMED_V2, ids=range(len(MALFORMED_V2)))
def test_protocol2_keys_with_wrong_types_get_error(shared, shared_client, body):
    daemon, client = shared, shared_client
    client.register_topic(info("/keep"))
    r = daemon.request(body)
    assert r["status"] == 3 and r["message"]
    assert client.lookup_topic("/keep") == info("/keep")
    assert daemon.request({"command": 4, "v": 2})["status"] == 0


@pytest.mark.parametrize("command", [6, 8, 11, 12])
def test_protocol2_commands_without_their_key_get_error(shared, command):
    daemon = shared
    r = daemon.request({"command": command, "v": 2})
    assert r["status"] == 3 and "Missing" in r["message"]

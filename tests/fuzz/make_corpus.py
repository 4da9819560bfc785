#!/usr/bin/python3
"""Writes the fuzzing seed corpus (tests/fuzz/corpus/): valid requests of every
command as the Cortex client and a protocol 2 client pack them, replies as
the daemon sends them, framed messages for the envelope target, and change
records and forwarded write ops (what cluster members send each other) for
the record target.
Run it again after adding commands; the files are committed."""
import os

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))


def pack(o):
    return msgpack.packb(o, use_bin_type=True)


def topic(name="/camera/image", fp=2**64 - 1):
    return pack({"name": name, "address": "ipc:///tmp/cortex/topics/camera_image",
                 "message_type": "sensor_msgs.Image", "fingerprint": fp,
                 "publisher_node": "camera"})


requests = {
    "register": {"command": 1, "topic_name": None, "topic_info": topic()},
    "unregister": {"command": 2, "topic_name": "/camera/image", "topic_info": None},
    "lookup": {"command": 3, "topic_name": "/camera/image", "topic_info": None},
    "list": {"command": 4, "topic_name": None, "topic_info": None},
    "ping": {"command": 5, "topic_name": None, "topic_info": None},
    "shutdown": {"command": 99, "topic_name": None, "topic_info": None},
    "v2_register_lease": {"command": 1, "v": 2, "topic_info": topic(), "lease_ttl_ms": 3000,
                          "request_id": 12345, "metadata": {"visibility": "public"}},
    "v2_heartbeat": {"command": 6, "v": 2, "lease_id": 1},
    "v2_wait": {"command": 7, "v": 2, "topic_name": "/x", "timeout_ms": 100},
    "v2_revoke": {"command": 8, "v": 2, "lease_id": 1},
    "v2_stats": {"command": 9, "v": 2},
    "v2_register_node": {"command": 10, "v": 2, "lease_id": 1,
                         "node": {"name": "temp", "description": "d",
                                  "capabilities": ["temperature"], "metadata": {"k": "v"}}},
    "v2_unregister_node": {"command": 11, "v": 2, "node_name": "temp"},
    "v2_get_node": {"command": 12, "v": 2, "node_name": "temp"},
    "v2_find_nodes": {"command": 13, "v": 2, "capability": "temperature"},
    "v2_list_filter": {"command": 4, "v": 2, "filter": {"prefix": "/c", "message_type": "T",
                                                        "publisher_node": "n",
                                                        "metadata": {"visibility": "public"}}},
}
replies = {
    "pong": {"status": 0, "message": "pong"},
    "lookup": {"status": 0, "message": "", "topic_info": topic()},
    "list": {"status": 0, "message": "", "topics": [topic("/a"), topic("/b", 5)]},
    "v2": {"status": 0, "message": "", "v": 2, "epoch": 3, "lease_id": 9, "lease_ttl_ms": 3000,
           "stats": {"topics": 2}, "nodes": [{"name": "n", "topics": ["/a"]}],
           "metadata": {"k": "v"}, "reason": "expired"},
    "error": {"status": 3, "message": "Unknown command: 42"},
}


def write(kind, name, data):
    d = os.path.join(HERE, "corpus", kind)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


for name, r in requests.items():
    body = pack(r)
    write("request", name, body)
    if len(body) < 256:
        # [identity][""][body], each frame prefixed by its length.
        write("envelope", name, bytes([5]) + b"peer1" + bytes([0]) + bytes([len(body)]) + body)
for name, r in replies.items():
    write("reply", name, pack(r))


# Change records (proto/PROTOCOL.md part 4) and forwarded ops (part 3).
meta, caps = pack({"room": "lab"}), pack(["camera", "lidar"])
records = {
    "topic_put": [1, [[1, "/cam", "ipc:///tmp/cam", "Image", 2**64 - 1, "camera", 3, 1,
                       1700000000000, meta, 2]]],
    "lease_and_topic": [1, [[3, 1, 3000, 17], [1, "/t", "tcp://1.2.3.4:5", "T", 1, "n", 1, 1, 5,
                                               None], [7, 1, 99]]],
    "removes": [1, [[2, "/t", 1], [4, 1, 3], [6, "arm", 2]]],
    "node": [1, [[5, "arm", "the arm", caps, meta, 0]]],
    "epoch_request_member": [1, [[8, 4], [9, 77, 0, "Registered topic: /t", 1, 3000],
                                 [11, 2, "tcp://10.0.0.2:40000"]]],
    "snapshot": [1, [[8, 1], [3, 1, 3000, 17], [1, "/a", "ipc:///a", "T", 1, "n", 1, 1, 5, None, 1],
                     [5, "arm", "", caps, None, 1], [9, 5, 2, "x", 0, 0],
                     [11, 1, "tcp://127.0.0.1:1"], [10, 9, 1, 4, 12]]],
    "op_register": [1, 0, 2, 12, None, 3000, 0, None, None, 0,
                    [1, "/fwd", "ipc:///x", "M", 1, "n", 0, 0, 0, meta, 0], 0, 2],
    "op_unregister": [1, 1, 1, None, None, None, 0, "/fwd", None, 0, None, 0, 1],
    "op_remove_dead": [1, 6, 1, None, None, None, 0, "/fwd", "ipc:///x", 4, None, 0, 3],
    "op_member_add": [1, 7, 2, None, None, None, 0, None, "10.0.0.4:7400", 0, None, 4, 1],
    "op_node": [1, 3, 2, None, 1, None, 0, None, None, 0, [5, "arm", "d", caps, None, 0], 0, 1],
    # Record version 2: a topic removal names the registration's node; a
    # forwarded op names it as a 14th field.
    "removes_v2": [2, [[2, "/det", 1, "cam2"], [2, "/det", 3, ""], [2, "/old", 4, None]]],
    "op_unregister_node": [1, 1, 2, 5, None, None, 0, "/det", None, 0, None, 0, 1, "cam2"],
    # Owners (CURVE): a topic, a lease and a node with the writer's key; an op
    # with its sender's key and access.
    "owned": [2, [[3, 4, 3000, 17, "k" * 40], [1, "/o", "ipc:///o", "T", 1, "n", 1, 4, 5,
                                                 None, 0, "k" * 40],
                  [5, "arm", "", caps, None, 4, "k" * 40]]],
    "op_owned": [1, 0, 2, 12, None, 3000, 0, None, None, 0,
                 [1, "/o", "ipc:///x", "M", 1, "n", 0, 0, 0, None, 0], 0, 2, None, "k" * 40, 2],
    # Record version 3: subscriptions; a forwarded SUBSCRIBE and UNSUBSCRIBE.
    "subscriptions": [3, [[3, 2, 3000, 17], [12, "/scan", "LaserScan", 7, "mapper", 1, 2, 5, meta,
                                             1, ""],
                          [12, "/scan", "", 0, "viewer", 2, 0, 5, None, 0, ""],
                          [13, "/scan", 1, "viewer"]]],
    "op_subscribe": [1, 10, 2, 9, None, 3000, 0, None, None, 0,
                     [12, "/scan", "LaserScan", 7, "mapper", 0, 0, 0, None, 0, ""], 0, 1],
    "op_unsubscribe": [1, 11, 2, 10, None, None, 0, "/scan", None, 0, None, 0, 1, "mapper"],
}
for name, r in records.items():
    write("record", name, pack(r))

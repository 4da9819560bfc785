"""A daemon that speaks only Cortex part 1, written after the Cortex
DiscoveryDaemon (seeds/cortex-discovery-api-reference.txt): one REP socket, a
dict, no protocol 2 keys in replies. With --strict it rejects requests that
carry unknown keys, as a daemon rebuilding DiscoveryRequest(**d) would.

Usage: legacy_daemon.py ENDPOINT [--strict]"""
import sys

import msgpack
import zmq

OK, NOT_FOUND, ALREADY_EXISTS, ERROR = 0, 1, 2, 3
KNOWN_KEYS = {"command", "topic_name", "topic_info"}


def reply(status, message="", **extra):
    d = {"status": status, "message": message}
    d.update(extra)
    return msgpack.packb(d, use_bin_type=True)


def main():
    endpoint = sys.argv[1]
    strict = "--strict" in sys.argv
    sock = zmq.Context().socket(zmq.REP)
    sock.bind(endpoint)
    topics = {}
    while True:
        raw = sock.recv()
        try:
            req = msgpack.unpackb(raw, raw=False)
            if strict and set(req) - KNOWN_KEYS:
                raise TypeError(f"unexpected keyword argument {sorted(set(req) - KNOWN_KEYS)[0]}")
            command = req["command"]
        except Exception as e:  # noqa: BLE001 - mirrors the Cortex daemon
            sock.send(reply(ERROR, f"Failed to parse request: {e}"))
            continue
        name = req.get("topic_name")
        blob = req.get("topic_info")
        if command == 1:
            info = msgpack.unpackb(blob, raw=False)
            existing = topics.get(info["name"])
            if existing and existing[1]["publisher_node"] != info["publisher_node"]:
                sock.send(reply(ALREADY_EXISTS, f"Topic {info['name']} already registered by "
                                                f"{existing[1]['publisher_node']}"))
            else:
                topics[info["name"]] = (blob, info)
                sock.send(reply(OK, f"Registered topic: {info['name']}"))
        elif command == 2:
            if name in topics:
                del topics[name]
                sock.send(reply(OK, f"Unregistered topic: {name}"))
            else:
                sock.send(reply(NOT_FOUND, f"Topic {name} not found"))
        elif command == 3:
            if name in topics:
                sock.send(reply(OK, topic_info=topics[name][0]))
            else:
                sock.send(reply(NOT_FOUND, f"Topic {name} not found"))
        elif command == 4:
            blobs = [b for b, _ in topics.values()]
            sock.send(reply(OK, topics=blobs) if blobs else reply(OK))
        elif command == 5:
            sock.send(reply(OK, "pong"))
        elif command == 99:
            sock.send(reply(OK, "Shutting down"))
            return
        else:
            sock.send(reply(ERROR, f"Unknown command: {command}"))


if __name__ == "__main__":
    main()

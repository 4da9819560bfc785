#!/usr/bin/python3
"""The example robot's Python consumer. It speaks only the legacy Cortex
protocol (REQ socket, msgpack maps, LOOKUP polling), exactly as an unmodified
Cortex subscriber does, and follows the camera when it comes back elsewhere.
Usage: consumer_legacy.py DISCOVERY_ENDPOINT"""
import sys
import time

import msgpack
import zmq

LOOKUP = 3


def lookup(ctx, endpoint, name):
    sock = ctx.socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 2000)
    sock.setsockopt(zmq.SNDTIMEO, 2000)
    sock.connect(endpoint)
    try:
        sock.send(msgpack.packb({"command": LOOKUP, "topic_name": name, "topic_info": None},
                                use_bin_type=True))
        reply = msgpack.unpackb(sock.recv(), raw=False)
    except zmq.Again:
        return None
    finally:
        sock.close()
    if reply["status"] != 0:
        return None
    return msgpack.unpackb(reply["topic_info"], raw=False)["address"]


def main():
    endpoint = sys.argv[1]
    ctx = zmq.Context()
    sub, connected = None, None
    while True:
        if sub is None:
            address = lookup(ctx, endpoint, "/camera/image")
            if address is None:
                time.sleep(0.5)  # wait_for_topic's poll, as Cortex does it
                continue
            sub = ctx.socket(zmq.SUB)
            sub.setsockopt(zmq.SUBSCRIBE, b"")
            sub.setsockopt(zmq.RCVTIMEO, 1000)
            sub.setsockopt(zmq.LINGER, 0)
            sub.connect(address)
            connected = address
            print(f"consumer_legacy: connected to {address}", flush=True)
        try:
            print(f"consumer_legacy: {sub.recv().decode()}", flush=True)
        except zmq.Again:
            if lookup(ctx, endpoint, "/camera/image") != connected:
                sub.close()
                sub = None


if __name__ == "__main__":
    main()

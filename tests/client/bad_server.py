#!/usr/bin/python3
"""A misbehaving discovery daemon for the client robustness test.
Usage: bad_server.py ENDPOINT MODE
MODE: drop (never answers), garbage (answers bytes that are not msgpack),
late (answers correctly, 1.5 s late), nostatus (a map without status),
badstatus (status 77), multipart (two frames), huge (1 MiB of junk)."""
import sys
import time

import msgpack
import zmq

endpoint, mode = sys.argv[1], sys.argv[2]
sock = zmq.Context().socket(zmq.ROUTER)
sock.bind(endpoint)  # the test waits for the socket file to appear
while True:
    frames = sock.recv_multipart()
    envelope = frames[:-1]
    if mode == "drop":
        continue
    if mode == "garbage":
        body = [b"\xc1\xc1 not msgpack"]
    elif mode == "late":
        time.sleep(1.5)
        body = [msgpack.packb({"status": 0, "message": "pong"})]
    elif mode == "nostatus":
        body = [msgpack.packb({"message": "where is my status"})]
    elif mode == "badstatus":
        body = [msgpack.packb({"status": 77, "message": ""})]
    elif mode == "multipart":
        body = [msgpack.packb({"status": 0, "message": "a"}), b"second frame"]
    else:  # huge
        body = [b"\xdd\xff\xff\xff\xff" + b"\x00" * (1 << 20)]
    sock.send_multipart(envelope + body)

#!/usr/bin/python3
"""Soak: many clients of mixed traffic (lookups, registrations with and
without leases, heartbeats, lists, waits, bad requests) against a running
daemon for a long time, sampling the daemon's RSS, open fds and threads.
Resources must stay flat: the same fds and threads at the end as after
warm-up, and RSS within 10% (plus 4 MB) of the warm-up level.

Usage: soak.py DISCOD_BINARY [--clients 64] [--seconds 1800] [--wrapper CMD]
(CI runs it for 20 s under an AddressSanitizer build; the 30-minute run is
documented in BENCHMARKS.md.) Prints 'N passed, N failed'.

Under AddressSanitizer freed memory waits in a quarantine (256 MB by default)
before it is reused, so RSS climbs until the quarantine is full whatever the
daemon keeps alive, and how soon depends on the allocation rate. The daemon
is run with a 16 MB quarantine: RSS then follows live memory, and leaks are
still LeakSanitizer's to report at exit ('no sanitizer report')."""
import argparse
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import msgpack
import zmq


def pack(o):
    return msgpack.packb(o, use_bin_type=True)


def blob(name, node="soak"):
    return pack({"name": name, "address": "ipc:///tmp/soak/x", "message_type": "M",
                 "fingerprint": random.getrandbits(64), "publisher_node": node})


def sample(pid):
    status = open(f"/proc/{pid}/status").read()
    rss = int(next(l for l in status.splitlines() if l.startswith("VmRSS")).split()[1])
    threads = int(next(l for l in status.splitlines() if l.startswith("Threads")).split()[1])
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds, threads


def datagram_call(sock, body, errors):
    """One exchange on the datagram channel; None after a timeout."""
    sock.send(body)
    try:
        return msgpack.unpackb(sock.recv(65536), raw=False)
    except socket.timeout:
        errors.append("datagram timeout")
        return None


def client(endpoint, n, stop, errors):
    ctx = zmq.Context.instance()
    rnd = random.Random(n)
    lease = None
    dgram = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    dgram.bind("")
    dgram.connect(endpoint[len("ipc://"):] + ".hb")
    dgram.settimeout(5)
    while not stop.is_set():
        s = ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, 5000)
        s.connect(endpoint)
        try:
            for _ in range(50):
                if stop.is_set():
                    break
                k = rnd.random()
                name = f"/soak/{n}/{rnd.randrange(200)}"
                if k < 0.5:
                    body = {"command": 3, "topic_name": name}
                elif k < 0.65:
                    body = {"command": 1, "topic_info": blob(name, f"c{n}")}
                elif k < 0.7:
                    body = {"command": 2, "topic_name": name}
                elif k < 0.78:
                    body = {"command": 1, "v": 2, "topic_info": blob(name + "/l", f"c{n}"),
                            "lease_ttl_ms": 2000} if lease is None else \
                           {"command": 6, "v": 2, "lease_id": lease}
                elif k < 0.8:
                    body = {"command": 4, "v": 2, "filter": {"prefix": f"/soak/{n}/1"}}
                elif k < 0.82:
                    body = {"command": 7, "v": 2, "topic_name": name, "timeout_ms": 50}
                elif k < 0.84:
                    body = {"command": 10, "v": 2, "node": {"name": f"node{n}",
                                                            "capabilities": ["soak"]}}
                elif k < 0.86:
                    body = {"command": 13, "v": 2, "capability": "soak"}
                elif k < 0.88:
                    s.send(b"\xdd\xff\xff\xff\xff")  # a lie about its size
                    s.recv()
                    continue
                elif k < 0.92:
                    # The datagram channel: heartbeats, and now and then junk.
                    if lease is not None and k < 0.91:
                        r = datagram_call(dgram, pack({"command": 6, "v": 2, "lease_id": lease}),
                                          errors)
                        if r is not None and r["status"] == 1:
                            lease = None
                    else:
                        r = datagram_call(dgram, b"\xc1" + bytes(rnd.randrange(2000)), errors)
                        if r is not None and r["status"] != 3:
                            errors.append("junk datagram not refused")
                    continue
                else:
                    body = {"command": 9, "v": 2}
                s.send(pack(body))
                r = msgpack.unpackb(s.recv(), raw=False)
                if body["command"] == 1 and "lease_id" in r:
                    lease = r["lease_id"]
                if body["command"] == 6 and r["status"] == 1:
                    lease = None
        except zmq.Again:
            errors.append("timeout")
        finally:
            s.close()
    dgram.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("binary")
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--seconds", type=float, default=1800)
    p.add_argument("--wrapper", default="")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="dc-soak-") as work:
        endpoint = f"ipc://{work}/d.sock"
        log = open(f"{work}/discod.log", "w")
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = ":".join(
            filter(None, [env.get("ASAN_OPTIONS", ""), "quarantine_size_mb=16"]))
        proc = subprocess.Popen(shlex.split(args.wrapper) + [
            args.binary, "--address", endpoint, "--db", f"{work}/r.db", "--events",
            f"ipc://{work}/e.sock", "--probe", "false", "--log-level", "WARNING"],
            stderr=log, env=env)
        time.sleep(2 if args.wrapper else 0.5)
        stop = threading.Event()
        errors = []
        threads = [threading.Thread(target=client, args=(endpoint, n, stop, errors))
                   for n in range(args.clients)]
        for t in threads:
            t.start()
        samples = []
        t0 = time.time()
        while time.time() - t0 < args.seconds:
            time.sleep(min(10, args.seconds / 10))
            samples.append(sample(proc.pid))
            print(f"{time.time() - t0:7.0f}s rss {samples[-1][0] / 1024:.1f} MB, fds "
                  f"{samples[-1][1]}, threads {samples[-1][2]}", flush=True)
        stop.set()
        for t in threads:
            t.join()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        log.close()
        text = open(f"{work}/discod.log").read()
    warm = samples[max(0, len(samples) // 4 - 1)]
    end = samples[-1]
    checks = {
        "daemon exited cleanly": code == 0,
        "no sanitizer report": "Sanitizer" not in text,
        "no client timeouts": not errors,
        "fds flat": end[1] <= warm[1] + 2,
        "threads flat": end[2] == warm[2],
        "rss flat": end[0] <= warm[0] * 1.10 + 4096,
    }
    for name, ok in checks.items():
        print(f"{'ok' if ok else 'FAILED'}: {name}")
    if "Sanitizer" in text:
        print(text[text.index("Sanitizer") - 200:][:3000])
    failed = sum(not ok for ok in checks.values())
    print(f"{len(checks) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

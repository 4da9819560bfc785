#!/usr/bin/python3
"""Crash consistency: kill the daemon with SIGKILL at random moments during
mixed writes, and at the failpoints (before commit, after commit before the
reply, during a WAL checkpoint); after every restart, every acknowledged
registration must be there, every acknowledged unregistration must hold, and
PRAGMA integrity_check must say ok.

Usage: crash_loop.py DISCOD_BINARY [--cycles N]   (needs a build with failpoints)
Prints 'N passed, N failed'; exits non-zero on any failure."""
import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time

import msgpack
import zmq


def pack(o):
    return msgpack.packb(o, use_bin_type=True)


def blob(name):
    return pack({"name": name, "address": "ipc:///tmp/crash/" + name.replace("/", "_"),
                 "message_type": "M", "fingerprint": 1, "publisher_node": "w"})


class Cycle:
    def __init__(self, binary, work, n):
        self.binary, self.work, self.n = binary, work, n
        self.endpoint = f"ipc://{work}/d.sock"
        self.db = f"{work}/registry.db"
        self.ctx = zmq.Context.instance()
        self.lock = threading.Lock()
        self.present, self.absent = set(), set()

    def start(self, failpoint=None):
        env = dict(os.environ)
        env.pop("DISCOD_FAILPOINT", None)
        env["DISCOD_CHECKPOINT_PAGES"] = "64"  # checkpoints every few dozen commits
        if failpoint:
            env["DISCOD_FAILPOINT"] = failpoint
        log = open(f"{self.work}/discod.log", "a")
        self.proc = subprocess.Popen([self.binary, "--address", self.endpoint, "--db", self.db,
                                      "--events", "none", "--probe", "false",
                                      "--log-level", "WARNING"], stderr=log, env=env)
        for _ in range(200):
            if self.request({"command": 5}, 100) is not None:
                return
            if self.proc.poll() is not None:
                raise RuntimeError("daemon died at start")
        raise RuntimeError("daemon did not start")

    def request(self, body, timeout_ms=1000):
        s = self.ctx.socket(zmq.REQ)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVTIMEO, timeout_ms)
        s.connect(self.endpoint)
        try:
            s.send(pack(body))
            return msgpack.unpackb(s.recv(), raw=False)
        except zmq.Again:
            return None
        finally:
            s.close()

    def writer(self, w, stop):
        mine = []
        i = 0
        while not stop.is_set():
            if mine and i % 5 == 4:
                name = mine.pop(random.randrange(len(mine)))
                r = self.request({"command": 2, "topic_name": name}, 500)
                with self.lock:
                    # Unacknowledged, it may or may not have been applied.
                    self.present.discard(name)
                    if r and r["status"] == 0:
                        self.absent.add(name)
            else:
                name = f"/c{self.n}/w{w}/{i}"
                r = self.request({"command": 1, "topic_info": blob(name)}, 500)
                if r and r["status"] == 0:
                    mine.append(name)
                    with self.lock:
                        self.present.add(name)
            i += 1

    def run(self, mode):
        failpoint = None
        if mode != "kill":
            failpoint = f"{mode}:{random.randint(1, 40)}" if mode != "checkpoint" else "checkpoint"
        self.start(failpoint)
        stop = threading.Event()
        threads = [threading.Thread(target=self.writer, args=(w, stop)) for w in range(4)]
        for t in threads:
            t.start()
        deadline = time.time() + (random.uniform(0.2, 1.0) if mode == "kill" else 8)
        while time.time() < deadline and self.proc.poll() is None:
            time.sleep(0.01)
        self.by_failpoint = self.proc.poll() is not None
        if not self.by_failpoint:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        stop.set()
        for t in threads:
            t.join()
        # Restart and check.
        self.start()
        r = self.request({"command": 4}, 30000)
        names = {msgpack.unpackb(t, raw=False)["name"] for t in r.get("topics", [])}
        lost = self.present - names
        resurrected = self.absent & names
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=15)
        con = sqlite3.connect(self.db)
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        con.close()
        problems = []
        if lost:
            problems.append(f"{len(lost)} acknowledged registrations lost, e.g. {sorted(lost)[:3]}")
        if resurrected:
            problems.append(f"{len(resurrected)} acknowledged unregistrations undone")
        if integrity != "ok":
            problems.append(f"integrity_check: {integrity}")
        return problems, len(self.present), len(self.absent)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else int(time.time())
    random.seed(seed)
    print(f"crash loop: {args.cycles} cycles, seed {seed}", flush=True)
    modes = ["kill", "kill", "before-commit", "after-commit", "checkpoint"]
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="dc-crash-") as work:
        for n in range(args.cycles):
            mode = modes[n % len(modes)]
            cycle = Cycle(args.binary, work, n)
            problems, present, absent = cycle.run(mode)
            if problems:
                failed += 1
                print(f"cycle {n} ({mode}): FAILED: {'; '.join(problems)}", flush=True)
            else:
                passed += 1
                how = "killed itself at the failpoint" if cycle.by_failpoint else "SIGKILL"
                print(f"cycle {n} ({mode}, {how}): ok ({present} acknowledged present, "
                      f"{absent} acknowledged removed)", flush=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

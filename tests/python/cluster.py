"""A cluster of real discod processes for the tests: members on loopback
(Raft peer links on 127.0.0.1 ports), each with its own ipc endpoint, database
and Raft directory under one temporary directory."""
import os
import random
import signal
import threading
import time

import msgpack
import zmq

from conftest import Daemon, free_port, topic_blob

ROLE_LEADER = 3


class Member(Daemon):
    def __init__(self, cluster, member_id):
        super().__init__(cluster.dir, f"m{member_id}")
        self.cluster = cluster
        self.id = member_id
        self.wrapper = ()  # e.g. ("ip", "netns", "exec", NS): where the process runs

    def start(self, *extra, wait=True, **kw):
        args = ["--member-id", str(self.id), "--election-timeout-ms",
                str(self.cluster.election_ms), "--isolated", self.cluster.isolated]
        for mid, address in self.cluster.addresses.items():
            args += ["--cluster-member", f"{mid}={address}"]
        if self.cluster.insecure:
            args.append("--insecure-tcp")  # peer links on loopback or a test namespace
        kw.setdefault("probe", self.cluster.probe)
        kw.setdefault("wrapper", self.wrapper)
        return super().start(*args, *self.cluster.extra, *extra, wait=wait, **kw)

    @property
    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def cluster_stats(self, timeout_ms=1000):
        return self.request({"command": 9, "v": 2}, timeout_ms=timeout_ms)["stats"]

    def raft_dir(self):
        return self.db + ".raft"


class Cluster:
    def __init__(self, directory, size=3, election_ms=300, extra=(), probe=False, insecure=True,
                 isolated="read-only"):
        """isolated: what a member cut off does. The tests of a cluster's
        strict behaviour (every answer final) run read-only; the island tests
        ask for serve-local, discod's default."""
        self.dir = directory
        self.isolated = isolated
        self.insecure = insecure
        self.probe = probe
        self.election_ms = election_ms
        self.extra = list(extra)
        self.addresses = {i: f"127.0.0.1:{free_port()}" for i in range(1, size + 1)}
        self.members = {i: Member(self, i) for i in self.addresses}

    def start(self):
        for m in self.members.values():
            m.start(wait=False)
        for m in self.members.values():
            m.wait_ready()
        return self

    def stop(self):
        """SIGTERM to every live member at once, then waits for each: one
        at a time, each stopping leader would first hand leadership over to
        the next member to go."""
        live = self.live()
        for m in live:
            m.proc.send_signal(signal.SIGTERM)
        for m in live:
            m.proc.wait(timeout=15)
            m.proc = None

    def live(self):
        return [m for m in self.members.values() if m.alive]

    def leader(self, timeout=10.0, among=None):
        """The member the live members agree leads, once they do."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            seen = {}
            for m in among or self.live():
                try:
                    s = m.cluster_stats(timeout_ms=300)
                except TimeoutError:
                    continue
                seen[m.id] = s
            leaders = [i for i, s in seen.items() if s["role"] == ROLE_LEADER]
            if len(leaders) == 1 and all(s["leader"] == leaders[0] for s in seen.values()):
                return self.members[leaders[0]]
            time.sleep(0.05)
        raise AssertionError(f"no agreed leader within {timeout} s")

    def followers(self):
        leader = self.leader()
        return [m for m in self.live() if m is not leader]

    def listing(self, member):
        """Every topic as member holds it (name -> five-key blob, v2)."""
        r = member.request({"command": 4, "v": 2})
        return sorted(r.get("topics", []))

    def converged(self, timeout=10.0, members=None):
        """Waits until members hold the same applied index and registry."""
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                stats = [m.cluster_stats() for m in members or self.live()]
                applied = {s["applied_index"] for s in stats}
                lists = [self.listing(m) for m in members or self.live()]
                last = (applied, [len(x) for x in lists])
                if len(applied) == 1 and all(x == lists[0] for x in lists):
                    return lists[0]
            except TimeoutError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"members did not converge: {last}")


def wait_for(predicate, timeout=10.0, interval=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None


def exists_dir(path):
    return os.path.isdir(path) and bool(os.listdir(path))


def register_many(member, prefix, n, node="c"):
    """n registrations PREFIX/i sent pipelined on one DEALER, all answered OK."""
    sock = member.ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 10000)
    sock.connect(member.endpoint)
    try:
        for start in range(0, n, 500):
            end = min(n, start + 500)
            for i in range(start, end):
                sock.send_multipart([b"", msgpack.packb(
                    {"command": 1, "v": 2, "topic_info": topic_blob(f"{prefix}/{i}",
                                                                    publisher_node=node)})])
            for _ in range(start, end):
                assert msgpack.unpackb(sock.recv_multipart()[-1], raw=False)["status"] == 0
    finally:
        sock.close()


def unregister_many(member, prefix, n):
    """The n registrations PREFIX/i removed, pipelined on one DEALER, all
    answered OK."""
    sock = member.ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, 10000)
    sock.connect(member.endpoint)
    try:
        for i in range(n):
            sock.send_multipart([b"", msgpack.packb({"command": 2, "v": 2,
                                                     "topic_name": f"{prefix}/{i}"})])
        for _ in range(n):
            r = msgpack.unpackb(sock.recv_multipart()[-1], raw=False)
            assert r["status"] == 0, r
    finally:
        sock.close()


class StatsPoller(threading.Thread):
    """STATS of one member asked without pause until stopped; keeps the
    answers that say isolated and name a leader at once (an isolated member
    knows none)."""

    def __init__(self, member):
        super().__init__(daemon=True)
        self.member, self.done, self.asked, self.both = member, threading.Event(), 0, []
        self.start()

    def run(self):
        sock = self.member.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, 2000)
        sock.connect(self.member.endpoint)
        while not self.done.is_set():
            sock.send_multipart([b"", msgpack.packb({"command": 9, "v": 2})])
            try:
                stats = msgpack.unpackb(sock.recv_multipart()[-1], raw=False)["stats"]
            except zmq.Again:
                continue
            self.asked += 1
            if stats["isolated"] and stats["leader"]:
                self.both.append((time.time(), stats["leader"]))
        sock.close()


class LookupPoller(threading.Thread):
    """Lookups of names PREFIX/i on one member without pause (32 in flight on
    a DEALER) until stopped. The answers that did not find the name are kept
    in misses (a connection problem is not a miss); with present=False, the
    names are expected gone, and the answers that found one are kept
    instead."""

    def __init__(self, member, prefix, n, in_flight=32, present=True):
        super().__init__(daemon=True)
        self.member, self.prefix, self.n, self.in_flight = member, prefix, n, in_flight
        self.present = present
        self.done, self.misses, self.found = threading.Event(), [], 0
        self.start()

    def _ask(self, sock):
        name = f"{self.prefix}/{random.randrange(self.n)}"
        sock.send_multipart([b"", msgpack.packb({"command": 3, "topic_name": name, "v": 2})])

    def run(self):
        sock = None
        while not self.done.is_set():
            if sock is None:
                sock = self.member.ctx.socket(zmq.DEALER)
                sock.setsockopt(zmq.LINGER, 0)
                sock.setsockopt(zmq.RCVTIMEO, 2000)
                sock.connect(self.member.endpoint)
                for _ in range(self.in_flight):
                    self._ask(sock)
            try:
                r = msgpack.unpackb(sock.recv_multipart()[-1], raw=False)
            except zmq.Again:  # not up yet, or restarted: ask again on a new socket
                sock.close()
                sock = None
                continue
            if r["status"] == 0:
                self.found += 1
            if (r["status"] == 0) != self.present:
                self.misses.append((time.time(), r.get("status"), r.get("message")))
            self._ask(sock)
        if sock is not None:
            sock.close()

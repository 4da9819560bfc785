"""A three-member cluster of real discod processes on loopback: replication,
forwarding from followers, failover under load (kill -9 of the leader), a
legacy removal answered once when the leader dies before answering it,
leases across a leader change, events with the same seq on every member, a
wiped member rebuilt from a snapshot (and from one sent again when the first
is lost), membership changes, and peers that are
not members. DISCOD_CLUSTER_CYCLES sets the kill cycles (CI runs a few; the
issue's soak is 50)."""
import os
import re
import signal
import sqlite3
import subprocess
import threading
import time

import msgpack
import pytest
import zmq

from cluster import Cluster, LookupPoller, free_port, register_many, wait_for
from conftest import DISCOD_BIN, free_port_run, pack, topic_blob
from cortex_legacy import DiscoveryClient, DiscoveryStatus, TopicInfo

DISCOCTL = os.path.join(os.path.dirname(DISCOD_BIN), "..", "client", "discoctl")
CYCLES = int(os.environ.get("DISCOD_CLUSTER_CYCLES", "3"))


@pytest.fixture
def cluster(short_tmp):
    c = Cluster(short_tmp).start()
    yield c
    c.stop()


def register(member, name, node="n", **extra):
    body = {"command": 1, "topic_name": None, "topic_info": topic_blob(name, publisher_node=node)}
    body.update(extra)
    return member.request(body)


def lookup(member, name):
    return member.request({"command": 3, "topic_name": name})


def test_writes_on_any_member_reach_every_member(cluster):
    leader = cluster.leader()
    for m in cluster.members.values():
        r = register(m, f"/from/{m.id}", node=f"n{m.id}")
        assert r["status"] == 0, r
        # A client reads its own write on the member it talks to.
        assert lookup(m, f"/from/{m.id}")["status"] == 0
    listing = cluster.converged()
    assert len(listing) == 3
    # Protocol 2 replies say which member answered, and its term.
    for m in cluster.members.values():
        r = m.request({"command": 5, "v": 2})
        assert r["member"] == m.id and r["term"] >= 1 and r["epoch"] == 1
    stats = leader.cluster_stats()
    assert stats["member"] == leader.id and stats["commit_index"] >= stats["applied_index"] > 0


def test_the_leader_pushes_the_commit_of_a_forwarded_write(cluster):
    # A follower answers a write it forwarded once it has applied it, which
    # needs the leader's word that it is committed: the leader sends a
    # heartbeat for it at once instead of leaving it to the heartbeat
    # interval, and appends nothing to the log for it (a barrier entry did,
    # once).
    leader = cluster.leader()
    follower = cluster.followers()[0]
    before = leader.cluster_stats()["commit_pushes"]
    for i in range(3):
        assert register(leader, f"/push/leader/{i}")["status"] == 0
    assert leader.cluster_stats()["commit_pushes"] == before  # nobody waits on another member
    index = leader.cluster_stats()["commit_index"]
    for i in range(3):
        assert register(follower, f"/push/follower/{i}")["status"] == 0
        assert lookup(follower, f"/push/follower/{i}")["status"] == 0
    pushed = leader.cluster_stats()["commit_pushes"] - before
    assert 1 <= pushed <= 3
    assert leader.cluster_stats()["commit_index"] == index + 3  # one entry a write, no more
    assert all(m.cluster_stats()["commit_pushes"] == 0 for m in cluster.followers())
    assert len(cluster.converged()) >= 6


def forwarding(member):
    stats = member.cluster_stats()
    return stats["forwarded"], stats["forward_messages"]


def test_a_follower_forwards_what_it_holds_in_one_message(cluster):
    # 400 registrations pipelined through a follower: what one turn of its
    # loop holds goes to the leader in one "G" message (the leader answered
    # its "H"), and the answers of one entry come back in one "A".
    follower = cluster.followers()[0]
    # The first write connects it to the leader and asks "H"; until the
    # answer it sends an "F" an op.
    assert register(follower, "/first")["status"] == 0
    ops, messages = forwarding(follower)
    register_many(follower, "/gathered", 400)
    ops2, messages2 = forwarding(follower)
    assert ops2 - ops == 400
    assert 1 <= messages2 - messages < 400 / 2
    assert len(cluster.converged()) == 401


def member_channel(member):
    """A DEALER on member's member channel (what followers forward to)."""
    found = wait_for(lambda: re.search(r"member channel .* on (tcp://\S+)", member.read_log()))
    assert found
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(re.search(r"member channel .* on (tcp://\S+)", member.read_log()).group(1))
    return sock


def unregister_op(name, origin):
    """A forwarded UNREGISTER of name (PROTOCOL.md, "Between members")."""
    return msgpack.packb([1, 1, 1, int.from_bytes(os.urandom(6), "little"), None, None, 0, name,
                          None, 1, None, 0, origin, None, "", 4])


def answers(sock, count, timeout=5.0):
    """{id: answer} from "A" messages until count ids are answered."""
    got, messages = {}, 0
    deadline = time.time() + timeout
    while len(got) < count and sock.poll(max(1, int((deadline - time.time()) * 1000))):
        frames = sock.recv_multipart()
        assert frames[0] == b"A" and len(frames) % 2 == 1, frames
        messages += 1
        for i in range(1, len(frames), 2):
            got[int.from_bytes(frames[i], "little")] = msgpack.unpackb(frames[i + 1])
    return got, messages


def test_the_leaders_member_channel_takes_one_op_or_many(cluster):
    leader = cluster.leader()
    origin = cluster.followers()[0].id
    for name in ("/raw/a", "/raw/b"):
        assert register(leader, name)["status"] == 0
    sock = member_channel(leader)
    try:
        # As a follower before "G" did: one op a message, answered alone.
        sock.send_multipart([b"F", (1).to_bytes(8, "little"), unregister_op("/raw/a", origin)])
        got, _ = answers(sock, 1)
        assert got[1][0] == 0 and got[1][5] >= 1  # status OK, the Raft index to wait for
        # "H": the leader takes several in one message.
        sock.send_multipart([b"H"])
        assert sock.poll(5000) and sock.recv_multipart() == [b"H"]
        sock.send_multipart([b"G", (2).to_bytes(8, "little"), unregister_op("/raw/b", origin),
                             (3).to_bytes(8, "little"), unregister_op("/raw/none", origin),
                             (4).to_bytes(8, "little"), b"\xc1 not msgpack"])
        got, messages = answers(sock, 3)
        assert sorted(got) == [2, 3, 4]
        assert got[2][0] == 0 and got[3][0] == 1  # removed; not found
        assert got[4][0] == 3 and "could not read" in got[4][1]  # ERROR, the rest unharmed
        assert messages <= 2  # the unreadable one at once, the entry's answers together
        # A pair cut short: what came before it is taken, the rest dropped.
        sock.send_multipart([b"G", (5).to_bytes(8, "little"), unregister_op("/raw/c", origin),
                             b"short"])
        got, _ = answers(sock, 1)
        assert got[5][0] == 1
        assert not sock.poll(300)
    finally:
        sock.close(0)
    assert lookup(leader, "/raw/a")["status"] == 1 and lookup(leader, "/raw/b")["status"] == 1
    assert leader.alive


def test_members_that_do_not_take_several_ops_a_message(short_tmp):
    # A member of a release before "H" and "G" (the failpoint makes one):
    # leading, it never answers "H", so followers send it an "F" an op; as a
    # follower it sends "F" too, and the new leader answers each alone.
    c = Cluster(short_tmp).start()
    try:
        old = c.followers()[0]
        old.stop()
        old.start(wrapper=("env", "DISCOD_FAILPOINT=old-member-channel"))
        out = subprocess.run([DISCOCTL, "-e", old.endpoint, "member", "transfer", str(old.id)],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert wait_for(lambda: c.leader().id == old.id, timeout=10)
        new = c.followers()[0]
        ops, messages = forwarding(new)
        register_many(new, "/to-old", 200)
        assert forwarding(new) == (ops + 200, messages + 200)
        # The other way round: the old member follows a new leader.
        out = subprocess.run([DISCOCTL, "-e", new.endpoint, "member", "transfer", str(new.id)],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert wait_for(lambda: c.leader().id == new.id, timeout=10)
        ops, messages = forwarding(old)
        register_many(old, "/from-old", 200)
        assert forwarding(old) == (ops + 200, messages + 200)
        assert len(c.converged()) == 400
    finally:
        c.stop()


def test_unregister_and_owner_rule_through_a_follower(cluster):
    follower = cluster.followers()[0]
    assert register(follower, "/owned", node="a")["status"] == 0
    r = register(follower, "/owned", node="b")
    assert r["status"] == 2 and "already registered by a" in r["message"]
    assert follower.request({"command": 2, "topic_name": "/owned"})["status"] == 0
    assert lookup(follower, "/owned")["status"] == 1
    cluster.converged()


def test_request_id_answered_once_across_members(cluster):
    a, b = cluster.followers()
    body = {"command": 1, "topic_name": None, "v": 2, "request_id": 4242,
            "topic_info": topic_blob("/rid"), "lease_ttl_ms": 60000}
    first = a.request(body)
    assert first["status"] == 0 and first["lease_id"] > 0
    # The same request retried at another member: the same answer, no new lease.
    again = b.request(body)
    assert again["lease_id"] == first["lease_id"] and again["message"] == first["message"]
    assert b.cluster_stats()["leases"] == 1


def members_table(cluster):
    args = [DISCOCTL]
    for m in cluster.members.values():
        if m.alive:
            args += ["-e", m.endpoint]
    out = subprocess.run(args + ["members", "--json"], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode == 0, out.stderr
    import json
    return json.loads(out.stdout)


def test_discoctl_members_and_transfer(cluster):
    leader = cluster.leader()
    rows = members_table(cluster)
    assert sorted(r["id"] for r in rows) == [1, 2, 3]
    assert [r["id"] for r in rows if r["role"] == "leader"] == [leader.id]
    assert all(r["answered"] and r["reachable"] and r["voting"] == "voter" for r in rows)
    # discoctl stats names the role and the leader; --json keeps the number.
    follower = cluster.followers()[0]
    out = subprocess.run([DISCOCTL, "-e", follower.endpoint, "stats"], capture_output=True,
                         text=True, timeout=20)
    role = [line.split(None, 1)[1] for line in out.stdout.splitlines()
            if line.split()[0] == "role"]
    assert role == [f"follower (leader {leader.id})"], out.stdout
    out = subprocess.run([DISCOCTL, "-e", leader.endpoint, "stats", "--json"],
                         capture_output=True, text=True, timeout=20)
    import json
    stats = json.loads(out.stdout)
    assert stats["role"] == 3 and stats["role_name"] == "leader" and stats["leader"] == leader.id
    target = cluster.followers()[0]
    out = subprocess.run([DISCOCTL, "-e", target.endpoint, "member", "transfer", str(target.id)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert wait_for(lambda: cluster.leader().id == target.id, timeout=10)
    # A membership change for a member that does not exist is refused clearly.
    out = subprocess.run([DISCOCTL, "-e", target.endpoint, "member", "remove", "9"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 4 and "member" in out.stderr.lower()


def test_a_legacy_unregister_is_applied_once_across_a_leader_death(short_tmp):
    """A follower forwards a legacy UNREGISTER (no request_id); the leader
    commits it and is killed before it answers (the answer-forward failpoint).
    The follower sends it again to the next leader, which must answer what was
    done (OK), not decide it a second time (NOT_FOUND): the follower gave the
    removal a request_id of its own."""
    c = Cluster(short_tmp).start()
    try:
        assert register(c.leader(), "/once")["status"] == 0
        doomed, asker = c.followers()[:2]
        doomed.stop()
        doomed.start(wrapper=("env", "DISCOD_FAILPOINT=answer-forward"))
        assert wait_for(lambda: lookup(doomed, "/once")["status"] == 0, timeout=10)
        out = subprocess.run([DISCOCTL, "-e", doomed.endpoint, "member", "transfer",
                              str(doomed.id)], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert wait_for(lambda: c.leader().id == doomed.id, timeout=10)
        r = asker.request({"command": 2, "topic_name": "/once"}, timeout_ms=5000)
        assert wait_for(lambda: not doomed.alive, timeout=5)  # it died answering
        assert r["status"] == 0 and r["message"] == "Unregistered topic: /once", r
        assert "v" not in r  # still the legacy reply
        assert lookup(asker, "/once")["status"] == 1
        # The same removal sent anew is a new request: decided, and not found.
        r = asker.request({"command": 2, "topic_name": "/once"}, timeout_ms=5000)
        assert r["status"] == 1, r
    finally:
        c.stop()


def test_standalone_members_is_empty(make_daemon):
    d = make_daemon().start()
    r = d.request({"command": 14, "v": 2})
    assert r["status"] == 0 and r["members"] == []
    assert d.stats()["role"] == 0 and d.stats()["member"] == 0
    r = d.request({"command": 17, "v": 2, "member_id": 0})
    assert r["status"] == 3 and "cluster" in r["message"]


def test_leader_kill_reads_never_fail_and_legacy_writes_wait(cluster):
    for i in range(20):
        assert register(cluster.leader(), f"/pre/{i}")["status"] == 0
    cluster.converged()
    leader = cluster.leader()
    survivors = [m for m in cluster.live() if m is not leader]
    failures, writes, stop = [], [], threading.Event()

    def reader(m):
        ctx = zmq.Context.instance()
        while not stop.is_set():
            sock = ctx.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVTIMEO, 1000)
            sock.connect(m.endpoint)
            sock.send(pack({"command": 3, "topic_name": "/pre/7"}))
            try:
                r = msgpack.unpackb(sock.recv(), raw=False)
                if r["status"] != 0:
                    failures.append(r)
            except zmq.Again:
                failures.append("timeout")
            sock.close()

    def writer(m):
        c = DiscoveryClient(m.endpoint, timeout_ms=5000, retries=1)
        i = 0
        while not stop.is_set():
            t0 = time.time()
            r = c.register_topic(TopicInfo(f"/during/{m.id}/{i}", "ipc:///x", "M", i, "w"))
            writes.append((r.status, time.time() - t0))
            i += 1
        c.close()

    threads = [threading.Thread(target=f, args=(m,)) for m in survivors for f in (reader, writer)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    leader.kill9()
    new_leader = cluster.leader(timeout=10)
    assert new_leader is not leader
    time.sleep(1.0)
    stop.set()
    for t in threads:
        t.join(timeout=20)
    assert failures == []
    assert writes and all(status == DiscoveryStatus.OK for status, _ in writes)
    assert max(seconds for _, seconds in writes) < 5.0
    leader.start()
    cluster.converged()


def _burst_writer(member, prefix, acked, stop, legacy):
    """Registers unique names until stopped; records the acknowledged ones.
    A request lost with the killed leader times out after 2.5 s (a new
    leader is there well before): not acknowledged, so not promised."""
    ctx = zmq.Context.instance()
    i = 0
    c = DiscoveryClient(member.endpoint, timeout_ms=2500, retries=1) if legacy else None
    while not stop.is_set():
        name = f"{prefix}/{i}"
        i += 1
        try:
            if legacy:
                r = c.register_topic(TopicInfo(name, "ipc:///x", "M", i, prefix))
                if r.status == DiscoveryStatus.OK:
                    acked.append(name)
                continue
            body = pack({"command": 1, "topic_name": None, "v": 2, "request_id": hash(name) & 0xFFFFFFFF,
                         "topic_info": topic_blob(name, publisher_node=prefix)})
            sock = ctx.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVTIMEO, 2500)
            sock.connect(member.endpoint)
            sock.send(body)
            r = msgpack.unpackb(sock.recv(), raw=False)
            sock.close()
            if r["status"] == 0:
                acked.append(name)
        except (TimeoutError, zmq.Again):
            time.sleep(0.1)
    if c:
        c.close()


def test_kill9_leader_during_burst_loses_nothing(cluster):
    acked = []
    for cycle in range(CYCLES):
        stop = threading.Event()
        threads = []
        for k, m in enumerate(list(cluster.members.values()) * 3):
            if len(threads) == 8:
                break
            prefix = f"/burst/{cycle}/{k}"
            threads.append(threading.Thread(target=_burst_writer,
                                            args=(m, prefix, acked, stop, k % 2 == 0)))
        for t in threads:
            t.start()
        time.sleep(0.4)
        victim = cluster.leader()
        victim.kill9()
        time.sleep(0.6)
        victim.start()
        time.sleep(0.3)
        stop.set()
        for t in threads:
            t.join(timeout=30)
    assert len(acked) > 50
    listing = cluster.converged(timeout=20)
    names = {msgpack.unpackb(blob, raw=False)["name"] for blob in listing}
    missing = [n for n in acked if n not in names]
    assert missing == []
    # Every member holds the same registry and has published the same events.
    seqs = set()
    for m in cluster.members.values():
        s = m.cluster_stats()
        seqs.add((s["applied_index"], s["topics"]))
    assert len(seqs) == 1
    cluster.stop()
    for m in cluster.members.values():
        db = sqlite3.connect(m.db)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT count(*) FROM topics").fetchone()[0]
        db.close()
        assert rows == len(listing)


def test_heartbeating_lease_survives_leader_kill_dead_one_expires(cluster):
    leader = cluster.leader()
    follower = [m for m in cluster.live() if m is not leader][0]
    keepalive = subprocess.Popen(
        [DISCOCTL, "-e", follower.endpoint, "register", "/alive", "ipc:///x", "M", "--node",
         "keeper", "--ttl-ms", "1500"], stdout=subprocess.PIPE, text=True)
    assert "renewing" in keepalive.stdout.readline()
    dead = register(follower, "/dead", node="ghost", v=2, lease_ttl_ms=1000)
    assert dead["status"] == 0
    leader.kill9()
    t0 = time.time()
    cluster.leader(timeout=10)
    # The client that stopped heartbeating loses its topic within TTL + election.
    gone = wait_for(lambda: lookup(follower, "/dead")["status"] == 1, timeout=8)
    assert gone and time.time() - t0 < 1.0 + 2 * cluster.election_ms / 1000 + 1.5
    # The one that keeps heartbeating (to a follower) keeps it.
    for _ in range(30):
        assert lookup(follower, "/alive")["status"] == 0
        time.sleep(0.1)
    keepalive.send_signal(signal.SIGTERM)
    assert keepalive.wait(timeout=10) == 0
    assert wait_for(lambda: lookup(follower, "/alive")["status"] == 1, timeout=5)
    leader.start()


def test_events_have_the_same_seq_on_every_member(cluster):
    ctx = zmq.Context.instance()
    subs = []
    for m in cluster.members.values():
        s = ctx.socket(zmq.SUB)
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.setsockopt(zmq.RCVTIMEO, 5000)
        s.connect(m.events)
        subs.append(s)
    time.sleep(0.5)  # slow joiners
    follower = cluster.followers()[0]
    for i in range(5):
        assert register(follower, f"/ev/{i}")["status"] == 0
    assert follower.request({"command": 2, "topic_name": "/ev/0"})["status"] == 0
    streams = []
    for s in subs:
        got = []
        for _ in range(6):
            name, body = s.recv_multipart()
            e = msgpack.unpackb(body, raw=False)
            got.append((name, e["seq"], msgpack.unpackb(e["topic_info"], raw=False)["name"]))
        streams.append(got)
        s.close()
    assert streams[0] == streams[1] == streams[2]
    seqs = [seq for _, seq, _ in streams[0]]
    assert seqs == list(range(seqs[0], seqs[0] + 6))


def wipe_a_follower_behind(c, prefix, count):
    """Stops a follower, registers count topics on the leader (past several
    snapshots) and deletes the follower's database and Raft log. Returns it."""
    leader = c.leader()
    victim = [m for m in c.live() if m is not leader][0]
    victim.stop()
    for i in range(count):
        assert register(leader, f"{prefix}/{i}")["status"] == 0
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(victim.db + suffix):
            os.unlink(victim.db + suffix)
    subprocess.run(["rm", "-rf", victim.raft_dir()], check=True)
    return victim


def test_wiped_member_catches_up_from_a_snapshot(short_tmp):
    c = Cluster(short_tmp, extra=["--snapshot-threshold", "16"]).start()
    try:
        victim = wipe_a_follower_behind(c, "/snap", 120)
        victim.start()
        listing = c.converged(timeout=20)
        assert len(listing) == 120
        assert "restored a snapshot" in victim.read_log()
    finally:
        c.stop()


def test_a_follower_restoring_a_snapshot_keeps_finding_what_it_held(short_tmp):
    """A follower that comes back behind a compacted log is sent a snapshot.
    What it held before and the snapshot holds too is found at every moment
    while it restores it (a lookup polled without pause from its start)."""
    c = Cluster(short_tmp, extra=["--snapshot-threshold", "16"]).start()
    try:
        n = 10000
        leader = c.leader()
        register_many(leader, "/kept", n)
        c.converged(timeout=20)
        victim = [m for m in c.live() if m is not leader][0]
        victim.stop()
        for i in range(200):  # past several snapshots and their trailing entries
            assert register(leader, f"/later/{i}")["status"] == 0
        poller = LookupPoller(victim, "/kept", n)  # waits for the member's socket
        victim.start()
        assert wait_for(lambda: "restored a snapshot" in victim.read_log(), timeout=20)
        assert len(c.converged(timeout=20)) == n + 200
        poller.done.set()
        poller.join(timeout=10)
        assert poller.found > 100 and not poller.misses, (poller.found, poller.misses[:5])
    finally:
        c.stop()

def test_a_lost_snapshot_is_sent_again_within_seconds(short_tmp):
    """A snapshot the leader sent that never arrives (written into the link of
    a process that had just died) leaves the leader waiting for the install
    snapshot time-out before it sends anything else: libraft's default 30 s
    kept a restarted member behind for half a minute."""
    c = Cluster(short_tmp, extra=["--snapshot-threshold", "16"]).start()
    try:
        victim = wipe_a_follower_behind(c, "/lost", 60)
        started = time.time()
        victim.start(wrapper=("env", "DISCOD_FAILPOINT=drop-snapshot:1"))
        listing = c.converged(timeout=15)
        assert len(listing) == 60
        # Dropped, then caught up (from the snapshot sent again, or from
        # entries the leader still had); election_ms 300: the time-out is 3 s.
        assert "drop-snapshot: the snapshot at Raft index" in victim.read_log()
        assert time.time() - started < 12
    finally:
        c.stop()


def test_restart_serves_from_its_copy_before_a_leader_exists(short_tmp):
    c = Cluster(short_tmp).start()
    try:
        for i in range(10):
            assert register(c.leader(), f"/kept/{i}")["status"] == 0
        c.converged()
        c.stop()
        # One member alone: no quorum, no leader, but it answers from its copy.
        lone = c.members[1]
        lone.start()
        assert len(c.listing(lone)) == 10
        r = DiscoveryClient(lone.endpoint, timeout_ms=8000, retries=1).register_topic(
            TopicInfo("/nope", "ipc:///x", "M", 1, "n"))
        assert r.status == DiscoveryStatus.ERROR and "leader" in r.message
        assert lookup(lone, "/kept/3")["status"] == 0
    finally:
        c.stop()


def test_a_peer_that_is_not_a_member_is_refused(cluster, short_tmp):
    leader = cluster.leader()
    intruder_addr = f"127.0.0.1:{free_port()}"
    args = [DISCOD_BIN, "--address", f"ipc://{short_tmp}/x.sock", "--db", f"{short_tmp}/x.db",
            "--events", "none", "--member-id", "9", "--cluster-member", f"9={intruder_addr}",
            "--insecure-tcp"]
    for mid, address in cluster.addresses.items():
        args += ["--cluster-member", f"{mid}={address}"]
    intruder = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: any("not a member" in m.read_log()
                                    for m in cluster.members.values()), timeout=10)
        assert cluster.leader().id == leader.id
        assert register(leader, "/still-fine")["status"] == 0
        assert all(m.alive for m in cluster.members.values())
    finally:
        intruder.send_signal(signal.SIGTERM)
        intruder.wait(timeout=10)


def test_bad_cluster_flags_are_refused(short_tmp):
    for flags in (["--member-id", "4", "--cluster-member", "1=127.0.0.1:1"],
                  ["--cluster-member", "1=127.0.0.1"],
                  ["--member-id", "1"]):
        r = subprocess.run([DISCOD_BIN, "--db", f"{short_tmp}/b.db"] + flags,
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 2 and "discod:" in r.stderr


def test_a_member_whose_peer_port_is_taken_says_so(short_tmp):
    import socket
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        r = subprocess.run([DISCOD_BIN, "--db", f"{short_tmp}/t.db", "--address",
                            f"ipc://{short_tmp}/t.sock", "--insecure-tcp", "--member-id", "1",
                            "--cluster-member", f"1=127.0.0.1:{port}",
                            "--cluster-member", f"2=127.0.0.1:{free_port()}",
                            "--cluster-member", f"3=127.0.0.1:{free_port()}"],
                           capture_output=True, text=True, timeout=20)
    finally:
        taken.close()
    assert r.returncode == 1
    assert (f"cannot listen for the other members on 127.0.0.1:{port} (this member's address "
            f"in --cluster-member): Address already in use") in r.stderr, r.stderr


def test_ipc_endpoints_are_probed_by_the_member_they_came_in_at(short_tmp):
    c = Cluster(short_tmp, probe=True, extra=["--probe-interval-ms", "100"]).start()
    try:
        follower = c.followers()[0]
        # A lease-less registration whose ipc endpoint is gone: only the member it
        # came in at can know that (another computer has no such socket file).
        r = follower.request({"command": 1, "topic_name": None, "topic_info": topic_blob(
            "/gone", address=f"ipc://{short_tmp}/no-such.sock")})
        assert r["status"] == 0
        assert wait_for(lambda: lookup(follower, "/gone")["status"] == 1, timeout=10)
        c.converged()
        reporters = [m.id for m in c.members.values()
                     if "topic /gone: endpoint" in m.read_log()]
        assert reporters == [follower.id]
    finally:
        c.stop()


def test_example_launch_script(short_tmp):
    launch = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "examples",
                          "cluster", "launch.sh")
    env = dict(os.environ, DISCOD_BIN=DISCOD_BIN, DISCOCTL_BIN=DISCOCTL)
    base = str(free_port_run(3))  # the members' peer ports are base+1..base+3
    run = os.path.join(short_tmp, "run")
    subprocess.run([launch, "start", run, base], check=True, env=env, timeout=30)
    try:
        def leader_in_table():
            out = subprocess.run([launch, "status", run], capture_output=True, text=True,
                                 env=env, timeout=30)
            leaders = [line.split()[0] for line in out.stdout.splitlines()
                       if line.split()[3:4] == ["leader"]]
            return (leaders[0], out.stdout) if out.returncode == 0 and leaders else None
        leader, table = wait_for(leader_in_table, timeout=15, interval=0.3)
        assert table.count("voter") == 3
        subprocess.run([launch, "kill", run, leader], check=True, env=env, timeout=30)
        assert wait_for(lambda: (leader_in_table() or (leader,))[0] != leader,
                        timeout=15, interval=0.3), "no new leader after the kill"
    finally:
        subprocess.run([launch, "stop", run], env=env, timeout=30)


def test_sigterm_on_the_leader_hands_leadership_over(cluster):
    leader = cluster.leader()
    assert register(leader, "/handover")["status"] == 0
    t0 = time.time()
    assert leader.stop() == 0
    assert "leadership handed to" in leader.read_log()
    new = cluster.leader(timeout=5)
    assert new is not leader and time.time() - t0 < 5
    assert lookup(new, "/handover")["status"] == 0
    leader.start()
    cluster.converged()


def test_the_last_member_stopping_does_not_wait_for_a_hand_over(cluster):
    """The others stopped just before (as when a robot powers down): the
    leader left alone tries to hand leadership over (unless it stepped
    down first), finds no taker and stops as leader when libraft gives the
    hand-over up, saying so; it never claims to have handed it over, and
    exits cleanly."""
    leader = cluster.leader()
    for m in cluster.live():
        if m is not leader:
            assert m.stop() == 0
    assert leader.stop() == 0
    log = leader.read_log()
    assert "discod stopped" in log
    assert "leadership handed to" not in log
    if "handing leadership over first" in log:
        assert "no member took leadership over in time" in log


def test_member_add_and_remove(short_tmp):
    c = Cluster(short_tmp, size=3).start()
    try:
        for i in range(30):
            assert register(c.leader(), f"/m/{i}")["status"] == 0
        # A fourth member: listed with the others, started with --cluster-join.
        from cluster import Member
        c.addresses[4] = f"127.0.0.1:{free_port()}"
        fourth = Member(c, 4)
        c.members[4] = fourth
        fourth.start("--cluster-join")
        out = subprocess.run([DISCOCTL, "-e", c.members[1].endpoint, "member", "add", "4",
                              c.addresses[4]], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert "added as a voter" in out.stdout
        # The table is the leader's configuration: the new member is a voter
        # in it at once, even if a member is still a heartbeat behind.
        rows = members_table(c)
        assert sorted(r["id"] for r in rows) == [1, 2, 3, 4], rows
        assert all(r["voting"] == "voter" for r in rows), rows
        listing = c.converged(timeout=20)
        assert len(listing) == 30
        # Writes through the new member work like through any other.
        assert register(fourth, "/via/4")["status"] == 0
        out = subprocess.run([DISCOCTL, "-e", c.members[2].endpoint, "member", "remove", "4"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        # Still running and asked, the removed member may list itself; the
        # leader's configuration does not.
        assert fourth.alive
        rows = members_table(c)
        assert sorted(r["id"] for r in rows) == [1, 2, 3], rows
        fourth.stop()
        del c.members[4]
        assert register(c.leader(), "/after-remove")["status"] == 0
    finally:
        c.stop()


def test_watch_over_two_members_survives_one_dying(cluster):
    import json
    leader = cluster.leader()
    a, b = [m for m in cluster.live() if m is not leader]
    watch = subprocess.Popen([DISCOCTL, "-e", a.endpoint, "-e", b.endpoint, "watch", "--json",
                              "--count", "10", "--events", a.events, "--events", b.events],
                             stdout=subprocess.PIPE, text=True)
    time.sleep(1.0)  # listed and subscribed
    for i in range(5):
        assert register(leader, f"/w/{i}")["status"] == 0
    time.sleep(0.5)
    a.kill9()
    for i in range(5, 10):
        assert register(leader, f"/w/{i}")["status"] == 0
    out, _ = watch.communicate(timeout=20)
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{\"seq\"")]
    assert not any("gap" in line for line in out.splitlines())
    seqs = [e["seq"] for e in events]
    assert len(seqs) == 10 and seqs == list(range(seqs[0], seqs[0] + 10))
    a.start()


def test_a_copy_ahead_of_the_log_is_discarded(short_tmp):
    c = Cluster(short_tmp).start()
    try:
        for i in range(15):
            assert register(c.leader(), f"/copy/{i}")["status"] == 0
        c.converged()
        victim = c.followers()[0]
        victim.stop()
        # The Raft log is lost, the SQLite copy kept: the copy says index N,
        # the log holds nothing. The log wins; the member catches up.
        subprocess.run(["rm", "-rf", victim.raft_dir()], check=True)
        victim.start()
        assert len(c.converged(timeout=20)) == 15
        assert "the log wins" in victim.read_log()
    finally:
        c.stop()


def test_prefer_local_tries_this_computers_member_first(short_tmp):
    c = Cluster(short_tmp).start()
    try:
        first = c.members[1]
        first.stop()
        tcp = f"tcp://127.0.0.1:{free_port()}"
        first.start(endpoints=[first.endpoint, tcp])
        local = c.members[2]

        def answered_by(*flags):
            out = subprocess.run([DISCOCTL, *flags, "-e", tcp, "-e", local.endpoint, "ping"],
                                 capture_output=True, text=True, timeout=20)
            assert out.returncode == 0, out.stderr
            return int(out.stdout.split("member ")[1].split(",")[0])

        # The order given: the tcp endpoint (member 1). Preferring the local
        # member: the ipc endpoint (member 2) comes first.
        assert answered_by() == 1
        assert answered_by("--prefer-local") == 2
    finally:
        c.stop()

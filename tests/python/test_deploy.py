"""Running under systemd and sharing the robot: the notify protocol
(READY=1, WATCHDOG=1, STOPPING=1) spoken to a real notify socket, and the ipc
socket's mode and group keeping out processes outside the group."""
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import Daemon


def test_notify_ready_watchdog_stopping(make_daemon, short_tmp):
    path = os.path.join(short_tmp, "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(5)
    os.environ["NOTIFY_SOCKET"] = path
    os.environ["WATCHDOG_USEC"] = "600000"
    try:
        d = make_daemon()
        d.start(wait=False)
        first = listener.recv(4096).decode()
    finally:
        for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC"):
            os.environ.pop(k, None)
    assert first.startswith("READY=1") and "STATUS=serving 0 topic(s)" in first
    # Ready means bound: a request is answered at once.
    assert d.request({"command": 5})["status"] == 0
    watchdogs = 0
    t0 = time.time()
    while time.time() - t0 < 1.5:
        if listener.recv(4096) == b"WATCHDOG=1":
            watchdogs += 1
    assert watchdogs >= 3  # every 200 ms for a 600 ms watchdog
    d.stop()
    seen = []
    listener.settimeout(1)
    try:
        while True:
            seen.append(listener.recv(4096))
    except socket.timeout:
        pass
    assert b"STOPPING=1" in seen
    listener.close()


CLIENT = r"""
import sys, zmq, msgpack
s = zmq.Context().socket(zmq.REQ)
s.setsockopt(zmq.LINGER, 0)
s.setsockopt(zmq.RCVTIMEO, 1500)
s.connect(sys.argv[1])
s.send(msgpack.packb({"command": 5}))
try:
    print(msgpack.unpackb(s.recv())["message"])
except zmq.Again:
    print("refused")
"""


def run_as(uid, gid, endpoint):
    out = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
                          sys.executable, "-c", CLIENT, endpoint],
                         capture_output=True, text=True, timeout=20)
    return out.stdout.strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as other users")
def test_ipc_socket_mode_and_group_keep_non_members_out(make_daemon, short_tmp):
    os.chmod(short_tmp, 0o755)
    d = make_daemon()
    d.start("--ipc-mode", "0660", "--ipc-group", "nogroup")
    st = os.stat(d.socket_path)
    assert oct(st.st_mode & 0o777) == "0o660"
    assert st.st_gid == 65534
    # nobody in group nogroup may talk to the daemon; nobody in another group may not.
    assert run_as(65534, 65534, d.endpoint) == "pong"
    assert run_as(65534, 1, d.endpoint) == "refused"
    # So is the datagram channel beside it.
    hb = os.stat(d.socket_path + ".hb")
    assert oct(hb.st_mode & 0o777) == "0o660" and hb.st_gid == 65534
    # The events socket is protected the same way.
    ev = os.stat(d.events[len("ipc://"):])
    assert oct(ev.st_mode & 0o777) == "0o660" and ev.st_gid == 65534


def test_unknown_ipc_group_is_refused_when_named(make_daemon):
    d = make_daemon()
    d.start("--ipc-group", "no-such-group-here", wait=False)
    assert d.proc.wait(timeout=10) == 1
    assert "group no-such-group-here does not exist" in d.read_log()

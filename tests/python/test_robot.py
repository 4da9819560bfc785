"""The example robot (deploy/examples/robot) end to end: started in any order
by its launch script; the camera is killed with -9 and restarted elsewhere;
both consumers (C, and Python on the legacy protocol) find it again with no
human action."""
import os
import re
import signal
import subprocess
import time

from conftest import DISCOD_BIN

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
LAUNCH = os.path.join(ROOT, "deploy", "examples", "robot", "launch.sh")
BUILD = os.environ.get("DISCOD_BUILD_DIR") or os.path.join(ROOT, "build")
BIN = os.path.join(BUILD, "deploy", "examples", "robot")


def frames_from(path, pid):
    """Frames from camera pid in a consumer's log (0 until the consumer, started
    in the background, has opened it)."""
    try:
        with open(path) as f:
            return len(re.findall(rf"frame \d+ from {pid}\b", f.read()))
    except FileNotFoundError:
        return 0


def wait_for(predicate, limit):
    deadline = time.time() + limit
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_robot_survives_a_camera_crash(short_tmp):
    env = dict(os.environ, DISCOD_BIN=DISCOD_BIN)
    run = os.path.join(short_tmp, "robot")
    subprocess.run([LAUNCH, "start", run, BIN], check=True, env=env, timeout=30)
    try:
        pid1 = int(open(os.path.join(run, "camera.pid")).read())
        logs = [os.path.join(run, "consumer.log"), os.path.join(run, "consumer_legacy.log")]
        assert wait_for(lambda: all(frames_from(l, pid1) >= 5 for l in logs), 20), \
            [open(l).read()[-500:] for l in logs]
        os.kill(pid1, signal.SIGKILL)
        subprocess.run([LAUNCH, "restart-camera", run, BIN], check=True, env=env, timeout=30)
        pid2 = int(open(os.path.join(run, "camera.pid")).read())
        assert pid2 != pid1
        assert wait_for(lambda: all(frames_from(l, pid2) >= 5 for l in logs), 20), \
            [open(l).read()[-500:] for l in logs]
        for log in logs:
            assert f"camera-{pid2}.sock" in open(log).read()
    finally:
        subprocess.run([LAUNCH, "stop", run], env=env, timeout=30)

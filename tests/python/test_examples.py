"""The C examples in client/examples, run end to end against the real daemon:
the subscriber starts first and waits; the publisher binds, registers and
publishes; the subscriber finds it and receives."""
import os
import subprocess

BUILD = os.environ.get("DISCOD_BUILD_DIR") or os.path.join(os.path.dirname(__file__), "..", "..",
                                                           "build")
EXAMPLES = os.path.join(BUILD, "client", "examples")


def test_subscriber_waits_then_receives_from_publisher(daemon, short_tmp):
    sub = subprocess.Popen([os.path.join(EXAMPLES, "subscriber"), daemon.endpoint, "/example/text",
                            "5", "15000"], stdout=subprocess.PIPE, text=True)
    pub = subprocess.Popen([os.path.join(EXAMPLES, "publisher"), daemon.endpoint, "/example/text",
                            f"ipc://{short_tmp}/example.sock", "400"], stdout=subprocess.PIPE,
                           text=True)
    out, _ = sub.communicate(timeout=30)
    assert sub.returncode == 0, out
    assert f"is at ipc://{short_tmp}/example.sock (node example-publisher)" in out
    assert out.count("subscriber: hello") == 5
    pub.terminate()
    pub.communicate(timeout=15)
    assert pub.returncode == 0
    # The publisher unregistered on its way out.
    assert daemon.request({"command": 3, "topic_name": "/example/text"})["status"] == 1

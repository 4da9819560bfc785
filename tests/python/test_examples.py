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


def test_sssn_service_discovery_scenario(daemon, short_tmp):
    feed = f"ipc://{short_tmp}/temperature-feed.sock"
    service = subprocess.Popen([os.path.join(EXAMPLES, "sssn_service"), daemon.endpoint, feed,
                                "1200"], stdout=subprocess.PIPE, text=True)
    assert "registered with discovery" in service.stdout.readline()
    # Something private, to be sure the consumer filters.
    daemon.request({"command": 1, "v": 2, "metadata": {"visibility": "private"},
                    "topic_info": __import__("conftest").topic_blob("/secret-temperature")})
    consumer = subprocess.run([os.path.join(EXAMPLES, "sssn_consumer"), daemon.endpoint, "3"],
                              capture_output=True, text=True, timeout=30)
    assert consumer.returncode == 0, consumer.stdout + consumer.stderr
    assert "1 public feed(s), 1 temperature node(s)" in consumer.stdout
    assert f"connected to 'temperature-feed' at {feed}" in consumer.stdout
    assert consumer.stdout.count("reading {\"celsius\": 22.4") == 3
    # The service stops heartbeating (frozen, then killed): gone from both queries.
    service.send_signal(__import__("signal").SIGSTOP)
    import time
    time.sleep(1.2 + 1.0)
    after = subprocess.run([os.path.join(EXAMPLES, "sssn_consumer"), daemon.endpoint, "3"],
                           capture_output=True, text=True, timeout=30)
    assert after.returncode == 1
    assert "0 public feed(s), 0 temperature node(s)" in after.stdout
    service.kill()
    service.wait()


def test_python_cortex_node_example(daemon, short_tmp):
    """client/python/examples/cortex_node.py: Cortex code with one import changed."""
    from conftest import PYTHON_CLIENT
    script = os.path.join(PYTHON_CLIENT, "examples", "cortex_node.py")
    env = dict(os.environ, PYTHONPATH=PYTHON_CLIENT)
    sub = subprocess.Popen(["/usr/bin/python3", script, "sub", daemon.endpoint, "/py/text", "3"],
                           stdout=subprocess.PIPE, text=True, env=env)
    pub = subprocess.Popen(["/usr/bin/python3", script, "pub", daemon.endpoint, "/py/text",
                            f"ipc://{short_tmp}/py.sock", "3"], env=env)
    out, _ = sub.communicate(timeout=30)
    assert sub.returncode == 0, out
    assert f"/py/text is at ipc://{short_tmp}/py.sock (node py-publisher)" in out
    assert out.count("subscriber: hello") == 3
    pub.communicate(timeout=30)
    assert pub.returncode == 0
    assert daemon.request({"command": 3, "topic_name": "/py/text"})["status"] == 1

"""The HTTP listener on a real daemon: /metrics scraped by a real Prometheus
(Debian's, started once for this file on loopback) and checked by promtool,
/healthz and /readyz, the JSON API next to discoctl --json, the event stream
as Server-Sent Events, the token and the address rules, bad input (garbage,
huge headers and URLs, many idle connections, a slow reader) with lookups
still answered and memory bounded, and the dashboard in a real headless
Chromium (started once for this file): the graph's nodes, topics and edges,
the mismatch marked, a registration made afterwards shown without a reload,
and a screenshot saved (DISCOD_ARTIFACTS, else the build directory)."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pytest

from cluster import wait_for
from conftest import DISCOD_BIN, Daemon, free_port, register, subscribe, v2

BUILD = os.path.join(os.path.dirname(DISCOD_BIN), "..")
DISCOCTL = os.path.join(BUILD, "client", "discoctl")
ARTIFACTS = os.environ.get("DISCOD_ARTIFACTS") or os.path.join(BUILD, "test-artifacts")


def get(port, path, headers=None, timeout=10):
    """(status, body text, headers) of GET http://127.0.0.1:port/path."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), dict(e.headers)


def answers(port, path="/healthz"):
    """The status of path, or None when the connection was refused or reset."""
    try:
        return get(port, path, timeout=5)[0]
    except OSError:
        return None


def ctl_json(d, *args):
    p = subprocess.run([DISCOCTL, "-e", d.endpoint, *args, "--json"], capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture
def web(short_tmp):
    """A daemon with its HTTP listener on a free loopback port."""
    d = Daemon(short_tmp)
    d.port = free_port()
    d.start("--http", f"127.0.0.1:{d.port}")
    yield d
    d.stop()


def test_health_and_readiness(web):
    assert get(web.port, "/healthz")[:2] == (200, "alive\n")
    status, body, _ = get(web.port, "/readyz")
    assert status == 200 and body.startswith("ready: standalone")
    assert get(web.port, "/nowhere")[0] == 404


def test_the_json_api_says_what_discoctl_says(web):
    register(web, "/lidar", "lidar_node")
    register(web, "/odom", "base", "Odometry", 1, lease_ttl_ms=5000)
    subscribe(web, "/lidar", "viewer", "Scan", 0)
    v2(web, command=10, node={"name": "base", "description": "the base",
                              "capabilities": ["drive"]})
    status, body, headers = get(web.port, "/api/v1/topics")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert json.loads(body) == ctl_json(web, "list")
    assert json.loads(get(web.port, "/api/v1/topics?prefix=/od")[1]) == \
        ctl_json(web, "list", "--prefix", "/od")
    assert json.loads(get(web.port, "/api/v1/nodes")[1]) == ctl_json(web, "nodes")

    def steady(g):  # the lease's time left moves between two reads
        for x in g["publishers"] + g["subscriptions"]:
            x.pop("lease_remaining_ms")
        return g
    assert steady(json.loads(get(web.port, "/api/v1/graph")[1])) == \
        steady(ctl_json(web, "graph"))
    one = json.loads(get(web.port, "/api/v1/graph?topic=/lidar")[1])
    assert {p["topic"] for p in one["publishers"]} == {"/lidar"}
    assert one["mismatches"][0]["subscriber"]["node"] == "viewer"
    stats = json.loads(get(web.port, "/api/v1/stats")[1])
    ours = ctl_json(web, "stats")
    assert set(stats) >= set(ours) - {"uptime_ms"} and stats["role_name"] == "standalone"
    assert stats["topics"] == 2 and stats["subscriptions"] == 1 and stats["mismatches"] == 1
    assert json.loads(get(web.port, "/api/v1/members")[1]) == {"member": 0, "members": []}


def test_the_event_stream(web):
    s = socket.create_connection(("127.0.0.1", web.port), timeout=10)
    s.sendall(b"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
    got = b""
    while b"discod events" not in got:
        got += s.recv(4096)
    assert b"200 OK" in got and b"text/event-stream" in got
    register(web, "/late", "cam")
    subscribe(web, "/late", "viewer", "Image", 0)
    deadline = time.time() + 10
    while got.count(b"\ndata: ") < 2 and time.time() < deadline:
        got += s.recv(4096)
    s.close()
    text = got.decode()
    assert "event: topic.added\n" in text and "event: subscription.added\n" in text
    added = [line for line in text.splitlines() if line.startswith("data: ")][0]
    event = json.loads(added[len("data: "):])
    assert event["topic_info"]["name"] == "/late" and event["publisher_node"] == "cam"
    ids = [int(line[4:]) for line in text.splitlines() if line.startswith("id: ")]
    assert ids == [ids[0], ids[0] + 1]
    sub = json.loads([line for line in text.splitlines() if line.startswith("data: ")][1][6:])
    assert sub["mismatch"][0]["publisher"]["node"] == "cam"


def test_only_get_and_head(web):
    req = urllib.request.Request(f"http://127.0.0.1:{web.port}/metrics", data=b"x=1",
                                 method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=5)
    assert e.value.code == 405
    req = urllib.request.Request(f"http://127.0.0.1:{web.port}/healthz", method="HEAD")
    with urllib.request.urlopen(req, timeout=5) as r:
        assert r.status == 200 and r.read() == b""


def test_token_and_address_rules(short_tmp):
    port = free_port()
    # Off loopback without a token: refused at start, saying why.
    d = Daemon(short_tmp, "open")
    d.start("--http", f"0.0.0.0:{port}", wait=False)
    assert d.proc.wait(timeout=10) != 0
    assert "off loopback" in d.read_log() and "--http-token" in d.read_log()
    d.proc = None
    # A token too short, a bad address: refused too.
    token = os.path.join(short_tmp, "token")
    with open(token, "w") as f:
        f.write("short\n")
    d = Daemon(short_tmp, "short")
    d.start("--http", f"127.0.0.1:{port}", "--http-token", token, wait=False)
    assert d.proc.wait(timeout=10) != 0 and "at least 16" in d.read_log()
    d.proc = None
    d = Daemon(short_tmp, "bad")
    d.start("--http", "nowhere", wait=False)
    assert d.proc.wait(timeout=10) != 0 and "HOST:PORT" in d.read_log()
    d.proc = None
    # With a token (any address): every request carries it.
    with open(token, "w") as f:
        f.write("s3cret-robot-token-0123\n")
    d = Daemon(short_tmp, "tok")
    d.start("--http", f"0.0.0.0:{port}", "--http-token", token)
    try:
        status, _, headers = get(port, "/metrics")
        assert status == 401 and headers.get("WWW-Authenticate") == "Bearer"
        assert get(port, "/metrics", {"Authorization": "Bearer wrong-token-0123456"})[0] == 401
        status, body, _ = get(port, "/metrics",
                              {"Authorization": "Bearer s3cret-robot-token-0123"})
        assert status == 200 and "discod_topics 0" in body
    finally:
        d.stop()
    # --insecure-http: off loopback without a token, said in the log.
    d = Daemon(short_tmp, "insecure")
    d.start("--http", f"0.0.0.0:{port}", "--insecure-http")
    try:
        assert get(port, "/healthz")[0] == 200
        assert "OPEN: no token" in d.read_log()
    finally:
        d.stop()


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def lookups_answered(d, n=50):
    t0 = time.time()
    for _ in range(n):
        assert d.request({"command": 3, "topic_name": "/lidar", "topic_info": None},
                         timeout_ms=2000)["status"] == 0
    return time.time() - t0


def test_bad_http_input_is_bounded_and_lookups_go_on(web):
    register(web, "/lidar", "lidar_node")
    for i in range(300):  # a graph worth reading slowly
        register(web, f"/bulk/topic/{i}", f"node{i % 17}")
    base_rss = rss_kb(web.proc.pid)
    # Garbage, a huge header, a huge URL: 4xx or closed at once, never a
    # crash. (A line that begins with a NUL reads as an empty line, which
    # HTTP says to skip: that connection idles until the 15 s time-out, as
    # the idle ones below do.)
    for raw in (b"\x01\x02garbage\r\n\r\n", b"\x01\x02 garbage\r\n\r\n",
                b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n",
                b"GET /" + b"u" * 40000 + b" HTTP/1.1\r\n\r\n", b"BREW /pot HTTP/1.1\r\n\r\n",
                b"GET / XTTP/9\r\n\r\n"):
        s = socket.create_connection(("127.0.0.1", web.port), timeout=5)
        try:
            s.sendall(raw)
            answer = s.recv(200)  # a time-out here fails the test
        except ConnectionResetError:
            answer = b""  # closed on us: fine
        finally:
            s.close()
        assert answer == b"" or answer.split(b" ")[1][:1] == b"4", (raw[:20], answer[:80])
    # Many idle connections and a slow reader while lookups are answered.
    idle = []
    for _ in range(100):
        try:
            idle.append(socket.create_connection(("127.0.0.1", web.port), timeout=2))
        except OSError:
            break
    slow = socket.create_connection(("127.0.0.1", web.port), timeout=10)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.sendall(b"GET /api/v1/graph HTTP/1.1\r\nHost: x\r\n\r\n")
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            try:
                if not slow.recv(64):
                    return
            except OSError:
                return
            time.sleep(0.05)
    reader = threading.Thread(target=trickle)
    reader.start()
    took = lookups_answered(web, 200)
    assert took < 20
    stop.set()
    reader.join(timeout=5)
    slow.close()
    for s in idle:
        s.close()
    # The limit held: the daemon kept at most its 64 connections' worth.
    assert rss_kb(web.proc.pid) - base_rss < 64 * 1024, (base_rss, rss_kb(web.proc.pid))
    assert wait_for(lambda: answers(web.port) == 200, timeout=20)
    assert web.proc.poll() is None


# ---- Prometheus (one server for this file) ----------------------------------

@pytest.fixture(scope="module")
def prometheus():
    exe = shutil.which("prometheus")
    assert exe, "Debian's prometheus is needed (deploy/install-deps.sh installs it)"
    tmp = tempfile.mkdtemp(prefix="dc-prom-")
    target_port, port = free_port(), free_port()
    with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
        f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: discod\n    static_configs:\n"
                f"      - targets: ['127.0.0.1:{target_port}']\n")
    proc = subprocess.Popen([exe, f"--config.file={tmp}/prometheus.yml",
                             f"--storage.tsdb.path={tmp}/data",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/log", "w"))
    yield {"port": port, "target_port": target_port, "dir": tmp}
    proc.terminate()
    proc.wait(timeout=30)
    shutil.rmtree(tmp, ignore_errors=True)


def prom_query(prom, query):
    status, body, _ = get(prom["port"], "/api/v1/query?query=" + urllib.request.quote(query))
    if status != 200:
        return None
    result = json.loads(body)["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_the_topic_count(prometheus, short_tmp):
    d = Daemon(short_tmp, "scraped")
    d.start("--http", f"127.0.0.1:{prometheus['target_port']}")
    try:
        for i in range(7):
            register(d, f"/scraped/{i}", "n")
        subscribe(d, "/scraped/1", "viewer", "Other", 0)
        d.request({"command": 3, "topic_name": "/scraped/2", "topic_info": None})
        body = get(prometheus["target_port"], "/metrics")[1]
        check = subprocess.run(["promtool", "check", "metrics"], input=body, text=True,
                               capture_output=True, timeout=30)
        assert check.returncode == 0 and not check.stdout.strip() and \
            not check.stderr.strip(), check.stdout + check.stderr
        for needle in ('discod_requests_total{command="register",status="ok"} 7',
                       'discod_requests_total{command="lookup",status="ok"} 1',
                       "discod_topics 7", "discod_subscriptions 1", "discod_mismatches 1",
                       "discod_mismatches_detected_total 1",
                       'discod_request_duration_seconds_count{command="register"} 7',
                       'discod_request_duration_seconds_count{command="lookup"} 1',
                       "discod_commit_duration_seconds_count", "process_resident_memory_bytes"):
            assert needle in body, needle
        topics = d.stats()["topics"]
        got = wait_for(lambda: prom_query(prometheus, "discod_topics") == topics, timeout=30,
                       interval=0.5)
        assert got, (prom_query(prometheus, "discod_topics"), topics,
                     open(os.path.join(prometheus["dir"], "log")).read()[-2000:])
        assert wait_for(lambda: prom_query(
            prometheus, 'sum(discod_requests_total{command="register"})') == 7, timeout=30,
            interval=0.5)
    finally:
        d.stop()


# ---- The dashboard in a browser (one for this file) --------------------------

@pytest.fixture(scope="module")
def browser():
    import cdp
    b = cdp.Browser(width=1400, height=1000)
    yield b
    b.close()


def test_the_dashboard_shows_the_robot_and_follows_it(browser, web):
    register(web, "/lidar/points", "lidar", "PointCloud2", 7)
    register(web, "/camera/image", "camera", "Image", 3, lease_ttl_ms=60000)
    register(web, "/odom", "base", "Odometry", 1)
    subscribe(web, "/lidar/points", "mapper", "PointCloud2", 7)
    subscribe(web, "/lidar/points", "viewer", "LaserScan", 0)  # the mismatch
    subscribe(web, "/camera/image", "detector", "Image", 3)
    subscribe(web, "/odom", "mapper", "Odometry", 1)
    subscribe(web, "/cmd_vel", "base", "Twist", 0)
    for i in range(12):  # a namespace that folds
        register(web, f"/nav2/topic{i}", "planner", "Nav", 5)
    web.request({"command": 3, "topic_name": "/odom", "topic_info": None})
    browser.navigate(f"http://127.0.0.1:{web.port}/")
    assert browser.wait_for("document.body && document.body.dataset.refreshes >= 1")
    count = lambda sel: browser.evaluate(f"document.querySelectorAll({json.dumps(sel)}).length")
    # Nodes: lidar, camera, planner (publish), mapper, viewer, detector, base,
    # and the undeclared lookup; topics: 4 and the folded /nav2 namespace.
    assert count("svg .vertex.node") == 8
    assert count("svg .vertex.topic") == 4
    assert count("svg .vertex.namespace") == 1
    assert browser.evaluate("document.querySelector('svg .vertex.namespace').dataset.name") == \
        "/nav2/* (12)"
    # Edges: 4 publisher edges (planner's 12 fold into one), 5 subscriber
    # edges, 1 legacy lookup edge; one mismatch, into viewer.
    assert count("svg path.edge") == 10
    assert count("svg path.edge.mismatch") == 1
    assert browser.evaluate("document.querySelector('svg path.edge.mismatch').dataset.to") == \
        "n:viewer"
    assert count("svg .vertex.node.mismatch") == 2  # lidar and viewer
    assert count("#topics tr.topic.mismatch") == 1
    assert browser.evaluate("document.getElementById('count-mismatches').textContent") == "1"
    assert browser.wait_for("document.getElementById('live').textContent === 'live'")
    os.makedirs(ARTIFACTS, exist_ok=True)
    browser.screenshot(os.path.join(ARTIFACTS, "dashboard.png"))
    # Opening the namespace shows its topics.
    browser.evaluate("document.querySelector('svg .vertex.namespace')"
                     ".dispatchEvent(new MouseEvent('click'))")
    assert count("svg .vertex.topic") == 16
    # A registration made now appears without a reload (the event stream).
    before = browser.evaluate("document.body.dataset.refreshes")
    register(web, "/arm/joints", "arm", "JointState", 9)
    assert browser.wait_for("!!document.querySelector('svg .vertex.topic[data-name=\"/arm/joints\"]')",
                            timeout=10)
    assert browser.evaluate("performance.getEntriesByType('navigation').length") == 1
    assert int(browser.evaluate("document.body.dataset.refreshes")) > int(before)
    # Search dims what does not match.
    browser.evaluate("const s = document.getElementById('search'); s.value = 'arm';"
                     " s.dispatchEvent(new Event('input'))")
    assert count("svg .vertex.hit") == 2  # /arm/joints and arm
    png = os.path.join(ARTIFACTS, "dashboard.png")
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_the_dashboard_lists_a_members_notices(browser, web):
    """member.* notices (an isolated member's: test_island.py checks that its
    HTTP stream carries them) are listed, a merge conflict in red, newest
    first; the page shows none until one comes."""
    browser.navigate(f"http://127.0.0.1:{web.port}/")
    assert browser.wait_for("document.body && document.body.dataset.refreshes >= 1")
    assert browser.evaluate("document.getElementById('notices').hidden") is True
    browser.evaluate("notice('member.isolated', JSON.stringify({member: 2, mode: 'serve-local'}))")
    browser.evaluate("notice('member.conflict', JSON.stringify({member: 2, conflict: {kind: "
                     "'topic', topic: '/shared', node: 'a', message: "
                     "'Topic /shared already registered by b'}}))")
    assert browser.evaluate("document.getElementById('notices').hidden") is False
    items = browser.evaluate("[...document.querySelectorAll('#notice-list li')]"
                             ".map(li => li.className + '|' + li.textContent)")
    assert len(items) == 2
    assert items[0].startswith("member-conflict|") and \
        "member 2: merge conflict on topic /shared by a: Topic /shared already registered by b" \
        in items[0]
    assert items[1].startswith("member-isolated|") and "member 2 is isolated" in items[1]
    assert browser.evaluate("getComputedStyle(document.querySelector('li.member-conflict'))"
                            ".color") == "rgb(209, 43, 43)"

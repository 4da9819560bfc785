"""discod.Client: the synchronous client (what libdiscod is for C).

Lazy Pirate, as the C library: one REQ socket to the current endpoint; a try
that gets no reply within timeout_ms closes the socket (a REQ socket that
missed a reply is stuck), and the next try goes to the next endpoint. A call
makes at most ``retries`` tries. Writes carry a request_id that stays the same
across the tries of one call, so a retry is answered once.

Protocol: every request says "v": 2 until an endpoint answers without "v" (a
legacy daemon); from then on that endpoint gets legacy requests. A legacy
daemon that chokes on the protocol 2 keys ("Failed to parse") is asked again
the legacy way at once.

Design notes: one lock makes a Client safe to share between threads (a
Session's renewal thread and the caller): calls take turns on the socket."""
from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

import zmq

from . import _calls as C
from . import _wire as w
from ._core import Core
from ._curve import apply_curve
from ._wire import (Graph, Lookup, Member, Node, Ping, Registration, Subscribed, TopicInfo,
                    Unreachable, check)

Body = Callable[[bool], Dict[str, Any]]


class Client(Core):
    """A client of one discod daemon or cluster.

    ``endpoints``: a string or a list tried in order (failover); None:
    ``$DISCOD_ENDPOINT`` (comma separated), else Cortex's default
    ``ipc:///tmp/cortex/discovery.sock``. ``timeout_ms`` bounds each try,
    ``retries`` the tries of one call. ``server_key`` and ``client_key`` are
    czmq certificate files (the daemon's public one, this client's with its
    ``_secret`` beside it) for CURVE on tcp endpoints.
    """

    def __init__(self, endpoints: Union[str, List[str], None] = None, timeout_ms: int = 5000,
                 retries: int = 3, server_key: Optional[str] = None,
                 client_key: Optional[str] = None, protocol: int = 0):
        super().__init__(endpoints, timeout_ms, retries, server_key, client_key, protocol)
        self._ctx = zmq.Context.instance()
        self._sock: Optional[zmq.Socket] = None
        self._monitor: Optional[zmq.Socket] = None  # failed CURVE handshakes
        self._lock = threading.RLock()

    # ---- plumbing -------------------------------------------------------

    def _socket(self) -> zmq.Socket:
        if self._sock is None:
            sock = self._ctx.socket(zmq.REQ)
            sock.setsockopt(zmq.LINGER, 0)
            if apply_curve(sock, self.endpoint, self.server_key, self.client_key):
                self._monitor = sock.get_monitor_socket(
                    zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL)
            sock.connect(self.endpoint)
            self._sock = sock
        return self._sock

    def _drop_socket(self) -> None:
        if self._sock is not None:
            if self._monitor is not None:
                self._sock.disable_monitor()
                self._monitor.close(0)
                self._monitor = None
            self._sock.close(0)
            self._sock = None

    def _wait_reply(self, sock: zmq.Socket, wait_ms: int) -> Optional[bytes]:
        """The reply, or None after wait_ms; raises Refused when the daemon
        refused our CURVE handshake (it would never answer)."""
        if self._monitor is None:
            return sock.recv() if sock.poll(wait_ms) else None
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        deadline = time.monotonic() + wait_ms / 1000.0
        while True:
            left = int((deadline - time.monotonic()) * 1000)
            ready = dict(poller.poll(max(left, 0)))
            if sock in ready:
                return sock.recv()
            if self._monitor in ready:
                self._monitor.recv_multipart()
                endpoint = self.endpoint
                self._drop_socket()
                raise w.Refused(f"authentication refused by {endpoint}: this client's key is "
                                "not one the daemon takes, or the server key is not the daemon's")
            if left <= 0:
                return None

    def _request(self, body: Body, timeout_ms: Optional[int] = None,
                 tries: Optional[int] = None) -> Tuple[Dict[str, Any], bool]:
        """Sends body(v2) until a reply comes; returns (reply, spoke_v2)."""
        with self._lock:
            tries = tries or self.retries
            wait_ms = timeout_ms or self.timeout_ms
            attempt, fell_back = 0, False
            while attempt < tries:
                endpoint = self.endpoint
                v2 = self._wants_v2(endpoint)
                sock = self._socket()
                try:
                    sock.send(w.pack(body(v2)))
                    raw = self._wait_reply(sock, wait_ms)
                except zmq.ZMQError:
                    raw = None
                if raw is None:
                    # Lazy Pirate: a stuck REQ socket is thrown away; next endpoint.
                    self._drop_socket()
                    self._fail_over(endpoint)
                    attempt += 1
                    continue
                reply = w.unpack_reply(raw)
                if self._read(endpoint, reply, v2, fell_back):
                    fell_back = True
                    continue  # said again the legacy way, not a retry
                return reply, v2 and reply.get("v", 0) >= 2
            raise self._unreachable(tries)

    def _needs_v2(self, what: str) -> None:
        if self.protocol == 0:
            self.ping()
        if self.protocol == 1:
            raise self._unsupported(what)

    def close(self) -> None:
        """Closes the socket. The client may be used again (it reconnects)."""
        with self._lock:
            self._drop_socket()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self, call: C.Call, **kw: Any) -> Any:
        if call.needs_v2:
            self._needs_v2(call.needs_v2)
        reply, v2 = self._request(call.make, **kw)
        return call.parse(check(reply), v2)

    # ---- topics ---------------------------------------------------------

    def ping(self) -> Ping:
        """Checks that the daemon answers; raises Unreachable when it does not."""
        return self._run(C.ping())

    def register(self, topic: Union[TopicInfo, str], address: Optional[str] = None,
                 message_type: str = "", fingerprint: int = 0, publisher_node: str = "", *,
                 metadata: Optional[Dict[str, str]] = None, lease_ttl_ms: Optional[int] = None,
                 lease_id: Optional[int] = None) -> Registration:
        """Registers a topic (a TopicInfo, or its fields). With ``lease_ttl_ms``
        a new lease holds it, with ``lease_id`` an existing one; ``metadata``
        is attached (those three need protocol 2). Raises AlreadyExists when
        another node holds the topic."""
        t = C.topic_of(topic, address, message_type, fingerprint, publisher_node, metadata)
        return self._run(C.register(self._ids.take(), t, metadata, lease_ttl_ms, lease_id))

    def unregister(self, name: str, node: Optional[str] = None) -> None:
        """Removes a topic; ``node`` names whose registration (a topic may have
        several publishers). Raises NotFound when there is none."""
        self._run(C.unregister(self._ids.take(), name, node))

    def lookup(self, name: str, node: Optional[str] = None) -> Lookup:
        """The topic's publishers; raises NotFound when it has none. ``node``:
        the subscriber asking, whose subscription's mismatches the answer
        lists (protocol 2)."""
        return self._run(C.lookup(name, node))

    def list(self, prefix: Optional[str] = None, message_type: Optional[str] = None,
             publisher_node: Optional[str] = None,
             metadata: Optional[Dict[str, str]] = None) -> List[TopicInfo]:
        """Registered topics in registration order, optionally filtered (a
        legacy daemon's full list is filtered here; metadata filters need
        protocol 2)."""
        return self._run(C.list_topics(prefix, message_type, publisher_node, metadata))

    def wait(self, name: str, timeout_ms: int = 30000, node: Optional[str] = None) -> Lookup:
        """Waits until the topic is registered: the daemon holds the request
        (protocol 2) or it is polled (legacy). Keeps waiting across daemon
        restarts and failovers. Raises NotFound when the time runs out."""
        deadline = time.monotonic() + timeout_ms / 1000.0
        while True:
            left = int((deadline - time.monotonic()) * 1000)
            if left <= 0:
                raise w.NotFound(f"Timed out waiting for {name}")
            try:
                return self._run(C.wait(name, left, node), timeout_ms=left + self.timeout_ms,
                                 tries=1)
            except w.NotFound:
                if self.protocol != 1:
                    continue  # the held WAIT ran out with time left: ask again
                time.sleep(min(0.2, left / 1000.0))  # legacy: poll
            except w.Refused:
                if self.protocol != 1:
                    raise  # a legacy daemon said "Unknown command" to WAIT: poll now
            except Unreachable:
                time.sleep(min(0.1, left / 1000.0))  # restarting: ask again

    # ---- subscriptions and the graph --------------------------------------

    def subscribe(self, topic: str, message_type: str = "", fingerprint: int = 0, *,
                  node: str, metadata: Optional[Dict[str, str]] = None,
                  lease_ttl_ms: Optional[int] = None,
                  lease_id: Optional[int] = None) -> Subscribed:
        """Declares that ``node`` reads ``topic`` expecting ``message_type``
        and ``fingerprint`` ("" / 0: any). The answer lists the publishers
        whose type differs (``mismatch``). Protocol 2."""
        return self._run(C.subscribe(self._ids.take(), topic, node, message_type, fingerprint,
                                     metadata, lease_ttl_ms, lease_id))

    def unsubscribe(self, topic: str, node: str) -> None:
        """Removes node's subscription to topic; raises NotFound."""
        self._run(C.unsubscribe(self._ids.take(), topic, node))

    def graph(self, topic: Optional[str] = None, node: Optional[str] = None) -> Graph:
        """Publishers, subscriptions, legacy lookups and mismatches: of one
        topic, of one node, or of everything."""
        return self._run(C.graph(topic, node))

    # ---- leases ---------------------------------------------------------

    def heartbeat(self, lease_id: int) -> int:
        """Renews a lease; returns its TTL. On an ipc endpoint it goes by
        datagram (PATH.hb) when the daemon offers it, else as a request.
        Raises NotFound when the lease is gone (register again)."""
        reply = _datagram(self.endpoint, C.heartbeat_body(lease_id))
        if reply is None:
            return self._run(C.heartbeat(lease_id))
        self.epoch = int(reply.get("epoch", self.epoch))
        return int(check(reply).get("lease_ttl_ms", 0))

    def revoke(self, lease_id: int) -> None:
        """Removes a lease and everything attached to it at once."""
        self._run(C.revoke(self._ids.take(), lease_id))

    # ---- nodes, stats, members ------------------------------------------

    def register_node(self, name: str, description: str = "",
                      capabilities: Optional[List[str]] = None,
                      metadata: Optional[Dict[str, str]] = None, *,
                      lease_ttl_ms: Optional[int] = None,
                      lease_id: Optional[int] = None) -> Registration:
        """Registers a node with its capabilities (protocol 2)."""
        return self._run(C.register_node(self._ids.take(), name, description, capabilities,
                                          metadata, lease_ttl_ms, lease_id))

    def unregister_node(self, name: str) -> None:
        self._run(C.unregister_node(self._ids.take(), name))

    def node(self, name: str) -> Node:
        """One node with the topics it publishes; raises NotFound."""
        return self._run(C.get_node(name))

    def nodes(self, capability: Optional[str] = None) -> List[Node]:
        """Every node, or those with ``capability``."""
        return self._run(C.find_nodes(capability))

    def capabilities(self) -> List[str]:
        """Every capability some node offers, sorted."""
        return sorted({c for n in self.nodes() for c in n.capabilities})

    def stats(self) -> Dict[str, int]:
        """The daemon's counters (protocol 2)."""
        return self._run(C.stats())

    def members(self) -> List[Member]:
        """The cluster's members as the answering member sees them (empty
        when standalone)."""
        return self._run(C.members())


def _datagram(endpoint: str, body: Dict[str, Any], timeout: float = 0.5) -> Optional[Dict[str, Any]]:
    """One request on the datagram channel beside an ipc endpoint; None when
    there is none or no reply came (the caller uses the ROUTER then)."""
    path = w.heartbeat_path(endpoint)
    if not path:
        return None
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.bind("")  # Linux autobind: an address for the reply
        s.settimeout(timeout)
        s.connect(path)
        s.send(w.pack(body))
        return w.unpack_reply(s.recv(65536))
    except (OSError, w.ProtocolError):
        return None
    finally:
        s.close()

"""discod.Session: a lease held for a process, kept alive by a thread.

Everything registered (topics) or declared (subscriptions) through a session
hangs on its lease. A thread renews
it every TTL/3 (by datagram on an ipc endpoint, else through the ROUTER,
as libdiscod does). When the lease is gone (the daemon restarted past its
grace, or a failover lost it) or the daemon's epoch changed, the session
registers everything again. Closing the session revokes the lease, so its
topics go at once; a process that dies without closing loses them within the
TTL.

Design notes: the session's lock guards its topic list and lease id; the
Client serialises the socket itself, so the caller's thread and the renewal
thread may both call it."""
from __future__ import annotations

import threading
from typing import Any, Dict, Optional, Union

from . import _wire as w
from ._core import SessionState
from .client import Client
from ._calls import topic_of
from ._wire import Registration, TopicInfo


class Session(SessionState):
    """Holds one lease (``ttl_ms``) for the topics and nodes registered
    through it. ``client``: a Client to use, else one is made from the other
    arguments (as for Client). A context manager: leaving it closes the
    session (revoking the lease)."""

    def __init__(self, client: Optional[Client] = None, ttl_ms: int = 3000, **client_args: Any):
        super().__init__(ttl_ms)
        self.client = client or Client(**client_args)
        self._own_client = client is None
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="discod-session", daemon=True)
        self._thread.start()

    def register(self, topic: Union[TopicInfo, str], address: Optional[str] = None,
                 message_type: str = "", fingerprint: int = 0, publisher_node: str = "", *,
                 metadata: Optional[Dict[str, str]] = None) -> Registration:
        """Registers a topic under the session's lease (created on the first
        registration) and keeps it registered."""
        t = topic_of(topic, address, message_type, fingerprint, publisher_node, metadata)
        with self._lock:
            r = self._register_locked(t)
            self._keep(t)
            return r

    def unregister(self, name: str, node: Optional[str] = None) -> None:
        """Removes a topic registered through the session."""
        with self._lock:
            self.client.unregister(name, self._forget(name, node))

    def subscribe(self, topic: str, message_type: str = "", fingerprint: int = 0, *,
                  node: str, metadata: Optional[Dict[str, str]] = None) -> w.Subscribed:
        """Declares that node reads topic expecting message_type and
        fingerprint, under the session's lease (declared again after a
        restart, gone when the session closes or its process dies). The
        answer lists the publishers whose type differs."""
        args = {"topic": topic, "node": node, "message_type": message_type,
                "fingerprint": fingerprint, "metadata": metadata}
        with self._lock:
            r = self._subscribe_locked(args)
            self._keep_sub(args)
            return r

    def unsubscribe(self, topic: str, node: str) -> None:
        with self._lock:
            self._subs.pop((topic, node), None)
            self.client.unsubscribe(topic, node)

    def _subscribe_locked(self, args: Dict[str, Any]) -> w.Subscribed:
        return self._leased_locked(lambda lease: self.client.subscribe(**args, **lease))

    def _register_locked(self, t: TopicInfo) -> Registration:
        return self._leased_locked(lambda lease: self.client.register(t, **lease))

    def _leased_locked(self, write: Any) -> Any:
        """write(lease keys) under the session's lease: a new one when there
        is none, and again once when the daemon lost it."""
        for _ in range(2):
            try:
                r = write(self._register_args())
                self.lease_id = r.lease_id
                self._epoch = self.client.epoch
                return r
            except w.NotFound:
                if not self.lease_id:
                    raise
                self.lease_id = 0  # the lease vanished: a new one
        raise w.NotFound("lease lost twice")

    def _register_all_locked(self) -> None:
        self.lease_id = 0
        for again in self._everything():
            try:
                if isinstance(again, TopicInfo):
                    self._register_locked(again)
                else:
                    self._subscribe_locked(again)
            except w.DiscodError:
                pass  # tried again at the next renewal
        self.reregistrations += 1

    def _run(self) -> None:
        while not self._stop.wait(self._renew_period()):
            with self._lock:
                if not self._holds_anything():
                    continue
                try:
                    lost = not self.lease_id
                    if not lost:
                        self.client.heartbeat(self.lease_id)
                    if lost or self.client.epoch != self._epoch:
                        self._register_all_locked()  # restarted, or lease lost earlier
                except w.NotFound:
                    self._register_all_locked()
                except w.DiscodError:
                    pass  # unreachable for now: the next period tries again

    def close(self) -> None:
        """Stops renewing and revokes the lease (the topics go at once)."""
        self._stop.set()
        self._thread.join(timeout=5)
        with self._lock:
            if self.lease_id:
                try:
                    self.client.revoke(self.lease_id)
                except w.DiscodError:
                    pass  # it expires on its own
                self.lease_id = 0
            self._topics.clear()
            self._subs.clear()
        if self._own_client:
            self.client.close()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

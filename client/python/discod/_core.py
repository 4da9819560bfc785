"""What the sync and asyncio clients share besides their sockets: the
endpoints and options, which protocol each endpoint speaks, failover, and
what a reply says about the daemon (protocol, epoch, cluster member)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

from . import _wire as w
from ._wire import Unsupported


class Core:
    def __init__(self, endpoints: Union[str, List[str], None], timeout_ms: int, retries: int,
                 server_key: Optional[str], client_key: Optional[str], protocol: int):
        if timeout_ms <= 0 or retries < 1:
            raise ValueError("timeout_ms must be > 0 and retries >= 1")
        self.endpoints = w.endpoints_from(endpoints)
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.server_key = server_key
        self.client_key = client_key
        self.protocol_wanted = protocol  # 0: auto, 1: legacy only, 2: require 2
        self.epoch = self.member = self.term = 0
        self.last_message = ""
        self._index = 0
        self._protocols: Dict[str, int] = {}
        self._ids = w.RequestIds()

    @property
    def endpoint(self) -> str:
        """The endpoint the client talks to now."""
        return self.endpoints[self._index]

    @property
    def protocol(self) -> int:
        """2 when the current endpoint speaks protocol 2, 1 for legacy, 0 unknown."""
        return self._protocols.get(self.endpoint, 0)

    def _wants_v2(self, endpoint: str) -> bool:
        return self.protocol_wanted != 1 and self._protocols.get(endpoint, 2) == 2

    def _fail_over(self, endpoint: str) -> None:
        """A try on endpoint got no reply: the next try goes to the next one."""
        if self.endpoint == endpoint:
            self._index = (self._index + 1) % len(self.endpoints)

    def _read(self, endpoint: str, reply: Dict[str, Any], v2: bool, fell_back: bool) -> bool:
        """Learns from a reply to a request sent as v2 or not. Returns True when
        the request should be said again the legacy way (a legacy daemon that
        could not parse the protocol 2 keys), once."""
        self.last_message = reply.get("message", "") or ""
        if reply.get("v", 0) >= 2:
            self._protocols[endpoint] = 2
            self.epoch = int(reply.get("epoch", self.epoch))
            self.member = int(reply.get("member", 0))
            self.term = int(reply.get("term", 0))
        elif v2:
            self._protocols[endpoint] = 1
            if (reply["status"] == w.ERROR and not fell_back and
                    self.last_message.startswith("Failed to parse")):
                return True
        if self.protocol_wanted == 2 and self._protocols.get(endpoint) == 1:
            raise Unsupported("the daemon does not speak protocol 2")
        return False

    def _unsupported(self, what: str) -> Unsupported:
        return Unsupported(f"{what} needs protocol 2; the daemon speaks only Cortex's")

    def _unreachable(self, tries: int) -> w.Unreachable:
        return w.Unreachable(f"no reply after {tries} tries (last endpoint {self.endpoint})")


class SessionState:
    """What the sync and asyncio sessions keep: the topics registered and the
    subscriptions declared through them (by name and node), the lease, the
    epoch they were registered in."""

    def __init__(self, ttl_ms: int):
        self.ttl_ms = ttl_ms
        self.lease_id = 0
        self.reregistrations = 0
        self._epoch = 0
        self._topics: Dict[tuple, w.TopicInfo] = {}
        self._subs: Dict[tuple, Dict[str, Any]] = {}  # (topic, node) -> subscribe's arguments

    @property
    def subscriptions(self) -> List[tuple]:
        """(topic, node) of each subscription the session holds."""
        return list(self._subs)

    def _keep_sub(self, args: Dict[str, Any]) -> None:
        self._subs[(args["topic"], args["node"])] = args

    def _holds_anything(self) -> bool:
        return bool(self._topics or self._subs)

    def _everything(self) -> List[Any]:
        """What to write again after a restart: the topics (TopicInfo), then
        the subscriptions (subscribe's arguments)."""
        return list(self._topics.values()) + list(self._subs.values())

    @property
    def topics(self) -> List[w.TopicInfo]:
        return list(self._topics.values())

    def _keep(self, t: w.TopicInfo) -> None:
        self._topics[(t.name, t.publisher_node)] = t

    def _forget(self, name: str, node: Optional[str]) -> Optional[str]:
        """Forgets name (node's registration of it, or every one); returns the
        node to unregister as (None: by name)."""
        for key in [k for k in self._topics if k[0] == name and node in (None, k[1])]:
            del self._topics[key]
            node = key[1]
        return node or None

    def _register_args(self) -> Dict[str, Any]:
        """The lease keys of the next registration: the lease, or a new one."""
        return {"lease_id": self.lease_id} if self.lease_id else {"lease_ttl_ms": self.ttl_ms}

    def _renew_period(self) -> float:
        return max(self.ttl_ms / 3000.0, 0.01)

"""The wire: command and status numbers, the result dataclasses, the errors,
and turning requests and replies into msgpack and back (proto/PROTOCOL.md).
Shared by the sync client, the asyncio client, sessions and watch."""
from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import msgpack

DEFAULT_ENDPOINT = "ipc:///tmp/cortex/discovery.sock"
DEFAULT_EVENTS = "ipc:///tmp/cortex/discovery-events.sock"

# Commands (PROTOCOL.md parts 1 and 2).
REGISTER, UNREGISTER, LOOKUP, LIST, PING = 1, 2, 3, 4, 5
HEARTBEAT, WAIT, REVOKE, STATS = 6, 7, 8, 9
REGISTER_NODE, UNREGISTER_NODE, GET_NODE, FIND_NODES, MEMBERS = 10, 11, 12, 13, 14
SUBSCRIBE, UNSUBSCRIBE, GRAPH = 18, 19, 20

OK, NOT_FOUND, ALREADY_EXISTS, ERROR = 0, 1, 2, 3


class DiscodError(Exception):
    """Base of every error this package raises. ``message`` is the daemon's
    text when it sent one."""

    def __init__(self, message: str = "", status: Optional[int] = None):
        super().__init__(message)
        self.message = message
        self.status = status


class NotFound(DiscodError):
    """The topic, node or lease is not there (status NOT_FOUND)."""


class AlreadyExists(DiscodError):
    """Another node holds the topic (status ALREADY_EXISTS)."""


class Refused(DiscodError):
    """The daemon answered ERROR: a bad request, a full registry, a type that
    does not match, a refused handshake."""


class Unsupported(Refused):
    """The call needs protocol 2 and the daemon speaks only Cortex's."""


class Unreachable(DiscodError):
    """No endpoint answered within the tries."""


class ProtocolError(DiscodError):
    """The daemon's reply could not be read."""


@dataclass
class TopicInfo:
    """One registration as the wire carries it (the five-key TopicInfo), plus
    its metadata (protocol 2)."""

    name: str
    address: str
    message_type: str = ""
    fingerprint: int = 0
    publisher_node: str = ""
    metadata: Dict[str, str] = field(default_factory=dict)

    def to_blob(self) -> bytes:
        """The five-key TopicInfo, packed on its own as Cortex packs it."""
        return msgpack.packb({"name": self.name, "address": self.address,
                              "message_type": self.message_type,
                              "fingerprint": self.fingerprint,
                              "publisher_node": self.publisher_node}, use_bin_type=True)

    @classmethod
    def from_blob(cls, blob: bytes, metadata: Optional[Dict[str, str]] = None) -> "TopicInfo":
        d = msgpack.unpackb(blob, raw=False)
        if not isinstance(d, dict) or "name" not in d or "address" not in d:
            raise ProtocolError("topic_info is not a TopicInfo map")
        return cls(name=d["name"], address=d["address"],
                   message_type=d.get("message_type", ""),
                   fingerprint=int(d.get("fingerprint", 0)),
                   publisher_node=d.get("publisher_node", ""),
                   metadata=dict(metadata or {}))


@dataclass
class Publisher:
    """One publisher of a topic (a topic has several when the daemon runs with
    --publishers-per-topic above 1)."""

    topic: TopicInfo
    lease_id: int = 0
    registered_at_ms: int = 0


@dataclass
class Mismatch:
    """A publisher whose message type or fingerprint is not what a subscriber
    expects: ``node``, ``message_type``, ``fingerprint`` and ``address`` are the
    publisher's; in GRAPH also ``topic`` and the subscriber's side."""

    node: str
    message_type: str
    fingerprint: int
    address: str = ""
    topic: str = ""
    subscriber_node: str = ""
    expected_type: str = ""
    expected_fingerprint: int = 0

    def __str__(self) -> str:
        want = self.expected_type or "any type"
        return (f"{self.topic or 'topic'}: {self.subscriber_node or 'subscriber'} expects {want} "
                f"(fingerprint {self.expected_fingerprint}), {self.node} sends "
                f"{self.message_type} (fingerprint {self.fingerprint})")


@dataclass
class Lookup:
    """A LOOKUP or WAIT answer: ``topic`` is the publisher a single-publisher
    client is given (the most recently registered); ``publishers`` all of them
    in registration order (one, from a legacy daemon); ``mismatch`` the
    publishers whose type the asking subscriber (when it named its node) does
    not expect."""

    topic: TopicInfo
    publishers: List[Publisher]
    mismatch: List[Mismatch] = field(default_factory=list)


@dataclass
class Subscription:
    """One subscription (or, in a Graph's ``publishers``, one publication):
    who reads ``topic``, the type it expects, its lease and what is left of it,
    the member it came in at (0 standalone)."""

    topic: str
    node: str
    message_type: str = ""
    fingerprint: int = 0
    lease_id: int = 0
    lease_remaining_ms: int = 0
    registered_at_ms: int = 0
    origin: int = 0
    mismatched: int = 0
    address: str = ""
    metadata: Dict[str, str] = field(default_factory=dict)


@dataclass
class Subscribed:
    """What a SUBSCRIBE got: the lease it hangs on (0: none) and the
    publishers of the topic whose type it does not expect (empty: none)."""

    topic: str
    node: str
    lease_id: int = 0
    lease_ttl_ms: int = 0
    mismatch: List[Mismatch] = field(default_factory=list)


@dataclass
class LegacyLookups:
    """Lookups of a topic by clients that never said who they are."""

    topic: str
    count: int
    last_ms: int


@dataclass
class Graph:
    """GRAPH's answer: publishers and subscriptions of the topics asked for,
    legacy lookups, and the mismatches between the two sides."""

    publishers: List[Subscription]
    subscriptions: List[Subscription]
    lookups: List[LegacyLookups]
    mismatches: List[Mismatch]
    member: int = 0


@dataclass
class Registration:
    """What a REGISTER got: the lease the topic is attached to (0: none), and
    whether an isolated cluster member took it provisionally (merged into its
    cluster when the link heals)."""

    name: str
    lease_id: int = 0
    lease_ttl_ms: int = 0
    provisional: bool = False


@dataclass
class Ping:
    """PING's answer: the daemon's epoch (0 from a legacy daemon), the cluster
    member that answered and its term (0 standalone), the protocol spoken."""

    epoch: int = 0
    member: int = 0
    term: int = 0
    protocol: int = 1
    isolated: bool = False       # the member is cut off, serving its own computer
    provisional_changes: int = 0  # the writes it holds to merge


@dataclass
class Node:
    """A node (the SSSN example's "system")."""

    name: str
    description: str = ""
    capabilities: List[str] = field(default_factory=list)
    metadata: Dict[str, str] = field(default_factory=dict)
    lease_id: int = 0
    topics: List[str] = field(default_factory=list)


@dataclass
class Member:
    """A cluster member as the answering member sees it (the MEMBERS map)."""

    id: int
    address: str = ""
    voting: str = "voter"
    role: str = ""
    leader: int = 0
    reachable: bool = True
    raw: Dict[str, Any] = field(default_factory=dict)


@dataclass
class Conflict:
    """A provisional write the cluster refused when an isolated member merged
    it: ``kind`` topic or subscription, the ``topic``, the island's ``node``,
    and the cluster's refusal (``message``, naming who holds it)."""

    kind: str
    topic: str
    node: str
    message: str


@dataclass
class Event:
    """A registry event: ``name`` is topic.added, topic.updated, topic.removed,
    topic.expired, node.added, node.removed, node.expired, subscription.added,
    subscription.updated, subscription.removed or subscription.expired. A
    topic or subscription put that makes mismatches lists them in
    ``mismatch``; an isolated member's own changes are ``provisional``.

    Or a member's notice (not one of the registry's seqs; ``member`` says
    whose): member.isolated, member.rejoined (its provisional events are
    withdrawn: ``withdrawn`` of them; watch yields a new Snapshot) and
    member.conflict (``conflict``)."""

    name: str
    seq: int
    reason: str = ""
    epoch: int = 0
    lease_id: int = 0
    topic: Optional[TopicInfo] = None
    node: Optional[Node] = None
    subscription: Optional[Subscription] = None
    mismatch: List[Mismatch] = field(default_factory=list)
    provisional: bool = False
    member: int = 0
    withdrawn: int = 0
    conflict: Optional[Conflict] = None

    @property
    def notice(self) -> bool:
        return self.name.startswith("member.")


@dataclass
class Snapshot:
    """What ``watch`` yields first, and again after a gap in the events or an
    isolated member's return to its cluster: the whole registry (``reason``:
    "start", "gap" or "rejoined")."""

    topics: List[TopicInfo]
    reason: str = "start"


class RequestIds:
    """request_id values for writes: a random 64-bit start, then +1, so a
    retry of one call reuses its id and two processes do not collide."""

    def __init__(self) -> None:
        self._next = random.SystemRandom().getrandbits(63) | 1

    def take(self) -> int:
        value = self._next
        self._next = (self._next + 1) & ((1 << 64) - 1) or 1
        return value


def endpoints_from(endpoints: Any) -> List[str]:
    """The argument (a string or a list), else $DISCOD_ENDPOINT (comma
    separated), else Cortex's default."""
    if isinstance(endpoints, str):
        endpoints = [endpoints]
    if not endpoints:
        env = os.environ.get("DISCOD_ENDPOINT", "")
        endpoints = [e.strip() for e in env.split(",") if e.strip()] or [DEFAULT_ENDPOINT]
    for ep in endpoints:
        if not (ep.startswith("ipc://") or ep.startswith("tcp://")):
            raise ValueError(f"endpoint {ep!r} is not ipc:// or tcp://")
    return list(endpoints)


def pack(obj: Dict[str, Any]) -> bytes:
    return msgpack.packb(obj, use_bin_type=True)


def request(command: int, v2: bool, **keys: Any) -> Dict[str, Any]:
    """A request map: command and topic_name first (Cortex's layout), then
    the protocol 2 keys given (None values left out) when v2."""
    body: Dict[str, Any] = {"command": command, "topic_name": keys.pop("topic_name", None)}
    info = keys.pop("topic_info", None)
    if info is not None:
        body["topic_info"] = info
    elif command in (REGISTER, UNREGISTER, LOOKUP, LIST, PING):
        body["topic_info"] = None
    if v2:
        body["v"] = 2
        body.update({k: v for k, v in keys.items() if v is not None})
    return body


def unpack_reply(raw: bytes) -> Dict[str, Any]:
    try:
        reply = msgpack.unpackb(raw, raw=False)
    except Exception as e:  # msgpack raises several kinds
        raise ProtocolError(f"reply is not msgpack: {e}") from None
    if not isinstance(reply, dict) or not isinstance(reply.get("status"), int):
        raise ProtocolError("reply has no status")
    return reply


def check(reply: Dict[str, Any]) -> Dict[str, Any]:
    """Raises the error the reply's status means; returns the reply when OK."""
    status = reply["status"]
    message = reply.get("message", "") or ""
    if status == OK:
        return reply
    if status == NOT_FOUND:
        raise NotFound(message, status)
    if status == ALREADY_EXISTS:
        raise AlreadyExists(message, status)
    raise Refused(message or f"status {status}", status)


def lookup_from(reply: Dict[str, Any]) -> Lookup:
    info = reply.get("topic_info")
    if not isinstance(info, bytes):
        raise ProtocolError("OK reply without topic_info")
    topic = TopicInfo.from_blob(info, reply.get("metadata"))
    publishers = []
    for p in reply.get("publishers") or []:
        publishers.append(Publisher(TopicInfo.from_blob(p["topic_info"], p.get("metadata")),
                                    int(p.get("lease_id", 0)), int(p.get("registered_at_ms", 0))))
    if not publishers:
        publishers = [Publisher(topic, int(reply.get("lease_id", 0)))]
    return Lookup(topic, publishers, mismatch_list(reply.get("mismatch"), topic.name))


def mismatch_from(d: Dict[str, Any], topic: str = "", subscriber: Optional[Dict[str, Any]] = None
                  ) -> Mismatch:
    """A publisher's side of a mismatch (a reply's ``mismatch`` element), or a
    whole one (GRAPH's and events' {topic, subscriber, publisher})."""
    if "publisher" in d:
        return mismatch_from(d["publisher"], d.get("topic", topic), d.get("subscriber") or {})
    sub = subscriber or {}
    return Mismatch(node=str(d.get("node", "")), message_type=str(d.get("message_type", "")),
                    fingerprint=int(d.get("fingerprint", 0)), address=str(d.get("address", "")),
                    topic=topic, subscriber_node=str(sub.get("node", "")),
                    expected_type=str(sub.get("message_type", "")),
                    expected_fingerprint=int(sub.get("fingerprint", 0)))


def mismatch_list(items: Any, topic: str = "") -> List[Mismatch]:
    return [mismatch_from(m, topic) for m in items or [] if isinstance(m, dict)]


def subscription_from(d: Dict[str, Any]) -> Subscription:
    return Subscription(topic=str(d.get("topic", "")), node=str(d.get("node", "")),
                        message_type=str(d.get("message_type", "")),
                        fingerprint=int(d.get("fingerprint", 0)),
                        lease_id=int(d.get("lease_id", 0)),
                        lease_remaining_ms=int(d.get("lease_remaining_ms", 0)),
                        registered_at_ms=int(d.get("registered_at_ms", 0)),
                        origin=int(d.get("origin", 0)), mismatched=int(d.get("mismatched", 0)),
                        address=str(d.get("address", "")),
                        metadata=dict(d.get("metadata") or {}))


def graph_from(reply: Dict[str, Any]) -> Graph:
    return Graph(publishers=[subscription_from(p) for p in reply.get("publishers") or []],
                 subscriptions=[subscription_from(s) for s in reply.get("subscriptions") or []],
                 lookups=[LegacyLookups(str(x.get("topic", "")), int(x.get("count", 0)),
                                        int(x.get("last_ms", 0)))
                          for x in reply.get("lookups") or []],
                 mismatches=mismatch_list(reply.get("mismatches")),
                 member=int(reply.get("member", 0)))


def topics_from(reply: Dict[str, Any]) -> List[TopicInfo]:
    blobs = reply.get("topics") or []
    metas = reply.get("topic_metadata") or [None] * len(blobs)
    return [TopicInfo.from_blob(b, m) for b, m in zip(blobs, metas)]


def node_from(d: Dict[str, Any]) -> Node:
    return Node(name=d.get("name", ""), description=d.get("description", ""),
                capabilities=list(d.get("capabilities") or []),
                metadata=dict(d.get("metadata") or {}), lease_id=int(d.get("lease_id", 0)),
                topics=list(d.get("topics") or []))


def member_from(d: Dict[str, Any]) -> Member:
    return Member(id=int(d.get("id", 0)), address=str(d.get("address", "")),
                  voting=str(d.get("voting", "")), role=str(d.get("role", "")),
                  leader=int(d.get("leader", 0)), reachable=bool(d.get("reachable", True)),
                  raw=dict(d))


def event_from(name: bytes, body: bytes) -> Event:
    d = msgpack.unpackb(body, raw=False)
    topic = TopicInfo.from_blob(d["topic_info"], d.get("metadata")) if d.get("topic_info") else None
    node = node_from(d["node"]) if isinstance(d.get("node"), dict) else None
    sub = d.get("subscription")
    subscription = subscription_from(dict(sub, lease_id=d.get("lease_id", 0),
                                          metadata=d.get("metadata") or {})) \
        if isinstance(sub, dict) else None
    c = d.get("conflict")
    conflict = Conflict(str(c.get("kind", "")), str(c.get("topic", "")), str(c.get("node", "")),
                        str(c.get("message", ""))) if isinstance(c, dict) else None
    return Event(name=name.decode(errors="replace"), seq=int(d.get("seq", 0)),
                 reason=str(d.get("reason", "")), epoch=int(d.get("epoch", 0)),
                 lease_id=int(d.get("lease_id", 0)), topic=topic, node=node,
                 subscription=subscription, mismatch=mismatch_list(d.get("mismatch")),
                 provisional=bool(d.get("provisional", False)), member=int(d.get("member", 0)),
                 withdrawn=int(d.get("withdrawn", 0)), conflict=conflict)


def node_map(name: str, description: str, capabilities: Optional[List[str]],
             metadata: Optional[Dict[str, str]]) -> Dict[str, Any]:
    node: Dict[str, Any] = {"name": name, "description": description,
                            "capabilities": list(capabilities or [])}
    if metadata:
        node["metadata"] = dict(metadata)
    return node


def heartbeat_path(endpoint: str) -> Optional[str]:
    """The datagram channel beside an ipc endpoint (PATH.hb), or None."""
    if not endpoint.startswith("ipc://"):
        return None
    path = endpoint[len("ipc://"):]
    return None if path.startswith("@") else path + ".hb"

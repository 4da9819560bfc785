"""Each call of the clients as data: how to build its request (for protocol
2 or legacy) and how to read its OK reply. The sync and asyncio clients run
the same Calls, each over its own sockets."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Union

from . import _wire as w
from ._wire import Ping, Registration, TopicInfo


@dataclass
class Call:
    make: Callable[[bool], Dict[str, Any]]  # v2 -> request map
    parse: Callable[[Dict[str, Any], bool], Any]  # (OK reply, spoke v2) -> result
    needs_v2: str = ""  # what needs protocol 2 ("" when legacy can do it)


def _registration(name: str) -> Callable[[Dict[str, Any], bool], Registration]:
    return lambda r, v2: Registration(name, int(r.get("lease_id", 0)),
                                      int(r.get("lease_ttl_ms", 0)),
                                      bool(r.get("provisional", False)))


def _nothing(reply: Dict[str, Any], v2: bool) -> None:
    return None


def ping() -> Call:
    return Call(lambda v2: w.request(w.PING, v2),
                lambda r, v2: Ping(int(r.get("epoch", 0)), int(r.get("member", 0)),
                                   int(r.get("term", 0)), 2 if v2 else 1,
                                   bool(r.get("isolated", False)),
                                   int(r.get("provisional_changes", 0))))


def topic_of(topic: Union[TopicInfo, str], address: Optional[str], message_type: str,
             fingerprint: int, publisher_node: str,
             metadata: Optional[Dict[str, str]]) -> TopicInfo:
    if isinstance(topic, TopicInfo):
        return topic
    if address is None:
        raise ValueError("register needs an address")
    return TopicInfo(topic, address, message_type, fingerprint, publisher_node,
                     dict(metadata or {}))


def register(rid: int, topic: TopicInfo, metadata: Optional[Dict[str, str]],
             lease_ttl_ms: Optional[int], lease_id: Optional[int]) -> Call:
    meta = metadata if metadata is not None else (topic.metadata or None)
    blob = topic.to_blob()
    return Call(lambda v2: w.request(w.REGISTER, v2, topic_info=blob, request_id=rid,
                                     metadata=meta,
                                     lease_ttl_ms=None if lease_id else lease_ttl_ms,
                                     lease_id=lease_id),
                _registration(topic.name),
                "a lease or metadata" if (meta or lease_ttl_ms or lease_id) else "")


def unregister(rid: int, name: str, node: Optional[str]) -> Call:
    return Call(lambda v2: w.request(w.UNREGISTER, v2, topic_name=name, request_id=rid,
                                     node_name=node), _nothing)


def lookup(name: str, node: Optional[str] = None) -> Call:
    """node: the subscriber asking (protocol 2): the answer lists the
    publishers its subscription's type does not match."""
    return Call(lambda v2: w.request(w.LOOKUP, v2, topic_name=name, node_name=node),
                lambda r, v2: w.lookup_from(r))


def list_topics(prefix: Optional[str], message_type: Optional[str],
                publisher_node: Optional[str], metadata: Optional[Dict[str, str]]) -> Call:
    filt = {k: v for k, v in (("prefix", prefix), ("message_type", message_type),
                              ("publisher_node", publisher_node), ("metadata", metadata)) if v}

    def parse(reply: Dict[str, Any], v2: bool) -> List[TopicInfo]:
        topics = w.topics_from(reply)
        if v2 or not filt:
            return topics
        # A legacy daemon sent everything: filter here.
        return [t for t in topics
                if (not prefix or t.name.startswith(prefix)) and
                (not message_type or t.message_type == message_type) and
                (not publisher_node or t.publisher_node == publisher_node)]

    return Call(lambda v2: w.request(w.LIST, v2, filter=filt or None), parse,
                "a metadata filter" if metadata else "")


def wait(name: str, timeout_ms: int, node: Optional[str] = None) -> Call:
    """One held WAIT (protocol 2) or one LOOKUP (legacy: the caller polls)."""
    return Call(lambda v2: w.request(w.WAIT if v2 else w.LOOKUP, v2, topic_name=name,
                                     timeout_ms=timeout_ms, node_name=node),
                lambda r, v2: w.lookup_from(r))


def heartbeat_body(lease_id: int) -> Dict[str, Any]:
    return w.request(w.HEARTBEAT, True, lease_id=lease_id)


def heartbeat(lease_id: int) -> Call:
    return Call(lambda v2: heartbeat_body(lease_id),
                lambda r, v2: int(r.get("lease_ttl_ms", 0)), "heartbeat")


def revoke(rid: int, lease_id: int) -> Call:
    return Call(lambda v2: w.request(w.REVOKE, True, lease_id=lease_id, request_id=rid),
                _nothing, "revoke")


def register_node(rid: int, name: str, description: str, capabilities: Optional[List[str]],
                  metadata: Optional[Dict[str, str]], lease_ttl_ms: Optional[int],
                  lease_id: Optional[int]) -> Call:
    node = w.node_map(name, description, capabilities, metadata)
    return Call(lambda v2: w.request(w.REGISTER_NODE, True, node=node, request_id=rid,
                                     lease_ttl_ms=None if lease_id else lease_ttl_ms,
                                     lease_id=lease_id),
                _registration(name), "nodes")


def unregister_node(rid: int, name: str) -> Call:
    return Call(lambda v2: w.request(w.UNREGISTER_NODE, True, node_name=name, request_id=rid),
                _nothing, "nodes")


def subscribe(rid: int, topic: str, node: str, message_type: str, fingerprint: int,
              metadata: Optional[Dict[str, str]], lease_ttl_ms: Optional[int],
              lease_id: Optional[int]) -> Call:
    if not topic or not node:
        raise ValueError("subscribe needs a topic and the subscriber's node")
    if not 0 <= int(fingerprint) < 1 << 64:
        raise ValueError("fingerprint must fit in 64 bits")
    return Call(lambda v2: w.request(w.SUBSCRIBE, True, topic_name=topic, node_name=node,
                                     message_type=message_type, fingerprint=int(fingerprint),
                                     metadata=metadata or None, request_id=rid,
                                     lease_ttl_ms=None if lease_id else lease_ttl_ms,
                                     lease_id=lease_id),
                lambda r, v2: w.Subscribed(topic, node, int(r.get("lease_id", 0)),
                                           int(r.get("lease_ttl_ms", 0)),
                                           w.mismatch_list(r.get("mismatch"), topic)),
                "subscriptions")


def unsubscribe(rid: int, topic: str, node: str) -> Call:
    return Call(lambda v2: w.request(w.UNSUBSCRIBE, True, topic_name=topic, node_name=node,
                                     request_id=rid), _nothing, "subscriptions")


def graph(topic: Optional[str], node: Optional[str]) -> Call:
    return Call(lambda v2: w.request(w.GRAPH, True, topic_name=topic, node_name=node),
                lambda r, v2: w.graph_from(r), "the graph")


def get_node(name: str) -> Call:
    return Call(lambda v2: w.request(w.GET_NODE, True, node_name=name),
                lambda r, v2: w.node_from(r["nodes"][0]), "nodes")


def find_nodes(capability: Optional[str]) -> Call:
    return Call(lambda v2: w.request(w.FIND_NODES, True, capability=capability),
                lambda r, v2: [w.node_from(n) for n in r.get("nodes") or []], "nodes")


def stats() -> Call:
    return Call(lambda v2: w.request(w.STATS, True), lambda r, v2: dict(r.get("stats") or {}),
                "stats")


def members() -> Call:
    return Call(lambda v2: w.request(w.MEMBERS, True),
                lambda r, v2: [w.member_from(m) for m in r.get("members") or []], "members")

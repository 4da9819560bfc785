"""The Cortex discovery client as shipped (seeds/cortex-discovery-api-reference.txt),
reduced to what touches the wire: TopicInfo, the request/response maps and the
REQ-socket client with its close-and-reopen retry. Tests use it to talk to discod
exactly as an unmodified Cortex process does."""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from enum import IntEnum

import msgpack
import zmq


class DiscoveryCommand(IntEnum):
    REGISTER_TOPIC = 1
    UNREGISTER_TOPIC = 2
    LOOKUP_TOPIC = 3
    LIST_TOPICS = 4
    PING = 5
    SHUTDOWN = 99


class DiscoveryStatus(IntEnum):
    OK = 0
    NOT_FOUND = 1
    ALREADY_EXISTS = 2
    ERROR = 3


@dataclass
class TopicInfo:
    name: str
    address: str
    message_type: str
    fingerprint: int
    publisher_node: str

    def to_bytes(self) -> bytes:
        data = {
            "name": self.name,
            "address": self.address,
            "message_type": self.message_type,
            "fingerprint": self.fingerprint,
            "publisher_node": self.publisher_node,
        }
        return msgpack.packb(data, use_bin_type=True)

    @classmethod
    def from_bytes(cls, data: bytes) -> "TopicInfo":
        d = msgpack.unpackb(data, raw=False)
        return cls(**d)  # throws on any key but the five


@dataclass
class DiscoveryRequest:
    command: DiscoveryCommand
    topic_name: str | None = None
    topic_info: TopicInfo | None = None

    def to_bytes(self) -> bytes:
        data = {
            "command": int(self.command),
            "topic_name": self.topic_name,
            "topic_info": self.topic_info.to_bytes() if self.topic_info else None,
        }
        return msgpack.packb(data, use_bin_type=True)


@dataclass
class DiscoveryResponse:
    status: DiscoveryStatus
    message: str = ""
    topic_info: TopicInfo | None = None
    topics: list[TopicInfo] | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> "DiscoveryResponse":
        d = msgpack.unpackb(data, raw=False)
        info = d.get("topic_info")
        topics = d.get("topics")
        return cls(
            status=DiscoveryStatus(d["status"]),  # throws on a status outside 0-3
            message=d.get("message", ""),
            topic_info=TopicInfo.from_bytes(info) if info else None,
            topics=[TopicInfo.from_bytes(t) for t in topics] if topics else None,
        )


class DiscoveryClient:
    def __init__(self, discovery_address: str, timeout_ms: int = 5000, retries: int = 1):
        self.discovery_address = discovery_address
        self.timeout_ms = timeout_ms
        self.retries = retries
        self._context = zmq.Context()
        self._socket = None
        self._connect()

    def _connect(self) -> None:
        self._socket = self._context.socket(zmq.REQ)
        self._socket.setsockopt(zmq.RCVTIMEO, self.timeout_ms)
        self._socket.setsockopt(zmq.SNDTIMEO, self.timeout_ms)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.connect(self.discovery_address)

    def _reconnect(self) -> None:
        if self._socket:
            with contextlib.suppress(Exception):
                self._socket.close()
        self._connect()

    def send(self, request: DiscoveryRequest) -> DiscoveryResponse:
        last_error = None
        for _ in range(self.retries):
            try:
                self._socket.send(request.to_bytes())
                return DiscoveryResponse.from_bytes(self._socket.recv())
            except zmq.Again:
                last_error = TimeoutError(f"timed out after {self.timeout_ms}ms")
                self._reconnect()
            except zmq.ZMQError as e:
                last_error = e
                self._reconnect()
        raise last_error

    def register_topic(self, info: TopicInfo) -> DiscoveryResponse:
        return self.send(DiscoveryRequest(DiscoveryCommand.REGISTER_TOPIC, topic_info=info))

    def unregister_topic(self, name: str) -> DiscoveryResponse:
        return self.send(DiscoveryRequest(DiscoveryCommand.UNREGISTER_TOPIC, topic_name=name))

    def lookup_topic(self, name: str) -> TopicInfo | None:
        r = self.send(DiscoveryRequest(DiscoveryCommand.LOOKUP_TOPIC, topic_name=name))
        return r.topic_info if r.status == DiscoveryStatus.OK else None

    def list_topics(self) -> list[TopicInfo]:
        r = self.send(DiscoveryRequest(DiscoveryCommand.LIST_TOPICS))
        return (r.topics or []) if r.status == DiscoveryStatus.OK else []

    def ping(self) -> bool:
        return self.send(DiscoveryRequest(DiscoveryCommand.PING)).status == DiscoveryStatus.OK

    def wait_for_topic(self, name: str, timeout: float = 30.0, poll_interval: float = 0.5):
        start = time.time()
        while time.time() - start < timeout:
            info = self.lookup_topic(name)
            if info:
                return info
            time.sleep(poll_interval)
        return None

    def close(self) -> None:
        if self._socket:
            with contextlib.suppress(Exception):
                self._socket.close()
            self._socket = None
        with contextlib.suppress(Exception):
            self._context.term()

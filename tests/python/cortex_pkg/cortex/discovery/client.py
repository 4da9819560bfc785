"""cortex.discovery.client: Cortex's DiscoveryClient as its reference shows it
(bools from register/unregister, None from a failed lookup, polling waits)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import zmq

from .protocol import DiscoveryCommand, DiscoveryRequest, DiscoveryResponse, DiscoveryStatus
from .protocol import TopicInfo

logger = logging.getLogger(__name__)
DEFAULT_DISCOVERY_ADDRESS = "ipc:///tmp/cortex/discovery.sock"


class DiscoveryClient:
    def __init__(self, discovery_address: str = DEFAULT_DISCOVERY_ADDRESS,
                 timeout_ms: int = 5000, retries: int = 1):
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

    def _send_request(self, request: DiscoveryRequest) -> DiscoveryResponse:
        last_error = None
        for _ in range(self.retries):
            try:
                self._socket.send(request.to_bytes())
                return DiscoveryResponse.from_bytes(self._socket.recv())
            except zmq.Again:
                last_error = TimeoutError(f"Discovery request timed out after {self.timeout_ms}ms")
                self._reconnect()
            except zmq.ZMQError as e:
                last_error = e
                self._reconnect()
        raise last_error

    def register_topic(self, topic_info: TopicInfo) -> bool:
        try:
            r = self._send_request(DiscoveryRequest(DiscoveryCommand.REGISTER_TOPIC,
                                                    topic_info=topic_info))
            return r.status == DiscoveryStatus.OK
        except Exception as e:
            logger.error(f"Failed to register topic: {e}")
            return False

    def unregister_topic(self, topic_name: str) -> bool:
        try:
            r = self._send_request(DiscoveryRequest(DiscoveryCommand.UNREGISTER_TOPIC,
                                                    topic_name=topic_name))
            return r.status == DiscoveryStatus.OK
        except Exception as e:
            logger.error(f"Failed to unregister topic: {e}")
            return False

    def lookup_topic(self, topic_name: str) -> TopicInfo | None:
        try:
            r = self._send_request(DiscoveryRequest(DiscoveryCommand.LOOKUP_TOPIC,
                                                    topic_name=topic_name))
            return r.topic_info if r.status == DiscoveryStatus.OK else None
        except Exception:
            return None

    def wait_for_topic(self, topic_name: str, timeout: float = 30.0,
                       poll_interval: float = 0.5) -> TopicInfo | None:
        start_time = time.time()
        while time.time() - start_time < timeout:
            topic_info = self.lookup_topic(topic_name)
            if topic_info:
                return topic_info
            time.sleep(poll_interval)
        return None

    async def wait_for_topic_async(self, topic_name: str, timeout: float = 600.0,
                                   poll_interval: float = 0.5) -> TopicInfo | None:
        start_time = time.perf_counter()
        while time.perf_counter() - start_time < timeout:
            topic_info = self.lookup_topic(topic_name)
            if topic_info:
                return topic_info
            await asyncio.sleep(poll_interval)
        return None

    def ping(self) -> bool:
        try:
            return self._send_request(DiscoveryRequest(DiscoveryCommand.PING)).status == 0
        except Exception:
            return False

    def list_topics(self) -> list[TopicInfo]:
        try:
            r = self._send_request(DiscoveryRequest(DiscoveryCommand.LIST_TOPICS))
            return (r.topics or []) if r.status == DiscoveryStatus.OK else []
        except Exception:
            return []

    def close(self) -> None:
        if self._socket:
            with contextlib.suppress(Exception):
                self._socket.close()
            self._socket = None
        with contextlib.suppress(Exception):
            self._context.term()

    def __enter__(self) -> "DiscoveryClient":
        return self

    def __exit__(self, exc_type, exc_val, exc_tb) -> None:
        self.close()

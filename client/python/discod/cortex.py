"""discod.cortex: a drop-in for Cortex's ``cortex.discovery.client.DiscoveryClient``.

Change one import in a Cortex node::

    # from cortex.discovery.client import DiscoveryClient
    from discod.cortex import DiscoveryClient

Same constructor, same methods, same return values (bool, TopicInfo or None,
lists), same TopicInfo attributes. Underneath, against discod:
registrations hang on a lease a Session keeps alive, so a node that crashes
loses its topics within the lease TTL instead of waiting for the daemon's
probe; and waits are held by the daemon instead of polled. Against a legacy
daemon it behaves exactly like the original: plain registrations, polling."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import List, Optional

import msgpack

from . import _wire as w
from . import aio
from .client import Client
from .session import Session

logger = logging.getLogger(__name__)

DEFAULT_DISCOVERY_ADDRESS = w.DEFAULT_ENDPOINT
DEFAULT_LEASE_TTL_MS = 3000


@dataclass
class TopicInfo:
    """Cortex's TopicInfo: the same attributes and the same packing."""

    name: str
    address: str
    message_type: str
    fingerprint: int
    publisher_node: str

    def to_bytes(self) -> bytes:
        return msgpack.packb({"name": self.name, "address": self.address,
                              "message_type": self.message_type,
                              "fingerprint": self.fingerprint,
                              "publisher_node": self.publisher_node}, use_bin_type=True)

    @classmethod
    def from_bytes(cls, data: bytes) -> "TopicInfo":
        return cls(**msgpack.unpackb(data, raw=False))

    @classmethod
    def _of(cls, t: w.TopicInfo) -> "TopicInfo":
        return cls(t.name, t.address, t.message_type, t.fingerprint, t.publisher_node)

    def _wire(self) -> w.TopicInfo:
        return w.TopicInfo(self.name, self.address, self.message_type, self.fingerprint,
                           self.publisher_node)


class DiscoveryClient:
    """Cortex's DiscoveryClient on discod. ``lease_ttl_ms`` (ours, keyword
    only) is the TTL of the lease that holds this client's registrations."""

    def __init__(self, discovery_address: str = DEFAULT_DISCOVERY_ADDRESS,
                 timeout_ms: int = 5000, retries: int = 1, *,
                 lease_ttl_ms: int = DEFAULT_LEASE_TTL_MS):
        self.discovery_address = discovery_address
        self.timeout_ms = timeout_ms
        self.retries = retries
        self.lease_ttl_ms = lease_ttl_ms
        self._client = Client(discovery_address, timeout_ms=timeout_ms, retries=max(retries, 1))
        self._session: Optional[Session] = None

    def _leases(self) -> bool:
        """Does the daemon speak protocol 2 (leases, held waits)?"""
        if self._client.protocol == 0:
            self._client.ping()
        return self._client.protocol == 2

    def register_topic(self, topic_info: TopicInfo) -> bool:
        """Registers a topic; True on success (as Cortex)."""
        try:
            if self._leases():
                if self._session is None:
                    self._session = Session(self._client, ttl_ms=self.lease_ttl_ms)
                self._session.register(topic_info._wire())
            else:
                self._client.register(topic_info._wire())
            logger.info(f"Registered topic: {topic_info.name}")
            return True
        except w.DiscodError as e:
            logger.error(f"Failed to register topic: {e.message or e}")
            return False

    def unregister_topic(self, topic_name: str) -> bool:
        """Unregisters a topic; True on success."""
        try:
            if self._session is not None and any(t.name == topic_name
                                                 for t in self._session.topics):
                self._session.unregister(topic_name)
            else:
                self._client.unregister(topic_name)
            logger.info(f"Unregistered topic: {topic_name}")
            return True
        except w.DiscodError as e:
            logger.warning(f"Failed to unregister topic: {e.message or e}")
            return False

    def lookup_topic(self, topic_name: str) -> Optional[TopicInfo]:
        """The topic, or None."""
        try:
            return TopicInfo._of(self._client.lookup(topic_name).topic)
        except w.NotFound:
            return None
        except w.DiscodError as e:
            logger.error(f"Failed to lookup topic: {e.message or e}")
            return None

    def wait_for_topic(self, topic_name: str, timeout: float = 30.0,
                       poll_interval: float = 0.5) -> Optional[TopicInfo]:
        """Waits for the topic (held by the daemon; polled every poll_interval
        against a legacy daemon). None when the time runs out."""
        try:
            if not self._leases():
                return self._poll(topic_name, timeout, poll_interval)
            return TopicInfo._of(self._client.wait(topic_name, int(timeout * 1000)).topic)
        except w.DiscodError:
            return None

    def _poll(self, topic_name: str, timeout: float, poll_interval: float) -> Optional[TopicInfo]:
        import time
        start = time.time()
        while time.time() - start < timeout:
            found = self.lookup_topic(topic_name)
            if found:
                return found
            time.sleep(poll_interval)
        return None

    async def wait_for_topic_async(self, topic_name: str, timeout: float = 600.0,
                                   poll_interval: float = 0.5) -> Optional[TopicInfo]:
        """Waits without blocking the event loop."""
        client = aio.Client(self.discovery_address, timeout_ms=self.timeout_ms,
                            retries=max(self.retries, 1), protocol=1 if self._client.protocol
                            == 1 else 0)
        try:
            if client.protocol_wanted == 1:
                loop = asyncio.get_running_loop()
                deadline = loop.time() + timeout
                while loop.time() < deadline:
                    try:
                        return TopicInfo._of((await client.lookup(topic_name)).topic)
                    except w.DiscodError:
                        await asyncio.sleep(poll_interval)
                return None
            return TopicInfo._of((await client.wait(topic_name, int(timeout * 1000))).topic)
        except w.DiscodError:
            return None
        finally:
            client.close()

    def ping(self) -> bool:
        """True when the daemon answered."""
        try:
            self._client.ping()
            return True
        except w.DiscodError:
            return False

    def list_topics(self) -> List[TopicInfo]:
        """Every topic ([] on failure)."""
        try:
            return [TopicInfo._of(t) for t in self._client.list()]
        except w.DiscodError as e:
            logger.error(f"Failed to list topics: {e.message or e}")
            return []

    def close(self) -> None:
        """Closes the connection; the lease is revoked (its topics go at once)."""
        if self._session is not None:
            self._session.close()
            self._session = None
        self._client.close()

    def __enter__(self) -> "DiscoveryClient":
        return self

    def __exit__(self, exc_type, exc_val, exc_tb) -> None:
        self.close()

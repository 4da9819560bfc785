"""cortex.discovery.client: Cortex's DiscoveryClient as its reference shows it
(bools from register/unregister, None or [] when the daemon is unreachable,
polling waits), on the interop suite's REQ client (cortex_legacy), which
keeps the raw responses for the byte-level tests."""
from __future__ import annotations

import asyncio
import time

import cortex_legacy

from .protocol import DiscoveryStatus, TopicInfo

DEFAULT_DISCOVERY_ADDRESS = "ipc:///tmp/cortex/discovery.sock"


class DiscoveryClient(cortex_legacy.DiscoveryClient):
    def __init__(self, discovery_address: str = DEFAULT_DISCOVERY_ADDRESS,
                 timeout_ms: int = 5000, retries: int = 1):
        super().__init__(discovery_address, timeout_ms, retries)

    def register_topic(self, topic_info: TopicInfo) -> bool:
        try:
            return super().register_topic(topic_info).status == DiscoveryStatus.OK
        except Exception:
            return False

    def unregister_topic(self, topic_name: str) -> bool:
        try:
            return super().unregister_topic(topic_name).status == DiscoveryStatus.OK
        except Exception:
            return False

    def lookup_topic(self, topic_name: str) -> TopicInfo | None:
        try:
            return super().lookup_topic(topic_name)
        except Exception:
            return None

    def list_topics(self) -> list[TopicInfo]:
        try:
            return super().list_topics()
        except Exception:
            return []

    def ping(self) -> bool:
        try:
            return super().ping()
        except Exception:
            return False

    async def wait_for_topic_async(self, topic_name: str, timeout: float = 600.0,
                                   poll_interval: float = 0.5) -> TopicInfo | None:
        start_time = time.perf_counter()
        while time.perf_counter() - start_time < timeout:
            topic_info = self.lookup_topic(topic_name)
            if topic_info:
                return topic_info
            await asyncio.sleep(poll_interval)
        return None

    def __enter__(self) -> "DiscoveryClient":
        return self

    def __exit__(self, exc_type, exc_val, exc_tb) -> None:
        self.close()

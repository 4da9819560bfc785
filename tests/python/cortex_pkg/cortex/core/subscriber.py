"""cortex.core.subscriber, reduced to what Cortex's does with discovery: look
the topic up (waiting for it) through the DiscoveryClient name imported here,
then connect a SUB socket to the publisher and filter on the topic."""
from __future__ import annotations

import zmq

from cortex.discovery.client import DEFAULT_DISCOVERY_ADDRESS, DiscoveryClient


class Subscriber:
    def __init__(self, topic_name, message_type, node_name="anonymous",
                 discovery_address=DEFAULT_DISCOVERY_ADDRESS, context=None):
        self.topic_name = topic_name
        self.message_type = message_type
        self.node_name = node_name
        self.discovery_address = discovery_address
        self._context = context or zmq.Context()
        self._socket = None
        self.topic_info = None
        self._discovery_client = DiscoveryClient(discovery_address=discovery_address)

    def connect(self, timeout: float = 30.0) -> bool:
        info = self._discovery_client.wait_for_topic(self.topic_name, timeout=timeout)
        if info is None:
            return False
        if info.fingerprint != self.message_type.fingerprint():
            return False  # Cortex drops mismatched messages silently
        self.topic_info = info
        self._socket = self._context.socket(zmq.SUB)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.setsockopt(zmq.SUBSCRIBE, self.topic_name.encode("utf-8"))
        self._socket.connect(info.address)
        return True

    def receive(self, timeout_ms: int = 5000):
        if not self._socket.poll(timeout_ms):
            return None
        frames = self._socket.recv_multipart()
        return self.message_type.from_frames(frames[1:])

    def close(self) -> None:
        if self._socket:
            self._socket.close()
            self._socket = None
        self._discovery_client.close()

"""cortex.core.publisher as its reference shows it: binds its own IPC socket,
registers (topic, address, type, fingerprint, node) through the
DiscoveryClient name imported here, unregisters on close."""
from __future__ import annotations

import contextlib
import logging
import os

import zmq

from cortex.discovery.client import DEFAULT_DISCOVERY_ADDRESS, DiscoveryClient
from cortex.discovery.protocol import TopicInfo

logger = logging.getLogger(__name__)
IPC_DIR = os.environ.get("CORTEX_TEST_IPC_DIR", "/tmp/cortex/topics")


def generate_ipc_address(topic_name: str, node_name: str) -> str:
    safe_name = node_name + "__" + topic_name.replace("/", "_").lstrip("_")
    os.makedirs(IPC_DIR, exist_ok=True)
    return f"ipc://{IPC_DIR}/{safe_name}.sock"


class Publisher:
    def __init__(self, topic_name, message_type, node_name="anonymous",
                 discovery_address=DEFAULT_DISCOVERY_ADDRESS, queue_size=10,
                 auto_register=True, context=None):
        self.topic_name = topic_name
        self.message_type = message_type
        self.node_name = node_name
        self.discovery_address = discovery_address
        self.queue_size = queue_size
        self.address = generate_ipc_address(topic_name, node_name)
        self._topic_bytes = topic_name.encode("utf-8")
        self._context = context or zmq.Context()
        self._socket = None
        self._discovery_client = None
        self._registered = False
        self._sequence = 0
        self._setup_socket()
        if auto_register:
            self._register_with_discovery()

    def _setup_socket(self) -> None:
        path = self.address[6:]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if os.path.exists(path):
            os.remove(path)
        self._socket = self._context.socket(zmq.PUB)
        self._socket.setsockopt(zmq.SNDHWM, self.queue_size)
        self._socket.setsockopt(zmq.LINGER, 0)
        self._socket.bind(self.address)

    def _register_with_discovery(self) -> None:
        try:
            self._discovery_client = DiscoveryClient(discovery_address=self.discovery_address)
            topic_info = TopicInfo(name=self.topic_name, address=self.address,
                                   message_type=self.message_type.__name__,
                                   fingerprint=self.message_type.fingerprint(),
                                   publisher_node=self.node_name)
            if self._discovery_client.register_topic(topic_info):
                self._registered = True
            else:
                logger.warning(f"Failed to register topic {self.topic_name}")
        except Exception as e:
            logger.warning(f"Could not connect to discovery daemon: {e}")

    def publish(self, message, flags=zmq.NOBLOCK) -> bool:
        if not isinstance(message, self.message_type):
            raise TypeError(f"Expected {self.message_type.__name__}")
        try:
            sequence = self._sequence
            self._sequence += 1
            self._socket.send_multipart([self._topic_bytes, *message.to_frames(sequence)],
                                        flags=flags)
            return True
        except zmq.Again:
            return False

    @property
    def is_registered(self) -> bool:
        return self._registered

    def close(self) -> None:
        if self._discovery_client and self._registered:
            with contextlib.suppress(Exception):
                self._discovery_client.unregister_topic(self.topic_name)
            with contextlib.suppress(Exception):
                self._discovery_client.close()
            self._discovery_client = None
        self._registered = False
        if self._socket:
            self._socket.close()
            self._socket = None
        path = self.address[6:]
        if os.path.exists(path):
            with contextlib.suppress(Exception):
                os.remove(path)

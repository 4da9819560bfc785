"""discod: the Python client of the discod discovery daemon.

- ``discod.Client``: every call of protocol 2 (falls back to Cortex's legacy
  protocol), Lazy Pirate retries with failover across endpoints.
- ``discod.Session``: a lease kept alive for a process; its topics come back
  after a daemon restart or failover and go when it closes or dies.
- ``discod.watch``: the registry's changes, with gap detection.
- ``discod.aio``: the same for asyncio (zmq.asyncio).
- ``discod.cortex.DiscoveryClient``: a drop-in for Cortex's client.

Errors: NotFound, AlreadyExists, Refused (and Unsupported), Unreachable, all
DiscodError, carrying the daemon's message."""
from ._wire import (DEFAULT_ENDPOINT, DEFAULT_EVENTS, AlreadyExists, Conflict, DiscodError,
                    Event, Graph, LegacyLookups, Lookup, Member, Mismatch, Node, NotFound, Ping,
                    ProtocolError, Publisher, Refused, Registration, Snapshot, Subscribed,
                    Subscription, TopicInfo, Unreachable, Unsupported)
from .client import Client
from .session import Session
from .watch import Watch, watch

__version__ = "0.1.0"

__all__ = ["Client", "Session", "Watch", "watch", "TopicInfo", "Publisher", "Lookup",
           "Registration", "Ping", "Node", "Member", "Event", "Conflict", "Snapshot",
           "Subscribed", "Subscription", "Mismatch", "Graph", "LegacyLookups", "DiscodError",
           "NotFound", "AlreadyExists", "Refused", "Unsupported", "Unreachable",
           "ProtocolError", "DEFAULT_ENDPOINT", "DEFAULT_EVENTS"]

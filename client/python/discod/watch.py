"""discod.watch: the registry as it changes, like ``discoctl watch``.

It subscribes to the event stream (every member's, in a cluster: each event
is yielded once), lists the registry, then yields each change. A gap in the
event seqs (ZeroMQ drops events for slow or late subscribers) yields a new
Snapshot. The stream survives daemon restarts: seqs continue where they were,
and the subscription reconnects on its own within a second; an event
published before it has shows up as a gap at the next event (a new Snapshot)."""
from __future__ import annotations

import time
from typing import Any, Iterator, List, Optional, Union

import zmq

from . import _wire as w
from ._events import Sequencer, events_from, wanted
from .client import Client
from ._wire import Event, Snapshot


class Watch:
    """An iterator of Snapshot and Event. ``idle_timeout`` (seconds): stop
    when nothing happened for that long (None: never). ``prefix``: only
    topics whose name starts with it."""

    def __init__(self, client: Optional[Client] = None,
                 events: Union[str, List[str], None] = None, prefix: Optional[str] = None,
                 idle_timeout: Optional[float] = None, **client_args: Any):
        self.client = client or Client(**client_args)
        self._own_client = client is None
        self.prefix = prefix
        self.idle_timeout = idle_timeout
        self.gaps = 0
        self._sub = zmq.Context.instance().socket(zmq.SUB)
        self._sub.setsockopt(zmq.LINGER, 0)
        self._sub.setsockopt(zmq.SUBSCRIBE, b"")
        for ep in events_from(events, self.client.endpoints):
            self._sub.connect(ep)

    def _snapshot(self, reason: str) -> Snapshot:
        return Snapshot(self.client.list(prefix=self.prefix), reason)

    def __iter__(self) -> Iterator[Union[Snapshot, Event]]:
        time.sleep(0.2)  # let the subscription reach the publishers before listing
        yield self._snapshot("start")
        order = Sequencer()
        while True:
            if not self._sub.poll(None if self.idle_timeout is None
                                  else int(self.idle_timeout * 1000)):
                return
            name, body = self._sub.recv_multipart()[:2]
            try:
                event = w.event_from(name, body)
            except Exception:
                continue  # not an event of ours
            verdict = order.take(event)
            if verdict == "gap":
                self.gaps += 1
                yield self._snapshot("gap")
            elif verdict in ("new", "notice", "rejoined") and wanted(event, self.prefix):
                yield event
            if verdict == "rejoined":
                yield self._snapshot("rejoined")

    def close(self) -> None:
        self._sub.close(0)
        if self._own_client:
            self.client.close()

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def watch(client: Optional[Client] = None, events: Union[str, List[str], None] = None,
          prefix: Optional[str] = None, idle_timeout: Optional[float] = None,
          **client_args: Any) -> Watch:
    """A Watch (see its doc): ``for item in discod.watch(): ...``"""
    return Watch(client, events, prefix, idle_timeout, **client_args)

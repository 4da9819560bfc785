"""What watch does with the event stream, apart from sockets: the order
of events by seq, duplicates (several members publish the same seq), gaps."""
from __future__ import annotations

import os
from typing import List, Optional, Union

from . import _wire as w
from ._wire import Event


def events_beside(endpoint: str) -> Optional[str]:
    """Where a daemon on ``endpoint`` puts its events when nobody chose
    (proto/dc_endpoint.h): ipc://DIR/X.sock -> ipc://DIR/X-events.sock,
    ipc://P -> ipc://P-events; None for tcp."""
    if not endpoint.startswith("ipc://"):
        return None
    if endpoint.endswith(".sock"):
        return endpoint[:-5] + "-events.sock"
    return endpoint + "-events"


def events_from(events: Union[str, List[str], None],
                endpoints: Optional[List[str]] = None) -> List[str]:
    """The argument, else $DISCOD_EVENTS (comma separated), else beside the
    client's first ipc endpoint (where the daemon puts them when nobody
    chose), else the default."""
    if isinstance(events, str):
        events = [events]
    if not events:
        env = os.environ.get("DISCOD_EVENTS", "")
        events = [e.strip() for e in env.split(",") if e.strip()]
    if not events:
        beside = [b for b in (events_beside(e) for e in endpoints or []) if b]
        events = beside[:1] or [w.DEFAULT_EVENTS]
    return list(events)


class Sequencer:
    """Decides, event by event: "new" (yield it), "seen" (a duplicate from
    another member, or from before the listing), or "gap" (events were
    missed: list again)."""

    def __init__(self) -> None:
        self.last: Optional[int] = None

    def take(self, event: Event) -> str:
        if self.last is None or event.seq == self.last + 1:
            self.last = event.seq
            return "new"
        if event.seq <= self.last:
            return "seen"
        self.last = event.seq
        return "gap"


def wanted(event: Event, prefix: Optional[str]) -> bool:
    return not prefix or (event.topic is not None and event.topic.name.startswith(prefix))

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
    another member, or from before the listing), "gap" (events were missed:
    list again), "notice" (a member's notice: yield it, seqs untouched) or
    "rejoined" (an isolated member rejoined its cluster: its provisional
    events are withdrawn; yield it, list again, go on from its seq)."""

    def __init__(self) -> None:
        self.last: Optional[int] = None

    def take(self, event: Event) -> str:
        if event.notice:
            if event.name == "member.rejoined":
                self.last = event.seq
                return "rejoined"
            return "notice"
        if self.last is None or event.seq == self.last + 1:
            self.last = event.seq
            return "new"
        if event.seq <= self.last:
            return "seen"
        self.last = event.seq
        return "gap"


def wanted(event: Event, prefix: Optional[str]) -> bool:
    if not prefix or event.name in ("member.isolated", "member.rejoined"):
        return True
    name = event.topic.name if event.topic is not None else \
        event.subscription.topic if event.subscription is not None else \
        event.conflict.topic if event.conflict is not None else None
    return name is not None and name.startswith(prefix)

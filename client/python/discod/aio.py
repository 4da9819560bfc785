"""discod.aio: the client, session and watch for asyncio programs, on
zmq.asyncio. No call blocks the event loop.

The asyncio Client runs the same calls as discod.Client, with the same Lazy
Pirate behaviour, but each call borrows a REQ socket of its own from a pool,
so any number of calls (held WAITs above all) are in flight at once on one
loop. A socket whose try timed out is closed, never returned to the pool.

Design notes: everything here runs on the event loop's thread; the pool and
the protocol table are touched only between awaits."""
from __future__ import annotations

import asyncio
import time
import socket
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Tuple, Union

import zmq
import zmq.asyncio

from . import _calls as C
from . import _wire as w
from ._core import Core, SessionState
from ._curve import apply_curve
from ._events import Sequencer, events_from, wanted
from ._wire import (Event, Lookup, Member, Node, Ping, Registration, Snapshot, TopicInfo,
                    check)

__all__ = ["Client", "Session", "watch"]


class Client(Core):
    """discod.Client for asyncio: the same arguments, the same calls, each a
    coroutine."""

    def __init__(self, endpoints: Union[str, List[str], None] = None, timeout_ms: int = 5000,
                 retries: int = 3, server_key: Optional[str] = None,
                 client_key: Optional[str] = None, protocol: int = 0):
        super().__init__(endpoints, timeout_ms, retries, server_key, client_key, protocol)
        self._ctx = zmq.asyncio.Context.instance()
        self._pool: Dict[str, List[zmq.asyncio.Socket]] = {}

    def _borrow(self, endpoint: str) -> zmq.asyncio.Socket:
        idle = self._pool.setdefault(endpoint, [])
        if idle:
            return idle.pop()
        sock = self._ctx.socket(zmq.REQ)
        sock.setsockopt(zmq.LINGER, 0)
        apply_curve(sock, endpoint, self.server_key, self.client_key)
        sock.connect(endpoint)
        return sock

    async def _request(self, body: Callable[[bool], Dict[str, Any]],
                       timeout_ms: Optional[int] = None,
                       tries: Optional[int] = None) -> Tuple[Dict[str, Any], bool]:
        tries = tries or self.retries
        wait_s = (timeout_ms or self.timeout_ms) / 1000.0
        attempt, fell_back = 0, False
        while attempt < tries:
            endpoint = self.endpoint
            v2 = self._wants_v2(endpoint)
            sock = self._borrow(endpoint)
            try:
                await sock.send(w.pack(body(v2)))
                raw = await asyncio.wait_for(sock.recv(), wait_s)
            except (asyncio.TimeoutError, zmq.ZMQError):
                sock.close(0)  # a REQ socket that missed its reply is stuck
                self._fail_over(endpoint)
                attempt += 1
                continue
            except BaseException:
                sock.close(0)  # cancelled mid-call: the socket's state is unknown
                raise
            self._pool[endpoint].append(sock)
            reply = w.unpack_reply(raw)
            if self._read(endpoint, reply, v2, fell_back):
                fell_back = True
                continue
            return reply, v2 and reply.get("v", 0) >= 2
        raise self._unreachable(tries)

    async def _run(self, call: C.Call, **kw: Any) -> Any:
        if call.needs_v2:
            if self.protocol == 0:
                await self.ping()
            if self.protocol == 1:
                raise self._unsupported(call.needs_v2)
        reply, v2 = await self._request(call.make, **kw)
        return call.parse(check(reply), v2)

    def close(self) -> None:
        for idle in self._pool.values():
            for sock in idle:
                sock.close(0)
        self._pool.clear()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    async def ping(self) -> Ping:
        return await self._run(C.ping())

    async def register(self, topic: Union[TopicInfo, str], address: Optional[str] = None,
                       message_type: str = "", fingerprint: int = 0, publisher_node: str = "",
                       *, metadata: Optional[Dict[str, str]] = None,
                       lease_ttl_ms: Optional[int] = None,
                       lease_id: Optional[int] = None) -> Registration:
        t = C.topic_of(topic, address, message_type, fingerprint, publisher_node, metadata)
        return await self._run(C.register(self._ids.take(), t, metadata, lease_ttl_ms, lease_id))

    async def unregister(self, name: str, node: Optional[str] = None) -> None:
        await self._run(C.unregister(self._ids.take(), name, node))

    async def lookup(self, name: str, node: Optional[str] = None) -> Lookup:
        return await self._run(C.lookup(name, node))

    async def list(self, prefix: Optional[str] = None, message_type: Optional[str] = None,
                   publisher_node: Optional[str] = None,
                   metadata: Optional[Dict[str, str]] = None) -> List[TopicInfo]:
        return await self._run(C.list_topics(prefix, message_type, publisher_node, metadata))

    async def wait(self, name: str, timeout_ms: int = 30000,
                   node: Optional[str] = None) -> Lookup:
        """As discod.Client.wait, without blocking the loop."""
        deadline = time.monotonic() + timeout_ms / 1000.0
        while True:
            left = int((deadline - time.monotonic()) * 1000)
            if left <= 0:
                raise w.NotFound(f"Timed out waiting for {name}")
            try:
                return await self._run(C.wait(name, left, node), timeout_ms=left + self.timeout_ms,
                                       tries=1)
            except w.NotFound:
                if self.protocol != 1:
                    continue
                await asyncio.sleep(min(0.2, left / 1000.0))
            except w.Refused:
                if self.protocol != 1:
                    raise
            except w.Unreachable:
                await asyncio.sleep(min(0.1, left / 1000.0))

    async def subscribe(self, topic: str, message_type: str = "", fingerprint: int = 0, *,
                        node: str, metadata: Optional[Dict[str, str]] = None,
                        lease_ttl_ms: Optional[int] = None,
                        lease_id: Optional[int] = None) -> w.Subscribed:
        """As discod.Client.subscribe."""
        return await self._run(C.subscribe(self._ids.take(), topic, node, message_type,
                                           fingerprint, metadata, lease_ttl_ms, lease_id))

    async def unsubscribe(self, topic: str, node: str) -> None:
        await self._run(C.unsubscribe(self._ids.take(), topic, node))

    async def graph(self, topic: Optional[str] = None, node: Optional[str] = None) -> w.Graph:
        return await self._run(C.graph(topic, node))

    async def heartbeat(self, lease_id: int) -> int:
        """Renews a lease (by datagram on an ipc endpoint when offered)."""
        reply = await _datagram(self.endpoint, C.heartbeat_body(lease_id))
        if reply is None:
            return await self._run(C.heartbeat(lease_id))
        self.epoch = int(reply.get("epoch", self.epoch))
        return int(check(reply).get("lease_ttl_ms", 0))

    async def revoke(self, lease_id: int) -> None:
        await self._run(C.revoke(self._ids.take(), lease_id))

    async def register_node(self, name: str, description: str = "",
                            capabilities: Optional[List[str]] = None,
                            metadata: Optional[Dict[str, str]] = None, *,
                            lease_ttl_ms: Optional[int] = None,
                            lease_id: Optional[int] = None) -> Registration:
        return await self._run(C.register_node(self._ids.take(), name, description,
                                               capabilities, metadata, lease_ttl_ms, lease_id))

    async def unregister_node(self, name: str) -> None:
        await self._run(C.unregister_node(self._ids.take(), name))

    async def node(self, name: str) -> Node:
        return await self._run(C.get_node(name))

    async def nodes(self, capability: Optional[str] = None) -> List[Node]:
        return await self._run(C.find_nodes(capability))

    async def capabilities(self) -> List[str]:
        return sorted({c for n in await self.nodes() for c in n.capabilities})

    async def stats(self) -> Dict[str, int]:
        return await self._run(C.stats())

    async def members(self) -> List[Member]:
        return await self._run(C.members())


async def _datagram(endpoint: str, body: Dict[str, Any],
                    timeout: float = 0.5) -> Optional[Dict[str, Any]]:
    """discod.client._datagram without blocking the loop."""
    path = w.heartbeat_path(endpoint)
    if not path:
        return None
    loop = asyncio.get_running_loop()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        s.setblocking(False)
        s.bind("")
        s.connect(path)
        await loop.sock_sendall(s, w.pack(body))
        return w.unpack_reply(await asyncio.wait_for(loop.sock_recv(s, 65536), timeout))
    except (OSError, asyncio.TimeoutError, w.ProtocolError):
        return None
    finally:
        s.close()


class Session(SessionState):
    """discod.Session for asyncio: a task renews the lease every TTL/3 and
    registers everything again after a restart or a lost lease. ``async
    with`` it, or ``await session.close()`` (which revokes the lease)."""

    def __init__(self, client: Optional[Client] = None, ttl_ms: int = 3000, **client_args: Any):
        super().__init__(ttl_ms)
        self.client = client or Client(**client_args)
        self._own_client = client is None
        self._lock = asyncio.Lock()
        self._task: Optional[asyncio.Task] = None

    def _start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def register(self, topic: Union[TopicInfo, str], address: Optional[str] = None,
                       message_type: str = "", fingerprint: int = 0, publisher_node: str = "",
                       *, metadata: Optional[Dict[str, str]] = None) -> Registration:
        self._start()
        t = C.topic_of(topic, address, message_type, fingerprint, publisher_node, metadata)
        async with self._lock:
            r = await self._register_locked(t)
            self._keep(t)
            return r

    async def unregister(self, name: str, node: Optional[str] = None) -> None:
        async with self._lock:
            await self.client.unregister(name, self._forget(name, node))

    async def subscribe(self, topic: str, message_type: str = "", fingerprint: int = 0, *,
                        node: str, metadata: Optional[Dict[str, str]] = None) -> w.Subscribed:
        """As discod.Session.subscribe."""
        self._start()
        args = {"topic": topic, "node": node, "message_type": message_type,
                "fingerprint": fingerprint, "metadata": metadata}
        async with self._lock:
            r = await self._subscribe_locked(args)
            self._keep_sub(args)
            return r

    async def unsubscribe(self, topic: str, node: str) -> None:
        async with self._lock:
            self._subs.pop((topic, node), None)
            await self.client.unsubscribe(topic, node)

    async def _subscribe_locked(self, args: Dict[str, Any]) -> w.Subscribed:
        return await self._leased_locked(lambda lease: self.client.subscribe(**args, **lease))

    async def _register_locked(self, t: TopicInfo) -> Registration:
        return await self._leased_locked(lambda lease: self.client.register(t, **lease))

    async def _leased_locked(self, write: Any) -> Any:
        """As discod.Session's: write(lease keys) is a coroutine here."""
        for _ in range(2):
            try:
                r = await write(self._register_args())
                self.lease_id = r.lease_id
                self._epoch = self.client.epoch
                return r
            except w.NotFound:
                if not self.lease_id:
                    raise
                self.lease_id = 0
        raise w.NotFound("lease lost twice")

    async def _register_all_locked(self) -> None:
        self.lease_id = 0
        for again in self._everything():
            try:
                await (self._register_locked(again) if isinstance(again, TopicInfo)
                       else self._subscribe_locked(again))
            except w.DiscodError:
                pass
        self.reregistrations += 1

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._renew_period())
            async with self._lock:
                if not self._holds_anything():
                    continue
                try:
                    lost = not self.lease_id
                    if not lost:
                        await self.client.heartbeat(self.lease_id)
                    if lost or self.client.epoch != self._epoch:
                        await self._register_all_locked()
                except w.NotFound:
                    await self._register_all_locked()
                except w.DiscodError:
                    pass

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        async with self._lock:
            if self.lease_id:
                try:
                    await self.client.revoke(self.lease_id)
                except w.DiscodError:
                    pass
                self.lease_id = 0
            self._topics.clear()
            self._subs.clear()
        if self._own_client:
            self.client.close()

    async def __aenter__(self) -> "Session":
        self._start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()


async def watch(client: Optional[Client] = None, events: Union[str, List[str], None] = None,
                prefix: Optional[str] = None, idle_timeout: Optional[float] = None,
                **client_args: Any) -> AsyncIterator[Union[Snapshot, Event]]:
    """discod.watch for asyncio: ``async for item in discod.aio.watch(): ...``"""
    own = client is None
    client = client or Client(**client_args)
    sub = zmq.asyncio.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    for ep in events_from(events, client.endpoints):
        sub.connect(ep)
    try:
        await asyncio.sleep(0.2)
        yield Snapshot(await client.list(prefix=prefix), "start")
        order = Sequencer()
        while True:
            try:
                frames = await asyncio.wait_for(sub.recv_multipart(), idle_timeout)
            except asyncio.TimeoutError:
                return
            try:
                event = w.event_from(frames[0], frames[1])
            except Exception:
                continue
            verdict = order.take(event)
            if verdict == "gap":
                yield Snapshot(await client.list(prefix=prefix), "gap")
            elif verdict in ("new", "notice", "rejoined") and wanted(event, prefix):
                yield event
            if verdict == "rejoined":
                yield Snapshot(await client.list(prefix=prefix), "rejoined")
    finally:
        sub.close(0)
        if own:
            client.close()

"""discod.cortex: a drop-in for Cortex's ``cortex.discovery.client.DiscoveryClient``.

A Cortex node does not build its DiscoveryClient itself: its ``Publisher``
and ``Subscriber`` do, from the name imported inside ``cortex.core``. So the
drop-in is installed, not imported::

    import discod.cortex
    discod.cortex.install()      # in the node's entry point, before or after
                                 # importing cortex; uninstall() undoes it

or, for a whole robot without touching any node, ``DISCOD_CORTEX=1`` in the
environment of the node's interpreter (the Debian package's start-up hook,
``discod-cortex.pth``, then calls install()).

Same constructor, same methods, same return values (bool, TopicInfo or None,
lists), same TopicInfo attributes. It takes any TopicInfo-shaped value:
Cortex's own TopicInfo, ours, a dataclass or object with the five
attributes, or a dict with the five keys. Underneath, against discod:
registrations hang on a lease a Session keeps alive, so a node that crashes
loses its topics within the lease TTL instead of waiting for the daemon's
probe; and waits are held by the daemon instead of polled. When Cortex's
Subscriber waits or looks up through it, the drop-in declares the
subscription (the Subscriber's node, message type and fingerprint, under the
same lease) and logs a WARNING when a publisher's type differs, where Cortex
would drop the messages silently. Against a legacy daemon it behaves exactly
like the original: plain registrations, polling."""
from __future__ import annotations

import asyncio
import importlib.abc
import importlib.util
import logging
import sys
from dataclasses import dataclass
from typing import Any, List, Optional

import msgpack

from . import _wire as w
from . import aio
from .client import Client
from .session import Session

logger = logging.getLogger(__name__)

DEFAULT_DISCOVERY_ADDRESS = w.DEFAULT_ENDPOINT
DEFAULT_LEASE_TTL_MS = 3000

FIELDS = ("name", "address", "message_type", "fingerprint", "publisher_node")


def _field_of(value: Any, field: str) -> Any:
    if isinstance(value, dict):
        if field not in value:
            raise TypeError(f"topic_info has no '{field}' key (a TopicInfo needs "
                            f"{', '.join(FIELDS)})")
        return value[field]
    try:
        return getattr(value, field)
    except AttributeError:
        raise TypeError(f"topic_info ({type(value).__name__}) has no '{field}' attribute "
                        f"(a TopicInfo needs {', '.join(FIELDS)})") from None


def topic_info_of(value: Any) -> "TopicInfo":
    """Any TopicInfo-shaped value as our TopicInfo: Cortex's own, ours, a
    dataclass or object with the five attributes, or a dict with the five
    keys. A missing field is a TypeError naming it; a field of the wrong type
    a TypeError, an unusable value (an empty name, a fingerprint outside 64
    bits) a ValueError, each naming the field."""
    if isinstance(value, TopicInfo):
        return value
    if value is None:
        raise TypeError("topic_info is None (a TopicInfo needs " + ", ".join(FIELDS) + ")")
    got = {f: _field_of(value, f) for f in FIELDS}
    for f in ("name", "address", "message_type", "publisher_node"):
        if not isinstance(got[f], str):
            raise TypeError(f"topic_info.{f} must be a str, not {type(got[f]).__name__}")
    if not got["name"]:
        raise ValueError("topic_info.name must not be empty")
    if isinstance(got["fingerprint"], bool) or not isinstance(got["fingerprint"], int):
        raise TypeError("topic_info.fingerprint must be an int, not "
                        f"{type(got['fingerprint']).__name__}")
    if not 0 <= got["fingerprint"] < 1 << 64:
        raise ValueError(f"topic_info.fingerprint {got['fingerprint']} is not a 64-bit "
                         "unsigned integer")
    return TopicInfo(**got)


@dataclass(eq=False)
class TopicInfo:
    """Cortex's TopicInfo: the same attributes and the same packing, and
    equal to any TopicInfo (Cortex's included) with the same five fields."""

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

    def _fields(self) -> tuple:
        return tuple(getattr(self, f) for f in FIELDS)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, TopicInfo):
            return self._fields() == other._fields()
        if all(hasattr(other, f) for f in FIELDS):
            return self._fields() == tuple(getattr(other, f) for f in FIELDS)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, as Cortex's

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
        self._declared: set = set()  # (topic, node) subscriptions declared
        self._warned: set = set()    # mismatches already logged

    def _session_for_leases(self) -> Session:
        if self._session is None:
            self._session = Session(self._client, ttl_ms=self.lease_ttl_ms)
        return self._session

    def _warn(self, topic_name: str, node: str, mismatches: List[w.Mismatch]) -> None:
        """One WARNING per publisher whose type the subscriber does not expect."""
        for m in mismatches:
            key = (topic_name, node, m.node, m.message_type, m.fingerprint)
            if key in self._warned:
                continue
            self._warned.add(key)
            logger.warning(f"Type mismatch on {topic_name}: subscriber {node} expects "
                           f"{m.expected_type or 'any type'} (fingerprint "
                           f"{m.expected_fingerprint}) but {m.node} publishes "
                           f"{m.message_type} (fingerprint {m.fingerprint}) at {m.address}; "
                           f"its messages would be dropped")

    def _declare(self, topic_name: str, sub: Optional[tuple]) -> Optional[str]:
        """Declares the calling Subscriber's subscription (once); returns its
        node, or None when the caller is not a Subscriber or the daemon is a
        legacy one."""
        if sub is None or not self._leases():
            return None
        node, type_name, fingerprint = sub
        if (topic_name, node) not in self._declared:
            try:
                r = self._session_for_leases().subscribe(topic_name, type_name, fingerprint,
                                                         node=node)
                self._declared.add((topic_name, node))
                for m in r.mismatch:
                    m.subscriber_node, m.expected_type = node, type_name
                    m.expected_fingerprint = fingerprint
                self._warn(topic_name, node, r.mismatch)
            except w.DiscodError as e:
                logger.debug(f"Could not declare the subscription to {topic_name}: {e}")
        return node

    def _told(self, topic_name: str, sub: Optional[tuple], found: w.Lookup) -> None:
        if sub is not None:
            for m in found.mismatch:
                m.subscriber_node, m.expected_type, m.expected_fingerprint = sub
            self._warn(topic_name, sub[0], found.mismatch)

    def _leases(self) -> bool:
        """Does the daemon speak protocol 2 (leases, held waits)?"""
        if self._client.protocol == 0:
            self._client.ping()
        return self._client.protocol == 2

    def register_topic(self, topic_info: Any) -> bool:
        """Registers a topic (any TopicInfo-shaped value, see topic_info_of);
        True on success (as Cortex). A value that is not TopicInfo-shaped
        raises TypeError or ValueError naming the field."""
        topic_info = topic_info_of(topic_info)
        try:
            if self._leases():
                self._session_for_leases().register(topic_info._wire())
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
        sub = _subscriber_of(self)
        try:
            node = self._declare(topic_name, sub)
            found = self._client.lookup(topic_name, node)
            self._told(topic_name, sub, found)
            return TopicInfo._of(found.topic)
        except w.NotFound:
            return None
        except w.DiscodError as e:
            logger.error(f"Failed to lookup topic: {e.message or e}")
            return None

    def wait_for_topic(self, topic_name: str, timeout: float = 30.0,
                       poll_interval: float = 0.5) -> Optional[TopicInfo]:
        """Waits for the topic (held by the daemon; polled every poll_interval
        against a legacy daemon). None when the time runs out."""
        sub = _subscriber_of(self)
        try:
            if not self._leases():
                return self._poll(topic_name, timeout, poll_interval)
            node = self._declare(topic_name, sub)
            found = self._client.wait(topic_name, int(timeout * 1000), node)
            self._told(topic_name, sub, found)
            return TopicInfo._of(found.topic)
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
        sub = _subscriber_of(self)
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
            node = await asyncio.get_running_loop().run_in_executor(
                None, self._declare, topic_name, sub)
            found = await client.wait(topic_name, int(timeout * 1000), node)
            self._told(topic_name, sub, found)
            return TopicInfo._of(found.topic)
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


def _subscriber_of(client: DiscoveryClient) -> Optional[tuple]:
    """Cortex's Subscriber builds its DiscoveryClient and waits or looks up
    through it from its own methods: when a caller a few frames up is an
    object holding this client with a topic_name and a message_type, its
    subscription as (node, type name, fingerprint). A message type is a
    Cortex Message class (its __name__ and fingerprint(), as the Publisher
    registers them) or a str (fingerprint 0: any). None otherwise."""
    frame = sys._getframe(2)
    for _ in range(4):
        if frame is None:
            return None
        owner = frame.f_locals.get("self")
        if owner is not None and owner is not client and \
                any(v is client for v in getattr(owner, "__dict__", {}).values()) and \
                hasattr(owner, "topic_name") and hasattr(owner, "message_type"):
            kind = owner.message_type
            node = str(getattr(owner, "node_name", "") or "anonymous")
            if isinstance(kind, str):
                return node, kind, 0
            try:
                fingerprint = int(kind.fingerprint())
            except Exception:
                fingerprint = 0
            return node, getattr(kind, "__name__", str(kind)), fingerprint & ((1 << 64) - 1)
        frame = frame.f_back
    return None


# ==== install(): Cortex's own Publisher, Subscriber and Node use the drop-in ====

_CLIENT_MODULE = "cortex.discovery.client"
_original: Optional[type] = None       # Cortex's DiscoveryClient, once seen
_finder: Optional["_CortexFinder"] = None


def _swap(old: type, new: type) -> None:
    """Every loaded cortex module (the client module, the package, cortex.core.*
    that imported the name) whose DiscoveryClient is old gets new."""
    for name, module in list(sys.modules.items()):
        if module is not None and (name == "cortex" or name.startswith("cortex.")) and \
                getattr(module, "DiscoveryClient", None) is old:
            setattr(module, "DiscoveryClient", new)


def _patch_loaded() -> None:
    """Replaces Cortex's DiscoveryClient wherever a loaded cortex module holds
    it (remembering the original the first time it is seen)."""
    global _original
    client_module = sys.modules.get(_CLIENT_MODULE)
    if client_module is None:
        return
    current = getattr(client_module, "DiscoveryClient", None)
    if _original is None and current is not None and current is not DiscoveryClient:
        _original = current
    if _original is not None:
        _swap(_original, DiscoveryClient)


class _PatchingLoader(importlib.abc.Loader):
    """Runs the real loader of cortex.discovery.client, then patches, so every
    module importing the name afterwards gets the drop-in."""

    def __init__(self, loader: Any):
        self._loader = loader

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        sys.modules[module.__name__] = module
        _patch_loaded()


class _CortexFinder(importlib.abc.MetaPathFinder):
    """Waits for cortex.discovery.client to be imported (install() before
    Cortex is): finds it with the other finders, then wraps its loader."""

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname != _CLIENT_MODULE:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader)
                return spec
        return None


def _cortex_importable() -> bool:
    if "cortex" in sys.modules:
        return True
    try:
        return importlib.util.find_spec("cortex") is not None
    except (ImportError, ValueError):
        return False


def install() -> bool:
    """From now on Cortex's own Publisher, Subscriber and Node use the
    drop-in: DiscoveryClient is replaced in cortex.discovery,
    cortex.discovery.client and every cortex module that imported the name,
    whether they are imported before or after this call. Idempotent. Returns
    True when installed, False (with a debug log) when Cortex is not
    importable here."""
    global _finder
    if not _cortex_importable():
        logger.debug("discod.cortex.install(): Cortex is not importable; nothing installed")
        return False
    _patch_loaded()
    if _finder is None:
        _finder = _CortexFinder()
        sys.meta_path.insert(0, _finder)
    logger.debug("discod.cortex.install(): Cortex's DiscoveryClient is discod's")
    return True


def uninstall() -> None:
    """Restores Cortex's own DiscoveryClient everywhere install() replaced
    it, and stops replacing it in modules imported later."""
    global _finder
    if _finder is not None:
        try:
            sys.meta_path.remove(_finder)
        except ValueError:
            pass
        _finder = None
    # Every cortex module holding the drop-in, also those imported after
    # install() (they took the name from the patched client module).
    if _original is not None:
        _swap(DiscoveryClient, _original)


def installed() -> bool:
    """Is the drop-in installed (install() called and not undone)?"""
    return _finder is not None

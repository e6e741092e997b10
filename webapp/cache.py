"""The caches of the hot paths: a per-process local layer in front of a shared one.

- :class:`LocalLayer`: this process's answers (active models, credentials, routing plans)
  as ready objects in a dict, so a warm lookup costs a dict read, not a Redis round trip.
  Every entry carries the database generation (``queries.lookup``) read before it was
  computed; the layer serves it only while that is still the newest generation the
  process knows, and only while that knowledge is at most ``lookup.GENERATION_MAX_AGE``
  (a second) old.
- :class:`Invalidations`: how a commit in one worker reaches the local layer of every
  other one at once. With Redis, a commit that moves the generation publishes it on a
  channel; one listener thread per process (per Redis URL and channel) applies it to
  every local layer of that process. While that listener is not subscribed (Redis
  down, restarting) the local layers serve nothing, and on every (re)subscription they
  are emptied, since messages may have been missed. Without Redis the generation alone
  carries changes between processes (within that second).
- The shared backend (in-process by default, Redis when configured), for what must be
  the same in every worker (the active-model answers, the circuit breaker): values are
  JSON-serialisable so every worker process can read what another wrote. A Redis outage
  never breaks a request: reads become misses (the caller falls back to the database)
  and the failure is logged once per minute.

Each application keeps its own backend in ``app.extensions["cache"]`` and its own local
layer in ``app.extensions["local_cache"]``; the module-level ``cache`` object resolves
them through ``current_app``, so two apps in one process (tests, a CLI next to a server)
never share or overwrite each other's cache.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
import weakref
from typing import Any, Protocol

import redis
from flask import current_app
from flask.globals import _cv_app  # the app context without LocalProxy's µs per access

log = logging.getLogger(__name__)

MISSING = object()
LOCAL_MAX_ENTRIES = 20_000


class CacheBackend(Protocol):
    def get(self, key: str) -> Any: ...
    def get_many(self, keys: list[str]) -> list[Any]: ...
    def incr(self, key: str) -> None: ...
    def set(self, key: str, value: Any, ttl: int) -> None: ...
    def delete_many(self, keys: list[str]) -> None: ...
    def clear(self) -> None: ...


class MemoryCache:
    """Thread-safe TTL cache for one process (the embedded default)."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return MISSING
            expires, value = item
            if expires < time.monotonic():
                del self._data[key]
                return MISSING
            return value

    def get_many(self, keys: list[str]) -> list[Any]:
        return [self.get(k) for k in keys]

    def set(self, key: str, value: Any, ttl: int) -> None:
        with self._lock:
            self._data[key] = (time.monotonic() + ttl, value)

    def incr(self, key: str) -> None:
        with self._lock:
            item = self._data.get(key)
            self._data[key] = (float("inf"), (item[1] if item else 0) + 1)

    def delete_many(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


class RedisCache:
    """Shared cache: every worker sees the same entries and the same invalidations."""

    def __init__(self, url: str, prefix: str = "mcp:") -> None:
        self.prefix = prefix
        self.client = redis.Redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=0.5, health_check_interval=30
        )
        self._last_warning = 0.0

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > 60:
            self._last_warning = now
            log.warning("cache unavailable, falling back to the database: %s", exc)

    def get(self, key: str) -> Any:
        try:
            raw = self.client.get(self.prefix + key)
        except redis.RedisError as exc:
            self._warn(exc)
            return MISSING
        if raw is None:
            return MISSING
        return json.loads(raw)

    def get_many(self, keys: list[str]) -> list[Any]:
        try:
            raws = self.client.mget([self.prefix + k for k in keys])
        except redis.RedisError as exc:
            self._warn(exc)
            return [MISSING] * len(keys)
        return [MISSING if raw is None else json.loads(raw) for raw in raws]

    def incr(self, key: str) -> None:
        try:
            self.client.incr(self.prefix + key)
        except redis.RedisError as exc:
            self._lost_invalidation(exc)

    def _lost_invalidation(self, exc: Exception) -> None:
        # The change committed and moved the database generation: every worker drops
        # its old answer within a second of reading it, whatever Redis remembers.
        log.error("cache invalidation failed; workers catch up through the database: %s", exc)

    def set(self, key: str, value: Any, ttl: int) -> None:
        try:
            self.client.set(self.prefix + key, json.dumps(value), ex=ttl)
        except redis.RedisError as exc:
            self._warn(exc)

    def delete_many(self, keys: list[str]) -> None:
        if not keys:
            return
        try:
            self.client.delete(*(self.prefix + k for k in keys))
        except redis.RedisError as exc:
            self._lost_invalidation(exc)

    def clear(self) -> None:
        try:
            keys = list(self.client.scan_iter(match=self.prefix + "*", count=500))
            if keys:
                self.client.delete(*keys)
        except redis.RedisError as exc:
            self._warn(exc)
            raise

    def publish(self, channel: str, message: str) -> None:
        try:
            self.client.publish(channel, message)
        except redis.RedisError as exc:
            self._lost_invalidation(exc)

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False


class LocalLayer:
    """This process's cached answers, one per application (see the module)."""

    def __init__(self, pushed: bool) -> None:
        self.entries: dict[Any, tuple[int, float, Any]] = {}
        self.generation = 0
        # The generation at the last change to a token or an admin: what a cached token
        # is checked against, so a model switch does not send every token back to the
        # database.
        self.token_generation = 0
        self.read_at = -math.inf  # when the database's generation was last read (monotonic)
        self.trusted_until = -math.inf  # serve entries until then (monotonic)
        # With a push channel (Redis) the layer serves only while subscribed to it.
        self.live = not pushed
        self.epoch = 0  # moves at every (re)subscription and loss of it
        self._lock = threading.Lock()

    def get(self, key) -> Any:
        """The entry's value, or MISSING (absent, from an older generation, expired, or
        the generation not confirmed for a while: the caller reads it and asks again)."""
        entry = self.entries.get(key)
        if entry is None or entry[0] != self.generation:
            return MISSING
        now = time.monotonic()
        if now < self.trusted_until and now < entry[1]:
            return entry[2]
        return MISSING

    def fresh(self, max_age: float) -> bool:
        """Whether the generation was read from the database less than ``max_age`` ago."""
        return time.monotonic() - self.read_at < max_age

    def put(self, key, value: Any, generation: int, ttl: float) -> None:
        """Keep ``value``, computed from a snapshot taken after ``generation`` was read."""
        if ttl <= 0:
            return
        if len(self.entries) >= LOCAL_MAX_ENTRIES:
            self.entries.clear()
        self.entries[key] = (generation, time.monotonic() + ttl, value)

    def read_generation(self, value: int, epoch: int, max_age: float, tokens: int = 0) -> None:
        """The database said ``value`` (and ``tokens`` for the tokens' generation), in a
        read begun after ``epoch`` was taken: trust it for ``max_age`` seconds."""
        with self._lock:
            if epoch != self.epoch:  # the channel came or went meanwhile: read again
                return
            if value < self.generation:  # a read that began before a pushed change, or a
                self._move(value)  # restored database: read again before serving
                self.token_generation = tokens
                self.read_at = self.trusted_until = -math.inf
                return
            if value > self.generation:
                self._move(value)
            self.token_generation = max(self.token_generation, tokens)
            self.read_at = now = time.monotonic()
            self.trusted_until = now + max_age if self.live else -math.inf

    def pushed_generation(self, value: int, tokens: bool = False) -> None:
        """A commit (here or in another process) moved the generation to ``value``;
        ``tokens``: it changed a token or an admin too."""
        with self._lock:
            if value > self.generation:
                self._move(value)
            if tokens:
                self.token_generation = max(self.token_generation, value)

    def subscribed(self, live: bool) -> None:
        """The push channel was (re)joined or lost: forget everything either way."""
        with self._lock:
            self.epoch += 1
            self.live = live
            self.entries.clear()
            self.trusted_until = -math.inf
            if live:  # what was missed while away: the database says, before serving
                self.read_at = -math.inf

    def clear(self) -> None:
        with self._lock:
            self.entries.clear()

    def _move(self, value: int) -> None:
        self.generation = value
        self.entries.clear()


class Invalidations:
    """One listener thread per process for a Redis URL and channel, feeding every local
    layer registered with it (an application each; tests build many per process)."""

    RETRY_SECONDS = 0.5
    _registry: dict[tuple[str, str], Invalidations] = {}
    _registry_lock = threading.Lock()

    def __init__(self, url: str, channel: str) -> None:
        self.url, self.channel = url, channel
        self.layers: weakref.WeakSet[LocalLayer] = weakref.WeakSet()
        self.connected = threading.Event()
        self._pid = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._lost = False

    @classmethod
    def for_channel(cls, url: str, channel: str) -> Invalidations:
        with cls._registry_lock:
            found = cls._registry.get((url, channel))
            if found is None:
                found = cls._registry[(url, channel)] = cls(url, channel)
            return found

    def register(self, layer: LocalLayer) -> None:
        with self._lock:
            self.layers.add(layer)
            if self.connected.is_set() and self._pid == os.getpid():
                layer.subscribed(True)

    def ensure_listening(self) -> None:
        """Start the listener in this process (again after a fork); cheap when running."""
        if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            if self._pid != os.getpid():  # forked: the parent's subscription is not ours
                self.connected.clear()
                for layer in list(self.layers):
                    layer.subscribed(False)
            self._pid = os.getpid()
            self._thread = threading.Thread(
                target=self._run, name="cache-invalidations", daemon=True
            )
            self._thread.start()

    def registered(self) -> list[LocalLayer]:
        with self._lock:
            return list(self.layers)

    def _run(self) -> None:
        self._lost = False
        while self.registered():
            try:
                self._listen()
            except (redis.RedisError, OSError, ValueError) as exc:
                if not self._lost:  # one line per outage, one when it ends
                    self._lost = True
                    log.warning("cache invalidations: lost the channel, retrying: %s", exc)
            self.connected.clear()
            for layer in self.registered():
                layer.subscribed(False)
            time.sleep(self.RETRY_SECONDS)
        with self._registry_lock:  # every application is gone: stop
            if self._registry.get((self.url, self.channel)) is self:
                del self._registry[(self.url, self.channel)]

    def _listen(self) -> None:
        client = redis.Redis.from_url(
            self.url, socket_connect_timeout=0.5, socket_timeout=5, health_check_interval=2
        )
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(self.channel)
            while pubsub.get_message(timeout=1.0) is None:  # the subscription's confirmation
                pass
            with self._lock:  # layers first: ``connected`` means they are live
                for layer in self.layers:
                    layer.subscribed(True)
                self.connected.set()
            if self._lost:
                self._lost = False
                log.warning("cache invalidations: listening again on %s", self.channel)
            while True:
                message = pubsub.get_message(timeout=1.0)
                if message is None:
                    if not self.registered():
                        return
                    continue
                if message.get("type") != "message":
                    continue
                try:
                    value, tokens = parse_push(message["data"])
                except (TypeError, ValueError):
                    continue
                for layer in self.registered():
                    layer.pushed_generation(value, tokens)
        finally:
            pubsub.close()
            client.close()


def push_message(value: int, tokens: bool) -> str:
    """What a commit publishes: the new generation, and ``t`` when it changed tokens."""
    return f"{value} t" if tokens else str(value)


def parse_push(data: bytes | str) -> tuple[int, bool]:
    """``push_message`` read back (ValueError when it is not one)."""
    text = data.decode() if isinstance(data, bytes) else data
    value, _, flag = text.partition(" ")
    if flag not in ("", "t"):
        raise ValueError(text)
    return int(value), flag == "t"


def local_layer() -> LocalLayer:
    """The current application's local layer (a context-variable read and a dict read)."""
    return _cv_app.get().app.extensions["local_cache"]


def backend_for(url: str, prefix: str = "mcp:") -> CacheBackend:
    """The backend ``CACHE_URL`` names: Redis, or this process's memory."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisCache(url, prefix=prefix)
    if url in ("", "memory://", "simple"):
        return MemoryCache()
    raise RuntimeError(f"CACHE_URL must be redis://… or empty, got {url!r}")


class CacheProxy:
    """The unbound extension object: ``init_app`` gives each application the backend its
    ``CACHE_URL`` names; every call goes to the current application's."""

    def init_app(self, app) -> None:
        url = app.config.get("CACHE_URL") or ""
        prefix = app.config.get("CACHE_KEY_PREFIX", "mcp:")
        backend = backend_for(url, prefix)
        app.extensions["cache"] = backend
        layer = LocalLayer(pushed=isinstance(backend, RedisCache))
        app.extensions["local_cache"] = layer
        if isinstance(backend, RedisCache):
            invalidations = Invalidations.for_channel(url, prefix + "invalidations")
            invalidations.register(layer)
            app.extensions["cache_invalidations"] = invalidations

    def listening(self) -> None:
        """Make sure this process hears other processes' invalidations (no-op without Redis)."""
        invalidations = current_app.extensions.get("cache_invalidations")
        if invalidations is not None:
            invalidations.ensure_listening()

    def publish_generation(self, value: int, tokens: bool = False) -> None:
        """Tell every process's local layers that the generation moved to ``value`` (and
        whether tokens or admins changed): this process's at once, the others' through
        Redis."""
        backend = self.backend
        if isinstance(backend, RedisCache):
            invalidations = current_app.extensions["cache_invalidations"]
            for layer in invalidations.registered():
                layer.pushed_generation(value, tokens)
            backend.publish(backend.prefix + "invalidations", push_message(value, tokens))

    @property
    def backend(self) -> CacheBackend:
        return current_app.extensions["cache"]

    def get(self, key: str) -> Any:
        return self.backend.get(key)

    def get_many(self, keys: list[str]) -> list[Any]:
        return self.backend.get_many(keys)

    def set(self, key: str, value: Any, ttl: int) -> None:
        self.backend.set(key, value, ttl)

    def incr(self, key: str) -> None:
        self.backend.incr(key)

    def delete_many(self, keys: list[str]) -> None:
        self.backend.delete_many(keys)

    def clear(self) -> None:
        current_app.extensions["local_cache"].clear()
        self.backend.clear()

    @property
    def is_shared(self) -> bool:
        return isinstance(self.backend, RedisCache)

"""A small key/value cache with a TTL: in-process by default, Redis when configured.

Only what the active-model lookup needs: ``get``, ``set``, ``delete_many`` and
``clear``. Values are JSON-serialisable so every worker process can read what
another wrote. A Redis outage never breaks a request: reads become misses (the
caller falls back to the database) and the failure is logged once per minute.
An invalidation Redis misses is not made good here: the lookup also checks a
generation kept in the database (``queries.lookup``), which survives any outage.

Each application keeps its own backend in ``app.extensions["cache"]``; the module-level
``cache`` object resolves it through ``current_app``, so two apps in one process (tests,
a CLI next to a server) never share or overwrite each other's cache.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Protocol

import redis
from flask import current_app

log = logging.getLogger(__name__)

MISSING = object()


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

    def ping(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False


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
        app.extensions["cache"] = backend_for(
            app.config.get("CACHE_URL") or "", app.config.get("CACHE_KEY_PREFIX", "mcp:")
        )

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
        self.backend.clear()

    @property
    def is_shared(self) -> bool:
        return isinstance(self.backend, RedisCache)

"""A small key/value cache with a TTL: in-process by default, Redis when configured.

Only what the active-model lookup needs: ``get``, ``set``, ``delete_many`` and
``clear``. Values are JSON-serialisable so every worker process can read what
another wrote. A Redis outage never breaks a request: reads become misses (the
caller falls back to the database) and the failure is logged once per minute.
An invalidation Redis misses is not made good here: the lookup also checks a
generation kept in the database (``services.lookup``), which survives any outage.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Protocol

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
        import redis

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
        import redis

        try:
            raw = self.client.get(self.prefix + key)
        except redis.RedisError as exc:
            self._warn(exc)
            return MISSING
        if raw is None:
            return MISSING
        return json.loads(raw)

    def get_many(self, keys: list[str]) -> list[Any]:
        import redis

        try:
            raws = self.client.mget([self.prefix + k for k in keys])
        except redis.RedisError as exc:
            self._warn(exc)
            return [MISSING] * len(keys)
        return [MISSING if raw is None else json.loads(raw) for raw in raws]

    def incr(self, key: str) -> None:
        import redis

        try:
            self.client.incr(self.prefix + key)
        except redis.RedisError as exc:
            self._lost_invalidation(exc)

    def _lost_invalidation(self, exc: Exception) -> None:
        # The change committed and moved the database generation: every worker drops
        # its old answer within a second of reading it, whatever Redis remembers.
        log.error("cache invalidation failed; workers catch up through the database: %s", exc)

    def set(self, key: str, value: Any, ttl: int) -> None:
        import redis

        try:
            self.client.set(self.prefix + key, json.dumps(value), ex=ttl)
        except redis.RedisError as exc:
            self._warn(exc)

    def delete_many(self, keys: list[str]) -> None:
        import redis

        if not keys:
            return
        try:
            self.client.delete(*(self.prefix + k for k in keys))
        except redis.RedisError as exc:
            self._lost_invalidation(exc)

    def clear(self) -> None:
        import redis

        try:
            keys = list(self.client.scan_iter(match=self.prefix + "*", count=500))
            if keys:
                self.client.delete(*keys)
        except redis.RedisError as exc:
            self._warn(exc)
            raise

    def ping(self) -> bool:
        import redis

        try:
            return bool(self.client.ping())
        except redis.RedisError:
            return False


class CacheProxy:
    """The unbound extension object; ``init_app`` picks the backend from ``CACHE_URL``."""

    def __init__(self) -> None:
        self.backend: CacheBackend = MemoryCache()

    def init_app(self, app) -> None:
        url = app.config.get("CACHE_URL") or ""
        if url.startswith(("redis://", "rediss://", "unix://")):
            self.backend = RedisCache(url, prefix=app.config.get("CACHE_KEY_PREFIX", "mcp:"))
        elif url in ("", "memory://", "simple"):
            self.backend = MemoryCache()
        else:
            raise RuntimeError(f"CACHE_URL must be redis://… or empty, got {url!r}")
        app.extensions["mcp_cache"] = self

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

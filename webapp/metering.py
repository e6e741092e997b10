"""Metering (DESIGN.md §10): every AI call leaves one ``usage_call`` row, written off the
call path.

``record(...)`` only appends a small dict to a per-process buffer (no lock, no I/O: a few
microseconds). A background thread writes the buffer in batches, every
``FLUSH_INTERVAL`` seconds or as soon as ``BATCH_SIZE`` rows wait, and the rest is written
at a clean shutdown (``atexit``, and gunicorn's ``worker_exit`` hook calls
:func:`flush_all`). A failed write is logged and tried again with the next batch; past
``MAX_BACKLOG`` waiting rows the oldest are dropped, so a database outage cannot grow a
worker's memory without end.

What a row holds is what :func:`row` lists: never the prompt, the answer or the key.
Gateway calls are recorded by ``webapp.gateway``; ``webapp.ai`` service calls can call
:func:`record` with ``origin="service"``.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections import deque

from flask import Flask, current_app
from sqlalchemy import insert

from webapp import rollup
from webapp.extensions import db
from webapp.models import UsageCall, utcnow

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0  # seconds between writes
BATCH_SIZE = 200  # rows that wake the writer early
MAX_BACKLOG = 50_000  # rows kept while the database cannot be written
IDLE_STOP = 30  # empty rounds after which the writer thread ends (started again on demand)

GATEWAY = "gateway"
SERVICE = "service"

_meters: weakref.WeakSet[Meter] = weakref.WeakSet()


class Meter:
    """One application's buffer and its writer thread (one per process: started lazily,
    so a worker forked after the app was built gets its own)."""

    def __init__(self, app: Flask):
        self._app = app
        self._rows: deque[dict] = deque()
        self._wake = threading.Event()
        self._start_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False
        _meters.add(self)

    def add(self, row: dict) -> None:
        if self._closed:
            return
        self._rows.append(row)
        thread = self._thread
        if thread is None or self._pid != os.getpid() or not thread.is_alive():
            self._start()
        if len(self._rows) >= BATCH_SIZE:
            self._wake.set()

    @property
    def pending(self) -> int:
        return len(self._rows)

    def _start(self) -> None:
        with self._start_lock:
            if self._pid != os.getpid():  # forked: the parent's thread is not ours
                self._pid, self._thread = os.getpid(), None
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="metering", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        idle = 0
        while True:
            self._wake.wait(FLUSH_INTERVAL)
            self._wake.clear()
            if self.flush():
                idle = 0
                continue
            idle += 1
            if idle >= IDLE_STOP:
                with self._start_lock:
                    if not self._rows:
                        self._thread = None
                        return
                idle = 0

    def close(self) -> None:
        """Write what waits and take no more rows: the application is going away (a test's
        app, whose database the next one reuses)."""
        self._closed = True
        self.flush()

    def flush(self) -> int:
        """Write every waiting row now; returns how many were written."""
        written = 0
        with self._flush_lock:
            while self._rows:
                batch = []
                while self._rows and len(batch) < 1000:
                    batch.append(self._rows.popleft())
                try:
                    with self._app.app_context(), db.engine.begin() as conn:
                        conn.execute(insert(UsageCall.__table__), batch)
                        rollup.roll_up(conn, batch)  # the hourly rollups, same transaction
                except Exception:
                    log.exception(
                        "could not write %d usage rows; kept for the next try", len(batch)
                    )
                    self._rows.extendleft(reversed(batch))
                    while len(self._rows) > MAX_BACKLOG:
                        self._rows.popleft()
                    break
                written += len(batch)
        return written


def init_app(app: Flask) -> None:
    app.extensions["metering"] = Meter(app)


def current_meter() -> Meter:
    return current_app.extensions["metering"]


def row(
    *,
    origin: str,
    outcome: str,
    latency_ms: int,
    admin_id: int | None = None,
    token_id: int | None = None,
    provider: str | None = None,
    capability: str | None = None,
    model: str | None = None,
    route: str | None = None,
    key_source: str | None = None,
    http_status: int | None = None,
    first_chunk_ms: int | None = None,
    prompt_tokens: int | None = None,
    completion_tokens: int | None = None,
) -> dict:
    """One usage row, stamped now. Token counts that are not whole numbers are dropped."""
    return {
        "at": utcnow(),
        "origin": origin,
        "admin_id": admin_id,
        "token_id": token_id,
        "provider": provider,
        "capability": capability,
        "model": model,
        "route": route,
        "key_source": key_source,
        "outcome": outcome,
        "http_status": http_status,
        "latency_ms": int(latency_ms),
        "first_chunk_ms": None if first_chunk_ms is None else int(first_chunk_ms),
        "prompt_tokens": _count(prompt_tokens),
        "completion_tokens": _count(completion_tokens),
    }


def _count(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return value


def record(*, meter: Meter | None = None, **fields) -> None:
    """Meter one call (see :func:`row` for the fields). Cheap: the write happens later.
    ``meter`` lets code that runs outside the app context (a streamed answer) pass the
    one it took while it had it."""
    (meter or current_meter()).add(row(**fields))


def flush_all() -> None:
    """Write what every application of this process still holds (clean shutdown)."""
    for meter in list(_meters):
        try:
            meter.flush()
        except Exception:
            log.exception("could not flush the usage buffer")


atexit.register(flush_all)

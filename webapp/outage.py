"""Whether this process last saw the database fail: one log line when it goes away,
one when a statement succeeds again, never a traceback per request. Each line names
the process (a gunicorn worker), so an outage shows as one pair per worker.

Reads the caches can answer keep working while the database is away (the
active-model lookup and the token check, ``queries.lookup`` and ``queries.tokens``);
``webapp.unavailable`` answers everything else with 503.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from webapp.extensions import db

log = logging.getLogger(__name__)


# An error this soon after the database came back is the same outage (a request that
# held a connection across the restart), not a new one: no second pair of lines.
FLAP_S = 10.0


class _State:
    """Whether this process last saw the database fail (guards the log lines)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.down = False
        self.quiet = False  # this stretch of being down was not announced
        self.back_at = -FLAP_S

    def went_down(self, exc: BaseException) -> None:
        with self._lock:
            if self.down:
                return
            self.down = True
            self.quiet = time.monotonic() - self.back_at < FLAP_S
            if self.quiet:
                return
        log.warning(
            "database unavailable in process %d, answering 503: %s", os.getpid(), first_line(exc)
        )

    def came_back(self) -> None:
        with self._lock:
            if not self.down:
                return
            self.down = False
            self.back_at = time.monotonic()
            if self.quiet:
                return
        log.warning("database available again in process %d", os.getpid())


state = _State()


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def forget_transaction() -> None:
    """Drop the session's failed transaction so the next statement starts clean. A
    connection the server cut goes with it (SQLAlchemy invalidates it; the pool opens
    a new one on the next checkout)."""
    try:
        db.session.rollback()
    except DBAPIError:
        _let_go()


def end_session(_exc: BaseException | None = None) -> None:
    """Teardown: end the request's session. A connection the server cut after the
    answer was made (a restart between the last statement and the ROLLBACK) must not
    turn that answer into a 500 with a traceback."""
    try:
        db.session.remove()
    except DBAPIError as exc:
        state.went_down(exc)
        _let_go()


def _let_go() -> None:
    try:
        db.session.remove()
    except DBAPIError:  # still failing: drop the session, its connection is invalidated
        db.session.registry.clear()


def _statement_ran(*_args) -> None:
    if state.down:
        state.came_back()


event.listen(Engine, "after_cursor_execute", _statement_ran)

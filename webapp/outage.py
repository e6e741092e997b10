"""Whether this process last saw the database fail: one log line when it goes away,
one when a statement succeeds again, never a traceback per request.

Reads the caches can answer keep working while the database is away (the
active-model lookup and the token check, ``queries.lookup`` and ``queries.tokens``);
``webapp.unavailable`` answers everything else with 503.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from webapp.extensions import db

log = logging.getLogger(__name__)


class _State:
    """Whether this process last saw the database fail (guards the log lines)."""

    def __init__(self) -> None:
        self.down = False
        self._lock = threading.Lock()

    def went_down(self, exc: BaseException) -> None:
        with self._lock:
            if self.down:
                return
            self.down = True
        log.warning("database unavailable, answering 503: %s", first_line(exc))

    def came_back(self) -> None:
        with self._lock:
            if not self.down:
                return
            self.down = False
        log.warning("database available again")


state = _State()


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def forget_transaction() -> None:
    """Drop the session's failed transaction so the next statement starts clean."""
    try:
        db.session.rollback()
    except DBAPIError:
        db.session.close()


def _statement_ran(*_args) -> None:
    if state.down:
        state.came_back()


event.listen(Engine, "after_cursor_execute", _statement_ran)

"""Engine behaviour per backend, and the one way operations open a write transaction.

SQLite: pysqlite's own transaction handling is switched off so we emit BEGIN
ourselves; a write transaction starts with ``BEGIN IMMEDIATE`` (the write lock up
front, waiting up to the busy timeout) so two writers queue instead of one failing
with "database is locked" when it tries to upgrade a read lock. Foreign keys are
switched on and the journal is WAL so readers never wait for the writer.

PostgreSQL: operations lock the rows that decide the outcome with
``SELECT … FOR UPDATE`` in a fixed order (see ``operations.locks``); a deadlock
or serialisation failure that still happens is retried here, never shown.

A unique index that stops a write (two creates of one name racing past the
operation's "is it taken?" check) becomes the ValidationError that check gives:
the field, and the message registered with ``unique_message`` (a generic one
otherwise), never a 500.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from contextvars import ContextVar
from functools import wraps
from typing import ParamSpec, TypeVar

from flask_babel import lazy_gettext as _l
from sqlalchemy import Column, Index, UniqueConstraint, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql import visitors
from werkzeug.routing import IntegerConverter

from webapp.errors import ValidationError
from webapp.extensions import db

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30
# Row ids are INTEGER on PostgreSQL: a larger number can name no row, and sending it
# to the database fails ("integer out of range"; an OverflowError on SQLite).
MAX_ID = 2**31 - 1
_write_begin: ContextVar[bool] = ContextVar("write_begin", default=False)
_in_unit: ContextVar[bool] = ContextVar("in_unit", default=False)

P = ParamSpec("P")
R = TypeVar("R")


def _digits_up_to(limit: int) -> str:
    """A regular expression for the decimal numbers 1 to ``limit``, without leading zeros."""
    top = str(limit)
    shorter = f"[1-9][0-9]{{0,{len(top) - 2}}}" if len(top) > 1 else None
    same_length = [top]
    for i, digit in enumerate(top):
        low = "1" if i == 0 else "0"
        if int(digit) > int(low):
            rest = len(top) - i - 1
            same_length.append(f"{top[:i]}[{low}-{int(digit) - 1}][0-9]{{{rest}}}")
    return "(?:" + "|".join(filter(None, [shorter, *same_length])) + ")"


class RowIdConverter(IntegerConverter):
    """``<int:…>`` in every URL: an id a row can have (1 to ``MAX_ID``, ASCII digits).

    The range is in the regular expression, not in ``to_python``: werkzeug reports a
    405 when a converter refuses a value that another method's rule would take."""

    regex = _digits_up_to(MAX_ID)

    def __init__(self, map, fixed_digits: int = 0, min: int | None = 1, max: int | None = MAX_ID):
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max)


def sqlite_engine_options() -> dict:
    return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}}


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection, connection_record) -> None:
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def ping_before_reads(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping``, minus the checkouts that begin a write transaction.

    A pooled connection may be dead (the server restarted), so a read pings it first
    (one round trip) rather than fail the request. A write needs no ping: ``transactional``
    runs it again on a new connection when the connection was cut before COMMIT, which
    is all a dead pooled connection can do to it. A failed ping drops every pooled
    connection, as ``pool_pre_ping`` does."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection, connection_record, connection_proxy) -> None:
        if _write_begin.get():
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as err:
            if dialect.is_disconnect(err, dbapi_connection, None):
                raise sa_exc.InvalidatePoolError() from err
            raise


@event.listens_for(Engine, "begin")
def _on_begin(conn) -> None:
    if conn.dialect.name != "sqlite":
        return
    conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_begin.get() else "BEGIN")


# After-commit callbacks (cache invalidation): run only once the data is durable,
# dropped on rollback so a failed change never evicts a right answer.
def after_commit(session: Session, callback: Callable[[], None]) -> None:
    session.info.setdefault("after_commit", []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    callbacks = session.info.pop("after_commit", [])
    for callback in callbacks:
        try:
            callback()
        except Exception:  # a cache hiccup must not turn a committed change into an error
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop("after_commit", None)


def _is_retryable(exc: DBAPIError) -> bool:
    orig = exc.orig
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in ("40001", "40P01"):  # serialization_failure, deadlock_detected
        return True
    return "database is locked" in str(orig).lower()


# --- unique violations ------------------------------------------------------------------

DUPLICATE = _l("This value is already in use.")
_unique_messages: dict[tuple[str, str], object] = {}
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: (.+)$")
_SQLITE_INDEX = re.compile(r"index '([^']+)'")


def unique_message(table: str, column: str, message) -> None:
    """The message a unique violation on ``table.column`` answers with: the same one
    the operation's own "is it taken?" check gives."""
    _unique_messages[(table, column)] = message


def _columns_of(name: str) -> tuple[str, list[str]] | None:
    """(table, columns) of the unique constraint or index called ``name``."""
    for table in db.metadata.tables.values():
        for item in (*table.constraints, *table.indexes):
            if item.name != name:
                continue
            if isinstance(item, Index) and not item.unique:
                return None
            if isinstance(item, Index | UniqueConstraint) and not list(item.columns):
                # An index on an expression, e.g. lower(username): the columns inside it.
                found = [
                    c.name
                    for expr in getattr(item, "expressions", ())
                    for c in visitors.iterate(expr)
                    if isinstance(c, Column)
                ]
                return table.name, found
            return table.name, [c.name for c in item.columns]
    return None


def _violated_unique(exc: IntegrityError) -> tuple[str, list[str]] | None:
    orig = exc.orig
    if getattr(orig, "sqlstate", None) == "23505":  # PostgreSQL unique_violation
        diag = getattr(orig, "diag", None)
        name = getattr(diag, "constraint_name", None)
        return _columns_of(name) if name else None
    match = _SQLITE_UNIQUE.search(str(orig))
    if match is None:
        return None
    index = _SQLITE_INDEX.match(match.group(1))
    if index is not None:
        return _columns_of(index.group(1))
    pairs = [part.strip().split(".", 1) for part in match.group(1).split(",")]
    if not pairs or any(len(pair) != 2 for pair in pairs):
        return None
    return pairs[0][0], [column for _, column in pairs]


def unique_violation(exc: DBAPIError) -> ValidationError | None:
    """The ValidationError for an IntegrityError raised by a unique constraint, or None
    for any other database error. The field is the constraint's last column (the
    name within its scope, e.g. ``name`` of ``(provider_id, name)``)."""
    if not isinstance(exc, IntegrityError):
        return None
    found = _violated_unique(exc)
    if not found or not found[1]:
        return None
    table, columns = found
    field = columns[-1]
    return ValidationError(_unique_messages.get((table, field), DUPLICATE), field=field)


RETRIES = 5
# Set by the engine just before it sends COMMIT: a connection cut after that point
# leaves the outcome unknown (the server may have committed).
_commit_sent: ContextVar[bool] = ContextVar("commit_sent", default=False)


@event.listens_for(Engine, "commit")
def _on_commit(conn) -> None:
    _commit_sent.set(True)


def _connection_cut(exc: DBAPIError) -> bool:
    """The connection died under the statement (a server restart, a killed backend)."""
    return bool(exc.connection_invalidated)


def _end_failed_transaction(session: Session) -> None:
    try:
        session.rollback()
    except DBAPIError:  # the connection is gone with the transaction: let both go
        session.close()


# How a failed write transaction may run again (see ``_retry_kind``).
_CONFLICT = "conflict"
_CUT = "cut"


def _end_read_transaction(session: Session) -> None:
    """Make way for a write transaction where the caller left a read one open (the
    request loaded its admin, say). On SQLite it ends (the write needs BEGIN IMMEDIATE),
    and so does one holding changes of its own. On PostgreSQL a clean one goes on as the
    write transaction on the same connection: under READ COMMITTED every statement sees
    what others committed, and ending it would return the connection to the pool only
    for the write to take one again (a ping, BEGIN). What it loaded is expired either
    way, so the write reads the rows afresh, under its locks."""
    if (
        session.get_bind().dialect.name == "sqlite"
        or session.new
        or session.dirty
        or session.deleted
    ):
        session.commit()
    else:
        session.expire_all()


def _run_write_transaction(session: Session, fn: Callable[..., R], args, kwargs) -> R:
    """One attempt: BEGIN (IMMEDIATE on SQLite), ``fn``, COMMIT."""
    begin_token = _write_begin.set(True)
    try:
        session.connection()  # BEGIN (IMMEDIATE on SQLite) happens here
    finally:
        _write_begin.reset(begin_token)
    result = fn(*args, **kwargs)
    session.commit()
    return result


def _retry_kind(
    exc: DBAPIError, attempt: int, *, cut_retried: bool, idempotent: bool
) -> str | None:
    """How attempt number ``attempt``, failed with ``exc``, may run again: ``_CONFLICT``
    (a deadlock or serialisation failure, after a pause), ``_CUT`` (the connection was cut
    and running again is safe: COMMIT was not sent yet, or ``idempotent``; once only), or
    None (it may not)."""
    if attempt < RETRIES and _is_retryable(exc):
        return _CONFLICT
    if _connection_cut(exc) and not cut_retried and (idempotent or not _commit_sent.get()):
        return _CUT
    return None


def transactional(fn: Callable[P, R] | None = None, *, idempotent: bool = False):
    """Run ``fn`` as one write transaction on ``db.session``: commit on success,
    roll back on any error, retry a deadlock or serialisation failure, and answer a
    unique violation as the ValidationError of its field.

    A connection cut in the middle (the server restarted, the backend was killed) is
    retried once on a new connection when that is safe: always if the cut came before
    COMMIT was sent (the server threw the transaction away), and after it only when
    ``idempotent`` (running ``fn`` again on a committed result changes nothing, e.g.
    setting a value or activating a model). Otherwise the OperationalError goes up
    (a 503 "try again", see ``webapp.unavailable``); nothing is half-written either way.

    Nested calls join the outer transaction. A read transaction the caller left
    open (e.g. loading the current admin) is ended first, so that on SQLite the
    write transaction can start with BEGIN IMMEDIATE.
    """
    if fn is None:
        return lambda f: transactional(f, idempotent=idempotent)

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if _in_unit.get():
            return fn(*args, **kwargs)
        session = db.session()
        cut_retried = False
        for attempt in range(1, RETRIES + 1):
            if session.in_transaction():
                _end_read_transaction(session)
            unit_token = _in_unit.set(True)
            commit_token = _commit_sent.set(False)
            try:
                return _run_write_transaction(session, fn, args, kwargs)
            except DBAPIError as exc:
                _end_failed_transaction(session)
                retry = _retry_kind(exc, attempt, cut_retried=cut_retried, idempotent=idempotent)
                if retry == _CONFLICT:
                    log.info("retrying %s after %s", fn.__name__, exc.orig)
                    time.sleep(0.02 * 2**attempt)
                    continue
                if retry == _CUT:
                    cut_retried = True
                    log.info("retrying %s on a new connection after %s", fn.__name__, exc.orig)
                    continue
                refusal = unique_violation(exc)
                if refusal is not None:
                    raise refusal from None
                raise
            except BaseException:
                session.rollback()
                raise
            finally:
                _commit_sent.reset(commit_token)
                _in_unit.reset(unit_token)
        raise AssertionError("unreachable")

    return wrapper

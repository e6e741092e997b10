"""The gateway's HTTP side towards providers: kept-alive connections per process, and the
link between a call and its client's connection so that a client that goes away ends
the upstream call in every phase (waiting for the answer, before the first streamed
chunk, mid-stream).

- :func:`send` makes one upstream call on a pooled connection (the standard library's
  ``http.client``: a gateway call is one small POST on a kept-alive connection, and
  httpx's layers cost about 0.4 ms of CPU per call more). No cookies, no redirects, no
  proxy from the environment; TLS verified with the panel's context. Unless private
  addresses are allowed, a new connection goes only to an address that
  ``webapp.ai.egress`` vetted when connecting.
- Each call's sockets belong to its :class:`Exchange`. The :class:`DisconnectWatch`
  thread polls the clients' sockets; when one closes, its exchange shuts the upstream
  socket down, which wakes the blocked read at once and frees the provider's slot.
  Writing a streamed chunk to a closed client also ends the relay (the server closes the
  iterator), so mid-stream both paths lead to the same end.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import os
import select
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from webapp.ai import egress
from webapp.ai.client import tls_context

USER_AGENT = "model-control-panel-gateway/0.1"
KEEP_IDLE = 64  # idle connections kept per provider address and process
# How long an idle connection is kept (httpx's default): a load balancer may drop one
# silently after a while, and a request sent on it would wait for its read timeout.
IDLE_SECONDS = 5.0
READ_SIZE = 65536
# What a broken or silent provider raises from http.client: a socket error (a timeout
# among them), a malformed answer, a read on a connection already cut.
BROKEN = (OSError, http.client.HTTPException, ValueError)


class UpstreamError(Exception):
    """The provider could not be reached or stopped answering; ``timeout`` tells which."""

    def __init__(self, *, timeout: bool = False):
        super().__init__("timeout" if timeout else "unreachable")
        self.timeout = timeout

    @classmethod
    def of(cls, exc: BaseException) -> UpstreamError:
        return cls(timeout=isinstance(exc, TimeoutError))


@dataclass(frozen=True, slots=True)
class Target:
    """Where a call goes, parsed once per provider address and endpoint."""

    tls: bool
    host: str
    port: int
    path: str

    @property
    def origin(self) -> tuple[bool, str, int]:
        """What a pooled connection serves: any path of the same address."""
        return self.tls, self.host, self.port


@functools.lru_cache(maxsize=256)
def target(url: str) -> Target:
    parts = urlsplit(url)
    tls = parts.scheme == "https"
    return Target(tls, parts.hostname or "", parts.port or (443 if tls else 80), parts.path)


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect: float
    read: float


# --- connections ------------------------------------------------------------------------


def _vetted_connection(address, timeout=None, source_address=None) -> socket.socket:
    """``socket.create_connection`` to an address ``webapp.ai.egress`` allows."""
    host, port = address
    last_error: OSError | None = None
    for ip in egress.vetted_addresses(host, port):
        try:
            return socket.create_connection((str(ip), port), timeout, source_address)
        except OSError as exc:  # try the next vetted address
            last_error = exc
    raise last_error or OSError(f"cannot connect to {host}")


class Pool:
    """Idle kept-alive connections per provider address, for one process."""

    def __init__(self, guarded: bool):
        self._guarded = guarded
        self._lock = threading.Lock()
        self._idle: dict[tuple, list[tuple[http.client.HTTPConnection, float]]] = {}

    def take(self, where: Target, timeouts: Timeouts) -> http.client.HTTPConnection:
        """An idle connection still open, else a new one (connected here: a failure is
        ``UpstreamError`` or ``egress.AddressRefused`` before anything is sent)."""
        while True:
            with self._lock:
                idle = self._idle.get(where.origin)
                conn, since = idle.pop() if idle else (None, 0.0)
            if conn is None:
                break
            if time.monotonic() - since < IDLE_SECONDS and _still_open(conn.sock):
                conn.sock.settimeout(timeouts.read)
                return conn
            conn.close()
        if where.tls:
            conn = http.client.HTTPSConnection(
                where.host, where.port, timeout=timeouts.connect, context=tls_context()
            )
        else:
            conn = http.client.HTTPConnection(where.host, where.port, timeout=timeouts.connect)
        if self._guarded:
            conn._create_connection = _vetted_connection
        try:
            conn.connect()
        except egress.AddressRefused:
            raise
        except BROKEN:
            conn.close()
            raise UpstreamError() from None
        conn.sock.settimeout(timeouts.read)
        return conn

    def give_back(self, where: Target, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(where.origin, [])
            if len(idle) < KEEP_IDLE:
                idle.append((conn, time.monotonic()))
                return
        conn.close()


def _still_open(sock: socket.socket | None) -> bool:
    """An idle connection is usable while it has nothing to read: a provider that closed
    it (or sent something unasked) makes it readable."""
    if sock is None:
        return False
    try:
        sock.settimeout(0)  # with a timeout, recv would wait for data first
        return _peek(sock) is None
    except OSError:
        return False


def _peek(sock: socket.socket) -> bytes | None:
    """What waits to be read on ``sock``, unread (b"" when the peer closed it), or None
    when nothing does; OSError when the connection is broken."""
    try:
        return socket.socket.recv(sock, 1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return None


_pools: dict[bool, Pool] = {}
_pools_pid = 0
_pools_lock = threading.Lock()


def pool(*, guarded: bool) -> Pool:
    """This process's pool (made on first use, again after a fork)."""
    global _pools_pid
    found = _pools.get(guarded) if _pools_pid == os.getpid() else None
    if found is None:
        with _pools_lock:
            if _pools_pid != os.getpid():
                _pools.clear()
                _pools_pid = os.getpid()
            found = _pools.setdefault(guarded, Pool(guarded))
    return found


# --- one call ---------------------------------------------------------------------------


class Response:
    """A provider's answer. Read it whole (``read``) or as it comes (``iter_raw``); once
    read to the end its connection goes back to the pool, else ``close`` drops it."""

    def __init__(self, answer: http.client.HTTPResponse, conn, where, pool_, exchange):
        self._answer = answer
        self._conn = conn
        self._where = where
        self._pool = pool_
        self._exchange = exchange
        self.status_code = answer.status
        self.headers = answer.headers

    def read(self) -> bytes:
        try:
            content = self._answer.read()
        except BROKEN as exc:
            self.close()
            raise UpstreamError.of(exc) from None
        self._done()
        return content

    def iter_raw(self) -> Iterator[bytes]:
        try:
            while chunk := self._answer.read1(READ_SIZE):
                yield chunk
        except BROKEN as exc:
            self.close()
            raise UpstreamError.of(exc) from None
        if self._exchange.cancelled or self._answer.length:  # cut, or short of its length
            self.close()
            raise UpstreamError()
        self._done()

    def _done(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        kept = conn.sock is not None and self._exchange.detach(conn.sock)
        if kept:  # read to the end, and neither side closes it
            self._pool.give_back(self._where, conn)
        else:
            conn.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        self._answer.close()
        if conn is not None:
            conn.close()


def send(
    url: str, body: bytes, headers: dict, *, guarded: bool, timeouts: Timeouts, exchange
) -> Response:
    """POST ``body`` to ``url``; the answer's head read, its body left to the caller."""
    where = target(url)
    pool_ = pool(guarded=guarded)
    conn = pool_.take(where, timeouts)
    exchange.attach(conn.sock)
    try:
        conn.request("POST", where.path, body=body, headers=headers)
        answer = conn.getresponse()
    except BROKEN as exc:
        conn.close()
        raise UpstreamError.of(exc) from None
    return Response(answer, conn, where, pool_, exchange)


# --- cancellation ---------------------------------------------------------------------


class Exchange:
    """One gateway call's upstream sockets; ``cancel`` cuts them (the client went away).
    A socket given back to the pool is detached first, so a late cancel never cuts a
    connection another call has taken since."""

    __slots__ = ("_lock", "cancelled", "done", "sockets")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cancelled = False
        self.done = False
        self.sockets: list[socket.socket] = []

    def attach(self, sock: socket.socket) -> None:
        with self._lock:
            if self.done:
                return
            self.sockets.append(sock)
            if self.cancelled:
                _shut(sock)

    def detach(self, sock: socket.socket) -> bool:
        """Let go of ``sock``; False when the call was cancelled (the socket is cut)."""
        with self._lock:
            if sock in self.sockets:
                self.sockets.remove(sock)
            return not self.cancelled

    def cancel(self) -> None:
        with self._lock:
            if self.done or self.cancelled:
                return
            self.cancelled = True
            for sock in self.sockets:
                _shut(sock)

    def finish(self) -> None:
        with self._lock:
            self.done = True
            self.sockets.clear()


def _shut(sock: socket.socket) -> None:
    """Shut the socket down (not close: another thread may be reading it, and a shutdown
    wakes that read at once)."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def client_socket(environ: dict) -> socket.socket | None:
    """The client's connection, under gunicorn or werkzeug's server (None elsewhere)."""
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    return sock if isinstance(sock, socket.socket) else None


class DisconnectWatch:
    """One thread per process polling the sockets of the clients whose calls are in flight.

    A socket that becomes readable while its request is being answered has either been
    closed by the client (nothing to read: cancel the call) or carries data we must not
    consume (a pipelined request: stop watching it)."""

    POLL_SECONDS = 0.5  # also how long a closed poller lingers after a fork

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._poller = None
        self._pid = 0
        self._watched: dict[int, tuple[socket.socket, Exchange]] = {}
        self._thread: threading.Thread | None = None

    def _ensure(self) -> None:
        if self._pid != os.getpid() or self._poller is None:
            self._poller = select.epoll() if hasattr(select, "epoll") else None
            self._pid = os.getpid()
            self._watched = {}
            self._thread = None
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="gateway-watch", daemon=True)
            self._thread.start()

    def watch(self, sock: socket.socket | None, exchange: Exchange) -> int | None:
        if sock is None or not hasattr(select, "epoll"):
            return None
        try:
            fd = sock.fileno()
        except OSError:
            return None
        if fd < 0:
            return None
        with self._lock:
            self._ensure()
            self._watched[fd] = (sock, exchange)
            events = select.EPOLLIN | select.EPOLLRDHUP
            try:
                self._poller.register(fd, events)
            except FileExistsError:
                self._poller.modify(fd, events)
            except OSError:
                self._watched.pop(fd, None)
                return None
        return fd

    def unwatch(self, fd: int | None) -> None:
        if fd is None:
            return
        with self._lock:
            if self._watched.pop(fd, None) is not None and self._pid == os.getpid():
                with contextlib.suppress(OSError, ValueError):
                    self._poller.unregister(fd)

    def _run(self) -> None:
        poller = self._poller
        while True:
            try:
                events = poller.poll(self.POLL_SECONDS)
            except (OSError, ValueError):  # closed after a fork
                return
            for fd, flags in events:
                with self._lock:
                    entry = self._watched.get(fd)
                    if entry is None:
                        continue
                    sock, exchange = entry
                    gone = _peer_closed(sock, flags)
                    self._watched.pop(fd, None)
                    with contextlib.suppress(OSError, ValueError):
                        poller.unregister(fd)
                if gone:
                    exchange.cancel()


def _peer_closed(sock: socket.socket, flags: int) -> bool:
    if flags & (select.EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR):
        return True
    try:
        return _peek(sock) == b""
    except OSError:
        return True


watcher = DisconnectWatch()

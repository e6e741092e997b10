"""The gateway's HTTP side towards providers: one pooled client per process, and the
link between a call and its client's connection so that a client that goes away ends
the upstream call in every phase (waiting for the answer, before the first streamed
chunk, mid-stream).

- :func:`build_client` is the one place that makes the HTTP client (pool, TLS, network
  backend). A connect-time address check plugs in as ``network_backend``.
- Every upstream socket is wrapped (:class:`TrackedStream`): the thread that writes a
  request on it ties it to that thread's :class:`Exchange`. The :class:`DisconnectWatch`
  thread polls the clients' sockets; when one closes, its exchange shuts the upstream
  socket down, which wakes the blocked read at once and frees the provider's slot.
  Writing a streamed chunk to a closed client also ends the relay (the server closes the
  iterator), so mid-stream both paths lead to the same end.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import threading
from typing import Any

import httpcore
import httpx

from webapp.ai import egress
from webapp.ai.client import tls_context

USER_AGENT = "model-control-panel-gateway/0.1"
_local = threading.local()
_claim_lock = threading.Lock()  # who owns a pooled socket: decided in one place


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing (and so sends nothing)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


def build_client(network_backend: httpcore.NetworkBackend | None = None) -> httpx.Client:
    """The HTTP client for provider calls: pooled keep-alive connections (no limit on their
    number: a worker holds as many calls as it has threads), TLS verified, no redirects, no
    timeout of its own (each call sets one). ``network_backend`` (default httpcore's) opens
    the connections; every stream it makes is tracked for cancellation."""
    client = httpx.Client(
        verify=tls_context(),
        follow_redirects=False,
        timeout=None,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=64),
    )
    # One client serves every admin's calls: it must keep no cookie a provider sets (a
    # sticky session, a bot check) for the next call. httpx copies a jar it is given into
    # its own Cookies, so the cookie-less one is put in place afterwards.
    client._cookies = _NoCookies()
    # httpx does not take a network backend; its pool does (httpcore's public argument).
    pool = client._transport._pool
    pool._network_backend = TrackingBackend(network_backend or httpcore.SyncBackend())
    return client


_clients: dict[bool, httpx.Client] = {}
_clients_pid = 0
_client_lock = threading.Lock()


def http_client(*, guarded: bool) -> httpx.Client:
    """This process's client (built on first use, again after a fork). ``guarded``: connect
    only to public addresses, checked when connecting (``webapp.ai.egress``), unless the
    configuration allows a provider on the panel's own network."""
    global _clients_pid
    client = _clients.get(guarded) if _clients_pid == os.getpid() else None
    if client is None:
        with _client_lock:
            if _clients_pid != os.getpid():
                _clients.clear()
                _clients_pid = os.getpid()
            if guarded not in _clients:
                backend = egress.GuardedBackend() if guarded else None
                _clients[guarded] = build_client(backend)
            client = _clients[guarded]
    return client


# --- cancellation ---------------------------------------------------------------------


class Exchange:
    """One gateway call's upstream sockets; ``cancel`` cuts them (the client went away)."""

    __slots__ = ("_lock", "cancelled", "done", "streams")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.cancelled = False
        self.done = False
        self.streams: list[TrackedStream] = []

    def attach(self, stream: TrackedStream) -> None:
        with self._lock:
            if self.done:
                return
            self.streams.append(stream)
            if self.cancelled:
                stream.abort()

    def cancel(self) -> None:
        with self._lock:
            if self.done or self.cancelled:
                return
            self.cancelled = True
            with _claim_lock:
                for stream in self.streams:
                    if stream.owner is self:  # not since reused by another call
                        stream.abort()

    def finish(self) -> None:
        with self._lock:
            self.done = True
            self.streams.clear()

    def __enter__(self) -> Exchange:
        _local.exchange = self
        return self

    def __exit__(self, *exc) -> None:
        if getattr(_local, "exchange", None) is self:
            _local.exchange = None


class TrackedStream(httpcore.NetworkStream):
    """A network stream that knows which call last wrote on it."""

    def __init__(self, inner: httpcore.NetworkStream):
        self._inner = inner
        self.owner: Exchange | None = None

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        exchange = getattr(_local, "exchange", None)
        if exchange is not None and self.owner is not exchange:
            with _claim_lock:
                self.owner = exchange
            exchange.attach(self)
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None) -> TrackedStream:
        return TrackedStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)

    def abort(self) -> None:
        """Shut the socket down (not close: another thread may be reading it, and a
        shutdown wakes that read at once)."""
        sock = self._inner.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)


class TrackingBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend):
        self._inner = inner

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return TrackedStream(
            self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return TrackedStream(self._inner.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


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
        return socket.socket.recv(sock, 1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


watcher = DisconnectWatch()

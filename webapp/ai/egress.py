"""Where a provider request may go: the address rules for a provider's ``base_url``.

A ``base_url`` is typed by an admin and then called with API keys, so it must not become a
way to reach the panel's own network (server-side request forgery). Two checks:

- when a provider is saved (``validation.base_url``): the URL's form (no user info,
  query or fragment) always, and, unless ``PROVIDER_ALLOW_PRIVATE``, the host's addresses;
  a name that does not resolve yet is accepted, the connect-time check decides;
- when connecting (``GuardedTransport``): the host is resolved again, every address is
  checked, and the socket connects to a vetted address, so a name that resolves to a public
  address when saved and to a private one later (DNS rebinding) is still refused. TLS
  (SNI, certificate) and the ``Host`` header keep the host name.

The origin (scheme, host, port) of a ``base_url`` is what keys are bound to: changing it
clears the shared key and holds back personal keys until their owners confirm them.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

import httpcore
import httpx
from flask_babel import lazy_gettext as _l

from webapp.ai.errors import AIServiceError

DEFAULT_PORTS = {"http": 80, "https": 443}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class ProviderAddressRefused(AIServiceError):
    """The provider's address is on the panel's own network: nothing is sent."""

    kind = "address_refused"
    status = 403

    default_text = _l(
        "The provider's address points to a local or private network address; "
        "requests to it are not allowed."
    )


class AddressRefused(Exception):
    """Raised inside the connection pool; ``ProviderClient`` turns it into
    ``ProviderAddressRefused`` (it is not an httpx error, so httpx lets it through)."""


# --- the URL ---------------------------------------------------------------------------


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, lower-cased, with the default port spelled out;
    ``""`` for an empty or unreadable URL."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if not scheme or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port or DEFAULT_PORTS.get(scheme, 0)}"


def form_problem(url: str):
    """Why ``url`` may never be a provider address (a translated message), or None."""
    if any(ch.isspace() for ch in url):
        return _l("The address cannot contain spaces.")
    if "?" in url or "#" in url:
        return _l("The address cannot have a query (?) or a fragment (#).")
    parts = urlsplit(url)
    if "@" in parts.netloc:
        return _l("The address cannot contain a user name or password.")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        return _l("The port of the address is not valid.")
    if not parts.hostname:
        return _l("Enter a full address starting with http:// or https://.")
    return None


# --- addresses -------------------------------------------------------------------------


def literal_address(host: str) -> IPAddress | None:
    """``host`` as an IP address when it is one, in any form the C resolver accepts:
    ``127.0.0.1``, ``::1``, ``127.1``, ``0x7f000001``, ``2130706433``, ``0177.0.0.1``."""
    host = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if not host or not all(ch in "0123456789abcdefxABCDEFX." for ch in host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def is_forbidden(ip: IPAddress) -> bool:
    """Loopback, private, unique-local, link-local, multicast, unspecified, reserved or any
    other address that is not on the public internet (an IPv4 inside IPv6 counts as itself)."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and is_forbidden(inner):
            return True
        if ip.is_site_local:
            return True
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_unspecified
        or ip.is_reserved
        or not ip.is_global
    )


def _is_local_name(host: str) -> bool:
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (tests replace this to play DNS)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [info[4][0] for info in infos]


def refused_host(host: str, port: int, *, unresolved_ok: bool) -> bool:
    """Whether ``host`` is (or resolves to) a forbidden address. A name that does not
    resolve counts as allowed when ``unresolved_ok`` (saving), else as refused."""
    if _is_local_name(host):
        return True
    literal = literal_address(host)
    if literal is not None:
        return is_forbidden(literal)
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        return not unresolved_ok
    found = [literal_address(a) for a in addresses]
    if not found:
        return not unresolved_ok
    return any(ip is None or is_forbidden(ip) for ip in found)


# --- connect time ----------------------------------------------------------------------


def vetted_addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses a connection to ``host`` may use: every address the name has must
    pass the rules (``AddressRefused`` otherwise); ``OSError`` when it does not resolve."""
    if _is_local_name(host):
        raise AddressRefused(host)
    literal = literal_address(host)
    if literal is not None:
        candidates = [literal]
    else:
        try:
            candidates = [literal_address(a) for a in resolve(host, port)]
        except UnicodeError as exc:
            raise OSError(f"cannot resolve {host}") from exc
    if not candidates or any(ip is None or is_forbidden(ip) for ip in candidates):
        raise AddressRefused(host)
    return candidates


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's network backend, resolving the host itself and connecting only to an
    address that passed the rules."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            candidates = vetted_addresses(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}") from exc
        last_error: Exception | None = None
        for ip in candidates:
            try:
                return super().connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:  # try the next vetted address
                last_error = exc
        raise last_error or httpcore.ConnectError(host)


class GuardedTransport(httpx.HTTPTransport):
    """httpx's transport whose connection pool connects through ``GuardedBackend``.
    No proxy from the environment: a proxy would connect on our behalf, unchecked."""

    def __init__(self, *, ssl_context: ssl.SSLContext):
        super().__init__(verify=ssl_context, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context, network_backend=GuardedBackend()
        )

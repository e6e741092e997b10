"""An HTTP client for the OpenAI-compatible API that OpenRouter, OpenAI and most providers offer.

Three calls: chat completions (``POST {base_url}/chat/completions``), image generation
(``POST {base_url}/images/generations``) and the model list (``GET {base_url}/models``).

- Timeouts: ``PROVIDER_CONNECT_TIMEOUT`` to connect, ``PROVIDER_TIMEOUT`` to read; any call
  can pass ``timeout=`` (seconds) instead.
- Retries: a 429 or 5xx answer is retried at most ``PROVIDER_MAX_RETRIES`` times, waiting
  ``PROVIDER_RETRY_BACKOFF`` seconds doubled each time, or the provider's ``Retry-After`` when
  it is at most ``PROVIDER_RETRY_AFTER_MAX`` (a longer one ends the retries at once). Timeouts
  and connection failures are not retried: the admin is waiting.
- Failures become the errors of :mod:`webapp.ai.errors`, with Persian messages. The key is
  sent only in the ``Authorization`` header; it is never logged, never part of an error
  (httpx exceptions are not chained, the provider's error text is scrubbed of it) and the
  client's ``repr`` shows only its hint.
- Addresses: unless ``PROVIDER_ALLOW_PRIVATE``, the host is resolved and checked when
  connecting (:mod:`webapp.ai.egress`) and a local or private address is refused
  (``ProviderAddressRefused``) before anything is sent.
"""

from __future__ import annotations

import email.utils
import functools
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import certifi
import httpx

from webapp import secrets
from webapp.ai.egress import AddressRefused, GuardedTransport, ProviderAddressRefused, form_problem
from webapp.ai.errors import (
    AIServiceError,
    MalformedResponse,
    ProviderAuthError,
    ProviderRateLimited,
    ProviderRequestRejected,
    ProviderServerError,
    ProviderTimeout,
    ProviderUnavailable,
    ProviderUnreachable,
)

log = logging.getLogger(__name__)

USER_AGENT = "model-control-panel/0.1"
MAX_DETAIL = 200


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every call: building one loads the CA bundle (~0.1 s)."""
    return ssl.create_default_context(cafile=certifi.where())


@dataclass(frozen=True)
class ClientSettings:
    """Timeouts and retry policy; ``from_config`` reads them from the app's config."""

    timeout: float = 20.0
    connect_timeout: float = 5.0
    max_retries: int = 2
    backoff: float = 0.5
    retry_after_max: float = 10.0
    allow_private: bool = False  # PROVIDER_ALLOW_PRIVATE: loopback/private hosts may be called

    @classmethod
    def from_config(cls, config) -> ClientSettings:
        return cls(
            timeout=float(config.get("PROVIDER_TIMEOUT", cls.timeout)),
            connect_timeout=float(config.get("PROVIDER_CONNECT_TIMEOUT", cls.connect_timeout)),
            max_retries=max(0, int(config.get("PROVIDER_MAX_RETRIES", cls.max_retries))),
            backoff=max(0.0, float(config.get("PROVIDER_RETRY_BACKOFF", cls.backoff))),
            retry_after_max=float(config.get("PROVIDER_RETRY_AFTER_MAX", cls.retry_after_max)),
            allow_private=bool(config.get("PROVIDER_ALLOW_PRIVATE", cls.allow_private)),
        )

    def httpx_timeout(self, override: float | None = None) -> httpx.Timeout:
        read = float(override) if override is not None else self.timeout
        return httpx.Timeout(read, connect=min(self.connect_timeout, read))


@dataclass(frozen=True)
class ChatCompletion:
    text: str
    model: str  # as the provider reports it (may differ from the one asked for)
    finish_reason: str | None = None
    usage: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GeneratedImage:
    url: str | None
    b64_json: str | None
    revised_prompt: str | None = None


class ProviderClient:
    """One provider's API with one key. Cheap to make; each call opens its own connection."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        settings: ClientSettings | None = None,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not base_url:
            raise ProviderUnavailable()
        if form_problem(base_url) is not None:  # a row saved before the rules existed
            raise ProviderAddressRefused(detail="user info, query or fragment in base URL")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.settings = settings or ClientSettings()
        self._transport = transport
        self._sleep = sleep
        self.attempts = 0  # HTTP requests the last call sent (retries included)

    def __repr__(self) -> str:
        return f"ProviderClient({self.base_url!r}, key={secrets.hint(self._api_key)})"

    # --- the three calls ----------------------------------------------------------------

    def chat_completion(
        self, model: str, messages: list[dict], *, timeout: float | None = None, **params: Any
    ) -> ChatCompletion:
        data = self._request(
            "POST",
            "/chat/completions",
            {"model": model, "messages": messages, **params},
            timeout=timeout,
        )
        try:
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise MalformedResponse(detail="no choices[0].message.content") from None
        if isinstance(content, list):  # content parts: keep the text ones
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if content is None:
            content = ""
        if not isinstance(content, str):
            raise MalformedResponse(detail="message.content is not text")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        reported = data.get("model") if isinstance(data.get("model"), str) else model
        return ChatCompletion(content, reported, choice.get("finish_reason"), usage)

    def generate_image(
        self,
        model: str,
        prompt: str,
        *,
        timeout: float | None = None,
        **params: Any,
    ) -> GeneratedImage:
        data = self._request(
            "POST",
            "/images/generations",
            {"model": model, "prompt": prompt, "n": 1, **params},
            timeout=timeout,
        )
        try:
            first = data["data"][0]
        except (KeyError, IndexError, TypeError):
            raise MalformedResponse(detail="no data[0]") from None
        if not isinstance(first, dict):
            raise MalformedResponse(detail="data[0] is not an object")
        url, b64 = first.get("url"), first.get("b64_json")
        if not (isinstance(url, str) and url) and not (isinstance(b64, str) and b64):
            raise MalformedResponse(detail="neither url nor b64_json")
        if isinstance(url, str) and not url.startswith(("https://", "http://")):
            raise MalformedResponse(detail="image url is not http(s)")
        revised = first.get("revised_prompt")
        return GeneratedImage(
            url or None, b64 or None, revised if isinstance(revised, str) else None
        )

    def list_models(self, *, timeout: float | None = None) -> list[dict]:
        """The provider's models as it describes them; each has at least a string ``id``."""
        data = self._request("GET", "/models", None, timeout=timeout)
        items = data.get("data") if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise MalformedResponse(detail="no data list")
        models = [m for m in items if isinstance(m, dict) and isinstance(m.get("id"), str)]
        if len(models) != len(items):
            raise MalformedResponse(detail="a model without an id")
        return models

    # --- transport, retries, errors -------------------------------------------------------

    def _request(self, method: str, path: str, body: dict | None, *, timeout: float | None):
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        url = self.base_url + path
        retries = 0
        self.attempts = 0
        transport = self._transport
        if transport is None and not self.settings.allow_private:
            transport = GuardedTransport(ssl_context=tls_context())
        with httpx.Client(
            timeout=self.settings.httpx_timeout(timeout),
            transport=transport,
            verify=tls_context(),
            follow_redirects=False,
        ) as http:
            while True:
                self.attempts += 1
                response = self._send(http, method, url, headers, body)
                status = response.status_code
                if status == 429 or status >= 500:
                    wait = self._retry_wait(response, retries)
                    if wait is not None:
                        log.info("provider %s %s: %s, retry in %.2fs", method, path, status, wait)
                        response.close()
                        self._sleep(wait)
                        retries += 1
                        continue
                if 200 <= status < 300:
                    return self._json(response)
                raise self._http_error(response)

    def _send(self, http: httpx.Client, method, url, headers, body) -> httpx.Response:
        try:
            return http.request(method, url, headers=headers, json=body)
        except AddressRefused:
            raise ProviderAddressRefused(detail="local or private address") from None
        except httpx.ConnectTimeout:
            raise ProviderUnreachable(detail="connect timeout") from None
        except httpx.TimeoutException as exc:
            raise ProviderTimeout(detail=type(exc).__name__) from None
        except (httpx.UnsupportedProtocol, httpx.InvalidURL):
            raise ProviderUnavailable(detail="invalid base URL") from None
        except httpx.TransportError as exc:  # refused, DNS, reset, protocol garbage
            raise ProviderUnreachable(detail=type(exc).__name__) from None

    def _retry_wait(self, response: httpx.Response, retries: int) -> float | None:
        """Seconds to wait before the next try, or None to stop retrying."""
        if retries >= self.settings.max_retries:
            return None
        wait = self.settings.backoff * (2**retries)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None:
            if retry_after > self.settings.retry_after_max:
                return None  # the provider asks for longer than anyone waits on a page
            wait = retry_after
        return wait

    def _json(self, response: httpx.Response):
        try:
            return response.json()
        except ValueError:
            raise MalformedResponse(detail="not JSON") from None

    def _http_error(self, response: httpx.Response) -> AIServiceError:
        status = response.status_code
        detail = f"HTTP {status}"
        note = self._provider_note(response)
        if note:
            detail += f": {note}"
        if status in (401, 403):
            return ProviderAuthError(detail=detail, status_code=status)
        if status == 429:
            return ProviderRateLimited(detail=detail, status_code=status)
        if status >= 500:
            return ProviderServerError(detail=detail, status_code=status)
        return ProviderRequestRejected(detail=detail, status_code=status)

    def _provider_note(self, response: httpx.Response) -> str:
        """The provider's own error text, short and with the key scrubbed out."""
        try:
            data = response.json()
        except ValueError:
            return ""
        error = data.get("error") if isinstance(data, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
        if not isinstance(message, str):
            return ""
        return secrets.scrub(message, self._api_key)[:MAX_DETAIL]


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


__all__ = ["ChatCompletion", "ClientSettings", "GeneratedImage", "ProviderClient"]

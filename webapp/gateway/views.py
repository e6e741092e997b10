"""The gateway's four routes: who calls, which model and key, the upstream call, the answer.

A call: the API token (``Authorization: Bearer`` or ``Token``) names an enabled admin
(401 otherwise); the body's ``model`` is parsed (``names``) and planned
(``webapp.ai.routing``: model, route, key by §2's priority); the body goes upstream with
only ``model`` replaced (and, for a streamed chat, usage asked for); the provider's
answer comes back as it is, with the ``X-Panel-*`` headers. The database connection is
given back before the upstream wait, so a worker holding many long streams holds no
database connection for them.

Every authenticated call is metered (``webapp.metering``), errors included; a request
without a valid token is not (it names no one, and must not let anyone fill the table).
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

from flask import Blueprint, current_app, request
from flask_babel import lazy_gettext as _l

from webapp import metering, secrets
from webapp.ai import egress, policies, routing
from webapp.ai.egress import ProviderAddressRefused
from webapp.ai.errors import (
    NoActiveModel,
    NoApiAccess,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
    ProviderUnavailable,
    ProviderUnreachable,
)
from webapp.extensions import db
from webapp.gateway import errors, names, upstream
from webapp.gateway.errors import GatewayError, json_response
from webapp.gateway.upstream import USER_AGENT, Exchange, client_socket, watcher
from webapp.operations.admins import caller_for_token

bp = Blueprint("gateway", __name__, url_prefix="/v1")
errors.register(bp)

NO_ACTIVE_MODEL = _l("There is no active model for this Provider+Capability")
INVALID_TOKEN = _l(
    "The API token is missing or not valid; send it as «Authorization: Bearer <token>»."
)
PASSED_HEADERS = ("x-request-id", "retry-after")  # plus every x-ratelimit-* header
DONE = b"data: [DONE]\n\n"
_TOKENS = re.compile(rb'"(prompt_tokens|completion_tokens|input_tokens|output_tokens)"\s*:\s*(\d+)')


@dataclass(frozen=True)
class Caller:
    admin: object  # the token's Admin (used only while planning)
    admin_id: int
    token_id: int | None


def authenticate() -> Caller:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    found = caller_for_token(token) if scheme.lower() in ("bearer", "token") and token else None
    if found is None:
        raise GatewayError(
            401, "invalid_api_key", INVALID_TOKEN, headers={"WWW-Authenticate": "Bearer"}
        )
    admin, token_id = found
    return Caller(admin, admin.id, token_id)


@bp.before_request
def _body_limit() -> None:
    # Vision requests carry images inline: more than the dashboard's form limit.
    request.max_content_length = current_app.config.get("GATEWAY_MAX_BODY", 32 * 1024 * 1024)


@bp.get("/models")
def list_models():
    authenticate()
    return json_response({"object": "list", "data": names.listing()}, 200)


@bp.post("/chat/completions")
def chat_completions():
    return forward(names.CHAT)


@bp.post("/embeddings")
def embeddings():
    return forward(names.EMBEDDINGS)


@bp.post("/images/generations")
def images_generations():
    return forward(names.IMAGES)


# --- one call -----------------------------------------------------------------------------


@dataclass(slots=True)
class CallRecord:
    """What the meter gets for one call, filled in as the call goes."""

    admin_id: int
    token_id: int | None
    started: float
    meter: metering.Meter = field(default_factory=metering.current_meter)
    provider: str | None = None
    capability: str | None = None
    model: str | None = None
    route: str | None = None
    key_source: str | None = None
    done: bool = False

    def planned(self, plan: routing.CallPlan) -> None:
        self.provider, self.capability, self.model = plan.provider, plan.capability, plan.model
        self.route, self.key_source = plan.route, plan.key_source

    def finish(self, outcome: str, status: int | None, *, first=None, tokens=(None, None)):
        if self.done:
            return
        self.done = True
        now = time.perf_counter()
        self.meter.add(
            metering.row(
                origin=metering.GATEWAY,
                admin_id=self.admin_id,
                token_id=self.token_id,
                provider=self.provider,
                capability=self.capability,
                model=self.model,
                route=self.route,
                key_source=self.key_source,
                outcome=outcome,
                http_status=status,
                latency_ms=round((now - self.started) * 1000),
                first_chunk_ms=None if first is None else round((first - self.started) * 1000),
                prompt_tokens=tokens[0],
                completion_tokens=tokens[1],
            )
        )


def panel_headers(plan: routing.CallPlan | routing.Target | None) -> dict:
    if plan is None:
        return {}
    return {
        "X-Panel-Provider": plan.provider,
        "X-Panel-Model": plan.model,
        "X-Panel-Route": plan.route,
    }


def forward(endpoint: names.Endpoint):
    started = time.perf_counter()
    caller = authenticate()
    record = CallRecord(caller.admin_id, caller.token_id, started)
    plan = None
    try:
        body = _json_body()
        name = names.parse(body.get("model"), endpoint)
        record.provider, record.capability = name.provider[:50], name.capability
        plan = _plan(name, caller, _sticky_key(body, caller))
        record.planned(plan)
        stream = body.get("stream") is True
        client_wants_usage = True
        if stream and endpoint is names.CHAT:
            options = body.get("stream_options")
            options = dict(options) if isinstance(options, dict) else {}
            client_wants_usage = options.get("include_usage") is True
            body["stream_options"] = options | {"include_usage": True}
        settings = _settings(stream)
        _release_connection()  # the wait below may last minutes
        call = Attempt(endpoint, body, stream, client_wants_usage, settings)
        return _call_with_fallbacks(plan, call, caller, record)
    except GatewayError as err:
        record.finish(err.kind, err.status)
        return err.response(panel_headers(plan))


def _release_connection() -> None:
    """Give the database connection back, if the call took one (a planned call answered
    from the caches took none: making a session only to close it costs more)."""
    if db.session.registry.has():
        db.session.close()


def _json_body() -> dict:
    raw = request.get_data(cache=False)
    try:
        body = json.loads(raw)
    except ValueError:
        raise names.invalid(_l("The request body is not valid JSON."), param=None) from None
    if not isinstance(body, dict):
        raise names.invalid(_l("The request body must be a JSON object."), param=None)
    return body


def _sticky_key(body: dict, caller: Caller) -> str:
    """Who the split keeps on one arm: the end user the program names, else its token."""
    user = body.get("user")
    if isinstance(user, str) and user:
        return f"user:{user}"
    return f"token:{caller.token_id or caller.admin_id}"


def _plan(name: names.ModelName, caller: Caller, sticky_key: str) -> routing.CallPlan:
    # Messages made while planning (no API access) are in the caller's language: under
    # /v1 the request's locale is the API's (``i18n.select_locale``).
    try:
        return routing.plan_call(
            name.provider,
            name.capability,
            admin=caller.admin,
            model_name=name.model,
            sticky_key=sticky_key,
        )
    except (routing.UnknownProvider, routing.UnknownModel) as exc:
        raise GatewayError(404, "model_not_found", exc.message, param="model") from None
    except NoActiveModel:
        raise GatewayError(404, "no_active_model", NO_ACTIVE_MODEL, param="model") from None
    except NoApiAccess as exc:
        target = getattr(exc, "target", None)
        raise GatewayError(
            403, "no_api_access", str(exc.message), headers=panel_headers(target)
        ) from None
    except ProviderUnavailable as exc:
        raise GatewayError(
            502, "provider_error", exc.default_message(), kind="provider_unavailable"
        ) from None


@dataclass(frozen=True)
class Settings:
    timeouts: upstream.Timeouts
    stream_error_message: str  # rendered now: a stream ends outside the request


def _settings(stream: bool) -> Settings:
    config = current_app.config
    read = float(config.get("GATEWAY_TIMEOUT", 300.0))
    connect = min(float(config.get("PROVIDER_CONNECT_TIMEOUT", 5.0)), read)
    # Rendered now (in the request's language, the API's): a stream ends outside it.
    message = str(ProviderServerError.default_message()) if stream else ""
    return Settings(upstream.Timeouts(connect, read), message)


# --- fallback: the next candidate after unreachable, timeout, 5xx or 429 -----------------


@dataclass(frozen=True)
class Attempt:
    """What every attempt of one call sends (the body gets each candidate's model)."""

    endpoint: names.Endpoint
    body: dict
    stream: bool
    wants_usage: bool
    settings: Settings

    def payload(self, model: str) -> bytes:
        body = self.body | {"model": model}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


class FallBack(Exception):
    """An attempt failed in a way the next candidate may fix; it is metered already."""

    def __init__(self, error: GatewayError):
        super().__init__(error.kind)
        self.error = error


FALLBACK_STATUSES = (429, 502, 504)  # rate limited, provider error or unreachable, timeout


def _call_with_fallbacks(plan, call: Attempt, caller: Caller, record):
    """Try the plan, then the group's fallbacks in order (docs/CONTRACTS.md §9): each
    attempt metered, each with its own provider's key; a model whose circuit is open
    goes last. An explicit call has no fallbacks; a stream falls back only before its
    first chunk (later failures end the stream)."""
    queue, loaded = [plan], plan.route == routing.EXPLICIT
    if not loaded and policies.is_open(plan.model_pk):
        queue, loaded = policies.ordered([plan, *_fallbacks(plan, caller)]), True
    while True:
        current = queue.pop(0)
        try:
            return _call(current, call, record)
        except FallBack as failed:
            policies.record_failure(current.model_pk)
            if not loaded:
                queue, loaded = policies.ordered(_fallbacks(plan, caller)), True
            if not queue:
                return failed.error.response(panel_headers(current))
        record = CallRecord(caller.admin_id, caller.token_id, time.perf_counter())
        record.planned(queue[0])


def _fallbacks(plan, caller: Caller) -> list:
    try:
        return routing.fallback_plans(plan, caller.admin)
    finally:
        _release_connection()  # as before the first attempt


def _call(plan, call: Attempt, record):
    """One attempt: the request to ``plan``'s provider, and its answer relayed or turned
    into a GatewayError (a FallBack when the next candidate may help)."""
    headers = panel_headers(plan)
    exchange = Exchange()
    watched = watcher.watch(client_socket(request.environ), exchange)
    relay = None
    try:
        response, content = _send(plan, call, exchange)
        if content is None:  # an event stream: relayed as it comes
            relay = Relay(response, exchange, watched, record, call.wants_usage, call.settings)
            return current_app.response_class(
                relay,
                response.status_code,
                headers | _passed_headers(response) | STREAM_HEADERS,
                content_type=response.headers.get("content-type", "text/event-stream"),
            )
        if not 200 <= response.status_code < 300:
            raise _upstream_error(response, content, plan.api_key)
        record.finish("ok", response.status_code, tokens=_tokens(content))
        return current_app.response_class(
            content,
            response.status_code,
            headers | _passed_headers(response),
            content_type=response.headers.get("content-type", "application/json"),
        )
    except GatewayError as err:
        record.finish(err.kind, err.status)
        if err.status in FALLBACK_STATUSES:
            raise FallBack(err) from None
        return err.response(headers)
    finally:
        if relay is None:  # else the relay lets go when the stream ends
            exchange.finish()
            watcher.unwatch(watched)


def _send(plan, call: Attempt, exchange: Exchange):
    """``(response, content)``: the whole answer read, or content None for an event stream
    to relay. A provider may answer a stream request with one JSON body: passed as is."""
    try:
        response = upstream.send(
            plan.base_url + call.endpoint.path,
            call.payload(plan.model),
            {
                "Authorization": f"Bearer {plan.api_key}",
                "Content-Type": "application/json",
                "Accept": "text/event-stream" if call.stream else "application/json",
                "Accept-Encoding": "identity",  # relayed as it comes: no re-encoding
                "User-Agent": USER_AGENT,
            },
            guarded=not current_app.config["PROVIDER_ALLOW_PRIVATE"],
            timeouts=call.settings.timeouts,
            exchange=exchange,
        )
        if call.stream and 200 <= response.status_code < 300 and _is_event_stream(response):
            return response, None
        return response, response.read()
    except upstream.UpstreamError as exc:
        raise _transport_error(exc, exchange) from None
    except egress.AddressRefused:
        raise GatewayError(
            502,
            "provider_error",
            ProviderAddressRefused.default_message(),
            kind=ProviderAddressRefused.kind,
        ) from None


STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _is_event_stream(response: upstream.Response) -> bool:
    return response.headers.get("content-type", "").startswith("text/event-stream")


def _passed_headers(response: upstream.Response) -> dict:
    return {
        k: v
        for k, v in response.headers.items()
        if k.lower() in PASSED_HEADERS or k.lower().startswith("x-ratelimit-")
    }


def _transport_error(exc: upstream.UpstreamError, exchange: Exchange) -> GatewayError:
    if exchange.cancelled:
        return GatewayError(499, "client_closed", _l("The client went away."), kind="cancelled")
    if exc.timeout:
        return GatewayError(504, "provider_timeout", ProviderTimeout.default_message())
    return GatewayError(
        502, "provider_error", ProviderUnreachable.default_message(), kind="unreachable"
    )


def _upstream_error(response: upstream.Response, content: bytes, api_key: str) -> GatewayError:
    status = response.status_code
    if status == 429:
        retry = response.headers.get("Retry-After")
        return GatewayError(
            429,
            "rate_limited",
            ProviderRateLimited.default_message(),
            headers={"Retry-After": retry} if retry else {},
        )
    if status >= 500 or status < 400:
        return GatewayError(502, "provider_error", ProviderServerError.default_message())
    error = _provider_error(content)
    message = error.get("message")
    if not isinstance(message, str) or not message:
        message = _l("The provider rejected the request (for example an unknown model).")
    else:
        message = secrets.scrub(message, api_key)
    code = error.get("code")
    return GatewayError(
        status,
        code if isinstance(code, str) else "provider_rejected",
        message,
        param=error.get("param") if isinstance(error.get("param"), str) else None,
        type_=error.get("type") if isinstance(error.get("type"), str) else None,
        kind="rejected",
    )


def _provider_error(content: bytes) -> dict:
    try:
        data = json.loads(content)
    except ValueError:
        return {}
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str):
        return {"message": error}
    return error if isinstance(error, dict) else {}


def _tokens(content: bytes) -> tuple[int | None, int | None]:
    """The usage the provider reports, read from the answer's tail (no full parse: an
    embeddings answer can be megabytes)."""
    at = content.rfind(b'"usage"')
    if at < 0:
        return None, None
    found = dict(_TOKENS.findall(content[at : at + 400]))
    prompt = found.get(b"prompt_tokens", found.get(b"input_tokens"))
    completion = found.get(b"completion_tokens", found.get(b"output_tokens"))
    return (
        None if prompt is None else int(prompt),
        None if completion is None else int(completion),
    )


class Relay:
    """A streamed answer: each complete server-sent event goes to the client as soon as the
    provider sent it. The usage event we asked for is read for the meter (and dropped
    when the client did not ask for it). The relay ends the upstream call however it ends:
    done, the client gone (the server closes the iterator, or the watcher cut the
    upstream socket), or the provider failing (an error event then closes the stream)."""

    def __init__(self, response, exchange, watched, record, wants_usage, settings):
        self._response = response
        self._exchange = exchange
        self._watched = watched
        self._record = record
        self._wants_usage = wants_usage
        self._settings = settings
        self._first: float | None = None
        self._usage = (None, None)
        self._saw_done = False
        self._released = False
        self._status = response.status_code
        self._events = self._relay()

    def __iter__(self):
        return self._events

    def close(self) -> None:
        self._events.close()
        self._release()
        self._record.finish("cancelled", None, first=self._first, tokens=self._usage)

    def _release(self) -> None:
        if self._released:
            return
        self._released = True
        self._exchange.finish()
        watcher.unwatch(self._watched)
        self._response.close()

    def _relay(self):
        buffer = b""
        try:
            for chunk in self._response.iter_raw():
                buffer += chunk
                ready, buffer = self._complete_events(buffer)
                if ready:
                    if self._first is None:
                        self._first = time.perf_counter()
                    if self._saw_done:  # metered before the client can see the end
                        self._finish("ok", self._status)
                    yield ready
            tail = buffer if buffer.strip() else b""
            self._finish("ok", self._status)
            yield tail if self._saw_done else tail + DONE
        except upstream.UpstreamError as exc:
            if self._exchange.cancelled:
                self._finish("cancelled", None)
                return
            timeout = exc.timeout
            self._finish("provider_timeout" if timeout else "provider_error", 502)
            yield self._error_event(timeout)
        finally:
            self._finish("cancelled", None)  # no-op unless the client went away
            self._release()

    def _finish(self, outcome: str, status: int | None) -> None:
        self._record.finish(outcome, status, first=self._first, tokens=self._usage)

    def _complete_events(self, buffer: bytes) -> tuple[bytes, bytes]:
        events = []
        while True:
            lf, crlf = buffer.find(b"\n\n"), buffer.find(b"\r\n\r\n")
            if lf < 0 and crlf < 0:
                break
            end = crlf + 4 if crlf >= 0 and (lf < 0 or crlf < lf) else lf + 2
            event, buffer = buffer[:end], buffer[end:]
            if b'"usage"' in event and self._read_usage(event) and not self._wants_usage:
                continue
            if event.startswith((b"data: [DONE]", b"data:[DONE]")):
                self._saw_done = True
            events.append(event)
        return b"".join(events), buffer

    def _read_usage(self, event: bytes) -> bool:
        """Take the usage from a ``data:`` event; True when it is the usage-only event."""
        data = b"".join(
            line[5:].strip() for line in event.splitlines() if line.startswith(b"data:")
        )
        try:
            payload = json.loads(data)
        except ValueError:
            return False
        usage = payload.get("usage") if isinstance(payload, dict) else None
        if not isinstance(usage, dict):
            return False
        self._usage = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
        return payload.get("choices") == []

    def _error_event(self, timeout: bool) -> bytes:
        code = "provider_timeout" if timeout else "provider_error"
        error = {
            "message": self._settings.stream_error_message,
            "type": "api_error",
            "code": code,
            "param": None,
        }
        return b"data: " + json.dumps({"error": error}, ensure_ascii=False).encode() + b"\n\n"

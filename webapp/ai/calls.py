"""The platform's AI calls (docs/CONTRACTS.md §2): which model, which key, then the call.

``get_client(provider, capability=…, admin=…, model_name=…)`` decides:

- the model: ``model_name`` when given (a registered model's ``name`` or ``model_id`` maps to
  its ``model_id``; anything else is sent as written), otherwise the plan of
  ``webapp.ai.routing`` (the one call path the gateway uses too): the live model of the
  provider for ``capability`` (cached, so a switch in the dashboard takes effect on the next
  call, with no restart), or the split arm the end user falls in (docs/CONTRACTS.md §9);
- the key: ``credentials.resolve_credentials`` (personal, else shared if allowed, else
  ``NoApiAccess``).

Only then is a request sent: no model or no key means no request. ``chat``,
``generate_content`` and ``generate_image`` are the calls the rest of the platform makes.

Fallback (docs/CONTRACTS.md §9): when the planned model fails as unreachable, timeout, 5xx
or 429 (after the client's own retries), the group's fallbacks are tried in order, each
with its own provider's key by §2's priority; never after another 4xx, never for an
explicit ``model_name``. A model whose circuit breaker is open goes last. Each attempt,
successful or not, is recorded in the history (``webapp.ai.recording``) and metered
(``webapp.metering``, origin ``service``, route ``live``/``split``/``explicit``/``fallback``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Row, or_, select

from webapp import metering
from webapp.ai import policies, recording, routing
from webapp.ai.client import ClientSettings, ProviderClient
from webapp.ai.errors import (
    AIServiceError,
    NoActiveModel,
    ProviderRateLimited,
    ProviderServerError,
    ProviderTimeout,
    ProviderUnavailable,
    ProviderUnreachable,
    error_kind,
)
from webapp.capabilities import label as capability_label
from webapp.errors import DomainError, NotFound, ValidationError
from webapp.extensions import db
from webapp.models import AIModel, ModelCapability, Provider
from webapp.operations.locks import get_provider
from webapp.operations.routing import fallbacks_of, model_names
from webapp.queries.credentials import Resolution, explain, resolve_credentials
from webapp.queries.lookup import ActiveModel, get_active_model

ACTIVE = "active"
EXPLICIT = "explicit"
MAX_PROMPT_CHARS = 32_000
# The failures the next candidate may fix (the provider's, not the request's).
FALLBACK_ERRORS = (ProviderUnreachable, ProviderTimeout, ProviderServerError, ProviderRateLimited)


@dataclass(frozen=True)
class FailedAttempt:
    """A candidate that failed before the one that answered (no key, no provider text)."""

    provider: str
    model: str
    message: str


@dataclass(frozen=True, kw_only=True)
class _Answer:
    """What every result of a call says: which model and key answered, how fast, routed how."""

    model: str  # the model id that was asked for
    provider: str
    key_source: str  # "personal" or "shared"
    latency_ms: int
    model_source: str = ACTIVE  # "active" or "explicit"
    route: str = routing.LIVE  # live, split, explicit or fallback
    failed: tuple[FailedAttempt, ...] = ()  # the candidates tried before this answer

    @property
    def fell_back(self) -> bool:
        return self.route == policies.FALLBACK


@dataclass(frozen=True, kw_only=True)
class ChatResult(_Answer):
    text: str
    finish_reason: str | None = None
    usage: dict = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class ImageResult(_Answer):
    url: str | None
    b64_json: str | None
    revised_prompt: str | None = None

    @property
    def src(self) -> str:
        """What an ``<img src>`` needs: the URL, or a data URI for base64 answers."""
        return self.url or f"data:image/png;base64,{self.b64_json}"


def _elapsed_ms(start: float) -> int:
    return round((time.perf_counter() - start) * 1000)


class AIClient:
    """A provider client bound to one model and one key; every call is recorded.

    Made by :func:`get_client`. ``key_source`` says which key it holds; the key itself is
    not an attribute and never shown (``repr`` included). ``route`` is how the model was
    chosen (``live``, ``split``, ``explicit``; ``fallback`` for a fallback's client).
    """

    def __init__(
        self,
        provider: Provider,
        *,
        model: str | None,
        model_source: str | None,
        capability: str | None,
        credentials,
        admin=None,
        settings: ClientSettings | None = None,
        route: str | None = None,
        model_pk: int | None = None,
        plan: routing.CallPlan | None = None,
    ):
        self.provider = provider.slug
        self.provider_id = provider.id
        self.provider_name = provider.name
        self.base_url = provider.base_url
        self.model = model
        self.model_source = model_source
        self.capability = capability
        self.key_source = credentials.source
        self.key_hint = credentials.hint
        self.admin = admin
        self.route = route or (EXPLICIT if model_source == EXPLICIT else routing.LIVE)
        self.model_pk = model_pk
        self._plan = plan  # the routing plan this client follows (None: explicit, no model)
        self._settings = settings or ClientSettings.from_config(current_app.config)
        self._http = ProviderClient(provider.base_url, credentials.api_key, settings=self._settings)

    @classmethod
    def for_plan(cls, plan: routing.CallPlan, *, admin=None, settings=None) -> AIClient:
        """A client for one of routing's plans (the live model, a split arm, a fallback)."""
        return cls(
            _PlannedProvider(plan.provider_id, plan.provider, plan.base_url),
            model=plan.model,
            model_source=ACTIVE,
            capability=plan.capability,
            credentials=_PlannedKey(plan.key_source, plan.key_hint, plan.api_key),
            admin=admin,
            settings=settings,
            route=plan.route,
            model_pk=plan.model_pk,
            plan=plan,
        )

    def __repr__(self) -> str:
        return (
            f"AIClient(provider={self.provider!r}, model={self.model!r}, "
            f"key_source={self.key_source!r}, key={self.key_hint})"
        )

    def _call(self, operation: str, send):
        """``send(http, model)`` with this client's model, then, if it fails in a way the
        next candidate may fix, with the group's fallbacks in order (docs/CONTRACTS.md §9).
        Returns (value, latency in ms, the client that answered, the failed attempts)."""
        if self._plan is None or self.route == EXPLICIT:
            value, latency = self._attempt(operation, send)
            return value, latency, self, ()
        queue, loaded = [self], False
        if policies.is_open(self.model_pk):  # a dead model goes last, not first
            queue, loaded = policies.ordered([self, *self._fallback_clients()]), True
        failed: list[FailedAttempt] = []
        while True:
            current = queue.pop(0)
            try:
                value, latency = current._attempt(operation, send)
                return value, latency, current, tuple(failed)
            except FALLBACK_ERRORS as exc:
                policies.record_failure(current.model_pk)
                failed.append(FailedAttempt(current.provider, current.model, str(exc)))
                if not loaded:
                    queue, loaded = policies.ordered(self._fallback_clients()), True
                if not queue:
                    raise

    def _fallback_clients(self) -> list[AIClient]:
        plans = routing.fallback_plans(self._plan, self.admin)
        return [AIClient.for_plan(p, admin=self.admin, settings=self._settings) for p in plans]

    def _attempt(self, operation: str, send):
        """One candidate: one HTTP exchange (retries included), recorded either way."""
        start = time.perf_counter()
        try:
            value = send(self._http, self.model)
        except AIServiceError as exc:
            exc.latency_ms = _elapsed_ms(start)
            self._record(operation, start, exc)
            raise
        self._record(operation, start, None, usage=getattr(value, "usage", None))
        return value, _elapsed_ms(start)

    def _record(
        self, operation: str, start: float, exc: AIServiceError | None, *, usage=None
    ) -> None:
        latency = _elapsed_ms(start)
        recording.record_call(
            operation=operation,
            provider=self.provider,
            provider_id=self.provider_id,
            model=self.model,
            capability=self.capability,
            model_source=self.model_source,
            key_source=self.key_source,
            admin=self.admin,
            outcome=recording.OK if exc is None else recording.ERROR,
            latency_ms=latency,
            error_kind=None if exc is None else exc.kind,
            http_status=None if exc is None else exc.status_code,
            attempts=self._http.attempts,
        )
        if self.capability is None:
            return  # the model list (a connection check) is not an AI call
        usage = usage if isinstance(usage, dict) else {}
        meter(
            self.admin,
            provider=self.provider,
            capability=self.capability,
            model=self.model,
            route=self.route,
            key_source=self.key_source,
            outcome="ok" if exc is None else exc.kind,
            http_status=None if exc is None else exc.status_code,
            latency_ms=latency,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )

    def _require_model(self) -> str:
        if not self.model:
            raise NoActiveModel()
        return self.model

    def chat(
        self,
        messages_or_prompt: str | list[dict],
        *,
        operation: str = "chat",
        timeout: float | None = None,
        **params,
    ) -> ChatResult:
        """Chat completion with the bound model (or a fallback); a string is one user message."""
        self._require_model()
        messages = normalise_messages(messages_or_prompt)
        answer, latency, by, failed = self._call(
            operation,
            lambda http, model: http.chat_completion(model, messages, timeout=timeout, **params),
        )
        return ChatResult(
            text=answer.text,
            finish_reason=answer.finish_reason,
            usage=answer.usage,
            failed=failed,
            **by._answered_by(latency),
        )

    def generate_image(self, prompt: str, *, timeout: float | None = None, **params) -> ImageResult:
        self._require_model()
        prompt = clean_prompt(prompt)
        image, latency, by, failed = self._call(
            "image",
            lambda http, model: http.generate_image(model, prompt, timeout=timeout, **params),
        )
        return ImageResult(
            url=image.url,
            b64_json=image.b64_json,
            revised_prompt=image.revised_prompt,
            failed=failed,
            **by._answered_by(latency),
        )

    def _answered_by(self, latency: int) -> dict:
        """The fields every result shares: which model and key answered, how fast."""
        return {
            "model": self.model,
            "provider": self.provider,
            "key_source": self.key_source,
            "latency_ms": latency,
            "model_source": self.model_source or ACTIVE,
            "route": self.route,
        }

    def list_models(self, *, timeout: float | None = None) -> tuple[list[dict], int]:
        """The provider's model list and the latency in ms."""
        return self._attempt("models", lambda http, _model: http.list_models(timeout=timeout))


@dataclass(frozen=True)
class _PlannedProvider:
    """What a client needs of a provider, from a routing plan (no second query)."""

    id: int
    slug: str
    base_url: str

    @property
    def name(self) -> str:
        return self.slug


@dataclass(frozen=True)
class _PlannedKey:
    source: str
    hint: str
    api_key: str = field(repr=False)


def meter(admin, **fields) -> None:
    """One usage row for a service call (docs/CONTRACTS.md §10): cheap, written later."""
    metering.record(
        origin=metering.SERVICE,
        admin_id=getattr(admin, "id", None) if admin is not None else None,
        **fields,
    )


# --- input ------------------------------------------------------------------------------


def clean_prompt(prompt: object) -> str:
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValidationError(_l("Write a prompt first."), field="prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValidationError(
            _l("At most %(max)d characters are allowed.", max=MAX_PROMPT_CHARS), field="prompt"
        )
    return prompt.strip()


def normalise_messages(messages_or_prompt: str | list[dict]) -> list[dict]:
    """A prompt becomes ``[{"role": "user", "content": prompt}]``; a list is checked."""
    if isinstance(messages_or_prompt, str):
        return [{"role": "user", "content": clean_prompt(messages_or_prompt)}]
    if not isinstance(messages_or_prompt, list | tuple) or not messages_or_prompt:
        raise ValidationError(_l("Write a prompt first."), field="prompt")
    messages = []
    for message in messages_or_prompt:
        if (
            not isinstance(message, dict)
            or message.get("role") not in ("system", "user", "assistant", "tool")
            or "content" not in message
        ):
            raise ValidationError(_l("Each message needs a role and content."), field="messages")
        messages.append(dict(message))
    return messages


# --- deciding model and key -------------------------------------------------------------


def _provider_row(provider: Provider | str) -> Provider:
    return provider if isinstance(provider, Provider) else get_provider(provider)


def _explicit_model(provider: Provider, model_name: str) -> str:
    if not isinstance(model_name, str) or not model_name.strip() or " " in model_name.strip():
        raise ValidationError(_l("The model id cannot contain spaces."), field="model_name")
    model_name = model_name.strip()
    registered = db.session.scalar(
        select(AIModel.model_id)
        .where(
            AIModel.provider_id == provider.id,
            or_(AIModel.name == model_name, AIModel.model_id == model_name),
        )
        .order_by((AIModel.model_id == model_name).desc())
        .limit(1)
    )
    return registered or model_name


def _check_usable(provider: Provider) -> None:
    if not provider.is_enabled or not provider.base_url:
        raise ProviderUnavailable()


def get_client(
    provider: Provider | str,
    *,
    capability: str,
    admin=None,
    model_name: str | None = None,
    sticky_key: str | None = None,
) -> AIClient:
    """A client bound to the model to use and the key ``admin`` may use (None: background job).

    Without ``model_name`` the model is routing's plan (``webapp.ai.routing.plan_call``):
    the live model, or the split arm ``sticky_key`` (the end user) falls in; the client
    then falls back as the module says. Raises ``NotFound`` (unknown provider),
    ``ProviderUnavailable`` (disabled, or no base URL), ``NoActiveModel`` and
    ``NoApiAccess``; in each case nothing was sent.
    """
    row = _provider_row(provider)
    _check_usable(row)
    if model_name:
        return AIClient(
            row,
            model=_explicit_model(row, model_name),
            model_source=EXPLICIT,
            capability=capability,
            credentials=resolve_credentials(row, admin),
            admin=admin,
        )
    plan = routing.plan_call(row.slug, capability, admin=admin, sticky_key=sticky_key)
    return AIClient.for_plan(plan, admin=admin)


def sticky_key_for(admin, params: dict) -> str | None:
    """Who a split keeps on one arm: the end user the caller names (``user``, sent to the
    provider as OpenAI defines it), else the admin; a background job without either
    always gets the live model."""
    user = params.get("user")
    if isinstance(user, str) and user:
        return f"user:{user}"  # the gateway's form: one end user, one arm, on both paths
    admin_id = getattr(admin, "id", None) if admin is not None else None
    return f"admin:{admin_id}" if admin_id is not None else None


def connection_client(provider: Provider | str, admin=None) -> AIClient:
    """A client with ``admin``'s key and no model, for the model list."""
    row = _provider_row(provider)
    _check_usable(row)
    return AIClient(
        row,
        model=None,
        model_source=None,
        capability=None,
        credentials=resolve_credentials(row, admin),
        admin=admin,
    )


def _client_or_record(
    provider, operation: str, capability: str | None, admin, model_name=None, params=None
) -> AIClient:
    """``get_client`` (or, without a capability, ``connection_client``), recording a refusal
    before any request; a call is kept on one split arm per end user (``sticky_key_for``)."""
    try:
        if capability is None:
            return connection_client(provider, admin)
        return get_client(
            provider,
            capability=capability,
            admin=admin,
            model_name=model_name,
            sticky_key=sticky_key_for(admin, params or {}),
        )
    except DomainError as exc:
        slug = provider.slug if isinstance(provider, Provider) else str(provider)
        provider_id = provider.id if isinstance(provider, Provider) else None
        if provider_id is None:
            provider_id = db.session.scalar(select(Provider.id).where(Provider.slug == slug))
        recording.record_call(
            operation=operation,
            provider=slug[:50],
            provider_id=provider_id,
            model=model_name,
            capability=capability,
            model_source=EXPLICIT if model_name else ACTIVE if capability else None,
            admin=admin,
            outcome=recording.ERROR,
            error_kind=error_kind(exc),
        )
        if capability is not None:
            meter(
                admin,
                provider=slug[:50],
                capability=capability,
                model=model_name,
                route=EXPLICIT if model_name else routing.LIVE,
                outcome=error_kind(exc),
                latency_ms=0,
            )
        raise


# --- the platform's calls ---------------------------------------------------------------


def chat(
    provider: Provider | str,
    messages_or_prompt: str | list[dict],
    *,
    admin=None,
    model_name: str | None = None,
    **params,
) -> ChatResult:
    """Chat with the provider's active chat model (or ``model_name``)."""
    normalise_messages(messages_or_prompt)  # bad input is not a call
    client = _client_or_record(provider, "chat", "chat", admin, model_name, params)
    return client.chat(messages_or_prompt, **params)


def generate_content(
    provider: Provider | str,
    prompt: str,
    *,
    admin=None,
    model_name: str | None = None,
    system: str | None = None,
    **params,
) -> ChatResult:
    """Generate text for ``prompt`` (optionally under a ``system`` instruction), chat model."""
    messages = [{"role": "user", "content": clean_prompt(prompt)}]
    if system:
        messages.insert(0, {"role": "system", "content": system})
    client = _client_or_record(provider, "content", "chat", admin, model_name, params)
    return client.chat(messages, operation="content", **params)


def generate_image(
    provider: Provider | str,
    prompt: str,
    *,
    admin=None,
    model_name: str | None = None,
    **params,
) -> ImageResult:
    """Generate one image with the provider's active image model (or ``model_name``)."""
    clean_prompt(prompt)
    client = _client_or_record(provider, "image", "image", admin, model_name, params)
    return client.generate_image(prompt, **params)


# --- test connection --------------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    provider: str
    latency_ms: int = 0
    model_count: int = 0
    key_source: str | None = None
    message: str = ""
    error_kind: str | None = None


def check_connection(
    provider: Provider | str, admin=None, *, timeout: float | None = None
) -> ConnectionCheck:
    """Call the model list with the key ``admin`` would use; never raises for the provider's
    failures (they become ``ok=False`` with the Persian message), only for an unknown provider."""
    slug = provider.slug if isinstance(provider, Provider) else provider
    try:
        client = _client_or_record(provider, "models", None, admin)
    except NotFound:
        raise
    except DomainError as exc:
        return ConnectionCheck(False, slug, message=str(exc), error_kind=error_kind(exc))
    try:
        models, latency = client.list_models(timeout=timeout)
    except AIServiceError as exc:
        return ConnectionCheck(
            False,
            slug,
            latency_ms=getattr(exc, "latency_ms", 0),
            key_source=client.key_source,
            message=str(exc),
            error_kind=exc.kind,
        )
    return ConnectionCheck(
        True,
        slug,
        latency_ms=latency,
        model_count=len(models),
        key_source=client.key_source,
        message=str(_l("The connection works.")),
    )


# --- what a call would use (the playground shows it before sending) ---------------------


@dataclass(frozen=True)
class CallPlan:
    provider: Provider
    capability: str
    model: ActiveModel | None  # the active model, or None
    key: Resolution  # source personal/shared/None, hint, reason in words
    # The provider's other registered models for the capability (an explicit model_name):
    # result rows with their name, display_name and model_id.
    alternatives: tuple[Row, ...] = ()
    # The group's fallbacks, in order, as display names (tried after the live model fails).
    fallbacks: tuple[str, ...] = ()

    @property
    def blocked_reason(self) -> str | None:
        """Why a call cannot be sent now (the playground disables «ارسال» with it)."""
        if not self.provider.is_enabled or not self.provider.base_url:
            return str(ProviderUnavailable.default_message())
        if self.model is None and not self.alternatives:
            return str(
                _l(
                    "The provider %(provider)s has no live model for «%(capability)s».",
                    provider=self.provider.name,
                    capability=capability_label(self.capability),
                )
            )
        if self.key.source is None:
            return self.key.reason
        return None


def plan_call(provider: Provider | str, capability: str, admin=None) -> CallPlan:
    """Which model and which key a call by ``admin`` would use, without sending anything."""
    row = _provider_row(provider)
    active = get_active_model(row.slug, capability)
    rows = db.session.execute(
        select(AIModel.name, AIModel.display_name, AIModel.model_id)
        .join(ModelCapability, ModelCapability.model_id == AIModel.id)
        .where(AIModel.provider_id == row.id, ModelCapability.capability == capability)
        .order_by(AIModel.display_name, AIModel.name)
    ).all()
    alternatives = tuple(r for r in rows if active is None or r.model_id != active.model_id)
    names = model_names(fallback_ids := fallbacks_of(row.id, capability))
    fallbacks = tuple(names[i].display_name for i in fallback_ids if i in names)
    return CallPlan(row, capability, active, explain(row, admin), alternatives, fallbacks)

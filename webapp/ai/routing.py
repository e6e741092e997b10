"""Which model and which key a call uses: the one place that decides (DESIGN.md §2, §8, §9).

``plan_call(provider, capability, admin=…, model_name=…)`` answers with a :class:`CallPlan`
(provider, model id, route, key source, base URL, key) or raises, and then nothing may be
sent:

- ``model_name`` None: the provider's live model for ``capability`` (``lookup``'s cached
  answer, so a switch in the dashboard holds from the very next call in every worker),
  route ``live``;
- ``model_name`` given: a model registered for that provider, by ``model_id`` or ``name``,
  active or not, route ``explicit``; anything unregistered is refused;
- the key: ``credentials.resolve_credentials`` (personal, else shared if allowed, else
  ``NoApiAccess``). Without an admin (a background job) only the shared key.

Errors: :class:`UnknownProvider` and :class:`UnknownModel` (404, nothing of that name, or
the provider is disabled), ``NoActiveModel`` (404), ``ProviderUnavailable`` (no base URL),
``NoApiAccess`` (403).

The gateway plans its calls here; the playground and ``webapp.ai``'s services are meant to
move onto it too, so the traffic policies of §9 (split, fallback) plug in once: see the
marked place in :func:`plan_call`.

A warm plan runs no query: the live model (``lookup``), a group's split, an explicit
model's row and the key (``credentials``) come from this process's local layer
(``lookup.remembered``), dropped whenever the cache generation moves. So the gateway
keeps routing with the last known live model and keys while the database is away.
Fallbacks are read when they are needed (after a failure), not cached.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from webapp import secrets
from webapp.ai import policies
from webapp.ai.errors import NoActiveModel, NoApiAccess, ProviderUnavailable
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.models import AIModel, Provider
from webapp.operations.routing import split_of
from webapp.queries.credentials import resolve_credentials
from webapp.queries.lookup import get_active_model, remembered

LIVE = "live"
EXPLICIT = "explicit"


class UnknownProvider(NotFound):
    """No enabled provider by that slug."""


class UnknownModel(NotFound):
    """The provider has no registered model by that name or model id."""


@dataclass(frozen=True)
class Target:
    """A model to call, before the key is chosen."""

    provider: str  # slug
    provider_id: int
    base_url: str
    model: str  # the provider's model id
    model_pk: int
    route: str  # LIVE, EXPLICIT, SPLIT or FALLBACK


@dataclass(frozen=True)
class CallPlan:
    provider: str
    provider_id: int
    capability: str
    model: str  # the model id sent to the provider
    model_pk: int
    route: str
    key_source: str  # personal or shared
    base_url: str
    api_key: str

    @property
    def key_hint(self) -> str:
        return secrets.hint(self.api_key)

    def __repr__(self) -> str:  # never the key, in logs or tracebacks
        return (
            f"CallPlan(provider={self.provider!r}, model={self.model!r}, route={self.route!r}, "
            f"key_source={self.key_source!r}, key={self.key_hint})"
        )

    __str__ = __repr__


def plan_call(
    provider: str,
    capability: str,
    *,
    admin=None,
    model_name: str | None = None,
    sticky_key: str | None = None,
) -> CallPlan:
    """The model and key for one call; raises (see the module) when there is none.

    ``sticky_key`` (the end user, else the token) picks the split arm of a live call."""
    if model_name is not None:
        return _with_key(explicit_target(provider, model_name), capability, admin)
    # Traffic policies (docs/CONTRACTS.md §9): a split may replace the live target by one
    # of its arms; fallbacks follow as further plans (``fallback_plans``).
    target = split_target(live_target(provider, capability), capability, sticky_key)
    return _with_key(target, capability, admin)


def split_target(target: Target, capability: str, sticky_key: str | None) -> Target:
    """``target`` (the live one) or, when the user's bucket falls in an arm, that arm."""
    if not sticky_key:
        return target
    arms, model_ids = remembered(
        ("split", target.provider_id, capability), lambda: _split_of(target.provider_id, capability)
    )
    if not arms:
        return target
    chosen = policies.split_arm(arms, sticky_key, target.provider, capability)
    if chosen is None or chosen not in model_ids:  # deleted since the routing was read
        return target
    return replace(target, model=model_ids[chosen], model_pk=chosen, route=policies.SPLIT)


def _split_of(provider_id: int, capability: str) -> tuple[tuple, dict[int, str]]:
    """The split's arms, and the provider's model id of each arm's model."""
    arms = split_of(provider_id, capability)
    if not arms:
        return (), {}
    rows = db.session.execute(
        select(AIModel.id, AIModel.model_id).where(
            AIModel.id.in_([arm.model_id for arm in arms]), AIModel.provider_id == provider_id
        )
    )
    return arms, {pk: model_id for pk, model_id in rows}


def fallback_plans(primary: CallPlan, admin=None) -> list[CallPlan]:
    """The group's fallbacks as plans, in order, each with its own provider's key; none
    for an explicit call. A fallback this admin has no key for is left out."""
    if primary.route == EXPLICIT:
        return []

    def target(slug, provider_id, base_url, model_id, pk) -> Target:
        return Target(slug, provider_id, base_url, model_id, pk, policies.FALLBACK)

    plans = []
    for candidate in policies.fallback_targets(primary.provider_id, primary.capability, target):
        if candidate.model_pk == primary.model_pk:
            continue
        try:
            plans.append(_with_key(candidate, primary.capability, admin))
        except (NoApiAccess, ProviderUnavailable, NoActiveModel):
            continue
    return plans


def live_target(provider: str, capability: str) -> Target:
    active = get_active_model(provider, capability)
    if active is None:
        _enabled_provider(provider)  # tells an unknown provider from an empty group
        raise NoActiveModel()
    return Target(
        active.provider, active.provider_id, active.base_url, active.model_id, active.id, LIVE
    )


def explicit_target(provider: str, model_name: str) -> Target:
    return remembered(
        ("explicit", provider, model_name), lambda: _explicit_target(provider, model_name)
    )


def _explicit_target(provider: str, model_name: str) -> Target:
    row = _enabled_provider(provider)
    found = db.session.execute(
        select(AIModel.id, AIModel.model_id)
        .where(
            AIModel.provider_id == row.id,
            or_(AIModel.model_id == model_name, AIModel.name == model_name),
        )
        .order_by((AIModel.model_id == model_name).desc(), AIModel.id)
        .limit(1)
    ).first()
    if found is None:
        raise UnknownModel(
            _l(
                "The provider «%(provider)s» has no registered model «%(model)s».",
                provider=provider,
                model=model_name,
            ),
            field="model",
        )
    return Target(row.slug, row.id, row.base_url, found.model_id, found.id, EXPLICIT)


def _enabled_provider(slug: str) -> Provider:
    row = db.session.scalar(select(Provider).where(Provider.slug == slug))
    if row is None:
        raise UnknownProvider(
            _l("No provider «%(provider)s» is registered.", provider=slug), field="model"
        )
    if not row.is_enabled:
        raise UnknownProvider(
            _l("The provider «%(provider)s» is disabled.", provider=slug), field="model"
        )
    return row


def _with_key(target: Target, capability: str, admin) -> CallPlan:
    if not target.base_url:
        raise ProviderUnavailable()
    try:
        credentials = resolve_credentials(target.provider_id, admin)
    except NoApiAccess as exc:
        exc.target = target  # the caller may say which model it would have been
        raise
    return CallPlan(
        provider=target.provider,
        provider_id=target.provider_id,
        capability=capability,
        model=target.model,
        model_pk=target.model_pk,
        route=target.route,
        key_source=credentials.source,
        base_url=target.base_url.rstrip("/"),
        api_key=credentials.api_key,
    )


__all__ = [
    "EXPLICIT",
    "LIVE",
    "CallPlan",
    "NoActiveModel",
    "NoApiAccess",
    "ProviderUnavailable",
    "Target",
    "UnknownModel",
    "UnknownProvider",
    "fallback_plans",
    "plan_call",
]

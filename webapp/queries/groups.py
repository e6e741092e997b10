"""The read side of the models page: providers → (provider, capability) groups.

Everything the templates show is loaded here in a fixed number of queries
(providers, their models, the models' capability rows), whatever the catalogue's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from webapp import messages
from webapp.capabilities import CAPABILITIES, is_capability, label, sort_capabilities
from webapp.extensions import db
from webapp.models import ACTIVE_ROW, AIModel, ModelCapability, Provider

SEARCH_MAX = 100


@dataclass(frozen=True)
class Filters:
    provider: str = ""
    capability: str = ""
    q: str = ""

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        """Unknown or malformed values are dropped, never an error."""
        provider = (args.get("provider") or "").strip()[:50]
        capability = (args.get("capability") or "").strip()
        q = " ".join((args.get("q") or "").split())[:SEARCH_MAX]
        return cls(provider, capability if is_capability(capability) else "", q)

    @property
    def active(self) -> bool:
        return bool(self.provider or self.capability or self.q)

    def as_args(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}


@dataclass(frozen=True)
class Group:
    provider: Provider
    capability: str
    models: tuple[AIModel, ...]
    active: AIModel | None
    matches: frozenset[int] = frozenset()

    @property
    def dom_id(self) -> str:
        return group_dom_id(self.provider.id, self.capability)

    @property
    def label(self) -> str:
        return label(self.capability)

    def radio_id(self, model: AIModel | None) -> str:
        return f"{self.dom_id}-{model.id if model else 'none'}"


@dataclass
class ProviderSection:
    provider: Provider
    groups: list[Group] = field(default_factory=list)
    model_count: int = 0
    active_count: int = 0


def group_dom_id(provider_id: int, capability: str) -> str:
    return f"group-{provider_id}-{capability}"


def load_providers(provider_id: int | None = None) -> list[Provider]:
    """Providers with their models and the models' capability rows: three queries,
    whatever the catalogue's size (``selectinload`` would batch the rows by 500 ids)."""
    providers = (
        select(Provider)
        .order_by(Provider.name, Provider.id)
        .options(selectinload(Provider.models))
        .execution_options(populate_existing=True)
    )
    rows = (
        select(ModelCapability)
        .order_by(ModelCapability.capability)
        .execution_options(populate_existing=True)
    )
    if provider_id is not None:
        providers = providers.where(Provider.id == provider_id)
        rows = rows.where(ModelCapability.provider_id == provider_id)
    found = list(db.session.scalars(providers))
    by_model: dict[int, list[ModelCapability]] = {}
    for row in db.session.scalars(rows):
        by_model.setdefault(row.model_id, []).append(row)
    for provider in found:
        for model in provider.models:
            set_committed_value(model, "capability_rows", by_model.get(model.id, []))
    return found


def _matches(model: AIModel, provider: Provider, q: str) -> bool:
    needle = q.casefold()
    haystack = (model.display_name, model.name, model.model_id, provider.name, provider.slug)
    return any(needle in text.casefold() for text in haystack)


def _groups(
    provider: Provider, rows: Iterable[tuple[str, bool, AIModel]], q: str = ""
) -> list[Group]:
    """One group per capability of the (capability, is_active, model) rows, vocabulary order."""
    by_cap: dict[str, list[AIModel]] = {}
    active: dict[str, AIModel] = {}
    for cap, is_active, model in rows:
        by_cap.setdefault(cap, []).append(model)
        if is_active:
            active[cap] = model
    groups = []
    for cap in sort_capabilities(by_cap):
        models = tuple(sorted(by_cap[cap], key=lambda m: (m.display_name.casefold(), m.id)))
        matches = frozenset(m.id for m in models if q and _matches(m, provider, q))
        groups.append(Group(provider, cap, models, active.get(cap), matches))
    return groups


def provider_groups(provider: Provider, q: str = "") -> list[Group]:
    """Every capability that at least one of the provider's models has."""
    rows = (
        (row.capability, row.is_active, model)
        for model in provider.models
        for row in model.capability_rows
    )
    return _groups(provider, rows, q)


def build_sections(providers: Iterable[Provider], filters: Filters) -> list[ProviderSection]:
    sections = []
    for provider in providers:
        if filters.provider and provider.slug != filters.provider:
            continue
        groups = provider_groups(provider, filters.q)
        if filters.capability:
            groups = [g for g in groups if g.capability == filters.capability]
        if filters.q:
            groups = [g for g in groups if g.matches]
        if filters.active and not groups:
            continue
        sections.append(
            ProviderSection(
                provider,
                groups,
                model_count=len(provider.models),
                active_count=sum(1 for g in groups if g.active is not None),
            )
        )
    return sections


def groups_for(keys: Iterable[tuple[int, str]], q: str = "") -> list[Group]:
    """The named groups, freshly loaded after a change: only their rows, not the
    provider's whole catalogue (one query per provider involved, plus the provider)."""
    wanted = set(keys)
    groups: list[Group] = []
    for provider_id in sorted({pid for pid, _ in wanted}):
        caps = sorted(cap for pid, cap in wanted if pid == provider_id)
        provider = db.session.get(Provider, provider_id)
        if provider is None:
            continue
        rows = db.session.execute(
            select(ModelCapability.capability, ModelCapability.is_active, AIModel)
            .join(AIModel, AIModel.id == ModelCapability.model_id)
            .where(ModelCapability.provider_id == provider_id, ModelCapability.capability.in_(caps))
            .execution_options(populate_existing=True)
        ).all()
        groups += _groups(provider, rows, q)
    return groups


@dataclass(frozen=True)
class Conflict:
    """A model that would lose its activation for ``capabilities``."""

    model: AIModel
    capabilities: tuple[str, ...]

    @property
    def message(self) -> str:
        return messages.conflicting_models(self.model.display_name)


def conflicts_for(
    provider_id: int, capabilities: Iterable[str], exclude_model_id: int | None = None
) -> list[Conflict]:
    """Which models would lose an activation if a model (new, or with a new set of
    capabilities) were activated for ``capabilities`` — the form's preview."""
    caps = [c for c in capabilities if c in CAPABILITIES]
    if not caps:
        return []
    stmt = (
        select(ModelCapability)
        .where(
            ModelCapability.provider_id == provider_id,
            ModelCapability.capability.in_(caps),
            ACTIVE_ROW,
        )
        .options(selectinload(ModelCapability.model))
    )
    if exclude_model_id is not None:
        stmt = stmt.where(ModelCapability.model_id != exclude_model_id)
    by_model: dict[int, tuple[AIModel, list[str]]] = {}
    for row in db.session.scalars(stmt):
        by_model.setdefault(row.model_id, (row.model, []))[1].append(row.capability)
    return [
        Conflict(model, tuple(sort_capabilities(caps)))
        for model, caps in sorted(by_model.values(), key=lambda mc: mc[0].display_name)
    ]

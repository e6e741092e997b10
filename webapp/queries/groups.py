"""The read side of the models page: providers → (provider, capability) groups.

Everything the templates show is loaded here in a fixed number of queries
(providers, their models, the models' capability rows), whatever the catalogue's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from webapp import messages
from webapp.capabilities import CAPABILITIES, is_capability, label, sort_capabilities
from webapp.extensions import db
from webapp.models import ACTIVE_ROW, AIModel, ModelCapability, Provider
from webapp.queries.lookup import remembered

SEARCH_MAX = 100
# Up to this many models on the page, every group shows its radios at once; above it, each
# group is one line that opens in place (the page stays small at any catalogue size).
COMPACT_LIMIT = 60
PROVIDERS_PER_PAGE = 10  # the compact view's providers a page


@dataclass(frozen=True)
class Filters:
    provider: str = ""
    capability: str = ""
    q: str = ""
    state: str = ""  # "empty": only the groups with no active model

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> Filters:
        """Unknown or malformed values are dropped, never an error."""
        provider = (args.get("provider") or "").strip()[:50]
        capability = (args.get("capability") or "").strip()
        q = " ".join((args.get("q") or "").split())[:SEARCH_MAX]
        state = "empty" if args.get("state") == "empty" else ""
        return cls(provider, capability if is_capability(capability) else "", q, state)

    @property
    def active(self) -> bool:
        return bool(self.provider or self.capability or self.q or self.state)

    def as_args(self, without: str = "") -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v and k != without}


@dataclass(frozen=True)
class Group:
    provider: Provider
    capability: str
    models: tuple[AIModel, ...]  # the ones shown: with a search, its matches and the live one
    active: AIModel | None
    matches: frozenset[int] = frozenset()
    total: int = 0  # every model of the group, shown or not
    activated_at: datetime | None = None  # when the live model became live

    @property
    def stamp(self) -> str:
        """``group_stamp``, read off the loaded group."""
        return stamp_of(self.active.id if self.active else None, self.activated_at)

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


def load_provider_names() -> list[Provider]:
    """Providers alone, by name (a filter's choices)."""
    return list(db.session.scalars(select(Provider).order_by(Provider.name, Provider.id)))


def _matches(model: AIModel, provider: Provider, q: str) -> bool:
    needle = q.casefold()
    haystack = (model.display_name, model.name, model.model_id, provider.name, provider.slug)
    return any(needle in text.casefold() for text in haystack)


def _groups(provider: Provider, rows: Iterable[tuple], q: str = "") -> list[Group]:
    """One group per capability of the (capability, is_active, model, activated_at) rows,
    vocabulary order."""
    by_cap: dict[str, list[AIModel]] = {}
    active: dict[str, tuple[AIModel, datetime | None]] = {}
    for cap, is_active, model, activated_at in rows:
        by_cap.setdefault(cap, []).append(model)
        if is_active:
            active[cap] = (model, activated_at)
    groups = []
    for cap in sort_capabilities(by_cap):
        models = tuple(sorted(by_cap[cap], key=lambda m: (m.display_name.casefold(), m.id)))
        matches = frozenset(m.id for m in models if q and _matches(m, provider, q))
        live, since = active.get(cap, (None, None))
        shown = models
        if q:  # a search shows its matches, and the live model for context
            shown = tuple(m for m in models if m.id in matches or m is live)
        groups.append(Group(provider, cap, shown, live, matches, len(models), since))
    return groups


def provider_groups(provider: Provider, q: str = "") -> list[Group]:
    """Every capability that at least one of the provider's models has."""
    rows = (
        (row.capability, row.is_active, model, row.activated_at)
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
        if filters.state == "empty":
            groups = [g for g in groups if g.active is None]
        if filters.active and not groups:
            continue
        sections.append(ProviderSection(provider, groups, model_count=len(provider.models)))
    return sections


def page_groups(sections: Iterable[ProviderSection]) -> list[Group]:
    return [g for s in sections for g in s.groups]


def found_count(sections: Iterable[ProviderSection]) -> int:
    """How many models a search found (each model once, whatever its groups)."""
    return len({m for g in page_groups(sections) for m in g.matches})


def is_compact(sections: list[ProviderSection]) -> bool:
    """Collapse the groups when the page would show more than ``COMPACT_LIMIT`` models;
    a page left with one group always shows it open."""
    groups = page_groups(sections)
    return len(groups) > 1 and sum(len(g.models) for g in groups) > COMPACT_LIMIT


@dataclass(frozen=True)
class GroupSummary:
    """One group counted by the database: how many models, which one is live."""

    provider_id: int
    provider_slug: str
    capability: str
    total: int
    active_id: int | None


def group_summaries() -> tuple[tuple[GroupSummary, ...], int]:
    """Every group's count and live model, and the number of models: one query, without
    loading a model (the compact view's first screen at any catalogue size). Kept in
    this process until the catalogue changes (the cache generation moves), so the page
    does not count every row of a large catalogue on each load."""
    return remembered(("group_summaries",), _count_groups)


def _count_groups() -> tuple[tuple[GroupSummary, ...], int]:
    live = func.max(case((ModelCapability.is_active, ModelCapability.model_id), else_=None))
    model_count = select(func.count()).select_from(AIModel).scalar_subquery()
    rows = db.session.execute(
        select(
            ModelCapability.provider_id,
            Provider.slug,
            ModelCapability.capability,
            func.count(),
            live,
            model_count,
        )
        .join(Provider, Provider.id == ModelCapability.provider_id)
        .group_by(ModelCapability.provider_id, Provider.slug, ModelCapability.capability)
    ).all()
    models = rows[0][5] if rows else 0
    return tuple(GroupSummary(*row[:5]) for row in rows), models


def summaries_shown(summaries: list[GroupSummary], filters: Filters) -> list[GroupSummary]:
    """The groups the filters leave (a search needs the names: not here)."""
    return [
        s
        for s in summaries
        if (not filters.provider or s.provider_slug == filters.provider)
        and (not filters.capability or s.capability == filters.capability)
        and (filters.state != "empty" or s.active_id is None)
    ]


def summaries_compact(shown: list[GroupSummary]) -> bool:
    return len(shown) > 1 and sum(s.total for s in shown) > COMPACT_LIMIT


@dataclass(frozen=True)
class ProviderPages:
    """Which page of providers the compact view shows, of how many."""

    page: int
    pages: int


def compact_sections(
    shown: list[GroupSummary], filters: Filters, page: int = 1
) -> tuple[list[Provider], list[ProviderSection], ProviderPages]:
    """Sections of one-line groups, ``PROVIDERS_PER_PAGE`` providers a page (a page out
    of range shows the nearest one), so the first screen keeps its size however many
    providers there are; every provider stays in the filter's list. No model is loaded
    but the live ones of the page's groups; the providers, their model counts and those
    live models are one query each."""
    providers = load_provider_names()
    by_provider: dict[int, list[GroupSummary]] = {}
    for summary in shown:
        by_provider.setdefault(summary.provider_id, []).append(summary)
    listed = [
        p
        for p in providers
        if (not filters.provider or p.slug == filters.provider)
        and not (filters.active and p.id not in by_provider)
    ]
    pages = max(1, -(-len(listed) // PROVIDERS_PER_PAGE))
    page = min(max(page, 1), pages)
    listed = listed[(page - 1) * PROVIDERS_PER_PAGE : page * PROVIDERS_PER_PAGE]
    ids = [p.id for p in listed]
    counts = dict(
        db.session.execute(
            select(AIModel.provider_id, func.count())
            .where(AIModel.provider_id.in_(ids))
            .group_by(AIModel.provider_id)
        ).all()
    )
    live_ids = {s.active_id for i in ids for s in by_provider.get(i, ()) if s.active_id}
    live = {m.id: m for m in db.session.scalars(select(AIModel).where(AIModel.id.in_(live_ids)))}
    sections = []
    for provider in listed:
        mine = by_provider.get(provider.id, [])
        order = {cap: i for i, cap in enumerate(sort_capabilities(s.capability for s in mine))}
        groups = [
            Group(provider, s.capability, (), live.get(s.active_id), total=s.total)
            for s in sorted(mine, key=lambda s: order[s.capability])
        ]
        sections.append(ProviderSection(provider, groups, model_count=counts.get(provider.id, 0)))
    return providers, sections, ProviderPages(page, pages)


@dataclass(frozen=True)
class Totals:
    models: int
    groups: int
    empty: int


def totals_of_summaries(summaries: list[GroupSummary], models: int) -> Totals:
    return Totals(
        models=models,
        groups=len(summaries),
        empty=sum(1 for s in summaries if s.active_id is None),
    )


def totals() -> Totals:
    """The summary counted by the database (after a change, without loading the catalogue)."""
    models = db.session.scalar(select(func.count()).select_from(AIModel)) or 0
    per_group = (
        select(func.max(case((ModelCapability.is_active, 1), else_=0)).label("live"))
        .group_by(ModelCapability.provider_id, ModelCapability.capability)
        .subquery()
    )
    groups, live = db.session.execute(
        select(func.count(), func.coalesce(func.sum(per_group.c.live), 0))
    ).one()
    return Totals(models=models, groups=groups, empty=groups - int(live))


def group_stamp(provider_id: int, capability: str) -> str:
    """The group's state as a switch left it: the live model and when it became live
    ("none" when empty). An undo is offered only while the stamp is unchanged."""
    row = db.session.execute(
        select(ModelCapability.model_id, ModelCapability.activated_at).where(
            ModelCapability.provider_id == provider_id,
            ModelCapability.capability == capability,
            ACTIVE_ROW,
        )
    ).first()
    return stamp_of(row.model_id, row.activated_at) if row else "none"


def stamp_of(live_id: int | None, activated_at: datetime | None) -> str:
    """A group's stamp: its live model and when it became live ("none" when empty)."""
    if live_id is None:
        return "none"
    return f"{live_id}@{activated_at.isoformat() if activated_at else ''}"


def groups_for(keys: Iterable[tuple[int, str]], q: str = "") -> list[Group]:
    """The named groups, freshly loaded after a change: only their rows, not the
    provider's whole catalogue (one query per provider involved: the provider with its
    groups' rows, outer-joined so that a provider without them is still found)."""
    wanted = set(keys)
    groups: list[Group] = []
    for provider_id in sorted({pid for pid, _ in wanted}):
        caps = sorted(cap for pid, cap in wanted if pid == provider_id)
        in_groups = and_(
            ModelCapability.provider_id == Provider.id, ModelCapability.capability.in_(caps)
        )
        found = db.session.execute(
            select(
                Provider,
                ModelCapability.capability,
                ModelCapability.is_active,
                AIModel,
                ModelCapability.activated_at,
            )
            .outerjoin(ModelCapability, in_groups)
            .outerjoin(AIModel, AIModel.id == ModelCapability.model_id)
            .where(Provider.id == provider_id)
            .execution_options(populate_existing=True)
        ).all()
        if not found:
            continue
        rows = [tuple(row)[1:] for row in found if row[1] is not None]
        groups += _groups(found[0][0], rows, q)
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

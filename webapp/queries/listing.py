"""The JSON API's list reads: filtered models, pages, the audit usernames.

Lists load capabilities, providers and the audit usernames in a fixed number of
queries, whatever the page size.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.models import Admin, AIModel, ModelCapability, Provider


def model_query(
    provider: Provider | None = None,
    capability: str | None = None,
    is_active: bool | None = None,
) -> Select:
    """Models, filtered; ``is_active`` means active for ``capability`` when one is given,
    else active for at least one capability."""
    stmt = select(AIModel).options(
        selectinload(AIModel.capability_rows), selectinload(AIModel.provider)
    )
    if provider is not None:
        stmt = stmt.where(AIModel.provider_id == provider.id)
    if capability is not None:
        stmt = stmt.where(
            exists().where(
                ModelCapability.model_id == AIModel.id, ModelCapability.capability == capability
            )
        )
    if is_active is not None:
        condition = [ModelCapability.model_id == AIModel.id, ModelCapability.is_active]
        if capability is not None:
            condition.append(ModelCapability.capability == capability)
        active = exists().where(*condition)
        stmt = stmt.where(active if is_active else ~active)
    return stmt


def count(entity, *criteria) -> int:
    """How many rows of ``entity`` meet every one of ``criteria``."""
    return db.session.scalar(select(func.count()).select_from(entity).where(*criteria))


def page_of(stmt: Select, order_by, page: int, page_size: int) -> tuple[list, dict]:
    """One page of ``stmt``'s rows, and the API envelope's ``pagination`` object."""
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    offset = (page - 1) * page_size
    rows = list(db.session.scalars(stmt.order_by(*order_by).limit(page_size).offset(offset)))
    pages = (total + page_size - 1) // page_size
    return rows, {"page": page, "page_size": page_size, "total": total, "pages": pages}


def usernames(rows: Iterable) -> dict[int, str]:
    """Admin id → username, for the rows' ``created_by_id`` and ``updated_by_id``."""
    return names_of(i for r in rows for i in (r.created_by_id, r.updated_by_id))


def names_of(admin_ids: Iterable[int | None], name=Admin.username) -> dict[int, str]:
    """Admin id → ``name`` (the username unless told) for ``admin_ids`` (None left out): one
    query, none without ids."""
    ids = {i for i in admin_ids if i is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Admin.id, name).where(Admin.id.in_(ids))).all())


# --- the dashboard's model list (sortable, filterable, paged) ---------------------------

LIST_SORTS = {
    "name": (AIModel.display_name, AIModel.id),
    "provider": (Provider.name, AIModel.display_name, AIModel.id),
    "updated": (AIModel.updated_at, AIModel.id),
}
LIST_PAGE_SIZE = 50


def model_list(
    *,
    provider: str = "",
    capability: str = "",
    status: str = "",
    q: str = "",
    sort: str = "name",
    descending: bool = False,
    page: int = 1,
) -> tuple[list[AIModel], dict]:
    """One page of models for the list screen: ``status`` is "active" (live for at least
    one capability) or "inactive"; ``q`` matches the names, the model id and the provider."""
    stmt = model_query(
        capability=capability or None,
        is_active={"active": True, "inactive": False}.get(status),
    ).join(Provider, Provider.id == AIModel.provider_id)
    if provider:
        stmt = stmt.where(Provider.slug == provider)
    if q:
        # autoescape: a "%" or "_" typed in the search is that character, not a wildcard.
        columns = (AIModel.display_name, AIModel.name, AIModel.model_id, Provider.name)
        stmt = stmt.where(or_(*(c.icontains(q, autoescape=True) for c in columns)))
    columns = LIST_SORTS.get(sort, LIST_SORTS["name"])
    order = [c.desc() if descending else c.asc() for c in columns]
    return page_of(stmt, order, max(page, 1), LIST_PAGE_SIZE)

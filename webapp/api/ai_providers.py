"""``/api/v1/ai-providers/…``: providers and their shared key (write-only).

The key goes in as ``shared_api_key`` (a string sets it, ``null`` or ``""`` clears
it) and never comes out: answers carry ``has_shared_api_key`` and a hint.
"""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select

from webapp.api.blueprint import actor, provider_or_404, read_body, route
from webapp.api.responses import success
from webapp.api.schemas import (
    PageQuery,
    Provider,
    ProviderCreate,
    ProviderReplace,
    ProviderUpdate,
)
from webapp.models import Provider as ProviderRow
from webapp.operations import catalog
from webapp.queries.listing import page_of


@route("GET", "/ai-providers/", "view_models", PageQuery)
def provider_list(args: PageQuery):
    """Providers, paged (ordered by id)."""
    rows, pagination = page_of(select(ProviderRow), (ProviderRow.id,), args.page, args.page_size)
    return success(Provider.of_rows(rows), _("Providers retrieved"), pagination=pagination)


@route("POST", "/ai-providers/", "manage_providers", body=ProviderCreate)
def provider_create():
    """Create a provider."""
    provider = catalog.create_provider(read_body(), actor=actor())
    return success(
        Provider.of(provider),
        _("Provider created"),
        201,
        headers={"Location": url_for("api.provider_detail", slug=provider.slug)},
    )


@route("GET", "/ai-providers/<slug>/", "view_models")
def provider_detail(slug: str):
    """One provider."""
    return success(Provider.of(provider_or_404(slug)), _("Provider retrieved"))


@route("PATCH", "/ai-providers/<slug>/", "manage_providers", body=ProviderUpdate)
def provider_update(slug: str):
    """Partial update."""
    return _updated(slug)


@route("PUT", "/ai-providers/<slug>/", "manage_providers", body=ProviderReplace)
def provider_replace(slug: str):
    """Full update (required fields required, as in Django REST framework); answers as PATCH."""
    return _updated(slug)


def _updated(slug: str):
    provider = provider_or_404(slug)
    change = catalog.change_provider(provider.id, read_body(), actor=actor())
    message = " ".join([_("Provider updated"), *change.notes()])
    return success(Provider.of(change.provider), message)


@route("DELETE", "/ai-providers/<slug>/", "manage_providers")
def provider_delete(slug: str):
    """Delete a provider and all its models."""
    catalog.delete_provider(provider_or_404(slug).id, actor=actor())
    return success(None, _("Provider deleted"))

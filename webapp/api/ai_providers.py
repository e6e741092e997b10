"""``/api/v1/ai-providers/…``: providers and their shared key (write-only).

The key goes in as ``shared_api_key`` (a string sets it, ``null`` or ``""`` clears
it) and never comes out: answers carry ``has_shared_api_key`` and a hint.
"""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select

from webapp.access import permission_required
from webapp.api import bp
from webapp.api.ai_models import actor
from webapp.api.parsing import Field, json_body, page_params, provider_slug, query
from webapp.api.responses import localized, success
from webapp.api.shapes import page_of, provider_json, providers_json
from webapp.models import Provider
from webapp.operations import catalog

FIELDS = {
    "slug": Field("string"),
    "name": Field("string"),
    "base_url": Field("string"),
    "is_enabled": Field("boolean"),
    "shared_api_enabled": Field("boolean"),
    "shared_api_key": Field("string_or_null"),
}
CREATE_FIELDS = FIELDS | {"slug": Field("string", True), "name": Field("string", True)}


def _provider(slug: str) -> Provider:
    return catalog.get_provider(provider_slug(slug))


@bp.get("/ai-providers/", strict_slashes=False)
@localized
@permission_required("view_models")
def provider_list():
    args = query(("page", "page_size"))
    page, page_size = page_params(args)
    rows, pagination = page_of(select(Provider), (Provider.id,), page, page_size)
    return success(providers_json(rows), _("Providers retrieved"), pagination=pagination)


@bp.post("/ai-providers/", strict_slashes=False)
@localized
@permission_required("manage_providers")
def provider_create():
    query(())
    provider = catalog.create_provider(json_body(CREATE_FIELDS), actor=actor())
    return success(
        provider_json(provider),
        _("Provider created"),
        201,
        headers={"Location": url_for("api.provider_detail", slug=provider.slug)},
    )


@bp.get("/ai-providers/<slug>/", strict_slashes=False)
@localized
@permission_required("view_models")
def provider_detail(slug: str):
    query(())
    return success(provider_json(_provider(slug)), _("Provider retrieved"))


@bp.patch("/ai-providers/<slug>/", strict_slashes=False)
@localized
@permission_required("manage_providers")
def provider_update(slug: str):
    query(())
    provider = _provider(slug)
    change = catalog.change_provider(provider.id, json_body(FIELDS), actor=actor())
    message = " ".join([_("Provider updated"), *change.notes()])
    return success(provider_json(change.provider), message)


@bp.delete("/ai-providers/<slug>/", strict_slashes=False)
@localized
@permission_required("manage_providers")
def provider_delete(slug: str):
    query(())
    catalog.delete_provider(_provider(slug).id, actor=actor())
    return success(None, _("Provider deleted"))

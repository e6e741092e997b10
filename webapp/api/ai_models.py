"""``/api/v1/ai-models/…``: read, create, edit, activate, delete models; the conflict preview.

PATCH semantics: ``capabilities`` always means the model's capability set (as in
GET and POST); ``is_active: true`` activates the model for every capability it
has after the edit, ``false`` deactivates it everywhere; ``active_capabilities``
(instead of ``is_active``) makes it active for exactly those. The answer names the
real number of other models the activation deactivated.
"""

from __future__ import annotations

from functools import lru_cache

from flask import url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from webapp import messages
from webapp.api.blueprint import (
    actor,
    provider_or_404,
    provider_slug,
    read_body,
    route,
)
from webapp.api.responses import failure, success
from webapp.api.schemas import (
    ActiveModelQuery,
    ByProviderQuery,
    ConflictsQuery,
    Model,
    ModelCreate,
    ModelListQuery,
    ModelReplace,
    ModelUpdate,
    invalid,
)
from webapp.db import transactional
from webapp.errors import NotFound, ValidationError
from webapp.extensions import db
from webapp.i18n import API_LANGUAGES, api_locale
from webapp.models import AIModel
from webapp.operations import activation, audit, catalog
from webapp.operations.locks import MODEL_NOT_FOUND
from webapp.queries import lookup
from webapp.queries.listing import model_query, page_of, usernames

MODEL_ID = "<int:model_id>"


def _with_deactivations(text: str, result) -> str:
    count = result.deactivated_count if result is not None else 0
    if not count:
        return text
    return _(
        "%(updated)s. %(others)s", updated=text, others=messages.other_models_deactivated(count)
    )


@route("GET", "/ai-models/active_model/", "view_models", ActiveModelQuery)
def model_active(args: ActiveModelQuery):
    """The active model of a provider for a capability (cached); 404 if none or no provider.

    A cached hit runs no query (beyond authentication); an empty answer runs one
    more to tell an unknown provider (404, its own message) from an empty group.
    """
    active = lookup.get_active_model(provider_slug(args.provider), args.capability)
    if active is None:
        provider_or_404(args.provider)
        return failure(404, messages.no_active_model())
    return success(_answer(active), _retrieved(api_locale()))


@lru_cache(maxsize=len(API_LANGUAGES))
def _retrieved(locale: str) -> str:
    """The seed's message in ``locale`` (the catalogues are fixed for the process's life)."""
    return messages.model_retrieved()


def _shape(snapshot: lookup.ActiveModel) -> dict:
    """The API's shape of a model snapshot."""
    data = snapshot.to_dict()
    return Model.model_validate({key: data[key] for key in Model.model_fields}).model_dump()


# A cached snapshot's answer is built once (snapshots are immutable; the answer is only
# ever encoded, never changed).
_answer = lru_cache(maxsize=1024)(_shape)


@route("GET", "/ai-models/by_provider/", "view_models", ByProviderQuery)
def model_by_provider(args: ByProviderQuery):
    """Every model of a provider (optionally those with a capability); paged on request."""
    stmt = model_query(provider_or_404(args.provider), args.capability)
    order = (AIModel.display_name, AIModel.id)
    if not {"page", "page_size"} & args.model_fields_set:
        rows = list(db.session.scalars(stmt.order_by(*order)))
        return success(Model.of_rows(rows), _("Models retrieved"))
    rows, pagination = page_of(stmt, order, args.page, args.page_size)
    return success(Model.of_rows(rows), _("Models retrieved"), pagination=pagination)


@route("GET", "/ai-models/", "view_models", ModelListQuery)
def model_list(args: ModelListQuery):
    """Models, filtered and paged (ordered by id)."""
    provider = provider_or_404(args.provider) if args.provider is not None else None
    rows, pagination = page_of(
        model_query(provider, args.capability, args.is_active),
        (AIModel.id,),
        args.page,
        args.page_size,
    )
    return success(Model.of_rows(rows), _("Models retrieved"), pagination=pagination)


@route("POST", "/ai-models/", "manage_models", body=ModelCreate)
def model_create():
    """Create a model (inactive unless is_active is true)."""
    data = read_body()
    try:
        slug = provider_slug(data.pop("provider"))
        model, result = catalog.create_model(slug, data, actor=actor())
    except NotFound as exc:
        if exc.field != "provider":
            raise
        raise invalid({"provider": exc.message}) from None
    return success(
        Model.of(model),
        _with_deactivations(_("Model created"), result),
        201,
        headers={"Location": url_for("api.model_detail", model_id=model.id)},
    )


@route("GET", f"/ai-models/{MODEL_ID}/", "view_models")
def model_detail(model_id: int):
    """One model."""
    return success(Model.of(catalog.get_model(model_id)), _("Model retrieved"))


@route("PATCH", f"/ai-models/{MODEL_ID}/", "manage_models", body=ModelUpdate)
def model_update(model_id: int):
    """Partial update; «مدل به‌روزرسانی شد. N مدل دیگر غیرفعال شد» when it activates."""
    return _updated(model_id)


@route("PUT", f"/ai-models/{MODEL_ID}/", "manage_models", body=ModelReplace)
def model_replace(model_id: int):
    """Full update (required fields required, as in Django REST framework); answers as PATCH."""
    return _updated(model_id)


def _updated(model_id: int):
    data = read_body()
    wanted = data.pop("active_capabilities", None)
    if wanted is not None and "is_active" in data:
        raise invalid({"active_capabilities": _("Send either is_active or active_capabilities.")})
    if wanted is None and data.keys() == {"is_active"}:
        return _switched(model_id, data["is_active"])
    model, result = catalog.update_model_and_activation(model_id, data, wanted, actor=actor())
    count = result.deactivated_count if result is not None else 0
    return success(Model.of(model), messages.model_updated(count))


def _switched(model_id: int, active: bool):
    """A PATCH of ``is_active`` alone is the activation itself: ``update_model`` would
    lock and re-read the model only to find nothing else to change."""
    count, snapshot = _switch_and_read(model_id, active, audit.plain_actor(actor()))
    return success(_shape(snapshot), messages.model_updated(count))


@transactional(idempotent=True)
def _switch_and_read(model_id: int, active: bool, who) -> tuple[int, lookup.ActiveModel]:
    """The switch, then the model as it left it, in the switch's transaction: reading it
    after the commit took a connection from the pool again (a ping, BEGIN, the query)."""
    count = 0
    if active:
        count = activation.activate(model_id, actor=who).deactivated_count
    else:
        activation.deactivate(model_id, actor=who)
    snapshot = lookup.model_snapshot(model_id)
    if snapshot is None:  # the switch found it under its lock: cannot happen
        raise NotFound(MODEL_NOT_FOUND, field="model")
    return count, snapshot


@route("DELETE", f"/ai-models/{MODEL_ID}/", "manage_models")
def model_delete(model_id: int):
    """Delete a model (and its activations)."""
    catalog.delete_model(model_id, actor=actor())
    return success(None, _("Model deleted"))


@route("GET", f"/ai-models/{MODEL_ID}/conflicts/", "view_models", ConflictsQuery)
def model_conflicts(model_id: int, args: ConflictsQuery):
    """Which models activating this one (or one capability) would deactivate; writes nothing."""
    capability = args.capability
    try:
        preview = activation.preview(model_id, [capability] if capability else None)
    except ValidationError as exc:
        raise invalid({"capability": exc.message}) from None
    names = usernames([preview.model, *(c.model for c in preview.conflicts)])
    count = preview.deactivated_count
    if count:
        message = ngettext(
            "Activating this model would deactivate %(num)d other model",
            "Activating this model would deactivate %(num)d other models",
            count,
        )
    else:
        message = _("Activating this model would not deactivate any other model")
    data = {
        "model": Model.of(preview.model, names),
        "capabilities": list(preview.requested),
        "deactivated_count": count,
        "conflicts": [
            {
                "model": Model.of(c.model, names),
                "capabilities": list(c.capabilities),
                "message": c.message,
            }
            for c in preview.conflicts
        ],
    }
    return success(data, message)

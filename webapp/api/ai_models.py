"""``/api/v1/ai-models/…``: read, create, edit, activate, delete models; the conflict preview.

PATCH semantics: ``capabilities`` always means the model's capability set (as in
GET and POST); ``is_active: true`` activates the model for every capability it
has after the edit, ``false`` deactivates it everywhere; ``active_capabilities``
(instead of ``is_active``) makes it active for exactly those. The answer names the
real number of other models the activation deactivated.
"""

from __future__ import annotations

from flask import url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from webapp import messages
from webapp.access import permission_required
from webapp.api import bp
from webapp.api.parsing import (
    Field,
    boolean_param,
    capability_param,
    invalid,
    json_body,
    page_params,
    provider_slug,
    query,
)
from webapp.api.responses import failure, localized, success
from webapp.api.shapes import (
    MODEL_KEYS,
    find_provider,
    model_json,
    model_query,
    models_json,
    page_of,
    usernames,
)
from webapp.capabilities import sort_capabilities
from webapp.db import transactional
from webapp.errors import NotFound, ValidationError
from webapp.extensions import db
from webapp.models import AIModel
from webapp.operations import activation, catalog
from webapp.queries import lookup

MODEL_ID = "<int:model_id>"
CREATE_FIELDS = {
    "provider": Field("string", required=True),
    "name": Field("string", required=True),
    "model_id": Field("string", required=True),
    "display_name": Field("string", required=True),
    "capabilities": Field("capabilities", required=True),
    "is_active": Field("boolean"),
}
UPDATE_FIELDS = {
    "name": Field("string"),
    "model_id": Field("string"),
    "display_name": Field("string"),
    "capabilities": Field("capabilities"),
    "is_active": Field("boolean"),
    "active_capabilities": Field("capabilities"),
}


def actor():
    return current_user._get_current_object()


def _known_provider(slug: str):
    provider = find_provider(provider_slug(slug))
    if provider is None:
        raise NotFound(_("The provider was not found."), field="provider")
    return provider


def _with_deactivations(text: str, result) -> str:
    count = result.deactivated_count if result is not None else 0
    if not count:
        return text
    return _(
        "%(updated)s. %(others)s", updated=text, others=messages.other_models_deactivated(count)
    )


@bp.get("/ai-models/active_model/", strict_slashes=False)
@localized
@permission_required("view_models")
def model_active():
    """The live model of a provider for a capability, from the cached lookup.

    A cached hit runs no query (beyond authentication); an empty answer runs one
    more to tell an unknown provider (404, its own message) from an empty group.
    """
    args = query(("provider", "capability"), required=("provider", "capability"))
    capability = capability_param(args["capability"])
    slug = provider_slug(args["provider"])
    active = lookup.get_active_model(slug, capability)
    if active is None:
        _known_provider(slug)
        return failure(404, messages.no_active_model())
    data = active.to_dict()
    return success({key: data[key] for key in MODEL_KEYS}, messages.model_retrieved())


@bp.get("/ai-models/by_provider/", strict_slashes=False)
@localized
@permission_required("view_models")
def model_by_provider():
    args = query(("provider", "capability"), required=("provider",))
    capability = capability_param(args.get("capability"))
    provider = _known_provider(args["provider"])
    rows = list(
        db.session.scalars(
            model_query(provider, capability).order_by(AIModel.display_name, AIModel.id)
        )
    )
    return success(models_json(rows), _("Models retrieved"))


@bp.get("/ai-models/", strict_slashes=False)
@localized
@permission_required("view_models")
def model_list():
    args = query(("provider", "capability", "is_active", "page", "page_size"))
    capability = capability_param(args.get("capability"))
    is_active = boolean_param(args.get("is_active"), "is_active")
    page, page_size = page_params(args)
    provider = _known_provider(args["provider"]) if "provider" in args else None
    rows, pagination = page_of(
        model_query(provider, capability, is_active), (AIModel.id,), page, page_size
    )
    return success(models_json(rows), _("Models retrieved"), pagination=pagination)


@bp.post("/ai-models/", strict_slashes=False)
@localized
@permission_required("manage_models")
def model_create():
    query(())
    data = json_body(CREATE_FIELDS)
    slug = data.pop("provider")
    try:
        model, result = catalog.create_model(provider_slug(slug), data, actor=actor())
    except NotFound as exc:
        if exc.field != "provider":
            raise
        raise invalid({"provider": exc.message}) from None
    return success(
        model_json(model),
        _with_deactivations(_("Model created"), result),
        201,
        headers={"Location": url_for("api.model_detail", model_id=model.id)},
    )


@bp.get(f"/ai-models/{MODEL_ID}/", strict_slashes=False)
@localized
@permission_required("view_models")
def model_detail(model_id: int):
    query(())
    return success(model_json(catalog.get_model(model_id)), _("Model retrieved"))


@bp.patch(f"/ai-models/{MODEL_ID}/", strict_slashes=False)
@localized
@permission_required("manage_models")
def model_update(model_id: int):
    query(())
    data = json_body(UPDATE_FIELDS)
    wanted = data.pop("active_capabilities", None)
    if wanted is not None and "is_active" in data:
        raise invalid({"active_capabilities": _("Send either is_active or active_capabilities.")})
    model, result = _update_model(model_id, data, wanted, actor())
    count = result.deactivated_count if result is not None else 0
    return success(model_json(model), messages.model_updated(count))


@transactional
def _update_model(model_id: int, data: dict, wanted: list[str] | None, actor):
    """``catalog.update_model``, then, in the same transaction, make the model active for
    exactly ``wanted`` (when given) through the activation service: taken from whoever
    held them, dropped where not wanted. Any refusal rolls the whole change back."""
    model, result = catalog.update_model(model_id, data, actor=actor)
    if wanted is None:
        return model, result
    wanted = sort_capabilities(wanted)
    dropped = [c for c in model.active_capabilities if c not in wanted]
    try:
        result = activation.activate(model_id, wanted, actor=actor) if wanted else None
        if dropped:
            activation.deactivate(model_id, dropped, actor=actor)
    except ValidationError as exc:
        raise invalid({"active_capabilities": exc.message}) from None
    return catalog.get_model(model_id), result


@bp.delete(f"/ai-models/{MODEL_ID}/", strict_slashes=False)
@localized
@permission_required("manage_models")
def model_delete(model_id: int):
    query(())
    catalog.delete_model(model_id, actor=actor())
    return success(None, _("Model deleted"))


@bp.get(f"/ai-models/{MODEL_ID}/conflicts/", strict_slashes=False)
@localized
@permission_required("view_models")
def model_conflicts(model_id: int):
    """What ``PATCH {"is_active": true}`` (or one capability) would deactivate; writes nothing."""
    args = query(("capability",))
    capability = capability_param(args.get("capability"))
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
        "model": model_json(preview.model, names),
        "capabilities": list(preview.requested),
        "deactivated_count": count,
        "conflicts": [
            {
                "model": model_json(c.model, names),
                "capabilities": list(c.capabilities),
                "message": c.message,
            }
            for c in preview.conflicts
        ],
    }
    return success(data, message)

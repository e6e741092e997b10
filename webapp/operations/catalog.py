"""Providers and models: create, edit, delete, each one audited transaction.

Capability edits, deletions and provider switches take the provider lock first,
like activation does (see ``operations.locks``), so they serialise with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import delete, or_, select

from webapp import secrets, validation
from webapp.ai import egress
from webapp.capabilities import label, sort_capabilities
from webapp.db import transactional, unique_message
from webapp.errors import NotFound, ValidationError
from webapp.extensions import db
from webapp.models import AdminProviderSettings, AIModel, ModelCapability, Provider
from webapp.operations import audit
from webapp.operations.activation import ActivationResult, activate, deactivate
from webapp.operations.locks import (
    MODEL_NOT_FOUND,
    get_model,
    get_provider,
    locked_model,
    locked_provider,
)
from webapp.queries.listing import count
from webapp.queries.lookup import invalidate_provider

__all__ = ["get_model", "get_provider"]  # the reads every caller of this module needs too

SLUG_TAKEN = _l("A provider with this slug already exists.")
MODEL_NAME_TAKEN = _l("This provider already has a model with this name.")
MODEL_ID_TAKEN = _l("This provider already has a model with this model id.")
MODEL_TAKEN = {"name": MODEL_NAME_TAKEN, "model_id": MODEL_ID_TAKEN}
# Two creates racing past the checks below meet the unique index: same answer.
unique_message("provider", "slug", SLUG_TAKEN)
unique_message("ai_model", "name", MODEL_NAME_TAKEN)
unique_message("ai_model", "model_id", MODEL_ID_TAKEN)


# What the audit trail keeps of a provider (and its key's hint) and of a model.
PROVIDER_AUDITED = ("slug", "name", "base_url", "is_enabled", "shared_api_enabled")
MODEL_AUDITED = ("name", "model_id", "display_name", "capabilities", "active_capabilities")


def provider_snapshot(p: Provider) -> dict:
    hint = p.shared_api_key_hint if p.has_shared_api_key else ""
    return {name: getattr(p, name) for name in PROVIDER_AUDITED} | {"shared_api_key_hint": hint}


def model_snapshot(m: AIModel) -> dict:
    return {name: getattr(m, name) for name in MODEL_AUDITED}


# --- providers -------------------------------------------------------------------------


def _clean_provider(data: dict, *, partial: bool) -> dict:
    clean: dict = {}
    if "slug" in data or not partial:
        clean["slug"] = validation.slug(data.get("slug"))
    if "name" in data or not partial:
        clean["name"] = validation.text(data.get("name"), "name", max_length=100)
    if "base_url" in data:
        clean["base_url"] = validation.base_url(data.get("base_url"))
    for flag in ("is_enabled", "shared_api_enabled"):
        if flag in data:
            clean[flag] = validation.boolean(data[flag], flag)
    if "shared_api_key" in data and data["shared_api_key"] not in (None, ""):
        clean["shared_api_key"] = secrets.clean_key(data["shared_api_key"], "shared_api_key")
    elif "shared_api_key" in data:
        clean["shared_api_key"] = None  # explicit null or "": clear the key
    return clean


def _set_shared_key(provider: Provider, key: str | None) -> None:
    if key:
        provider.shared_api_key_encrypted = secrets.encrypt(key)
        provider.shared_api_key_hint = secrets.hint(key)
    else:
        provider.shared_api_key_encrypted = None
        provider.shared_api_key_hint = ""


@transactional
def create_provider(data: dict, *, actor=None) -> Provider:
    clean = _clean_provider(data, partial=False)
    if count(Provider, Provider.slug == clean["slug"]):
        raise ValidationError(SLUG_TAKEN, field="slug")
    key = clean.pop("shared_api_key", None)
    provider = Provider(**clean)
    _set_shared_key(provider, key)
    provider.stamp(actor)
    db.session.add(provider)
    db.session.flush()
    audit.record("provider.create", provider, actor=actor, after=provider_snapshot(provider))
    invalidate_provider(provider.slug)
    return provider


@dataclass(frozen=True)
class ProviderUpdate:
    """What ``change_provider`` did beyond the fields: a move of the address to another
    origin (scheme, host or port) drops the shared key and holds back personal keys."""

    provider: Provider
    origin_changed: bool = False
    shared_key_cleared: bool = False
    personal_keys_on_hold: int = 0

    def notes(self) -> list[str]:
        """Sentences for the admin who made the change (translated)."""
        notes = []
        if self.shared_key_cleared:
            notes.append(
                str(
                    _l(
                        "The address now points to another server, so the shared key was "
                        "removed; enter it again if it belongs there."
                    )
                )
            )
        if self.personal_keys_on_hold:
            notes.append(
                ngettext(
                    "%(num)d personal key is held back until its owner confirms it "
                    "for the new address.",
                    "%(num)d personal keys are held back until their owners confirm them "
                    "for the new address.",
                    self.personal_keys_on_hold,
                )
            )
        return notes


def update_provider(provider: Provider | int, data: dict, *, actor=None) -> Provider:
    return change_provider(provider, data, actor=actor).provider


def _personal_keys_elsewhere(provider: Provider, origin: str) -> int:
    """Personal keys of ``provider`` bound to another origin than ``origin``."""
    return count(
        AdminProviderSettings,
        AdminProviderSettings.provider_id == provider.id,
        AdminProviderSettings.personal_api_key_encrypted.is_not(None),
        or_(
            AdminProviderSettings.personal_api_key_origin.is_(None),
            AdminProviderSettings.personal_api_key_origin != origin,
        ),
    )


@transactional
def change_provider(provider: Provider | int, data: dict, *, actor=None) -> ProviderUpdate:
    """Partial update. When ``base_url`` moves to another origin, the shared key is cleared
    unless this same change sets a new one: a key must never follow the address elsewhere."""
    provider = locked_provider(provider)
    clean = _clean_provider(data, partial=True)
    if "slug" in clean and count(
        Provider, Provider.slug == clean["slug"], Provider.id != provider.id
    ):
        raise ValidationError(SLUG_TAKEN, field="slug")
    before = provider_snapshot(provider)
    old_slug = provider.slug
    old_origin = egress.origin(provider.base_url)
    origin_changed = "base_url" in clean and egress.origin(clean["base_url"]) != old_origin
    shared_key_cleared = False
    if origin_changed and not clean.get("shared_api_key") and provider.has_shared_api_key:
        clean["shared_api_key"] = None
        shared_key_cleared = True
    key_changed = "shared_api_key" in clean
    if key_changed:
        _set_shared_key(provider, clean.pop("shared_api_key"))
    for key, value in clean.items():
        setattr(provider, key, value)
    after = provider_snapshot(provider)
    if after == before and not key_changed:
        return ProviderUpdate(provider)
    on_hold = 0
    provider.stamp(actor)
    if key_changed:
        after["shared_api_key_changed"] = True  # the fact, never the key
    if origin_changed:
        on_hold = _personal_keys_elsewhere(provider, egress.origin(provider.base_url))
        after["origin_changed"] = True
        if shared_key_cleared:
            after["shared_api_key_cleared"] = True
        if on_hold:
            after["personal_keys_on_hold"] = on_hold
    audit.record("provider.update", provider, actor=actor, before=before, after=after)
    invalidate_provider(old_slug, provider.slug)
    return ProviderUpdate(provider, origin_changed, shared_key_cleared, on_hold)


@transactional
def delete_provider(provider: Provider | int, *, actor=None) -> None:
    provider = locked_provider(provider)
    models = count(AIModel, AIModel.provider_id == provider.id)
    before = provider_snapshot(provider) | {"models": models}
    audit.record("provider.delete", provider, actor=actor, before=before)
    invalidate_provider(provider.slug)
    db.session.delete(provider)


# --- models ----------------------------------------------------------------------------


def _clean_model(data: dict, *, partial: bool) -> dict:
    clean: dict = {}
    if "name" in data or not partial:
        clean["name"] = validation.model_name(data.get("name"))
    if "model_id" in data or not partial:
        clean["model_id"] = validation.model_identifier(data.get("model_id"))
    if "display_name" in data or not partial:
        clean["display_name"] = validation.text(
            data.get("display_name"), "display_name", max_length=200
        )
    if "description" in data:
        clean["description"] = validation.text(
            data.get("description"), "description", max_length=2000, required=False
        )
    if "capabilities" in data or not partial:
        clean["capabilities"] = validation.capabilities(data.get("capabilities"))
    if "is_active" in data:
        clean["is_active"] = validation.boolean(data["is_active"], "is_active")
    return clean


def _refuse_taken(provider_id: int, clean: dict, exclude_id: int | None = None) -> None:
    """A model's name and model id are each unique within its provider (``exclude_id``:
    the model being edited; None compares as ``IS NOT NULL``, every model)."""
    others = (AIModel.provider_id == provider_id, AIModel.id != exclude_id)
    errors = {
        name: [str(message)]
        for name, message in MODEL_TAKEN.items()
        if name in clean and count(AIModel, getattr(AIModel, name) == clean[name], *others)
    }
    if errors:
        field = next(iter(errors))
        raise ValidationError(MODEL_TAKEN[field], field=field, errors=errors)


@transactional
def create_model(
    provider: Provider | str | int, data: dict, *, actor=None
) -> tuple[AIModel, ActivationResult | None]:
    """Create a model (inactive unless ``is_active``); returns it and the activation, if any."""
    provider = locked_provider(provider)
    clean = _clean_model(data, partial=False)
    _refuse_taken(provider.id, clean)
    caps = clean.pop("capabilities")
    make_active = clean.pop("is_active", False)
    model = AIModel(provider_id=provider.id, **clean)
    model.stamp(actor)
    model.capability_rows = [ModelCapability(capability=c, provider_id=provider.id) for c in caps]
    db.session.add(model)
    db.session.flush()
    audit.record("model.create", model, actor=actor, after=model_snapshot(model))
    invalidate_provider(provider.slug)
    result = activate(model.id, actor=actor) if make_active else None
    return model, result


@transactional(idempotent=True)
def update_model(
    model: AIModel | int, data: dict, *, actor=None
) -> tuple[AIModel, ActivationResult | None]:
    """Partial update. ``is_active: true`` activates every capability (after the edit),
    ``false`` deactivates every one. Dropping a capability drops its activation."""
    provider, model = locked_model(model)
    model_id, provider_id = model.id, provider.id
    clean = _clean_model(data, partial=True)
    _refuse_taken(provider_id, clean, exclude_id=model_id)
    before = model_snapshot(model)
    caps = clean.pop("capabilities", None)
    is_active = clean.pop("is_active", None)
    for key, value in clean.items():
        setattr(model, key, value)
    if caps is not None and caps != model.capabilities:
        dropped = [c for c in model.capabilities if c not in caps]
        added = [c for c in caps if c not in model.capabilities]
        if dropped:
            db.session.execute(
                delete(ModelCapability).where(
                    ModelCapability.model_id == model_id,
                    ModelCapability.capability.in_(dropped),
                )
            )
        for cap in added:
            db.session.add(
                ModelCapability(model_id=model_id, provider_id=provider_id, capability=cap)
            )
        db.session.flush()
        db.session.expire(model, ["capability_rows"])
    after = model_snapshot(model)
    if after != before:
        model.stamp(actor)
        audit.record("model.update", model, actor=actor, before=before, after=after)
        invalidate_provider(provider.slug)
    result = None
    if is_active is True:
        result = activate(model_id, actor=actor)
    elif is_active is False:
        deactivate(model_id, actor=actor)
    db.session.flush()
    db.session.refresh(model)
    return model, result


@transactional(idempotent=True)
def update_model_and_activation(
    model_id: int, data: dict, wanted: list[str] | None, *, actor=None
) -> tuple[AIModel, ActivationResult | None]:
    """``update_model``, then, in the same transaction, make the model active for exactly
    ``wanted`` (when given): taken from whoever held them, dropped where not wanted. Any
    refusal rolls the whole change back; the activation's is reported on the field."""
    model, result = update_model(model_id, data, actor=actor)
    if wanted is None:
        return model, result
    wanted = sort_capabilities(wanted)
    dropped = [c for c in model.active_capabilities if c not in wanted]
    try:
        result = activate(model_id, wanted, actor=actor) if wanted else None
        if dropped:
            deactivate(model_id, dropped, actor=actor)
    except ValidationError as exc:
        raise ValidationError(
            _l("The input is not valid."), errors={"active_capabilities": [str(exc.message)]}
        ) from None
    return get_model(model_id), result


@transactional
def delete_model(model: AIModel | int, *, actor=None) -> None:
    provider, model = locked_model(model)
    audit.record("model.delete", model, actor=actor, before=model_snapshot(model))
    invalidate_provider(provider.slug)
    db.session.delete(model)


# --- many models at once (the model list's bulk actions) ------------------------------

BULK_ACTIONS = ("enable", "disable", "delete")


@dataclass(frozen=True)
class BulkResult:
    action: str
    changed: int  # models whose state changed
    deactivated: int = 0  # other models that lost an activation (enable)


def _models_in_order(model_ids) -> list[AIModel]:
    ids = sorted({int(i) for i in model_ids})
    found = list(db.session.scalars(select(AIModel).where(AIModel.id.in_(ids))))
    if len(found) != len(ids):
        raise NotFound(MODEL_NOT_FOUND)
    return sorted(found, key=lambda m: (m.provider_id, m.id))


def refuse_shared_groups(models: list[AIModel]) -> None:
    """Enabling makes a model live for all its capabilities: two selected models of one
    (provider, capability) would take it from each other."""
    seen: dict[tuple[int, str], AIModel] = {}
    for model in models:
        for cap in model.capabilities:
            first = seen.setdefault((model.provider_id, cap), model)
            if first is not model:
                raise ValidationError(
                    _l(
                        "%(first)s and %(second)s are in the same group (%(capability)s of"
                        " %(provider)s): only one of them can be active. Select one of them.",
                        first=first.display_name,
                        second=model.display_name,
                        capability=label(cap),
                        provider=model.provider.name,
                    )
                )


@transactional
def bulk_models(action: str, model_ids, *, actor=None) -> BulkResult:
    """Enable (make live for every capability), disable (take out of service) or delete
    the models, all or none, each through the single-model operation (its lock, its
    audit event)."""
    if action not in BULK_ACTIONS:
        raise ValidationError(_l("Unknown action."), field="action")
    models = _models_in_order(model_ids)
    if not models:
        raise ValidationError(_l("Select at least one model."), field="ids")
    changed = deactivated_ids = 0
    if action == "enable":
        refuse_shared_groups(models)
        selected = {m.id for m in models}
        others: set[int] = set()
        for model in models:
            result = activate(model.id, actor=actor)
            changed += bool(result.changed)
            others |= {mid for mid, _cap in result.deactivated_ids if mid not in selected}
        deactivated_ids = len(others)
    elif action == "disable":
        for model in models:
            changed += bool(deactivate(model.id, actor=actor).changed)
    else:
        for model in models:
            delete_model(model.id, actor=actor)
        changed = len(models)
    return BulkResult(action, changed, deactivated_ids)

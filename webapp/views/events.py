"""Audit events told in words: a sentence per action, the fields that changed with
readable values, and the deactivations an activation caused.

Presentation only: the events themselves are written by ``services.audit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from webapp import capabilities
from webapp.i18n import current_lang
from webapp.models import AuditEvent

ACTIONS = {
    "provider.create": _l("Provider creation"),
    "provider.update": _l("Provider change"),
    "provider.delete": _l("Provider deletion"),
    "model.create": _l("Model creation"),
    "model.update": _l("Model change"),
    "model.delete": _l("Model deletion"),
    "model.activate": _l("Model activation"),
    "model.deactivate": _l("Model deactivation"),
    "admin.create": _l("Admin creation"),
    "admin.update": _l("Admin change"),
    "settings.update": _l("Personal key settings change"),
    "token.create": _l("API token creation"),
    "token.revoke": _l("API token revocation"),
    "keys.rotate": _l("Encryption key rotation"),
    "auth.login": _l("Sign-in"),
    "auth.login_failed": _l("Failed sign-in attempt"),
    "ai.call": _l("AI call"),
    # Traffic policies.
    "schedule.create": _l("Switch scheduled"),
    "schedule.cancel": _l("Scheduled switch cancelled"),
    "schedule.apply": _l("Scheduled switch applied"),
    "routing.update": _l("Fallbacks and split changed"),
}

# What everyone who may view models may read: the model and provider history. The
# rest (sign-ins with their IP addresses and mistyped usernames, admins and roles,
# personal keys, tokens, key rotation, calls) is the security trail, for admins with
# ``manage_admins`` only. By prefix, so an action added later is hidden until listed.
MODEL_HISTORY_PREFIXES = ("provider.", "model.")
MODEL_HISTORY_TARGETS = ("provider", "aimodel")


def is_model_history(action: str) -> bool:
    return action.startswith(MODEL_HISTORY_PREFIXES)


TARGET_TYPES = {
    "provider": _l("Provider"),
    "aimodel": _l("Model"),
    "admin": _l("Admin"),
    "adminprovidersettings": _l("Personal key settings"),
    "apitoken": _l("API token"),
    "keys": _l("Encryption keys"),
    "schedule": _l("Scheduled switch"),
}

# Field labels, in the order they are listed; fields not named here come last.
FIELDS = {
    "slug": _l("Slug"),
    "username": _l("Username"),
    "name": _l("Name"),
    "display_name": _l("Display name"),
    "model_id": _l("Model id"),
    "base_url": _l("Base URL"),
    "role": _l("Role"),
    "is_enabled": _l("Enabled"),
    "capabilities": _l("Capabilities"),
    "active_capabilities": _l("Active for"),
    "activated": _l("Activated for"),
    "shared_api_enabled": _l("The shared key may be used"),
    "shared_api_key_hint": _l("Shared key"),
    "shared_api_key_changed": _l("Shared key changed"),
    "origin_changed": _l("Address moved to another server"),
    "shared_api_key_cleared": _l("Shared key removed with the move"),
    "personal_keys_on_hold": _l("Personal keys held back"),
    "personal_api_key_origin": _l("Personal key bound to"),
    "has_personal_api_key": _l("Has a personal key"),
    "personal_api_key_hint": _l("Personal key"),
    "use_shared_api": _l("Uses the shared key"),
    "password_changed": _l("Password changed"),
    "sessions_ended": _l("Sessions ended"),
    "tokens_revoked": _l("Tokens revoked"),
    "expires_at": _l("Expires"),
    "admin": _l("Admin"),
    "prefix": _l("Prefix"),
    "models": _l("Models"),
    "secrets": _l("Re-encrypted keys"),
    "operation": _l("Operation"),
    "provider": _l("Provider"),
    "model": _l("Model"),
    "capability": _l("Capability"),
    "model_source": _l("How the model was chosen"),
    "key_source": _l("Key used"),
    "outcome": _l("Outcome"),
    "latency_ms": _l("Response time (ms)"),
    "error_kind": _l("Error kind"),
    "http_status": _l("HTTP status"),
    "attempts": _l("Attempts"),
    "ip": _l("IP address"),
}
# Enumerated values that have words of their own.
VALUES = {
    "key_source": {"personal": _l("personal key"), "shared": _l("shared key")},
    "outcome": {"ok": _l("succeeded"), "error": _l("failed")},
}
_ORDER = {name: i for i, name in enumerate(FIELDS)}
# Latin values (identifiers, URLs, hints) are isolated left to right in the page.
LTR_FIELDS = frozenset(
    {
        "slug",
        "username",
        "name",
        "model_id",
        "base_url",
        "shared_api_key_hint",
        "personal_api_key_hint",
        "personal_api_key_origin",
        "prefix",
        "expires_at",
        "admin",
        "ip",
        "provider",
        "model",
        "operation",
        "model_source",
        "error_kind",
    }
)
CAPABILITY_FIELDS = frozenset({"capabilities", "active_capabilities", "activated"})
# Told apart from the table (see EventView.deactivated / caused_by).
_SEPARATE = frozenset({"deactivated", "caused_by"})


@dataclass
class Change:
    label: str
    before: str | None  # None: the side does not exist (creation, deletion)
    after: str | None
    ltr: bool = False


@dataclass
class Deactivation:
    model: str
    capability: str


@dataclass
class EventView:
    event: AuditEvent
    title: str
    known_action: bool
    target_type: str
    changes: list[Change] = field(default_factory=list)
    deactivated: list[Deactivation] = field(default_factory=list)
    caused_by: str | None = None


def action_label(action: str) -> str:
    label = ACTIONS.get(action)
    return str(label) if label is not None else action


def target_type_label(target_type: str) -> str:
    label = TARGET_TYPES.get(target_type)
    return str(label) if label is not None else target_type


def _join(items) -> str:
    return ("، " if current_lang() == "fa" else ", ").join(items)


def format_value(name: str, value: object) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if name in VALUES and str(value) in VALUES[name]:
        return str(VALUES[name][str(value)])
    if name == "capability":
        return capabilities.label(str(value))
    if name in CAPABILITY_FIELDS and isinstance(value, list):
        return _join(capabilities.label(str(c)) for c in value)
    if name == "role":
        from webapp.views.admins import role_name

        return role_name(str(value))
    if isinstance(value, list):
        return _join(str(v) for v in value)
    if isinstance(value, dict):
        return _join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _changes(before: dict | None, after: dict | None) -> list[Change]:
    names = sorted(
        (set(before or {}) | set(after or {})) - _SEPARATE,
        key=lambda n: (_ORDER.get(n, len(_ORDER)), n),
    )
    rows = []
    for name in names:
        old = (before or {}).get(name)
        new = (after or {}).get(name)
        if before is not None and after is not None and old == new:
            continue  # unchanged: only the difference is worth reading
        rows.append(
            Change(
                label=str(FIELDS.get(name, name)),
                before=format_value(name, old) if before is not None else None,
                after=format_value(name, new) if after is not None else None,
                # Unknown fields come from code, not people: their values are Latin.
                ltr=name in LTR_FIELDS or name not in FIELDS,
            )
        )
    return rows


def describe(event: AuditEvent) -> EventView:
    after = event.after if isinstance(event.after, dict) else None
    before = event.before if isinstance(event.before, dict) else None
    view = EventView(
        event=event,
        title=action_label(event.action),
        known_action=event.action in ACTIONS,
        target_type=target_type_label(event.target_type),
        changes=_changes(before, after),
    )
    deactivated = (after or {}).get("deactivated") or []
    # model.activate: the models it took a capability from (dicts);
    # model.deactivate: the capabilities the model lost (identifiers).
    for item in deactivated:
        if isinstance(item, dict):
            view.deactivated.append(
                Deactivation(
                    model=str(item.get("model", "")),
                    capability=capabilities.label(str(item.get("capability", ""))),
                )
            )
    lost = [str(item) for item in deactivated if not isinstance(item, dict)]
    if lost:
        view.changes.append(
            Change(str(_("Deactivated for")), None, format_value("activated", lost))
        )
    caused_by = (after or {}).get("caused_by")
    if isinstance(caused_by, dict):
        view.caused_by = str(caused_by.get("model", ""))
    return view

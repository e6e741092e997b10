"""History: the audit trail, newest first, filterable by action, actor, target type
and a date range (days in Tehran; typed in the Jalali or the Gregorian calendar),
paged. Two queries per page whatever the page size: the count and the page.

Each event is told in words: a sentence per action, the fields that changed with
readable values, and the deactivations an activation caused (the events themselves
are written by ``operations.audit``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from math import ceil

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, or_, select
from wtforms import SelectField, StringField

from webapp import capabilities, dates
from webapp.access import permission_required
from webapp.extensions import db
from webapp.i18n import current_lang
from webapp.models import AuditEvent, role_label

bp = Blueprint("history", __name__, url_prefix="/history")

PER_PAGE = 50
FILTERS = ("action", "actor", "target_type", "date_from", "date_to")

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
        return role_label(str(value))
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


def _sees_security_trail() -> bool:
    return current_user.can("manage_admins")


def _choices(labels: dict, visible) -> list[tuple[str, str]]:
    shown = [(key, str(label)) for key, label in labels.items() if visible(key)]
    return [("", _("All")), *shown]


def _action_choices() -> list[tuple[str, str]]:
    return _choices(ACTIONS, lambda a: _sees_security_trail() or is_model_history(a))


def _target_choices() -> list[tuple[str, str]]:
    return _choices(TARGET_TYPES, lambda t: _sees_security_trail() or t in MODEL_HISTORY_TARGETS)


class HistoryFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    action = SelectField(_l("Action"), choices=_action_choices, validate_choice=False)
    actor = StringField(_l("By"))
    target_type = SelectField(_l("Target type"), choices=_target_choices, validate_choice=False)
    date_from = StringField(_l("From day"))
    date_to = StringField(_l("To day"))


def _day(field, *, end: bool) -> datetime | None:
    text = (field.data or "").strip()
    if not text:
        return None
    try:
        day = dates.parse_day(text)
        # The first and last days of the calendar have no UTC instant to compare with.
        return dates.day_end_utc(day) if end else dates.day_start_utc(day)
    except (ValueError, OverflowError):
        field.errors = [
            _("Enter a day like %(example)s.", example=_date_example()),
        ]
        return None


def _date_example() -> str:
    return "۱۴۰۳/۰۵/۰۱" if current_lang() == "fa" else "2024-07-22"


def _conditions(form: HistoryFilterForm) -> list:
    conditions = []
    if not _sees_security_trail():
        conditions.append(
            or_(*(AuditEvent.action.startswith(p, autoescape=True) for p in MODEL_HISTORY_PREFIXES))
        )
    if form.action.data:
        conditions.append(AuditEvent.action == form.action.data)
    if form.target_type.data:
        conditions.append(AuditEvent.target_type == form.target_type.data)
    actor = (form.actor.data or "").strip()
    if actor:
        escaped = actor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(AuditEvent.actor_name.ilike(f"%{escaped}%", escape="\\"))
    start = _day(form.date_from, end=False)
    if start is not None:
        conditions.append(AuditEvent.created_at >= start)
    end = _day(form.date_to, end=True)
    if end is not None:
        conditions.append(AuditEvent.created_at < end)
    return conditions


MAX_PAGE = 1_000_000


def _page_number() -> int:
    """ASCII digits only: ``str.isdigit`` also accepts '²', which ``int`` refuses."""
    raw = request.args.get("page", "1").strip()
    if not (raw.isascii() and raw.isdecimal() and len(raw) <= 7 and 0 < int(raw) <= MAX_PAGE):
        abort(400, description=_("The page number is not valid."))
    return int(raw)


@bp.get("")
@permission_required("view_models")
def index():
    form = HistoryFilterForm(formdata=request.args)
    conditions = _conditions(form)
    total = db.session.scalar(select(func.count(AuditEvent.id)).where(*conditions)) or 0
    pages = max(1, ceil(total / PER_PAGE))
    page = min(_page_number(), pages)
    events = db.session.scalars(
        select(AuditEvent)
        .where(*conditions)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    filters = {name: request.args[name] for name in FILTERS if request.args.get(name)}
    has_errors = any(f.errors for f in form)
    return (
        render_template(
            "history/index.html",
            form=form,
            events=[describe(e) for e in events],
            total=total,
            page=page,
            pages=pages,
            filters=filters,
            date_example=_date_example(),
        ),
        400 if has_errors else 200,
    )

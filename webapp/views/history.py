"""History: the audit trail, newest first, filterable by action, actor, target type,
provider, model, capability (a provider and a capability are a group of the models
page: ``/history?provider=openrouter&capability=chat``) and a date range (days in
Tehran; typed in the Jalali or the Gregorian calendar, Persian or ASCII digits), paged.
Sign-ins are left out unless asked for. A constant number of queries per page whatever
its size: the providers for the filter, the count and the page.

Each event is told in words: a sentence per action, the fields that changed with
readable values, and the deactivations an activation caused; an AI call is one line
(the events themselves are written by ``operations.audit``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from math import ceil

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import Text, and_, cast, func, or_, select
from wtforms import BooleanField, SelectField, StringField

from webapp import capabilities, dates
from webapp.access import permission_required
from webapp.extensions import db
from webapp.i18n import current_lang, labeller, local_digits
from webapp.models import AIModel, AuditEvent, Provider, role_label
from webapp.models.base import utcnow
from webapp.views.query_args import redirect_without_empty_args

bp = Blueprint("history", __name__, url_prefix="/history")

PER_PAGE = 50
# Hidden unless asked for: a sign-in per admin per day buries the changes.
SIGN_INS = ("auth.login", "auth.login_failed")

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
    "model_source": {
        "active": _l("The active model"),
        "live": _l("The active model"),
        "explicit": _l("Chosen by hand for this call"),
        "split": _l("Split test"),
        "fallback": _l("Fallback"),
    },
    "operation": {
        "content": _l("Content generation"),
        "models": _l("Model list (connection test)"),
    },
    "error_kind": {
        "no_api_access": _l("No API access"),
        "no_active_model": _l("No active model"),
        "provider_unavailable": _l("Provider disabled or without an address"),
        "auth": _l("Key refused"),
        "rate_limited": _l("Rate limited"),
        "provider_error": _l("Provider error"),
        "rejected": _l("Request rejected"),
        "unreachable": _l("Unreachable"),
        "timeout": _l("Timed out"),
        "malformed": _l("Unreadable answer"),
        "internal": _l("Internal error"),
        "error": _l("Error"),
    },
}
# Who acted when no admin did: the command line, the demo data, a background job.
ACTORS = {"cli": _l("Command line"), "seed-demo": _l("Demo data"), "system": _l("System")}
# Numbers shown in the page's digits.
NUMBER_FIELDS = frozenset({"latency_ms", "attempts", "http_status"})
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
    # An AI call: one line of (label, value, ltr) facts instead of a before/after table.
    line: list[Change] = field(default_factory=list)
    actor: str = ""


action_label = labeller(ACTIONS)
target_type_label = labeller(TARGET_TYPES)


_SCHEDULED = re.compile(r"^(?P<who>.*) \(schedule (?P<id>\d+)\)$")


def actor_label(name: str) -> str:
    label = ACTORS.get(name)
    if label is not None:
        return str(label)
    scheduled = _SCHEDULED.match(name or "")
    if scheduled:  # what the scheduler records: the schedule's author and its number
        who = scheduled["who"]
        return _(
            "%(who)s (scheduled switch %(number)s)",
            who=actor_label(who) if who != "system" else _("the system"),
            number=local_digits(int(scheduled["id"])),
        )
    return name


def _join(items) -> str:
    return ("، " if current_lang() == "fa" else ", ").join(items)


def format_value(name: str, value: object) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if name in VALUES and str(value) in VALUES[name]:
        return str(VALUES[name][str(value)])
    if name in ("capability", "operation"):
        return capabilities.label(str(value))
    if name in NUMBER_FIELDS or isinstance(value, int):
        return local_digits(value)
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
        actor=actor_label(event.actor_name),
    )
    if event.action == "ai.call" and before is None:
        # Nothing existed before a call: its facts read as one line, not a table.
        view.line = [c for c in view.changes if c.after != "—"]
        view.changes = []
        return view
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


def _capability_choices() -> list[tuple[str, str]]:
    return [("", _("All")), *((c, capabilities.label(c)) for c in capabilities.CAPABILITIES)]


class HistoryFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    action = SelectField(_l("Action"), choices=_action_choices, validate_choice=False)
    actor = StringField(_l("By"))
    target_type = SelectField(_l("Target type"), choices=_target_choices, validate_choice=False)
    # Filled per request (the providers, the chosen provider's models).
    provider = SelectField(_l("Provider"), choices=[], validate_choice=False)
    capability = SelectField(_l("Capability"), choices=_capability_choices, validate_choice=False)
    model = SelectField(_l("Model"), choices=[], validate_choice=False)
    date_from = StringField(_l("From day"))
    date_to = StringField(_l("To day"))
    signins = BooleanField(_l("Show sign-ins"))


def today_label() -> str:
    """Today in Tehran as the page writes a day: ``۱۴۰۵/۰۹/۰۹`` or ``2026-11-30``."""
    return dates.format_datetime(utcnow(), with_time=False)


def _day(field, *, end: bool) -> datetime | None:
    text = (field.data or "").strip()
    if not text:
        return None
    try:
        day = dates.parse_day(text)
        # The first and last days of the calendar have no UTC instant to compare with.
        return dates.day_end_utc(day) if end else dates.day_start_utc(day)
    except (ValueError, OverflowError):
        field.errors = [_("Enter a day like %(example)s.", example=today_label())]
        return None


def _json_text(column):
    """The stored JSON as text, to look for a quoted value (SQLite and PostgreSQL alike:
    both keep the text SQLAlchemy wrote, ``json.dumps`` with its default separators)."""
    return cast(column, Text)


def _mentions(fragment: str):
    return or_(
        _json_text(AuditEvent.after).contains(fragment, autoescape=True),
        _json_text(AuditEvent.before).contains(fragment, autoescape=True),
    )


def _of_provider(provider_id: int):
    """The provider's own events, its AI calls and the events of its models."""
    return or_(
        and_(AuditEvent.target_type == "provider", AuditEvent.target_id == provider_id),
        and_(
            AuditEvent.target_type == "aimodel",
            AuditEvent.target_id.in_(
                select(AIModel.id).where(AIModel.provider_id == provider_id).scalar_subquery()
            ),
        ),
    )


def _of_model(model: AIModel):
    """The model's events and the AI calls that used it."""
    return or_(
        and_(AuditEvent.target_type == "aimodel", AuditEvent.target_id == model.id),
        and_(
            AuditEvent.action == "ai.call",
            AuditEvent.target_id == model.provider_id,
            _json_text(AuditEvent.after).contains(
                f'"model": {json.dumps(model.model_id)}', autoescape=True
            ),
        ),
    )


def _providers() -> list[tuple[int, str, str]]:
    return db.session.execute(
        select(Provider.id, Provider.slug, Provider.name).order_by(Provider.name, Provider.slug)
    ).all()


def _fill_choices(form: HistoryFilterForm, providers) -> tuple[int | None, AIModel | None]:
    """Set the provider and model choices; return the chosen provider's id and model
    (errors next to their fields when the URL names one that does not exist)."""
    # Names are people's data, in either script: each option sets its own direction.
    form.provider.choices = [
        ("", _("All")),
        *((slug, name, {"dir": "auto"}) for _id, slug, name in providers),
    ]
    provider_id = None
    if form.provider.data:
        provider_id = next((i for i, slug, _n in providers if slug == form.provider.data), None)
        if provider_id is None:
            form.provider.errors = [_("The provider was not found.")]
    model = None
    raw = (form.model.data or "").strip()
    if raw:
        if raw.isascii() and raw.isdecimal() and len(raw) <= 12:
            model = db.session.get(AIModel, int(raw))
        if model is None:
            form.model.errors = [_("The model was not found.")]
    models = []
    if provider_id is not None:
        models = db.session.scalars(
            select(AIModel).where(AIModel.provider_id == provider_id).order_by(AIModel.display_name)
        ).all()
    elif model is not None:
        models = [model]
    form.model.choices = [
        ("", _("All")),
        *((str(m.id), m.display_name, {"dir": "auto"}) for m in models),
    ]
    return provider_id, model


def _conditions(form: HistoryFilterForm, provider_id: int | None, model: AIModel | None) -> list:
    conditions = []
    if not _sees_security_trail():
        conditions.append(
            or_(*(AuditEvent.action.startswith(p, autoescape=True) for p in MODEL_HISTORY_PREFIXES))
        )
    if not form.signins.data and form.action.data not in SIGN_INS:
        conditions.append(AuditEvent.action.notin_(SIGN_INS))
    if form.action.data:
        conditions.append(AuditEvent.action == form.action.data)
    if form.target_type.data:
        conditions.append(AuditEvent.target_type == form.target_type.data)
    actor = (form.actor.data or "").strip()
    if actor:
        conditions.append(AuditEvent.actor_name.icontains(actor, autoescape=True))
    if provider_id is not None:
        conditions.append(_of_provider(provider_id))
    if model is not None:
        conditions.append(_of_model(model))
    capability = form.capability.data
    if capability:
        if capabilities.is_capability(capability):
            conditions.append(_mentions(json.dumps(capability)))
        else:
            form.capability.errors = [
                _("Unknown capability «%(capability)s».", capability=capability)
            ]
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
    cleaned = redirect_without_empty_args()
    if cleaned is not None:
        return cleaned
    form = HistoryFilterForm(formdata=request.args)
    provider_id, model = _fill_choices(form, _providers())
    conditions = _conditions(form, provider_id, model)
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
    # The form names every filter: what the pager and the links carry.
    filters = {f.name: request.args[f.name] for f in form if request.args.get(f.name)}
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
            day_placeholder=_("e.g. %(day)s", day=today_label()),
            sees_security_trail=_sees_security_trail(),
        ),
        400 if has_errors else 200,
    )

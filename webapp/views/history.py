"""History: the audit trail, newest first, filterable by action, actor, target type
and a date range (days in Tehran; typed in the Jalali or the Gregorian calendar),
paged. Two queries per page whatever the page size: the count and the page."""

from __future__ import annotations

from datetime import datetime
from math import ceil

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, or_, select
from wtforms import SelectField, StringField

from webapp import dates
from webapp.access import permission_required
from webapp.extensions import db
from webapp.i18n import current_lang
from webapp.models import AuditEvent
from webapp.views.events import (
    ACTIONS,
    MODEL_HISTORY_PREFIXES,
    MODEL_HISTORY_TARGETS,
    TARGET_TYPES,
    describe,
    is_model_history,
)

bp = Blueprint("history", __name__, url_prefix="/history")

PER_PAGE = 50
FILTERS = ("action", "actor", "target_type", "date_from", "date_to")


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

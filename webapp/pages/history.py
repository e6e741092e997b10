"""History: the audit trail, newest first, filterable by action, actor, target type
and a date range (days in Tehran; typed in the Jalali or the Gregorian calendar),
paged. Two queries per page whatever the page size: the count and the page."""

from __future__ import annotations

from datetime import datetime
from math import ceil

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import SelectField, StringField

from webapp.auth import permission_required
from webapp.extensions import db
from webapp.i18n import current_lang
from webapp.models import AuditEvent
from webapp.pages import dates
from webapp.pages.events import ACTIONS, TARGET_TYPES, describe

bp = Blueprint("history", __name__, url_prefix="/history")

PER_PAGE = 50
FILTERS = ("action", "actor", "target_type", "date_from", "date_to")


def _choices(labels: dict) -> list[tuple[str, str]]:
    return [("", _("All"))] + [(key, str(label)) for key, label in labels.items()]


class HistoryFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    action = SelectField(_l("Action"), choices=lambda: _choices(ACTIONS), validate_choice=False)
    actor = StringField(_l("By"))
    target_type = SelectField(
        _l("Target type"), choices=lambda: _choices(TARGET_TYPES), validate_choice=False
    )
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

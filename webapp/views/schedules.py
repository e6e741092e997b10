"""The schedules page: every scheduled switch, pending and past, with «لغو» for pending ones.

- ``schedules.index`` (GET ``/schedules``): newest first, filtered by provider,
  capability and status, paged; who scheduled it, when it runs (Jalali, in
  ``APP_TIMEZONE``) or the call count it waits for, its status and, for a failed one,
  the Persian reason.
- ``schedules.cancel`` (GET, POST ``/schedules/<id>/cancel``): the confirmation step,
  then ``operations.schedules.cancel`` (audited); a schedule that already ran answers
  with its Persian refusal and changes nothing.
"""

from __future__ import annotations

from math import ceil

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from webapp.access import permission_required
from webapp.capabilities import CAPABILITIES, is_capability, label
from webapp.errors import DomainError
from webapp.extensions import db
from webapp.i18n import labeller
from webapp.models import Admin, Schedule
from webapp.models.policies import SCHEDULE_STATUSES
from webapp.operations import schedules
from webapp.queries.groups import load_provider_names
from webapp.queries.listing import names_of
from webapp.views.auth import safe_next
from webapp.views.forms import ConfirmForm, or_abort

bp = Blueprint("schedules", __name__)

PER_PAGE = 50
STATUS_LABELS = {
    "pending": _l("Pending"),
    "done": _l("Done"),
    "failed": _l("Failed"),
    "cancelled": _l("Cancelled"),
}
status_label = labeller(STATUS_LABELS)
# Who scheduled a switch, as the page names them: the display name, else the username.
AUTHOR = func.coalesce(func.nullif(Admin.display_name, ""), Admin.username)


@bp.get("/schedules")
@permission_required("view_models")
def index():
    providers = load_provider_names()
    slug = (request.args.get("provider") or "").strip()[:50]
    capability = (request.args.get("capability") or "").strip()
    status = (request.args.get("status") or "").strip()
    provider = next((p for p in providers if p.slug == slug), None)
    statement = select(Schedule)
    if provider is not None:
        statement = statement.where(Schedule.provider_id == provider.id)
    if is_capability(capability):
        statement = statement.where(Schedule.capability == capability)
    else:
        capability = ""
    if status in SCHEDULE_STATUSES:
        statement = statement.where(Schedule.status == status)
    else:
        status = ""
    total = db.session.scalar(select(func.count()).select_from(statement.subquery()))
    pages = max(1, ceil(total / PER_PAGE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    rows = list(
        db.session.scalars(
            statement.options(selectinload(Schedule.provider))
            # Pending first (soonest first), then the past ones, newest first.
            .order_by(
                Schedule.status != "pending",
                case((Schedule.status == "pending", Schedule.run_at)),
                func.coalesce(Schedule.applied_at, Schedule.run_at).desc(),
                Schedule.id.desc(),
            )
            .limit(PER_PAGE)
            .offset((page - 1) * PER_PAGE)
        )
    )
    return render_template(
        "schedules/index.html",
        rows=rows,
        authors=names_of((r.created_by_id for r in rows), AUTHOR),
        providers=providers,
        capabilities=[(c, label(c)) for c in CAPABILITIES],
        statuses=[(s, status_label(s)) for s in SCHEDULE_STATUSES],
        status_label=status_label,
        filters={
            "provider": provider.slug if provider else "",
            "capability": capability,
            "status": status,
        },
        page=page,
        pages=pages,
        can_manage=current_user.can("manage_models"),
    )


@bp.route("/schedules/<int:schedule_id>/cancel", methods=["GET", "POST"])
@permission_required("manage_models")
def cancel(schedule_id: int):
    row = or_abort(schedules.get_schedule, schedule_id)
    back = safe_next(request.values.get("next") or url_for("schedules.index"))
    form = ConfirmForm()
    if form.validate_on_submit():
        try:
            schedules.cancel(row.id, actor=current_user)
        except DomainError as exc:
            flash(str(exc.message), "error")
            return redirect(back)
        flash(_("The scheduled switch was cancelled; the group stays as it is."), "success")
        return redirect(back)
    if request.method == "POST":  # a stale or forged form: nothing changes
        flash(_("The form has expired; please try again."), "error")
    return render_template(
        "schedules/cancel.html",
        row=row,
        form=form,
        back=back,
        author=names_of([row.created_by_id], AUTHOR).get(row.created_by_id),
        status_label=status_label,
    ), 200 if request.method == "GET" else 400

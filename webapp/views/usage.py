"""The usage page: calls, errors, latency and tokens over time per provider, capability
and model (docs/CONTRACTS.md §10), as charts with a table beside each, and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from webapp import dates
from webapp.access import permission_required
from webapp.capabilities import CAPABILITIES, is_capability, label
from webapp.errors import DomainError, ValidationError
from webapp.i18n import current_lang
from webapp.operations import catalog, routing
from webapp.queries import usage, usage_splits
from webapp.views.auth import safe_next
from webapp.views.forms import isolated, or_abort
from webapp.views.htmx import flash_oob, fragment, is_htmx, render_block

bp = Blueprint("usage", __name__, url_prefix="/usage")

ROUTE_LABELS = {
    "live": _l("Live model"),
    "explicit": _l("Named explicitly"),
    "split": _l("Split arm"),
    "fallback": _l("Fallback"),
}
KEY_SOURCE_LABELS = {"personal": _l("Personal key"), "shared": _l("Shared key")}


def _bucket_label(iso: str, bucket: str) -> str:
    return dates.format_datetime(datetime.fromisoformat(iso), with_time=bucket == "hour")


def _query():
    """The filters and the series, or the field errors (status 400) and no series."""
    args = {k: v for k, v in request.args.items() if k != "lang"}  # the page's language
    try:
        q = usage.parse_query(args)
    except ValidationError as exc:
        return None, [], exc.errors
    return q, usage.series(q), {}


@bp.get("")
@permission_required("view_models")
def index():
    q, points, errors = _query()
    bucket = q.bucket if q else "hour"
    charts = usage.charts(points)
    labels = [_bucket_label(b, bucket) for b in (charts[0].buckets if charts else [])]
    page = render_template(
        "usage/index.html",
        q=q,
        args=request.args,
        errors=errors,
        charts=charts,
        labels=labels,
        splits=usage_splits.split_usage(q) if q else [],
        can_manage=current_user.can("manage_models"),
        routes=[(r, ROUTE_LABELS[r]) for r in usage.ROUTES],
        key_sources=[(k, KEY_SOURCE_LABELS[k]) for k in usage.KEY_SOURCES],
        capabilities=[(c, label(c)) for c in CAPABILITIES],
        date_example="۱۴۰۴/۰۹/۰۹" if current_lang() == "fa" else "2025-11-30",
        csv_args=q.as_args() if q else {},
    )
    return page, 400 if errors else 200


@bp.get("/usage.csv")
@permission_required("view_models")
def export_csv():
    q, points, errors = _query()
    if errors:
        return Response(_("The usage query is not valid."), 400, mimetype="text/plain")
    out = io.StringIO()
    csv.writer(out).writerows(usage.csv_rows(points))
    name = f"usage-{q.start:%Y%m%d%H%M}-{q.end:%Y%m%d%H%M}-{q.bucket}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- ending a split («پایان آزمایش») ------------------------------------------------------


@bp.post("/split/<int:provider_id>/<capability>/end")
@permission_required("manage_models")
def end_split(provider_id: int, capability: str):
    """Ask first (a dialog, or a page without JavaScript); once confirmed, the group's
    split is emptied through the routing operation (audited), its fallbacks kept."""
    if not is_capability(capability):
        abort(404)
    provider = or_abort(catalog.get_provider, provider_id)
    back = safe_next(request.form.get("next") or url_for(".index"))
    current = routing.get_routing(provider.id, capability)
    if not current.split:
        return _said(back, error=_("This group has no split to end."))
    if request.form.get("confirm") != "1":
        names = routing.model_names(a.model_id for a in current.split)
        context = {
            "provider": provider,
            "capability": capability,
            "capability_name": label(capability),
            "arms": [(names[a.model_id].display_name, a.percent) for a in current.split],
            "next": back,
        }
        if is_htmx():
            return fragment(render_block("usage/end_split.html", "dialog", oob=True, **context))
        return render_template("usage/end_split.html", **context)
    try:
        routing.set_routing(
            provider.id, capability, list(current.fallbacks), [], actor=current_user
        )
    except DomainError as exc:
        return _said(back, error=str(exc.message))
    return _said(
        back,
        success=_(
            "The split of %(capability)s of %(provider)s has ended: the live model takes "
            "all of its calls again.",
            capability=label(capability),
            provider=isolated(provider.name),
        ),
    )


def _said(back: str, *, success: str | None = None, error: str | None = None):
    """Flash and go back to the usage page (htmx: a full reload of it, so its arms and
    the flash show together)."""
    flash(success or error, "success" if success else "error")
    if is_htmx():
        return fragment(flash_oob(), HX_Redirect=back)
    return redirect(back)

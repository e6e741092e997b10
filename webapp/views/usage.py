"""The usage page: calls, errors, latency and tokens over time per provider, capability
and model (docs/CONTRACTS.md §10), as charts with a table beside each, and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from webapp import dates
from webapp.access import permission_required
from webapp.capabilities import CAPABILITIES, label
from webapp.errors import ValidationError
from webapp.i18n import current_lang
from webapp.queries import usage

bp = Blueprint("usage", __name__, url_prefix="/usage")


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

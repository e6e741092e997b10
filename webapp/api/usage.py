"""``GET /api/v1/usage/``: metered calls per bucket and model, from the hourly rollups
(docs/CONTRACTS.md §10; how buckets are cut: ``webapp.queries.usage``)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from webapp.api.blueprint import route
from webapp.api.responses import success
from webapp.api.schemas_policies import UsagePoint, UsageQuery
from webapp.queries import usage

USAGE_RETRIEVED = _l("Usage retrieved")


@route("GET", "/usage/", "view_models", UsageQuery)
def usage_series(args: UsageQuery):
    """Metered calls per time bucket and model, from the hourly rollups.

    Hour buckets are UTC hours counted when their start lies in [from, to); a day bucket is
    a day in APP_TIMEZONE (Asia/Tehran: 00:30 to 00:30, whole hours). Percentiles are
    estimated from a latency histogram (within ×1.5). Default range: the last 24 hours.
    """
    points = usage.series(usage.parse_query(args.filters()))
    data = [UsagePoint.model_validate(p).model_dump() for p in points]
    return success(data, USAGE_RETRIEVED)

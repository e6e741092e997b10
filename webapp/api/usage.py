"""``GET /api/v1/usage/``: metered calls per bucket and model, from the hourly rollups
(docs/CONTRACTS.md §10; how buckets are cut: ``webapp.queries.usage``)."""

from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l

from webapp.access import permission_required
from webapp.api import bp
from webapp.api.responses import localized, success
from webapp.queries import usage

USAGE_RETRIEVED = _l("Usage retrieved")


@bp.get("/usage/", strict_slashes=False)
@localized
@permission_required("view_models")
def usage_series():
    q = usage.parse_query(request.args)
    return success(usage.series(q), USAGE_RETRIEVED)


def _ref(name: str, kind: str = "schemas") -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _query(name: str, description: str, schema: dict | None = None, example=None) -> dict:
    out = {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema or {"type": "string", "maxLength": usage.TEXT_MAX},
        "description": description,
    }
    if example is not None:
        out["example"] = example
    return out


_COUNT = {"type": "integer", "minimum": 0}
_MS = {"type": ["number", "null"], "minimum": 0}
POINT = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "bucket_start",
        "provider",
        "capability",
        "model",
        "calls",
        "errors",
        "fallbacks",
        "p50_ms",
        "p95_ms",
        "prompt_tokens",
        "completion_tokens",
    ],
    "properties": {
        "bucket_start": {"type": "string", "format": "date-time"},
        "provider": {"type": "string"},
        "capability": {"type": "string"},
        "model": {"type": "string"},
        "calls": _COUNT,
        "errors": _COUNT,
        "fallbacks": _COUNT,
        "p50_ms": _MS,
        "p95_ms": _MS,
        "prompt_tokens": _COUNT,
        "completion_tokens": _COUNT,
    },
}
_INSTANT = (
    "A day (`2026-03-10`, the whole day in APP_TIMEZONE) or an ISO 8601 date and time with "
    "an offset (`2026-03-10T08:00:00+03:30`)."
)


def openapi_paths() -> dict:
    """The usage path of the OpenAPI document (merged into ``openapi.paths``)."""
    envelope = {
        "type": "object",
        "additionalProperties": False,
        "required": ["metaData", "data"],
        "properties": {
            "metaData": _ref("SuccessMetaData"),
            "data": {"type": "array", "items": POINT},
        },
    }
    codes = ("400", "401", "403", "500")
    return {
        "/usage/": {
            "get": {
                "operationId": "usage_series",
                "summary": "Metered calls per time bucket and model, from the hourly rollups",
                "description": "Needs the `view_models` permission. Hour buckets are UTC "
                "hours counted when their start lies in [from, to); a day bucket is a day in "
                "APP_TIMEZONE (Asia/Tehran: 00:30 to 00:30, whole hours). Percentiles are "
                "estimated from a latency histogram (within ×1.5). Default range: the last "
                "24 hours.",
                "parameters": [
                    _query("provider", "A provider's slug", example="openai"),
                    _query("capability", "A capability identifier", example="chat"),
                    _query("model", "A model id as sent to the provider", example="gpt-4o"),
                    _query("from", _INSTANT + " Inclusive.", example="2026-03-10"),
                    _query(
                        "to",
                        _INSTANT + " Exclusive (a day: through its end).",
                        example="2026-03-11",
                    ),
                    _query(
                        "bucket",
                        "Bucket size",
                        {"type": "string", "enum": ["hour", "day"]},
                        example="hour",
                    ),
                    _ref("AcceptLanguage", "parameters"),
                ],
                "security": [{"bearerAuth": []}, {"cookieAuth": []}],
                "responses": {
                    "200": {
                        "description": "The series",
                        "content": {"application/json": {"schema": envelope}},
                    },
                    **{code: _ref(code, "responses") for code in codes},
                },
            }
        }
    }

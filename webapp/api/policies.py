"""``/api/v1/schedules/…`` and ``/api/v1/routing/…``: the traffic policies of
docs/CONTRACTS.md §9 (scheduled switches, fallbacks and splits of a group).

``run_at`` is ISO 8601 with its offset (``2026-03-21T09:00:00+03:30``); a time without
one is refused rather than guessed. Model references are model row ids (``id`` of
``/api/v1/ai-models/``); ``model: null`` schedules a switch to «هیچ‌کدام».
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from webapp.access import permission_required
from webapp.api import bp, policies_openapi  # noqa: F401  (describes these routes)
from webapp.api.ai_models import actor
from webapp.api.parsing import (
    MAX_INT32,
    Field,
    capability_param,
    invalid,
    json_body,
    page_params,
    provider_slug,
    query,
)
from webapp.api.responses import localized, success
from webapp.api.shapes import find_provider, page_of
from webapp.dates import iso_utc
from webapp.errors import NotFound
from webapp.extensions import db
from webapp.models import Admin, Provider, Schedule
from webapp.operations import routing, schedules
from webapp.operations.schedules import SCHEDULE_STATUSES

SCHEDULE_FIELDS = {
    "provider": Field("string", required=True),
    "capability": Field("string", required=True),
    "model": Field("id_or_null", required=True),
    "run_at": Field("string", required=True),
    "after_calls": Field("id_or_null"),
}
ROUTING_FIELDS = {"fallbacks": Field("list", required=True), "split": Field("list", required=True)}
NOT_AN_ID = _l("Give a model id (a whole number).")
RUN_AT = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})")
NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_INT32


def _known_provider(slug: str) -> Provider:
    provider = find_provider(provider_slug(slug))
    if provider is None:
        raise NotFound(_("The provider was not found."), field="provider")
    return provider


def _run_at(text: str) -> datetime:
    """An RFC 3339 instant (ISO 8601 with seconds and an offset); a naive time is refused."""
    match = RUN_AT.fullmatch(text.strip().upper())
    if match is None:
        if NAIVE.fullmatch(text.strip().upper()):
            raise invalid({"run_at": _l("Give the time with its offset from UTC.")})
        raise invalid({"run_at": _l("Give the time as ISO 8601 with its offset.")})
    base, fraction, offset = match.groups()
    try:
        value = datetime.fromisoformat(f"{base}{(fraction or '')[:7]}{offset}")
        return value.astimezone(UTC)  # out-of-range instants (year 1 minus an offset) fail here
    except (ValueError, OverflowError):
        raise invalid({"run_at": _l("Give the time as ISO 8601 with its offset.")}) from None


def schedule_json(row: Schedule, names: dict[int, str] | None = None) -> dict:
    if names is None:
        names = _authors([row])
    data = {
        "id": row.id,
        "provider": row.provider.slug,
        "capability": row.capability,
        "model": row.model_id,
        "run_at": iso_utc(row.run_at),
        "status": row.status,
        "result": row.result,
        "created_by": names.get(row.created_by_id),
        "created_at": iso_utc(row.created_at),
        "applied_at": iso_utc(row.applied_at) or None,
    }
    if row.after_calls is not None:
        data["after_calls"] = row.after_calls
    return data


def _authors(rows) -> dict[int, str]:
    ids = {r.created_by_id for r in rows if r.created_by_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Admin.id, Admin.username).where(Admin.id.in_(ids))).all())


@bp.get("/schedules/", strict_slashes=False)
@localized
@permission_required("view_models")
def schedule_list():
    args = query(("page", "page_size", "status", "provider", "capability"))
    page, page_size = page_params(args)
    statement = select(Schedule)
    if "status" in args:
        if args["status"] not in SCHEDULE_STATUSES:
            raise invalid({"status": _l("Unknown status.")})
        statement = statement.where(Schedule.status == args["status"])
    if "provider" in args:
        statement = statement.where(Schedule.provider_id == _known_provider(args["provider"]).id)
    if capability := capability_param(args.get("capability")):
        statement = statement.where(Schedule.capability == capability)
    rows, pagination = page_of(
        statement, (Schedule.run_at.desc(), Schedule.id.desc()), page, page_size
    )
    names = _authors(rows)
    data = [schedule_json(row, names) for row in rows]
    return success(data, _("Schedules retrieved"), pagination=pagination)


@bp.post("/schedules/", strict_slashes=False)
@localized
@permission_required("manage_models")
def schedule_create():
    query(())
    body = json_body(SCHEDULE_FIELDS)
    errors = {}
    if body["model"] is not None and not _is_id(body["model"]):
        errors["model"] = NOT_AN_ID
    after_calls = body.get("after_calls")
    if after_calls is not None and not _is_id(after_calls):
        errors["after_calls"] = _l("Give a whole number of calls above zero.")
    if errors:
        raise invalid(errors)
    capability = capability_param(body["capability"])
    provider = _known_provider(body["provider"])
    row = schedules.create(
        provider.id,
        capability,
        body["model"],
        _run_at(body["run_at"]),
        after_calls=after_calls,
        actor=actor(),
    )
    row = schedules.get_schedule(row.id)
    return success(
        schedule_json(row),
        _("Schedule created"),
        201,
        headers={"Location": url_for("api.schedule_detail", schedule_id=row.id)},
    )


@bp.get("/schedules/<int:schedule_id>/", strict_slashes=False)
@localized
@permission_required("view_models")
def schedule_detail(schedule_id: int):
    query(())
    return success(schedule_json(schedules.get_schedule(schedule_id)), _("Schedule retrieved"))


@bp.delete("/schedules/<int:schedule_id>/", strict_slashes=False)
@localized
@permission_required("manage_models")
def schedule_cancel(schedule_id: int):
    query(())
    schedules.cancel(schedule_id, actor=actor())
    return success(schedule_json(schedules.get_schedule(schedule_id)), _("Schedule cancelled"))


def _group(slug: str, capability: str) -> tuple[Provider, str]:
    return _known_provider(slug), capability_param(capability)


@bp.get("/routing/<slug>/<capability>/", strict_slashes=False)
@localized
@permission_required("view_models")
def routing_detail(slug: str, capability: str):
    query(())
    provider, capability = _group(slug, capability)
    return success(routing.get_routing(provider.id, capability).as_json(), _("Routing retrieved"))


def _arms(split: list) -> list[routing.Arm]:
    arms = []
    for item in split:
        if (
            not isinstance(item, dict)
            or set(item) != {"model", "percent"}
            or not _is_id(item["model"])
            or not isinstance(item["percent"], int)
            or isinstance(item["percent"], bool)
        ):
            raise invalid({"split": _l('Each arm is {"model": <model id>, "percent": <1–50>}.')})
        arms.append(routing.Arm(item["model"], item["percent"]))
    return arms


@bp.put("/routing/<slug>/<capability>/", strict_slashes=False)
@localized
@permission_required("manage_models")
def routing_update(slug: str, capability: str):
    query(())
    provider, capability = _group(slug, capability)
    body = json_body(ROUTING_FIELDS)
    fallbacks, split = body["fallbacks"], body["split"]
    if not isinstance(fallbacks, list) or not all(_is_id(v) for v in fallbacks):
        raise invalid({"fallbacks": _l("Give a list of model ids.")})
    if not isinstance(split, list):
        raise invalid({"split": _l('Each arm is {"model": <model id>, "percent": <1–50>}.')})
    result = routing.set_routing(provider.id, capability, fallbacks, _arms(split), actor=actor())
    return success(result.as_json(), _("Routing updated"))

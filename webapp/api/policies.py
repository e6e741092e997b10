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

from webapp.api.blueprint import actor, provider_or_404, read_body, route
from webapp.api.responses import success
from webapp.api.schemas import invalid
from webapp.api.schemas_policies import Routing, Schedule, ScheduleCreate, ScheduleListQuery
from webapp.capabilities import is_capability
from webapp.dates import iso_utc
from webapp.models import Provider
from webapp.models import Schedule as ScheduleRow
from webapp.operations import routing, schedules
from webapp.queries.listing import names_of, page_of

RUN_AT = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})")
NAIVE = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")


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


def schedule_json(row: ScheduleRow, names: dict[int, str] | None = None) -> dict:
    if names is None:
        names = names_of([row.created_by_id])
    values = {
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
        values["after_calls"] = row.after_calls
    return Schedule.of(values)


@route("GET", "/schedules/", "view_models", ScheduleListQuery)
def schedule_list(args: ScheduleListQuery):
    """Scheduled switches, newest run_at first, paged."""
    statement = select(ScheduleRow)
    if args.status is not None:
        statement = statement.where(ScheduleRow.status == args.status)
    if args.provider is not None:
        statement = statement.where(ScheduleRow.provider_id == provider_or_404(args.provider).id)
    if args.capability is not None:
        statement = statement.where(ScheduleRow.capability == args.capability)
    order = (ScheduleRow.run_at.desc(), ScheduleRow.id.desc())
    rows, pagination = page_of(statement, order, args.page, args.page_size)
    names = names_of(r.created_by_id for r in rows)
    data = [schedule_json(row, names) for row in rows]
    return success(data, _("Schedules retrieved"), pagination=pagination)


@route("POST", "/schedules/", "manage_models", body=ScheduleCreate)
def schedule_create():
    """Schedule a group's switch to a model (or to none)."""
    body = read_body()
    provider = provider_or_404(body["provider"])
    row = schedules.create(
        provider.id,
        body["capability"],
        body["model"],
        _run_at(body["run_at"]),
        after_calls=body.get("after_calls"),
        actor=actor(),
    )
    row = schedules.get_schedule(row.id)
    return success(
        schedule_json(row),
        _("Schedule created"),
        201,
        headers={"Location": url_for("api.schedule_detail", schedule_id=row.id)},
    )


@route("GET", "/schedules/<int:schedule_id>/", "view_models")
def schedule_detail(schedule_id: int):
    """One schedule."""
    return success(schedule_json(schedules.get_schedule(schedule_id)), _("Schedule retrieved"))


@route("DELETE", "/schedules/<int:schedule_id>/", "manage_models")
def schedule_cancel(schedule_id: int):
    """Cancel a pending schedule."""
    schedules.cancel(schedule_id, actor=actor())
    return success(schedule_json(schedules.get_schedule(schedule_id)), _("Schedule cancelled"))


def _group(slug: str, capability: str) -> tuple[Provider, str]:
    provider = provider_or_404(slug)
    if not is_capability(capability):
        raise invalid({"capability": _l("Unknown capability: %(value)s", value=capability[:50])})
    return provider, capability


@route("GET", "/routing/<slug>/<capability>/", "view_models")
def routing_detail(slug: str, capability: str):
    """A group's fallbacks and split."""
    provider, capability = _group(slug, capability)
    return success(routing.get_routing(provider.id, capability).as_json(), _("Routing retrieved"))


@route("PUT", "/routing/<slug>/<capability>/", "manage_models", body=Routing)
def routing_update(slug: str, capability: str):
    """Replace a group's fallbacks and split."""
    provider, capability = _group(slug, capability)
    body = read_body()
    arms = [routing.Arm(arm["model"], arm["percent"]) for arm in body["split"]]
    result = routing.set_routing(provider.id, capability, body["fallbacks"], arms, actor=actor())
    return success(result.as_json(), _("Routing updated"))

"""The OpenAPI description of ``webapp.api.policies`` (schedules and routing), added
to the document served at ``/api/v1/openapi.json`` through ``openapi.EXTRA_PATHS`` and
``openapi.EXTRA_SCHEMAS``."""

from __future__ import annotations

from webapp.api import openapi
from webapp.api.openapi import (
    CAPABILITY,
    DATETIME,
    LOCATION,
    PAGING,
    SLUG_PATH,
    USERNAME,
    answer,
    envelope,
    errors,
    op,
    param,
    ref,
)
from webapp.api.parsing import MAX_INT32
from webapp.models.policies import SCHEDULE_STATUSES
from webapp.operations.routing import MAX_PERCENT, MIN_PERCENT

ROW_ID = {"type": "integer", "minimum": 1, "maximum": MAX_INT32}
ROW_ID_OR_NULL = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_INT32}

SCHEDULE = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "provider",
        "capability",
        "model",
        "run_at",
        "status",
        "result",
        "created_by",
        "created_at",
        "applied_at",
    ],
    "properties": {
        "id": {"type": "integer"},
        "provider": {"type": "string", "description": "The provider's slug"},
        "capability": CAPABILITY,
        "model": {
            "type": ["integer", "null"],
            "description": "The model's id; null: switch to no model («هیچ‌کدام»), or the "
            "model was deleted (the schedule then fails)",
        },
        "run_at": DATETIME,
        "after_calls": {
            "type": "integer",
            "description": "Only for usage-based schedules: fire once the live model's calls "
            "of the day (Tehran) reach this number, not before run_at",
        },
        "status": {"type": "string", "enum": list(SCHEDULE_STATUSES)},
        "result": {"type": "string", "description": "The Persian message of the outcome"},
        "created_by": USERNAME,
        "created_at": DATETIME,
        "applied_at": {"type": ["string", "null"], "format": "date-time"},
    },
}

SCHEDULE_CREATE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["provider", "capability", "model", "run_at"],
    "properties": {
        "provider": {"type": "string", "description": "Provider slug"},
        "capability": CAPABILITY,
        "model": ROW_ID_OR_NULL | {"description": "A model of the group, or null for none"},
        "run_at": {
            "type": "string",
            "format": "date-time",
            "description": "RFC 3339 with seconds and an offset, e.g. 2030-03-21T09:00:00+03:30",
        },
        "after_calls": ROW_ID_OR_NULL | {"description": "Usage-based: see Schedule"},
    },
}

ARM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["model", "percent"],
    "properties": {
        "model": ROW_ID,
        "percent": {"type": "integer", "minimum": MIN_PERCENT, "maximum": MAX_PERCENT},
    },
}

ROUTING = {
    "type": "object",
    "additionalProperties": False,
    "required": ["fallbacks", "split"],
    "properties": {
        "fallbacks": {
            "type": "array",
            "items": ROW_ID,
            "description": "Models of any provider with the capability, tried in order when "
            "the live model is unreachable, times out, or answers 5xx or 429",
        },
        "split": {
            "type": "array",
            "items": ARM,
            "description": "Other models of the group and their percent (together at most "
            "90); the live model gets the rest",
        },
    },
}

SCHEDULE_OK = ref("ScheduleEnvelope")
ROUTING_OK = ref("RoutingEnvelope")
SCHEDULE_PATH = param("schedule_id", "path", ROW_ID, "Schedule id", example=1)
CAPABILITY_PATH = param("capability", "path", CAPABILITY, "A capability identifier", example="chat")
RAN = {"409": answer("The schedule already ran or was cancelled", ref("ErrorEnvelope"))}


def paths() -> dict:
    return {
        "/schedules/": {
            "get": op(
                "listSchedules",
                "Scheduled switches, newest run_at first, paged",
                {
                    "200": answer("A page of schedules", ref("SchedulePageEnvelope")),
                    **errors(400, 403, 404),
                },
                permission="view_models",
                params=[
                    *PAGING,
                    param(
                        "status",
                        "query",
                        {"type": "string", "enum": list(SCHEDULE_STATUSES)},
                        "Only schedules in this status",
                    ),
                    param("provider", "query", {"type": "string"}, "Only this provider's"),
                    param("capability", "query", CAPABILITY, "Only this capability's"),
                ],
            ),
            "post": op(
                "createSchedule",
                "Schedule a group's switch to a model (or to none)",
                {
                    "201": answer("The new schedule", SCHEDULE_OK, LOCATION),
                    **errors(400, 403, 404, 413),
                },
                permission="manage_models",
                request="ScheduleCreate",
                write=True,
            ),
        },
        "/schedules/{schedule_id}/": {
            "parameters": [SCHEDULE_PATH],
            "get": op(
                "getSchedule",
                "One schedule",
                {"200": answer("The schedule", SCHEDULE_OK), **errors(403, 404)},
                permission="view_models",
            ),
            "delete": op(
                "cancelSchedule",
                "Cancel a pending schedule",
                {"200": answer("Cancelled", SCHEDULE_OK), **errors(403, 404), **RAN},
                permission="manage_models",
                write=True,
            ),
        },
        "/routing/{slug}/{capability}/": {
            "parameters": [SLUG_PATH, CAPABILITY_PATH],
            "get": op(
                "getRouting",
                "A group's fallbacks and split",
                {"200": answer("The routing", ROUTING_OK), **errors(403, 404)},
                permission="view_models",
            ),
            "put": op(
                "setRouting",
                "Replace a group's fallbacks and split",
                {"200": answer("The routing", ROUTING_OK), **errors(400, 403, 404, 413)},
                permission="manage_models",
                request="Routing",
                write=True,
            ),
        },
    }


def schemas() -> dict:
    return {
        "Schedule": SCHEDULE,
        "ScheduleCreate": SCHEDULE_CREATE,
        "Routing": ROUTING,
        "ScheduleEnvelope": envelope(ref("Schedule")),
        "SchedulePageEnvelope": envelope({"type": "array", "items": ref("Schedule")}, paged=True),
        "RoutingEnvelope": envelope(ref("Routing")),
    }


openapi.EXTRA_PATHS.update(paths())
openapi.EXTRA_SCHEMAS.update(schemas())

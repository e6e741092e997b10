"""The JSON shapes of the traffic policies (docs/CONTRACTS.md §9: schedules, routing)
and of usage (§10), declared once like those of ``schemas``: the same classes check the
input, shape the answers and give the OpenAPI document its schemas.

As there, only shapes and JSON types are checked here; the values (a model of the
group, percents, the time of a schedule, a usage range) are checked by the operations
and queries that the dashboard shares.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

from webapp.api.schemas import (
    CAPABILITY_SCHEMA,
    PROVIDER_HELP,
    Body,
    PageQuery,
    QCapability,
    QText,
    Query,
    Shape,
    Timestamp,
    Username,
    _fail,
    _one,
    envelope,
)
from webapp.capabilities import is_capability
from webapp.db import MAX_ID
from webapp.models.policies import SCHEDULE_STATUSES
from webapp.operations.routing import MAX_PERCENT, MIN_PERCENT
from webapp.queries import usage

ROW_ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
ROW_ID_OR_NULL = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID}


def is_row_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def _row_id_or_null(kind: str):
    def check(value):
        if value is not None and not is_row_id(value):
            raise _fail(kind)
        return value

    return check


def _capability(value):
    if not isinstance(value, str):
        raise _fail("string_type")
    if not is_capability(value):
        raise _fail("unknown_capability", value=value[:50])
    return value


def _model_ids(value):
    if not isinstance(value, list) or not all(is_row_id(v) for v in value):
        raise _fail("model_ids")
    return value


def _arms(value):
    """Each arm exactly ``{"model": <id>, "percent": <whole number>}``; the percent's
    range is the routing operation's rule."""
    if not isinstance(value, list):
        raise _fail("arms")
    for item in value:
        if (
            not isinstance(item, dict)
            or set(item) != {"model", "percent"}
            or not is_row_id(item["model"])
            or not isinstance(item["percent"], int)
            or isinstance(item["percent"], bool)
        ):
            raise _fail("arms")
    return value


BodyCapability = Annotated[str, BeforeValidator(_capability), WithJsonSchema(CAPABILITY_SCHEMA)]


# --- schedules ----------------------------------------------------------------------------


def _status(value):
    if _one(value) not in SCHEDULE_STATUSES:
        raise _fail("unknown_status")
    return value


class ScheduleListQuery(PageQuery):
    status: Annotated[
        str, BeforeValidator(_status), WithJsonSchema({"type": "string", "enum": SCHEDULE_STATUSES})
    ] = Field(None, description="Only schedules in this status")
    provider: QText = Field(None, description="Only this provider's (404 if unknown)")
    capability: QCapability = Field(None, description="Only this capability's")


class ScheduleCreate(Body):
    provider: str = Field(description="Provider slug")
    capability: BodyCapability
    model: Annotated[
        int | None, BeforeValidator(_row_id_or_null("model_ref")), WithJsonSchema(ROW_ID_OR_NULL)
    ] = Field(description="A model of the group (its id), or null for none («هیچ‌کدام»)")
    run_at: str = Field(
        description="RFC 3339 with seconds and an offset, e.g. 2030-03-21T09:00:00+03:30; "
        "a time without an offset is refused",
        json_schema_extra={"format": "date-time"},
    )
    after_calls: Annotated[
        int | None, BeforeValidator(_row_id_or_null("call_count")), WithJsonSchema(ROW_ID_OR_NULL)
    ] = Field(None, description="Usage-based: see Schedule")


class Schedule(Shape):
    """A schedule's shape; ``after_calls`` only on usage-based ones."""

    id: int
    provider: str = Field(description="The provider's slug")
    capability: Annotated[str, WithJsonSchema(CAPABILITY_SCHEMA)]
    model: int | None = Field(
        description="The model's id; null: switch to no model («هیچ‌کدام»), or the model was "
        "deleted (the schedule then fails)"
    )
    run_at: Timestamp
    status: Annotated[str, WithJsonSchema({"type": "string", "enum": SCHEDULE_STATUSES})]
    result: str = Field(description="The Persian message of the outcome")
    created_by: Username
    created_at: Timestamp
    applied_at: Timestamp | None
    after_calls: int = Field(
        None,
        description="Only for usage-based schedules: fire once the live model's calls of the "
        "day (Tehran) reach this number, not before run_at",
    )

    @classmethod
    def of(cls, values: dict) -> dict:
        return cls.model_validate(values).model_dump(exclude_unset=True)


# --- routing ------------------------------------------------------------------------------


class Arm(Body):
    model: int = Field(json_schema_extra={"minimum": 1, "maximum": MAX_ID})
    percent: int = Field(json_schema_extra={"minimum": MIN_PERCENT, "maximum": MAX_PERCENT})


class Routing(Body):
    """A group's fallbacks and split: the PUT body, and the answer."""

    fallbacks: Annotated[
        list[int], BeforeValidator(_model_ids), WithJsonSchema({"type": "array", "items": ROW_ID})
    ] = Field(
        description="Models of any provider with the capability, tried in order when the "
        "live model is unreachable, times out, or answers 5xx or 429"
    )
    split: Annotated[list[Arm], BeforeValidator(_arms)] = Field(
        description="Other models of the group and their percent (together at most 90); the "
        "live model gets the rest"
    )


# --- usage --------------------------------------------------------------------------------

INSTANT = (
    "A day (`2026-03-10`, the whole day in APP_TIMEZONE) or an ISO 8601 date and time with "
    "an offset (`2026-03-10T08:00:00+03:30`)."
)
UsageText = Annotated[
    str, BeforeValidator(_one), WithJsonSchema({"type": "string", "maxLength": usage.TEXT_MAX})
]


class UsageQuery(Query):
    """Only the parameters' names and count are checked here; their values by
    ``queries.usage.parse_query``, which the usage page shares (its messages)."""

    provider: UsageText = Field(None, description=PROVIDER_HELP, examples=["openai"])
    capability: UsageText = Field(None, description="A capability identifier", examples=["chat"])
    model: UsageText = Field(
        None, description="A model id as sent to the provider", examples=["gpt-4o"]
    )
    route: Annotated[
        str, BeforeValidator(_one), WithJsonSchema({"type": "string", "enum": list(usage.ROUTES)})
    ] = Field(
        None,
        description="Only calls that reached their model this way: the live model, an explicit "
        "`<provider>/<model>`, a split arm or a fallback",
        examples=["split"],
    )
    key_source: Annotated[
        str,
        BeforeValidator(_one),
        WithJsonSchema({"type": "string", "enum": list(usage.KEY_SOURCES)}),
    ] = Field(
        None,
        description="Only calls made with an admin's personal key or the shared key",
        examples=["shared"],
    )
    from_: UsageText = Field(
        None, alias="from", description=INSTANT + " Inclusive.", examples=["2026-03-10"]
    )
    to: UsageText = Field(
        None,
        description=INSTANT + " Exclusive (a day: through its end).",
        examples=["2026-03-11"],
    )
    bucket: Annotated[
        str, BeforeValidator(_one), WithJsonSchema({"type": "string", "enum": list(usage.BUCKETS)})
    ] = Field(None, description="Bucket size (default hour)", examples=["hour"])

    def filters(self) -> dict[str, str]:
        """The given parameters, by their names in the query string."""
        return self.model_dump(by_alias=True, exclude_none=True, exclude={"format"})


class UsagePoint(Shape):
    bucket_start: Timestamp
    provider: str
    capability: str
    model: str
    calls: int = Field(ge=0)
    errors: int = Field(ge=0)
    fallbacks: int = Field(ge=0)
    p50_ms: float | None = Field(ge=0)
    p95_ms: float | None = Field(ge=0)
    prompt_tokens: int = Field(ge=0)
    completion_tokens: int = Field(ge=0)


ScheduleEnvelope = envelope("ScheduleEnvelope", "The schedule", Schedule)
SchedulePageEnvelope = envelope(
    "SchedulePageEnvelope", "A page of schedules", list[Schedule], paged=True
)
RoutingEnvelope = envelope("RoutingEnvelope", "The routing", Routing)
UsageEnvelope = envelope("UsageEnvelope", "The series", list[UsagePoint])

"""Every JSON shape of the API (docs/CONTRACTS.md §5), declared once: the same classes
check the input, serialise the answers and give the OpenAPI document its schemas.

Only shapes and JSON types are checked here (unknown fields, wrong types, missing
ones, unknown capabilities); the values themselves (lengths, patterns, taken names)
are checked by the operations' validators, so forms, CLI and API share one set of
rules; the constraints shown in the document (``json_schema_extra``) are theirs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from copy import copy
from datetime import datetime
from typing import Annotated, Any, Literal

from flask_babel import lazy_gettext as _l
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, create_model
from pydantic import ValidationError as PydanticError
from pydantic_core import PydanticCustomError

from webapp.capabilities import CAPABILITIES, is_capability
from webapp.errors import ValidationError
from webapp.queries.listing import usernames
from webapp.secrets import MAX_KEY_LENGTH

INVALID_INPUT = _l("The input is not valid.")
MAX_PAGE = 100_000
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$"
TEXT_PATTERN = r"\S"  # at least one visible character; surrounding spaces are trimmed
CAPABILITY_SCHEMA = {"type": "string", "enum": list(CAPABILITIES)}


def invalid(errors: dict) -> ValidationError:
    return ValidationError(INVALID_INPUT, errors={k: [str(v)] for k, v in errors.items()})


def _no_null_defaults(schema: dict) -> None:
    """The document leaves out an optional field's ``None`` default."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None:
            del prop["default"]


# A JSON string may carry a lone surrogate ("\\ud800"); echoed back in a message it
# could not be encoded as UTF-8. The replacement character keeps the rest readable.
_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: object) -> str:
    return _SURROGATE.sub("\ufffd", str(text))


def _fail(kind: str, **context) -> PydanticCustomError:
    context = {k: encodable(v) if isinstance(v, str) else v for k, v in context.items()}
    return PydanticCustomError(kind, kind, context)


# --- the messages of refused input ------------------------------------------------------

# pydantic's error type → the message (its context fills the placeholders)
BODY_MESSAGES = {
    "extra_forbidden": _l("Unknown field."),
    "missing": _l("This field is required."),
    "string_type": _l("This field must be text."),
    "text_or_null": _l("This field must be text or null."),
    "bool_type": _l("This field must be true or false."),
    "capability_list": _l("Capabilities must be a list of capability names."),
    "unknown_capability": _l("Unknown capability: %(value)s"),
    "model_ref": _l("Give a model id (a whole number)."),
    "call_count": _l("Give a whole number of calls above zero."),
    "model_ids": _l("Give a list of model ids."),
    "arms": _l('Each arm is {"model": <model id>, "percent": <1–50>}.'),
}
QUERY_MESSAGES = {
    "extra_forbidden": _l("Unknown parameter."),
    "missing": _l("This parameter is required."),
    "repeated": _l("Give this parameter only once."),
    "boolean": _l("Use true or false."),
    "whole_number": _l("Use a whole number from %(low)d to %(high)d."),
    "unknown_capability": _l("Unknown capability: %(value)s"),
    "json_format": _l("Only the json format is available."),
    "unknown_status": _l("Unknown status."),
}


def refused(exc: PydanticError, messages: dict) -> ValidationError:
    """One message per top-level field, the first pydantic reported for it."""
    errors: dict = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "body"
        errors.setdefault(field, str(messages[error["type"]]) % error.get("ctx", {}))
    return invalid(errors)


# --- body field types ---------------------------------------------------------------------


def _capabilities(value):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail("capability_list")
    unknown = [v for v in value if not is_capability(v)]
    if unknown:
        raise _fail("unknown_capability", value=", ".join(unknown)[:100])
    return value


def _text_or_null(value):
    if value is not None and not isinstance(value, str):
        raise _fail("text_or_null")
    return value


Capabilities = Annotated[
    list[str],
    BeforeValidator(_capabilities),
    WithJsonSchema({"type": "array", "items": CAPABILITY_SCHEMA}),
]


def text(max_length: int, pattern: str = TEXT_PATTERN) -> Any:
    """A text field; the limits shown are the validators' (see the module's docstring)."""
    extra = {"minLength": 1, "maxLength": max_length, "pattern": pattern}
    return Field(json_schema_extra=extra)


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", json_schema_extra=_no_null_defaults)


class ModelCreate(Body):
    provider: str = Field(description="Provider slug")
    name: str = text(100, NAME_PATTERN)
    model_id: str = text(200, r"^\S+$")
    display_name: str = text(200)
    capabilities: Capabilities = Field(json_schema_extra={"minItems": 1})
    is_active: bool = Field(
        None,
        description="true: activate for every capability of the model (other models lose "
        "those activations); false: deactivate everywhere",
    )


class ProviderCreate(Body):
    slug: str = text(50, SLUG_PATTERN)
    name: str = text(100)
    base_url: str = Field(
        None,
        json_schema_extra={"maxLength": 500},
        description="http:// or https:// address, or empty",
    )
    is_enabled: bool = None
    shared_api_enabled: bool = None
    shared_api_key: Annotated[str | None, BeforeValidator(_text_or_null)] = Field(
        None,
        json_schema_extra={"maxLength": MAX_KEY_LENGTH},
        description="Write-only. A string sets the shared key (printable ASCII, no spaces); "
        'null or "" clears it. Never returned.',
    )


def variant(name: str, full: type[Body], *, drop=(), partial=False, **more) -> type[Body]:
    """``full`` without the fields in ``drop``, each optional when ``partial`` (a PATCH
    body), plus the fields in ``more``."""
    fields: dict = {}
    for key, info in full.model_fields.items():
        if key not in drop:
            fields[key] = (info.annotation, copy(info))
            if partial:
                fields[key][1].default = None
    return create_model(name, __base__=Body, **fields, **more)


ACTIVE_CAPABILITIES = (
    Capabilities,
    Field(
        None,
        description="Instead of is_active (not with it): make the model active for exactly "
        "these of its capabilities (others holding them lose them; [] deactivates it "
        "everywhere)",
    ),
)
ModelUpdate = variant(
    "ModelUpdate",
    ModelCreate,
    drop=("provider",),
    partial=True,
    active_capabilities=ACTIVE_CAPABILITIES,
)
ProviderUpdate = variant("ProviderUpdate", ProviderCreate, partial=True)
# PUT: a full update as Django REST framework does it (required fields required; the
# others, the write-only key included, keep their value when left out)
ModelReplace = variant(
    "ModelReplace",
    ModelCreate,
    drop=("provider",),
    active_capabilities=ACTIVE_CAPABILITIES,
)
ProviderReplace = variant("ProviderReplace", ProviderCreate)


# --- query strings ------------------------------------------------------------------------


def _one(value):
    if isinstance(value, list):
        raise _fail("repeated")
    return value


def _capability(value):
    if not is_capability(_one(value)):
        raise _fail("unknown_capability", value=value[:50])
    return value


def _boolean(value):
    if _one(value) not in ("true", "false"):
        raise _fail("boolean")
    return value == "true"


def _whole(low: int, high: int) -> Callable:
    def check(value):
        value = _one(value)
        if not value.isascii() or not value.isdigit() or not low <= int(value) <= high:
            raise _fail("whole_number", low=low, high=high)
        return int(value)

    return check


QText = Annotated[str, BeforeValidator(_one)]
QCapability = Annotated[str, BeforeValidator(_capability), WithJsonSchema(CAPABILITY_SCHEMA)]
QBool = Annotated[bool, BeforeValidator(_boolean)]
PROVIDER_HELP = "The provider's slug"


def _json_format(value):
    if _one(value) != "json":
        raise _fail("json_format")
    return value


class Query(BaseModel):
    """A route's query string; each parameter at most once, unknown ones refused (a
    mistyped filter is never ignored); ``format=json`` (Django REST framework's format
    override) is accepted everywhere."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_defaults)
    format: Annotated[str, BeforeValidator(_json_format)] = Field(
        None,
        description="json, the only format",
        json_schema_extra={"enum": ["json"]},
    )


class ActiveModelQuery(Query):
    provider: QText = Field(description=PROVIDER_HELP, examples=["openrouter"])
    capability: QCapability = Field(description="A capability identifier", examples=["chat"])


class PageQuery(Query):
    page: Annotated[int, BeforeValidator(_whole(1, MAX_PAGE))] = Field(
        1, ge=1, le=MAX_PAGE, description="Page number"
    )
    page_size: Annotated[int, BeforeValidator(_whole(1, MAX_PAGE_SIZE))] = Field(
        DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Items per page"
    )


class ByProviderQuery(PageQuery):
    provider: QText = Field(description=PROVIDER_HELP, examples=["openrouter"])
    capability: QCapability = Field(None, description="A capability identifier")


class ModelListQuery(PageQuery):
    provider: QText = Field(None, description="Only this provider's models (404 if unknown)")
    capability: QCapability = Field(None, description="A capability identifier")
    is_active: QBool = Field(
        None,
        description="Only active (true) or inactive (false) models; with `capability`, "
        "active for that capability",
    )


class ConflictsQuery(Query):
    capability: QCapability = Field(
        None, description="Only this capability (default: every capability of the model)"
    )


# --- answers ------------------------------------------------------------------------------


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


Timestamp = Annotated[str, BeforeValidator(_iso), Field(json_schema_extra={"format": "date-time"})]
Username = Annotated[str | None, Field(description="Username of the admin, or null")]
CapabilityList = Annotated[list[str], WithJsonSchema({"type": "array", "items": CAPABILITY_SCHEMA})]


class Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_no_null_defaults)


class Audited(Shape):
    """A row's shape; each declares the audit fields last (docs/CONTRACTS.md §5 order)."""

    @classmethod
    def dump(cls, row, names: dict[int, str] | None, **values) -> dict:
        """``row``'s attributes named like the fields (``values`` first), as JSON."""
        if names is None:
            names = usernames([row])
        values |= {
            "created_by": names.get(row.created_by_id),
            "updated_by": names.get(row.updated_by_id),
        }
        for key in cls.model_fields:
            values.setdefault(key, getattr(row, key, None))
        return cls.model_validate(values).model_dump()

    @classmethod
    def of_rows(cls, rows) -> list[dict]:
        """Each row as ``of`` shapes it, the audit usernames read in one query."""
        names = usernames(rows)
        return [cls.of(row, names) for row in rows]


class Model(Audited):
    id: int
    name: str
    model_id: str
    display_name: str
    provider: str = Field(description="The provider's slug")
    provider_name: str
    capabilities: CapabilityList
    is_active: bool = Field(description="Active for at least one capability")
    active_capabilities: CapabilityList
    created_at: Timestamp
    updated_at: Timestamp
    created_by: Username
    updated_by: Username

    @classmethod
    def of(cls, model, names: dict[int, str] | None = None) -> dict:
        return cls.dump(
            model, names, provider=model.provider.slug, provider_name=model.provider.name
        )


class Provider(Audited):
    id: int
    slug: str
    name: str
    base_url: str
    is_enabled: bool
    shared_api_enabled: bool
    has_shared_api_key: bool
    shared_api_key_hint: str = Field(description="e.g. …a1b2; empty if no key")
    created_at: Timestamp
    updated_at: Timestamp
    created_by: Username
    updated_by: Username

    @classmethod
    def of(cls, provider, names: dict[int, str] | None = None) -> dict:
        hint = provider.shared_api_key_hint if provider.has_shared_api_key else ""
        return cls.dump(provider, names, shared_api_key_hint=hint)


class Conflict(Shape):
    model: Model
    capabilities: CapabilityList
    message: str = Field(description="The conflicting_models message")


class Preview(Shape):
    model: Model
    capabilities: CapabilityList
    deactivated_count: int = Field(ge=0)
    conflicts: list[Conflict]


# --- the envelope -------------------------------------------------------------------------


class SuccessMetaData(Shape):
    status: Literal["success"]
    message: str


class ErrorMetaData(Shape):
    status: Literal["error"]
    message: str


class ErrorEnvelope(Shape):
    metaData: ErrorMetaData
    errors: dict[str, list[str]] = Field(None, description="Field or parameter name → messages")


class Pagination(Shape):
    page: int = Field(ge=1)
    page_size: int = Field(ge=1)
    total: int = Field(ge=0)
    pages: int = Field(ge=0)


class Envelope(Shape):
    metaData: SuccessMetaData


def envelope(name: str, description: str, data: Any, paged=False, **more) -> type[Envelope]:
    fields: dict = {"data": (data, ...), **more}
    if paged:
        fields["pagination"] = (Pagination, ...)
    return create_model(name, __base__=Envelope, __doc__=description, **fields)


ModelEnvelope = envelope("ModelEnvelope", "The model", Model)
ModelArrayEnvelope = envelope(
    "ModelArrayEnvelope",
    "The models; paged (with pagination) only when page or page_size is given",
    list[Model],
    pagination=(Pagination, None),
)
ModelPageEnvelope = envelope("ModelPageEnvelope", "A page of models", list[Model], paged=True)
ConflictsEnvelope = envelope("ConflictsEnvelope", "The preview", Preview)
ProviderEnvelope = envelope("ProviderEnvelope", "The provider", Provider)
ProviderPageEnvelope = envelope(
    "ProviderPageEnvelope", "A page of providers", list[Provider], paged=True
)
EmptyEnvelope = envelope("EmptyEnvelope", "Done; no data", None)

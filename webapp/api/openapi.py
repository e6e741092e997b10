"""The OpenAPI 3.1 document of the API, served at ``/api/v1/openapi.json``.

Written by hand next to the routes it describes; ``tests/api/test_fuzz.py`` runs
schemathesis against it on a live server, so a route that drifts from it fails.
The document itself is served as is (not in the envelope), without authentication.
"""

from __future__ import annotations

from flask import jsonify

from webapp.api import bp, usage
from webapp.api.parsing import DEFAULT_PAGE_SIZE, MAX_INT32, MAX_PAGE, MAX_PAGE_SIZE
from webapp.api.shapes import MODEL_KEYS
from webapp.capabilities import CAPABILITIES
from webapp.secrets import MAX_KEY_LENGTH

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$"
TEXT_PATTERN = r"\S"  # at least one visible character; surrounding spaces are trimmed
KEY_PATTERN = r"^[!-~]+$"  # printable ASCII, no spaces


def ref(name: str, kind: str = "schemas") -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def text(max_length: int, pattern: str = TEXT_PATTERN, **extra) -> dict:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": pattern} | extra


DATETIME = {"type": "string", "format": "date-time"}
USERNAME = {"type": ["string", "null"], "description": "Username of the admin, or null"}
CAPABILITY = {"type": "string", "enum": list(CAPABILITIES)}
CAPABILITY_LIST = {"type": "array", "items": CAPABILITY}

MODEL = {
    "type": "object",
    "additionalProperties": False,
    "required": list(MODEL_KEYS),
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "model_id": {"type": "string"},
        "display_name": {"type": "string"},
        "provider": {"type": "string", "description": "The provider's slug"},
        "provider_name": {"type": "string"},
        "capabilities": CAPABILITY_LIST,
        "is_active": {"type": "boolean", "description": "Active for at least one capability"},
        "active_capabilities": CAPABILITY_LIST,
        "created_at": DATETIME,
        "updated_at": DATETIME,
        "created_by": USERNAME,
        "updated_by": USERNAME,
    },
}

PROVIDER = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "slug",
        "name",
        "base_url",
        "is_enabled",
        "shared_api_enabled",
        "has_shared_api_key",
        "shared_api_key_hint",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
    ],
    "properties": {
        "id": {"type": "integer"},
        "slug": {"type": "string"},
        "name": {"type": "string"},
        "base_url": {"type": "string"},
        "is_enabled": {"type": "boolean"},
        "shared_api_enabled": {"type": "boolean"},
        "has_shared_api_key": {"type": "boolean"},
        "shared_api_key_hint": {"type": "string", "description": "e.g. …a1b2; empty if no key"},
        "created_at": DATETIME,
        "updated_at": DATETIME,
        "created_by": USERNAME,
        "updated_by": USERNAME,
    },
}

MODEL_WRITE = {
    "name": text(100, NAME_PATTERN),
    "model_id": text(200, r"^\S+$"),
    "display_name": text(200),
    "capabilities": CAPABILITY_LIST | {"minItems": 1},
    "is_active": {
        "type": "boolean",
        "description": "true: activate for every capability of the model (other models "
        "lose those activations); false: deactivate everywhere",
    },
}

PROVIDER_WRITE = {
    "slug": text(50, SLUG_PATTERN),
    "name": text(100),
    "base_url": {
        "type": "string",
        "maxLength": 500,
        "description": "http:// or https:// address, or empty",
    },
    "is_enabled": {"type": "boolean"},
    "shared_api_enabled": {"type": "boolean"},
    "shared_api_key": {
        "type": ["string", "null"],
        "maxLength": MAX_KEY_LENGTH,
        "description": "Write-only. A string sets the shared key (printable ASCII, no spaces); "
        'null or "" clears it. Never returned.',
    },
}


def envelope(data: dict | None, *, paged: bool = False) -> dict:
    properties = {"metaData": ref("SuccessMetaData"), "data": data or {"type": "null"}}
    required = ["metaData", "data"]
    if paged:
        properties["pagination"] = ref("Pagination")
        required.append("pagination")
    return {
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }


def answer(description: str, schema: dict, headers: dict | None = None) -> dict:
    out = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def errors(*codes: int) -> dict:
    """The error answers of an operation; 400 (e.g. an unknown query parameter), 401 and
    500 can happen on every one."""
    every = sorted({400, 401, 500, *codes})
    return {str(code): ref(str(code), "responses") for code in every}


def param(
    name: str,
    where: str,
    schema: dict,
    description: str,
    required: bool = False,
    example=None,
) -> dict:
    out = {
        "name": name,
        "in": where,
        "required": required or where == "path",
        "schema": schema,
        "description": description,
    }
    if example is not None:
        out["example"] = example
    return out


LANGUAGE = ref("AcceptLanguage", "parameters")
PROVIDER_QUERY = param(
    "provider", "query", {"type": "string"}, "The provider's slug", True, example="openrouter"
)
CAPABILITY_QUERY = param(
    "capability", "query", CAPABILITY, "A capability identifier", example="chat"
)
PAGING = [ref("Page", "parameters"), ref("PageSize", "parameters")]
MODEL_PATH = param(
    "model_id",
    "path",
    {"type": "integer", "minimum": 0, "maximum": MAX_INT32},
    "Model id",
    example=1,
)
SLUG_PATH = param("slug", "path", {"type": "string"}, "The provider's slug", example="openrouter")
READ = [{"bearerAuth": []}, {"cookieAuth": []}]
WRITE = [{"bearerAuth": []}, {"cookieAuth": [], "csrfToken": []}]


def body(name: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": ref(name)}}}


def op(
    op_id: str,
    summary: str,
    responses: dict,
    *,
    permission: str,
    params: list | None = None,
    request: str | None = None,
    write: bool = False,
) -> dict:
    out = {
        "operationId": op_id,
        "summary": summary,
        "description": f"Needs the `{permission}` permission.",
        "parameters": [*(params or []), LANGUAGE],
        "security": WRITE if write else READ,
        "responses": responses,
    }
    if request:
        out["requestBody"] = body(request)
    return out


MODEL_OK = ref("ModelEnvelope")
PROVIDER_OK = ref("ProviderEnvelope")
LOCATION = {"Location": {"schema": {"type": "string"}, "description": "The new resource"}}


def paths() -> dict:
    return {
        "/ai-models/active_model/": {
            "get": op(
                "getActiveModel",
                "The active model of a provider for a capability (cached)",
                {
                    "200": answer("The active model («مدل فعال دریافت شد»)", MODEL_OK),
                    **errors(400, 403),
                    "404": answer(
                        "No active model (no_active_model) or an unknown provider",
                        ref("ErrorEnvelope"),
                    ),
                },
                permission="view_models",
                params=[PROVIDER_QUERY, CAPABILITY_QUERY | {"required": True}],
            )
        },
        "/ai-models/by_provider/": {
            "get": op(
                "listModelsByProvider",
                "Every model of a provider (optionally those with a capability), not paged",
                {"200": answer("The models", ref("ModelArrayEnvelope")), **errors(400, 403, 404)},
                permission="view_models",
                params=[PROVIDER_QUERY, CAPABILITY_QUERY],
            )
        },
        "/ai-models/": {
            "get": op(
                "listModels",
                "Models, filtered and paged (ordered by id)",
                {
                    "200": answer("A page of models", ref("ModelPageEnvelope")),
                    **errors(400, 403, 404),
                },
                permission="view_models",
                params=[
                    param(
                        "provider",
                        "query",
                        {"type": "string"},
                        "Only this provider's models (404 if unknown)",
                    ),
                    CAPABILITY_QUERY,
                    param(
                        "is_active",
                        "query",
                        {"type": "boolean"},
                        "Only active (true) or inactive (false) models; with `capability`, "
                        "active for that capability",
                    ),
                    *PAGING,
                ],
            ),
            "post": op(
                "createModel",
                "Create a model (inactive unless is_active is true)",
                {
                    "201": answer("The new model", MODEL_OK, LOCATION),
                    **errors(400, 403, 413),
                },
                permission="manage_models",
                request="ModelCreate",
                write=True,
            ),
        },
        "/ai-models/{model_id}/": {
            "parameters": [MODEL_PATH],
            "get": op(
                "getModel",
                "One model",
                {"200": answer("The model", MODEL_OK), **errors(403, 404)},
                permission="view_models",
            ),
            "patch": op(
                "updateModel",
                'Partial update; {"is_active": true} activates and says how many other '
                "models were deactivated",
                {
                    "200": answer("«مدل به‌روزرسانی شد. N مدل دیگر غیرفعال شد»", MODEL_OK),
                    **errors(400, 403, 404, 413),
                },
                permission="manage_models",
                request="ModelUpdate",
                write=True,
            ),
            "delete": op(
                "deleteModel",
                "Delete a model (and its activations)",
                {"200": answer("Deleted", ref("EmptyEnvelope")), **errors(403, 404)},
                permission="manage_models",
                write=True,
            ),
        },
        "/ai-models/{model_id}/conflicts/": {
            "parameters": [MODEL_PATH],
            "get": op(
                "previewActivation",
                "Which models activating this one would deactivate (writes nothing)",
                {"200": answer("The preview", ref("ConflictsEnvelope")), **errors(400, 403, 404)},
                permission="view_models",
                params=[
                    param(
                        "capability",
                        "query",
                        CAPABILITY,
                        "Only this capability (default: every capability of the model)",
                    )
                ],
            ),
        },
        "/ai-providers/": {
            "get": op(
                "listProviders",
                "Providers, paged (ordered by id)",
                {
                    "200": answer("A page of providers", ref("ProviderPageEnvelope")),
                    **errors(400, 403),
                },
                permission="view_models",
                params=PAGING,
            ),
            "post": op(
                "createProvider",
                "Create a provider",
                {"201": answer("The new provider", PROVIDER_OK, LOCATION), **errors(400, 403, 413)},
                permission="manage_providers",
                request="ProviderCreate",
                write=True,
            ),
        },
        "/ai-providers/{slug}/": {
            "parameters": [SLUG_PATH],
            "get": op(
                "getProvider",
                "One provider",
                {"200": answer("The provider", PROVIDER_OK), **errors(403, 404)},
                permission="view_models",
            ),
            "patch": op(
                "updateProvider",
                "Partial update",
                {"200": answer("The provider", PROVIDER_OK), **errors(400, 403, 404, 413)},
                permission="manage_providers",
                request="ProviderUpdate",
                write=True,
            ),
            "delete": op(
                "deleteProvider",
                "Delete a provider and all its models",
                {"200": answer("Deleted", ref("EmptyEnvelope")), **errors(403, 404)},
                permission="manage_providers",
                write=True,
            ),
        },
        "/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document (not in the envelope, no authentication)",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }


ERROR_DESCRIPTIONS = {
    400: "Bad input (unknown field or parameter, wrong type, unknown capability, missing "
    "parameter, malformed or non-object JSON, missing CSRF header); nothing changed",
    401: "No credentials, or a wrong or revoked token",
    403: "The admin lacks the permission",
    404: "Not found",
    413: "The body is larger than 256 KiB",
    500: "Internal error",
}


def components() -> dict:
    error_metadata = {
        "type": "object",
        "additionalProperties": False,
        "required": ["status", "message"],
        "properties": {"status": {"const": "error"}, "message": {"type": "string"}},
    }
    schemas = {
        "SuccessMetaData": {
            "type": "object",
            "additionalProperties": False,
            "required": ["status", "message"],
            "properties": {"status": {"const": "success"}, "message": {"type": "string"}},
        },
        "ErrorEnvelope": {
            "type": "object",
            "additionalProperties": False,
            "required": ["metaData"],
            "properties": {
                "metaData": error_metadata,
                "errors": {
                    "type": "object",
                    "description": "Field or parameter name → messages",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        "Pagination": {
            "type": "object",
            "additionalProperties": False,
            "required": ["page", "page_size", "total", "pages"],
            "properties": {
                "page": {"type": "integer", "minimum": 1},
                "page_size": {"type": "integer", "minimum": 1},
                "total": {"type": "integer", "minimum": 0},
                "pages": {"type": "integer", "minimum": 0},
            },
        },
        "Model": MODEL,
        "Provider": PROVIDER,
        "Conflict": {
            "type": "object",
            "additionalProperties": False,
            "required": ["model", "capabilities", "message"],
            "properties": {
                "model": ref("Model"),
                "capabilities": CAPABILITY_LIST,
                "message": {"type": "string", "description": "The conflicting_models message"},
            },
        },
        "Preview": {
            "type": "object",
            "additionalProperties": False,
            "required": ["model", "capabilities", "deactivated_count", "conflicts"],
            "properties": {
                "model": ref("Model"),
                "capabilities": CAPABILITY_LIST,
                "deactivated_count": {"type": "integer", "minimum": 0},
                "conflicts": {"type": "array", "items": ref("Conflict")},
            },
        },
        "ModelCreate": {
            "type": "object",
            "additionalProperties": False,
            "required": ["provider", "name", "model_id", "display_name", "capabilities"],
            "properties": {"provider": {"type": "string", "description": "Provider slug"}}
            | MODEL_WRITE,
        },
        "ModelUpdate": {
            "type": "object",
            "additionalProperties": False,
            "properties": MODEL_WRITE
            | {
                "active_capabilities": CAPABILITY_LIST
                | {
                    "description": "Instead of is_active (not with it): make the model active "
                    "for exactly these of its capabilities (others holding them lose them; "
                    "[] deactivates it everywhere)"
                }
            },
        },
        "ProviderCreate": {
            "type": "object",
            "additionalProperties": False,
            "required": ["slug", "name"],
            "properties": PROVIDER_WRITE,
        },
        "ProviderUpdate": {
            "type": "object",
            "additionalProperties": False,
            "properties": PROVIDER_WRITE,
        },
        "ModelEnvelope": envelope(ref("Model")),
        "ModelArrayEnvelope": envelope({"type": "array", "items": ref("Model")}),
        "ModelPageEnvelope": envelope({"type": "array", "items": ref("Model")}, paged=True),
        "ConflictsEnvelope": envelope(ref("Preview")),
        "ProviderEnvelope": envelope(ref("Provider")),
        "ProviderPageEnvelope": envelope({"type": "array", "items": ref("Provider")}, paged=True),
        "EmptyEnvelope": envelope(None),
    }
    return {
        "schemas": schemas,
        "responses": {
            str(code): answer(text_, ref("ErrorEnvelope"))
            for code, text_ in ERROR_DESCRIPTIONS.items()
        },
        "parameters": {
            "Page": param(
                "page",
                "query",
                {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
                "Page number",
            ),
            "PageSize": param(
                "page_size",
                "query",
                {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PAGE_SIZE,
                    "default": DEFAULT_PAGE_SIZE,
                },
                "Items per page",
            ),
            "AcceptLanguage": param(
                "Accept-Language",
                "header",
                {"type": "string"},
                "Messages are Persian unless English (en) is preferred",
            ),
        },
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "A token from `flask --app wsgi create-token USERNAME` or the "
                "tokens page; acts with its admin's permissions",
            },
            "cookieAuth": {
                "type": "apiKey",
                "in": "cookie",
                "name": "session",
                "description": "The dashboard's session cookie",
            },
            "csrfToken": {
                "type": "apiKey",
                "in": "header",
                "name": "X-CSRFToken",
                "description": "With the session cookie, unsafe methods need the page's CSRF token",
            },
        },
    }


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AI model control panel API",
            "version": "1.0.0",
            "description": "One active model per provider and capability. Every answer is "
            '{"metaData": {"status", "message"}, "data"}; errors carry no data and may carry '
            '"errors". Messages are Persian unless `Accept-Language` prefers English. '
            "Paths work with or without the trailing slash.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": READ,
        "paths": paths() | usage.openapi_paths(),
        "components": components(),
    }


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(document())

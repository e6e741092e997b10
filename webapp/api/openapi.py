"""The OpenAPI 3.1 document of the API, served at ``/api/v1/openapi.json``.

The routes (``blueprint.ROUTES``) give each operation's path, summary, permission,
query parameters and body; the schemas come from ``schemas`` (the classes that check
and shape the JSON); only the operation names and answers are written here.
``tests/api/test_fuzz.py`` runs schemathesis against it on a live server, so a route
that drifts from it fails. Served as is (not in the envelope), without authentication.
"""

from __future__ import annotations

import re

from flask import jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from webapp.api import schemas as s
from webapp.api import schemas_policies as sp
from webapp.api.blueprint import ROUTES, Route, bp
from webapp.db import MAX_ID

REF = "#/components/schemas/{model}"
# endpoint → (operationId, the success answer)
OPERATIONS: dict[str, tuple[str, type[BaseModel]]] = {
    "model_active": ("getActiveModel", s.ModelEnvelope),
    "model_by_provider": ("listModelsByProvider", s.ModelArrayEnvelope),
    "model_list": ("listModels", s.ModelPageEnvelope),
    "model_create": ("createModel", s.ModelEnvelope),
    "model_detail": ("getModel", s.ModelEnvelope),
    "model_update": ("updateModel", s.ModelEnvelope),
    "model_replace": ("replaceModel", s.ModelEnvelope),
    "model_delete": ("deleteModel", s.EmptyEnvelope),
    "model_conflicts": ("previewActivation", s.ConflictsEnvelope),
    "provider_list": ("listProviders", s.ProviderPageEnvelope),
    "provider_create": ("createProvider", s.ProviderEnvelope),
    "provider_detail": ("getProvider", s.ProviderEnvelope),
    "provider_update": ("updateProvider", s.ProviderEnvelope),
    "provider_replace": ("replaceProvider", s.ProviderEnvelope),
    "provider_delete": ("deleteProvider", s.EmptyEnvelope),
    "schedule_list": ("listSchedules", sp.SchedulePageEnvelope),
    "schedule_create": ("createSchedule", sp.ScheduleEnvelope),
    "schedule_detail": ("getSchedule", sp.ScheduleEnvelope),
    "schedule_cancel": ("cancelSchedule", sp.ScheduleEnvelope),
    "routing_detail": ("getRouting", sp.RoutingEnvelope),
    "routing_update": ("setRouting", sp.RoutingEnvelope),
    "usage_series": ("getUsage", sp.UsageEnvelope),
}
# endpoint → the errors beyond those ``operation`` finds from the route
MORE_ERRORS = {"schedule_create": {404}, "schedule_cancel": {404, 409}}
PATH_PARAMETERS = {
    "model_id": ({"type": "integer", "minimum": 0, "maximum": MAX_ID}, "Model id", 1),
    "slug": ({"type": "string"}, "The provider's slug", "openrouter"),
    "schedule_id": (sp.ROW_ID, "Schedule id", 1),
    "capability": (s.CAPABILITY_SCHEMA, "A capability identifier", "chat"),
}
ERROR_DESCRIPTIONS = {
    400: "Bad input (unknown field or parameter, wrong type, unknown capability, missing "
    "parameter, malformed or non-object JSON, missing CSRF header); nothing changed",
    401: "No credentials, or a wrong or revoked token",
    403: "The admin lacks the permission",
    404: "Not found",
    409: "The object's state forbids it (e.g. a schedule that already ran or was cancelled)",
    413: "The body is larger than 256 KiB",
    500: "Internal error",
}
LANGUAGE = {
    "name": "Accept-Language",
    "in": "header",
    "schema": {"type": "string"},
    "description": "Messages are Persian unless English (en) is preferred",
}
LOCATION = {"Location": {"schema": {"type": "string"}, "description": "The new resource"}}
READ = [{"bearerAuth": []}, {"cookieAuth": []}]
WRITE = [{"bearerAuth": []}, {"cookieAuth": [], "csrfToken": []}]
SECURITY_SCHEMES = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from `flask --app wsgi create-token USERNAME` or the tokens "
        "page; acts with its admin's permissions. `Authorization: Token <token>` (Django REST "
        "framework's scheme) is accepted the same way",
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
}
OPENAPI_ITSELF = {
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


def ref(name: str, kind: str = "schemas") -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def query_parameters(schema: type[s.Query]) -> list[dict]:
    doc = schema.model_json_schema(ref_template=REF)
    required = set(doc.get("required", ()))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        | {"description": prop.pop("description")}
        for name, prop in doc.get("properties", {}).items()
    ]


def operation(method: str, route: Route) -> dict:
    """400 (e.g. an unknown query parameter), 401, 403 and 500 can happen on every one;
    404 where the path or the query names an object, 413 where there is a body."""
    op_id, ok = OPERATIONS[route.endpoint]
    names = "provider" in route.query.model_fields or route.endpoint.endswith(
        ("detail", "update", "replace", "delete", "conflicts")
    )
    codes = {400, 401, 403, 500} | ({404} if names else set()) | ({413} if route.body else set())
    codes |= MORE_ERRORS.get(route.endpoint, set())
    status = "201" if method == "POST" else "200"
    answer = {
        "description": ok.__doc__,
        "content": {"application/json": {"schema": ref(ok.__name__)}},
    }
    out = {
        "operationId": op_id,
        "summary": route.summary,
        "description": f"Needs the `{route.permission}` permission. {route.details}".strip(),
        "parameters": [*query_parameters(route.query), LANGUAGE],
        "security": READ if method == "GET" else WRITE,
        "responses": {status: answer | ({"headers": LOCATION} if status == "201" else {})}
        | {str(code): ref(str(code), "responses") for code in sorted(codes)},
    }
    if route.body:
        content = {"application/json": {"schema": ref(route.body.__name__)}}
        out["requestBody"] = {"required": True, "content": content}
    return out


def paths() -> dict:
    out: dict = {"/openapi.json": {"get": OPENAPI_ITSELF}}
    for (method, rule), route in ROUTES.items():
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)
        item = out.setdefault(path, {})
        item["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": schema}
            | {"description": description, "example": example}
            for name in re.findall(r"{(\w+)}", path)
            for schema, description, example in [PATH_PARAMETERS[name]]
        ]
        if not item["parameters"]:
            del item["parameters"]
        item[method.lower()] = operation(method, route)
    return out


def components() -> dict:
    shown = {route.body for route in ROUTES.values()} - {None}
    shown |= {ok for _, ok in OPERATIONS.values()} | {s.ErrorEnvelope}
    models = sorted(shown, key=lambda m: m.__name__)
    _, defs = models_json_schema([(m, "serialization") for m in models], ref_template=REF)
    error = {"content": {"application/json": {"schema": ref("ErrorEnvelope")}}}
    return {
        "schemas": defs["$defs"],
        "responses": {
            str(code): {"description": text} | error for code, text in ERROR_DESCRIPTIONS.items()
        },
        "securitySchemes": SECURITY_SCHEMES,
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
        "paths": paths(),
        "components": components(),
    }


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(document())

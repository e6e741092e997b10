"""Schema-driven fuzzing (schemathesis 4 strategies driven by hypothesis) of every
operation of the OpenAPI document, against a live server, as a superadmin: no 500,
and every answer conforms to the document (status code, content type, the envelope
schemas, headers); schema-invalid input (negative generation) is refused with 4xx.

Bounded: ``MAX_EXAMPLES`` per operation (both generation modes), derandomised.
(schemathesis' own pytest loader, ``from_fixture``, does not run under pytest 9, so
the strategies are used directly.)
"""

from __future__ import annotations

import json
import urllib.request

import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support import API, fuzz_settings
from webapp.api.openapi import document

MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]

SCHEMA = schemathesis.openapi.from_dict(document())
OPERATIONS = {op.label: op for op in (r.ok() for r in SCHEMA.get_all_operations())}


def test_the_served_document_is_the_fuzzed_one(live_server):
    with urllib.request.urlopen(f"{live_server.url}{API}/openapi.json") as response:
        assert response.status == 200
        assert json.load(response) == json.loads(json.dumps(document()))


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_operation_conforms_to_the_document(label, live_server, group, bearer):
    operation = OPERATIONS[label]
    headers = bearer("superadmin")
    strategy = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )

    @given(case=strategy)
    @fuzz_settings(MAX_EXAMPLES)
    def fuzz(case):
        case.call_and_validate(
            base_url=f"{live_server.url}{API}", headers=headers, checks=CHECKS, timeout=10
        )

    fuzz()


def test_the_document_describes_every_route_and_only_those(app):
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = rule.rule.removeprefix(API)
            for name in rule.arguments:
                path = path.replace(f"<int:{name}>", f"{{{name}}}").replace(
                    f"<{name}>", f"{{{name}}}"
                )
            routed |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    documented = {
        (method.upper(), path)
        for path, item in document()["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert documented == routed


def test_every_operation_documents_its_errors_in_the_envelope():
    doc = document()
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters" or path == "/openapi.json":
                continue
            codes = set(operation["responses"])
            assert {"400", "401", "500"} <= codes, (method, path)
            assert ("403" in codes) == bool(operation["security"]), (method, path)
            if method in ("post", "patch"):
                assert "413" in codes and operation["requestBody"]["required"]
                schema = operation["requestBody"]["content"]["application/json"]["schema"]
                name = schema["$ref"].rsplit("/", 1)[1]
                assert doc["components"]["schemas"][name]["additionalProperties"] is False

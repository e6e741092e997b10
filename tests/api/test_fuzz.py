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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import API
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
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case):
        case.call_and_validate(
            base_url=f"{live_server.url}{API}", headers=headers, checks=CHECKS, timeout=10
        )

    fuzz()

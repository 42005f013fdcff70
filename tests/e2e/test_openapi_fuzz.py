"""The whole OpenAPI document, fuzzed by Schemathesis against a real server on the seed.

Every operation gets requests generated from its parameters' schemas, valid
and not: no answer may be a 5xx, and every answer must be documented (its
status and media type) and valid against the schema the document gives
for it. The write token is sent, so imports are fuzzed past the token
check. The live feed is left out: its answer never ends; the SSE tests
cover it.
"""

from __future__ import annotations

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.serving import TOKEN, Server

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.mark.parametrize("mode", list(GenerationMode))
def test_no_server_errors_and_every_answer_as_documented(
    server: Server, mode: GenerationMode
) -> None:
    """Requests that fit the document (positive) and that do not (negative)."""
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    cases = schema.exclude(path="/api/stream").as_strategy(mode)

    @hypothesis.given(case=cases)
    @hypothesis.settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def call(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)

    call()

"""An independent probe: Schemathesis, knowing only openapi.yaml, fuzzes tryon-mock over HTTP.

It generates schema-valid and schema-invalid requests for both operations; every answer must
be documented (status, content type, body and headers per the schema) and never a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import QUIET
from tryon_suite.simulator.config import DEMO_KEY
from tryon_suite.simulator.server import serving
from tryon_suite.spec.schemas import schema_dir

schema = schemathesis.openapi.from_path(str(schema_dir() / "openapi.yaml"))

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


@pytest.fixture(scope="module")
def mock_url() -> Iterator[str]:
    with serving(QUIET) as (base_url, _):
        yield base_url


def _probe(case: schemathesis.Case, mock_url: str) -> None:
    response = case.call(base_url=mock_url, headers={"X-API-KEY": DEMO_KEY}, timeout=30)
    case.validate_response(response, checks=CHECKS)


def _cases(path: str, method: str) -> st.SearchStrategy[schemathesis.Case]:
    """Schema-valid and schema-invalid requests for one operation, from its strategies (no
    pytest plugin: loading Schemathesis's costs every pytest process 1.5 s)."""
    operation = schema[path][method]
    return st.one_of(*(operation.as_strategy(generation_mode=mode) for mode in GenerationMode))


PROBE = settings(max_examples=40, suppress_health_check=list(HealthCheck), deadline=None)


@PROBE
@given(case=_cases("/v1/try-on", "POST"))
def test_schemathesis_finds_only_documented_answers_to_a_try_on(
    case: schemathesis.Case, mock_url: str
) -> None:
    _probe(case, mock_url)


@PROBE
@given(case=_cases("/v1/try-on/job/{job_id}", "GET"))
def test_schemathesis_finds_only_documented_answers_to_a_job_poll(
    case: schemathesis.Case, mock_url: str
) -> None:
    _probe(case, mock_url)


def test_the_probe_covers_every_operation_of_the_document() -> None:
    probed = {("/v1/try-on", "POST"), ("/v1/try-on/job/{job_id}", "GET")}
    results: list[Any] = list(schema.get_all_operations())  # an unreadable one raises in .ok()
    every = {(r.ok().path, r.ok().method.upper()) for r in results}
    assert probed == every, f"expected every operation probed, got {probed} of {every}"

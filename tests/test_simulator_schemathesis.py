"""An independent probe: Schemathesis, knowing only openapi.yaml, fuzzes tryon-mock over HTTP.

It generates schema-valid and schema-invalid requests for both operations; every answer must
be documented (status, content type, body and headers per the schema) and never a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import QUIET
from tryon_suite.contract import schema_dir
from tryon_suite.simulator.config import DEMO_KEY
from tryon_suite.simulator.server import serving

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


@schema.parametrize()
@settings(max_examples=40, suppress_health_check=list(HealthCheck), deadline=None)
def test_schemathesis_finds_only_documented_answers(case: schemathesis.Case, mock_url: str) -> None:
    response = case.call(base_url=mock_url, headers={"X-API-KEY": DEMO_KEY}, timeout=30)
    case.validate_response(response, checks=CHECKS)

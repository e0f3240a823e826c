"""An independent probe: Schemathesis, knowing only openapi.yaml, fuzzes tryon-mock over HTTP.

It generates schema-valid and schema-invalid requests for both operations; every answer must
be documented (status, content type, body and headers per the schema) and never a 5xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

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


def _probe(case: schemathesis.Case, mock_url: str) -> None:
    response = case.call(base_url=mock_url, headers={"X-API-KEY": DEMO_KEY}, timeout=30)
    case.validate_response(response, checks=CHECKS)


# One test per operation: Schemathesis gives the items of one parametrized test a single node
# id, and pytest-xdist's --dist loadfile keeps one item per node id (the other never ran).
@schema.include(path="/v1/try-on").parametrize()
@settings(max_examples=40, suppress_health_check=list(HealthCheck), deadline=None)
def test_schemathesis_finds_only_documented_answers_to_a_try_on(
    case: schemathesis.Case, mock_url: str
) -> None:
    _probe(case, mock_url)


@schema.include(path_regex="/job/").parametrize()
@settings(max_examples=40, suppress_health_check=list(HealthCheck), deadline=None)
def test_schemathesis_finds_only_documented_answers_to_a_job_poll(
    case: schemathesis.Case, mock_url: str
) -> None:
    _probe(case, mock_url)


def _paths(selected: Any) -> list[str]:
    """The paths of the operations a (filtered) schema holds; one it cannot read raises."""
    return [result.ok().path for result in selected.get_all_operations()]


def test_the_probe_covers_every_operation_of_the_document() -> None:
    covered = _paths(schema.include(path="/v1/try-on")) + _paths(schema.include(path_regex="/job/"))
    every = _paths(schema)
    assert sorted(covered) == sorted(every), f"expected every operation probed, got {covered}"

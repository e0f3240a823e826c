"""Judging one answer against the schemas: which schema applies, and what is wrong with it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final, Literal

import httpx

from tryon_suite.contract import RESPONSE_SCHEMAS, validation_problem

__all__ = ["Endpoint", "answer_problem", "schema_for"]

Endpoint = Literal["try-on", "job"]

#: GET /v1/try-on/job/{id}: 200 is the job's status; errors share the try-on error schemas.
_JOB_SCHEMAS: Final[Mapping[int, str]] = {
    200: "job-status.json",
    **{status: name for status, name in RESPONSE_SCHEMAS.items() if status >= 400},
}


def schema_for(endpoint: Endpoint, status: int) -> str | None:
    """The schema file for a status of an endpoint, or None when the status is not documented."""
    table = RESPONSE_SCHEMAS if endpoint == "try-on" else _JOB_SCHEMAS
    return table.get(status)


def answer_problem(endpoint: Endpoint, response: httpx.Response) -> str | None:
    """None when the answer's body (and 202 headers) match the schema for its status."""
    name = schema_for(endpoint, response.status_code)
    if name is None:
        return f"expected a documented status for {endpoint}, got {response.status_code}"
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        shown = response.text[:120]
        return f"expected a JSON body with status {response.status_code}, got {shown!r}"
    if (problem := validation_problem(name, body)) is not None:
        return f"status {response.status_code}: {problem}; body {json.dumps(body)[:300]}"
    if endpoint == "try-on" and response.status_code == 202:
        headers = {k.lower(): v for k, v in response.headers.items()}
        if (problem := validation_problem("try-on-accepted-headers.json", headers)) is not None:
            return f"status 202 headers: {problem}"
    return None

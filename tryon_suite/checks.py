"""Judging one answer against the schemas: which schema applies, and what is wrong with it."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

import httpx
from PIL import Image

from tryon_suite.contract import RESPONSE_SCHEMAS, validation_problem
from tryon_suite.errors import ContractViolation

__all__ = [
    "Endpoint",
    "answer_problem",
    "expect_documented",
    "expect_error",
    "expect_jpeg",
    "expect_status",
    "schema_for",
]

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
        return headers_problem(response)
    return None


def headers_problem(response: httpx.Response) -> str | None:
    """None when a 202's headers match try-on-accepted-headers.json (Location, that is)."""
    headers = {k.lower(): v for k, v in response.headers.items()}
    if (problem := validation_problem("try-on-accepted-headers.json", headers)) is not None:
        return f"status 202 headers: {problem}"
    return None


# -- assertions the contract suite makes; each names its clause -----------------------------


def _body_text(response: httpx.Response) -> str:
    return f"{response.status_code} {response.text[:300]!r}"


def expect_documented(
    response: httpx.Response, endpoint: Endpoint = "try-on", clause: str = "tryon.error.body_shape"
) -> Any:
    """The answer matches the schema for its status; returns the parsed body."""
    problem = answer_problem(endpoint, response)
    if problem is not None:
        raise ContractViolation(clause, "an answer that matches its documented schema", problem)
    return response.json()


def expect_status(
    response: httpx.Response, statuses: set[int], clause: str, schema_clause: str | None = None
) -> Any:
    """The status is one of `statuses` (else `clause` fails) and the body matches its schema
    (else `schema_clause` fails, by default the same); returns the body."""
    if response.status_code not in statuses:
        wanted = " or ".join(str(s) for s in sorted(statuses))
        raise ContractViolation(clause, f"status {wanted}", _body_text(response))
    return expect_documented(response, clause=schema_clause or clause)


def expect_error(response: httpx.Response, status: int, codes: Iterable[str], clause: str) -> str:
    """An error of `status` whose error_code is one of `codes`; returns the code."""
    allowed = sorted(set(codes))
    shown = allowed[0] if len(allowed) == 1 else "one of " + ", ".join(allowed)
    if response.status_code != status:
        raise ContractViolation(clause, f"{status} with error_code {shown}", _body_text(response))
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    code = body.get("error_code") if isinstance(body, dict) else None
    if code not in allowed:
        raise ContractViolation(
            clause, f"error_code {shown}", f"{code!r} in {_body_text(response)}"
        )
    expect_documented(response, clause="tryon.error.body_shape")
    return str(code)


def expect_jpeg(response: httpx.Response, clause: str = "tryon.result.jpeg") -> tuple[int, int]:
    """A 200 whose bytes decode as a JPEG; returns its size in pixels."""
    if response.status_code != 200:
        raise ContractViolation(clause, "200 with the result image", _body_text(response))
    try:
        with Image.open(io.BytesIO(response.content)) as image:
            fmt = image.format
            image.load()
            size = image.size
    except Exception as exc:  # any decoding failure is the finding
        raise ContractViolation(
            clause, "JPEG bytes", f"{len(response.content)} bytes Pillow cannot decode ({exc})"
        ) from None
    if fmt != "JPEG":
        raise ContractViolation(clause, "a JPEG", f"a {fmt} image")
    return size

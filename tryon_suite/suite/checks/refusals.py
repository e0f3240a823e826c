"""Checks on refusals: a request that is wrong on purpose gets the documented error, and a
job the caller may not see is not shown."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import httpx

from tryon_suite.errors import ContractViolation
from tryon_suite.http.client import exchange_of
from tryon_suite.suite.checks.answers import (
    FIRST_5XX,
    Endpoint,
    body_text,
    error_code,
    expect_documented,
    expect_no_5xx,
    json_or_none,
)
from tryon_suite.suite.evidence import held
from tryon_suite.suite.strategies import WRONG_TYPE, Violation

__all__ = [
    "ask_bad_input",
    "expect_code",
    "expect_content_type_refused",
    "expect_error",
    "expect_garment_mode_refused",
    "expect_missing_image",
    "expect_refusal",
    "expect_violation_refused",
]


def ask_bad_input(send: Callable[[], httpx.Response]) -> httpx.Response:
    """Send a request that is wrong on purpose with `send`; a 5xx is asked once more (the same
    request, once) before it is judged. API.md calls transient 5xx normal (retry them), and
    the client never sends a POST twice on its own. The repeat's answer is returned, the first
    5xx riding on it for `expect_no_5xx`, and the first exchange's note says so."""
    first = send()
    if first.status_code < 500:
        return first
    again = send()
    recorded = exchange_of(first)
    if recorded is not None:
        note = f"{first.status_code}, asked once more: {again.status_code}"
        recorded.note = f"{recorded.note}; {note}" if recorded.note else note
    again.extensions[FIRST_5XX] = first
    return again


def expect_error(
    response: httpx.Response,
    status: int,
    codes: Iterable[str],
    clause: str,
    endpoint: Endpoint = "try-on",
    *,
    part: str | None = None,
) -> str:
    """An error of `status` whose error_code is one of `codes`; returns the code (`part`: which
    part of the clause's claim it covers, clauses.yaml `evidence`).

    The request was a mistake on purpose, so a 5xx answer breaks NO_5XX first."""
    allowed = sorted(set(codes))
    shown = allowed[0] if len(allowed) == 1 else "one of " + ", ".join(allowed)
    expected = f"{status} with error_code {shown}"
    mistake = "a 4xx, not a 5xx, for a client's mistake" if status >= 400 else None
    expect_no_5xx(response, expected, held_as=mistake)
    if response.status_code != status:
        raise ContractViolation(clause, expected, body_text(response), response)
    code = error_code(response)
    if code not in allowed:
        raise ContractViolation(
            clause, f"error_code {shown}", f"{code!r} in {body_text(response)}", response
        )
    held(clause, expected, response, part=part)
    expect_documented(response, endpoint, clause="tryon.error.body_shape")
    if status == 400:
        held("tryon.400.body", "a 400 whose error_code is one of the nine", response)
    if status == 401:
        held("tryon.401.invalid_auth_token", "a 401 with invalid_auth_token", response)
    return str(code)


def expect_code(response: httpx.Response, code: str, wanted: str, clause: str, what: str) -> None:
    """Of the codes a refusal may fairly carry, `clause` calls for `wanted` on `what`."""
    if code != wanted:
        raise ContractViolation(clause, wanted, code, response)
    held(clause, f"{what}: {wanted}", response)


def expect_refusal(response: httpx.Response, clause: str, what: str) -> None:
    """A job the caller may not see is not shown: a 4xx, or a 200 that reveals nothing (status
    failed, no result_url: "no such job" said as a job). A 5xx is a server fault (NO_5XX);
    a status, result or error of a real job breaks `clause`. The refusal's form is open."""
    expected = f"a refusal for {what}"
    expect_no_5xx(response, expected, held_as=f"no 5xx for {what}")
    if 400 <= response.status_code < 500:
        held(clause, f"a 4xx for {what}", response)
        return
    body = json_or_none(response)
    if (
        response.status_code == 200
        and isinstance(body, dict)
        and body.get("status") == "failed"
        and body.get("result_url") is None
    ):
        held(clause, f"a 200 that reveals nothing for {what}", response)
        return
    raise ContractViolation(clause, expected, body_text(response), response)


def expect_content_type_refused(response: httpx.Response, content_type: str | None) -> None:
    """A body that is neither JSON nor multipart is refused as unsupported_content_type."""
    codes = {"unsupported_content_type"}
    if content_type is None:  # no Content-Type at all: an unreadable body is a fair reading too
        codes.add("invalid_request_body")
    expect_error(response, 400, codes, "tryon.400.unsupported_content_type")
    held("tryon.content_type.others_refused", f"Content-Type {content_type} refused", response)


def expect_missing_image(response: httpx.Response, image: str) -> None:
    """A body without the `image` (person or garment) image is missing_parameter."""
    expect_error(response, 400, {"missing_parameter"}, "tryon.400.missing_parameter")
    held(f"tryon.request.{image}_image_required", f"a body without the {image} image refused")


def expect_garment_mode_refused(response: httpx.Response, value: str) -> None:
    """A garment_mode outside the enum is refused; invalid_parameter, when it is the code,
    is evidence for that code too."""
    code = expect_error(
        response, 400, WRONG_TYPE, "tryon.request.garment_mode", part="another value refused"
    )
    if code == "invalid_parameter":
        held("tryon.400.invalid_parameter", f"garment_mode {value!r} got invalid_parameter")


def expect_violation_refused(response: httpx.Response, violation: Violation) -> None:
    """A body breaking one rule gets a code that rule calls for."""
    expect_error(response, 400, violation.codes, violation.clause)
    held("tryon.robustness.documented_error_on_bad_input", violation.rule, response)

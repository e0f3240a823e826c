"""Checks on acceptance: a valid try-on is answered 200 with a result when it waits and 202
with a job when it does not, and each success is evidence for what its body tried."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import httpx

from tryon_suite.errors import ContractViolation
from tryon_suite.http.client import TryOnRequest
from tryon_suite.spec.schemas import ERROR_400_CODES
from tryon_suite.suite.checks.answers import body_text, expect_status, headers_problem
from tryon_suite.suite.checks.refusals import expect_error
from tryon_suite.suite.evidence import held, not_checked

__all__ = [
    "expect_job_accepted",
    "expect_refused_now_or_accepted",
    "expect_result_answer",
    "expect_valid_body_accepted",
]

#: What a successful answer shows about the body that got it, by body kind.
_ACCEPTED: Final[Mapping[str, tuple[str, ...]]] = {
    "multipart": (
        "tryon.content_type.multipart",
        "tryon.request.person_image",
        "tryon.request.garment_image",
    ),
    "json": (
        "tryon.content_type.json",
        "tryon.request.person_image_url",
        "tryon.request.garment_image_url",
    ),
}


def expect_result_answer(
    response: httpx.Response, body: TryOnRequest, accepted: tuple[str, ...] = ()
) -> Any:
    """A waiting try-on of `body` is answered 200 with a result_url; returns the answer. A
    success is evidence for the body's kind and fields, and for `accepted` (what it tried)."""
    if response.status_code == 400 and "unsupported_content_type" in response.text:
        raise ContractViolation(
            f"tryon.content_type.{body.kind}",
            f"a {body.kind} body accepted",
            response.text[:200],
            response,
        )
    if response.status_code == 400 and "unknown_foreground" in response.text:
        # The fixtures are drawn figures: a real subject detector may fairly see none.
        not_checked(
            "the target saw no subject in the suite's drawn images (unknown_foreground)",
            scope="reading",
        )
    answer = expect_status(response, {200}, "tryon.200.when_waiting", "tryon.200.result_url")
    for clause in (*_ACCEPTED[body.kind], *accepted):
        # "clause#part": the part of that clause's claim the success covers
        cid, _, part = clause.partition("#")
        what = f"200 for a {body.kind} body with {sorted(body.fields)}"
        held(cid, what, response, part=part or None)
    return answer


def expect_valid_body_accepted(response: httpx.Response, waits: bool) -> None:
    """A generated body within every limit is accepted: 200 when it waits, 202 when not."""
    if waits:
        expect_status(response, {200}, "tryon.200.when_waiting", "tryon.200.result_url")
    else:
        expect_status(response, {202}, "tryon.202.when_not_waiting", "tryon.202.job_id")
    held("tryon.limits.within_limits_accepted", "a generated body within limits accepted", response)
    part = "true answered 200" if waits else "false answered 202"
    held("tryon.request.wait_for_result", f"wait_for_result {waits}", response, part=part)


def expect_job_accepted(response: httpx.Response) -> Any:
    """A try-on that does not wait is answered 202 with a job_id and a Location; returns the
    body. A bad Location is named before the status, so the failure says which rule broke."""
    if response.status_code == 202 and (problem := headers_problem(response)) is not None:
        raise ContractViolation("tryon.202.location", "a Location header", problem, response)
    body = expect_status(response, {202}, "tryon.202.when_not_waiting", "tryon.202.job_id")
    held(
        "tryon.request.wait_for_result",
        "wait_for_result false answered 202",
        response,
        part="false answered 202",
    )
    return body


def expect_refused_now_or_accepted(response: httpx.Response) -> str | None:
    """A try-on that does not wait is refused at once (returns the 400's code) or accepted
    with a 202 (returns None), whether its images are validated at once being open."""
    if response.status_code == 400:
        return expect_error(response, 400, ERROR_400_CODES, "tryon.400.body")
    if response.status_code != 202:
        raise ContractViolation(
            "tryon.202.when_not_waiting", "400 at once or 202", body_text(response), response
        )
    return None

"""Mutants that answer with the wrong status code, or one status for another's case."""

from __future__ import annotations

from typing import Final

from tryon_suite.mutants._kit import (
    Build,
    Mutant,
    error_code_renamed,
    filtered,
    is_try_on,
    variant,
    with_body,
)
from tryon_suite.simulator import params
from tryon_suite.simulator.core import SimRequest, SimResponse, Simulator


def _sync_201(request: SimRequest, response: SimResponse) -> SimResponse:
    if is_try_on(request) and response.status == 200:
        return SimResponse(201, response.headers, response.body)
    return response


class _IgnoresWait(Simulator):
    def waits(self, parsed: params.TryOnParams) -> bool:
        return True


def _status(old: int, new: int) -> Build:
    def rewrite(request: SimRequest, response: SimResponse) -> SimResponse:
        if response.status == old:
            return SimResponse(new, response.headers, response.body)
        return response

    return filtered(rewrite)


def _missing_key_403(request: SimRequest, response: SimResponse) -> SimResponse:
    if response.status == 401 and "x-api-key" not in request.headers:
        return with_body(
            response, {"error": "no credits", "error_code": "insufficient_api_credits"}, 403
        )
    return response


MUTANTS: Final = (
    Mutant(
        "sync_answers_201",
        "a waited try-on answers 201",
        ("tryon.200.when_waiting",),
        filtered(_sync_201),
    ),
    Mutant(
        "ignores_wait_false",
        "answers 200 when asked not to wait",
        ("tryon.202.when_not_waiting", "tryon.request.wait_for_result"),
        variant(_IgnoresWait),
    ),
    Mutant(
        "errors_answer_422",
        "input errors answer 422, not 400",
        ("tryon.400.body",),
        _status(400, 422),
    ),
    Mutant(
        "rate_limit_answers_503",
        "the rate limit answers 503, not 429",
        ("tryon.429.rate_limit_exceeded",),
        _status(429, 503),
        ("burst",),
    ),
    Mutant(
        "missing_key_answers_403",
        "no key answers 403 insufficient_api_credits",
        ("tryon.401.missing_key", "tryon.403.apart_from_401"),
        filtered(_missing_key_403),
    ),
    Mutant(
        "no_credits_answers_401",
        "no credits answers 401 invalid_auth_token",
        ("tryon.403.insufficient_api_credits", "tryon.403.apart_from_401"),
        error_code_renamed("insufficient_api_credits", "invalid_auth_token", 401),
        ("no_credits",),
    ),
)

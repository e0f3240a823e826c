"""Mutants that do not limit the rate, or answer a limited request badly."""

from __future__ import annotations

from typing import Final

from tryon_suite.mutants._kit import Build, Mutant, configured, filtered
from tryon_suite.simulator.core import SimRequest, SimResponse


def _retry_after(value: str, empty_body: bool = False) -> Build:
    def rewrite(request: SimRequest, response: SimResponse) -> SimResponse:
        if response.status != 429:
            return response
        headers = {**response.headers, "retry-after": value}
        return SimResponse(429, headers, b"" if empty_body else response.body)

    return filtered(rewrite)


MUTANTS: Final = (
    Mutant(
        "no_rate_limit",
        "no rate limit at all",
        ("tryon.429.rate_limit_exceeded",),
        configured(rate_limit=0.0),
        ("burst",),
    ),
    Mutant(
        "bad_retry_after",
        "Retry-After says 'soon'",
        ("tryon.429.retry_after_format",),
        _retry_after("soon"),
        ("burst",),
    ),
    Mutant(
        "dishonest_retry_after",
        "Retry-After says 0 s while the bucket is still empty",
        ("tryon.429.retry_after_honest",),
        _retry_after("0"),
        ("burst",),
        should_only=True,
    ),
    Mutant(
        "empty_429",
        "429 with an empty body",
        ("tryon.429.rate_limit_exceeded",),
        _retry_after("1", empty_body=True),
        ("burst",),
    ),
)

"""Checks on auth and the rate limit: 401 and 403 kept apart, 429 verified as behaviour."""

from __future__ import annotations

import email.utils
from collections.abc import Iterable
from datetime import datetime
from typing import Final

import httpx

from tryon_suite.errors import ContractViolation
from tryon_suite.http.retry import parse_retry_after
from tryon_suite.suite.checks.answers import body_text, expect_no_5xx
from tryon_suite.suite.checks.refusals import expect_error
from tryon_suite.suite.evidence import held, not_checked

__all__ = [
    "FAR_PAST_THE_LIMIT",
    "expect_key_found",
    "expect_missing_key_refused",
    "expect_other_account_not_limited",
    "expect_out_of_credits",
    "expect_paced_requests_pass",
    "expect_rate_limited",
    "expect_retry_after",
    "expect_retry_after_honest",
    "expect_wrong_key_refused",
]

#: the part of tryon.403.apart_from_401 a refused key shows (clauses.yaml `evidence`)
_KEY_401: Final = "a missing or wrong key: 401"
#: The rate (requests/s, a multiple of the documented 5/s) a burst must reach before "no 429"
#: says something about the limit rather than the network.
FAR_PAST_THE_LIMIT: Final = 4 * 5.0


def expect_missing_key_refused(response: httpx.Response) -> None:
    """A try-on without a key is a 401, not a 403: the key is read from X-API-KEY only."""
    expect_error(response, 401, {"invalid_auth_token"}, "tryon.401.missing_key")
    held("tryon.auth.api_key_header", "no X-API-KEY header: 401", response)
    held("tryon.403.apart_from_401", "no key: 401, not 403", response, part=_KEY_401)


def expect_wrong_key_refused(response: httpx.Response) -> None:
    """A try-on with a key no account has is a 401, not a 403."""
    expect_error(response, 401, {"invalid_auth_token"}, "tryon.401.wrong_key")
    held("tryon.403.apart_from_401", "a wrong key: 401, not 403", response, part=_KEY_401)


def expect_key_found(response: httpx.Response, name: str) -> None:
    """A bad body with the key under header `name` is refused for its body, not with a 401:
    header names are case-insensitive (RFC 9110), so the key was found."""
    expect_no_5xx(response, "a 4xx for a bad body")
    if response.status_code == 401:
        raise ContractViolation(
            "tryon.auth.header_name_case", f"the key found in {name}", "401", response
        )
    held(
        "tryon.auth.header_name_case",
        f"the key found in {name}",
        response,
        part=f"the key found in {name}",
    )
    held("tryon.auth.api_key_header", f"the key read from {name}", response)


def expect_out_of_credits(response: httpx.Response) -> None:
    """A valid key without credits is a 403, not a 401."""
    expect_error(response, 403, {"insufficient_api_credits"}, "tryon.403.insufficient_api_credits")
    held(
        "tryon.403.apart_from_401",
        "a valid key without credits: 403, not 401",
        response,
        part="a valid key without credits: 403",
    )


def expect_rate_limited(
    refused: httpx.Response | None,
    sent: int,
    rate: float,
    last: httpx.Response,
    *,
    counts_refusals: bool = False,
) -> None:
    """A burst of `sent` unpaced requests at `rate` per second met a 429 (`refused`; None
    when none came, `last` being the burst's last answer). A burst the network kept near the
    documented rate proves nothing either way. The burst's requests are refused for their body
    (free): whether a target counts such requests against its limit is open (it may judge the
    body first), so no 429 fails the clause only where the target is known to count them
    (`counts_refusals`: the suite's own simulator and its mutants)."""
    if refused is None:
        if rate < FAR_PAST_THE_LIMIT:
            not_checked(f"the burst reached only {rate:.1f} requests/s, no 429 came", scope="run")
        if not counts_refusals:
            not_checked(
                f"no 429 came to {sent} requests refused for their body at {rate:.0f}/s: a "
                "target may fairly judge a body before its limit, or count only try-ons it "
                "takes (which calls count is open); only a burst of paid try-ons could tell",
                scope="reading",
            )
        raise ContractViolation(
            "tryon.429.rate_limit_exceeded",
            f"a 429 within {sent} requests at {rate:.0f}/s (the documented limit: 5/s)",
            "none",
            last,
        )
    expect_error(refused, 429, {"rate_limit_exceeded"}, "tryon.429.rate_limit_exceeded")
    held("tryon.429.rate_limit_exceeded", f"429 after {sent} unpaced requests", refused)


def _date_of(response: httpx.Response) -> datetime | None:
    """The answer's own Date: an HTTP-date Retry-After is measured from the server's clock."""
    try:
        return email.utils.parsedate_to_datetime(response.headers.get("date", ""))
    except (TypeError, ValueError, IndexError):
        return None


def expect_other_account_not_limited(response: httpx.Response) -> None:
    """Right after the run key met a 429, another account's request is not refused for the
    rate limit: the limit is counted per account (API.md)."""
    clause = "tryon.rate_limit.accounts_apart"
    expected = "another account's request answered, not 429, while the run key is limited"
    if response.status_code == 429:
        raise ContractViolation(clause, expected, body_text(response), response)
    held(clause, expected, response)


def expect_retry_after(refused: httpx.Response) -> float:
    """The 429's Retry-After is seconds or an HTTP-date; returns how long to wait for the
    limit to have surely passed. A 429 without one (a fair reading) is not checked."""
    header = refused.headers.get("retry-after")
    if header is None:
        not_checked(
            "the 429 carried no Retry-After (a fair reading): nothing to hold to", scope="reading"
        )
    seconds = parse_retry_after(header, now=_date_of(refused))
    if seconds is None:
        raise ContractViolation(
            "tryon.429.retry_after_format", "seconds or an HTTP-date", repr(header), refused
        )
    held("tryon.429.retry_after_format", f"Retry-After {header!r}", refused)
    # An HTTP-date has whole seconds: waiting to it may fall up to a second short.
    return max(seconds, 0.0) + (0.05 if header.strip().isdigit() else 1.0)


def expect_retry_after_honest(again: httpx.Response, wait: float) -> None:
    """After waiting `wait` seconds, as Retry-After said, the same request is not a 429."""
    expected = f"no 429 after waiting {wait:g} s"
    if again.status_code == 429:
        raise ContractViolation("tryon.429.retry_after_honest", expected, "429 again", again)
    held("tryon.429.retry_after_honest", expected, again)


def expect_paced_requests_pass(responses: Iterable[httpx.Response], rate: float) -> None:
    """Requests paced at `rate` per second, under the limit, are not refused with 429.
    `responses` is read lazily, so a generator stops sending at the first 429."""
    clause = "tryon.rate_limit.paced_requests_pass"
    count, last = 0, None
    for last in responses:
        count += 1
        if last.status_code == 429:
            raise ContractViolation(clause, f"no 429 at {rate:g} requests/s", "429", last)
    held(clause, f"{count} paced requests, none answered 429", last)

"""Auth, credits and the rate limit: 401 and 403 kept apart, 429 verified as behaviour."""

from __future__ import annotations

import email.utils
from datetime import datetime

import httpx
import pytest

from contract.helpers import files, polling_body
from tryon_suite.checks import NO_5XX, expect_error, expect_status
from tryon_suite.client import TryOnClient, TryOnRequest
from tryon_suite.errors import ContractViolation
from tryon_suite.evidence import held, not_checked
from tryon_suite.jobs import location_of
from tryon_suite.retry import parse_retry_after
from tryon_suite.targets import Target

pytestmark = [pytest.mark.live]
WRONG_KEY = "tryon-suite-wrong-key-0000000000"
#: The most requests a burst sends, and the rate it must reach (a multiple of the documented
#: 5/s) before "no 429" says something about the limit rather than the network.
BURST = 40
FAR_PAST_THE_LIMIT = 4 * 5.0


@pytest.mark.clause(
    "tryon.401.missing_key",
    "tryon.401.invalid_auth_token",
    "tryon.auth.api_key_header",
    "tryon.403.apart_from_401",
)
def test_a_try_on_without_a_key_gets_401(client: TryOnClient, target: Target) -> None:
    response = client.try_on(TryOnRequest.multipart(files(target)), key=None)
    expect_error(response, 401, {"invalid_auth_token"}, "tryon.401.missing_key")
    held("tryon.auth.api_key_header", "no X-API-KEY header: 401", response)
    held("tryon.403.apart_from_401", "no key: 401, not 403", response)


@pytest.mark.clause(
    "tryon.401.wrong_key", "tryon.401.invalid_auth_token", "tryon.403.apart_from_401"
)
def test_a_try_on_with_a_wrong_key_gets_401(client: TryOnClient, target: Target) -> None:
    response = client.try_on(TryOnRequest.multipart(files(target)), key=WRONG_KEY)
    expect_error(response, 401, {"invalid_auth_token"}, "tryon.401.wrong_key")
    held("tryon.403.apart_from_401", "a wrong key: 401, not 403", response)


@pytest.mark.clause(
    "tryon.401.job_missing_key", "tryon.401.job_wrong_key", "tryon.401.invalid_auth_token"
)
@pytest.mark.spends_credits
def test_a_job_status_without_or_with_a_wrong_key_gets_401(
    client: TryOnClient, target: Target
) -> None:
    accepted = client.try_on(polling_body(target))
    expect_status(accepted, {202}, "tryon.202.when_not_waiting", "tryon.202.job_id")
    location = location_of(accepted)
    for key, clause in (
        (None, "tryon.401.job_missing_key"),
        (WRONG_KEY, "tryon.401.job_wrong_key"),
    ):
        response = client.job(location, key=key)
        expect_error(response, 401, {"invalid_auth_token"}, clause, endpoint="job")


@pytest.mark.clause("tryon.auth.header_name_case")
@pytest.mark.parametrize("name", ["X-API-Key", "x-api-key"])
def test_the_key_header_name_is_case_insensitive(
    client: TryOnClient, target: Target, name: str
) -> None:
    body = TryOnRequest.json(garment_mode="sideways")  # refused for its body, after auth
    keyless = client.send("POST", "/v1/try-on", key=None, body=body)
    if keyless.status_code != 401:
        # The body is judged before the key (check order is open): this body cannot tell
        # whether the header was found.
        not_checked(f"a bad body without a key got {keyless.status_code}, not 401")
    response = client.send("POST", "/v1/try-on", key=None, body=body, headers={name: client.key})
    if response.status_code >= 500:
        raise ContractViolation(NO_5XX, "a 4xx for a bad body", str(response.status_code), response)
    if response.status_code == 401:
        raise ContractViolation(
            "tryon.auth.header_name_case", f"the key found in {name}", "401", response
        )
    held("tryon.auth.header_name_case", f"the key found in {name}", response)
    held("tryon.auth.api_key_header", f"the key read from {name}", response)


@pytest.mark.clause("tryon.403.insufficient_api_credits", "tryon.403.apart_from_401")
def test_a_key_without_credits_gets_403(client: TryOnClient, target: Target) -> None:
    if target.no_credits_key is None:
        not_checked("needs a valid key with no credits (--tryon-no-credits-key)")
    for wait in (True, False):  # the rule holds on both paths: no credit, no job either
        body = TryOnRequest.multipart(files(target), wait_for_result=wait)
        response = client.try_on(body, key=target.no_credits_key)
        clause = "tryon.403.insufficient_api_credits"
        expect_error(response, 403, {"insufficient_api_credits"}, clause)
        held("tryon.403.apart_from_401", "a valid key without credits: 403, not 401", response)


@pytest.mark.clause("tryon.credits.failure_usually_free")
def test_whether_a_refused_request_costs_credits(
    client: TryOnClient, target: Target, observe
) -> None:
    before = client.credits()
    if before.status_code != 200:
        not_checked(f"GET /v1/credits answered {before.status_code}")
    client.try_on(TryOnRequest.json(garment_mode="sideways"))
    after = client.credits()
    observe(
        "tryon.credits.failure_usually_free",
        f"balance {before.text.strip()} -> {after.text.strip()} after a 400",
    )


@pytest.mark.clause(
    "tryon.429.rate_limit_exceeded",
    "tryon.429.retry_after_format",
    "tryon.429.retry_after_honest",
    "tryon.rate_limit.per_account",
    "tryon.error.code_fits_status",
    "tryon.open.retry_after",
)
def test_a_burst_past_the_rate_limit_gets_429_and_waiting_recovers(
    client: TryOnClient, target: Target, observe
) -> None:
    """A bounded burst of cheap refused requests, unpaced, stopping at the first 429."""
    if not target.allow_burst:
        not_checked("provoking 429 on purpose needs --tryon-allow-burst")
    body = TryOnRequest.json(garment_mode="sideways")  # 400 before any work: costs no credits
    refused, sent = None, 0
    started = target.now()
    while refused is None and sent < BURST:
        response = client.send("POST", "/v1/try-on", body=body, retry=False, pace=False)
        sent += 1
        if response.status_code == 429:
            refused = response
    if refused is None:
        elapsed = max(target.now() - started, 1e-9)
        rate = sent / elapsed
        observe("tryon.rate_limit.per_account", f"no 429 in {sent} requests at {rate:.0f}/s")
        if rate < FAR_PAST_THE_LIMIT:
            # The network kept the burst near the documented rate: it proves nothing.
            not_checked(f"the burst reached only {rate:.1f} requests/s, no 429 came")
        raise ContractViolation(
            "tryon.429.rate_limit_exceeded",
            f"a 429 within {BURST} requests at {rate:.0f}/s (the documented limit: 5/s)",
            "none",
            response,
        )
    observe("tryon.rate_limit.per_account", f"first 429 after {sent} unpaced requests")
    expect_error(refused, 429, {"rate_limit_exceeded"}, "tryon.429.rate_limit_exceeded")
    held("tryon.429.rate_limit_exceeded", f"429 after {sent} unpaced requests", refused)
    header = refused.headers.get("retry-after")
    observe("tryon.open.retry_after", _retry_after_form(header), refused)
    wait = 1.0
    if header is None:
        not_checked("the 429 carried no Retry-After (a fair reading): nothing to hold to")
    seconds = parse_retry_after(header, now=_date_of(refused))
    if seconds is None:
        raise ContractViolation(
            "tryon.429.retry_after_format", "seconds or an HTTP-date", repr(header), refused
        )
    held("tryon.429.retry_after_format", f"Retry-After {header!r}", refused)
    # An HTTP-date has whole seconds: waiting to it may fall up to a second short.
    wait = max(seconds, 0.0) + (0.05 if header.strip().isdigit() else 1.0)
    target.sleep(wait)
    again = client.send("POST", "/v1/try-on", body=body, retry=False, pace=False)
    if again.status_code == 429:
        raise ContractViolation(
            "tryon.429.retry_after_honest", f"no 429 after waiting {wait:g} s", "429 again", again
        )
    held("tryon.429.retry_after_honest", f"no 429 after waiting {wait:g} s", again)


def _retry_after_form(header: str | None) -> str:
    if header is None:
        return "no Retry-After"
    if header.strip().isdigit():
        return "Retry-After in seconds"
    return "Retry-After as an HTTP-date"


def _date_of(response: httpx.Response) -> datetime | None:
    """The answer's own Date: an HTTP-date Retry-After is measured from the server's clock."""
    try:
        return email.utils.parsedate_to_datetime(response.headers.get("date", ""))
    except (TypeError, ValueError, IndexError):
        return None


@pytest.mark.clause("tryon.rate_limit.paced_requests_pass")
def test_requests_paced_under_the_limit_are_not_refused(
    client: TryOnClient, target: Target
) -> None:
    body = TryOnRequest.json(garment_mode="sideways")
    target.sleep(2.0)  # let a burst before this test (and its penalty, if any) pass
    for _ in range(8):
        response = client.send("POST", "/v1/try-on", body=body, retry=False)
        if response.status_code == 429:
            raise ContractViolation(
                "tryon.rate_limit.paced_requests_pass",
                f"no 429 at {client.pacer.rate if client.pacer else 0:g} requests/s",
                "429",
                response,
            )
    held("tryon.rate_limit.paced_requests_pass", "8 paced requests, none answered 429", response)

"""Polling mode: 202 with a job id and a Location, states that only move forward, a result."""

from __future__ import annotations

import httpx
import pytest

from contract.helpers import answer_text, answer_value, expect_still_valid
from tryon_suite import (
    NO_5XX,
    ContractViolation,
    Target,
    TryOnClient,
    expect_job_accepted,
    expect_jpeg,
    expect_refusal,
    held,
    judge_job,
    location_of,
    not_checked,
    observed,
)

pytestmark = [pytest.mark.live, pytest.mark.spends_credits]
#: The sync purchase of the very images each job sends: what the target made of them waited on.
SYNC_TWIN = {"json": "json-lower", "multipart": "multipart-defaults"}


def _status(poll: httpx.Response) -> object:
    try:
        body = poll.json()
    except ValueError:
        return poll.status_code
    return body.get("status") if isinstance(body, dict) else poll.status_code


@pytest.mark.clause(
    "tryon.202.when_not_waiting",
    "tryon.202.job_id",
    "tryon.202.location",
    "tryon.202.location_names_the_job",
    "tryon.job.status_body",
    "tryon.job.same_job_id",
    "tryon.job.status_values",
    "tryon.job.forward_only",
    "tryon.job.final_states",
    "tryon.job.result_url_when_completed",
    "tryon.job.error_when_failed",
    "tryon.job.reaches_a_final_state",
    "tryon.result.jpeg",
    "tryon.result.valid_one_hour",
    "tryon.request.wait_for_result",
    "tryon.open.job_error_codes",
    "tryon.job.valid_input_completes",
)
@pytest.mark.purchases("job-json", "job-multipart", *SYNC_TWIN.values())
@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_a_polled_job_moves_forward_to_a_downloadable_jpeg(
    client: TryOnClient, target: Target, bought, kind: str
) -> None:
    """The job is a purchase, followed while the free checks ran; every poll is judged here."""
    sale = bought(f"job-{kind}")
    assert sale.response is not None
    body = expect_job_accepted(sale.response)
    job_id, location = str(body["job_id"]), location_of(sale.response)
    form = "absolute" if httpx.URL(location).is_absolute_url else "relative"
    shape = "absolute" if form == "absolute" else "path" if location.startswith("/") else "relative"
    observed(
        "tryon.open.location_form",
        f"{form}, e.g. {location.replace(job_id, '{job_id}')}",
        value={"location": shape},
    )
    twin = bought(SYNC_TWIN[kind]).response
    if sale.timed_out and twin is not None and twin.status_code == 200:
        # the very images got a result when waited on: a job of them that never ends has not
        # ended completed (a must), beyond the should that any job ends
        judge_job(job_id, location, sale.polls, target.poll)
        raise ContractViolation(
            "tryon.job.valid_input_completes",
            f"a completed job within {target.poll.timeout:g} s: the same images waited on "
            f"({SYNC_TWIN[kind]}) got a result",
            f"never ended: {[_status(p) for p in sale.polls][-6:]}",
            sale.polls[-1] if sale.polls else None,
        )
    trace = judge_job(
        job_id, location, sale.polls, target.poll, timed_out=sale.timed_out, must_end=True
    )
    extra = sorted(set(trace.last) - {"job_id", "status", "result_url", "error"})
    observed(
        "tryon.open.extra_response_fields",
        f"job status body: {extra or 'none beyond the documented'}",
        value={"job_body": extra},
    )
    if trace.final == "completed":
        held("tryon.job.valid_input_completes", "the job of valid images ended completed")
    if trace.final == "failed":
        code = trace.last.get("error", {}).get("error_code")
        observed("tryon.open.job_error_codes", str(code), value={"error_code": code})
        if twin is not None and twin.status_code == 200:
            raise ContractViolation(
                "tryon.job.valid_input_completes",
                f"a completed job: the same images waited on ({SYNC_TWIN[kind]}) got a result",
                f"failed with {trace.last.get('error')}",
            )
        not_checked(
            f"the job failed ({trace.last.get('error')}), so no result to download",
            scope="reading",
        )
    if sale.download is None:
        raise AssertionError(f"expected the purchase to have downloaded {trace.last}")
    expect_jpeg(sale.download)
    expect_still_valid(client, target, trace.last["result_url"], sale.result_seen_at)


@pytest.mark.clause(
    "tryon.job.other_account_hidden",
    "tryon.open.other_account_job",
    NO_5XX,
)
@pytest.mark.purchases("job-json")
def test_another_account_cannot_see_a_job(client: TryOnClient, target: Target, bought) -> None:
    """OWASP API1 (broken object-level authorization): a must, whatever the refusal's code."""
    if target.other_key is None:
        not_checked("needs a second account's key (--tryon-other-key)", scope="option")
    # Peek once the job is done (the purchase followed it to its end): a server may hide
    # running jobs and leak finished ones.
    sale = bought("job-json")
    assert sale.response is not None
    expect_job_accepted(sale.response)
    response = client.job(location_of(sale.response), key=target.other_key)
    observed(
        "tryon.open.other_account_job",
        answer_text(response),
        response,
        value=answer_value(response),
    )
    expect_refusal(response, "tryon.job.other_account_hidden", "another account's job")


@pytest.mark.clause("tryon.job.unknown_id", "tryon.open.unknown_job_id", NO_5XX)
def test_a_job_id_never_issued_is_not_answered_with_a_status(client: TryOnClient) -> None:
    response = client.job_by_id("00000000-0000-4000-8000-000000000000")
    observed(
        "tryon.open.unknown_job_id", answer_text(response), response, value=answer_value(response)
    )
    expect_refusal(response, "tryon.job.unknown_id", "a job id never issued")

"""Checks on jobs: every poll judged (its body, its id, a step only forward), and the job
reaching a final state."""

from __future__ import annotations

from typing import Any, Final

import httpx

from tryon_suite.errors import ContractViolation
from tryon_suite.http.polling import FINAL, JobTrace
from tryon_suite.suite.checks.answers import body_text, expect_documented
from tryon_suite.suite.evidence import held

__all__ = ["check_step", "expect_final_state", "judge_poll"]

_RANK: Final = {"pending": 0, "running": 1, "completed": 2, "failed": 2}


def check_step(
    previous: str | None, current: str, trace: list[str], response: httpx.Response | None = None
) -> None:
    """Raise when `current` goes back from `previous` (tryon.job.forward_only)."""
    if previous is None:
        return
    if previous in FINAL and current != previous:
        raise ContractViolation(
            "tryon.job.final_states",
            f"{previous} to stay {previous}",
            f"{current} after {trace}",
            response,
        )
    if _RANK[current] < _RANK[previous]:
        raise ContractViolation(
            "tryon.job.forward_only",
            f"no step back from {previous}",
            f"{current} after {trace}",
            response,
        )
    held("tryon.job.forward_only", f"no step back from {previous} (then {current})", response)
    if previous in FINAL:
        held("tryon.job.final_states", f"{previous} stays {previous} when polled again", response)


def _check_exactly_when(response: httpx.Response) -> None:
    """result_url exactly when completed, error exactly when failed: judged before the schema,
    so the failure names the rule that broke."""
    try:
        raw = response.json()
    except ValueError:
        return
    if not isinstance(raw, dict) or raw.get("status") not in _RANK:
        return
    for key, state, clause in (
        ("result_url", "completed", "tryon.job.result_url_when_completed"),
        ("error", "failed", "tryon.job.error_when_failed"),
    ):
        # A null field is an absent one (many serialisers write every field).
        if (raw["status"] == state) != (raw.get(key) is not None):
            raise ContractViolation(
                clause,
                f"{key} exactly when {state}",
                f"status {raw['status']}, keys {sorted(raw)}",
                response,
            )
        if raw["status"] == state:  # the half that needs the state seen; the other is cheap
            held(clause, f"{key} with status {state}", response)


def judge_poll(trace: JobTrace, response: httpx.Response) -> None:
    """A poll's answer: a 200 whose body matches job-status.json, names the job polled, and
    moves the job only forward."""
    if response.status_code != 200:
        # The first poll follows the 202's Location: failing there is the Location's fault.
        clause = "tryon.job.status_body" if trace.statuses else "tryon.202.location_names_the_job"
        raise ContractViolation(clause, "200 with the job's status", body_text(response), response)
    _check_exactly_when(response)
    body: dict[str, Any] = expect_documented(response, "job", clause="tryon.job.status_body")
    held("tryon.job.status_values", f"status {body['status']!r} is a documented one", response)
    if body.get("job_id") != trace.job_id:
        raise ContractViolation(
            "tryon.job.same_job_id", repr(trace.job_id), repr(body.get("job_id")), response
        )
    held("tryon.job.same_job_id", f"job_id {trace.job_id!r}", response)
    if not trace.statuses:
        held("tryon.202.location_names_the_job", "the Location answers the job's status", response)
    status = body["status"]
    check_step(trace.statuses[-1] if trace.statuses else None, status, trace.statuses, response)
    trace.statuses.append(status)
    trace.last = body


def expect_final_state(trace: JobTrace, timeout: float) -> None:
    """The job followed reached completed or failed before polling gave up after `timeout`."""
    if trace.timed_out:
        raise ContractViolation(
            "tryon.job.reaches_a_final_state",
            f"completed or failed within {timeout:g} s",
            f"{trace.statuses}",
        )
    held("tryon.job.reaches_a_final_state", f"{trace.final} after {trace.statuses}")

"""Following a polled job to its end, checking on every poll that it only moves forward."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from tryon_suite.checks import expect_documented
from tryon_suite.client import TRY_ON, TryOnClient
from tryon_suite.errors import ContractViolation
from tryon_suite.evidence import held
from tryon_suite.targets import Target

__all__ = ["FINAL", "JobTrace", "follow", "location_of", "poll_once"]

_RANK: Final = {"pending": 0, "running": 1, "completed": 2, "failed": 2}
FINAL: Final = frozenset({"completed", "failed"})


@dataclass
class JobTrace:
    """Every status a job showed, in order, and its last body."""

    job_id: str
    location: str
    statuses: list[str] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)
    timed_out: bool = False

    @property
    def final(self) -> str | None:
        return self.statuses[-1] if self.statuses and self.statuses[-1] in FINAL else None


def location_of(response: httpx.Response) -> str:
    """Where to poll a 202's job: its Location, else the documented path for its job_id."""
    location = response.headers.get("location")
    if location:
        return str(location)
    job_id = str(response.json()["job_id"])
    return f"{TRY_ON}/job/{job_id}"


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


def poll_once(client: TryOnClient, trace: JobTrace) -> dict[str, Any]:
    """One poll: the body must match job-status.json and name the job polled."""
    response = client.job(trace.location)
    if response.status_code != 200:
        # The first poll follows the 202's Location: failing there is the Location's fault.
        clause = "tryon.job.status_body" if trace.statuses else "tryon.202.location_names_the_job"
        raise ContractViolation(
            clause,
            "200 with the job's status",
            f"{response.status_code} {response.text[:300]!r}",
            response,
        )
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
    return body


def follow(
    client: TryOnClient, target: Target, job_id: str, location: str, extra: int = 0
) -> JobTrace:
    """Poll until the job is final (then `extra` more times, to see it stay), or time runs out."""
    trace = JobTrace(job_id, location)
    deadline = target.now() + target.poll_timeout
    interval = target.poll_interval
    while trace.final is None:
        poll_once(client, trace)
        if trace.final is not None:
            break
        if target.now() >= deadline:
            trace.timed_out = True
            return trace
        target.sleep(interval)
        interval = min(interval * 1.5, 5.0)
    held("tryon.job.reaches_a_final_state", f"{trace.final} after {trace.statuses}")
    for _ in range(extra):
        poll_once(client, trace)
    return trace

"""Following a polled job to its end, checking on every poll that it only moves forward."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from tryon_suite.checks import expect_documented
from tryon_suite.client import TryOnClient
from tryon_suite.errors import ContractViolation
from tryon_suite.targets import Target

__all__ = ["FINAL", "JobTrace", "follow"]

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


def check_step(previous: str | None, current: str, trace: list[str]) -> None:
    """Raise when `current` goes back from `previous` (tryon.job.forward_only)."""
    if previous is None:
        return
    if previous in FINAL and current != previous:
        raise ContractViolation(
            "tryon.job.final_states", f"{previous} to stay {previous}", f"{current} after {trace}"
        )
    if _RANK[current] < _RANK[previous]:
        raise ContractViolation(
            "tryon.job.forward_only", f"no step back from {previous}", f"{current} after {trace}"
        )


def _check_exactly_when(response: Any) -> None:
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
        if (raw["status"] == state) != (key in raw):
            raise ContractViolation(
                clause, f"{key} exactly when {state}", f"status {raw['status']}, keys {sorted(raw)}"
            )


def poll_once(client: TryOnClient, trace: JobTrace) -> dict[str, Any]:
    """One poll: the body must match job-status.json and name the job polled."""
    response = client.job(trace.location)
    if response.status_code != 200:
        # The first poll follows the 202's Location: failing there is the Location's fault.
        clause = "tryon.job.status_body" if trace.statuses else "tryon.202.location_names_the_job"
        raise ContractViolation(
            clause, "200 with the job's status", f"{response.status_code} {response.text[:300]!r}"
        )
    _check_exactly_when(response)
    body: dict[str, Any] = expect_documented(response, "job", clause="tryon.job.status_body")
    if body.get("job_id") != trace.job_id:
        raise ContractViolation(
            "tryon.job.same_job_id", repr(trace.job_id), repr(body.get("job_id"))
        )
    status = body["status"]
    check_step(trace.statuses[-1] if trace.statuses else None, status, trace.statuses)
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
    for _ in range(extra):
        poll_once(client, trace)
    return trace

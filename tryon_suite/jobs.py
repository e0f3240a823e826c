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


def poll_once(client: TryOnClient, trace: JobTrace) -> dict[str, Any]:
    """One poll: the body must match job-status.json and name the job polled."""
    response = client.job(trace.location)
    if response.status_code != 200:
        raise ContractViolation(
            "tryon.job.status_body",
            "200 with the job's status",
            f"{response.status_code} {response.text[:300]!r}",
        )
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

"""Following a job for the contract suite: every poll judged (`checks.jobs.judge_poll`), on the
client layer's one polling loop (`tryon_suite.http.polling`)."""

from __future__ import annotations

from typing import Any

import httpx

from tryon_suite.http.client import TryOnClient
from tryon_suite.http.polling import FINAL, JobTrace, PollPolicy, follow_job, location_of
from tryon_suite.suite.checks.jobs import expect_final_state, judge_poll

__all__ = ["FINAL", "JobTrace", "follow", "judge_job", "location_of", "poll_once"]


def poll_once(client: TryOnClient, trace: JobTrace) -> dict[str, Any]:
    """One poll of the job, judged."""
    response = client.job(trace.location)
    trace.polls += 1
    judge_poll(trace, response)
    return trace.last


def follow(
    client: TryOnClient,
    policy: PollPolicy,
    job_id: str,
    location: str,
    extra: int = 0,
    *,
    must_end: bool = False,
) -> JobTrace:
    """Poll until the job is final (then `extra` more times, to see it stay), or time runs
    out, judging every answer. A job still running then breaks tryon.job.reaches_a_final_state
    when it `must_end`; otherwise the caller only wanted to wait for it."""
    trace = follow_job(client, location, policy, job_id=job_id, judge=judge_poll)
    if trace.timed_out and not must_end:
        return trace
    expect_final_state(trace, policy.timeout)
    for _ in range(extra):
        poll_once(client, trace)
    return trace


def judge_job(
    job_id: str,
    location: str,
    polls: list[httpx.Response],
    policy: PollPolicy,
    *,
    timed_out: bool = False,
    must_end: bool = False,
) -> JobTrace:
    """Judge a job someone else followed (a purchase): every poll answer, in the order it
    came, as `follow` judges them while polling; then, when it `must_end`, its end."""
    trace = JobTrace(job_id, location)
    for response in polls:
        trace.polls += 1
        judge_poll(trace, response)
    trace.timed_out = timed_out
    if must_end or not timed_out:
        expect_final_state(trace, policy.timeout)
    return trace

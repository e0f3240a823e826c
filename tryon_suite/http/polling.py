"""Following a job to its end: the one polling loop of the suite and the load scenarios.

How often to poll is a `PollPolicy`; what to make of each answer is the caller's (the contract
suite checks every step, a load scenario only reads the status). Time comes from the client, so
a run on a virtual clock never waits and a Locust user yields to gevent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import httpx

from tryon_suite.errors import ConfigError
from tryon_suite.http.client import TryOnClient
from tryon_suite.http.request import JOB
from tryon_suite.http.retrying import LocallyThrottled

__all__ = ["FINAL", "JobTrace", "PollPolicy", "follow_job", "location_of", "read_status"]

FINAL: Final = frozenset({"completed", "failed"})


@dataclass(frozen=True)
class PollPolicy:
    """Wait `interval` between polls, growing by `growth` (1: fixed) up to `max_interval`;
    give up after `timeout` seconds. `wait_first` waits one interval before the first poll
    (a job is rarely done the moment it is accepted, and every poll is a request)."""

    interval: float = 1.0
    growth: float = 1.5
    max_interval: float = 5.0
    timeout: float = 120.0
    wait_first: bool = False

    def __post_init__(self) -> None:
        if self.interval < 0 or self.timeout < 0 or self.growth < 1 or self.max_interval < 0:
            raise ConfigError(
                "expected interval, max_interval and timeout >= 0 and growth >= 1, got "
                f"{self.interval}, {self.max_interval}, {self.timeout} and {self.growth}"
            )

    def after(self, interval: float) -> float:
        """The wait that follows a wait of `interval`."""
        return min(interval * self.growth, max(self.max_interval, self.interval))


@dataclass
class JobTrace:
    """Every status a job showed, in order, its last body, and how many polls it took."""

    job_id: str | None
    location: str
    statuses: list[str] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)
    timed_out: bool = False
    polls: int = 0

    @property
    def final(self) -> str | None:
        return self.statuses[-1] if self.statuses and self.statuses[-1] in FINAL else None


def location_of(response: httpx.Response) -> str:
    """Where to poll a 202's job: its Location, else the documented path for its job_id."""
    location = response.headers.get("location")
    if location:
        return str(location)
    return JOB.format(job_id=response.json()["job_id"])


def read_status(trace: JobTrace, response: httpx.Response) -> None:
    """The plain reading of a poll: a 200 with a status moves the trace; anything else (a 5xx,
    a body that is not JSON) leaves it where it was, to be polled again."""
    if response.status_code != 200:
        return
    try:
        body = response.json()
    except ValueError:
        return
    if isinstance(body, dict) and isinstance(body.get("status"), str):
        trace.statuses.append(body["status"])
        trace.last = body


def follow_job(
    client: TryOnClient,
    location: str,
    policy: PollPolicy,
    *,
    job_id: str | None = None,
    judge: Callable[[JobTrace, httpx.Response], None] = read_status,
    after_first_poll: Callable[[], None] | None = None,
) -> JobTrace:
    """Poll `location` until the job is final or `policy.timeout` passes; `judge` reads each
    answer into the trace (and may raise to stop). `after_first_poll`, if given, is the wait
    after the first poll instead of the policy's first interval."""
    trace = JobTrace(job_id, location)
    deadline = client.now() + policy.timeout
    interval = policy.interval
    if policy.wait_first:
        client.sleep(interval)
    while True:
        try:
            response: httpx.Response | None = client.job(location)
        except LocallyThrottled:
            # the client's own throttle kept this poll back: the job is still there, so poll
            # again later, as after a 429 its retries did not outlast
            response = None
        if response is not None:
            trace.polls += 1
            judge(trace, response)
        if trace.final is not None:
            return trace
        if client.now() >= deadline:
            trace.timed_out = True
            return trace
        if after_first_poll is not None:
            after_first_poll()
            after_first_poll = None
            continue
        client.sleep(interval)
        interval = policy.after(interval)

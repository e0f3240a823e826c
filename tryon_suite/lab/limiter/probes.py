"""The probes: free requests sent one by one, at once or paced, each recorded and counted
against the budget; the clock and the transport are given, so tests run on a virtual clock."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal

import httpx

from tryon_suite.http.client import JOB, TRY_ON
from tryon_suite.http.preflight import PROBE_BODY

__all__ = ["BudgetSpent", "Kind", "Probe", "Prober", "Unexpected"]

Kind = Literal["try-on", "poll"]


@dataclass(frozen=True)
class Probe:
    """One request: when it left (seconds into the run), how long it took, the answer."""

    phase: str
    kind: Kind
    sent: float
    took: float
    status: int
    retry_after: str | None
    #: the answer's Date header: a Retry-After date counts from it, so clock skew is moot
    date: str | None = None

    @property
    def limited(self) -> bool:
        return self.status == 429

    @property
    def mid(self) -> float:
        """When the target most likely saw it."""
        return self.sent + self.took / 2


class BudgetSpent(Exception):
    """The request budget is spent: what remains is not measured."""


class Unexpected(Exception):
    """An answer that is neither admitted nor 429 (401, 5xx, no answer): not measured."""


class Prober:
    """Sends the free probes, counts them against the budget and records each; `workers` 0
    sends one at a time on the caller's thread (the in-process, virtual-clock mode)."""

    def __init__(
        self,
        http: httpx.Client,
        now: Callable[[], float],
        sleep: Callable[[float], None],
        budget: int,
        workers: int = 16,
    ) -> None:
        self.http, self.now, self.sleep, self.budget = http, now, sleep, budget
        self.start = now()
        self.phase = ""
        self.probes: list[Probe] = []
        #: probes that got no answer (a transport error): the target stopped answering
        self.unanswered = 0
        self._sent = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(workers) if workers > 0 else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    @property
    def sent(self) -> int:
        return self._sent

    def _reserve(self) -> None:
        with self._lock:
            if self._sent >= self.budget:
                raise BudgetSpent
            self._sent += 1

    def _request(self, kind: Kind, phase: str) -> Probe:
        sent = self.now()
        try:
            if kind == "try-on":
                answer = self.http.post(TRY_ON, json=PROBE_BODY)
            else:
                answer = self.http.get(JOB.format(job_id=uuid.uuid4()))
        except httpx.HTTPError as exc:
            with self._lock:
                self.unanswered += 1
            raise Unexpected(f"{kind} got no answer ({type(exc).__name__})") from None
        probe = Probe(
            phase,
            kind,
            round(sent - self.start, 4),
            round(self.now() - sent, 4),
            answer.status_code,
            answer.headers.get("retry-after"),
            answer.headers.get("date"),
        )
        with self._lock:
            self.probes.append(probe)
        if answer.status_code == 401 or answer.status_code >= 500:
            raise Unexpected(f"a {kind} probe was answered {answer.status_code}")
        return probe

    def send(self, kind: Kind) -> Probe:
        """One probe, on this thread."""
        self._reserve()
        return self._request(kind, self.phase)

    def _submit(self, kind: Kind) -> Future[Probe]:
        self._reserve()
        if self._pool is not None:
            return self._pool.submit(self._request, kind, self.phase)
        done: Future[Probe] = Future()
        try:
            done.set_result(self._request(kind, self.phase))
        except Unexpected as exc:
            done.set_exception(exc)
        return done

    def _gather(self, futures: list[Future[Probe]]) -> list[Probe]:
        return [f.result() for f in futures]

    def wave(self, kind: Kind, n: int) -> list[Probe]:
        """`n` probes at once (back to back when sequential)."""
        futures: list[Future[Probe]] = []
        try:
            for _ in range(n):
                futures.append(self._submit(kind))
        finally:
            answers = self._gather(futures)
        return answers

    def paced(self, kind: Kind, rate: float, seconds: float) -> list[Probe]:
        """Probes at a fixed offered `rate` for `seconds`, each on its slot of the schedule."""
        futures: list[Future[Probe]] = []
        begin = self.now()
        try:
            for i in range(max(1, int(rate * seconds))):
                self.sleep(max(0.0, begin + i / rate - self.now()))
                futures.append(self._submit(kind))
        finally:
            answers = self._gather(futures)
        return answers

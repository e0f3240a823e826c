"""The load run's own measures, kept apart from Locust's request statistics.

Locust's statistics hold real HTTP requests only. What the suite measures about try-ons (time to
result per mode, results, how each try-on ended, polls per job) and about the limit (429s per
endpoint, Retry-After values, retries and give-ups per policy) lives here, in one `LoadMetrics`
per process: a worker ships what it gathered since its last report (`export`, the time-to-result
histograms HDR-encoded) and the master adds it (`merge`), so a distributed run has one set.

Every percentile is read from `Latency` (HDR histograms): the overall figures and the rolling
windows of the charts alike.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

from tryon_suite.http.retry import RetryDecision
from tryon_suite.load.latency import Latency

__all__ = ["IN_FLIGHT", "MODES", "RESULT", "UNFINISHED", "LoadMetrics", "Second"]

#: the two ways to get a result, in the order every table shows them
MODES: Final = ("sync", "polling")
#: how a try-on ended when it got its result
RESULT: Final = "result"
#: a try-on still waiting when the run ended: it counts against the run, as no result
UNFINISHED: Final = "unfinished at the end of the run"
#: requests in a row without an answer, at the end of a run, that say the target stopped
#: answering (one lost connection does not)
STOPPED_AFTER: Final = 5
#: a try-on still waiting while the run goes on (the web UI's live view): not judged yet
IN_FLIGHT: Final = "in flight"


@dataclass
class Second:
    """What happened in one second of the run (wall clock, whole seconds)."""

    started: Counter[str] = field(default_factory=Counter)
    results: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    #: times to result (s) of the try-ons that got one this second, per mode
    ttr: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    requests: int = 0
    #: requests that got no answer at all (no status: refused connection, reset, timeout)
    unanswered: int = 0
    rate_limited: int = 0
    users: int = 0

    def export(self) -> dict[str, Any]:
        return {
            "started": dict(self.started),
            "results": dict(self.results),
            "failed": dict(self.failed),
            "ttr": {mode: list(values) for mode, values in self.ttr.items()},
            "requests": self.requests,
            "unanswered": self.unanswered,
            "rate_limited": self.rate_limited,
            "users": self.users,
        }

    def merge(self, data: dict[str, Any]) -> None:
        self.started.update(data.get("started", {}))
        self.results.update(data.get("results", {}))
        self.failed.update(data.get("failed", {}))
        for mode, values in data.get("ttr", {}).items():
            self.ttr[mode].extend(values)
        self.requests += int(data.get("requests", 0))
        self.unanswered += int(data.get("unanswered", 0))
        self.rate_limited += int(data.get("rate_limited", 0))
        self.users = max(self.users, int(data.get("users", 0)))


class LoadMetrics:
    """One process's measures (or, on the master, every worker's merged)."""

    def __init__(self) -> None:
        self.ttr: dict[str, Latency] = defaultdict(Latency)
        #: how far behind its intended start a try-on went out (open workload only)
        self.lag: Latency = Latency()
        #: what the harness adds to a try-on of one request: its time to result minus
        #: Locust's own timing of that request (the client layer, the transport, the measures)
        self.harness: Latency = Latency()
        self.started: Counter[str] = Counter()
        #: per mode: how each try-on ended ("result", "gave up on 429", "job failed", ...)
        self.endings: dict[str, Counter[str]] = defaultdict(Counter)
        #: per mode: jobs by the number of polls they took
        self.polls: dict[str, Counter[int]] = defaultdict(Counter)
        self.requests: Counter[str] = Counter()
        self.request_failures: Counter[str] = Counter()
        self.rate_limited: Counter[str] = Counter()
        self.retry_after: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.give_ups: Counter[str] = Counter()
        self.seconds: dict[int, Second] = defaultdict(Second)

    # -- what the users report ------------------------------------------------------------

    def try_on_started(self, mode: str, when: float, lag: float | None = None) -> None:
        self.started[mode] += 1
        self.seconds[int(when)].started[mode] += 1
        if lag is not None:
            self.lag.record(lag)

    def try_on_ended(self, mode: str, when: float, ttr: float, ending: str) -> None:
        """`ttr`: seconds from the try-on's (intended) start; `ending`: RESULT or why not."""
        self.endings[mode][ending] += 1
        second = self.seconds[int(when)]
        if ending == RESULT:
            self.ttr[mode].record(ttr)
            second.results[mode] += 1
            second.ttr[mode].append(ttr)
        else:
            second.failed[mode] += 1

    def job_polled(self, mode: str, polls: int) -> None:
        self.polls[mode][polls] += 1

    def request(self, name: str, failed: bool, when: float, answered: bool = True) -> None:
        """A real HTTP request (Locust's request event): `name` as Locust shows it;
        `answered` false when it got no status at all."""
        self.requests[name] += 1
        if failed:
            self.request_failures[name] += 1
        self.seconds[int(when)].requests += 1
        if not answered:
            self.seconds[int(when)].unanswered += 1

    def answer(
        self,
        endpoint: str,
        status: int,
        retry_after: str | None,
        decision: RetryDecision | None,
        policy: str,
        when: float,
    ) -> None:
        """One answer the client layer got: its 429 and Retry-After, and whether the retry
        policy (`policy`, by kind) retried it or gave up."""
        if status == 429:
            self.rate_limited[endpoint] += 1
            self.seconds[int(when)].rate_limited += 1
            if retry_after is not None:
                self.retry_after[retry_after.strip()[:20]] += 1
        if decision is not None and decision.delay is not None:
            self.retries[policy] += 1
        elif decision is not None and decision.gave_up:
            self.give_ups[policy] += 1

    def users(self, count: int, when: float) -> None:
        second = self.seconds[int(when)]
        second.users = max(second.users, count)

    # -- derived ----------------------------------------------------------------------------

    def unfinished(self, mode: str) -> int:
        """Try-ons started that never ended (still waiting when the run stopped)."""
        return max(0, self.started[mode] - sum(self.endings[mode].values()))

    def endings_with_unfinished(self, mode: str, label: str = UNFINISHED) -> Counter[str]:
        """How the mode's try-ons ended, those not ended under `label`."""
        endings = Counter(self.endings[mode])
        if left := self.unfinished(mode):
            endings[label] = left
        return endings

    def stopped_answering(self, at_least: int = STOPPED_AFTER) -> int:
        """How many requests got no answer after the last second in which one was answered,
        when that is `at_least`: the target stopped answering mid-run (0 otherwise)."""
        answered = [s for s, b in self.seconds.items() if b.requests > b.unanswered]
        last = max(answered, default=-1)
        after = sum(b.unanswered for s, b in self.seconds.items() if s > last)
        return after if after >= at_least else 0

    # -- across processes -------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """What this process gathered since its last export, as plain data; then forgets it
        (a worker's report to the master)."""
        data = {
            "ttr": {mode: latency.encode() for mode, latency in self.ttr.items()},
            "lag": self.lag.encode(),
            "harness": self.harness.encode(),
            "started": dict(self.started),
            "endings": {mode: dict(endings) for mode, endings in self.endings.items()},
            "polls": {mode: {str(k): v for k, v in c.items()} for mode, c in self.polls.items()},
            "requests": dict(self.requests),
            "request_failures": dict(self.request_failures),
            "rate_limited": dict(self.rate_limited),
            "retry_after": dict(self.retry_after),
            "retries": dict(self.retries),
            "give_ups": dict(self.give_ups),
            "seconds": {str(s): second.export() for s, second in self.seconds.items()},
        }
        self.__dict__.update(LoadMetrics().__dict__)
        return data

    def merge(self, data: dict[str, Any]) -> None:
        """Add what another process exported."""
        for mode, encoded in data.get("ttr", {}).items():
            self.ttr[mode].add_encoded(encoded)
        if data.get("lag"):
            self.lag.add_encoded(data["lag"])
        if data.get("harness"):
            self.harness.add_encoded(data["harness"])
        self.started.update(data.get("started", {}))
        for mode, endings in data.get("endings", {}).items():
            self.endings[mode].update(endings)
        for mode, counts in data.get("polls", {}).items():
            self.polls[mode].update({int(k): v for k, v in counts.items()})
        for name in ("requests", "request_failures", "rate_limited", "retry_after"):
            getattr(self, name).update(data.get(name, {}))
        self.retries.update(data.get("retries", {}))
        self.give_ups.update(data.get("give_ups", {}))
        for second_text, part in data.get("seconds", {}).items():
            self.seconds[int(second_text)].merge(part)

    # -- over time ----------------------------------------------------------------------------

    def rows(self, window: int = 10) -> list[dict[str, Any]]:
        """One row a second from the first to the last (gaps filled), for the CSV and charts:
        counts of that second, and time-to-result percentiles over the trailing `window`
        seconds (enough results for a percentile that means something; None where the window
        holds none)."""
        if not self.seconds:
            return []
        first, last = min(self.seconds), max(self.seconds)
        rows = []
        for second in range(first, last + 1):
            bucket = self.seconds.get(second, Second())
            row: dict[str, Any] = {
                "t": second - first,
                "users": bucket.users,
                "requests": bucket.requests,
                "rate_limited": bucket.rate_limited,
            }
            for mode in MODES:
                latency = Latency()
                for earlier in range(max(first, second - window + 1), second + 1):
                    if earlier in self.seconds:
                        latency.extend(self.seconds[earlier].ttr.get(mode, ()))
                row[f"{mode}_started"] = bucket.started.get(mode, 0)
                row[f"{mode}_results"] = bucket.results.get(mode, 0)
                row[f"{mode}_failed"] = bucket.failed.get(mode, 0)
                row[f"{mode}_p50_s"] = latency.percentile(50) if latency.count else None
                row[f"{mode}_p95_s"] = latency.percentile(95) if latency.count else None
            rows.append(row)
        return rows

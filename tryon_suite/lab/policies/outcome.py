"""What one policy in one mode got from the trace: counts, time to result, round trips."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tryon_suite.http.retry import PolicyKind
from tryon_suite.lab.policies.settings import Mode
from tryon_suite.load.latency import Latency

__all__ = ["Outcome"]


@dataclass
class Outcome:
    """What one policy in one mode got from the trace."""

    policy: PolicyKind
    mode: Mode
    duration: float
    arrivals: int = 0
    results: int = 0
    #: results delivered while the trace was arriving (the goodput counts these)
    in_window: int = 0
    #: try-ons that ended without a result, by why: "gave up" (retries or budget spent),
    #: "throttled" (refused locally), "timed out" (the job outlasted the poll timeout),
    #: "refused" (another answer), "failed" (a failed job, no answer)
    give_ups: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    polls: int = 0
    limited: int = 0
    rejected_locally: int = 0
    paid: int = 0
    credits: int | None = None
    latency: Latency = field(default_factory=Latency)
    #: each request's round trip, send to answer: over HTTP, seconds here say the client or
    #: the server was short of CPU, and the policies were paced by that, not by the limit
    round_trip: Latency = field(default_factory=Latency)

    def __getstate__(self) -> dict[str, Any]:
        # a run done in a worker process comes back with its histograms encoded, exactly
        return {
            **self.__dict__,
            "latency": self.latency.encode(),
            "round_trip": self.round_trip.encode(),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        latency, round_trip = Latency(), Latency()
        latency.add_encoded(state.pop("latency"))
        round_trip.add_encoded(state.pop("round_trip"))
        self.__dict__.update(state, latency=latency, round_trip=round_trip)

    def give_up(self, why: str) -> None:
        self.give_ups[why] = self.give_ups.get(why, 0) + 1

    @property
    def gave_up(self) -> int:
        return sum(self.give_ups.values())

    @property
    def goodput(self) -> float:
        """Results per minute while the trace arrives: the steady rate. A backlog drained after
        the last arrival would flatter whoever built the longest queue, so it is not counted
        here (its results are, in `results`)."""
        return self.in_window * 60.0 / self.duration

    @property
    def requests_per_result(self) -> float:
        return self.sent / self.results if self.results else math.inf

    @property
    def credits_per_result(self) -> float:
        spent = self.credits if self.credits is not None else self.paid
        return spent / self.results if self.results else math.inf

    @property
    def limited_ratio(self) -> float:
        return self.limited / self.sent if self.sent else 0.0

    def row(self) -> dict[str, Any]:
        """The figures as the table, the JSON and the ranking read them."""

        def finite(x: float) -> float | None:
            return round(x, 3) if math.isfinite(x) else None

        return {
            "policy": self.policy,
            "mode": self.mode,
            "arrivals": self.arrivals,
            "results": self.results,
            "results_in_window": self.in_window,
            "goodput_per_min": round(self.goodput, 2),
            "requests": self.sent,
            "polls": self.polls,
            "requests_per_result": finite(self.requests_per_result),
            "credits": self.credits if self.credits is not None else self.paid,
            "credits_per_result": finite(self.credits_per_result),
            "ratio_429": round(self.limited_ratio, 3),
            **{f"{k}_s": v for k, v in self.latency.percentiles((50.0, 95.0, 99.0)).items()},
            "give_ups": self.gave_up,
            "give_ups_by_reason": dict(sorted(self.give_ups.items())),
            "rejected_locally": self.rejected_locally,
            "round_trip_p50_ms": round(self.round_trip.percentile(50.0) * 1000, 1),
            "round_trip_p99_ms": round(self.round_trip.percentile(99.0) * 1000, 1),
        }

"""What a load run measured, read from Locust's (aggregated) statistics and the run's own
timeline, and the thresholds.

Time-to-result percentiles come from the timeline's raw values through `metrics.percentile`,
the one definition the per-second charts use too (Locust's own rounds response times into
buckets, so its p95 can differ from ours).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tryon_suite.load.metrics import (
    CUSTOM_TYPES,
    GIVE_UP,
    POLLS,
    RATE_LIMITED,
    RESULT,
    RETRY,
    RETRY_AFTER,
    TTR,
    percentile,
)

__all__ = ["ModeFigures", "Summary", "Thresholds", "summarise"]


@dataclass
class ModeFigures:
    """One mode (sync or polling) on the quantities that compare them."""

    results: int = 0
    ttr_count: int = 0
    ttr_failures: int = 0
    ttr_p50_s: float = 0.0
    ttr_p95_s: float = 0.0
    ttr_p99_s: float = 0.0
    goodput_per_min: float = 0.0
    polls_per_job: float | None = None


@dataclass
class Summary:
    duration_s: float
    modes: dict[str, ModeFigures] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    rate_limited: dict[str, int] = field(default_factory=dict)
    retry_after_seen: dict[str, int] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)
    give_ups: dict[str, int] = field(default_factory=dict)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def ratio_429(self) -> float:
        total = self.total_requests
        return sum(self.rate_limited.values()) / total if total else 0.0

    @property
    def error_ratio(self) -> float:
        """Failed requests other than 429, over all requests."""
        total = self.total_requests
        errors = sum(self.failures.values()) - sum(self.rate_limited.values())
        return max(0, errors) / total if total else 0.0

    @property
    def goodput_per_min(self) -> float:
        return sum(m.goodput_per_min for m in self.modes.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "duration_s": round(self.duration_s, 1),
            "modes": {k: vars(v) for k, v in self.modes.items()},
            "requests": self.requests,
            "failures": self.failures,
            "rate_limited": self.rate_limited,
            "ratio_429": round(self.ratio_429, 4),
            "error_ratio": round(self.error_ratio, 4),
            "goodput_per_min": round(self.goodput_per_min, 2),
            "retry_after_seen": self.retry_after_seen,
            "retries": self.retries,
            "give_ups": self.give_ups,
        }


def summarise(entries: Any, duration_s: float, ttr_ms: Mapping[str, Sequence[float]]) -> Summary:
    """Read Locust's `stats.entries` ({(name, method): StatsEntry}) for the counts, and
    `ttr_ms` (each mode's times to result, ms) for the percentiles."""
    summary = Summary(duration_s=max(duration_s, 1e-9))
    minutes = summary.duration_s / 60
    for (name, method), entry in entries.items():
        if method == TTR:
            mode = summary.modes.setdefault(name, ModeFigures())
            mode.ttr_count = entry.num_requests - entry.num_failures
            mode.ttr_failures = entry.num_failures
            values = list(ttr_ms.get(name, ()))
            mode.ttr_p50_s = percentile(values, 0.50) / 1000
            mode.ttr_p95_s = percentile(values, 0.95) / 1000
            mode.ttr_p99_s = percentile(values, 0.99) / 1000
        elif method == RESULT:
            mode = summary.modes.setdefault(name, ModeFigures())
            mode.results = entry.num_requests
            mode.goodput_per_min = entry.num_requests / minutes
        elif method == POLLS:
            summary.modes.setdefault(name, ModeFigures()).polls_per_job = entry.avg_response_time
        elif method == RATE_LIMITED:
            summary.rate_limited[name] = entry.num_requests
        elif method == RETRY_AFTER:
            summary.retry_after_seen[name] = entry.num_requests
        elif method == RETRY:
            summary.retries[name] = entry.num_requests
        elif method == GIVE_UP:
            summary.give_ups[name] = entry.num_requests
        elif method not in CUSTOM_TYPES:
            summary.requests[name] = summary.requests.get(name, 0) + entry.num_requests
            summary.failures[name] = summary.failures.get(name, 0) + entry.num_failures
    return summary


@dataclass(frozen=True)
class Thresholds:
    """Limits a run must stay within for exit code 0; None means not checked."""

    max_p95_ttr_s: float | None = None
    max_429_ratio: float | None = None
    max_error_ratio: float | None = None
    min_goodput_per_min: float | None = None

    def broken(self, summary: Summary) -> list[str]:
        """One sentence per broken threshold, naming expected and measured."""
        out = []
        if self.max_p95_ttr_s is not None:
            for name, mode in sorted(summary.modes.items()):
                if mode.ttr_count and mode.ttr_p95_s > self.max_p95_ttr_s:
                    out.append(
                        f"p95 time_to_result ({name}): expected at most "
                        f"{self.max_p95_ttr_s:g} s, measured {mode.ttr_p95_s:.2f} s"
                    )
        if self.max_429_ratio is not None and summary.ratio_429 > self.max_429_ratio:
            out.append(
                f"429 ratio: expected at most {self.max_429_ratio:g}, "
                f"measured {summary.ratio_429:.3f}"
            )
        if self.max_error_ratio is not None and summary.error_ratio > self.max_error_ratio:
            out.append(
                f"error ratio: expected at most {self.max_error_ratio:g}, "
                f"measured {summary.error_ratio:.3f}"
            )
        if (
            self.min_goodput_per_min is not None
            and summary.goodput_per_min < self.min_goodput_per_min
        ):
            out.append(
                f"goodput: expected at least {self.min_goodput_per_min:g} results/min, "
                f"measured {summary.goodput_per_min:.1f}"
            )
        return out

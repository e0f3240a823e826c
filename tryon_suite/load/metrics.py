"""The load run's own metrics, bucketed per second so they merge across Locust workers.

Each custom metric is also fired as a Locust request event with its own `request_type`
(TTR, RESULT, POLLS, RATE_LIMITED, RETRY_AFTER, RETRY, GIVE_UP), so Locust's UI, CSV and
HTML show it and its distributed mode aggregates it; the timeline adds what Locust keeps only
for the aggregate: per-mode percentiles over time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Final

from tryon_suite.retry import RetryDecision

__all__ = [
    "CUSTOM_TYPES",
    "GIVE_UP",
    "POLLS",
    "RATE_LIMITED",
    "RESULT",
    "RETRY",
    "RETRY_AFTER",
    "TTR",
    "Timeline",
    "answer_metrics",
    "percentile",
]

#: time to result of one try-on, named by mode (sync, polling); a failure when none came
TTR: Final = "TTR"
#: one result image obtained, named by mode
RESULT: Final = "RESULT"
#: polls one job took, as its "response time", named by mode
POLLS: Final = "POLLS"
#: one 429 answer, named by endpoint
RATE_LIMITED: Final = "RATE_LIMITED"
#: one Retry-After value seen, named by the value
RETRY_AFTER: Final = "RETRY_AFTER"
#: one retry made, named by the policy
RETRY: Final = "RETRY"
#: one retryable answer given up on, named by the policy
GIVE_UP: Final = "GIVE_UP"
CUSTOM_TYPES: Final = frozenset({TTR, RESULT, POLLS, RATE_LIMITED, RETRY_AFTER, RETRY, GIVE_UP})


def answer_metrics(
    endpoint: str, status: int, retry_after: str | None, decision: RetryDecision | None, policy: str
) -> list[tuple[str, str]]:
    """The custom metrics (request_type, name) one answer adds: a 429 and its Retry-After, and
    whether the retry policy (`policy`, by kind) retried it or gave up."""
    found = []
    if status == 429:
        found.append((RATE_LIMITED, endpoint))
        if retry_after is not None:
            found.append((RETRY_AFTER, retry_after[:20]))
    if decision is not None and decision.delay is not None:
        found.append((RETRY, policy))
    elif decision is not None and decision.gave_up:
        found.append((GIVE_UP, policy))
    return found


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 < share <= 1); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, int(-(-share * len(ordered) // 1)))  # ceil without math
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class Second:
    """What happened in one second of the run."""

    ttr: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    results: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    rate_limited: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    requests: int = 0


class Timeline:
    """Per-second buckets; workers ship theirs to the master, which merges them."""

    def __init__(self) -> None:
        self.seconds: dict[int, Second] = defaultdict(Second)

    def on_request(
        self, request_type: str, name: str, response_time: float, exception: object, when: float
    ) -> None:
        bucket = self.seconds[int(when)]
        if request_type == TTR and exception is None:
            bucket.ttr[name].append(float(response_time))
        elif request_type == RESULT:
            bucket.results[name] += 1
        elif request_type == RATE_LIMITED:
            bucket.rate_limited[name] += 1
        elif request_type not in CUSTOM_TYPES:
            bucket.requests += 1

    def export(self) -> dict[str, Any]:
        """A plain-data copy (for report_to_master), and the buckets are emptied."""
        data = {
            str(second): {
                "ttr": {k: list(v) for k, v in bucket.ttr.items()},
                "results": dict(bucket.results),
                "rate_limited": dict(bucket.rate_limited),
                "requests": bucket.requests,
            }
            for second, bucket in self.seconds.items()
        }
        self.seconds.clear()
        return data

    def merge(self, data: dict[str, Any]) -> None:
        for second_text, part in data.items():
            bucket = self.seconds[int(second_text)]
            for mode, values in part["ttr"].items():
                bucket.ttr[mode].extend(values)
            for mode, count in part["results"].items():
                bucket.results[mode] += count
            for endpoint, count in part["rate_limited"].items():
                bucket.rate_limited[endpoint] += count
            bucket.requests += part["requests"]

    def ttr_ms(self) -> dict[str, list[float]]:
        """Every time to result of the run (ms), by mode."""
        found: dict[str, list[float]] = defaultdict(list)
        for bucket in self.seconds.values():
            for mode, values in bucket.ttr.items():
                found[mode].extend(values)
        return dict(found)

    def rows(self) -> list[dict[str, Any]]:
        """One row a second (relative to the first), for the CSV and the charts."""
        if not self.seconds:
            return []
        start = min(self.seconds)
        rows = []
        for second in sorted(self.seconds):
            bucket = self.seconds[second]
            row: dict[str, Any] = {"t": second - start, "requests": bucket.requests}
            for mode in ("sync", "polling"):
                values = bucket.ttr.get(mode, [])
                # no result that second: no point (a gap in the chart, an empty CSV cell)
                row[f"{mode}_p50_ms"] = round(percentile(values, 0.50), 1) if values else None
                row[f"{mode}_p95_ms"] = round(percentile(values, 0.95), 1) if values else None
                row[f"{mode}_results"] = bucket.results.get(mode, 0)
            row["rate_limited"] = sum(bucket.rate_limited.values())
            rows.append(row)
        return rows

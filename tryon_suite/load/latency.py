"""Latency as HDR histograms: the one percentile method of load runs, the policy lab and reports.

`hdrhistogram` keeps every value to three significant figures (a 2.345 s time to result is
2.345 s, not Locust's "2.3 s" bucket), in a fixed-size structure that merges exactly: a Locust
worker ships its histogram encoded, the master adds it. Values are recorded in microseconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from hdrh.histogram import HdrHistogram

__all__ = ["PERCENTILES", "Latency"]

#: microseconds: one microsecond to one day, three significant figures
_LOWEST: Final = 1
_HIGHEST: Final = 24 * 3600 * 1_000_000
_DIGITS: Final = 3
#: the percentiles every table shows
PERCENTILES: Final = (50.0, 90.0, 95.0, 99.0)


class Latency:
    """One histogram of durations in seconds; percentiles come back in seconds."""

    def __init__(self) -> None:
        self._histogram = HdrHistogram(_LOWEST, _HIGHEST, _DIGITS)

    def record(self, seconds: float) -> None:
        """Record one duration; a negative one (a clock that went back) counts as 0, and one past
        a day as a day, so no value is lost."""
        micros = round(seconds * 1_000_000)
        self._histogram.record_value(min(max(micros, _LOWEST), _HIGHEST))

    def extend(self, values: Iterable[float]) -> None:
        for value in values:
            self.record(value)

    @property
    def count(self) -> int:
        return int(self._histogram.get_total_count())

    def percentile(self, share: float) -> float:
        """The value at `share` percent (0 < share <= 100), in seconds; 0.0 when empty."""
        if not self.count:
            return 0.0
        return float(self._histogram.get_value_at_percentile(share)) / 1_000_000

    def percentiles(self, shares: Iterable[float] = PERCENTILES) -> dict[str, float]:
        """{"p50": seconds, ...}, to the microsecond (the values are kept to three figures)."""
        return {f"p{share:g}": round(self.percentile(share), 6) for share in shares}

    @property
    def max(self) -> float:
        return float(self._histogram.get_max_value()) / 1_000_000 if self.count else 0.0

    @property
    def mean(self) -> float:
        return float(self._histogram.get_mean_value()) / 1_000_000 if self.count else 0.0

    def cdf(self) -> list[tuple[float, float]]:
        """(seconds, share of values at or below it, 0..1) at each recorded value: the curve of
        the distribution chart."""
        total = self.count
        points = []
        seen = 0
        for item in self._histogram.get_recorded_iterator():
            seen += item.count_at_value_iterated_to
            points.append((item.value_iterated_to / 1_000_000, seen / total))
        return points

    def encode(self) -> str:
        """A compact text form (HdrHistogram's compressed base64), for a worker's report."""
        return bytes(self._histogram.encode()).decode("ascii")

    def add_encoded(self, encoded: str) -> None:
        """Add a histogram `encode` produced (another worker's): the merge is exact."""
        self._histogram.decode_and_add(encoded.encode("ascii"))

    def add(self, other: Latency) -> None:
        self._histogram.add(other._histogram)

    def reset(self) -> None:
        self._histogram.reset()

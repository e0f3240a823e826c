"""What a load run measured, read from the run's `LoadMetrics`, and the thresholds it is held to.

The thresholds have defaults a user would expect of a run worth calling good (most try-ons get a
result, in reasonable time, and most answers are not refusals); each is printed with its value
and the measured figure, and the verdict is theirs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final

from tryon_suite.load.latency import Latency
from tryon_suite.load.metrics import IN_FLIGHT, MODES, RESULT, UNFINISHED, LoadMetrics

__all__ = ["DEFAULT_THRESHOLDS", "ModeFigures", "Summary", "ThresholdCheck", "Thresholds"]


@dataclass
class ModeFigures:
    """One mode (sync or polling) on the quantities that compare them."""

    started: int = 0
    results: int = 0
    unfinished: int = 0
    #: still waiting while the run goes on (a live view): neither result nor failure yet
    in_flight: int = 0
    #: how the try-ons ended: "result", or why not ("unfinished at the end of the run", ...)
    endings: dict[str, int] = field(default_factory=dict)
    ttr_s: dict[str, float] = field(default_factory=dict)
    goodput_per_min: float = 0.0
    polls_per_job: float | None = None

    @property
    def without_result(self) -> int:
        return self.started - self.in_flight - self.results

    @property
    def result_ratio(self) -> float | None:
        ended = self.started - self.in_flight
        return self.results / ended if ended else None


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
    #: how late try-ons went out against their intended start (open workload), seconds
    lag_s: dict[str, float] = field(default_factory=dict)
    #: what the harness added to try-ons of one request, seconds
    harness_s: dict[str, float] = field(default_factory=dict)

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
    def started(self) -> int:
        return sum(m.started for m in self.modes.values())

    @property
    def results(self) -> int:
        return sum(m.results for m in self.modes.values())

    @property
    def ended(self) -> int:
        """Try-ons judged: at the end of a run, every one started."""
        return sum(m.started - m.in_flight for m in self.modes.values())

    @property
    def result_ratio(self) -> float | None:
        return self.results / self.ended if self.ended else None

    @property
    def goodput_per_min(self) -> float:
        return sum(m.goodput_per_min for m in self.modes.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "duration_s": round(self.duration_s, 1),
            "modes": {
                k: {**asdict(v), "result_ratio": v.result_ratio} for k, v in self.modes.items()
            },
            "started": self.started,
            "results": self.results,
            "result_ratio": self.result_ratio,
            "requests": self.requests,
            "total_requests": self.total_requests,
            "failures": self.failures,
            "rate_limited": self.rate_limited,
            "ratio_429": round(self.ratio_429, 4),
            "error_ratio": round(self.error_ratio, 4),
            "goodput_per_min": round(self.goodput_per_min, 2),
            "retry_after_seen": self.retry_after_seen,
            "retries": self.retries,
            "give_ups": self.give_ups,
            "lag_s": self.lag_s,
            "harness_s": self.harness_s,
        }


def _figures(latency: Latency) -> dict[str, float]:
    figures = latency.percentiles()
    figures["max"] = round(latency.max, 6)
    figures["mean"] = round(latency.mean, 6)
    return figures


def summarise(metrics: LoadMetrics, duration_s: float, *, running: bool = False) -> Summary:
    """The run's figures. At its end (`running` False) a try-on still waiting counts as
    started without result; while it runs (the web UI's live view) it is only in flight."""
    summary = Summary(duration_s=max(duration_s, 1e-9))
    minutes = summary.duration_s / 60
    for mode in sorted(set(metrics.started) | set(metrics.endings), key=_mode_order):
        endings = metrics.endings_with_unfinished(mode, IN_FLIGHT if running else UNFINISHED)
        left = metrics.unfinished(mode)
        figures = ModeFigures(
            started=metrics.started[mode],
            results=endings.get(RESULT, 0),
            unfinished=0 if running else left,
            in_flight=left if running else 0,
            endings=dict(endings.most_common()),
            ttr_s=_figures(metrics.ttr[mode]),
            goodput_per_min=round(endings.get(RESULT, 0) / minutes, 2),
        )
        if jobs := sum(metrics.polls[mode].values()):
            polls = sum(count * n for count, n in metrics.polls[mode].items())
            figures.polls_per_job = round(polls / jobs, 2)
        summary.modes[mode] = figures
    summary.requests = dict(metrics.requests)
    summary.failures = dict(metrics.request_failures)
    summary.rate_limited = dict(metrics.rate_limited)
    summary.retry_after_seen = dict(metrics.retry_after.most_common())
    summary.retries = dict(metrics.retries)
    summary.give_ups = dict(metrics.give_ups)
    if metrics.lag.count:
        summary.lag_s = _figures(metrics.lag)
    if metrics.harness.count:
        summary.harness_s = _figures(metrics.harness)
    return summary


def _mode_order(mode: str) -> tuple[int, str]:
    return (MODES.index(mode) if mode in MODES else len(MODES), mode)


@dataclass(frozen=True)
class ThresholdCheck:
    """One threshold against the run: `holds` is None when it is not set or nothing measured
    it (then `measured` says why)."""

    name: str
    option: str
    limit: str
    measured: str
    holds: bool | None

    @property
    def verdict(self) -> str:
        return {True: "holds", False: "BROKEN", None: "not checked"}[self.holds]

    def sentence(self) -> str:
        return f"{self.name}: expected {self.limit}, measured {self.measured}"


@dataclass(frozen=True)
class Thresholds:
    """Limits a run must stay within for exit code 0; None means not set (not checked)."""

    min_result_ratio: float | None = None
    max_p95_ttr_s: float | None = None
    max_429_ratio: float | None = None
    max_error_ratio: float | None = None
    min_goodput_per_min: float | None = None

    def checks(self, summary: Summary) -> list[ThresholdCheck]:
        """Every threshold, set or not, with its value and the measured figure."""
        out = [
            _ratio_check(
                "share of try-ons that got a result",
                "--tryon-min-result-ratio",
                self.min_result_ratio,
                summary.result_ratio,
                at_least=True,
                detail=f" ({summary.results} of {summary.ended})",
            )
        ]
        for mode in summary.modes or {"sync": ModeFigures()}:
            figures = summary.modes.get(mode, ModeFigures())
            out.append(
                _check(
                    f"p95 time_to_result ({mode})",
                    "--tryon-max-p95-ttr",
                    self.max_p95_ttr_s,
                    figures.ttr_s["p95"] if figures.results else None,
                    at_least=False,
                    shown=_p95(figures),
                    unit=" s",
                )
            )
        requests = summary.total_requests
        out.append(
            _ratio_check(
                "429 ratio",
                "--tryon-max-429-ratio",
                self.max_429_ratio,
                summary.ratio_429 if requests else None,
                at_least=False,
                detail=f" ({sum(summary.rate_limited.values())} of {requests} requests)",
            )
        )
        errors = max(0, sum(summary.failures.values()) - sum(summary.rate_limited.values()))
        out.append(
            _ratio_check(
                "error ratio (failed requests other than 429)",
                "--tryon-max-error-ratio",
                self.max_error_ratio,
                summary.error_ratio if requests else None,
                at_least=False,
                detail=f" ({errors} of {requests} requests)",
            )
        )
        goodput = summary.goodput_per_min
        out.append(
            _check(
                "goodput",
                "--tryon-min-goodput",
                self.min_goodput_per_min,
                goodput,
                at_least=True,
                shown=f"{goodput:.1f} results/min",
                unit=" results/min",
            )
        )
        return out

    def broken(self, summary: Summary) -> list[str]:
        """One sentence per broken threshold, naming expected and measured."""
        return [check.sentence() for check in self.checks(summary) if check.holds is False]


def _p95(figures: ModeFigures) -> str:
    return f"{figures.ttr_s['p95']:.3f} s" if figures.results else "no result"


def _ratio_check(
    name: str,
    option: str,
    limit: float | None,
    measured: float | None,
    *,
    at_least: bool,
    detail: str,
) -> ThresholdCheck:
    shown = "nothing to measure" if measured is None else f"{measured:.3f}{detail}"
    return _check(name, option, limit, measured, at_least=at_least, shown=shown)


def _check(
    name: str,
    option: str,
    limit: float | None,
    measured: float | None,
    *,
    at_least: bool,
    shown: str,
    unit: str = "",
) -> ThresholdCheck:
    """One threshold against its figure: not set, or nothing measured (`shown` says why), is
    not checked; else it holds or is broken."""
    if limit is None:
        return ThresholdCheck(name, option, "not set", shown, None)
    wanted = f"{'at least' if at_least else 'at most'} {limit:g}{unit}"
    if measured is None:
        return ThresholdCheck(name, option, wanted, shown, None)
    holds = measured >= limit if at_least else measured <= limit
    return ThresholdCheck(name, option, wanted, shown, holds)


#: What a user would expect of a good run when they set nothing: 95% of try-ons get a result
#: (one that never came counts against it), within a minute at p95, under a fifth of the
#: answers 429, and 5% of requests failing otherwise at most. Goodput depends on the traffic,
#: so it has no default.
DEFAULT_THRESHOLDS: Final = Thresholds(
    min_result_ratio=0.95,
    max_p95_ttr_s=60.0,
    max_429_ratio=0.2,
    max_error_ratio=0.05,
    min_goodput_per_min=None,
)

"""Ranking the policies of one mode: goodput first, then requests per result, ties shared."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from tryon_suite.lab.policies.outcome import Outcome

__all__ = ["NOISE_SIGMAS", "TOLERANCE", "rank", "rankings"]

#: Goodputs (and requests per result) closer than this share a rank, however many results
#: stand behind them.
TOLERANCE: Final = 0.05
#: ... and so do two figures whose difference is within this many standard deviations of the
#: counting noise of the results behind them (Poisson: a count n varies by sqrt(n)). A short
#: run rests on a few dozen results: five seeds of the same 30 s polling trace reshuffle ranks
#: 3 to 7 (bench/results/policies_rank.md), so a rank claims only what the counts can tell.
NOISE_SIGMAS: Final = 2.0


def rank(rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """(rank, policy) best first, for the rows of one mode: by goodput, then fewer requests
    per result, then p95. Goodputs within `TOLERANCE`, or within the counting noise of the
    results behind them, of the best of their tier count as equal (so requests per result
    decide between them); a policy whose requests per result is as close to the first of its
    rank shares that rank. p95 only orders within a rank: over real HTTP it is too noisy to
    separate two policies."""
    by_goodput = sorted(rows, key=lambda row: -row["goodput_per_min"])
    tiers: list[list[Mapping[str, Any]]] = []
    for row in by_goodput:
        leader = tiers[-1][0] if tiers else None
        if leader is not None and _same_goodput(leader, row):
            tiers[-1].append(row)
        else:
            tiers.append([row])
    ranked: list[tuple[int, str]] = []
    for tier in tiers:
        first: Mapping[str, Any] | None = None
        number = 0
        for row in sorted(tier, key=lambda r: (_rpr(r), r["p95_s"])):
            if first is None or not _same_cost(first, row):
                first, number = row, len(ranked) + 1
            ranked.append((number, row["policy"]))
    return ranked


def _noise(*counts: int | None) -> float:
    """The relative counting noise of a ratio between the figures behind `counts` results
    (NOISE_SIGMAS standard deviations); 0 when the counts are not known."""
    if any(c is None for c in counts):
        return 0.0
    return NOISE_SIGMAS * math.sqrt(sum(1.0 / max(1, c) for c in counts if c is not None))


def _same_goodput(leader: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    """Goodputs within TOLERANCE, or within the counting noise of the results in the window."""
    tolerance = max(
        TOLERANCE, _noise(leader.get("results_in_window"), row.get("results_in_window"))
    )
    return _near(leader["goodput_per_min"], row["goodput_per_min"], tolerance)


def _same_cost(first: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    """Requests per result within TOLERANCE, or within the counting noise of the results."""
    tolerance = max(TOLERANCE, _noise(first.get("results"), row.get("results")))
    return _near(_rpr(first), _rpr(row), tolerance)


def _rpr(row: Mapping[str, Any]) -> float:
    value = row["requests_per_result"]
    return math.inf if value is None else float(value)


def _near(x: float, y: float, tolerance: float) -> bool:
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= tolerance * max(abs(x), abs(y), 1e-9)


def rankings(outcomes: Sequence[Outcome]) -> dict[str, list[tuple[int, str]]]:
    """The ranking of each mode run."""
    rows = [o.row() for o in outcomes]
    modes = dict.fromkeys(o.mode for o in outcomes)
    return {mode: rank([r for r in rows if r["mode"] == mode]) for mode in modes}

"""Ranking the policies of one mode: goodput first, then requests per result, ties shared."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from tryon_suite.policylab.outcome import Outcome

__all__ = ["TOLERANCE", "rank", "rankings"]

#: Goodputs (and requests per result) closer than this share a rank: noise over real HTTP
#: cannot then flip a tie.
TOLERANCE: Final = 0.05


def rank(rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """(rank, policy) best first, for the rows of one mode: by goodput, then fewer requests
    per result, then p95, where goodputs within `TOLERANCE` of the best of their tier count as
    equal (so requests per result decide between them), and a policy whose requests per result
    is also within `TOLERANCE` of the first of its rank shares that rank. p95 only orders
    within a rank: over real HTTP it is too noisy to separate two policies."""
    by_goodput = sorted(rows, key=lambda row: -row["goodput_per_min"])
    tiers: list[list[Mapping[str, Any]]] = []
    for row in by_goodput:
        if tiers and _near(tiers[-1][0]["goodput_per_min"], row["goodput_per_min"]):
            tiers[-1].append(row)
        else:
            tiers.append([row])
    ranked: list[tuple[int, str]] = []
    for tier in tiers:
        leader: Mapping[str, Any] | None = None
        number = 0
        for row in sorted(tier, key=lambda r: (_rpr(r), r["p95_s"])):
            if leader is None or not _near(_rpr(leader), _rpr(row)):
                leader, number = row, len(ranked) + 1
            ranked.append((number, row["policy"]))
    return ranked


def _rpr(row: Mapping[str, Any]) -> float:
    value = row["requests_per_result"]
    return math.inf if value is None else float(value)


def _near(x: float, y: float) -> bool:
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= TOLERANCE * max(abs(x), abs(y), 1e-9)


def rankings(outcomes: Sequence[Outcome]) -> dict[str, list[tuple[int, str]]]:
    """The ranking of each mode run."""
    rows = [o.row() for o in outcomes]
    modes = dict.fromkeys(o.mode for o in outcomes)
    return {mode: rank([r for r in rows if r["mode"] == mode]) for mode in modes}

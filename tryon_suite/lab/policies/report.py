"""What the lab shows: the console table, the verdict line, policies.html (charts) and .json."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from tryon_suite.lab.policies.outcome import Outcome
from tryon_suite.lab.policies.ranking import TOLERANCE, rankings
from tryon_suite.lab.policies.settings import LabSettings
from tryon_suite.report.charts import data_uri, pyplot

__all__ = ["table", "verdict", "write_report"]

_COLUMNS: Final = (
    ("policy", "policy", "{}"),
    ("mode", "mode", "{}"),
    ("arrivals", "arrivals", "{}"),
    ("results", "results", "{}"),
    ("goodput_per_min", "results/min", "{:.1f}"),
    ("requests_per_result", "req/result", "{:.2f}"),
    ("credits_per_result", "credits/result", "{:.2f}"),
    ("ratio_429", "429 ratio", "{:.1%}"),
    ("p50_s", "p50 s", "{:.2f}"),
    ("p95_s", "p95 s", "{:.2f}"),
    ("p99_s", "p99 s", "{:.2f}"),
    ("give_ups", "give-ups", "{}"),
    ("rejected_locally", "local rejections", "{}"),
    ("round_trip_p50_ms", "rtt p50 ms", "{:.1f}"),
)


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The console table, one line per policy and mode."""
    cells = [[head for _, head, _ in _COLUMNS]]
    for row in rows:
        cells.append(["-" if row[k] is None else form.format(row[k]) for k, _, form in _COLUMNS])
    widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in cells
    )


def verdict(ranked: Mapping[str, list[tuple[int, str]]]) -> str:
    """One line: the best policy (or policies sharing the first rank) of each mode."""
    parts = []
    for mode, order in ranked.items():
        best = [policy for number, policy in order if number == 1]
        parts.append(f"{mode}: {' = '.join(best)}")
    return "best policy per mode: " + "; ".join(parts)


def _charts(outcomes: Sequence[Outcome]) -> list[str]:
    plt = pyplot()
    charts = []
    modes = list(dict.fromkeys(o.mode for o in outcomes))
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.4), dpi=100)
    for mode, offset in zip(modes, (-0.2, 0.2), strict=False):
        mine = [o for o in outcomes if o.mode == mode]
        xs = [i + offset for i in range(len(mine))]
        axes[0].bar(xs, [o.goodput for o in mine], width=0.4, label=mode)
        rpr = [o.requests_per_result if math.isfinite(o.requests_per_result) else 0 for o in mine]
        axes[1].bar(xs, rpr, width=0.4, label=mode)
        for ax in axes:
            ax.set_xticks(range(len(mine)), [o.policy for o in mine], rotation=30, fontsize=8)
    axes[0].set_title("goodput (results per minute)")
    axes[1].set_title("amplification (requests per result)")
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    charts.append(data_uri(figure))
    for mode in modes:
        figure, ax = plt.subplots(figsize=(10, 3.4), dpi=100)
        for o in outcomes:
            if o.mode == mode and o.latency.count:
                points = o.latency.cdf()
                share = o.results / o.arrivals if o.arrivals else 0.0
                # a share of the trace, not of the results: give-ups keep the curve below 1
                ax.step([p[0] for p in points], [p[1] * share for p in points], label=o.policy)
        ax.set_xlabel("time to result, seconds from arrival")
        ax.set_ylabel("share of try-ons")
        ax.set_title(f"time to result, {mode} (a give-up never arrives)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        charts.append(data_uri(figure))
    return charts


def write_report(
    outcomes: Sequence[Outcome], settings: LabSettings, folder: Path, wall: float
) -> Path:
    """reports/policies.html and policies.json, then the folder's index."""
    from tryon_suite.load.report import write_index
    from tryon_suite.report.pages import environment

    folder.mkdir(parents=True, exist_ok=True)
    ranked = rankings(outcomes)
    data = {
        "kind": "policies",
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "verdict": verdict(ranked),
        "ok": True,
        "html": "policies.html",
        "target": settings.host or "in-process simulator (virtual time)",
        "settings": _settings(settings),
        "wall_s": round(wall, 1),
        "tolerance": TOLERANCE,
        "rows": [o.row() for o in outcomes],
        "ranking": {mode: [{"rank": n, "policy": p} for n, p in r] for mode, r in ranked.items()},
    }
    (folder / "policies.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    html = (
        environment().get_template("policies.html.j2").render(report=data, charts=_charts(outcomes))
    )
    path = folder / "policies.html"
    path.write_text(html, encoding="utf-8")
    write_index(folder)
    return path


def _settings(settings: LabSettings) -> dict[str, Any]:
    return {
        "rate": settings.rate,
        "duration_s": settings.duration,
        "seed": settings.seed,
        "modes": list(settings.modes),
        "policies": list(settings.policies),
        "max_retries": settings.max_retries,
        "processing_time_s": settings.processing_time,
        "rate_limit": settings.rate_limit if settings.host is None else "the target's",
        "latency_ms": settings.latency * 1000 if settings.host is None else "the target's",
        "poll": f"every {settings.poll.interval:g} s growing x{settings.poll.growth:g} to "
        f"{settings.poll.max_interval:g} s, timeout {settings.poll.timeout:g} s",
        "keys": len(settings.keys) if settings.host else 1,
    }

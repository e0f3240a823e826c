"""The load report: charts drawn with matplotlib, laid out by a Jinja2 template, one file.

`write_index` (the dashboard, `tryon_suite.report.index`) is re-exported: every run's writer
refreshes it after writing its own report."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tryon_suite.load.console import measures_csv
from tryon_suite.load.latency import Latency
from tryon_suite.load.metrics import MODES
from tryon_suite.load.summary import Summary, ThresholdCheck
from tryon_suite.report.charts import data_uri, pyplot
from tryon_suite.report.index import finished_now, write_index

__all__ = ["write_index", "write_load_report"]

#: one colour per mode, the same on every chart
_COLOURS = {"sync": "#1f77b4", "polling": "#d62728"}


def _figure(rows: int = 1, height: float = 3.2) -> tuple[Any, Any]:
    return pyplot().subplots(  # type: ignore[no-any-return]
        rows, 1, figsize=(8.5, height), dpi=100, sharex=rows > 1, squeeze=False
    )


def _gaps(values: list[Any]) -> list[float]:
    """None (no data that second) as NaN: a gap in the line, never a false zero."""
    return [math.nan if v is None else float(v) for v in values]


def _rolling(values: list[float], window: int) -> list[float]:
    """Per-second counts as a rate averaged over the trailing `window` seconds."""
    out = []
    for i in range(len(values)):
        part = values[max(0, i - window + 1) : i + 1]
        out.append(sum(part) / len(part))
    return out


def chart_distribution(ttr: Mapping[str, Latency], p95_limit: float | None) -> str:
    """time_to_result as a cumulative distribution, sync and polling on one chart."""
    figure, axes = _figure()
    ax = axes[0][0]
    for mode in MODES:
        latency = ttr.get(mode)
        if latency is None or not latency.count:
            continue
        points = latency.cdf()
        ax.step(
            [p[0] for p in points],
            [p[1] * 100 for p in points],
            where="post",
            label=f"{mode} ({latency.count} results)",
            color=_COLOURS[mode],
            linewidth=1.8,
        )
    if p95_limit is not None:
        ax.axvline(p95_limit, color="#b42318", linestyle="--", linewidth=1.2)
        ax.text(p95_limit, 3, " p95 threshold", color="#b42318", fontsize=8)
    ax.axhline(95, color="#98a2b3", linestyle=":", linewidth=1)
    ax.set_xlabel("time_to_result (s)")
    ax.set_ylabel("% of results at or below")
    ax.set_ylim(0, 101)
    ax.set_title("Distribution of time_to_result: sync versus polling")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right", fontsize=8)
    return data_uri(figure)


def chart_percentiles(rows: list[dict[str, Any]], window: int, p95_limit: float | None) -> str:
    """Rolling p50 and p95 per mode over the run, with the p95 threshold drawn."""
    figure, axes = _figure()
    ax = axes[0][0]
    xs = [row["t"] for row in rows]
    for mode in MODES:
        for q, style in (("p50", ":"), ("p95", "-")):
            ys = _gaps([row[f"{mode}_{q}_s"] for row in rows])
            if all(math.isnan(y) for y in ys):
                continue
            ax.plot(xs, ys, style, color=_COLOURS[mode], label=f"{mode} {q}", linewidth=1.6)
    ax.set_ylim(bottom=0)
    if p95_limit is not None:
        top = ax.get_ylim()[1]
        if p95_limit <= top * 1.5:
            ax.axhline(
                p95_limit, color="#b42318", linestyle="--", linewidth=1.2, label="p95 threshold"
            )
            ax.set_ylim(top=max(top, p95_limit * 1.1))
        else:  # far above the data: named, not drawn, so the lines keep their detail
            ax.text(
                0.99,
                0.97,
                f"p95 threshold {p95_limit:g} s: above this scale",
                transform=ax.transAxes,
                ha="right",
                va="top",
                color="#b42318",
                fontsize=8,
            )
    ax.set_xlabel("seconds into the run")
    ax.set_ylabel("time_to_result (s)")
    ax.set_title(f"time_to_result percentiles over the trailing {window} s")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=8, ncol=3)
    return data_uri(figure)


def chart_goodput(rows: list[dict[str, Any]], smooth: int) -> str:
    """Goodput per mode above, 429s below: two axes, so neither flattens the other."""
    figure, axes = _figure(2, 4.6)
    top, bottom = axes[0][0], axes[1][0]
    xs = [row["t"] for row in rows]
    for mode in MODES:
        results = [float(row[f"{mode}_results"]) for row in rows]
        if sum(results) or sum(row[f"{mode}_started"] for row in rows):
            top.plot(
                xs,
                _rolling(results, smooth),
                color=_COLOURS[mode],
                label=f"{mode} results/s",
                linewidth=1.6,
            )
    top.set_ylabel("results/s")
    top.set_title(f"Goodput and 429s ({smooth} s average)")
    top.set_ylim(bottom=0)
    top.grid(alpha=0.3)
    if top.get_legend_handles_labels()[0]:
        top.legend(loc="upper left", fontsize=8)
    limited = _rolling([float(row["rate_limited"]) for row in rows], smooth)
    requests = _rolling([float(row["requests"]) for row in rows], smooth)
    bottom.plot(xs, requests, color="#667085", label="requests/s", linewidth=1.2)
    bottom.plot(xs, limited, color="#b54708", label="429 answers/s", linewidth=1.6)
    bottom.set_ylabel("per second")
    bottom.set_xlabel("seconds into the run")
    bottom.set_ylim(bottom=0)
    bottom.grid(alpha=0.3)
    bottom.legend(loc="upper left", fontsize=8)
    return data_uri(figure)


def chart_load(rows: list[dict[str, Any]], smooth: int) -> str:
    """Users (left axis) and the offered rate, try-ons started per second (right axis)."""
    figure, axes = _figure()
    ax = axes[0][0]
    xs = [row["t"] for row in rows]
    ax.step(xs, [row["users"] for row in rows], where="post", color="#344054", label="users")
    ax.set_ylabel("users")
    ax.set_xlabel("seconds into the run")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    right = ax.twinx()
    offered = _rolling([float(sum(row[f"{m}_started"] for m in MODES)) for row in rows], smooth)
    right.plot(xs, offered, color="#7a5af8", label=f"try-ons started/s ({smooth} s average)")
    right.set_ylabel("try-ons started/s")
    right.set_ylim(bottom=0)
    handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + right.get_legend_handles_labels()[1]
    ax.legend(handles, labels, loc="upper left", fontsize=8)
    ax.set_title("Users and offered load")
    return data_uri(figure)


def write_load_report(
    summary: Summary,
    rows: list[dict[str, Any]],
    folder: Path,
    *,
    target: str,
    settings: dict[str, Any],
    checks: list[ThresholdCheck],
    verdict_lines: list[str],
    ok: bool,
    ttr: Mapping[str, Latency],
    p95_limit: float | None = None,
    window: int = 10,
) -> Path:
    """Write load.html, load.json, load_timeline.csv and load_measures.csv; then the index.
    Returns the HTML path."""
    from tryon_suite.report.pages import environment

    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "load_timeline.csv").open("w", newline="") as handle:
        if rows:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    (folder / "load_measures.csv").write_text(measures_csv(summary, checks), encoding="utf-8")
    data = {
        "kind": "load",
        "target": target,
        "finished": finished_now(),
        "ok": ok,
        "verdict": verdict_lines[-1].removeprefix("verdict: "),
        "html": "load.html",
        "settings": settings,
        "summary": summary.as_dict(),
        "thresholds": [
            {
                "name": c.name,
                "option": c.option,
                "expected": c.limit,
                "measured": c.measured,
                "verdict": c.verdict,
            }
            for c in checks
        ],
        "thresholds_broken": [c.sentence() for c in checks if c.holds is False],
        "verdict_lines": verdict_lines,
    }
    (folder / "load.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    charts = []
    if summary.results:
        charts.append(("distribution", chart_distribution(ttr, p95_limit)))
    if rows:
        charts += [
            ("percentiles", chart_percentiles(rows, window, p95_limit)),
            ("goodput", chart_goodput(rows, 5)),
            ("load", chart_load(rows, 5)),
        ]
    html = (
        environment()
        .get_template("load.html.j2")
        .render(report=data, charts=charts, modes=summary.modes, checks=checks)
    )
    path = folder / "load.html"
    path.write_text(html, encoding="utf-8")
    write_index(folder)
    return path

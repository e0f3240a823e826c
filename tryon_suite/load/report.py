"""The load report: charts drawn with matplotlib, laid out by a Jinja2 template, one file."""

from __future__ import annotations

import base64
import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tryon_suite.load.summary import Summary

__all__ = ["write_index", "write_load_report"]


def _chart(
    rows: list[dict[str, Any]], series: list[tuple[str, str]], ylabel: str, title: str
) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 3.2), dpi=100)
    xs = [row["t"] for row in rows]
    for key, label in series:
        axes.plot(xs, [row.get(key, 0) for row in rows], label=label, linewidth=1.6, marker=".")
    axes.set_xlabel("seconds into the run")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def write_load_report(
    summary: Summary,
    rows: list[dict[str, Any]],
    folder: Path,
    *,
    target: str,
    settings: dict[str, Any],
    broken: list[str],
) -> Path:
    """Write load.html, load.json and load_timeline.csv; returns the HTML path."""
    from tryon_suite.report.render import _environment

    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "load_timeline.csv").open("w", newline="") as handle:
        if rows:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    data = {
        "target": target,
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "settings": settings,
        "summary": summary.as_dict(),
        "thresholds_broken": broken,
    }
    (folder / "load.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    for row in rows:
        for mode in ("sync", "polling"):
            for q in ("p50", "p95"):
                ms = row[f"{mode}_{q}_ms"]
                row[f"{mode}_{q}_s"] = ms / 1000 if ms is not None else float("nan")
    charts = []
    if rows:
        charts = [
            _chart(
                rows,
                [
                    ("sync_p50_s", "sync p50"),
                    ("sync_p95_s", "sync p95"),
                    ("polling_p50_s", "polling p50"),
                    ("polling_p95_s", "polling p95"),
                ],
                "seconds",
                "time_to_result, per second of the run",
            ),
            _chart(
                rows,
                [
                    ("rate_limited", "429 answers"),
                    ("sync_results", "sync results"),
                    ("polling_results", "polling results"),
                ],
                "per second",
                "429s and goodput over time",
            ),
        ]
    html = (
        _environment()
        .get_template("load.html.j2")
        .render(report=data, charts=charts, modes=summary.modes)
    )
    path = folder / "load.html"
    path.write_text(html, encoding="utf-8")
    write_index(folder)
    return path


def write_index(folder: Path) -> Path:
    """reports/index.html: one page linking every report present in the folder."""
    links = [
        (name, title)
        for name, title in (
            ("compliance.html", "Compliance report (contract suite)"),
            ("load.html", "Load report (Locust)"),
        )
        if (folder / name).exists()
    ]
    items = "\n".join(f'<li><a href="{name}">{title}</a></li>' for name, title in links)
    path = folder / "index.html"
    path.write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>tryon-suite reports"
        "</title></head><body style='font-family: system-ui, sans-serif; margin: 28px'>"
        f"<h1>tryon-suite reports</h1><ul>{items}</ul></body></html>\n",
        encoding="utf-8",
    )
    return path

"""What a measurement shows: the console table, reports/limiter.json and limiter.html."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tryon_suite.lab.limiter.phases import DOCUMENTED_RATE, Measure, Settings, judge
from tryon_suite.lab.limiter.probes import Probe
from tryon_suite.report.charts import data_uri, pyplot

__all__ = ["table", "write_report"]


def table(measures: Sequence[Measure]) -> str:
    """The console table: measure, measured, documented, verdict; a long reason for "not
    measured" goes under the table as a numbered note."""
    rows = [("measure", "measured", "documented", "verdict")]
    notes: list[str] = []
    for m in measures:
        measured = m.measured
        if len(measured) > 40 and measured.startswith("not measured: "):
            notes.append(f"[{len(notes) + 1}] {m.name}: {measured.removeprefix('not measured: ')}")
            measured = f"not measured [{len(notes)}]"
        rows.append((m.name, measured, m.documented, m.verdict))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
        for r in rows
    ]
    return "\n".join(lines + notes)


def _timeline(probes: Sequence[Probe]) -> str:
    """Admitted and refused probes per 100 ms, as a base64 PNG."""
    plt = pyplot()

    bins = int(max((q.sent for q in probes), default=0) * 10) + 1
    admitted, refused = [0] * bins, [0] * bins
    for q in probes:
        (refused if q.limited else admitted)[int(q.sent * 10)] += 1
    xs = [i / 10 for i in range(bins)]
    figure, axes = plt.subplots(figsize=(9, 3.2), dpi=100)
    axes.bar(xs, admitted, width=0.1, align="edge", color="#12b76a", label="admitted")
    axes.bar(xs, refused, width=0.1, align="edge", bottom=admitted, color="#f04438", label="429")
    axes.set_xlabel("seconds into the probe")
    axes.set_ylabel("requests per 100 ms")
    axes.legend(loc="upper right", fontsize=8)
    axes.grid(alpha=0.3, axis="y")
    return data_uri(figure)


def write_report(
    folder: Path,
    *,
    target: str,
    settings: Settings,
    measures: Sequence[Measure],
    probes: Sequence[Probe],
) -> dict[str, Any]:
    """reports/limiter.json and limiter.html, then the index; returns the JSON data."""
    from tryon_suite.report.index import finished_now, write_index
    from tryon_suite.report.pages import environment

    verdict = judge(measures)
    data: dict[str, Any] = {
        "kind": "limiter",
        "finished": finished_now(),
        "verdict": verdict.reason,
        "ok": verdict.ok,
        "html": "limiter.html",
        "target": target,
        "documented_rate": DOCUMENTED_RATE,
        "settings": asdict(settings),
        "requests": len(probes),
        "measures": [asdict(m) for m in measures],
        "probes": [{**asdict(q), "limited": q.limited} for q in probes],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "limiter.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    html = (
        environment()
        .get_template("limiter.html.j2")
        .render(report=data, chart=_timeline(probes) if probes else None)
    )
    (folder / "limiter.html").write_text(html, encoding="utf-8")
    write_index(folder)
    return data

"""How a load run's measures and verdict read: the console's last lines, the web UI's tab, the CSV.

One table of measures (per mode, then the limit's) and one list of threshold checks serve all
three, so what the console says, what the web UI shows and what the CSV holds never differ.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from tryon_suite.errors import ExitCode, Verdict
from tryon_suite.load.summary import Summary, ThresholdCheck

__all__ = ["measure_rows", "measures_csv", "threshold_table", "verdict", "write_measures_csv"]


def verdict(checks: list[ThresholdCheck]) -> tuple[Verdict, list[str]]:
    """The run's verdict by its thresholds, and the lines that explain it. A run passes when
    no threshold broke and every threshold set was measured: a run in which nothing could be
    measured holds nothing (it is INCOMPLETE, not failed)."""
    broken = [check for check in checks if check.holds is False]
    unmeasured = [c for c in checks if c.holds is None and not c.limit.startswith("not set")]
    checked = [check for check in checks if check.holds is not None]
    if broken:
        lines = [f"threshold broken: {check.sentence()}" for check in broken]
        reason = f"{len(broken)} of {len(checked)} thresholds broken"
        return Verdict(ExitCode.FAIL, reason), lines
    if unmeasured:
        lines = [f"threshold not measured: {check.name}: {check.measured}" for check in unmeasured]
        return Verdict(ExitCode.INCOMPLETE, "a threshold had nothing to measure"), lines
    return Verdict(ExitCode.PASS, f"every one of {len(checked)} thresholds set held"), []


def threshold_table(checks: list[ThresholdCheck]) -> list[str]:
    """The thresholds as aligned lines: name, expected, measured, verdict."""
    header = ("threshold", "expected", "measured", "verdict")
    rows = [header] + [(c.name, c.limit, c.measured, c.verdict) for c in checks]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return [
        f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}"
        for row in rows
    ]


def measure_rows(summary: Summary, checks: list[ThresholdCheck]) -> list[dict[str, Any]]:
    """The suite's measures as rows {measure, value, threshold, verdict}: per mode (try-ons
    started, results, without result and why, time_to_result percentiles, goodput, polls per
    job), then the limit (429s, Retry-After values, retries, give-ups), then the thresholds."""
    rows: list[dict[str, Any]] = []

    def add(measure: str, value: Any) -> None:
        rows.append({"measure": measure, "value": value, "threshold": "", "verdict": ""})

    for mode, figures in summary.modes.items():
        add(f"{mode}: try-ons started", figures.started)
        add(f"{mode}: results", figures.results)
        for ending, count in figures.endings.items():
            if ending != "result":
                add(f"{mode}: no result, {ending}", count)
        for name, seconds in figures.ttr_s.items():
            add(f"{mode}: time_to_result {name} (s)", seconds if figures.results else "")
        add(f"{mode}: goodput (results/min)", figures.goodput_per_min)
        if figures.polls_per_job is not None:
            add(f"{mode}: polls per job (mean)", figures.polls_per_job)
    for name, count in sorted(summary.requests.items()):
        add(f"requests: {name}", count)
    for name, count in sorted(summary.rate_limited.items()):
        add(f"429 answers: {name}", count)
    for value, count in summary.retry_after_seen.items():
        add(f"Retry-After {value}", count)
    for policy, count in summary.retries.items():
        add(f"retries ({policy})", count)
    for policy, count in summary.give_ups.items():
        add(f"give-ups ({policy})", count)
    for name, seconds in summary.lag_s.items():
        add(f"behind schedule {name} (s)", seconds)
    for check in checks:
        rows.append(
            {
                "measure": f"threshold: {check.name}",
                "value": check.measured,
                "threshold": check.limit,
                "verdict": check.verdict,
            }
        )
    return rows


def measures_csv(summary: Summary, checks: list[ThresholdCheck]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["measure", "value", "threshold", "verdict"])
    writer.writeheader()
    writer.writerows(measure_rows(summary, checks))
    return out.getvalue()


def write_measures_csv(summary: Summary, checks: list[ThresholdCheck], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(measures_csv(summary, checks), encoding="utf-8")
    return path

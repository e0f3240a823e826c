"""The load suite: its metrics and thresholds, and short bounded Locust runs on loopback."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tryon_suite.load.metrics import (
    GIVE_UP,
    RATE_LIMITED,
    RETRY,
    RETRY_AFTER,
    Timeline,
    answer_metrics,
    percentile,
)
from tryon_suite.load.summary import Thresholds, summarise
from tryon_suite.load.transport import failure_text
from tryon_suite.retry import RetryDecision
from tryon_suite.simulator.config import DEMO_KEY

pytestmark = pytest.mark.slow(33)

ROOT = Path(__file__).resolve().parent.parent


def _entry(num: int, failures: int = 0, p: float = 0.0, avg: float = 0.0) -> SimpleNamespace:
    return SimpleNamespace(
        num_requests=num,
        num_failures=failures,
        avg_response_time=avg,
        get_response_time_percentile=lambda share: p * (1 if share < 0.9 else 2),
    )


def test_percentiles_are_nearest_rank() -> None:
    assert percentile([5, 1, 4, 2, 3], 0.5) == 3
    assert percentile([5, 1, 4, 2, 3], 0.95) == 5
    assert percentile([], 0.5) == 0.0


def test_an_answer_adds_the_metrics_of_its_429_and_of_the_policy_decision() -> None:
    retried = RetryDecision(1.0, "Retry-After")
    spent = RetryDecision(None, "gave up after 5 retries", gave_up=True)
    name = "POST /v1/try-on (sync)"
    assert answer_metrics(name, 429, "2", retried, "retry-after") == [
        (RATE_LIMITED, name),
        (RETRY_AFTER, "2"),
        (RETRY, "retry-after"),
    ]
    assert answer_metrics(name, 503, None, spent, "backoff") == [(GIVE_UP, "backoff")]
    assert answer_metrics(name, 200, None, RetryDecision(None, "200 is not retried"), "x") == []
    assert answer_metrics(name, 429, None, None, "none") == [(RATE_LIMITED, name)], (
        "expected a 429 the caller chose not to retry counted, with no retry"
    )


def test_locust_lists_a_429_under_one_line_and_2xx_as_successes() -> None:
    assert failure_text(200, b"") is None, "expected a 200 counted a success"
    assert failure_text(202, b"{}") is None, "expected a 202 counted a success"
    assert failure_text(429, b'{"error": "slow down", "id": 17}') == "429 rate_limit_exceeded"
    assert failure_text(500, b"boom") == "500 boom", "expected a 500 listed with its body"


def test_the_timeline_merges_worker_buckets_into_one() -> None:
    worker, master = Timeline(), Timeline()
    worker.on_request("TTR", "sync", 1200.0, None, 100.2)
    worker.on_request("RESULT", "sync", 0, None, 100.3)
    worker.on_request("RATE_LIMITED", "POST /v1/try-on (sync)", 0, None, 101.0)
    worker.on_request("POST", "POST /v1/try-on (sync)", 3.0, None, 101.5)
    master.on_request("TTR", "sync", 800.0, None, 100.9)
    master.merge(json.loads(json.dumps(worker.export())))  # what crosses the wire
    assert worker.rows() == [], "expected the worker's buckets emptied once sent"
    rows = master.rows()
    first = (rows[0]["sync_results"], rows[0]["sync_p95_ms"])
    assert first == (1, 1200.0), f"expected one result with p95 1200 ms, got {rows[0]}"
    second = (rows[1]["rate_limited"], rows[1]["requests"])
    assert second == (1, 1), f"expected one 429 among one request, got {rows[1]}"
    assert rows[1]["sync_p50_ms"] is None, "expected no point where no result came"


def test_the_summary_and_thresholds_name_expected_and_measured() -> None:
    entries = {
        ("sync", "TTR"): _entry(10, 2, p=3000),
        ("sync", "RESULT"): _entry(8),
        ("polling", "POLLS"): _entry(4, avg=3.5),
        ("POST /v1/try-on (sync)", "POST"): _entry(100, 30),
        ("POST /v1/try-on (sync)", "RATE_LIMITED"): _entry(25),
        ("1", "RETRY_AFTER"): _entry(25),
    }
    # the percentiles come from the raw times, through the same function the charts use
    ttr_ms = {"sync": [3000.0] * 9 + [6000.0]}
    summary = summarise(entries, 60.0, ttr_ms)
    assert summary.modes["sync"].ttr_p50_s == 3.0, f"expected p50 3 s, got {summary.modes}"
    assert summary.modes["sync"].goodput_per_min == 8.0
    ratios = (summary.ratio_429, summary.error_ratio)
    assert ratios == (0.25, 0.05), f"expected (0.25, 0.05), got {ratios}"
    assert summary.modes["polling"].polls_per_job == 3.5
    broken = Thresholds(4.0, 0.2, 0.01, 10).broken(summary)
    assert broken == [
        "p95 time_to_result (sync): expected at most 4 s, measured 6.00 s",
        "429 ratio: expected at most 0.2, measured 0.250",
        "error ratio: expected at most 0.01, measured 0.050",
        "goodput: expected at least 10 results/min, measured 8.0",
    ], broken
    assert Thresholds().broken(summary) == [], "expected no threshold checked by default"


def locust(report_dir: Path, *args: str, seconds: int = 6) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYON_")}
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        "load/locustfile.py",
        "--headless",
        "-t",
        f"{seconds}s",
        "--only-summary",
        "--tryon-report-dir",
        str(report_dir),
        "--tryon-processing-time",
        "0.2",
        "--tryon-fail-rate",
        "0",
        *args,
    ]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def summary_of(report_dir: Path) -> Any:
    return json.loads((report_dir / "load.json").read_text())["summary"]


def test_two_processes_aggregate_the_custom_metrics_and_a_broken_threshold_fails_the_run(
    tmp_path: Path,
) -> None:
    done = locust(
        tmp_path,
        "-u",
        "12",
        "-r",
        "12",
        "--processes",
        "2",
        "--csv",
        str(tmp_path / "locust"),
        "--tryon-max-429-ratio",
        "0.01",
    )
    assert done.returncode == 3, f"expected exit 3 for a broken threshold, got {done.returncode}"
    assert "tryon: threshold broken: 429 ratio: expected at most 0.01" in done.stdout, done.stdout[
        -600:
    ]
    with (tmp_path / "locust_stats.csv").open() as handle:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(handle)}
    for key in (("TTR", "sync"), ("RESULT", "sync"), ("TTR", "polling"), ("POLLS", "polling")):
        assert key in rows, f"expected {key} in Locust's CSV, got {sorted(rows)}"
    summary = summary_of(tmp_path)
    assert summary["modes"]["sync"]["results"] == int(rows[("RESULT", "sync")]["Request Count"])
    html = (tmp_path / "load.html").read_text()
    assert html.count("data:image/png;base64,") == 2, "expected both charts embedded"
    assert (tmp_path / "index.html").exists(), "expected the index of reports"


def test_against_a_host_the_key_is_required_and_never_printed(tmp_path: Path) -> None:
    from tests.conftest import QUIET
    from tryon_suite.simulator.server import serving

    with serving(QUIET) as (url, _):
        missing = locust(tmp_path, "-u", "1", "--host", url, seconds=2)
        assert missing.returncode != 0, "expected a refusal without a key"
        assert (
            "expected --tryon-key or TRYON_API_KEY with --host" in missing.stderr + missing.stdout
        )
        done = locust(
            tmp_path,
            "-u",
            "2",
            "-r",
            "2",
            "--host",
            url,
            "--tryon-key",
            DEMO_KEY,
            seconds=3,
        )
    assert done.returncode == 0, f"expected exit 0, got {done.returncode}: {done.stderr[-600:]}"
    assert DEMO_KEY not in (tmp_path / "load.html").read_text(), "expected the key redacted"

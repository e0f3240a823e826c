"""The load suite: its metrics and thresholds, and short bounded Locust runs on loopback."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tryon_suite.http.retry import RetryDecision
from tryon_suite.load.console import measure_rows, verdict
from tryon_suite.load.latency import Latency
from tryon_suite.load.metrics import IN_FLIGHT, RESULT, UNFINISHED, LoadMetrics
from tryon_suite.load.summary import DEFAULT_THRESHOLDS, Thresholds, summarise
from tryon_suite.load.transport import failure_text
from tryon_suite.simulator.config import DEMO_KEY

pytestmark = pytest.mark.slow(21)

ROOT = Path(__file__).resolve().parent.parent
SYNC = "POST /v1/try-on (sync)"


def test_latency_percentiles_are_exact_to_three_figures_and_merge_exactly() -> None:
    one, other, both = Latency(), Latency(), Latency()
    values = [0.5 + i * 0.01 for i in range(100)]  # 0.50 .. 1.49 s
    one.extend(values[:37])
    other.extend(values[37:])
    both.extend(values)
    one.add_encoded(other.encode())  # what crosses the wire
    merged = one.percentiles()
    assert merged == both.percentiles(), f"expected a merge equal to one histogram: {merged}"
    # nearest rank: p95 of 100 values is the 95th, 1.44 s, within HDR's 0.1% (3 figures)
    assert abs(merged["p95"] - 1.44) <= 1.44 * 1e-3 + 1e-3, f"expected p95 1.44 s, got {merged}"
    assert abs(merged["p50"] - 0.99) <= 0.99 * 1e-3 + 1e-3, f"expected p50 0.99 s, got {merged}"


def test_locust_lists_a_429_under_one_line_and_2xx_as_successes() -> None:
    assert failure_text(200, b"") is None, "expected a 200 counted a success"
    assert failure_text(202, b"{}") is None, "expected a 202 counted a success"
    assert failure_text(429, b'{"error": "slow down", "id": 17}') == "429 rate_limit_exceeded"
    assert failure_text(500, b"boom") == "500 boom", "expected a 500 listed with its body"
    echoed = failure_text(401, b'{"error": "invalid key canary-k3y-123456"}', ["canary-k3y-123456"])
    assert echoed is not None, "expected a 401 listed as a failure"
    assert "canary-k3y-123456" not in echoed, f"expected the echoed key masked, got {echoed}"


def _worker_run(metrics: LoadMetrics, base: float) -> None:
    """Five sync try-ons: four results (1..4 s) and one given up on a 429; two more started
    and never ended (still waiting at the end)."""
    for i in range(7):
        metrics.try_on_started("sync", base + i)
    for i in range(4):
        metrics.request(SYNC, False, base + i)
        metrics.try_on_ended("sync", base + i + 0.5, float(i + 1), RESULT)
    metrics.request(SYNC, True, base + 4)
    metrics.answer(SYNC, 429, "1", RetryDecision(None, "gave up", gave_up=True), "fixed", base + 4)
    metrics.try_on_ended("sync", base + 4.5, 9.0, "429, retries given up")


def test_workers_measures_merge_into_what_one_process_would_have_measured() -> None:
    alone, master = LoadMetrics(), LoadMetrics()
    _worker_run(alone, 100.0)
    _worker_run(alone, 100.0)
    for _ in range(2):
        worker = LoadMetrics()
        _worker_run(worker, 100.0)
        master.merge(json.loads(json.dumps(worker.export())))  # what crosses the wire
        assert not worker.started, "expected a worker's measures emptied once sent"
    merged, single = summarise(master, 60.0).as_dict(), summarise(alone, 60.0).as_dict()
    assert merged == single, f"expected the merge equal to one process: {merged} != {single}"
    sync = summarise(master, 60.0).modes["sync"]
    assert (sync.started, sync.results, sync.unfinished) == (14, 8, 4), (
        f"expected 14 started, 8 results, 4 unfinished, got {sync}"
    )
    assert sync.endings[UNFINISHED] == 4, f"expected the unfinished named, got {sync.endings}"
    assert (master.give_ups["fixed"], master.retry_after["1"]) == (2, 2), (
        f"expected 2 give-ups and 2 Retry-After 1 merged, got {master.give_ups}, "
        f"{master.retry_after}"
    )
    rows = master.rows(window=10)
    assert (rows[0]["sync_results"], rows[0]["sync_p50_s"] is None) == (2, False), rows[0]
    assert rows[4]["rate_limited"] == 2, f"expected two 429s in second 4, got {rows[4]}"


def test_a_fifth_of_try_ons_without_a_result_fails_the_default_thresholds() -> None:
    metrics = LoadMetrics()
    for i in range(10):
        metrics.try_on_started("polling", 10.0 + i)
        metrics.request("POST /v1/try-on (polling)", False, 10.0 + i)
    for i in range(8):
        metrics.try_on_ended("polling", 20.0 + i, 2.0, RESULT)
    summary = summarise(metrics, 30.0)
    checks = DEFAULT_THRESHOLDS.checks(summary)
    judged, lines = verdict(checks)
    assert judged.name == "FAIL", f"expected 2 of 10 try-ons without result to fail, got {judged}"
    assert lines[0] == (
        "threshold broken: share of try-ons that got a result: expected at least 0.95, "
        "measured 0.800 (8 of 10)"
    ), lines
    assert judged.line("load").startswith("load verdict: FAIL (exit code 1): 1 of 4 thresholds"), (
        f"expected the verdict line to name the broken share, got {judged.line('load')!r}"
    )
    shown = {row["measure"]: row for row in measure_rows(summary, checks)}
    row = shown["threshold: share of try-ons that got a result"]
    assert (row["threshold"], row["verdict"]) == ("at least 0.95", "BROKEN"), row
    assert shown["threshold: goodput"]["threshold"] == "not set", "expected goodput unset"
    live = summarise(metrics, 30.0, running=True)  # the web UI's view while the run goes on
    polling = live.modes["polling"]
    assert (live.result_ratio, polling.in_flight, polling.endings.get(IN_FLIGHT)) == (1.0, 2, 2), (
        f"expected the two still waiting shown in flight and not judged yet, got {polling}"
    )


def test_the_thresholds_name_expected_and_measured_and_nothing_measured_is_no_pass() -> None:
    metrics = LoadMetrics()
    _worker_run(metrics, 0.0)
    summary = summarise(metrics, 60.0)
    broken = Thresholds(0.5, 3.0, 0.1, 0.01, 10).broken(summary)
    assert broken == [
        "p95 time_to_result (sync): expected at most 3 s, measured 4.002 s",
        "429 ratio: expected at most 0.1, measured 0.200 (1 of 5 requests)",
        "goodput: expected at least 10 results/min, measured 4.0 results/min",
    ], broken
    judged, lines = verdict(Thresholds().checks(summary))
    assert judged.ok, f"expected no threshold set to hold trivially only when asked, got {judged}"
    empty = summarise(LoadMetrics(), 10.0)
    judged, lines = verdict(DEFAULT_THRESHOLDS.checks(empty))
    assert judged.name == "INCOMPLETE", (
        f"expected a run that started no try-on to hold nothing (INCOMPLETE), got {judged}, {lines}"
    )


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


def verdict_matches_exit(done: subprocess.CompletedProcess[str], report_dir: Path) -> Any:
    """The run's load.json, once its exit code is checked against its own verdict: 0 when
    it holds, 1 when it does not, nothing else (no crash, no usage error)."""
    path = report_dir / "load.json"
    assert path.exists(), (
        f"expected {path} written, got exit {done.returncode}: {done.stderr[-800:]}"
    )
    report = json.loads(path.read_text())
    expected = 0 if report["ok"] else 1
    assert done.returncode == expected, (
        f"expected exit {expected} for the verdict {report['verdict']!r}, got {done.returncode}: "
        f"{done.stderr[-800:]}"
    )
    return report


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_two_processes_keep_locust_to_real_requests_and_merge_the_suites_measures(
    tmp_path: Path,
) -> None:
    port = _free_port()  # not Locust's fixed 5557: two runs on one machine must not collide
    done = locust(
        tmp_path,
        "-u",
        "12",
        "-r",
        "12",
        "--processes",
        "2",
        "--master-bind-port",
        str(port),
        "--master-port",
        str(port),
        "--csv",
        str(tmp_path / "locust"),
    )
    with (tmp_path / "locust_stats.csv").open() as handle:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(handle)}
    real = {("POST", "/v1/try-on (sync)"), ("POST", "/v1/try-on (polling)")}
    real |= {("GET", "/v1/try-on/job/{job_id}"), ("", "Aggregated")}
    assert set(rows) <= real, f"expected only real requests in Locust's CSV, got {sorted(rows)}"
    assert real - {("GET", "/v1/try-on/job/{job_id}")} <= set(rows), (
        f"expected both try-on modes, each named once, in Locust's CSV, got {sorted(rows)}"
    )
    report = verdict_matches_exit(done, tmp_path)
    summary = report["summary"]
    locust_total = int(rows[("", "Aggregated")]["Request Count"])
    assert summary["total_requests"] == locust_total, (
        f"expected the suite's request count (merged from both workers) to be Locust's "
        f"{locust_total}, got {summary['total_requests']}"
    )
    started = {mode: summary["modes"][mode]["started"] for mode in ("sync", "polling")}
    assert min(started.values()) > 0, f"expected try-ons of both modes started, got {started}"
    # try-ons of 0.2 s finish within the grace; one counted unfinished here would be a
    # worker's last report the master never merged
    unfinished = {mode: m["unfinished"] for mode, m in summary["modes"].items()}
    assert set(unfinished.values()) == {0}, (
        f"expected every try-on ended and reported by both workers, got unfinished {unfinished}"
    )
    tail = [line for line in done.stdout.splitlines() if line.strip()][-1]
    assert tail.startswith("tryon: load verdict: "), f"expected the verdict last, got {tail!r}"
    assert "tryon: share of try-ons that got a result" in done.stdout, done.stdout[-800:]
    with (tmp_path / "locust_tryon.csv").open() as handle:
        measures = {r["measure"]: r for r in csv.DictReader(handle)}
    sync_started = int(measures["sync: try-ons started"]["value"])
    assert sync_started == summary["modes"]["sync"]["started"], (
        f"expected the CSV and the report to agree on sync try-ons, got {sync_started} and "
        f"{summary['modes']['sync']['started']}"
    )
    assert "threshold: share of try-ons that got a result" in measures, sorted(measures)
    html = (tmp_path / "load.html").read_text()
    assert html.count("data:image/png;base64,") == 4, "expected four charts embedded"
    index = (tmp_path / "index.html").read_text()
    assert 'href="load.html">Load run (Locust)' in index, "expected the load run indexed"


def test_the_tryon_options_show_in_the_help_and_the_measures_in_a_web_ui_tab() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYON_")}
    shown = subprocess.run(
        [sys.executable, "-m", "locust", "-f", "load/locustfile.py", "--tryon-help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    for flag in ("--tryon-min-result-ratio", "--tryon-max-p95-ttr", "--tryon-retry", "--users"):
        assert flag in shown.stdout, f"expected {flag} in --tryon-help, got {shown.stdout[-400:]}"
    # the web UI, in process with Flask's test client: the tab, its table and its data
    script = """
import sys
sys.path.insert(0, "load")
import locust  # noqa
import load_support
from locust.env import Environment
from locust import events
from locust.argument_parser import get_parser
options = get_parser().parse_args(["-f", "load/locustfile.py"])
env = Environment(events=events, parsed_options=options, host="http://127.0.0.1:9")
env.create_local_runner()
web = env.create_web_ui("127.0.0.1", 0)
load_support._web_tab(env)
load_support.METRICS.try_on_started("sync", 1.0)
web.update_template_args()
client = web.app.test_client()
stats = client.get("/stats/requests").get_json()
print(stats["extendedStats"][0]["key"], len(stats["extendedStats"][0]["data"]))
print([t["key"] for t in web.template_args["extendedTabs"]])
print(client.get("/tryon/csv").get_data(as_text=True).splitlines()[1])
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    lines = done.stdout.splitlines()
    assert (done.returncode, len(lines)) == (0, 3), (
        f"expected the web UI script to print three lines, got {done.stdout!r} {done.stderr[-800:]}"
    )
    key, count = lines[0].split()
    assert (key, int(count) > 5) == ("tryon", True), f"expected the tryon rows, got {lines[0]}"
    assert lines[1] == "['tryon']", f"expected one tryon tab, got {lines[1]}"
    assert lines[2] == "sync: try-ons started,1,,", f"expected the CSV's first row, got {lines[2]}"


def test_against_a_host_the_key_is_required_and_never_printed(tmp_path: Path) -> None:
    from tests.conftest import QUIET
    from tryon_suite.simulator.server import serving

    with serving(QUIET) as (url, _):
        missing = locust(tmp_path, "-u", "1", "--host", url, seconds=2)
        assert missing.returncode == 4, f"expected exit 4 without a key, got {missing.returncode}"
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
            # a 3 s run ends with try-ons in flight: this test is about the key, not the yield
            "--tryon-min-result-ratio",
            "0",
            seconds=3,
        )
    assert done.returncode == 0, f"expected exit 0, got {done.returncode}: {done.stderr[-600:]}"
    assert DEMO_KEY not in (tmp_path / "load.html").read_text(), "expected the key redacted"

"""What a run stands on: the embedded simulator, the run's measures, and the listeners that
merge them across workers, judge the thresholds and write the report.

The options are `load_options`'s, the user base `load_users`'s; the requests, the retry
policy, the polling loop, bodies and redaction are the tryon_suite client layer's.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, NoReturn

import gevent
import gevent.event
import load_options  # noqa: F401  (registers the --tryon-* options)
from locust import events
from locust.env import Environment
from locust.rpc import Message
from locust.runners import (
    STATE_RUNNING,
    STATE_SPAWNING,
    STATE_STOPPED,
    MasterRunner,
    WorkerRunner,
)

from tryon_suite.errors import ExitCode, PreflightError, Verdict
from tryon_suite.http.preflight import KeyToCheck, preflight, unusable_key
from tryon_suite.http.redact import redact
from tryon_suite.http.secret import Secret
from tryon_suite.load.console import (
    measure_rows,
    measures_csv,
    threshold_table,
    verdict,
    write_measures_csv,
)
from tryon_suite.load.metrics import LoadMetrics
from tryon_suite.load.report import write_load_report
from tryon_suite.load.summary import (
    Summary,
    ThresholdCheck,
    Thresholds,
    summarise,
)
from tryon_suite.simulator.config import DEFAULT_ACCOUNTS

# The preflight sends with httpx, whose transport (httpcore) imports trio when it is installed,
# and trio cannot load once gevent has patched `select` (no epoll): the preflight does without.
sys.modules.setdefault("trio", None)  # type: ignore[arg-type]


class _Embedded:
    """The simulator as a separate process (so it never competes with gevent in this one)."""

    process: subprocess.Popen[str] | None = None
    url: str | None = None

    @classmethod
    def start(cls, options: Any) -> str:
        command = [
            sys.executable,
            "-m",
            "tryon_suite.cli.mock",
            "--port",
            "0",
            "--serve-fixtures",
            "--rate-limit",
            str(options.tryon_rate_limit),
            "--processing-time",
            str(options.tryon_processing_time),
            "--processing-spread",
            "0.5",
            "--fail-rate",
            str(options.tryon_fail_rate),
        ]
        cls.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert cls.process.stdout is not None
        line = cls.process.stdout.readline()
        if not line.startswith("Listening on "):
            raise SystemExit(f"tryon: expected the embedded simulator to start, got {line!r}")
        cls.url = line.removeprefix("Listening on ").strip()
        return cls.url

    @classmethod
    def stop(cls) -> None:
        if cls.process is not None and cls.process.poll() is None:
            cls.process.terminate()
            cls.process.wait(timeout=10)


#: this process's measures (on a master, every worker's merged)
METRICS = LoadMetrics()
#: the run's state: its start, the embedded simulator, the verdict, the final reports awaited
RUN: dict[str, Any] = {}


def _usage(message: str) -> NoReturn:
    """A usage or setup mistake, found before the run: one line, exit 4 (ExitCode.USAGE)."""
    _Embedded.stop()
    print(f"tryon: {message}", file=sys.stderr, flush=True)
    raise SystemExit(ExitCode.USAGE)


@events.init.add_listener
def _init(environment: Environment, **_kwargs: Any) -> None:
    options: Any = environment.parsed_options
    if options is None:
        return
    RUN["environment"] = environment
    # The key is read here, not as the option's default: no parser default or help holds it.
    given = "--tryon-key" if options.tryon_key else "TRYON_API_KEY"
    options.tryon_key = options.tryon_key or os.environ.get("TRYON_API_KEY", "")
    if environment.web_ui is not None:
        _web_tab(environment)
        if options.tryon_key and not options.web_host:
            # Locust listens on every interface unless told otherwise; with a key in the
            # process, only this machine may drive it (--web-host '*' says otherwise).
            environment.web_ui.host = "127.0.0.1"
            print(
                f"tryon: a key is set: the web UI listens on http://127.0.0.1:"
                f"{options.web_port} only (--web-host to choose another address)",
                flush=True,
            )
    if isinstance(environment.runner, WorkerRunner):
        return
    if options.tryon_key and (line := unusable_key(options.tryon_key, given)):
        _usage(line)
    try:  # before the run, not after it: a report that cannot be written loses the run
        Path(options.tryon_report_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _usage(
            f"expected --tryon-report-dir {options.tryon_report_dir!r} to be a folder "
            f"it can write, got: {exc.strerror}"
        )
    if options.tryon_body != "multipart" and not options.tryon_image_base_url and environment.host:
        _usage("--tryon-body json needs --tryon-image-base-url against --host")
    # Users finish the try-on in hand when the run ends, so one cut off by the end is not
    # counted against the target; the master hands this timeout to its workers.
    environment.stop_timeout = max(environment.stop_timeout or 0.0, options.tryon_grace)
    if not environment.host:
        environment.host = _Embedded.start(options)
        # the embedded simulator knows its demo accounts only: a key of yours goes nowhere
        options.tryon_key = DEFAULT_ACCOUNTS[0].key
        options.tryon_image_base_url = (
            options.tryon_image_base_url or f"{environment.host}/fixtures"
        )
        RUN["embedded"] = True
        print(f"tryon: embedded simulator at {environment.host}", flush=True)
        return
    if not options.tryon_key:
        _usage("expected --tryon-key or TRYON_API_KEY with --host, got none")
    # the pytest run's preflight, its messages naming this tool's options; httpx's own log
    # line per request would come before the one line that says what is wrong
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        preflight(
            environment.host,
            [KeyToCheck(Secret(options.tryon_key), given)],
            sleep=time.sleep,
            url_option="--host",
            no_credits_option=None,
        )
    except PreflightError as exc:
        _usage(str(exc))


@events.request.add_listener
def _on_request(request_type: str, name: str, exception: Any, **kw: Any) -> None:
    answered = bool(getattr(kw.get("response"), "status_code", 0))
    METRICS.request(f"{request_type} {name}", exception is not None, time.time(), answered)


@events.report_to_master.add_listener
def _to_master(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    data["tryon"] = METRICS.export()
    runner = RUN.get("environment") and RUN["environment"].runner
    # the report a worker sends once its users are gone holds its last try-ons
    data["tryon_final"] = runner is not None and runner.state == STATE_STOPPED


@events.worker_report.add_listener
def _from_worker(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    METRICS.merge(data.get("tryon", {}))
    if (waiting := RUN.get("final_reports")) is not None and data.get("tryon_final"):
        waiting.discard(client_id)
        if not waiting:
            RUN["all_reported"].set()


def stop_and_collect(runner: Any) -> None:
    """Stop the users, letting each finish the try-on in hand (the grace), and on a master
    wait for every worker's final report, so the verdict sees every try-on. Locust quits its
    workers with half a second to report, and a shape that ends the run does so before the
    `quitting` event: the shape calls this first. Once."""
    if RUN.get("collected"):
        return
    RUN["collected"] = True
    if not isinstance(runner, MasterRunner):
        runner.stop()  # returns once the users are gone, the grace included
        return
    waiting = {client.id for client in runner.clients.values()}
    RUN["final_reports"], RUN["all_reported"] = waiting, gevent.event.Event()
    # A worker told to quit stops its users (the grace, which the master handed it) and sends
    # its last report; Locust's "stop" message would have it sleep the grace once more first.
    for client_id in waiting:
        runner.server.send_to_client(Message("quit", None, client_id))
    timeout = (runner.environment.stop_timeout or 0.0) + 10.0
    if waiting and not RUN["all_reported"].wait(timeout=timeout):
        missing = ", ".join(sorted(RUN["final_reports"]))
        print(f"tryon: no final report from worker(s) {missing}: their last seconds are lost")
    RUN["final_reports"] = None


@events.test_start.add_listener
def _test_start(environment: Environment, **_kw: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    RUN.setdefault("started", time.time())
    RUN["sampler"] = gevent.spawn(_sample_users, environment)


def _sample_users(environment: Environment) -> None:
    """Users over time, once a second, on the master (or the one local process)."""
    while environment.runner is not None:
        METRICS.users(environment.runner.user_count, time.time())
        gevent.sleep(1.0)


def _thresholds(options: Any) -> Thresholds:
    return Thresholds(
        options.tryon_min_result_ratio,
        options.tryon_max_p95_ttr,
        options.tryon_max_429_ratio,
        options.tryon_max_error_ratio,
        options.tryon_min_goodput,
    )


def _current(
    environment: Environment, *, running: bool = False
) -> tuple[Summary, list[ThresholdCheck]]:
    options: Any = environment.parsed_options
    duration = time.time() - RUN.get("started", time.time())
    summary = summarise(METRICS, duration, running=running)
    return summary, _thresholds(options).checks(summary)


@events.quitting.add_listener
def _quitting(environment: Environment, **_kw: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    try:
        # Users still running here means nothing ended the run but Ctrl-C or SIGTERM (the
        # clock, the shape and the web UI's stop button all stop them first).
        interrupted = not RUN.get("collected") and getattr(environment.runner, "state", "") in (
            STATE_RUNNING,
            STATE_SPAWNING,
        )
        if environment.runner is not None:
            # one still waiting after the grace counts as started without result
            stop_and_collect(environment.runner)
            environment.runner.quit()
        if sampler := RUN.pop("sampler", None):
            sampler.kill(block=False)
        options: Any = environment.parsed_options
        summary, checks = _current(environment)
        # The thresholds decide the exit code: a 429 is measured behaviour, not an error, so
        # Locust's own rule (1 on any failure) would fail every run that meets the limit. A
        # threshold with nothing to measure is not a failure of the target: incomplete.
        judged, lines = verdict(checks)
        if gone := METRICS.stopped_answering():
            judged = Verdict(
                ExitCode.INCOMPLETE,
                f"the target stopped answering mid-run ({gone} requests in a row got no "
                "answer): the figures above stop where it did",
            )
        elif interrupted:
            judged = Verdict(ExitCode.INCOMPLETE, "the run was interrupted before its end")
        lines.append(judged.line("load"))
        ok = judged.ok
        RUN["verdict"] = (checks, lines)
        environment.process_exit_code = int(judged.code)
        if options.csv_prefix:
            write_measures_csv(summary, checks, Path(f"{options.csv_prefix}_tryon.csv"))
        if options.headless or options.autostart:
            path = write_load_report(
                summary,
                METRICS.rows(),
                Path(options.tryon_report_dir),
                target=environment.host or "",
                settings=_settings(environment),
                checks=checks,
                verdict_lines=lines,
                ok=ok,
                ttr={mode: METRICS.ttr[mode] for mode in summary.modes},
                p95_limit=options.tryon_max_p95_ttr,
            )
            RUN["report"] = path
    finally:
        _Embedded.stop()


@events.quit.add_listener
def _quit(**_kw: Any) -> None:
    """After Locust's own final tables: the thresholds and the verdict, as the last lines."""
    if "verdict" not in RUN:
        return
    checks, lines = RUN["verdict"]
    print(file=sys.stdout)
    for line in threshold_table(checks):
        print(f"tryon: {line}")
    if "report" in RUN:
        print(f"tryon: load report {RUN['report']}")
    for line in lines:
        print(f"tryon: {line}")
    sys.stdout.flush()


def _settings(environment: Environment) -> dict[str, Any]:
    """The run's settings, for the report's header."""
    options: Any = environment.parsed_options
    embedded = RUN.get("embedded", False)
    limit = f"{options.tryon_rate_limit:g}/s per key" if embedded else "the target's own"
    processing = (
        f"{options.tryon_processing_time:g} s +/- 50%"
        + (f", {options.tryon_fail_rate:g} injected 500s" if options.tryon_fail_rate else "")
        if embedded
        else "the target's own"
    )
    processes = getattr(options, "processes", None)
    return {
        "target": "embedded tryon-mock" if embedded else environment.host or "",
        "rate limit": limit,
        "processing": processing,
        "users": f"{options.num_users} (spawn {options.spawn_rate:g}/s)",
        "shape": options.tryon_shape,
        "workload": f"open, {options.tryon_arrival_rate:g} try-ons/s per user"
        if options.tryon_arrival_rate
        else "closed (0.5-1.5 s think time)",
        "retry policy": f"{options.tryon_retry} (max {options.tryon_max_retries})",
        "polling": f"{options.tryon_poll} {options.tryon_poll_interval:g} s, "
        f"timeout {options.tryon_poll_timeout:g} s",
        "body": options.tryon_body,
        "processes": processes if processes and processes > 0 else 1,
        "key": redact(options.tryon_key),
    }


def _web_tab(environment: Environment) -> None:
    """A "tryon" tab in Locust's web UI: the suite's measures and the thresholds, live (the
    master's, merged from its workers), and a CSV of them."""
    from flask import Response, request

    web_ui: Any = environment.web_ui
    web_ui.template_args["extendedTabs"] = [{"title": "Try-on measures", "key": "tryon"}]
    web_ui.template_args["extendedTables"] = [
        {
            "key": "tryon",
            "structure": [
                {"key": "measure", "title": "Measure"},
                {"key": "value", "title": "Measured"},
                {"key": "threshold", "title": "Threshold"},
                {"key": "verdict", "title": "Verdict"},
            ],
        }
    ]
    web_ui.template_args["extendedCsvFiles"] = [
        {"href": "/tryon/csv", "title": "Download the try-on measures CSV"}
    ]

    @web_ui.app.after_request
    def _extend(response: Any) -> Any:
        if request.path != "/stats/requests" or not response.is_json:
            return response
        summary, checks = _current(environment, running="verdict" not in RUN)
        rows = measure_rows(summary, checks)
        body = response.get_json()
        body["extendedStats"] = [{"key": "tryon", "data": rows}]
        response.set_data(json.dumps(body))
        return response

    @web_ui.app.route("/tryon/csv")
    def _csv() -> Any:
        summary, checks = _current(environment, running="verdict" not in RUN)
        return Response(
            measures_csv(summary, checks),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=tryon_measures.csv"},
        )

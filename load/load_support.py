"""What the scenarios stand on: options, the embedded simulator, the user base, the listeners.

The requests, the retry policy, the polling loop, bodies and redaction are the tryon_suite
client layer's: a scenario sends through `TryOnClient` over Locust's own HTTP client.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import gevent
import gevent.event
import httpx
from locust import FastHttpUser, between, events
from locust.env import Environment
from locust.rpc import Message
from locust.runners import STATE_STOPPED, MasterRunner, WorkerRunner

from tryon_suite.client import NAME, TryOnClient, TryOnRequest
from tryon_suite.contract import limit_profile
from tryon_suite.fixtures import FixtureImages
from tryon_suite.load.console import (
    measure_rows,
    measures_csv,
    threshold_table,
    verdict,
    write_measures_csv,
)
from tryon_suite.load.metrics import RESULT, LoadMetrics
from tryon_suite.load.report import write_load_report
from tryon_suite.load.summary import (
    DEFAULT_THRESHOLDS,
    Summary,
    ThresholdCheck,
    Thresholds,
    summarise,
)
from tryon_suite.load.transport import HTTP_MS, LocustTransport
from tryon_suite.polling import PollPolicy, follow_job, location_of
from tryon_suite.redact import redact
from tryon_suite.retry import POLICY_KINDS, RetryDecision, RetryPolicy, RetryState
from tryon_suite.secret import Secret
from tryon_suite.simulator.config import DEFAULT_ACCOUNTS


def _limit(text: str) -> float | None:
    """A threshold's value: a number >= 0, or `off` to leave it unchecked."""
    if str(text).strip().lower() in ("off", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 or 'off', got {text!r}")
    return value


#: (flag, type, default, help): the tryon options, on Locust's command line and in its web UI.
_OPTIONS: list[tuple[str, Any, Any, str]] = [
    (
        "--tryon-body",
        str,
        "multipart",
        "body kind: multipart, json or mixed (json needs image URLs)",
    ),
    (
        "--tryon-image-base-url",
        str,
        os.environ.get("TRYON_IMAGE_BASE_URL", ""),
        "where a live target fetches the fixture images (json bodies)",
    ),
    (
        "--tryon-retry",
        str,
        "retry-after",
        "retry policy for 429 and transient 5xx: " + ", ".join(POLICY_KINDS),
    ),
    ("--tryon-max-retries", int, 5, "retries before giving up"),
    ("--tryon-poll", str, "fixed", "polling interval policy: fixed or backoff"),
    ("--tryon-poll-interval", float, 1.0, "first polling interval, seconds"),
    ("--tryon-poll-timeout", float, 120.0, "give up on a job after this many seconds"),
    (
        "--tryon-arrival-rate",
        float,
        0.0,
        "open workload: try-ons per second per user (constant_throughput); 0 = closed workload",
    ),
    ("--tryon-shape", str, "steady", "load shape over -t: steady, step or spike"),
    ("--tryon-processing-time", float, 2.0, "embedded simulator: mean processing time, s"),
    ("--tryon-rate-limit", float, 5.0, "embedded simulator: requests per second per key"),
    ("--tryon-fail-rate", float, 0.01, "embedded simulator: share of injected 500s"),
    (
        "--tryon-min-result-ratio",
        _limit,
        DEFAULT_THRESHOLDS.min_result_ratio,
        "threshold: share of try-ons that got a result; one still waiting at the end counts "
        f"as none (default {DEFAULT_THRESHOLDS.min_result_ratio:g}; 'off' for none)",
    ),
    (
        "--tryon-max-p95-ttr",
        _limit,
        DEFAULT_THRESHOLDS.max_p95_ttr_s,
        f"threshold: p95 time_to_result per mode, s (default {DEFAULT_THRESHOLDS.max_p95_ttr_s:g})",
    ),
    (
        "--tryon-max-429-ratio",
        _limit,
        DEFAULT_THRESHOLDS.max_429_ratio,
        f"threshold: share of answers that are 429 (default {DEFAULT_THRESHOLDS.max_429_ratio:g})",
    ),
    (
        "--tryon-max-error-ratio",
        _limit,
        DEFAULT_THRESHOLDS.max_error_ratio,
        "threshold: share of requests failing other than 429 "
        f"(default {DEFAULT_THRESHOLDS.max_error_ratio:g})",
    ),
    ("--tryon-min-goodput", _limit, None, "threshold: results per minute (default: not set)"),
    (
        "--tryon-grace",
        float,
        30.0,
        "at the end of the run, try-ons in flight get this many seconds to finish (as "
        "--stop-timeout; the larger wins); one still waiting then counts as without result",
    ),
    ("--tryon-report-dir", str, "reports", "where the load report is written"),
]
_CHOICES: dict[str, list[str]] = {
    "--tryon-body": ["multipart", "json", "mixed"],
    "--tryon-retry": list(POLICY_KINDS),
    "--tryon-poll": ["fixed", "backoff"],
    "--tryon-shape": ["steady", "step", "spike"],
}


class _Help(argparse.Action):
    """Prints the parser's full help (Locust's options and ours) and exits."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: Any, *_args: Any, **_kwargs: Any) -> None:
        parser.print_help()
        parser.exit()


@events.init_command_line_parser.add_listener
def _options(parser: Any, **_kwargs: Any) -> None:
    # Locust answers --help before it imports a locustfile (locust#2917), so these options
    # cannot show there; --tryon-help prints the whole help once they are added.
    parser.add_argument(
        "--tryon-help",
        action=_Help,
        help="show this help, with the --tryon-* options, and exit",
        include_in_web_ui=False,
    )
    parser.add_argument(
        "--tryon-key",
        default=os.environ.get("TRYON_API_KEY", ""),
        help="API key (default $TRYON_API_KEY; the demo key for the embedded simulator)",
        is_secret=True,
    )
    for flag, kind, default, help_text in _OPTIONS:
        parser.add_argument(
            flag, type=kind, default=default, help=help_text, choices=_CHOICES.get(flag)
        )


class _Embedded:
    """The simulator as a separate process (so it never competes with gevent in this one)."""

    process: subprocess.Popen[str] | None = None
    url: str | None = None

    @classmethod
    def start(cls, options: Any) -> str:
        command = [
            sys.executable,
            "-m",
            "tryon_suite.simulator.cli",
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


METRICS = LoadMetrics()
_RUN: dict[str, Any] = {}


@events.init.add_listener
def _init(environment: Environment, **_kwargs: Any) -> None:
    options: Any = environment.parsed_options
    if options is None:
        return
    _RUN["environment"] = environment
    if environment.web_ui is not None:
        _web_tab(environment)
    if isinstance(environment.runner, WorkerRunner):
        return
    try:  # before the run, not after it: a report that cannot be written loses the run
        Path(options.tryon_report_dir).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SystemExit(
            f"tryon: expected --tryon-report-dir {options.tryon_report_dir!r} to be a folder "
            f"it can write, got: {exc.strerror}"
        ) from None
    # Users finish the try-on in hand when the run ends, so one cut off by the end is not
    # counted against the target; the master hands this timeout to its workers.
    environment.stop_timeout = max(environment.stop_timeout or 0.0, options.tryon_grace)
    if not environment.host:
        environment.host = _Embedded.start(options)
        options.tryon_key = options.tryon_key or DEFAULT_ACCOUNTS[0].key
        options.tryon_image_base_url = (
            options.tryon_image_base_url or f"{environment.host}/fixtures"
        )
        _RUN["embedded"] = True
        print(f"tryon: embedded simulator at {environment.host}", flush=True)
    elif not options.tryon_key:
        raise SystemExit("tryon: expected --tryon-key or TRYON_API_KEY with --host, got none")
    if options.tryon_body != "multipart" and not options.tryon_image_base_url:
        raise SystemExit("tryon: --tryon-body json needs --tryon-image-base-url against --host")


@events.request.add_listener
def _on_request(request_type: str, name: str, exception: Any, **_kw: Any) -> None:
    METRICS.request(f"{request_type} {name}", exception is not None, time.time())


@events.report_to_master.add_listener
def _to_master(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    data["tryon"] = METRICS.export()
    runner = _RUN.get("environment") and _RUN["environment"].runner
    # the report a worker sends once its users are gone holds its last try-ons
    data["tryon_final"] = runner is not None and runner.state == STATE_STOPPED


@events.worker_report.add_listener
def _from_worker(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    METRICS.merge(data.get("tryon", {}))
    if (waiting := _RUN.get("final_reports")) is not None and data.get("tryon_final"):
        waiting.discard(client_id)
        if not waiting:
            _RUN["all_reported"].set()


def stop_and_collect(runner: Any) -> None:
    """Stop the users, letting each finish the try-on in hand (the grace), and on a master
    wait for every worker's final report, so the verdict sees every try-on. Locust quits its
    workers with half a second to report, and a shape that ends the run does so before the
    `quitting` event: the shape calls this first. Once."""
    if _RUN.get("collected"):
        return
    _RUN["collected"] = True
    if not isinstance(runner, MasterRunner):
        runner.stop()  # returns once the users are gone, the grace included
        return
    waiting = {client.id for client in runner.clients.values()}
    _RUN["final_reports"], _RUN["all_reported"] = waiting, gevent.event.Event()
    # A worker told to quit stops its users (the grace, which the master handed it) and sends
    # its last report; Locust's "stop" message would have it sleep the grace once more first.
    for client_id in waiting:
        runner.server.send_to_client(Message("quit", None, client_id))
    timeout = (runner.environment.stop_timeout or 0.0) + 10.0
    if waiting and not _RUN["all_reported"].wait(timeout=timeout):
        missing = ", ".join(sorted(_RUN["final_reports"]))
        print(f"tryon: no final report from worker(s) {missing}: their last seconds are lost")
    _RUN["final_reports"] = None


@events.test_start.add_listener
def _test_start(environment: Environment, **_kw: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    _RUN.setdefault("started", time.time())
    _RUN["sampler"] = gevent.spawn(_sample_users, environment)


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
    duration = time.time() - _RUN.get("started", time.time())
    summary = summarise(METRICS, duration, running=running)
    return summary, _thresholds(options).checks(summary)


@events.quitting.add_listener
def _quitting(environment: Environment, **_kw: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    try:
        if environment.runner is not None:
            # one still waiting after the grace counts as started without result
            stop_and_collect(environment.runner)
            environment.runner.quit()
        if sampler := _RUN.pop("sampler", None):
            sampler.kill(block=False)
        options: Any = environment.parsed_options
        summary, checks = _current(environment)
        ok, lines = verdict(checks)
        _RUN["verdict"] = (checks, lines)
        # The thresholds decide the exit code: a 429 is measured behaviour, not an error, so
        # Locust's own rule (1 on any failure) would fail every run that meets the limit.
        environment.process_exit_code = 0 if ok else 3
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
            _RUN["report"] = path
    finally:
        _Embedded.stop()


@events.quit.add_listener
def _quit(**_kw: Any) -> None:
    """After Locust's own final tables: the thresholds and the verdict, as the last lines."""
    if "verdict" not in _RUN:
        return
    checks, lines = _RUN["verdict"]
    print(file=sys.stdout)
    for line in threshold_table(checks):
        print(f"tryon: {line}")
    if "report" in _RUN:
        print(f"tryon: load report {_RUN['report']}")
    for line in lines:
        print(f"tryon: {line}")
    sys.stdout.flush()


def _settings(environment: Environment) -> dict[str, Any]:
    """The run's settings, for the report's header."""
    options: Any = environment.parsed_options
    embedded = _RUN.get("embedded", False)
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
        summary, checks = _current(environment, running="verdict" not in _RUN)
        rows = measure_rows(summary, checks)
        body = response.get_json()
        body["extendedStats"] = [{"key": "tryon", "data": rows}]
        response.set_data(json.dumps(body))
        return response

    @web_ui.app.route("/tryon/csv")
    def _csv() -> Any:
        summary, checks = _current(environment, running="verdict" not in _RUN)
        return Response(
            measures_csv(summary, checks),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=tryon_measures.csv"},
        )


class _Bodies:
    """Bodies, built once per process from the fixture images."""

    cache: ClassVar[dict[str, TryOnRequest]] = {}

    @classmethod
    def get(cls, kind: str, wait: bool, image_base_url: str) -> TryOnRequest:
        key = f"{kind}:{wait}"
        if key not in cls.cache:
            images = FixtureImages(limit_profile())
            if kind == "json":
                base = image_base_url.rstrip("/")
                body = TryOnRequest.json(
                    person_image_url=f"{base}/person.jpg",
                    garment_image_url=f"{base}/garment.png",
                    wait_for_result=wait,
                )
            else:
                files = {
                    "person_image": ("person.jpg", images["person.jpg"], "image/jpeg"),
                    "garment_image": ("garment.png", images["garment.png"], "image/png"),
                }
                body = TryOnRequest.multipart(files, wait_for_result=wait)
            # encoded once: per request, encoding would be the harness's time, not the target's
            cls.cache[key] = body.frozen()
        return cls.cache[key]


def _shared_retry_state(options: Any) -> RetryState:
    if "retry_state" not in _RUN:
        policy = RetryPolicy(options.tryon_retry, max_retries=options.tryon_max_retries)
        _RUN["retry_state"] = policy.new_state(time.monotonic)
    state: RetryState = _RUN["retry_state"]
    return state


class TryOnUser(FastHttpUser):
    """Shared by the scenarios: a `TryOnClient` over Locust's HTTP client (so the bodies, the
    retry policy and the polling loop are the suite's own), and the custom metrics."""

    abstract = True

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        options: Any = environment.parsed_options
        self.options = options
        self.poll = PollPolicy(
            interval=options.tryon_poll_interval,
            growth=1.5 if options.tryon_poll == "backoff" else 1.0,
            timeout=options.tryon_poll_timeout,
            wait_first=True,
        )
        self.tryon = TryOnClient(
            environment.host or "",
            Secret(options.tryon_key),
            transport=LocustTransport(self.client),
            retry=_shared_retry_state(options).policy,
            # one retry budget and one adaptive throttle per process, as an application
            # would keep them, not one per user
            retry_state=_shared_retry_state(options),
            sleep=gevent.sleep,  # a waiting user yields to the others
            seed=None,
            record=False,
            on_answer=self._answered,
        )
        self.rng = random.Random()
        #: open workload: try-ons per second this user offers, on a fixed schedule
        self.rate: float = options.tryon_arrival_rate
        #: when the next try-on is due (open workload): it is timed from then, not from when
        #: it could go, so a slow answer cannot hide the wait it causes (coordinated omission)
        self._due: float | None = None
        self._closed = between(0.5, 1.5)

    def wait_time(self) -> float:
        if self.rate <= 0:
            return float(self._closed(self))
        assert self._due is not None  # set by the task that just ran
        return max(0.0, self._due - time.time())

    # -- metrics -------------------------------------------------------------------------

    def _answered(self, response: httpx.Response, decision: RetryDecision | None) -> None:
        METRICS.answer(
            response.request.extensions.get(NAME, response.request.url.path),
            response.status_code,
            response.headers.get("retry-after"),
            decision,
            self.tryon.retry.kind,
            time.time(),
        )

    def _start(self, mode: str) -> float:
        """Count a try-on as started; returns the time it is measured from."""
        now = time.time()
        if self.rate <= 0:
            METRICS.try_on_started(mode, now)
            return now
        intended = now if self._due is None else self._due
        self._due = intended + 1.0 / self.rate
        METRICS.try_on_started(mode, now, lag=now - intended)
        return intended

    def _ended(self, mode: str, started: float, ending: str) -> None:
        now = time.time()
        METRICS.try_on_ended(mode, now, now - started, ending)

    # -- the scenarios ---------------------------------------------------------------------

    def _body(self, wait: bool) -> TryOnRequest:
        kind = self.options.tryon_body
        if kind == "mixed":
            kind = self.rng.choice(["json", "multipart"])
        return _Bodies.get(kind, wait, self.options.tryon_image_base_url)

    def sync_try_on(self) -> None:
        body = self._body(True)
        started = self._start("sync")
        sent, retries = time.time(), self.tryon.retries
        try:
            response = self.tryon.try_on(body)
        except httpx.TransportError as exc:
            self._ended("sync", started, f"no answer: {type(exc).__name__}")
            return
        self._ended("sync", started, _ending(response, 200))
        if self.tryon.retries == retries and HTTP_MS in response.extensions:
            # one request: the try-on's time beyond Locust's own timing of it is the harness's
            METRICS.harness.record(time.time() - sent - response.extensions[HTTP_MS] / 1000)

    def polling_try_on(self) -> None:
        body = self._body(False)
        started = self._start("polling")
        try:
            response = self.tryon.try_on(body)
            if response.status_code != 202:
                self._ended("polling", started, _ending(response, 202))
                return
            trace = follow_job(self.tryon, location_of(response), self.poll)
        except httpx.TransportError as exc:
            self._ended("polling", started, f"no answer: {type(exc).__name__}")
            return
        METRICS.job_polled("polling", trace.polls)
        if trace.final == "completed":
            self._ended("polling", started, RESULT)
        elif trace.timed_out:
            self._ended("polling", started, "job not done within --tryon-poll-timeout")
        else:
            self._ended("polling", started, f"job ended {trace.final or 'unknown'}")


def _ending(response: httpx.Response, wanted: int) -> str:
    """RESULT for the status a try-on of its mode succeeds with, else why not."""
    if response.status_code == wanted:
        return RESULT
    if response.status_code == 429:
        return "429, retries given up"
    return f"answered {response.status_code}"

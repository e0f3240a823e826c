"""What the scenarios stand on: options, the embedded simulator, the user base, the listeners.

The requests, the retry policy, the polling loop, bodies and redaction are the tryon_suite
client layer's: a scenario sends through `TryOnClient` over Locust's own HTTP client.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, ClassVar

import gevent
import httpx
from locust import FastHttpUser, between, constant_throughput, events
from locust.env import Environment
from locust.runners import WorkerRunner

from tryon_suite.client import NAME, TryOnClient, TryOnRequest
from tryon_suite.contract import limit_profile
from tryon_suite.fixtures import FixtureImages
from tryon_suite.load.metrics import POLLS, RESULT, TTR, Timeline, answer_metrics
from tryon_suite.load.report import write_load_report
from tryon_suite.load.summary import Thresholds, summarise
from tryon_suite.load.transport import LocustTransport
from tryon_suite.polling import PollPolicy, follow_job, location_of
from tryon_suite.redact import redact
from tryon_suite.retry import RetryDecision, RetryPolicy
from tryon_suite.secret import Secret
from tryon_suite.simulator.config import DEFAULT_ACCOUNTS

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
        "retry policy for 429 and transient 5xx: none, fixed, backoff, retry-after",
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
    ("--tryon-max-p95-ttr", float, None, "threshold: p95 time_to_result, seconds"),
    ("--tryon-max-429-ratio", float, None, "threshold: share of 429 answers"),
    (
        "--tryon-max-error-ratio",
        float,
        0.1,
        "threshold: share of failures other than 429 (default 0.1)",
    ),
    ("--tryon-min-goodput", float, None, "threshold: results per minute"),
    ("--tryon-report-dir", str, "reports", "where the load report is written"),
]
_CHOICES: dict[str, list[str]] = {
    "--tryon-body": ["multipart", "json", "mixed"],
    "--tryon-retry": ["none", "fixed", "backoff", "retry-after"],
    "--tryon-poll": ["fixed", "backoff"],
    "--tryon-shape": ["steady", "step", "spike"],
}


@events.init_command_line_parser.add_listener
def _options(parser: Any, **_kwargs: Any) -> None:
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


TIMELINE = Timeline()
_STARTED: dict[str, float] = {}


@events.init.add_listener
def _init(environment: Environment, **_kwargs: Any) -> None:
    options: Any = environment.parsed_options
    if options is None or isinstance(environment.runner, WorkerRunner):
        return
    if not environment.host:
        environment.host = _Embedded.start(options)
        options.tryon_key = options.tryon_key or DEFAULT_ACCOUNTS[0].key
        options.tryon_image_base_url = (
            options.tryon_image_base_url or f"{environment.host}/fixtures"
        )
        print(f"tryon: embedded simulator at {environment.host}", flush=True)
    elif not options.tryon_key:
        raise SystemExit("tryon: expected --tryon-key or TRYON_API_KEY with --host, got none")
    if options.tryon_body != "multipart" and not options.tryon_image_base_url:
        raise SystemExit("tryon: --tryon-body json needs --tryon-image-base-url against --host")


@events.request.add_listener
def _on_request(
    request_type: str, name: str, response_time: float, exception: Any, **_kw: Any
) -> None:
    TIMELINE.on_request(request_type, name, response_time, exception, time.time())


@events.report_to_master.add_listener
def _to_master(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    data["tryon_timeline"] = TIMELINE.export()


@events.worker_report.add_listener
def _from_worker(client_id: str, data: dict[str, Any], **_kw: Any) -> None:
    TIMELINE.merge(data.get("tryon_timeline", {}))


@events.test_start.add_listener
def _test_start(environment: Environment, **_kw: Any) -> None:
    _STARTED["at"] = time.time()


@events.quitting.add_listener
def _quitting(environment: Environment, **_kw: Any) -> None:
    if isinstance(environment.runner, WorkerRunner):
        return
    try:
        options: Any = environment.parsed_options
        duration = time.time() - _STARTED.get("at", time.time())
        summary = summarise(environment.stats.entries, duration, TIMELINE.ttr_ms())
        thresholds = Thresholds(
            options.tryon_max_p95_ttr,
            options.tryon_max_429_ratio,
            options.tryon_max_error_ratio,
            options.tryon_min_goodput,
        )
        broken = thresholds.broken(summary)
        for line in broken:
            print(f"tryon: threshold broken: {line}", flush=True)
        # The thresholds decide the exit code: a 429 is measured behaviour, not an error, so
        # Locust's own rule (1 on any failure) would fail every run that meets the limit.
        environment.process_exit_code = 3 if broken else 0
        if options.headless:
            settings = {
                "users": options.num_users,
                "retry": options.tryon_retry,
                "poll": f"{options.tryon_poll} {options.tryon_poll_interval:g} s",
                "body": options.tryon_body,
                "shape": options.tryon_shape,
                "workload": f"open, {options.tryon_arrival_rate:g}/s per user"
                if options.tryon_arrival_rate
                else "closed",
                "key": redact(options.tryon_key),
            }
            path = write_load_report(
                summary,
                TIMELINE.rows(),
                Path(options.tryon_report_dir),
                target=environment.host or "",
                settings=settings,
                broken=broken,
            )
            print(f"tryon: load report {path}", flush=True)
    finally:
        _Embedded.stop()


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
            cls.cache[key] = body
        return cls.cache[key]


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
            retry=RetryPolicy(options.tryon_retry, max_retries=options.tryon_max_retries),
            sleep=gevent.sleep,  # a waiting user yields to the others
            seed=None,
            record=False,
            on_answer=self._answered,
        )
        self.rng = random.Random()
        rate = options.tryon_arrival_rate
        self._wait = constant_throughput(rate) if rate > 0 else between(0.5, 1.5)

    def wait_time(self) -> float:
        return self._wait(self)

    # -- metrics -------------------------------------------------------------------------

    def _metric(
        self, kind: str, name: str, value: float = 0.0, exception: Exception | None = None
    ) -> None:
        self.environment.events.request.fire(
            request_type=kind,
            name=name,
            response_time=value,
            response_length=0,
            exception=exception,
            context={},
        )

    def _answered(self, response: httpx.Response, decision: RetryDecision | None) -> None:
        endpoint = response.request.extensions.get(NAME, response.request.url.path)
        retry_after = response.headers.get("retry-after")
        for kind, name in answer_metrics(
            endpoint, response.status_code, retry_after, decision, self.tryon.retry.kind
        ):
            self._metric(kind, name)

    def _ended(self, mode: str, started: float, problem: str | None) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        if problem is None:
            self._metric(TTR, mode, elapsed)
            self._metric(RESULT, mode)
        else:
            self._metric(TTR, mode, elapsed, RuntimeError(problem))

    # -- the scenarios ---------------------------------------------------------------------

    def _body(self, wait: bool) -> TryOnRequest:
        kind = self.options.tryon_body
        if kind == "mixed":
            kind = self.rng.choice(["json", "multipart"])
        return _Bodies.get(kind, wait, self.options.tryon_image_base_url)

    def sync_try_on(self) -> None:
        started = time.perf_counter()
        try:
            response = self.tryon.try_on(self._body(True))
        except httpx.TransportError as exc:
            self._ended("sync", started, f"no answer: {type(exc).__name__}")
            return
        ok = response.status_code == 200
        self._ended("sync", started, None if ok else f"no result: {response.status_code}")

    def polling_try_on(self) -> None:
        started = time.perf_counter()
        try:
            response = self.tryon.try_on(self._body(False))
            if response.status_code != 202:
                self._ended("polling", started, f"not accepted: {response.status_code}")
                return
            trace = follow_job(self.tryon, location_of(response), self.poll)
        except httpx.TransportError as exc:
            self._ended("polling", started, f"no answer: {type(exc).__name__}")
            return
        self._metric(POLLS, "polling", trace.polls)
        ended = trace.final or ("timed out" if trace.timed_out else "unknown")
        self._ended("polling", started, None if ended == "completed" else f"job ended {ended}")

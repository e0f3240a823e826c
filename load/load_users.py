"""The user base of the scenarios: a `TryOnClient` over Locust's HTTP client, and what each
try-on reports to the run's measures (load_support.METRICS)."""

from __future__ import annotations

import random
import time
from typing import Any, ClassVar

import gevent
import httpx
from load_support import METRICS, RUN
from locust import FastHttpUser, between
from locust.env import Environment

from tryon_suite.http.client import NAME, Stack, TryOnClient, TryOnRequest
from tryon_suite.http.polling import PollPolicy, follow_job, location_of
from tryon_suite.http.retry import RetryDecision, RetryPolicy, RetryState
from tryon_suite.http.secret import Secret
from tryon_suite.load.metrics import RESULT
from tryon_suite.load.transport import HTTP_MS, LocustTransport
from tryon_suite.spec.fixture_images import FixtureImages
from tryon_suite.spec.schemas import limit_profile


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
    if "retry_state" not in RUN:
        policy = RetryPolicy(options.tryon_retry, max_retries=options.tryon_max_retries)
        RUN["retry_state"] = policy.new_state(time.monotonic)
    state: RetryState = RUN["retry_state"]
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
            transport=Stack(
                LocustTransport(self.client),
                # one retry budget and one adaptive throttle per process, as an application
                # would keep them, not one per user
                retry=_shared_retry_state(options),
                seed=None,
                on_answer=self._answered,
                record=False,
                sleep=gevent.sleep,  # a waiting user yields to the others
            ),
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

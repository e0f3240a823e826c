"""Whether a live target is still answering, and how long each kind of request may wait.

A run against a live target must end promptly when the target dies or hangs, and must not
blame the API for a user's setup, nor the user for the API. The `Watch` a live target holds:
- gives each kind of request its own timeout (`Timeouts`: connect, a try-on that waits for its
  result, every other API call, a result download);
- ends the run at its deadline (`--tryon-deadline`);
- when a request gets no answer, asks the base URL once (`probe`: a keyless GET, answered by
  any HTTP status): if the target answers that, the failed request was the API's own failure
  (a result URL it handed out that cannot be fetched, an answer cut short, a request left
  unanswered), and the check it served fails; if not, the target stopped answering, and the
  run stops sending (`RunStopped`) and ends INCOMPLETE;
- watches from a thread of its own while requests are in flight: when no answer has come for
  a while and the probe gets none either, it stops the run and wakes the main thread
  (`on_stop`), so a hung target ends the run within a minute, not a sync try-on's timeout.

A client applies its watch through `WatchTransport`, around each attempt on the wire.
"""

from __future__ import annotations

import threading
import time
import unittest
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields, replace
from typing import Final, Literal

import httpx

from tryon_suite.errors import ConfigError, TryonError
from tryon_suite.http.wire import BOUND

__all__ = ["KIND", "RequestKind", "RunStopped", "Timeouts", "Watch", "WatchTransport", "answers"]

RequestKind = Literal["sync", "poll", "download"]

#: Per request: its `RequestKind`, which names its timeouts (default "poll").
KIND: Final = "tryon_suite.kind"


class RunStopped(TryonError, unittest.SkipTest):
    """The run stops sending: the target stopped answering, or the run's deadline passed.
    What was not examined is "not run", and the run is INCOMPLETE."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Timeouts:
    """Seconds each kind of request may take (`--tryon-timeout sync=120,poll=20`)."""

    #: to open a connection to the target
    connect: float = 10.0
    #: a try-on that waits for its result (wait_for_result=true): an image model's time
    sync: float = 180.0
    #: every other API call: a try-on that does not wait, a job's status, the balance
    poll: float = 30.0
    #: a result image, wherever its URL points
    download: float = 60.0

    @classmethod
    def parse(cls, text: str | None) -> Timeouts:
        """`kind=seconds` pairs, comma-separated; the kinds left out keep their default."""
        if not text or not text.strip():
            return cls()
        kinds = [f.name for f in fields(cls)]
        given: dict[str, float] = {}
        for pair in text.split(","):
            name, sep, value = pair.partition("=")
            name = name.strip()
            if not sep or name not in kinds:
                raise ConfigError(
                    f"--tryon-timeout: expected KIND=SECONDS with KIND one of {', '.join(kinds)}, "
                    f"got {pair.strip()!r}"
                )
            try:
                seconds = float(value)
            except ValueError:
                seconds = -1.0
            if not 0 < seconds <= 3600:
                raise ConfigError(
                    f"--tryon-timeout: expected {name}=SECONDS between 0 and 3600, got "
                    f"{value.strip()!r}"
                )
            given[name] = seconds
        return replace(cls(), **given)

    def text(self) -> str:
        return ", ".join(f"{f.name} {getattr(self, f.name):g} s" for f in fields(self))

    def of(self, kind: RequestKind) -> httpx.Timeout:
        read = {"sync": self.sync, "poll": self.poll, "download": self.download}[kind]
        return httpx.Timeout(read, connect=self.connect)


#: How long the probe may take to get any answer from the target.
PROBE_TIMEOUT: Final = 10.0


#: What the probe asks, keyless (any HTTP status is an answer): the documented job endpoint
#: first, then the balance, so one endpoint that stops answering (the failure a check judges)
#: is not taken for the whole target.
PROBE_PATHS: Final = ("/v1/try-on/job/tryon-suite-probe", "/v1/credits")


def answers(base_url: str, transport: httpx.BaseTransport | None = None) -> bool:
    """Whether the target answers at all: any HTTP status to a keyless GET of one of
    PROBE_PATHS."""
    with httpx.Client(timeout=PROBE_TIMEOUT, transport=transport) as http:
        for path in PROBE_PATHS:
            try:
                http.get(base_url.rstrip("/") + path)
            except httpx.HTTPError:
                continue
            return True
    return False


class Watch:
    """One live run's timeouts, deadline and liveness, shared by every client of the target."""

    def __init__(
        self,
        timeouts: Timeouts | None = None,
        *,
        deadline: float | None = None,
        probe: Callable[[], bool] | None = None,
        now: Callable[[], float] = time.monotonic,
        silence: float | None = None,
    ) -> None:
        """`deadline`: seconds from now the run may last; `probe`: whether the target answers
        (None: nothing to ask, as in process); `silence`: how long without an answer, while a
        request is in flight, before the watching thread asks the probe (default: the poll
        timeout, at most 20 s)."""
        self.timeouts = timeouts or Timeouts()
        self.now = now
        self.started = now()
        self.deadline = deadline
        self._probe = probe
        self.silence = silence if silence is not None else min(self.timeouts.poll, 20.0)
        #: why the run stopped sending (None while it goes on)
        self.stopped: str | None = None
        #: requests the probe sent
        self.probes = 0
        #: called once, from the thread that found it, when the run stops
        self.on_stop: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._last_answer = now()
        self._in_flight = 0
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what a client calls around each request -------------------------------------------

    @contextmanager
    def sending(self) -> Iterator[None]:
        """Around one request on the wire: refused once the run stopped or its deadline passed."""
        self.check()
        with self._lock:
            if self._in_flight == 0:
                self._last_answer = self.now()  # silence counts from the first in flight
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def check(self) -> None:
        """Raise RunStopped once the run has stopped, or when its deadline has passed."""
        if self.stopped is None and self._past_deadline():
            self.stop(
                f"the run's deadline of {self.deadline:g} s (--tryon-deadline) passed at {_clock()}"
            )
        if self.stopped is not None:
            raise RunStopped(self.stopped)

    def answered(self) -> None:
        with self._lock:
            self._last_answer = self.now()

    def failed(self, error: BaseException) -> None:
        """A request got no answer. Returns when the target still answers (the failure is the
        request's own, and its check judges it); raises RunStopped when it does not."""
        if self.stopped is not None:
            raise RunStopped(self.stopped) from error
        if self._probe is None or self._asked():
            return
        self.stop(f"the target stopped answering at {_clock()} ({type(error).__name__})")
        raise RunStopped(self.stopped or "") from error

    def stop(self, reason: str) -> None:
        """Stop the run (once): every request from now on raises RunStopped."""
        with self._lock:
            if self.stopped is not None:
                return
            self.stopped = reason
        if self.on_stop is not None:
            self.on_stop(reason)

    # -- the watching thread --------------------------------------------------------------

    def start(self) -> None:
        """Watch for a target that stops answering while requests wait on it."""
        if self._probe is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._watch, name="tryon-watch", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed.set()

    def _watch(self) -> None:
        tick = max(0.05, min(5.0, self.silence / 4))
        while not self._closed.wait(tick) and self.stopped is None:
            if self._past_deadline():
                with suppress(RunStopped):
                    self.check()
                continue
            with self._lock:
                silent = self._in_flight > 0 and self.now() - self._last_answer > self.silence
            if silent and not self._asked():
                self.stop(
                    f"the target stopped answering at {_clock()} (no answer for "
                    f"{self.silence:g} s, and none to a probe)"
                )

    def _past_deadline(self) -> bool:
        return self.deadline is not None and self.now() - self.started > self.deadline

    def _asked(self) -> bool:
        assert self._probe is not None
        self.probes += 1
        if self._probe():
            self.answered()
            return True
        return False


class WatchTransport(httpx.BaseTransport):
    """Applies a `Watch` to each attempt: the timeouts of its `KIND`, with the whole answer
    bound by the read timeout (`BOUND`); refused once the run has stopped or passed its
    deadline; counted in flight while it waits on the target. An attempt that gets no answer
    asks the watch whether the target still answers: RunStopped if not, else its own error."""

    def __init__(self, inner: httpx.BaseTransport, watch: Watch) -> None:
        self.inner = inner
        self.watch = watch

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        kind: RequestKind = request.extensions.get(KIND, "poll")
        request.extensions["timeout"] = self.watch.timeouts.of(kind).as_dict()
        request.extensions[BOUND] = True
        try:
            with self.watch.sending():
                response = self.inner.handle_request(request)
        except httpx.HTTPError as exc:
            self.watch.failed(exc)
            raise
        self.watch.answered()
        return response

    def close(self) -> None:
        self.inner.close()


def _clock() -> str:
    return time.strftime("%H:%M:%S")

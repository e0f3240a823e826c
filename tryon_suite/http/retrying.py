"""The transports that apply the retry policy and the run's pace to a client's requests.

`RetryTransport` drives one request's attempts through a `RetryLoop`: the adaptive throttle's
local refusals, 429 and transient 5xx retried as the policy decides (never a POST's 5xx), a
request refused through every retry asked once more alone, an attempt without an answer asked
once more where the target still answers others. `PaceTransport`, below it, makes each attempt
wait for its slot in the run's one `Pacer`, and tells the answer which pace it went at
(`Paced`), so that a 429 holds the whole run and slows the pace.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import httpx

from tryon_suite.http.exchange import exchange_of
from tryon_suite.http.request import NAME
from tryon_suite.http.retry import (
    Pacer,
    RetryDecision,
    RetryLoop,
    RetryPolicy,
    RetryState,
    parse_retry_after,
)
from tryon_suite.http.watch import RunStopped

__all__ = [
    "AGAIN",
    "ALONE",
    "PACE",
    "PACED",
    "RETRY",
    "LocallyThrottled",
    "OnAnswer",
    "PaceTransport",
    "Paced",
    "RetryTransport",
]

#: Per request: retry it as the policy says (False: the caller keeps the first answer).
RETRY: Final = "tryon_suite.retry"
#: Per request: how to build it afresh for another attempt (a body sent in chunks is sent in
#: the same chunks, the cookies an answer set go along); without it, it is sent again as it is.
AGAIN: Final = "tryon_suite.again"
#: Per request: wait for a slot in the run's pace (False: a download, a deliberate burst).
PACE: Final = "tryon_suite.pace"
#: Per request: go first after the run's hold, alone (`Pacer.wait`).
ALONE: Final = "tryon_suite.alone"
#: Per answer: the `Paced` it went at.
PACED: Final = "tryon_suite.paced"

#: Called with every answer and what the retry policy decided about it (None: not retried by
#: request of the caller); load scenarios count 429s, retries and give-ups through it.
OnAnswer = Callable[[httpx.Response, "RetryDecision | None"], None]


class LocallyThrottled(httpx.TransportError):
    """The client's adaptive throttle refused a request, and its retries, locally: nothing was
    sent. A transport error by kind, so code that handles "no answer" handles it too."""


@dataclass(frozen=True)
class Paced:
    """How an attempt was paced: the run's pacer, and the pace (`Pacer.generation`) its slot
    was handed out at (None: it went unpaced)."""

    pacer: Pacer
    slot: int | None


class PaceTransport(httpx.BaseTransport):
    """Makes each attempt wait for its slot in `pacer` (None: no pace), unless it asks not to
    (`PACE`), and hangs `Paced` on its answer for the retry transport above."""

    def __init__(self, inner: httpx.BaseTransport, pacer: Pacer | None = None) -> None:
        self.inner = inner
        self.pacer = pacer

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        pacer = self.pacer
        if pacer is None:
            return self.inner.handle_request(request)
        slot = None
        if request.extensions.get(PACE, True):
            slot = pacer.wait(alone=bool(request.extensions.get(ALONE, False)))
        response = self.inner.handle_request(request)
        response.extensions[PACED] = Paced(pacer, slot)
        return response

    def close(self) -> None:
        self.inner.close()


class RetryTransport(httpx.BaseTransport):
    """Sends a request's attempts to `inner` until an answer is kept, as `retry` (a policy, or
    the state several clients share) decides; counts `retries` and `locally_throttled`.

    `sleep` is what waits between attempts (a paced 429's wait is the pacer's hold instead);
    `now` the clock of the policy's own state; `seed` None draws backoff jitter unseeded.
    `on_answer` is told every answer and the decision on it. `ask_again`: an attempt without an
    answer (not a timeout) is asked once more, where a watch below vouched that the target
    still answers others."""

    def __init__(
        self,
        inner: httpx.BaseTransport,
        retry: RetryPolicy | RetryState | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.monotonic,
        seed: int | None = 0,
        on_answer: OnAnswer | None = None,
        ask_again: bool = False,
    ) -> None:
        self.inner = inner
        if not isinstance(retry, RetryState):
            retry = (retry or RetryPolicy("retry-after")).new_state(now)
        self.state = retry
        self.policy = retry.policy
        self.sleep = sleep
        self.on_answer = on_answer
        self.ask_again = ask_again
        self._rng = random.Random(seed)
        self.retries = 0
        #: attempts the adaptive throttle refused locally (never sent)
        self.locally_throttled = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        retry = bool(request.extensions.get(RETRY, True))
        loop = RetryLoop(self.state, self._rng)
        alone = False
        asked_again = False
        while True:
            refused = loop.admit()
            if refused is not None:
                self.locally_throttled += 1
                if not retry or refused.delay is None:
                    name = request.extensions.get(NAME) or f"{request.method} {request.url.path}"
                    raise LocallyThrottled(
                        f"expected the adaptive throttle to let {name} go, it refused it "
                        f"locally ({refused.reason}); nothing was sent",
                        request=request,
                    )
                self.retries += 1
                self.sleep(refused.delay)
                request = _again(request, alone)
                continue
            try:
                response = self.inner.handle_request(request)
            except httpx.HTTPError as exc:
                loop.failed()
                # The target still answers others (a watch below would have raised
                # RunStopped): the request's own failure, raised for its check to judge once
                # asked again. A connection closed or reset as it was reused is the
                # network's, not the API's; a request that waited its whole timeout is not
                # sent twice.
                if not self.ask_again or asked_again or isinstance(exc, httpx.TimeoutException):
                    raise
                asked_again = True
                _note(request, f"{exc!r}; the target answered others: asked once more")
                request = _again(request, alone)
                continue
            except RunStopped as stopped:
                if isinstance(stopped.__cause__, httpx.HTTPError):
                    loop.failed()  # sent, and no answer: the target stopped answering
                raise
            paced: Paced | None = response.extensions.get(PACED)
            if not retry or (request.method == "POST" and response.status_code >= 500):
                # A POST that may have started paid work is not sent twice on a 5xx.
                loop.answered(response.status_code, None, retry=False)
                self._answered(response, None)
                self._hold_on_429(response, paced)
                return response
            decision = loop.answered(response.status_code, response.headers.get("retry-after"))
            self._answered(response, decision)
            if decision.gave_up and self._ask_alone(response, paced, alone):
                alone = True
                request = _again(request, alone)
                continue
            if decision.delay is None:
                self._hold_on_429(response, paced)
                return response
            self.retries += 1
            _note(response, f"retried after {decision.delay:.2f} s ({decision.reason})")
            if response.status_code == 429 and paced is not None and paced.slot is not None:
                # the whole run waits, not only this request: the pacer holds every sender,
                # and goes slower after (the pace was above the target's limit)
                paced.pacer.slow_down(paced.slot)
                paced.pacer.hold(decision.delay)
            else:
                self.sleep(decision.delay)
            request = _again(request, alone)

    def _ask_alone(self, response: httpx.Response, paced: Paced | None, asked: bool) -> bool:
        """A paced request refused 429 through every retry is asked once more, alone: the whole
        run pauses for the 429's wait, then it goes first. Many threads under one limit can
        starve one request; a request refused even then was refused for itself, and the check
        that keeps that 429 judges an answer the limit alone does not explain."""
        if asked or paced is None or paced.slot is None or response.status_code != 429:
            return False
        wait = self._hold_on_429(response, paced)
        self.retries += 1
        _note(
            response,
            f"refused through every retry: asked once more, alone, after the run paused "
            f"{wait:.2f} s",
        )
        return True

    def _hold_on_429(self, response: httpx.Response, paced: Paced | None) -> float:
        """A 429 the caller keeps (a check provoking it, a policy that gave up) still pauses
        the run's other senders for what it asked: the limit is the account's, not one test's.
        Refusing a paced request, it also slows the pace (a burst's refusals do not). Returns
        the pause (0: none)."""
        if response.status_code != 429 or paced is None:
            return 0.0
        if paced.slot is not None:
            paced.pacer.slow_down(paced.slot)
        asked = parse_retry_after(response.headers.get("retry-after"))
        wait = 1.0 if asked is None else min(asked, self.policy.max_delay)
        paced.pacer.hold(wait)
        return wait

    def _answered(self, response: httpx.Response, decision: RetryDecision | None) -> None:
        if self.on_answer is not None:
            self.on_answer(response, decision)

    def close(self) -> None:
        self.inner.close()


def _again(request: httpx.Request, alone: bool) -> httpx.Request:
    """The request for the next attempt: built afresh where its sender says how (`AGAIN`)."""
    build: Callable[[], httpx.Request] | None = request.extensions.get(AGAIN)
    fresh = build() if build is not None else request
    if alone:
        fresh.extensions[ALONE] = True
    return fresh


def _note(message: httpx.Response | httpx.Request, note: str) -> None:
    """Say on the recorded exchange of an attempt why another followed (none: not recorded)."""
    exchange = exchange_of(message)
    if exchange is not None:
        exchange.note = note

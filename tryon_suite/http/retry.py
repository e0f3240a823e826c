"""When to retry and how long to wait: 429 and transient 5xx, as the vendor's guides advise.

One policy serves the contract suite (against live targets), the load scenarios and the policy
lab (`tryon-suite policies`) alike. `RetryPolicy.decide` is pure: one answer in, one decision
out. What a policy remembers across requests (a retry budget's tokens, the adaptive throttle's
counts) is a `RetryState` the client owns, and one request's way through both is a `RetryLoop`,
which every sender drives the same way: the sync client, Locust's users and the async lab.
"""

from __future__ import annotations

import email.utils
import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from tryon_suite.errors import ConfigError

__all__ = [
    "OVERLOADED",
    "POLICY_KINDS",
    "RETRYABLE",
    "Pacer",
    "PolicyKind",
    "RetryDecision",
    "RetryLoop",
    "RetryPolicy",
    "RetryState",
    "parse_retry_after",
]

#: API.md: retry only 429 and transient 5xx. A 500 is not retried: it may be the answer under test.
RETRYABLE: Final = frozenset({429, 502, 503, 504})

#: Answers that say "too much, not now": the adaptive throttle does not count them accepted.
OVERLOADED: Final = frozenset({429, 503})

PolicyKind = Literal[
    "none", "fixed", "backoff", "decorrelated", "retry-after", "budget", "adaptive"
]
#: Every kind, in the order tables list them (a Locust option's choices, the lab's policies).
POLICY_KINDS: Final[tuple[PolicyKind, ...]] = (
    "none",
    "fixed",
    "backoff",
    "decorrelated",
    "retry-after",
    "budget",
    "adaptive",
)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (RFC 9110: seconds or an HTTP date); None if bad."""
    if value is None:
        return None
    text = value.strip()
    if re.fullmatch(r"[0-9]+", text):
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        # asctime() form: no zone written, GMT by definition (RFC 9110 section 5.6.7); a
        # recipient must accept all three forms
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class RetryDecision:
    """What to do after one answer: retry after `delay` seconds, or stop (`delay` is None);
    `gave_up` when the answer was worth retrying but the policy's retries are spent."""

    delay: float | None
    reason: str
    gave_up: bool = False


@dataclass(frozen=True)
class RetryPolicy:
    """How a client retries 429 and transient 5xx, one of `POLICY_KINDS`:

    - none: never; fixed: after `fixed_delay`;
    - backoff: exponential backoff with full jitter, uniform(0, min(max_delay, base * 2^n));
    - decorrelated: decorrelated jitter, min(max_delay, uniform(base, previous delay * 3));
    - retry-after: the answer's Retry-After, else backoff;
    - budget: as retry-after, but each retry spends a token of a bucket that every first
      attempt fills by `budget_ratio` (at most `budget_cap` tokens): no token, no retry;
    - adaptive: client-side throttling (Google SRE book, "Handling Overload"): every attempt is
      refused locally with probability max(0, (requests - K * accepts) / (requests + 1)) over
      the trailing `adaptive_window` seconds, K = `adaptive_k`; retries back off as backoff.

    The AWS architecture blog ("Exponential Backoff and Jitter") names the jitters."""

    kind: PolicyKind = "retry-after"
    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    fixed_delay: float = 1.0
    budget_ratio: float = 0.1
    budget_cap: float = 10.0
    adaptive_k: float = 2.0
    adaptive_window: float = 120.0

    def __post_init__(self) -> None:
        if self.kind not in POLICY_KINDS:
            raise ConfigError(
                f"expected a retry policy among {', '.join(POLICY_KINDS)}, got {self.kind!r}"
            )
        if self.max_retries < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise ConfigError("expected max_retries, base_delay and max_delay >= 0")
        if self.budget_ratio < 0 or self.budget_cap < 0:
            raise ConfigError(
                f"expected budget_ratio and budget_cap >= 0, got {self.budget_ratio!r} and "
                f"{self.budget_cap!r}"
            )
        if self.adaptive_k <= 0 or self.adaptive_window <= 0:
            raise ConfigError(
                f"expected adaptive_k and adaptive_window > 0, got {self.adaptive_k!r} and "
                f"{self.adaptive_window!r}"
            )

    def decide(
        self,
        attempt: int,
        status: int,
        retry_after: str | None,
        rng: random.Random,
        previous: float | None = None,
    ) -> RetryDecision:
        """`attempt` counts retries already made (0 after the first answer); `previous` is the
        last delay waited (decorrelated jitter grows from it; None: none yet)."""
        if status not in RETRYABLE:
            return RetryDecision(None, f"{status} is not retried")
        if self.kind == "none":
            return RetryDecision(None, "policy none")
        if attempt >= self.max_retries:
            return RetryDecision(None, f"gave up after {attempt} retries", gave_up=True)
        if self.kind == "fixed":
            return RetryDecision(self.fixed_delay, "fixed delay")
        if self.kind == "decorrelated":
            grown = max(self.base_delay, previous if previous is not None else 0.0) * 3
            delay = min(self.max_delay, rng.uniform(self.base_delay, grown))
            return RetryDecision(delay, "decorrelated jitter")
        if self.kind in ("retry-after", "budget"):
            seconds = parse_retry_after(retry_after)
            if seconds is not None:
                return RetryDecision(min(seconds, self.max_delay), "Retry-After")
        # exponential backoff with full jitter (AWS architecture blog), capped
        ceiling = min(self.max_delay, self.base_delay * math.pow(2, attempt))
        return RetryDecision(rng.uniform(0, ceiling), "backoff")

    def new_state(self, now: Callable[[], float] = time.monotonic) -> RetryState:
        """The memory this policy keeps across requests, on the clock `now`: one per client (or
        one shared by every client of a run, to budget or throttle the run as a whole)."""
        return RetryState(self, now)


class RetryState:
    """What a policy remembers across requests, safe to share between threads: the retry
    budget's tokens (kind budget) and the requests and accepts of the trailing window (kind
    adaptive), plus counts of what it allowed and refused."""

    def __init__(self, policy: RetryPolicy, now: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._now = now
        self._lock = threading.Lock()
        # a budget starts full: a client that just started may retry a burst's refusals
        self.tokens = policy.budget_cap
        self._requests: deque[float] = deque()
        self._accepts: deque[float] = deque()
        #: attempts the policy let go (sent), first attempts among them, retries allowed,
        #: attempts refused locally (adaptive), retries refused for want of a token (budget)
        self.first_attempts = 0
        self.retries = 0
        self.rejected = 0
        self.budget_refusals = 0

    def rejection_probability(self) -> float:
        """The adaptive throttle's chance of refusing the next attempt now (0 for other kinds)."""
        with self._lock:
            return self._probability(self._now())

    def _probability(self, now: float) -> float:
        if self.policy.kind != "adaptive":
            return 0.0
        horizon = now - self.policy.adaptive_window
        for times in (self._requests, self._accepts):
            while times and times[0] <= horizon:
                times.popleft()
        requests, accepts = len(self._requests), len(self._accepts)
        return max(0.0, (requests - self.policy.adaptive_k * accepts) / (requests + 1))

    def admit(self, rng: random.Random, *, first: bool) -> bool:
        """Whether an attempt may go (False: the adaptive throttle refuses it locally); a first
        attempt fills the retry budget. A refused attempt counts as a request at once; a sent one
        when it ends (`observe`), so a slow answer in flight does not look like a refusal."""
        with self._lock:
            now = self._now()
            if first:
                self.first_attempts += 1
                self.tokens = min(self.policy.budget_cap, self.tokens + self.policy.budget_ratio)
            refuse = self._probability(now)
            if refuse > 0 and rng.random() < refuse:
                self.rejected += 1
                self._requests.append(now)
                return False
            return True

    def observe(self, status: int | None) -> None:
        """A sent attempt ended: answered `status`, or None for no answer. The adaptive
        throttle counts it a request, and accepted unless the backend said it is overloaded
        (`OVERLOADED`) or did not answer."""
        if self.policy.kind != "adaptive":
            return
        with self._lock:
            now = self._now()
            self._requests.append(now)
            if status is not None and status not in OVERLOADED:
                self._accepts.append(now)

    def spend_retry(self) -> bool:
        """Whether a retry may go: kind budget takes a token (none left: no); others always."""
        with self._lock:
            if self.policy.kind == "budget":
                if self.tokens < 1.0:
                    self.budget_refusals += 1
                    return False
                self.tokens -= 1.0
            self.retries += 1
            return True


class RetryLoop:
    """One request's retries, without I/O: ask `admit()` before each attempt, tell `answered()`
    each answer, and wait or stop as the decision says. The sync client and the async lab both
    drive it, so a policy behaves the same under each."""

    def __init__(self, state: RetryState, rng: random.Random) -> None:
        self.state = state
        self.rng = rng
        self.attempt = 0
        self.previous: float | None = None
        self._started = False

    def admit(self) -> RetryDecision | None:
        """None: send the attempt. Else it was refused locally (adaptive throttling), and the
        decision says what follows: another attempt after `delay`, or give up."""
        first = not self._started
        self._started = True
        if self.state.admit(self.rng, first=first):
            return None
        decision = self._next(429, None)
        reason = "locally throttled" + (f", {decision.reason}" if decision.delay is None else "")
        return RetryDecision(decision.delay, reason, gave_up=decision.delay is None)

    def failed(self) -> None:
        """The attempt got no answer (a transport error): a request, not accepted."""
        self.state.observe(None)

    def answered(
        self, status: int, retry_after: str | None, *, retry: bool = True
    ) -> RetryDecision:
        """The decision on an answer (`retry` False: the caller keeps it as it is)."""
        self.state.observe(status)
        if not retry:
            return RetryDecision(None, "not retried by request")
        return self._next(status, retry_after)

    def _next(self, status: int, retry_after: str | None) -> RetryDecision:
        policy = self.state.policy
        decision = policy.decide(self.attempt, status, retry_after, self.rng, self.previous)
        if decision.delay is not None and not self.state.spend_retry():
            return RetryDecision(None, "retry budget spent", gave_up=True)
        if decision.delay is not None:
            self.attempt += 1
            self.previous = decision.delay
        return decision


class Pacer:
    """Client-side token bucket: spaces requests to stay under a rate, on a given clock.

    One pacer serves a whole run, every thread of it: a request takes the next free slot under
    a lock and sleeps outside it, so concurrent senders queue instead of bursting. `hold`
    pushes every slot past a 429's wait, those already handed out included: one refusal pauses
    the run, not one thread.
    `slow_down` lowers the rate when a paced request is refused all the same: the target's
    limit lies below the pace (5/s is only "common")."""

    #: a paced request refused 429 multiplies the rate by this, once per pace (requests sent
    #: at a pace already lowered do not lower it again), down to MIN_RATE
    SLOW_DOWN = 0.8
    MIN_RATE = 0.25

    def __init__(
        self,
        rate: float,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        burst: int = 1,
    ) -> None:
        self.rate = rate
        #: the rate the run started at (`rate` is lower once the target refused the pace)
        self.initial_rate = rate
        #: bumped at each slow-down: which pace a slot was handed out at
        self.generation = 0
        self._now = now
        self._sleep = sleep
        self._capacity = float(max(1, burst))
        self._tokens = self._capacity
        self._updated = now()
        self._held_until = -math.inf
        self._lock = threading.Lock()

    def wait(self, *, alone: bool = False) -> int:
        """Block until a request may go; a rate of 0 never waits (a hold still does). Returns
        the pace's generation, for `slow_down`.

        A hold placed while a request slept toward its slot sends it back to queue behind the
        hold: one refusal pauses the run, requests already queued included. `alone`: the first
        slot after the hold, ahead of every queued request, the next one a slot later (a
        request asked once more by itself, after the whole run paused)."""
        while True:
            with self._lock:
                generation = self.generation
                now = self._now()
                start = max(now, self._held_until)
                if alone:
                    self._held_until = start + (1.0 / self.rate if self.rate > 0 else 0.0)
                elif self.rate > 0:
                    # slots already handed out lie ahead of now: queue behind them
                    start = max(start, self._updated)
                    tokens = min(self._capacity, self._tokens + (start - self._updated) * self.rate)
                    if tokens < 1.0:
                        start += (1.0 - tokens) / self.rate
                        tokens = 1.0
                    self._tokens = tokens - 1.0
                    self._updated = start
            if start > now:
                self._sleep(start - now)
            with self._lock:
                if alone or self._held_until <= start:
                    return generation

    def hold(self, seconds: float) -> None:
        """No request of the run goes for `seconds` (a 429's Retry-After, or its backoff)."""
        with self._lock:
            self._held_until = max(self._held_until, self._now() + max(0.0, seconds))

    def slow_down(self, generation: int) -> None:
        """A request paced at `generation` was refused 429: later slots come slower, unless
        the pace was lowered since that request went."""
        with self._lock:
            if self.rate <= 0 or generation != self.generation:
                return
            self.generation += 1
            self.rate = min(self.rate, max(self.MIN_RATE, self.rate * self.SLOW_DOWN))

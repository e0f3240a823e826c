"""When to retry and how long to wait: 429 and transient 5xx, as the vendor's guides advise.

One policy serves the contract suite (against live targets) and the load scenarios alike.
"""

from __future__ import annotations

import email.utils
import math
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

from tryon_suite.errors import ConfigError

__all__ = [
    "RETRYABLE",
    "Pacer",
    "RetryDecision",
    "RetryPolicy",
    "parse_retry_after",
]

#: API.md: retry only 429 and transient 5xx. A 500 is not retried: it may be the answer under test.
RETRYABLE: Final = frozenset({429, 502, 503, 504})

PolicyKind = Literal["none", "fixed", "backoff", "retry-after"]


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
    """none, fixed delay, exponential backoff with full jitter, or Retry-After then backoff."""

    kind: PolicyKind = "retry-after"
    max_retries: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    fixed_delay: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in ("none", "fixed", "backoff", "retry-after"):
            raise ConfigError(
                "expected a retry policy among none, fixed, backoff, retry-after, "
                f"got {self.kind!r}"
            )
        if self.max_retries < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise ConfigError("expected max_retries, base_delay and max_delay >= 0")

    def decide(
        self, attempt: int, status: int, retry_after: str | None, rng: random.Random
    ) -> RetryDecision:
        """`attempt` counts retries already made (0 after the first answer)."""
        if status not in RETRYABLE:
            return RetryDecision(None, f"{status} is not retried")
        if self.kind == "none":
            return RetryDecision(None, "policy none")
        if attempt >= self.max_retries:
            return RetryDecision(None, f"gave up after {attempt} retries", gave_up=True)
        if self.kind == "fixed":
            return RetryDecision(self.fixed_delay, "fixed delay")
        if self.kind == "retry-after":
            seconds = parse_retry_after(retry_after)
            if seconds is not None:
                return RetryDecision(min(seconds, self.max_delay), "Retry-After")
        # exponential backoff with full jitter (AWS architecture blog), capped
        ceiling = min(self.max_delay, self.base_delay * math.pow(2, attempt))
        return RetryDecision(rng.uniform(0, ceiling), "backoff")


class Pacer:
    """Client-side token bucket: spaces requests to stay under a rate, on a given clock.

    One pacer serves a whole run, every thread of it: a request takes the next free slot under
    a lock and sleeps outside it, so concurrent senders queue instead of bursting. `hold`
    pushes every later slot past a 429's wait: one refusal pauses the run, not one thread."""

    def __init__(
        self,
        rate: float,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        burst: int = 1,
    ) -> None:
        self.rate = rate
        self._now = now
        self._sleep = sleep
        self._capacity = float(max(1, burst))
        self._tokens = self._capacity
        self._updated = now()
        self._held_until = -math.inf
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until a request may go; a rate of 0 never waits (a hold still does)."""
        with self._lock:
            now = self._now()
            start = max(now, self._held_until)
            if self.rate > 0:
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

    def hold(self, seconds: float) -> None:
        """No request of the run goes for `seconds` (a 429's Retry-After, or its backoff)."""
        with self._lock:
            self._held_until = max(self._held_until, self._now() + max(0.0, seconds))

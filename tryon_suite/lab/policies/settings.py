"""What one lab run is: its settings and the arrival trace every policy and mode shares."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Final, Literal

from tryon_suite.errors import ConfigError
from tryon_suite.http.polling import PollPolicy
from tryon_suite.http.retry import POLICY_KINDS, PolicyKind, RetryPolicy
from tryon_suite.http.secret import Secret

__all__ = ["MODES", "LabSettings", "Mode", "arrival_trace"]

Mode = Literal["sync", "polling"]
MODES: Final[tuple[Mode, ...]] = ("sync", "polling")

#: where the in-process simulator says it lives (RFC 2606: never a real host)
BASE: Final = "https://policies.test"


@dataclass(frozen=True)
class LabSettings:
    """One lab run: the trace, the policies and modes, and the target."""

    rate: float = 8.0
    duration: float = 300.0
    seed: int = 0
    modes: tuple[Mode, ...] = MODES
    policies: tuple[PolicyKind, ...] = POLICY_KINDS
    max_retries: int = 5
    processing_time: float = 2.0
    rate_limit: float = 5.0
    poll: PollPolicy = field(default_factory=lambda: PollPolicy(wait_first=True))
    host: str | None = None
    keys: tuple[Secret, ...] = ()
    #: processes for the in-process runs (each run is independent: the table is the same)
    jobs: int = 1
    #: in process: the median round trip of a request, seconds (see `NetworkLatency`)
    latency: float = 0.0

    def __post_init__(self) -> None:
        if self.poll.timeout > 3600:
            raise ConfigError(
                f"expected a poll timeout of an hour at most, got {self.poll.timeout!r}"
            )
        for name in ("rate", "duration"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"expected --{name} > 0, got {value!r}")
        if self.processing_time < 0 or self.rate_limit < 0 or self.max_retries < 0:
            raise ConfigError(
                "expected --processing-time, --rate-limit and --max-retries >= 0, got "
                f"{self.processing_time!r}, {self.rate_limit!r} and {self.max_retries!r}"
            )
        if not (math.isfinite(self.latency) and 0 <= self.latency <= 60):
            raise ConfigError(
                f"expected --latency-ms between 0 and 60000, got {self.latency * 1000:g}"
            )
        if self.host is not None and not self.keys:
            raise ConfigError(
                "expected an API key for --host in TRYON_API_KEY, TRYON_API_KEYS or --key-env, "
                "got none"
            )

    def policy(self, kind: PolicyKind) -> RetryPolicy:
        return RetryPolicy(kind, max_retries=self.max_retries)


def arrival_trace(rate: float, duration: float, seed: int) -> list[float]:
    """Seconds from the start at which each try-on arrives: a Poisson process, the same for
    every policy and mode of a seed."""
    rng = random.Random(seed)
    times: list[float] = []
    t = rng.expovariate(rate)
    while t < duration:
        times.append(t)
        t += rng.expovariate(rate)
    return times

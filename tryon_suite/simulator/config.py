"""What a simulator is: its accounts, limits and faults, as one frozen value."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from tryon_suite.errors import ConfigError
from tryon_suite.simulator.readings import Readings
from tryon_suite.spec.schemas import LimitProfile, limit_profile

__all__ = [
    "DEFAULT_ACCOUNTS",
    "DEMO_KEY",
    "NO_CREDITS_KEY",
    "OTHER_KEY",
    "Account",
    "SimulatorConfig",
    "parse_account",
]


@dataclass(frozen=True)
class Account:
    """One API key and its opening credit balance."""

    key: str
    credits: int


#: The first default key, funded: the one a quickstart, a test or a benchmark sends unless told.
DEMO_KEY: Final = "tryon-demo-key"
#: A second funded account's key (the isolation checks) and a key with no credits (the 403s).
OTHER_KEY: Final = "tryon-other-key"
NO_CREDITS_KEY: Final = "tryon-no-credits-key"

#: The documented default keys: two funded accounts (for isolation checks) and one with none.
#: They are test fixtures, not secrets, and are printed in full by `tryon-mock`.
DEFAULT_ACCOUNTS: Final[tuple[Account, ...]] = (
    Account(DEMO_KEY, 1_000_000),
    Account(OTHER_KEY, 1_000_000),
    Account(NO_CREDITS_KEY, 0),
)

DEFAULT_CREDITS: Final = 1000


def parse_account(spec: str) -> Account:
    """Read `KEY[:CREDITS]`, as `tryon-mock --key` takes it."""
    key, sep, credits_text = spec.partition(":")
    if not key or any(c.isspace() for c in key):
        raise ConfigError(
            f"expected KEY[:CREDITS] with a non-empty key and no spaces, got {spec!r}"
        )
    if not sep:
        return Account(key, DEFAULT_CREDITS)
    try:
        credits = int(credits_text)
    except ValueError:
        credits = -1
    if credits < 0:
        raise ConfigError(
            f"expected CREDITS to be a whole number >= 0 in KEY[:CREDITS], got {credits_text!r}"
        )
    return Account(key, credits)


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything that makes one simulator differ from another; times are in seconds."""

    accounts: tuple[Account, ...] = DEFAULT_ACCOUNTS
    #: requests per second per key (API.md: commonly 5); 0 turns rate limiting off
    rate_limit: float = 5.0
    #: how many requests a key may send at once before the rate applies; default: one second's
    burst: int | None = None
    processing_time: float = 2.0
    #: processing time varies uniformly within +/- this fraction of it
    processing_spread: float = 0.0
    #: share of the processing time a polled job spends pending before it runs
    queue_share: float = 0.1
    #: share of try-on requests answered 500 on purpose
    fail_rate: float = 0.0
    #: share of polled jobs that end failed (content filter), credits refunded
    job_failure_rate: float = 0.0
    #: latency added to every API answer
    latency: float = 0.0
    limits: LimitProfile = field(default_factory=limit_profile)
    credits_per_try_on: int = 1
    result_ttl: float = 3600.0
    job_ttl: float = 3600.0
    max_jobs: int = 20_000
    max_results: int = 5_000
    fetch_timeout: float = 10.0
    #: the answer to each open point of API.md (`readings.Readings`); the default is ours
    readings: Readings = field(default_factory=Readings)
    #: `tryon-mock --location`: when given, the Location form over `readings.location`
    #: (relative: an absolute path, /v1/try-on/job/ID)
    location: Literal["absolute", "relative"] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        keys = [account.key for account in self.accounts]
        if not keys:
            raise ConfigError("expected at least one account, got none")
        if len(set(keys)) != len(keys):
            raise ConfigError(f"expected distinct keys, got {len(keys) - len(set(keys))} repeated")
        for name in ("rate_limit", "processing_time", "latency", "fetch_timeout"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"expected a finite {name}, got {getattr(self, name)!r}")
            if getattr(self, name) < 0:
                raise ConfigError(f"expected {name} >= 0, got {getattr(self, name)!r}")
        for name in ("fail_rate", "job_failure_rate", "processing_spread", "queue_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:  # also refuses nan
                raise ConfigError(f"expected {name} between 0 and 1, got {getattr(self, name)!r}")
        if self.burst is not None and self.burst < 1:
            raise ConfigError(f"expected burst >= 1, got {self.burst!r}")
        if self.max_jobs < 1 or self.max_results < 1:
            raise ConfigError("expected max_jobs and max_results >= 1")

    @property
    def served_readings(self) -> Readings:
        """The readings served: `readings`, with the Location form `location` names."""
        if self.location is None:
            return self.readings
        return replace(
            self.readings, location="absolute" if self.location == "absolute" else "path"
        )

    @property
    def bucket_size(self) -> int:
        """Tokens a key starts with: the burst, or one second's worth of the rate."""
        if self.burst is not None:
            return self.burst
        return max(1, round(self.rate_limit))

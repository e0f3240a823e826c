"""Per-key token buckets: the rate limit the simulator enforces (API.md: commonly 5/s)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TokenBucket"]


@dataclass
class TokenBucket:
    """`capacity` tokens, refilled at `rate` per second; each request takes one."""

    rate: float
    capacity: int
    tokens: float
    updated: float

    @classmethod
    def full(cls, rate: float, capacity: int, now: float) -> TokenBucket:
        return cls(rate=rate, capacity=capacity, tokens=float(capacity), updated=now)

    def take(self, now: float) -> float:
        """Take a token: 0.0 when granted, else the seconds until one will be there."""
        if self.rate <= 0:
            return 0.0
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(float(self.capacity), self.tokens + elapsed * self.rate)
        self.updated = max(self.updated, now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

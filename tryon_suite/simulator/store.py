"""What the simulator remembers: polled jobs, and result images under an id until they expire.

Every store is bounded, oldest first, so a long load run holds a fixed amount of memory
whatever it sends.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

from tryon_suite.spec.images import compose_result

__all__ = ["Job", "Jobs", "Results"]

_COMPOSE_CACHE_SIZE: Final = 64
_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass
class Job:
    """A polled try-on; its status is a function of the clock, so it can never go back."""

    job_id: str
    owner: str
    started: float
    running_at: float
    done_at: float
    outcome: Literal["completed", "failed"]
    result: bytes | None
    result_id: str | None = None
    #: a failed job's error (`message`, `error_code`); None: the content filter's
    error: dict[str, str] | None = None

    def status(self, now: float) -> str:
        if now < self.running_at:
            return "pending"
        if now < self.done_at:
            return "running"
        return self.outcome


@dataclass(frozen=True)
class _Result:
    expires: float
    jpeg: bytes


def _trim(held: OrderedDict[_K, _V], limit: int) -> None:
    while len(held) > limit:
        held.popitem(last=False)


def _forget_expired(held: OrderedDict[_K, _V], now: float, expires: Callable[[_V], float]) -> None:
    """Drop entries from the oldest on, up to the first one still valid: ids are issued in
    time order, so that is where expiry stops."""
    while held:
        oldest = next(iter(held.values()))
        if expires(oldest) > now:
            break
        held.popitem(last=False)


class Jobs(OrderedDict[str, Job]):
    """Jobs by id, oldest first: forgotten `ttl` after they end, or past `limit` of them."""

    def __init__(self, limit: int, ttl: float) -> None:
        super().__init__()
        self._limit = limit
        self._ttl = ttl

    def add(self, job: Job) -> None:
        self[job.job_id] = job
        _trim(self, self._limit)

    def prune(self, now: float) -> None:
        """Forget ended jobs past their ttl, oldest first."""
        _forget_expired(self, now, lambda job: job.done_at + self._ttl)


class Results:
    """Result JPEGs by id, each until it expires; past `limit` of them, the oldest goes first."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._kept: OrderedDict[str, _Result] = OrderedDict()
        self._composed: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def compose(self, person: bytes, garment: bytes) -> bytes:
        """The result JPEG, cached by content: repeated inputs (load runs) cost nothing."""
        digest = (hashlib.sha1(person).hexdigest(), hashlib.sha1(garment).hexdigest())
        cached = self._composed.get(digest)
        if cached is None:
            cached = self._composed[digest] = compose_result(person, garment)
            _trim(self._composed, _COMPOSE_CACHE_SIZE)
        else:
            self._composed.move_to_end(digest)
        return cached

    def keep(self, result_id: str, jpeg: bytes, expires: float) -> None:
        self._kept[result_id] = _Result(expires, jpeg)
        _trim(self._kept, self._limit)

    def get(self, result_id: str, now: float) -> bytes | None:
        """The JPEG while its URL is valid; None once it expired (or never was)."""
        stored = self._kept.get(result_id)
        if stored is None or stored.expires <= now:
            return None
        return stored.jpeg

    def prune(self, now: float) -> None:
        """Forget expired results, oldest first."""
        _forget_expired(self._kept, now, lambda result: result.expires)

    def __contains__(self, result_id: object) -> bool:
        return result_id in self._kept

    def __len__(self) -> int:
        return len(self._kept)

"""Evidence: what a check examined and what it concluded, clause by clause.

A clause holds only on evidence: an answer that could have failed it and did not. Checks call
`held(...)` when an assertion passes on a real answer; a failure is a `ContractViolation`,
turned into failing evidence by `outcomes.outcome_of`. The plugin opens a `Collector` around each
test call; outside one (a load run, a script) recording is a no-op.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Final, Literal, NoReturn

import httpx
import pytest

from tryon_suite.exchange import Exchange, exchange_of

__all__ = ["NOT_CHECKED", "Collector", "Evidence", "collecting", "held", "not_checked", "observed"]

#: How a skip says "not checked" (the report shows the reason after it).
NOT_CHECKED: Final = "not checked: "

Verdict = Literal["held", "failed", "observed"]


@dataclass(frozen=True)
class Evidence:
    """One assertion about one clause, made on one recorded exchange (when there was one)."""

    clause: str
    verdict: Verdict
    expected: str
    received: str = ""
    exchange: Exchange | None = None


@dataclass
class Collector:
    """The evidence one test gathered."""

    items: list[Evidence] = field(default_factory=list)

    def add(self, item: Evidence) -> None:
        self.items.append(item)


_CURRENT: ContextVar[Collector | None] = ContextVar("tryon_evidence", default=None)


@contextlib.contextmanager
def collecting() -> Iterator[Collector]:
    """Gather the evidence recorded inside the block."""
    collector = Collector()
    token = _CURRENT.set(collector)
    try:
        yield collector
    finally:
        _CURRENT.reset(token)


def _describe(response: httpx.Response | None) -> str:
    if response is None:
        return ""
    return f"{response.status_code} {response.headers.get('content-type', '')}".strip()


def held(clause: str, expected: str, response: httpx.Response | None = None) -> None:
    """`clause` held on `response`: the check asserted `expected` and the answer met it."""
    collector = _CURRENT.get()
    if collector is not None:
        collector.add(
            Evidence(clause, "held", expected, _describe(response), exchange_of(response))
        )


def observed(clause: str, text: str, response: httpx.Response | None = None) -> None:
    """An open point's reading, recorded (never judged)."""
    collector = _CURRENT.get()
    if collector is not None:
        collector.add(Evidence(clause, "observed", "", text, exchange_of(response)))


def not_checked(reason: str) -> NoReturn:
    """Stop this check and report it "not checked" with the reason: no evidence, so never
    passed."""
    pytest.skip(NOT_CHECKED + reason)

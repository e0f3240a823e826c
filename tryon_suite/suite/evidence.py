"""Evidence: what a check examined and what it concluded, clause by clause.

A clause holds only on evidence: an answer that could have failed it and did not. Checks call
`held(...)` when an assertion passes on a real answer; a failure is a `ContractViolation`,
turned into failing evidence by `outcomes.outcome_of`. The plugin opens a `Collector` around each
test call; outside one (a load run, a script) recording is a no-op.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Final, Literal, NoReturn

import httpx
import pytest

from tryon_suite.errors import SchemaError
from tryon_suite.http.exchange import Exchange, exchange_of
from tryon_suite.spec.clauses import catalogue

__all__ = [
    "NOT_CHECKED",
    "SCOPES",
    "Collector",
    "Evidence",
    "NotChecked",
    "Reading",
    "Scope",
    "collecting",
    "held",
    "not_checked",
    "observations",
    "observed",
]

#: How a skip says "not checked" (the report shows the reason after it).
NOT_CHECKED: Final = "not checked: "

Finding = Literal["held", "failed", "observed"]
#: An open point's reading as data, beside its prose: names to JSON values, e.g.
#: {"location": "relative"}; compliance.json keeps each clause's under "readings", and the twin
#: (`tryon_suite.simulator.twin`) reads them, never the prose.
Reading = Mapping[str, Any]

#: Why a check examined nothing, which decides whether the run is still complete:
#: "run" - the target or the run went wrong (it stopped answering, a budget ran out, retries
#:         were exhausted, an interrupt): the clause was in scope, and the run is INCOMPLETE;
#: the others put the clause out of this run's scope (listed as such, never INCOMPLETE):
#: "option"   - it needs an option that was not given (a second key, the burst, a profile);
#: "reading"  - the target read an open point so that the case never arose (a fair reading);
#: "outside"  - no single run can observe it from outside (a result's full hour);
#: "optional" - it rests on an optional endpoint the target does not offer (the balance).
Scope = Literal["run", "option", "reading", "outside", "optional"]
SCOPES: Final[dict[str, str]] = {
    "run": "the target or the run went wrong",
    "option": "needs an option this run was not given",
    "reading": "the target's reading of an open point: the case never arose",
    "outside": "no single run can observe it from outside",
    "optional": "rests on an optional endpoint the target does not offer",
}


@dataclass(frozen=True)
class Evidence:
    """One assertion about one clause, made on one recorded exchange (when there was one).
    `part` names which part of the claim it covers, for a clause whose catalogue entry lists
    the `evidence` it needs (a limit: accepted at it, refused past it, on each path)."""

    clause: str
    finding: Finding
    expected: str
    received: str = ""
    exchange: Exchange | None = None
    part: str | None = None
    #: an observation's reading as data (`Reading`), where it has one
    value: Reading | None = None


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


def held(
    clause: str,
    expected: str,
    response: httpx.Response | None = None,
    *,
    part: str | None = None,
) -> None:
    """`clause` held on `response`: the check asserted `expected` and the answer met it;
    `part`: which part of the clause's claim this answer covers (clauses.yaml `evidence`)."""
    collector = _CURRENT.get()
    if collector is not None:
        collector.add(
            Evidence(
                clause, "held", expected, _describe(response), exchange_of(response), part=part
            )
        )


def observed(
    clause: str,
    text: str,
    response: httpx.Response | None = None,
    *,
    value: Reading | None = None,
) -> None:
    """An open point's reading, recorded (never judged): `text` for people, and `value`, the
    same reading as data, for programs (compliance.json's "readings", the twin)."""
    if clause not in _clause_ids():
        raise SchemaError(f"expected a clause id from clauses.yaml, got {clause!r}")
    collector = _CURRENT.get()
    if collector is not None:
        collector.add(Evidence(clause, "observed", "", text, exchange_of(response), value=value))


@functools.cache
def _clause_ids() -> frozenset[str]:
    return frozenset(c.id for c in catalogue())


def observations(
    items: Iterable[Evidence], stashed: Iterable[str] = ()
) -> tuple[list[str], list[dict[str, Any]]]:
    """What was observed of a clause: the texts `stashed` (the `observe` fixture's) and those
    of its readings recorded as data, then those readings, each once in the order seen."""
    texts, readings = list(stashed), []
    for item in items:
        if item.finding != "observed" or item.value is None:
            continue
        if item.received not in texts:
            texts.append(item.received)
        if (reading := dict(item.value)) not in readings:
            readings.append(reading)
    return texts, readings


class NotChecked(pytest.skip.Exception):  # type: ignore[name-defined,misc]
    """A check that examined nothing: a skip that says why, and whether that leaves the run
    incomplete (`scope` "run") or puts the clause out of this run's scope."""

    def __init__(self, reason: str, scope: Scope) -> None:
        super().__init__(NOT_CHECKED + reason)
        self.reason = reason
        self.scope: Scope = scope


def not_checked(reason: str, *, scope: Scope) -> NoReturn:
    """Stop this check and report it "not checked" with the reason: no evidence, so never
    passed. `scope` says why (`SCOPES`): only "run" makes the run INCOMPLETE."""
    raise NotChecked(reason, scope)

"""What a run found, clause by clause: outcomes of tests, observations, and the verdict."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from PIL import Image

from tryon_suite.clauses import Clause, catalogue
from tryon_suite.client import Exchange

__all__ = ["CheckOutcome", "ClauseResult", "Outcome", "RunResults", "thumbnail"]

Outcome = Literal["passed", "failed", "not checked"]
Status = Literal["holds", "fails", "not checked", "observed"]


@dataclass
class CheckOutcome:
    """One test's result, with the clauses it names and what it sent and received."""

    nodeid: str
    clauses: tuple[str, ...]
    outcome: Outcome
    message: str = ""
    exchanges: list[Exchange] = field(default_factory=list)
    #: the clause a ContractViolation named: the failure is that clause's; the test's other
    #: clauses were not reached, so they are not judged by this test
    failed_clause: str | None = None

    def outcome_for(self, clause_id: str) -> Outcome:
        if self.outcome == "failed" and self.failed_clause and clause_id != self.failed_clause:
            return "not checked"
        return self.outcome


@dataclass
class ClauseResult:
    """A clause with its status, the tests behind it and what was observed."""

    clause: Clause
    status: Status
    reason: str
    tests: list[CheckOutcome]
    observations: list[str]


@dataclass
class RunResults:
    """Everything the report shows."""

    target: str
    started: float
    finished: float
    limits: str
    requests: int
    budget: int | None
    tests: list[CheckOutcome] = field(default_factory=list)
    observations: dict[str, list[str]] = field(default_factory=dict)

    def observe(self, clause_id: str, text: str) -> None:
        seen = self.observations.setdefault(clause_id, [])
        if text not in seen:
            seen.append(text)

    def clause_results(self) -> list[ClauseResult]:
        by_clause: dict[str, list[CheckOutcome]] = {}
        for test in self.tests:
            for cid in {*test.clauses, *([test.failed_clause] if test.failed_clause else [])}:
                by_clause.setdefault(cid, []).append(test)
        results = []
        for clause in catalogue():
            tests = by_clause.get(clause.id, [])
            observed = self.observations.get(clause.id, [])
            results.append(_judge(clause, tests, observed))
        known = {c.id for c in catalogue()}
        for cid in sorted(set(by_clause) - known):  # a violation naming no catalogue clause
            tests = by_clause[cid]
            results.append(ClauseResult(_unknown(cid), "fails", tests[0].message, tests, []))
        order = {"fails": 0, "not checked": 1, "holds": 2, "observed": 3}
        return sorted(results, key=lambda r: order[r.status])

    def must_clauses_hold(self) -> bool:
        """The run's verdict: every checked `must` clause holds."""
        return not any(
            r.status == "fails" and r.clause.level == "must" for r in self.clause_results()
        )

    def totals(self) -> dict[str, int]:
        counts = {"holds": 0, "fails": 0, "not checked": 0, "observed": 0}
        for result in self.clause_results():
            counts[result.status] += 1
        return counts


def _unknown(clause_id: str) -> Clause:
    return Clause(clause_id, "must", "suite", "a clause id missing from clauses.yaml", (), True)


def _judge(clause: Clause, tests: list[CheckOutcome], observed: list[str]) -> ClauseResult:
    failed = [t for t in tests if t.outcome_for(clause.id) == "failed"]
    passed = [t for t in tests if t.outcome_for(clause.id) == "passed"]
    if failed:
        return ClauseResult(clause, "fails", failed[0].message, tests, observed)
    if clause.level == "observe":
        if observed:
            return ClauseResult(clause, "observed", "", tests, observed)
        if passed:
            reason = "the run met no case to observe"
            return ClauseResult(clause, "not checked", reason, tests, observed)
        return ClauseResult(clause, "not checked", _why_not(clause, tests), tests, observed)
    if passed:
        return ClauseResult(clause, "holds", "", tests, observed)
    return ClauseResult(clause, "not checked", _why_not(clause, tests), tests, observed)


def _why_not(clause: Clause, tests: Iterable[CheckOutcome]) -> str:
    reasons = sorted(
        {
            f"stopped at a failure of {t.failed_clause}" if t.outcome == "failed" else t.message
            for t in tests
            if t.message
        }
    )
    if reasons:
        return "; ".join(reasons)
    if not clause.checkable:
        return "cannot be checked from outside the service"
    return "no test checks this clause (a gap in the suite)"


def thumbnail(data: bytes, side: int = 96) -> str | None:
    """A small PNG data URI of an image, or None when the bytes are not an image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format == "JPEG":
                image.draft("RGB", (side * 2, side * 2))
            small = image.convert("RGB")
    except Exception:  # any undecodable bytes: no thumbnail, the size is shown instead
        return None
    small.thumbnail((side, side))
    out = io.BytesIO()
    small.save(out, "PNG")
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()

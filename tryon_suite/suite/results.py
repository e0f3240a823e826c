"""What a run found, clause by clause: outcomes of tests, observations, and the verdict."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from PIL import Image

from tryon_suite.errors import ExitCode, Verdict
from tryon_suite.http.client import Exchange
from tryon_suite.spec import model
from tryon_suite.spec.clauses import Clause, catalogue
from tryon_suite.suite.checks import ANSWER_CLAUSES
from tryon_suite.suite.evidence import SCOPES, Evidence, Scope, observations

__all__ = [
    "STATUS_ORDER",
    "CheckOutcome",
    "ClauseResult",
    "CreditsSpent",
    "Outcome",
    "RunResults",
    "Status",
    "thumbnail",
]

Outcome = Literal["passed", "failed", "not checked", "not run"]
Status = Literal[
    "holds", "fails", "partly checked", "not checked", "not run", "observed", "not checkable"
]
#: the order of the report: what needs action first
STATUS_ORDER: dict[str, int] = {
    "fails": 0,
    "partly checked": 1,
    "not checked": 2,
    "not run": 3,
    "holds": 4,
    "observed": 5,
    "not checkable": 6,
}


@dataclass
class CheckOutcome:
    """One test's result: the clauses it names, the evidence it gathered, what it exchanged."""

    nodeid: str
    clauses: tuple[str, ...]
    outcome: Outcome
    message: str = ""
    exchanges: list[Exchange] = field(default_factory=list)
    #: the clause a ContractViolation named: the failure is that clause's
    failed_clause: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    #: the successes among the answers it judged (its own and the purchases it consumed),
    #: by identity: a purchase shared by several checks is one spend
    paid: frozenset[int] = frozenset()
    #: why a "not checked" test examined nothing (`evidence.SCOPES`); "run" leaves the run
    #: INCOMPLETE, the others put its clauses out of this run's scope
    scope: Scope | None = None

    @property
    def credits(self) -> int:
        return len(self.paid)

    def evidence_for(self, clause_id: str) -> list[Evidence]:
        return [e for e in self.evidence if e.clause == clause_id]

    def outcome_for(self, clause_id: str) -> str:
        """What this test showed of one clause: failed, held, observed, or why not."""
        findings = {e.finding for e in self.evidence_for(clause_id)}
        for finding, shown in (("failed", "failed"), ("held", "passed"), ("observed", "observed")):
            if finding in findings:
                return shown
        return "no evidence" if self.outcome in ("passed", "failed") else self.outcome

    @property
    def named(self) -> set[str]:
        """Every clause this test names or gathered evidence on."""
        return {*self.clauses, *(e.clause for e in self.evidence)}


@dataclass
class ClauseResult:
    """A clause with its status, the tests behind it, its evidence and what was observed."""

    clause: Clause
    status: Status
    reason: str
    tests: list[CheckOutcome]
    observations: list[str]
    evidence: list[tuple[str, Evidence]] = field(default_factory=list)
    #: for a clause that is not (or partly) checked: "run" when the target or the run is the
    #: reason (it was in scope), else why it lies outside this run's scope (`evidence.SCOPES`)
    scope: Scope | None = None
    #: the observations' readings as data (`evidence.Reading`), each once, in the order seen
    readings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def leaves_incomplete(self) -> bool:
        """A must clause in scope that the run did not check on full evidence."""
        return self.clause.level == "must" and (
            self.status == "not run"
            or (self.status in ("not checked", "partly checked") and self.scope == "run")
        )

    @property
    def scope_text(self) -> str:
        """Whether an unchecked clause was in scope, for a reader: "" for a checked one."""
        if self.status not in ("not checked", "partly checked", "not run") or not self.scope:
            return ""
        if self.scope == "run":
            return "in scope: " + SCOPES["run"]
        return "out of scope: " + SCOPES[self.scope]

    @property
    def credits(self) -> int:
        """Successes behind the checks of this clause (a shared purchase counts once)."""
        return len(frozenset().union(*(t.paid for t in self.tests)))

    @property
    def decisive(self) -> tuple[str, Evidence] | None:
        """The evidence to lead with: for a failure, the one from the simplest failing test
        (fewest exchanges: the shortest reproduction), else the first that held."""
        failing = [(t, e) for t, e in self.evidence if e.finding == "failed"]
        if failing:
            sizes = {t.nodeid: len(t.exchanges) or 10**6 for t in self.tests}
            return min(failing, key=lambda pair: (sizes.get(pair[0], 10**6), pair[0]))
        held = [(t, e) for t, e in self.evidence if e.finding == "held"]
        return held[0] if held else None


@dataclass(frozen=True)
class CreditsSpent:
    """What the run cost in credits: successes counted by the client layer, and the balance
    read before the first and after the last paid request where the target answers it."""

    counted: int
    budget: int | None = None
    before: float | None = None
    after: float | None = None
    #: the figures are a recorded run's, replayed from its cassette: nothing was spent now
    replayed: bool = False

    @property
    def from_balance(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.before - self.after

    def text(self) -> str:
        """One line for the console and the report's header."""
        budget = f" of a budget of {self.budget}" if self.budget is not None else ""
        replayed = "; replayed from its cassette, this run spent none" if self.replayed else ""
        if self.from_balance is not None:
            return (
                f"{_number(self.from_balance)} credits spent (balance {_number(self.before)} "
                f"before, {_number(self.after)} after; {self.counted} successes counted){budget}"
                f"{replayed}"
            )
        return f"{self.counted} credits spent, counted (the balance was not read){budget}{replayed}"


def _number(value: float | None) -> str:
    return "?" if value is None else f"{value:,.2f}".rstrip("0").rstrip(".")


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
    #: clauses named by tests that were collected but never ran, with why (-x, interrupted)
    not_run: dict[str, str] = field(default_factory=dict)
    credits: CreditsSpent | None = None
    #: sent by the preflight before the first check (one or two per key; not in `requests`)
    preflight_requests: int = 0
    #: keyless requests asking whether a live target still answered (`watch.Watch`)
    probe_requests: int = 0
    #: requests per second the run was paced at, first and last (lower once the target
    #: refused the pace with 429); None where nothing was paced
    pace: tuple[float, float] | None = None
    #: why the run ended before its end ("interrupted by the user (Ctrl-C)", "the target
    #: stopped answering at 12:03:04"); None for a run that went to its end
    stopped: str | None = None

    def coverage(self) -> dict[str, Any]:
        """The input-space model's cases this run exercised, per clause (`model.coverage`)."""
        outcomes = [(t.nodeid, t.outcome, t.message, t.scope) for t in self.tests]
        return model.coverage(outcomes)

    def observe(self, clause_id: str, text: str) -> None:
        seen = self.observations.setdefault(clause_id, [])
        if text not in seen:
            seen.append(text)

    def clause_results(self) -> list[ClauseResult]:
        by_clause: dict[str, list[CheckOutcome]] = {}
        for test in self.tests:
            for cid in test.named:
                by_clause.setdefault(cid, []).append(test)
        results = []
        for clause in catalogue():
            tests = by_clause.get(clause.id, [])
            observed = self.observations.get(clause.id, [])
            results.append(_judge(clause, tests, observed, self.not_run.get(clause.id)))
        known = {c.id for c in catalogue()}
        for cid in sorted(set(by_clause) - known):  # a violation naming no catalogue clause
            tests = by_clause[cid]
            results.append(ClauseResult(_unknown(cid), "fails", tests[0].message, tests, []))
        return sorted(results, key=lambda r: STATUS_ORDER[r.status])

    def must_clauses_hold(self) -> bool:
        """No `must` clause fails (the run may still be INCOMPLETE: see `verdict`)."""
        return not any(
            r.status == "fails" and r.clause.level == "must" for r in self.clause_results()
        )

    def verdict(self) -> Verdict:
        """FAIL when a must clause fails; INCOMPLETE when the run stopped early or a must
        clause in scope was not checked on full evidence because of the target or the run;
        else PASS: every must clause in scope held on evidence."""
        results = self.clause_results()
        failing = [r for r in results if r.status == "fails" and r.clause.level == "must"]
        if failing:
            names = ", ".join(r.clause.id for r in failing[:3])
            more = f" and {len(failing) - 3} more" * (len(failing) > 3)
            return Verdict(
                ExitCode.FAIL,
                f"{len(failing)} must clause{'s' * (len(failing) != 1)} failed ({names}{more})",
                "Each failure leads with its decisive exchange and a curl command in the report.",
            )
        open_ = [r for r in results if r.leaves_incomplete]
        if self.stopped or open_:
            why = self.stopped or _common_reason(open_)
            count = f"{len(open_)} must clause{'s' * (len(open_) != 1)} in scope not checked"
            return Verdict(
                ExitCode.INCOMPLETE,
                f"{count}: {why}" if open_ else why,
                "Nothing failed, but nothing proves the rest: check the target is up and the "
                "budgets (--tryon-budget, --tryon-credit-budget, --tryon-deadline) fit, then "
                "run again.",
            )
        crashed = [t.nodeid for t in self.tests if t.outcome == "failed" and not t.failed_clause]
        if crashed:
            # a contract test that failed for no clause (an exception the checks did not
            # expect) judged nothing: the run is not green, and its verdict line says so
            return Verdict(
                ExitCode.FAIL,
                f"{len(crashed)} contract test{'s' * (len(crashed) != 1)} failed without naming "
                f"a clause (first: {crashed[0]})",
                "Its traceback is in the console and JUnit: an answer the checks could not "
                "read, or a fault of the suite.",
            )
        held = sum(r.status == "holds" and r.clause.level == "must" for r in results)
        out = sum(
            r.status in ("not checked", "partly checked") and r.clause.level == "must"
            for r in results
        )
        beyond = f"; {out} out of this run's scope (wholly or in part), listed with why" * bool(out)
        return Verdict(ExitCode.PASS, f"all {held} must clauses in scope held{beyond}")

    def totals(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUS_ORDER, 0)
        for result in self.clause_results():
            counts[result.status] += 1
        return counts


def _common_reason(results: list[ClauseResult]) -> str:
    """The most frequent reason among clauses left open, for one line."""
    reasons = [r.reason for r in results if r.reason]
    if not reasons:
        return "the run did not examine them"
    top = max(set(reasons), key=reasons.count)
    return top if len(set(reasons)) == 1 else f"{top} (and {len(set(reasons)) - 1} other reasons)"


def _unknown(clause_id: str) -> Clause:
    return Clause(clause_id, "must", "suite", "a clause id missing from clauses.yaml", (), True)


def _judge(
    clause: Clause, tests: list[CheckOutcome], stashed: list[str], not_run: str | None
) -> ClauseResult:
    evidence = [(t.nodeid, e) for t in tests for e in t.evidence_for(clause.id)]
    observed, readings = observations((e for _, e in evidence), stashed)

    def result(status: Status, reason: str, scope: Scope | None = None) -> ClauseResult:
        return ClauseResult(clause, status, reason, tests, observed, evidence, scope, readings)

    if not clause.checkable:
        return result("not checkable", "cannot be checked from outside the service")
    if clause.level == "observe":
        # An open point is recorded, never judged: what a check "expected" there is a reading.
        if observed:
            return result("observed", "")
        why = _why_not(clause, tests, not_run, "nothing to observe")
        return result("not checked", why, _scope(tests, not_run, clause.id))
    failed = [e for _, e in evidence if e.finding == "failed"]
    if failed:
        first = failed[0]
        return result("fails", f"expected {first.expected}, got {first.received}")
    held = {e.part for _, e in evidence if e.finding == "held"}
    if held:
        missing = [part for part in clause.evidence if part not in held]
        if not missing:
            return result("holds", "")
        # Part of the claim was seen to hold: never "holds" on that alone.
        why = _why_not(clause, tests, not_run, "no answer examined it")
        reason = f"no evidence yet that {'; that '.join(missing)} ({why})"
        return result("partly checked", reason, _scope(tests, not_run, clause.id))
    if not tests and not_run:
        return result("not run", not_run, "run")
    why = _why_not(clause, tests, not_run, "no answer examined it")
    return result("not checked", why, _scope(tests, not_run, clause.id))


def _scope(tests: list[CheckOutcome], not_run: str | None, clause_id: str = "") -> Scope:
    """Why a clause went unchecked, for the verdict: "run" when any of its tests was stopped by
    the target or the run (or never ran), else the out-of-scope reason its tests gave; a test
    that ran to its end without an answer that could fail the clause met a target whose
    reading never raised the case."""
    scopes = {t.scope for t in tests if t.outcome == "not checked"}
    if "run" in scopes or not_run or any(t.outcome == "not run" for t in tests):
        return "run"
    for scope in ("option", "optional", "outside", "reading"):
        if scope in scopes:
            return scope
    # judged on every answer, and no answer raised the case; else no test of this run names it
    # (a selection, -k, or a file not given)
    return "reading" if tests or clause_id in ANSWER_CLAUSES else "option"


def _why_not(
    clause: Clause, tests: Iterable[CheckOutcome], not_run: str | None, fallback: str
) -> str:
    tests = list(tests)
    reasons = sorted(
        {
            f"stopped at a failure of {t.failed_clause}"
            if t.outcome == "failed" and t.failed_clause
            else t.message
            for t in tests
            if t.message and t.outcome != "passed"
        }
    )
    if reasons:
        return "; ".join(reasons)
    if tests:
        names = ", ".join(sorted({t.nodeid.split("::")[-1].split("[")[0] for t in tests}))
        return f"{fallback}: {names} ran without an answer that could fail this clause"
    if not_run:
        return not_run
    if clause.id in ANSWER_CLAUSES:
        return f"judged on every answer: {ANSWER_CLAUSES[clause.id]}"
    return "no test in this run checks this clause"


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

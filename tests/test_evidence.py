"""A clause holds only on evidence: an answer that could have failed it. Everything else is
"not checked" (with why), "not run", "not checkable" or, for open points, "observed"."""

from __future__ import annotations

from pathlib import Path

from tryon_suite.selftest import run as selftest
from tryon_suite.spec.clauses import catalogue, clause
from tryon_suite.suite.evidence import Evidence
from tryon_suite.suite.results import CheckOutcome, RunResults


def test_an_open_point_is_observed_never_failed() -> None:
    open_point = next(c for c in catalogue() if c.level == "observe")
    failing = Evidence(open_point.id, "failed", "one reading", "another reading")
    test = CheckOutcome("t::x", (open_point.id,), "failed", "x", [], open_point.id, [failing])
    results = RunResults("t", 0, 1, "reference", 1, None, [test], {open_point.id: ["seen"]})
    row = next(r for r in results.clause_results() if r.clause.id == open_point.id)
    assert row.status == "observed", f"expected an open point observed, got {row.status}"
    assert results.must_clauses_hold(), "expected an open point never to fail the run"


def test_a_test_that_passed_without_evidence_leaves_its_clauses_not_checked() -> None:
    named = clause("tryon.job.other_account_hidden")
    test = CheckOutcome("t::peek", (named.id,), "passed")
    results = RunResults("t", 0, 1, "reference", 1, None, [test])
    row = next(r for r in results.clause_results() if r.clause.id == named.id)
    assert row.status == "not checked", f"expected no evidence to mean not checked, got {row}"
    assert "peek" in row.reason, f"expected the reason to name the test, got {row.reason!r}"


def test_after_a_stop_the_rest_is_not_run_with_the_clause_that_stopped_it(
    tmp_path: Path,
) -> None:
    run = selftest.run_contract(
        ["-x", "--tryon-mutant", "missing_key_answers_403"],
        tmp_path,
        profile="selftest",
        paths=["contract/test_auth.py", "contract/test_polling.py"],
    )
    rows = {c["id"]: c for c in run.report["clauses"]}
    assert run.exit_code == 1, f"expected the broken clause to fail the run, got {run.exit_code}"
    assert rows["tryon.401.missing_key"]["status"] == "fails", rows["tryon.401.missing_key"]
    later = rows["tryon.job.same_job_id"]  # only test_polling.py checks it, after the stop
    assert later["status"] == "not run", f"expected not run after -x, got {later}"
    assert "tryon.401.missing_key" in later["reason"], f"expected the cause named: {later}"
    gaps = [c["id"] for c in rows.values() if "gap" in c["reason"]]
    assert not gaps, f"expected nothing called a gap in the suite after a stop, got {gaps}"


# -- the run's verdict: PASS only on evidence, INCOMPLETE when the run could not finish --------

LIMIT = "tryon.limits.min_resolution"


def _held(part: str | None) -> Evidence:
    return Evidence(LIMIT, "held", "an answer at the edge", "400", part=part)


def _row(results: RunResults, clause_id: str):
    return next(r for r in results.clause_results() if r.clause.id == clause_id)


def test_a_limit_seen_holding_on_one_side_only_is_partly_checked_never_holds() -> None:
    accepted = CheckOutcome(
        "t::edges", (LIMIT,), "passed", evidence=[_held("accepted at the limit")]
    )
    spent = CheckOutcome(
        "t::below", (LIMIT,), "not checked", "expected at most 60 requests (--tryon-budget)"
    )
    spent.scope = "run"
    results = RunResults("t", 0, 1, "reference", 1, None, [accepted, spent])
    row = _row(results, LIMIT)
    assert row.status == "partly checked", f"expected partly checked, got {row.status}"
    assert "refused past it: person file" in row.reason, f"expected the gap named: {row.reason}"
    assert row.leaves_incomplete, "expected a must left partly checked by the budget in scope"
    verdict = results.verdict()
    assert (verdict.name, int(verdict.exit_code)) == ("INCOMPLETE", 2), f"got {verdict}"
    assert "--tryon-budget" in verdict.reason, f"expected the budget named, got {verdict.reason}"


def test_every_part_of_the_claim_seen_holding_holds() -> None:
    parts = clause(LIMIT).evidence
    assert len(parts) >= 2, f"expected {LIMIT} to declare its evidence parts, got {parts}"
    test = CheckOutcome("t::all", (LIMIT,), "passed", evidence=[_held(p) for p in parts])
    row = _row(RunResults("t", 0, 1, "reference", 1, None, [test]), LIMIT)
    assert row.status == "holds", f"expected holds with every part seen, got {row.status}"


def test_out_of_scope_clauses_leave_a_run_green_and_in_scope_ones_do_not() -> None:
    other = clause("tryon.job.other_account_hidden")
    for scope, wanted in (("option", "PASS"), ("reading", "PASS"), ("run", "INCOMPLETE")):
        test = CheckOutcome("t::peek", (other.id,), "not checked", "why")
        test.scope = scope  # type: ignore[assignment]
        results = RunResults("t", 0, 1, "reference", 1, None, [test])
        verdict = results.verdict()
        assert verdict.name == wanted, f"expected {wanted} for scope {scope!r}, got {verdict}"


def test_a_failure_wins_over_an_incomplete_run_and_a_stop_is_never_a_pass() -> None:
    failed = CheckOutcome(
        "t::fail",
        (LIMIT,),
        "failed",
        "x",
        failed_clause=LIMIT,
        evidence=[Evidence(LIMIT, "failed", "400", "200")],
    )
    stopped = RunResults("t", 0, 1, "reference", 1, None, [failed], stopped="interrupted")
    assert stopped.verdict().name == "FAIL", f"expected FAIL first, got {stopped.verdict()}"
    quiet = RunResults("t", 0, 1, "reference", 1, None, [], stopped="interrupted by the user")
    verdict = quiet.verdict()
    assert verdict.name == "INCOMPLETE", f"expected an interrupted run INCOMPLETE, got {verdict}"
    assert "interrupted" in verdict.line(), f"expected the reason in the line: {verdict.line()}"


def test_a_contract_test_that_crashed_makes_the_verdict_line_fail_not_pass() -> None:
    """A test failing for no clause (an exception the checks did not expect) judged nothing:
    the verdict line must say FAIL, as the exit code does, never PASS beside exit 1."""
    held = CheckOutcome(
        "t::held", (LIMIT,), "passed", evidence=[Evidence(LIMIT, "held", "400", "400")]
    )
    crashed = CheckOutcome("t::crashed", (LIMIT,), "failed", "TypeError: 'NoneType' ...")
    verdict = RunResults("t", 0, 1, "reference", 2, None, [held, crashed]).verdict()
    assert (verdict.name, int(verdict.code)) == ("FAIL", 1), (
        f"expected FAIL (exit 1) for a crashed contract test, got {verdict.line()}"
    )
    assert "t::crashed" in verdict.reason, f"expected the test named, got {verdict.reason!r}"
    alone = RunResults("t", 0, 1, "reference", 1, None, [held]).verdict()
    assert alone.name == "PASS", f"expected the same run without the crash to PASS, got {alone}"

"""A clause holds only on evidence: an answer that could have failed it. Everything else is
"not checked" (with why), "not run", "not checkable" or, for open points, "observed"."""

from __future__ import annotations

from pathlib import Path

from tryon_suite import selftest
from tryon_suite.clauses import catalogue, clause
from tryon_suite.evidence import Evidence
from tryon_suite.results import CheckOutcome, RunResults


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

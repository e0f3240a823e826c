"""The CI gate on the suite's power: the correct simulator passes, every mutant is killed (a
must clause fails: the run would exit 1) on one of the clauses it breaks, in process and (a
selection) over HTTP, save those the catalogue tags should_only, seen by a should; and on the
correct simulator a clause holds only on evidence.

The self-test runs once (a session fixture); every test that reads it lives in this file, so
that `--dist loadfile` gives them one worker."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SelftestRun
from tryon_suite.mutants import CATALOGUE, Mutant
from tryon_suite.mutants._kit import variant
from tryon_suite.selftest.run import (
    HTTP_SELECTION,
    KillResult,
    judged,
    matrix_figures,
    write_matrix,
)
from tryon_suite.simulator.core import Simulator
from tryon_suite.spec.clauses import catalogue

pytestmark = pytest.mark.slow(16)


def test_the_catalogue_has_thirty_mutants_or_more_each_tagged_with_known_clauses() -> None:
    known = {c.id for c in catalogue()}
    assert len(CATALOGUE) >= 30, f"expected at least 30 mutants, got {len(CATALOGUE)}"
    names = [m.name for m in CATALOGUE]
    assert len(set(names)) == len(names), "expected unique mutant names"
    for m in CATALOGUE:
        unknown = [c for c in m.clauses if c not in known]
        assert m.clauses, f"{m.name}: expected clause tags, got none"
        assert not unknown, f"{m.name}: expected known clause tags, got {unknown}"


def test_the_suite_passes_the_simulator_and_kills_every_mutant(
    selftest_run: SelftestRun, tmp_path: Path
) -> None:
    """Killed means the run would exit 1 (a must fails); a mutant the catalogue tags
    should_only is only asked to be seen by a should, and is listed apart."""
    rows = selftest_run.rows
    write_matrix(rows, tmp_path)
    correct = [r for r in rows if r.mutant == "(correct simulator)"]
    assert len(correct) == 1, f"expected one run of the correct simulator, got {len(correct)}"
    assert not correct[0].failing, f"expected no false alarm, got failing {correct[0].failing}"
    tagged = {m.name for m in CATALOGUE if m.should_only}
    survivors = [(r.mutant, r.face, r.verdict, r.failing) for r in rows[1:] if not r.as_claimed]
    assert not survivors, f"expected every mutant killed on one of its clauses, got {survivors}"
    seen_by_should = {r.mutant for r in rows[1:] if r.verdict == "detected by a should only"}
    assert seen_by_should == tagged, (
        f"expected exactly the should_only mutants {sorted(tagged)} detected by a should only, "
        f"got {sorted(seen_by_should)}"
    )
    http = [r.mutant for r in rows if r.face == "over HTTP"]
    assert http == list(HTTP_SELECTION), f"expected the HTTP selection to run, got {http}"
    matrix = json.loads((tmp_path / "selftest.json").read_text())
    killed = len(rows) - 1 - len(tagged)
    assert matrix["killed_on_target"] == killed, (
        f"expected {killed} killed on target, got {matrix['killed_on_target']}"
    )
    assert matrix["ok"], f"expected the matrix ok, got {matrix['verdict']}"
    assert sorted(matrix["should_only"]) == sorted(tagged), f"got {matrix['should_only']}"
    html = (tmp_path / "selftest.html").read_text()
    assert html.count("<tr>") == len(rows) + 1, f"expected a row per run, got {html.count('<tr>')}"
    assert html.count(">detected by a should only<") == len(tagged), (
        f"expected {len(tagged)} rows detected by a should only in the matrix page"
    )


def _row(mutant: str, failing: list[str], *, should_only: bool = False) -> KillResult:
    levels = {"tryon.a.must": "must", "tryon.a.should": "should"}
    m = Mutant(mutant, "a deviation", tuple(failing[:1]), variant(Simulator), (), should_only)
    return judged(m, "in process", failing, [], 1.0, levels=levels)


def test_a_mutant_seen_only_through_a_should_is_no_kill_and_fails_the_self_test() -> None:
    row = _row("m", ["tryon.a.should"])
    assert (row.killed, row.should_seen, row.verdict) == (
        False,
        True,
        "detected by a should only",
    ), f"expected a should-only detection, got {row}"
    figures = matrix_figures([row])
    assert figures["ok"] is False, f"expected the self-test red for it, got {figures['verdict']}"
    assert figures["should_only"] == ["m"], f"expected it listed apart, got {figures}"
    tagged = _row("m", ["tryon.a.should"], should_only=True)
    assert matrix_figures([tagged])["ok"] is True, "expected a should_only mutant seen to pass"
    killed = _row("m", ["tryon.a.must", "tryon.a.should"])
    assert (killed.killed, killed.verdict) == (True, "killed"), f"expected a kill, got {killed}"


# -- the correct simulator's run in it: a clause holds only on evidence --------------------

#: Checkable must clauses the correct simulator, in process, cannot show holding, and why.
UNPROVOKED = {
    "tryon.job.error_when_failed": "no job fails unless the service fails it",
    "tryon.limits.vendor_docs_profile": "runs only with --tryon-limits vendor-2025",
}


@pytest.fixture
def correct_run(selftest_run: SelftestRun) -> dict[str, Any]:
    """The correct simulator's report, from the self-test's run of it."""
    code = selftest_run.exit_code
    assert code == 0, f"expected the correct simulator to pass, got exit {code}"
    return selftest_run.clauses


def test_on_the_correct_simulator_every_checkable_must_clause_holds_on_evidence(
    correct_run: dict[str, Any],
) -> None:
    musts = [c for c in catalogue() if c.level == "must" and c.checkable]
    unproven = {
        c.id: (correct_run[c.id]["status"], correct_run[c.id]["reason"])
        for c in musts
        if correct_run[c.id]["status"] != "holds" and c.id not in UNPROVOKED
    }
    assert not unproven, f"expected every checkable must clause to hold, got {unproven}"
    for cid, row in correct_run.items():
        if row["status"] == "holds":
            held = [e for e in row["evidence"] if e["finding"] == "held"]
            assert held, f"expected {cid} to carry the evidence it holds on, got {row['evidence']}"
            assert held[0]["expected"], f"expected {cid}'s evidence to say what was asserted"


def test_clauses_that_cannot_be_checked_from_outside_never_hold(
    correct_run: dict[str, Any],
) -> None:
    for item in catalogue():
        if not item.checkable:
            row = correct_run[item.id]
            assert row["status"] == "not checkable", f"expected {item.id} not checkable, got {row}"


def test_clauses_provoked_by_nothing_in_the_run_say_why(correct_run: dict[str, Any]) -> None:
    for cid, why in UNPROVOKED.items():
        row = correct_run[cid]
        assert row["status"] == "not checked", f"expected {cid} not checked ({why}), got {row}"
        assert row["reason"], f"expected a reason for {cid}"

"""The CI gate on the suite's power: the correct simulator passes, every mutant is killed on
one of the clauses it breaks, in process and (a selection) over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import SelftestRun
from tryon_suite.clauses import catalogue
from tryon_suite.mutants import CATALOGUE
from tryon_suite.selftest import HTTP_SELECTION, write_matrix

pytestmark = pytest.mark.xdist_group("selftest")


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
    rows = selftest_run.rows
    write_matrix(rows, tmp_path)
    correct = [r for r in rows if r.mutant == "(correct simulator)"]
    assert len(correct) == 1, f"expected one run of the correct simulator, got {len(correct)}"
    assert not correct[0].killed, f"expected no false alarm, got failing {correct[0].failing}"
    survivors = [(r.mutant, r.face, r.failing) for r in rows[1:] if not r.on_target]
    assert not survivors, f"expected every mutant killed on one of its clauses, got {survivors}"
    http = [r.mutant for r in rows if r.face == "over HTTP"]
    assert http == list(HTTP_SELECTION), f"expected the HTTP selection to run, got {http}"
    matrix = json.loads((tmp_path / "selftest.json").read_text())
    assert matrix["killed_on_target"] == len(rows) - 1, f"got {matrix['killed_on_target']}"
    assert (tmp_path / "selftest.html").read_text().count("<tr>") == len(rows) + 1

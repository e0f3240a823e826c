"""The console's last words on a run: one line per failing clause, a person can act on each."""

from __future__ import annotations

from tryon_suite.results import RunResults

__all__ = ["failing_clause_lines"]

_WIDTH = 160


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def failing_clause_lines(results: RunResults) -> list[str]:
    """`FAILS <id> (<level>): expected ..., got ... [seen by N tests]`, must clauses first."""
    lines = []
    failing = [r for r in results.clause_results() if r.status == "fails"]
    failing.sort(key=lambda r: (r.clause.level != "must", r.clause.id))
    for result in failing:
        decisive = result.decisive
        tests = {nodeid for nodeid, e in result.evidence if e.verdict == "failed"}
        if decisive is not None:
            _, evidence = decisive
            what = f"expected {evidence.expected}, got {evidence.received}"
        else:
            what = result.reason
        seen = f"[seen by {len(tests)} test{'s' if len(tests) != 1 else ''}]"
        head = f"FAILS {result.clause.id} ({result.clause.level}): "
        lines.append(head + _short(what, _WIDTH - len(head) - len(seen) - 1) + " " + seen)
    return lines

"""The console's last words on a run: one line per failing clause, a person can act on each.

The lines leave the process: each is masked (`secret.mask`) before it is cut to width, so a
cut never leaves a piece of a key.
"""

from __future__ import annotations

from collections.abc import Iterable

from tryon_suite.http.secret import Secret, mask
from tryon_suite.suite.report import run_secrets
from tryon_suite.suite.results import RunResults

__all__ = ["failing_clause_lines"]

_WIDTH = 160


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def failing_clause_lines(results: RunResults, secrets: Iterable[Secret | str] = ()) -> list[str]:
    """`FAILS <id> (<level>): expected ..., got ... [seen by N tests]`, must clauses first;
    `secrets` and the keys of the run's exchanges masked."""
    keys = run_secrets(results, secrets)
    lines = []
    failing = [r for r in results.clause_results() if r.status == "fails"]
    failing.sort(key=lambda r: (r.clause.level != "must", r.clause.id))
    for result in failing:
        decisive = result.decisive
        tests = {nodeid for nodeid, e in result.evidence if e.finding == "failed"}
        if decisive is not None:
            _, evidence = decisive
            what = f"expected {mask(evidence.expected, keys)}, got {mask(evidence.received, keys)}"
        else:
            what = mask(result.reason, keys)
        seen = f"[seen by {len(tests)} test{'s' if len(tests) != 1 else ''}]"
        head = f"FAILS {result.clause.id} ({result.clause.level}): "
        lines.append(head + _short(what, _WIDTH - len(head) - len(seen) - 1) + " " + seen)
    return lines

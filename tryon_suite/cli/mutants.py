"""`tryon-suite mutants`: the mutant catalogue, one line each: name, what it breaks, the clauses
it should fail, and what the suite needs to see it."""

from __future__ import annotations

from collections.abc import Sequence

from tryon_suite.errors import ExitCode, UsageParser
from tryon_suite.mutants import CATALOGUE


def parser() -> UsageParser:
    return UsageParser(prog="tryon-suite mutants", description=__doc__)


def main(argv: Sequence[str] | None = None) -> int:
    parser().parse_args(argv)
    for m in CATALOGUE:
        needs = f" [needs {', '.join(m.needs)}]" if m.needs else ""
        print(f"{m.name}: {m.description} -> {', '.join(m.clauses)}{needs}")
    return ExitCode.PASS

"""`tryon-suite selftest [MUTANT ...]`: the suite against the correct simulator and every
mutant, the kill matrix, and the compliance report of the correct simulator with the matrix as
its last section."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

from tryon_suite.errors import ExitCode, UsageParser, Verdict
from tryon_suite.mutants import mutant
from tryon_suite.selftest.run import HTTP_SELECTION, matrix_figures, run_selftest, write_matrix
from tryon_suite.suite.report import render_report


def parser() -> UsageParser:
    parser = UsageParser(
        prog="tryon-suite selftest",
        description="The suite against the correct simulator and every mutant: each mutant must "
        "be killed on target, the correct simulator must pass.",
    )
    parser.add_argument("mutants", nargs="*", help="only these mutants (default: all)")
    parser.add_argument(
        "--full", action="store_true", help="every test against every mutant (a fuller matrix)"
    )
    parser.add_argument("--no-http", action="store_true", help="skip the runs over HTTP")
    parser.add_argument("--report-dir", default="reports", help="where the matrix goes")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """`tryon-suite selftest [MUTANT ...]`: exit 0 when the correct simulator passes and every
    mutant is killed on target (one tagged should_only: seen by a should it breaks)."""
    args = parser().parse_args(argv)
    try:
        for name in args.mutants:
            mutant(name)
    except Exception as exc:
        print(f"tryon-suite selftest: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    folder = Path(args.report_dir)
    rows = run_selftest(
        args.mutants, http=() if args.no_http else HTTP_SELECTION, full=args.full, folder=folder
    )
    paths = write_matrix(rows, folder)
    # the compliance report of the correct simulator, with the matrix as its last section
    report = json.loads((folder / "compliance.json").read_text(encoding="utf-8"))
    report["selftest"] = json.loads(paths[1].read_text(encoding="utf-8"))
    render_report(report, folder)
    width = max(len(r.mutant) for r in rows)
    for r in rows:
        row = r.verdict if r.as_claimed else r.verdict.upper()
        print(f"{r.mutant:<{width}}  {r.face:<10}  {row:<25}  {', '.join(r.failing[:4])}")
    figures = matrix_figures(rows)
    code = ExitCode.PASS if figures["ok"] else ExitCode.FAIL
    verdict = Verdict(code, f"{figures['verdict']}; matrix: {paths[0]}")
    # every case of the input-space model must have been exercised on the correct simulator:
    # a partition no run reaches is a hole the matrix cannot show
    covered = report.get("coverage") or {}
    # (a case the simulator's own reading of an open point leaves unexamined is listed in the
    # report, not a hole: another reading examines it)
    holes = [
        m
        for row in covered.get("by_clause", {}).values()
        for m in row["not_exercised"]
        if m.get("scope") != "reading"
    ]
    if holes and not args.mutants:
        shown = "; ".join(f"{m['case']} ({m['why']})" for m in holes[:5])
        why = f"model cases not exercised on the correct simulator: {len(holes)}: {shown}"
        verdict = Verdict(ExitCode.FAIL, why)
    print(verdict.line("tryon-suite selftest"))
    return verdict.code

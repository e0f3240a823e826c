"""`tryon-suite diff OLD.json NEW.json`: the command line, the console lines, diff.html and
diff.json."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, Final

from tryon_suite.errors import ExitCode, UsageParser, Verdict
from tryon_suite.report.drift.compare import (
    Change,
    ReportError,
    clause_moves,
    code_changes,
    latency_moves,
    read_compliance,
    read_load,
    reading_moves,
    still_failing,
)
from tryon_suite.report.drift.known import apply_known, expired, read_known
from tryon_suite.report.index import finished_now, write_index

__all__ = ["diff", "main", "parser"]

#: the groups in order of materiality, with their headings
GROUPS: Final = (
    ("expired", "Known deviations expired"),
    ("status", "Clauses whose status moved"),
    ("reading", "Open points whose reading moved"),
    ("code", "Status codes first or no longer seen"),
    ("latency", "Latency percentiles beyond the tolerance"),
    ("still fails", "Clauses failing in both runs"),
    ("header", "Response headers first or no longer seen"),
)
NOTHING: Final = "nothing material changed"

_RULE = """\
A material change: a clause whose status moved to or from "fails", an open point whose
reading moved (volatile parts such as seconds, ids, URLs' hosts, ports, times and balances
ignored), a status code (method, path template, code) first or no longer seen in the
reports' exchanges, a time-to-result percentile that moved by more than the tolerance AND
the floor (only with --load), or an expired known deviation. A failure or a reading a known
deviation covers is shown amber and is not material by itself. Other status moves (holds ->
not checked), failures present in both runs and response headers first or no longer seen
are listed, not material.

exit codes: 0 nothing material changed; 1 something did; 4 bad input (a bad option, a file
that is not a compliance.json or load.json, a known-deviations entry with a missing field or a
bad date, a page that cannot be written): one line."""


def parser() -> argparse.ArgumentParser:
    p = UsageParser(
        prog="tryon-suite diff",
        description="What changed between two compliance.json runs of the contract suite.",
        epilog=_RULE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("old", type=Path, help="the baseline compliance.json")
    p.add_argument("new", type=Path, help="the newer compliance.json")
    p.add_argument(
        "--load",
        nargs=2,
        type=Path,
        metavar=("OLD_LOAD", "NEW_LOAD"),
        help="two load.json files: compare their time-to-result percentiles too",
    )
    p.add_argument(
        "--latency-tolerance",
        type=float,
        default=0.2,
        help="a percentile moved when it changed by more than this share of the old (0.2)",
    )
    p.add_argument(
        "--latency-floor",
        type=float,
        default=0.5,
        help="... and by more than this many seconds (0.5)",
    )
    p.add_argument(
        "--known",
        type=Path,
        help="known deviations (YAML or JSON): clause, tolerated, owner, expires, evidence",
    )
    p.add_argument(
        "--html",
        type=Path,
        help="the page to write (default: diff.html beside NEW); diff.json goes beside it",
    )
    p.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="the date expiries are judged against, YYYY-MM-DD (default: today)",
    )
    return p


def _load_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportError(f"{path}: expected a readable file, got {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: expected JSON, got {str(exc).splitlines()[0]}") from None


def diff(
    old: dict[str, Any],
    new: dict[str, Any],
    *,
    load: tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]] | None = None,
    tolerance: float = 0.2,
    floor: float = 0.5,
    known: Sequence[Any] = (),
    today: date | None = None,
) -> list[Change]:
    """Every change between two parsed reports, in the order of `GROUPS`."""
    today = today or date.today()
    changes = clause_moves(old, new) + reading_moves(old, new) + code_changes(old, new)
    if load is not None:
        changes += latency_moves(load[0], load[1], tolerance, floor)
    changes += still_failing(old, new)
    changes = apply_known(changes, list(known), today) + expired(list(known), today)
    order = [g for g, _ in GROUPS]
    return sorted(changes, key=lambda c: order.index(c.group))  # stable within a group


def summary(changes: Sequence[Change]) -> str:
    counted = [c for c in changes if c.counts]
    if not counted:
        amber = sum(c.colour == "amber" for c in changes)
        return NOTHING + (f" ({amber} known deviation(s) shown amber)" if amber else "")
    by_group = {g: sum(c.group == g for c in counted) for g, _ in GROUPS}
    parts = [f"{n} {g}" for g, n in by_group.items() if n]
    return "material changes: " + ", ".join(parts)


def _line(c: Change) -> str:
    mark = {"red": "!", "amber": "~", "grey": " "}[c.colour]
    level = f" [{c.level}]" if c.level else ""
    moved = f"{c.old} -> {c.new}" if c.old else c.new
    extra = f" ({c.note})" if c.note else ""
    known = f"  [{c.known}]" if c.known else ""
    return f"{mark} {c.subject}{level}: {moved}{extra}{known}"


def _sources(old: Path, new: Path, o: dict[str, Any], n: dict[str, Any]) -> list[dict[str, str]]:
    return [
        {"name": role, "path": str(path), "target": str(d.get("target", "")),
         "finished": str(d.get("finished", "")), "verdict": str(d.get("verdict", ""))}
        for role, path, d in (("old", old, o), ("new", new, n))
    ]  # fmt: skip


def write(changes: Sequence[Change], html: Path, data: dict[str, Any]) -> tuple[Path, Path]:
    """diff.html and diff.json, then the folder's dashboard."""
    from tryon_suite.report.pages import environment

    html.parent.mkdir(parents=True, exist_ok=True)
    groups = [
        {"id": g.replace(" ", "-"), "title": t, "changes": [c for c in changes if c.group == g]}
        for g, t in GROUPS
    ]
    page = environment().get_template("diff.html.j2").render(report=data, groups=groups)
    html.write_text(page, encoding="utf-8")
    json_path = html.with_suffix(".json")
    json_path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    write_index(html.parent)
    return html, json_path


def main(argv: Sequence[str] | None = None) -> int:
    """Compare two runs; the exit code as --help states it."""
    args = parser().parse_args(argv)
    try:
        old = read_compliance(str(args.old), _load_json(args.old))
        new = read_compliance(str(args.new), _load_json(args.new))
        load = None
        if args.load:
            load = (
                read_load(str(args.load[0]), _load_json(args.load[0])),
                read_load(str(args.load[1]), _load_json(args.load[1])),
            )
        known = read_known(args.known) if args.known else []
    except ReportError as exc:
        return _usage(str(exc))
    changes = diff(
        old,
        new,
        load=load,
        tolerance=args.latency_tolerance,
        floor=args.latency_floor,
        known=known,
        today=args.today,
    )
    ok = not any(c.counts for c in changes)
    html = args.html or args.new.parent / "diff.html"
    data = {
        "kind": "diff",
        "finished": finished_now(),
        "verdict": summary(changes),
        "ok": ok,
        "html": html.name,
        "target": str(new.get("target", "")),
        "runs": _sources(args.old, args.new, old, new),
        "changes": [c.as_dict() for c in changes],
    }
    try:
        html_path, json_path = write(changes, html, data)
    except OSError as exc:
        return _usage(f"{exc.filename or html}: expected a writable place, got {exc.strerror}")
    titles = dict(GROUPS)
    shown = ""
    for c in changes:
        if c.group != shown:
            shown = c.group
            print(f"{titles[shown]}:")
        print(f"  {_line(c)}")
    print(f"diff: {html_path} and {json_path.name}")
    verdict = Verdict(ExitCode.PASS if ok else ExitCode.FAIL, summary(changes))
    print(verdict.line("tryon-suite diff"))
    return verdict.code


def _usage(message: str) -> int:
    print(f"tryon-suite diff: error: {message}", file=sys.stderr)
    return ExitCode.USAGE

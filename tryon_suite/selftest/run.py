"""`tryon-suite selftest`: the contract suite against the correct simulator and every mutant.

Writes the kill matrix (reports/selftest.json and .html): each mutant, killed or not, by which
clauses and tests. A mutant counts as killed only when the run against it would exit FAIL: a
`must` clause fails (on target when it is one the mutant is tagged with). One seen only through
failing `should` clauses is "detected by a should only": that run stays green, so it is no kill;
it is as the catalogue claims only for a mutant tagged `should_only` (all it breaks is a should).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tryon_suite.mutants import CATALOGUE, Mutant, mutant
from tryon_suite.report.index import write_index
from tryon_suite.simulator.config import DEMO_KEY, NO_CREDITS_KEY, OTHER_KEY

__all__ = [
    "ContractRun",
    "KillResult",
    "judged",
    "matrix_figures",
    "run_contract",
    "run_selftest",
    "write_rows",
]

ROOT = Path(__file__).resolve().parent.parent.parent
#: the row of the correct simulator
CORRECT = "(correct simulator)"
#: where the one-session run leaves the mutants' rows
ROWS = "selftest-rows.json"
PERMISSIONS = [
    "--tryon-no-credits-key",
    NO_CREDITS_KEY,
    "--tryon-other-key",
    OTHER_KEY,
    "--tryon-allow-burst",
]


@dataclass
class KillResult:
    """One row of the kill matrix."""

    mutant: str
    description: str
    tagged: list[str]
    needs: list[str]
    face: str
    #: a must clause failed: the run against it would exit 1
    killed: bool
    #: a must clause it is tagged with failed
    on_target: bool
    failing: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)
    seconds: float = 0.0
    exit_code: int = 0
    #: no must failed, a should did: seen, but the run stays green
    should_seen: bool = False
    #: the catalogue's tag: all it breaks is a should (`Mutant.should_only`)
    should_only: bool = False

    @property
    def verdict(self) -> str:
        """What the matrix and the console say of the row."""
        if self.mutant == CORRECT:
            return "false alarm" if self.failing else "passes"
        if self.killed:
            return "killed" if self.on_target else "killed off target"
        return "detected by a should only" if self.should_seen else "survived"

    @property
    def as_claimed(self) -> bool:
        """The row is what the self-test asks: the correct simulator fails nothing; a mutant
        is killed on target, or, tagged should_only, killed or seen by a should it breaks."""
        if self.mutant == CORRECT:
            return not self.failing
        if self.should_only:
            return self.killed or bool(set(self.failing) & set(self.tagged))
        return self.on_target


def _contract_dir() -> Path:
    """contract/ of this checkout, or of the folder the command runs in (a wheel install)."""
    for candidate in (ROOT / "contract", Path.cwd() / "contract"):
        if candidate.is_dir():
            return candidate
    raise SystemExit(
        f"tryon-suite: error: expected the contract suite in {Path.cwd() / 'contract'}, "
        "found none (run it from a clone of the repository)"
    )


@dataclass(frozen=True)
class ContractRun:
    """One run of the contract suite in a fresh process: exit code, report, output, time."""

    exit_code: int
    report: dict[str, Any]
    stdout: str
    seconds: float


def contract_process(
    args: Sequence[str],
    report_dir: Path,
    profile: str | None = None,
    paths: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run `pytest contract` (or `paths` in it) with `args` in a fresh process, TRYON_*
    variables cleared; the finished process, whatever it wrote."""
    # Bytecode may be written: pytest caches its assertion rewriting there, which otherwise
    # costs every run about three seconds of start-up.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TRYON_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    targets = list(paths) or [str(_contract_dir())]
    command = [
        sys.executable,
        "-m",
        "pytest",
        *targets,
        "-q",
        "-p",
        "no:cacheprovider",
        # plugins the contract suite does not use: each costs start-up (their packages are
        # imported, and assertion-rewritten, for nothing)
        *("-p", "no:schemathesis", "-p", "no:locust", "-p", "no:respx", "-p", "no:anyio"),
        "--tryon-report-dir",
        str(report_dir),
        "-o",
        "junit_family=xunit2",
        # Hypothesis imports libcst to print a failing example as a patch, and libcst 1.0
        # warns about mypy_extensions.TypedDict as it loads: under filterwarnings = error
        # that warning, not the example, ended the session (INTERNALERROR) at a mutant's first
        # failing property test
        "-W",
        "ignore:mypy_extensions.TypedDict is deprecated:DeprecationWarning",
        *args,
    ]
    if profile is not None:
        command.append(f"--hypothesis-profile={profile}")
    cwd = _contract_dir().parent
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)


def run_contract(
    args: Sequence[str],
    report_dir: Path,
    profile: str | None = None,
    paths: Sequence[str] = (),
) -> ContractRun:
    """`contract_process`, which must write a report; its exit code, report and time."""
    started = time.perf_counter()
    done = contract_process(args, report_dir, profile, paths)
    elapsed = time.perf_counter() - started
    report = report_dir / "compliance.json"
    if not report.exists():
        raise RuntimeError(
            f"expected a report from {' '.join(args)}, got none:\n{done.stdout[-2000:]}"
        )
    return ContractRun(done.returncode, json.loads(report.read_text()), done.stdout, elapsed)


def judged(
    m: Mutant | None,
    face: str,
    failing: list[str],
    tests: list[str],
    seconds: float,
    exit_code: int = 0,
    *,
    levels: Mapping[str, str],
) -> KillResult:
    """One row of the matrix: `failing`, the clauses the run showed failing; `levels`, each
    clause's level (must, should, ...), as the catalogue or the report says."""
    tagged = list(m.clauses) if m else []
    musts = {c for c in failing if levels.get(c, "must") == "must"}
    return KillResult(
        mutant=m.name if m else CORRECT,
        description=m.description if m else "no deviation",
        tagged=tagged,
        needs=list(m.needs) if m else [],
        face=face,
        killed=bool(musts),
        on_target=bool(musts & set(tagged)),
        failing=failing,
        tests=tests,
        seconds=round(seconds, 1),
        exit_code=exit_code,
        should_seen=not musts and any(levels.get(c) == "should" for c in failing),
        should_only=m.should_only if m else False,
    )


def _from_report(m: Mutant | None, face: str, run: ContractRun) -> KillResult:
    failing = [c for c in run.report["clauses"] if c["status"] == "fails"]
    tests = sorted(
        {
            t["nodeid"].split("::")[-1]
            for c in failing
            for t in c["tests"]
            if t["outcome"] == "failed"
        }
    )
    levels = {c["id"]: c["level"] for c in run.report["clauses"]}
    ids = [c["id"] for c in failing]
    return judged(m, face, ids, tests, run.seconds, run.exit_code, levels=levels)


def write_rows(rows: list[KillResult], path: Path) -> None:
    """Rows of the matrix as JSON, for the process that completes the matrix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in rows], indent=2), encoding="utf-8")


def _in_process(names: Sequence[str], folder: Path, profile: str, full: bool) -> list[KillResult]:
    """The correct simulator and every mutant in one session (`tryon_suite.selftest.plugin`); the
    correct simulator's compliance report goes to `folder`."""
    args = ["-p", "tryon_suite.selftest.plugin", "--tryon-selftest", ",".join(names)]
    run = run_contract([*args, "--tryon-selftest-full"] if full else args, folder, profile)
    rows_file = folder / ROWS
    if not rows_file.exists():
        raise RuntimeError(f"expected the mutants' rows in {rows_file}, got none:\n{run.stdout}")
    mutants = [KillResult(**row) for row in json.loads(rows_file.read_text())]
    return [_from_report(None, "in process", run), *mutants]


@contextlib.contextmanager
def _served(name: str) -> Iterator[str]:
    from tryon_suite.http.clock import RealClock
    from tryon_suite.simulator.config import SimulatorConfig
    from tryon_suite.simulator.server import serving

    config = SimulatorConfig(rate_limit=20.0, burst=5, processing_time=0.05)
    with serving(simulator=mutant(name).build(config, RealClock())) as (url, _):
        yield url


def _files_naming(clauses: Sequence[str]) -> list[str]:
    """The contract files that name one of `clauses`: a run over HTTP proves the live path
    kills the mutant, and the rest of the suite is the in-process session's to run."""
    return sorted(
        str(path)
        for path in _contract_dir().glob("test_*.py")
        if any(f'"{clause}"' in path.read_text(encoding="utf-8") for clause in clauses)
    )


def _over_http(name: str, work: Path) -> KillResult:
    files = _files_naming(mutant(name).clauses)
    with _served(name) as url:
        args = [
            "--tryon-base-url",
            url,
            "--tryon-api-key",
            DEMO_KEY,
            "--tryon-rate",
            "15",
            *PERMISSIONS,
        ]
        run = run_contract(args, work / f"http-{name}", "live", paths=files)
    return _from_report(mutant(name), "over HTTP", run)


#: Mutants also run over real HTTP against tryon-mock's ASGI face, to prove the live path.
HTTP_SELECTION = ("location_missing", "result_is_png", "wrong_key_accepted")


def run_selftest(
    names: Sequence[str] | None = None,
    *,
    http: Sequence[str] = HTTP_SELECTION,
    profile: str = "selftest",
    full: bool = False,
    folder: Path | None = None,
) -> list[KillResult]:
    """Run the suite against the correct simulator and the mutants; one row each, the correct
    simulator first. `full` runs every test against every mutant (slower, a fuller matrix);
    the correct simulator's compliance report goes to `folder` when given."""
    chosen = list(names) if names else [m.name for m in CATALOGUE]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        # The runs over HTTP mostly wait on their pacing: they go beside the in-process
        # session (which keeps a core busy) instead of after it.
        with ThreadPoolExecutor(max_workers=max(1, len(http))) as waiting:
            over_http = [waiting.submit(_over_http, name, work) for name in http]
            rows = _in_process(chosen, folder or work / "in-process", profile, full)
            rows += [future.result() for future in over_http]
    return rows


def write_matrix(rows: list[KillResult], folder: Path) -> list[Path]:
    """reports/selftest.json and selftest.html; the compliance report links the matrix."""
    from tryon_suite.report.pages import environment

    folder.mkdir(parents=True, exist_ok=True)
    data = {
        "kind": "selftest",
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        **matrix_figures(rows),
        "html": "selftest.html",
        "rows": [{**asdict(r), "verdict": r.verdict, "as_claimed": r.as_claimed} for r in rows],
    }
    json_path = folder / "selftest.json"
    json_path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    html = environment().get_template("selftest.html.j2").render(matrix=data)
    html_path = folder / "selftest.html"
    html_path.write_text(html, encoding="utf-8")
    write_index(folder)
    return [html_path, json_path]


def matrix_figures(rows: Sequence[KillResult]) -> dict[str, Any]:
    """The matrix's counts and its one-line verdict (the console prints the same line)."""
    mutants = [r for r in rows if r.mutant != CORRECT]
    on_target = sum(r.on_target for r in mutants)
    should_seen = [r.mutant for r in mutants if r.should_seen]
    survived = [r.mutant for r in mutants if r.verdict == "survived"]
    false_alarms = [r.failing for r in rows if r.mutant == CORRECT and r.failing]
    tagged = sum(r.should_seen and r.should_only for r in mutants)
    return {
        "ok": all(r.as_claimed for r in rows),
        "verdict": f"{on_target} of {len(mutants)} mutant runs killed on target (a must fails: "
        f"the run exits 1); {len(should_seen)} detected by a should only (the run stays green; "
        f"{tagged} tagged should_only in the catalogue); {len(survived)} survived; "
        f"{len(false_alarms)} false alarms",
        "mutants": len({r.mutant for r in mutants}),
        "killed": sum(r.killed for r in mutants),
        "killed_on_target": on_target,
        "should_only": should_seen,
        "survived": survived,
        "not_as_claimed": [r.mutant for r in rows if not r.as_claimed],
        "false_alarms": false_alarms,
    }

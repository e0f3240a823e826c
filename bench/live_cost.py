"""What a full live run costs against `tryon-mock`: wall time against the floor, requests, credits.

    python bench/live_cost.py [--times 0.5,2,10,30] [--rounds 1]
        [--baseline-commit d0a5ccb] [--serial-at 0.5,2]

For each processing time a `tryon-mock` is served on loopback (5 requests/s per key) and the
contract suite runs against it with every option (`--tryon-no-credits-key`,
`--tryon-other-key`, `--tryon-allow-burst`). Requests are counted by the server (every request
it answered, the preflight's and the downloads of results included), not by the suite. The
floor is what no client can beat: those requests at the suite's pace of 4 per second, plus one
processing time. Credits are the simulator's balances before minus after (every account), not
the suite's own count.

The baseline, in the same invocation, is the suite as it was before issue 11 (commit
`--baseline-commit`, exported with `git archive` and run from its own tree): every check
sending its own success, one after another. `--serial-at` adds this suite with
`--tryon-serial` (the same purchases, bought one by one at first use): what concurrency alone
buys. `--tryon-plan` runs once first; its totals are printed beside what each run spent.
Results go to bench/results/live_cost.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from published import publish, ran_on

from tryon_suite.http.clock import RealClock
from tryon_suite.simulator.config import DEMO_KEY, NO_CREDITS_KEY, OTHER_KEY, SimulatorConfig
from tryon_suite.simulator.core import Simulator
from tryon_suite.simulator.messages import SimRequest, SimResponse
from tryon_suite.simulator.server import serving

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "live_cost.md"
PACE = 4.0


def suite(url: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "contract",
        "-q",
        "-p",
        "no:cacheprovider",
        "--tryon-base-url",
        url,
        "--tryon-api-key",
        DEMO_KEY,
        "--tryon-no-credits-key",
        NO_CREDITS_KEY,
        "--tryon-other-key",
        OTHER_KEY,
        "--tryon-allow-burst",
        *extra,
    ]


def one_run(processing: float, serial: bool = False, tree: Path = ROOT) -> dict[str, Any]:
    """One full live run of the suite in `tree`: seconds, requests, credits (balance), the
    clause totals."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYON_")}
    env["PYTHONPATH"] = str(tree)
    server = Simulator(SimulatorConfig(processing_time=processing), RealClock())
    seen = counted(server)
    with serving(simulator=server) as (url, sim):
        before = sum(sim.credits.values())
        with tempfile.TemporaryDirectory() as out:
            args = suite(url, "--tryon-report-dir", out, *(["--tryon-serial"] if serial else []))
            started = time.perf_counter()
            done = subprocess.run(args, cwd=tree, capture_output=True, text=True, env=env)
            seconds = time.perf_counter() - started
        spent = before - sum(sim.credits.values())
    found = re.search(r"(\d+) checks, (\d+) requests", done.stdout)
    if found is None or done.returncode != 0 or not seen:
        raise SystemExit(
            f"expected a passing run at {processing} s (serial={serial}), it exited "
            f"{done.returncode}:\n{done.stdout[-3000:]}"
        )
    statuses = re.search(r"clauses: (.*)", done.stdout)
    return {
        "seconds": seconds,
        "requests": len(seen),
        "reported": int(found.group(2)),
        "credits": spent,
        "clauses": statuses.group(1) if statuses else "",
    }


def counted(server: Simulator) -> list[str]:
    """Every request `server` answers from now on, as "METHOD /path" (the list grows)."""
    seen: list[str] = []
    handle = server.handle

    async def counting(request: SimRequest) -> SimResponse:
        seen.append(f"{request.method} {request.path}")
        return await handle(request)

    server.handle = counting  # type: ignore[method-assign]
    return seen


def exported(commit: str, into: Path) -> Path:
    """The tree of `commit`, exported (no checkout of this one is touched)."""
    archive = subprocess.run(
        ["git", "archive", commit], cwd=ROOT, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def plan() -> tuple[int, int]:
    """(requests, credits) the plan announces for the same options."""
    done = subprocess.run(
        suite("http://127.0.0.1:9", "--tryon-plan"), cwd=ROOT, capture_output=True, text=True
    )
    found = re.search(r"^total\s+\d+\s+(\d+)\s+(\d+)", done.stdout, re.M)
    if found is None or done.returncode != 0:
        raise SystemExit(f"expected a plan, got exit {done.returncode}:\n{done.stdout[-3000:]}")
    return int(found.group(1)), int(found.group(2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--times", default="0.5,2,10,30")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--baseline-commit", default="d0a5ccb")
    parser.add_argument("--serial-at", default="0.5,2")
    args = parser.parse_args()
    times = [float(t) for t in args.times.split(",")]
    serial_at = {float(t) for t in args.serial_at.split(",") if t}
    planned_requests, planned_credits = plan()
    rows, clauses = [], []
    with tempfile.TemporaryDirectory() as old:
        old_tree = exported(args.baseline_commit, Path(old))
        for processing in times:
            runs = [one_run(processing) for _ in range(args.rounds)]
            seconds = statistics.median(r["seconds"] for r in runs)
            requests = int(statistics.median(r["requests"] for r in runs))
            reported = int(statistics.median(r["reported"] for r in runs))
            credits = statistics.median(r["credits"] for r in runs)
            floor = requests / PACE + processing
            base = one_run(processing, tree=old_tree)
            base_floor = base["requests"] / PACE + processing
            serial = one_run(processing, serial=True) if processing in serial_at else None
            rows.append(
                f"| {processing:g} s | {seconds:.1f} | {floor:.1f} | **{seconds / floor:.2f}** | "
                f"{requests} | {reported} | {credits:g} | {base['seconds']:.1f} | "
                f"{base['seconds'] / base_floor:.2f} | {base['requests']} | {base['credits']:g} "
                f"| {base['seconds'] / seconds:.1f}x | "
                + (f"{serial['seconds']:.1f} |" if serial else "- |")
            )
            clauses.append(
                f"- {processing:g} s: this suite {runs[0]['clauses']}; baseline "
                f"{base['clauses']}" + (f"; serial {serial['clauses']}" if serial else "")
            )
            print(rows[-1], flush=True)
    lines = [
        "# Live run cost: wall time, floor, requests, credits",
        "",
        f"{ran_on()}; {args.rounds} round(s) per processing "
        "time (median). tryon-mock: 5 requests/s per key; the suite paces at 4/s.",
        "",
        f"`--tryon-plan` announced {planned_requests} requests and {planned_credits} credits "
        '(rehearsed at 2 s of processing), and the preflight apart; "reported" is the '
        "report's count, the preflight not in it. Baseline: commit "
        f"{args.baseline_commit}, the serial suite before issue 11.",
        "",
        "| processing | seconds | floor | ratio | requests (server) | reported | credits | "
        "baseline seconds | baseline ratio | baseline requests (server) | baseline credits | "
        "speed-up | serial seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Clause totals (verdicts must match):",
        "",
        *clauses,
    ]
    publish(RESULTS, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())

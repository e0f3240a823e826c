"""Side by side: Schemathesis and tryon-suite against the same simulator and mutants over HTTP.

    python bench/schemathesis_vs_suite.py [--examples 100] [--mutants a b ...]

Each target is the simulator (or one mutant of it) served by uvicorn on loopback: 20
requests/s per key, 0.05 s processing. Schemathesis runs every check with our OpenAPI
document, a fixed seed and example budget, the stateful phase on (the document links a 202's
job_id to the job endpoint), and the key header; a second column leaves out
positive_data_acceptance, which fails any server that refuses schema-valid bytes that are not
an image (ours does, rightly). tryon-suite runs the contract suite with every permission
(live profile). A mutant counts as killed by a tool when the tool's run fails; a run that
fails on the correct simulator is a false alarm. Results: bench/results/schemathesis_vs_suite.md.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from published import publish, ran_on

from tryon_suite.http.clock import RealClock
from tryon_suite.mutants import CATALOGUE, mutant
from tryon_suite.simulator.config import DEMO_KEY, SimulatorConfig
from tryon_suite.simulator.core import Simulator
from tryon_suite.simulator.server import serving

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "schemathesis_vs_suite.md"
KEY = DEMO_KEY
CONFIG = SimulatorConfig(rate_limit=20.0, burst=5, processing_time=0.05)


def schemathesis(url: str, examples: int, exclude: list[str]) -> tuple[bool, float, int]:
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        str(ROOT / "schemas" / "openapi.yaml"),
        "--url",
        url,
        "-H",
        f"X-API-KEY: {KEY}",
        "--checks",
        "all",
        "--max-examples",
        str(examples),
        "--seed",
        "1",
        "--no-color",
    ]
    for check in exclude:
        command += ["--exclude-checks", check]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    elapsed = time.perf_counter() - started
    match = re.search(r"(\d+) generated", done.stdout)
    return done.returncode != 0, elapsed, int(match[1]) if match else 0


def suite(url: str, report_dir: Path) -> tuple[bool, float, int]:
    from tryon_suite.selftest.run import PERMISSIONS, run_contract

    args = ["--tryon-base-url", url, "--tryon-api-key", KEY, "--tryon-rate", "15", *PERMISSIONS]
    done = run_contract(args, report_dir)
    failing = [c for c in done.report["clauses"] if c["status"] == "fails"]
    return bool(failing), done.seconds, done.report["requests"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--mutants", nargs="*", default=None)
    args = parser.parse_args()
    names = args.mutants or [m.name for m in CATALOGUE]
    rows = []
    totals = {"st": [0, 0.0, 0], "st-": [0, 0.0, 0], "ours": [0, 0.0, 0]}
    with tempfile.TemporaryDirectory() as tmp:
        for name in [None, *names]:
            simulator = (
                mutant(name).build(CONFIG, RealClock()) if name else Simulator(CONFIG, RealClock())
            )
            with serving(simulator=simulator) as (url, _):
                st = schemathesis(url, args.examples, [])
            simulator = (
                mutant(name).build(CONFIG, RealClock()) if name else Simulator(CONFIG, RealClock())
            )
            with serving(simulator=simulator) as (url, _):
                st_minus = schemathesis(url, args.examples, ["positive_data_acceptance"])
            simulator = (
                mutant(name).build(CONFIG, RealClock()) if name else Simulator(CONFIG, RealClock())
            )
            with serving(simulator=simulator) as (url, _):
                ours = suite(url, Path(tmp) / (name or "correct"))
            label = name or "(correct simulator)"
            rows.append((label, st, st_minus, ours))
            for key, value in (("st", st), ("st-", st_minus), ("ours", ours)):
                totals[key][0] += int(value[0]) if name else 0
                totals[key][1] += value[1]
                totals[key][2] += value[2]
            print(label, st[0], st_minus[0], ours[0], flush=True)
            with (RESULTS.parent / "schemathesis_vs_suite.jsonl").open("a") as handle:
                handle.write(
                    json.dumps(
                        {
                            "target": label,
                            "schemathesis": st,
                            "schemathesis_minus": st_minus,
                            "suite": ours,
                        }
                    )
                    + "\n"
                )

    def cell(result: tuple[bool, float, int], correct: bool) -> str:
        failed, seconds, sent = result
        verdict = (
            ("FALSE ALARM" if failed else "passes")
            if correct
            else ("killed" if failed else "survived")
        )
        return f"{verdict} ({seconds:.0f} s, {sent})"

    count = len(names)
    header = "Schemathesis, all checks | Schemathesis, all but positive_data_acceptance"
    killed = [f"{totals[k][0]}/{count}" for k in ("st", "st-", "ours")]
    seconds = [f"{totals[k][1]:.0f} s" for k in ("st", "st-", "ours")]
    sent = [str(totals[k][2]) for k in ("st", "st-", "ours")]
    lines = [
        "# Schemathesis and tryon-suite, side by side",
        "",
        f"{ran_on()}; Schemathesis --checks "
        f"all, --max-examples {args.examples}, --seed 1; each cell: verdict (wall time, test "
        "cases or requests sent).",
        "",
        f"| | {header} | tryon-suite |",
        "|---|---|---|---|",
        f"| mutants killed | {' | '.join(killed)} |",
        f"| wall time, all runs | {' | '.join(seconds)} |",
        f"| test cases or requests, all runs | {' | '.join(sent)} |",
        "",
        f"| target | {header} | tryon-suite |",
        "|---|---|---|---|",
    ]
    for label, st, st_minus, ours in rows:
        correct = label == "(correct simulator)"
        lines.append(
            f"| {label} | {cell(st, correct)} | {cell(st_minus, correct)} | {cell(ours, correct)} |"
        )
    publish(RESULTS, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())

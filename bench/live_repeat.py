"""Does any verdict move under overlap? The full live run, N times against one `tryon-mock`.

    python bench/live_repeat.py [--runs 10] [--processing 2]

One `tryon-mock` (5 requests/s per key, `--processing` seconds per try-on) serves every run,
one after another, each with every option. Every clause's status must be the same in every
run; open points may differ only where the reading itself is timing-dependent (how many unpaced
requests a burst takes before its 429), and those are listed. Requests, credits (balance) and
seconds per run go to bench/results/live_repeat.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from live_cost import ROOT, suite
from published import publish, ran_on

from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.server import serving

RESULTS = ROOT / "bench" / "results" / "live_repeat.md"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--processing", type=float, default=2.0)
    args = parser.parse_args()
    statuses: dict[str, set[str]] = defaultdict(set)
    readings: dict[str, set[str]] = defaultdict(set)
    rows = []
    with serving(SimulatorConfig(processing_time=args.processing)) as (url, sim):
        for n in range(args.runs):
            before = sum(sim.credits.values())
            with tempfile.TemporaryDirectory() as out:
                started = time.perf_counter()
                done = subprocess.run(
                    suite(url, "--tryon-report-dir", out), cwd=ROOT, capture_output=True, text=True
                )
                seconds = time.perf_counter() - started
                report = json.loads((Path(out) / "compliance.json").read_text())
            spent = before - sum(sim.credits.values())
            for clause in report["clauses"]:
                statuses[clause["id"]].add(clause["status"])
                readings[clause["id"]].add(" | ".join(clause["observations"]))
            rows.append((n + 1, done.returncode, seconds, report["requests"], spent))
            print(f"run {n + 1}: exit {done.returncode}, {seconds:.1f} s, "
                  f"{report['requests']} requests, {spent} credits", flush=True)  # fmt: skip
    moved = {cid: sorted(s) for cid, s in statuses.items() if len(s) > 1}
    varied = {cid: sorted(r) for cid, r in readings.items() if len(r) > 1}
    lines = [
        "# The full live run, repeated against one server",
        "",
        f"{ran_on()}; tryon-mock at 5 requests/s, "
        f"{args.processing:g} s per try-on; {args.runs} runs, every option.",
        "",
        "| run | exit | seconds | requests | credits |",
        "|---|---|---|---|---|",
        *(f"| {n} | {code} | {s:.1f} | {r} | {c} |" for n, code, s, r, c in rows),
        "",
        f"Median {statistics.median(r[2] for r in rows):.1f} s, "
        f"{statistics.median(r[3] for r in rows):g} requests.",
        "",
        f"Clauses whose status moved between runs: {moved or 'none'}.",
        "",
        "Open points whose reading moved between runs:",
        "",
        *(f"- `{cid}`: {values}" for cid, values in sorted(varied.items())),
    ]
    if not varied:
        lines.append("- none")
    publish(RESULTS, lines)
    return 0 if not moved and all(r[1] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())

"""What a failing live run costs: the full live run against every mutant of the catalogue.

    python bench/live_failing.py [--processing 0.5] [--jobs 3] [--mutants a,b,...] [--no-serial]

A run that finds a fault must not cost much more than one that passes: Hypothesis does not
shrink against a live target, and every check buys nothing of its own. Each mutant is served
over real HTTP (5 requests/s per key, `--processing` seconds per try-on) and the contract suite
runs against it with every option, as `live_cost.py` runs it against the correct simulator,
which is the baseline here, measured in the same invocation. `--jobs` runs go side by side,
each against its own server (the machine, not the target, sets how many fit). Requests are the
report's plus the preflight's; credits are the server's balances before minus after.

Unless `--no-serial`, each server is judged a second time with `--tryon-serial` (the same
purchases bought one by one at first use, nothing overlapping): concurrency must not move a
verdict, so the exit code and the failing clauses must be the same both ways. Results go to
bench/results/live_failing.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from live_cost import ROOT, suite
from published import publish, ran_on

from tryon_suite.http.clock import RealClock
from tryon_suite.mutants import CATALOGUE, mutant
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.core import Simulator
from tryon_suite.simulator.server import serving

RESULTS = ROOT / "bench" / "results" / "live_failing.md"
#: what issue 11 allows a failing run
CEILING = 200


def one_run(name: str | None, processing: float, serial: bool = False) -> dict[str, Any]:
    """The full live run against mutant `name` (None: the correct simulator)."""
    config = SimulatorConfig(processing_time=processing)
    server = mutant(name).build(config, RealClock()) if name else Simulator(config, RealClock())
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYON_")}
    with serving(simulator=server) as (url, sim), tempfile.TemporaryDirectory() as out:
        before = sum(sim.credits.values())
        started = time.perf_counter()
        done = subprocess.run(
            suite(url, "--tryon-report-dir", out, *(["--tryon-serial"] if serial else [])),
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=env,
        )
        seconds = time.perf_counter() - started
        spent = before - sum(sim.credits.values())
        report_file = Path(out) / "compliance.json"
        if not report_file.exists():
            raise SystemExit(
                f"expected a report from the run against {name}, got exit "
                f"{done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-2000:]}"
            )
        report = json.loads(report_file.read_text())
    failing = sorted(c["id"] for c in report["clauses"] if c["status"] == "fails")
    return {
        "name": name or "(correct simulator)",
        "exit": done.returncode,
        "seconds": seconds,
        "requests": report["requests"],
        "preflight": report.get("preflight_requests", 0),
        "credits": spent,
        "failing": failing,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processing", type=float, default=0.5)
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--mutants", default="", help="comma-separated names (default: all)")
    parser.add_argument("--no-serial", action="store_true", help="skip the serial comparison")
    args = parser.parse_args()
    names = [n for n in args.mutants.split(",") if n] or [m.name for m in CATALOGUE]
    for name in names:
        mutant(name)  # an unknown name is one clear error, before anything runs
    with ThreadPoolExecutor(args.jobs) as pool:
        baseline = pool.submit(one_run, None, args.processing)
        futures = [pool.submit(one_run, name, args.processing) for name in names]
        serials = {
            name: pool.submit(one_run, name, args.processing, True)
            for name in ([] if args.no_serial else [None, *names])
        }
        runs = []
        for future in futures:
            run = future.result()
            runs.append(run)
            print(
                f"{run['name']}: exit {run['exit']}, {run['requests']}+{run['preflight']} "
                f"requests, {run['credits']} credits, {len(run['failing'])} failing",
                flush=True,
            )
        base = baseline.result()
        serial = {name: f.result() for name, f in serials.items()}
    moved = [
        (r["name"], (r["exit"], r["failing"]), (s["exit"], s["failing"]))
        for r, s in (
            (r, serial[n])
            for r, n in zip([base, *runs], [None, *names], strict=True)
            if n in serial
        )
        if (r["exit"], r["failing"]) != (s["exit"], s["failing"])
    ]
    # a run that finds a fault: it exits 1, or a should clause fails (exit 0)
    failing = [r for r in runs if r["exit"] != 0 or r["failing"]]
    passing = [r for r in runs if r["exit"] == 0]
    sent = [r["requests"] + r["preflight"] for r in failing]
    base_sent = base["requests"] + base["preflight"]
    worst = max(failing, key=lambda r: r["requests"] + r["preflight"], default=None)
    lines = [
        "# What a failing live run costs",
        "",
        f"{ran_on()}; every mutant of the catalogue served over HTTP (5 requests/s per key, "
        f"{args.processing:g} s per try-on), the full live run with every option, "
        f"{args.jobs} runs side by side.",
        "",
        f"Baseline, the correct simulator in the same invocation: exit {base['exit']}, "
        f"{base_sent} requests ({base['requests']} + {base['preflight']} preflight), "
        f"{base['credits']} credits, {base['seconds']:.1f} s.",
        "",
    ]
    if worst is not None:
        lines += [
            f"Runs that found a fault: {len(failing)} of {len(runs)}. Requests: median "
            f"{statistics.median(sent):g}, most {max(sent)} ({worst['name']}), "
            f"{max(sent) - base_sent:+d} against the passing run; issue 11's ceiling is "
            f"{CEILING}. Credits: most {max(r['credits'] for r in failing)}.",
            "",
        ]
    if serial:
        lines += [
            f"Concurrent against serial (`--tryon-serial`), {len(serial)} servers: "
            + (
                "every exit code and every failing clause the same."
                if not moved
                else "verdicts moved: "
                + "; ".join(f"`{n}` concurrent {a}, serial {b}" for n, a, b in moved)
            ),
            "",
        ]
    if passing:
        lines += [
            "Mutants whose live run exits 0 (the self-test kills them in process, where the "
            "suite moves the clock): "
            + ", ".join(
                f"`{r['name']}`"
                + (f" (fails {', '.join(r['failing'])}, a should)" if r["failing"] else "")
                for r in passing
            ),
            "",
        ]
    lines += [
        "| mutant | exit | requests | preflight | credits | seconds | failing clauses |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {r['name']} | {r['exit']} | {r['requests']} | {r['preflight']} | "
            f"{r['credits']} | {r['seconds']:.1f} | {len(r['failing'])} |"
            for r in [base, *runs]
        ),
    ]
    publish(RESULTS, lines)
    over = [r["name"] for r in failing if r["requests"] + r["preflight"] > CEILING]
    if over:
        print(f"expected every failing run at most {CEILING} requests, these sent more: {over}")
    if moved:
        print(f"expected the same verdicts with and without concurrency, these moved: {moved}")
    return 1 if over or moved or base["exit"] != 0 else 0


if __name__ == "__main__":
    sys.exit(main())

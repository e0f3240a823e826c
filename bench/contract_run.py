"""How long the default contract run takes and how many requests it sends.

    python bench/contract_run.py [--rounds 3] [--thorough] [--live]

Baseline: pytest collecting the same suite without running it (start-up and import cost),
measured in the same run. `--thorough` adds one run of the thorough profile (10x examples);
`--live` adds one run over HTTP against `tryon-mock` (5 requests/s, 2 s processing) with every
permission. Medians and the machine go to bench/results/contract_run.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from published import publish, ran_on

from tryon_suite.simulator.config import DEMO_KEY, NO_CREDITS_KEY, OTHER_KEY

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "contract_run.md"


def run(args: list[str], report_dir: Path) -> tuple[float, int, int, int]:
    """(seconds, requests, checks, exit code) of one pytest run of the contract suite."""
    from tryon_suite.selftest.run import run_contract

    done = run_contract(args, report_dir)
    return done.seconds, done.report["requests"], done.report["tests"], done.exit_code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--thorough", action="store_true")
    parser.add_argument("--live", action="store_true")
    args = parser.parse_args()
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        collect = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "contract",
                    "--collect-only",
                    "-q",
                    "-p",
                    "no:cacheprovider",
                ],
                cwd=ROOT,
                capture_output=True,
                check=True,
            )
            collect.append(time.perf_counter() - started)
        runs = [run(["--hypothesis-profile=ci"], out) for _ in range(args.rounds)]
        for *_, code in runs:
            if code != 0:
                raise SystemExit(f"expected the default run to pass, it exited {code}")
        base = statistics.median(collect)
        median = statistics.median(r[0] for r in runs)
        rows.append(f"| collect only (baseline) | {base:.1f} | - | - | 1.00 |")
        rows.append(
            f"| default run, in process, ci profile (100 examples) | {median:.1f} | "
            f"{runs[0][1]} | {runs[0][2]} | {median / base:.1f} |"
        )
        if args.thorough:
            elapsed, requests, checks, _ = run(["--hypothesis-profile=thorough"], out)
            rows.append(
                f"| thorough profile (1000 examples) | {elapsed:.1f} | {requests} | {checks} "
                f"| {elapsed / base:.1f} |"
            )
        if args.live:
            from tryon_suite.simulator.config import SimulatorConfig
            from tryon_suite.simulator.server import serving

            with serving(SimulatorConfig()) as (url, _):
                elapsed, requests, checks, _ = run(
                    [
                        "--tryon-base-url",
                        url,
                        "--tryon-api-key",
                        DEMO_KEY,
                        "--tryon-no-credits-key",
                        NO_CREDITS_KEY,
                        "--tryon-other-key",
                        OTHER_KEY,
                        "--tryon-allow-burst",
                    ],
                    out,
                )
            rows.append(
                "| over HTTP against tryon-mock (5/s, 2 s processing), live profile "
                f"| {elapsed:.1f} | {requests} | {checks} | {elapsed / base:.1f} |"
            )
    lines = [
        "# Contract run: time and requests",
        "",
        f"{ran_on()}; medians of {args.rounds} rounds.",
        "",
        "| run | seconds | requests | checks | ratio to baseline |",
        "|---|---|---|---|---|",
        *rows,
    ]
    publish(RESULTS, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())

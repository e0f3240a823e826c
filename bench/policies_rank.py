"""Does the retry-policy lab rank the policies alike in process and over HTTP, and how long does
its default run take?

    python bench/policies_rank.py [--http-duration 30]

1. `tryon-suite policies` with its defaults, as a user runs it (a subprocess, wall time).
2. The same trace at `--http-duration` seconds, in process, then over HTTP against `tryon-mock`
   (`--rate-limit 5 --processing-time 2`, one key per policy, so the policies of a mode run at
   once, each under its own limit), and the two rankings side by side.
Results go to bench/results/policies_rank.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from published import publish, ran_on

from tryon_suite.policies import LabSettings, Outcome, rankings, run_lab
from tryon_suite.retry import POLICY_KINDS
from tryon_suite.secret import Secret

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "policies_rank.md"


def default_run() -> tuple[float, dict[str, list[dict[str, object]]], str]:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tryon_suite.selftest", "policies", "--report-dir", out],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"expected the default lab to pass, got {done.stderr[-400:]}")
        data = json.loads((Path(out) / "policies.json").read_text(encoding="utf-8"))
    return wall, data["ranking"], done.stdout


def over_http(settings: LabSettings) -> tuple[float, list[Outcome]]:
    keys = [f"bench-key-{i}" for i in range(len(settings.policies))]
    args = [sys.executable, "-m", "tryon_suite.simulator.cli", "--port", "0"]
    args += ["--rate-limit", "5", "--processing-time", "2"]
    for key in keys:
        args += ["--key", f"{key}:1000000"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("Listening on "):
            raise SystemExit(f"expected tryon-mock to start, got {line!r}")
        url = line.removeprefix("Listening on ").strip()
        remote = LabSettings(
            duration=settings.duration, host=url, keys=tuple(Secret(k) for k in keys)
        )
        started = time.perf_counter()
        outcomes = run_lab(remote)
        return time.perf_counter() - started, outcomes
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def shown(ranked: dict[str, list[tuple[int, str]]]) -> list[str]:
    return [
        f"- {mode}: " + ", ".join(f"{n}. {p}" for n, p in order) for mode, order in ranked.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--http-duration", type=float, default=30.0)
    args = parser.parse_args()
    wall, default_ranking, stdout = default_run()
    short = LabSettings(duration=args.http_duration, policies=POLICY_KINDS, jobs=2)
    started = time.perf_counter()
    here = run_lab(short)
    here_wall = time.perf_counter() - started
    there_wall, there = over_http(short)
    ranked_here, ranked_there = rankings(here), rankings(there)
    table = stdout.split("\n", 1)[1].split("ranking,", 1)[0].rstrip()
    lines = [
        "# The retry-policy lab: default run, and in process against over HTTP",
        "",
        ran_on(),
        "",
        f"## `tryon-suite policies` with its defaults: {wall:.1f} s wall (process start to exit)",
        "",
        f"{LabSettings().rate:g} try-ons/s for {LabSettings().duration:g} virtual seconds, seed 0, "
        "rate limit 5/s, processing 2 s, every policy, sync and polling:",
        "",
        "```",
        table,
        "```",
        "",
        *[
            f"- {mode}: " + ", ".join(f"{i['rank']}. {i['policy']}" for i in order)
            for mode, order in default_ranking.items()
        ],
        "",
        f"## The same trace for {args.http_duration:g} s: in process against tryon-mock over HTTP",
        "",
        f"In process: {here_wall:.1f} s wall. Over HTTP (one key per policy, a mode's policies "
        f"at once): {there_wall:.1f} s wall.",
        "",
        "In process:",
        *shown(ranked_here),
        "",
        "Over HTTP:",
        *shown(ranked_there),
        "",
        f"Same ranking: {'yes' if ranked_here == ranked_there else 'no'}.",
        "",
        "| policy | mode | results/min in process | over HTTP | req/result in process "
        "| over HTTP |",
        "|---|---|---|---|---|---|",
    ]
    for a, b in zip(here, there, strict=True):
        ra, rb = a.row(), b.row()
        lines.append(
            f"| {ra['policy']} | {ra['mode']} | {ra['goodput_per_min']} | {rb['goodput_per_min']} "
            f"| {ra['requests_per_result']} | {rb['requests_per_result']} |"
        )
    publish(RESULTS, lines)


if __name__ == "__main__":
    main()

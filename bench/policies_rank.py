"""Does the retry-policy lab rank the policies alike in process and over HTTP, and how long does
its default run take?

    python bench/policies_rank.py [--http-duration 30] [--at-once 2]

1. `tryon-suite policies` with its defaults, as a user runs it (a subprocess, wall time).
2. The same trace at `--http-duration` seconds, in process, then over HTTP against `tryon-mock`
   (`--rate-limit 5 --processing-time 2`), `--at-once` runs at a time, each on its own key.
   Seven runs at once on 2 cores starve the client and the server of CPU: a request's round trip
   grew to 0.5 s at the median and 7 s at p90, which paced every retry loop and halved the
   retrying policies' requests per result. The round trip of each run is in the table, so a
   starved HTTP side shows.
3. In process again with `--latency-ms` at the round trip measured over HTTP (the model's
   latency, calibrated), and the in-process ranking over five seeds: how much of a 30 s ranking
   is the trace's noise.
Results go to bench/results/policies_rank.md with the machine they ran on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from published import publish, ran_on

from tryon_suite.cli.policies import LabSettings, Outcome, rankings, run_lab
from tryon_suite.http.retry import POLICY_KINDS
from tryon_suite.http.secret import Secret

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "policies_rank.md"
SEEDS = 5


def default_run() -> tuple[float, dict[str, list[dict[str, object]]], str]:
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "tryon_suite.cli", "policies", "--report-dir", out],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"expected the default lab to pass, got {done.stderr[-400:]}")
        data = json.loads((Path(out) / "policies.json").read_text(encoding="utf-8"))
    return wall, data["ranking"], done.stdout


def over_http(settings: LabSettings, at_once: int) -> tuple[float, list[Outcome]]:
    keys = [f"bench-key-{i}" for i in range(at_once)]
    args = [sys.executable, "-m", "tryon_suite.cli.mock", "--port", "0"]
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
        # the lab runs as many runs at once as it has keys
        remote = replace(settings, host=url, keys=tuple(Secret(k) for k in keys), jobs=1)
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
    parser.add_argument("--at-once", type=int, default=2)
    args = parser.parse_args()
    wall, default_ranking, stdout = default_run()
    short = LabSettings(duration=args.http_duration, policies=POLICY_KINDS, jobs=2)
    started = time.perf_counter()
    here = run_lab(short)
    here_wall = time.perf_counter() - started
    there_wall, there = over_http(short, args.at_once)
    # the model's latency at what tryon-mock measured: the median of the runs' medians
    rtt = statistics.median(o.row()["round_trip_p50_ms"] for o in there)
    calibrated = run_lab(replace(short, latency=rtt / 1000))
    by_seed = [rankings(run_lab(replace(short, seed=seed))) for seed in range(SEEDS)]
    ranked_here, ranked_there = rankings(here), rankings(there)
    ranked_calibrated = rankings(calibrated)
    table = stdout.split("\n", 1)[1].split("ranking,", 1)[0].rstrip()
    lines = [
        "# The retry-policy lab: default run, and in process against over HTTP",
        "",
        ran_on(),
        "",
        f"## `tryon-suite policies` with its defaults: {wall:.1f} s wall (process start to exit)",
        "",
        f"{LabSettings().rate:g} try-ons/s for {LabSettings().duration:g} virtual seconds, seed 0, "
        "rate limit 5/s, processing 2 s, no modelled latency, every policy, sync and polling:",
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
        f"In process: {here_wall:.1f} s wall. Over HTTP ({args.at_once} runs at once, each on "
        f"its own key): {there_wall:.1f} s wall; median round trip {rtt:g} ms.",
        "",
        "In process:",
        *shown(ranked_here),
        "",
        "Over HTTP:",
        *shown(ranked_there),
        "",
        f"In process with --latency-ms {rtt:g} (the round trip measured over HTTP):",
        *shown(ranked_calibrated),
        "",
        f"Same ranking in process and over HTTP: "
        f"{'yes' if ranked_here == ranked_there else 'no'}; with the measured latency: "
        f"{'yes' if ranked_calibrated == ranked_there else 'no'}.",
        "",
        "| policy | mode | results/min in process | over HTTP | req/result in process "
        "| over HTTP | 429s in process | over HTTP | give-ups in process | over HTTP "
        "| rtt p50/p99 ms over HTTP |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for a, b in zip(here, there, strict=True):
        ra, rb = a.row(), b.row()
        lines.append(
            f"| {ra['policy']} | {ra['mode']} | {ra['goodput_per_min']} | {rb['goodput_per_min']} "
            f"| {ra['requests_per_result']} | {rb['requests_per_result']} "
            f"| {a.limited} | {b.limited} | {a.gave_up} | {b.gave_up} "
            f"| {rb['round_trip_p50_ms']}/{rb['round_trip_p99_ms']} |"
        )
    lines += [
        "",
        f"## How much of a {args.http_duration:g} s ranking is the trace: in process, seeds "
        f"0 to {SEEDS - 1}",
        "",
    ]
    for seed, ranked in enumerate(by_seed):
        lines += [f"Seed {seed}:", *shown(ranked), ""]
    publish(RESULTS, lines[:-1] if lines[-1] == "" else lines)


if __name__ == "__main__":
    main()

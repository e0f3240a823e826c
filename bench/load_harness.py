"""Does a load run measure the target and not the harness?

    python bench/load_harness.py [--seconds 10]

1. Throughput: requests/s one Locust process (SyncUser, FastHttpUser, no think time) drives
   against tryon-mock with no rate limit and no processing time, beside wrk sending the same
   multipart body to the same simulator (the baseline: what the simulator itself sustains).
2. Overhead: time_to_result measured by Locust against a simulator with a fixed 0.5 s
   processing time, beside the same request timed by a plain httpx loop (the baseline).
Needs wrk (Debian: apt-get install wrk). Results: bench/results/load_harness.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from published import publish, ran_on

from tryon_suite.simulator.config import DEMO_KEY

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "load_harness.md"
KEY = DEMO_KEY


def start_mock(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tryon_suite.cli.mock", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("Listening on "):
        raise SystemExit(f"expected tryon-mock to start, got {line!r}")
    return process, line.removeprefix("Listening on ").strip()


def body() -> tuple[bytes, dict[str, str]]:
    from tryon_suite.http.client import TryOnRequest
    from tryon_suite.spec.fixture_images import FixtureImages
    from tryon_suite.spec.schemas import limit_profile

    images = FixtureImages(limit_profile())
    files = {
        "person_image": ("person.jpg", images["person.jpg"], "image/jpeg"),
        "garment_image": ("garment.png", images["garment.png"], "image/png"),
    }
    return TryOnRequest.multipart(files, wait_for_result=True).encode()


def locust_run(url: str, seconds: int, users: int, report: Path, *extra: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYON_")}
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        "load/locustfile.py",
        "--headless",
        "--only-summary",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds}s",
        "--host",
        url,
        "--tryon-key",
        KEY,
        "--tryon-report-dir",
        str(report),
        *extra,
        "SyncUser",
    ]
    subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    return json.loads((report / "load.json").read_text())["summary"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="baseline and harness, alternated")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print(
            "bench: error: expected wrk on PATH (apt-get install wrk), found none", file=sys.stderr
        )
        return 2
    data, headers = body()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        # 1. throughput
        mock, url = start_mock("--rate-limit", "0", "--processing-time", "0", "--seed", "1")
        try:
            check = httpx.post(
                f"{url}/v1/try-on", content=data, headers={**headers, "X-API-KEY": KEY}
            )
            assert check.status_code == 200, f"expected 200 before timing, got {check.status_code}"
            (tmp_path / "body.bin").write_bytes(data)
            script = tmp_path / "post.lua"
            script.write_text(
                'wrk.method = "POST"\n'
                f'local f = io.open("{tmp_path / "body.bin"}", "rb")\n'
                'wrk.body = f:read("*a")\nf:close()\n'
                f'wrk.headers["Content-Type"] = "{headers["Content-Type"]}"\n'
                f'wrk.headers["X-API-KEY"] = "{KEY}"\n'
            )
            out = subprocess.run(
                ["wrk", "-t1", "-c16", f"-d{args.seconds}s", "-s", str(script), f"{url}/v1/try-on"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            wrk_rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])  # type: ignore[index]
            summary = locust_run(
                url, args.seconds, 16, tmp_path / "t", "--tryon-arrival-rate", "1000"
            )
            locust_rps = sum(summary["requests"].values()) / summary["duration_s"]
        finally:
            mock.terminate()
            mock.wait()
        lines += [
            f"| throughput: wrk, same multipart body (baseline) | {wrk_rps:.0f} req/s | 1.00 |",
            f"| throughput: one Locust process, SyncUser, 16 users, no think time | "
            f"{locust_rps:.0f} req/s | {locust_rps / wrk_rps:.2f} |",
        ]
        # 2. overhead on measured latency
        mock, url = start_mock("--rate-limit", "0", "--processing-time", "0.5", "--seed", "2")
        try:
            directs, measures, harnesses = [], [], []
            # Rounds alternate the baseline and the harness, so both meet the same moments of
            # a noisy machine; the figures are the medians of the rounds.
            for round_ in range(args.rounds):
                timings = []
                with httpx.Client(headers={**headers, "X-API-KEY": KEY}) as client:
                    for _ in range(20):
                        started = time.perf_counter()
                        response = client.post(f"{url}/v1/try-on", content=data)
                        timings.append(time.perf_counter() - started)
                        assert response.status_code == 200, response.text
                directs.append(statistics.median(timings))
                # one user, closed workload (each try-on timed from when it went out): one
                # request at a time, as the baseline, so the difference is the harness's
                summary = locust_run(url, args.seconds, 1, tmp_path / f"o{round_}")
                measures.append(summary["modes"]["sync"]["ttr_s"]["p50"])
                # the same requests on two clocks: each try-on as the suite times it (client
                # layer, transport, measures) against its HTTP request as Locust times it
                harnesses.append(summary["harness_s"])
            direct, measured = statistics.median(directs), statistics.median(measures)
            harness = {q: statistics.median(h[q] for h in harnesses) for q in ("p50", "p95")}
        finally:
            mock.terminate()
            mock.wait()
        lines += [
            "| time_to_result p50, plain httpx loop (baseline), 0.5 s processing | "
            f"{direct * 1000:.1f} ms | 1.00 |",
            f"| time_to_result p50 as the Locust harness measures it (HDR), one user | "
            f"{measured * 1000:.1f} ms | {measured / direct:.3f} |",
            f"| what the harness adds at p50: time_to_result minus the baseline (median of "
            f"{args.rounds} alternated rounds) | {(measured - direct) * 1000:+.1f} ms | |",
            f"| what the harness adds per try-on, p50 (same requests: time_to_result minus "
            f"Locust's timing of the request) | {harness['p50'] * 1000:.3f} ms | "
            f"{(measured + harness['p50']) / measured:.4f} |",
            f"| what the harness adds per try-on, p95 | {harness['p95'] * 1000:.3f} ms | |",
        ]
    publish(
        RESULTS,
        [
            "# Load harness: throughput and measurement overhead",
            "",
            f"{ran_on()}, {args.seconds} s per run; simulator and load generator share the "
            "machine.",
            "",
            "| measure | value | ratio to baseline |",
            "|---|---|---|",
            *lines,
        ],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

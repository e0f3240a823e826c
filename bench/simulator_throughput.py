"""How many requests/s the simulator serves over HTTP, against a bare ASGI app as the baseline.

Question: can one simulator process sustain far more than the rate limit it enforces (5/s per
key), so that load runs measure the target and not the harness? Run:

    python bench/simulator_throughput.py [--seconds 5] [--rounds 3]

It needs `wrk` (Debian: apt-get install wrk). Each scenario runs `rounds` times, interleaved
with the baseline, on the same uvicorn settings; the median and the ratio to the baseline's
median are printed and written to bench/results/simulator_throughput.md with the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
from published import publish, ran_on
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tryon_suite.http.clock import RealClock
from tryon_suite.simulator.asgi import SimulatorApp
from tryon_suite.simulator.config import DEMO_KEY, SimulatorConfig
from tryon_suite.simulator.core import Simulator
from tryon_suite.simulator.server import SimulatorServer, base_url_of, bind, uvicorn_config

KEY = DEMO_KEY
RESULTS = Path(__file__).parent / "results" / "simulator_throughput.md"


async def bare_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The baseline: the least an ASGI app can do, a fixed small JSON answer."""
    if scope["type"] == "http":
        await Response(b'{"credits":1}', media_type="application/json")(scope, receive, send)


@contextlib.contextmanager
def serve(app: object) -> Iterator[str]:
    sock = bind("127.0.0.1", 0)
    server = SimulatorServer(uvicorn_config(app))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    server.ready.wait(30)
    try:
        yield base_url_of(sock)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def wrk(url: str, seconds: int, script: str | None) -> float:
    """Requests/s that wrk measured (2 threads, 32 connections)."""
    command = ["wrk", "-t2", "-c32", f"-d{seconds}s", "-H", f"X-API-KEY: {KEY}"]
    if script:
        command += ["-s", script]
    out = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise SystemExit(f"expected a Requests/sec line from wrk, got:\n{out}")
    return float(match[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print(
            "bench: error: expected wrk on PATH (apt-get install wrk), found none", file=sys.stderr
        )
        return 2

    config = SimulatorConfig(rate_limit=0, processing_time=0.0)
    simulator = Simulator(config, RealClock())
    with (
        tempfile.TemporaryDirectory() as tmp,
        serve(bare_app) as bare,
        serve(SimulatorApp(simulator)) as sim,
    ):
        post = Path(tmp, "post.lua")
        post.write_text(
            'wrk.method = "POST"\n'
            f"wrk.body = {json.dumps(json.dumps({'person_image_url': 'https://x.test/p.jpg'}))}\n"
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
        # Correctness before timing: each scenario answers what we think it does.
        with httpx.Client(headers={"X-API-KEY": KEY}) as client:
            job = client.post(
                f"{sim}/v1/try-on",
                files={
                    "person_image": ("p.jpg", _image("person"), "image/jpeg"),
                    "garment_image": ("g.png", _image("garment"), "image/png"),
                },
                data={"wait_for_result": "false"},
            )
            assert job.status_code == 202, f"expected 202, got {job.status_code}: {job.text}"
            job_url = f"{sim}/v1/try-on/job/{job.json()['job_id']}"
            checks = {
                "credits": (client.get(f"{sim}/v1/credits"), 200),
                "job status": (client.get(job_url), 200),
                "400 missing_parameter": (
                    client.post(
                        f"{sim}/v1/try-on", json={"person_image_url": "https://x.test/p.jpg"}
                    ),
                    400,
                ),
                "baseline": (client.get(bare), 200),
            }
            for name, (response, status) in checks.items():
                assert response.status_code == status, f"{name}: expected {status}, got {response}"
        scenarios = {
            "GET /v1/credits": (f"{sim}/v1/credits", None),
            "GET /v1/try-on/job/{id}": (job_url, None),
            "POST /v1/try-on -> 400": (f"{sim}/v1/try-on", str(post)),
        }
        samples: dict[str, list[float]] = {"baseline (bare ASGI)": []}
        samples.update({name: [] for name in scenarios})
        for _ in range(args.rounds):
            samples["baseline (bare ASGI)"].append(wrk(bare, args.seconds, None))
            for name, (url, script) in scenarios.items():
                samples[name].append(wrk(url, args.seconds, script))

    base = statistics.median(samples["baseline (bare ASGI)"])
    lines = [
        "# Simulator throughput over HTTP",
        "",
        f"{ran_on()}, {platform.platform()}; wrk -t2 -c32, {args.seconds} s x "
        f"{args.rounds} rounds, interleaved; one uvicorn process, no access log, rate limit off.",
        "",
        "| scenario | median req/s | all rounds | ratio to baseline |",
        "|---|---|---|---|",
    ]
    for name, values in samples.items():
        median = statistics.median(values)
        rounds = ", ".join(f"{v:.0f}" for v in values)
        lines.append(f"| {name} | {median:.0f} | {rounds} | {median / base:.2f} |")
    publish(RESULTS, lines)
    return 0


def _image(kind: str) -> bytes:
    from tryon_suite.spec.images import render_image

    return render_image(400, 500, "JPEG" if kind == "person" else "PNG", kind=kind)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())

"""The live run measured from outside: the server counts what it answers, a clock times the
README's live command, the server's balances give the credits.

    python bench/live_independent.py PROCESSING [EXTRA OPTIONS...]

A cross-check of `live_cost.py` that trusts nothing the suite reports: `tryon-mock`'s core is
wrapped to count every request it answers (the preflight and result downloads included),
and the command is `python -m pytest contract` with the key in TRYON_API_KEY and every
option (`--tryon-no-credits-key`, `--tryon-other-key`, `--tryon-allow-burst`,
`--tryon-budget 500`), plus what you add (`--tryon-credit-budget 20 --tryon-record DIR`, say).
Prints wall time, the requests the server saw (by endpoint), the report's own count, the
credits by balance, and the ratio to the floor (those requests at 4/s plus one processing time).
"""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from live_cost import PACE, ROOT, counted

from tryon_suite.http.clock import RealClock
from tryon_suite.simulator.config import DEMO_KEY, NO_CREDITS_KEY, OTHER_KEY, SimulatorConfig
from tryon_suite.simulator.core import Simulator
from tryon_suite.simulator.server import serving


def _endpoint(request: str) -> str:
    """ "GET /v1/try-on/job/abc" -> "GET /v1/try-on/job/{id}"; a result's download by name."""
    method, path = request.split(" ", 1)
    if path.startswith("/v1/try-on/job/"):
        return f"{method} /v1/try-on/job/{{id}}"
    return request if path.startswith("/v1/") else f"{method} a result"


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    processing, extra = float(sys.argv[1]), sys.argv[2:]
    server = Simulator(SimulatorConfig(processing_time=processing), RealClock())
    seen = counted(server)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYON_")}
    env["TRYON_API_KEY"] = DEMO_KEY
    out = tempfile.mkdtemp(prefix="live-independent-")
    with serving(simulator=server) as (url, sim):
        before = sum(sim.credits.values())
        command = [sys.executable, "-m", "pytest", "contract", "--tryon-base-url", url,
                   "--tryon-no-credits-key", NO_CREDITS_KEY, "--tryon-other-key", OTHER_KEY,
                   "--tryon-allow-burst", "--tryon-budget", "500", "--tryon-report-dir", out,
                   *extra]  # fmt: skip
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)
        wall = time.monotonic() - started
        spent = before - sum(sim.credits.values())
    report = json.loads((Path(out) / "compliance.json").read_text())
    by_endpoint = collections.Counter(map(_endpoint, seen))
    floor = len(seen) / PACE + processing
    print(
        f"processing {processing:g} s: exit {done.returncode}, wall {wall:.1f} s; the server "
        f"answered {len(seen)} requests {dict(by_endpoint)}; the report counted "
        f"{report['requests']} and {report.get('preflight_requests', 0)} preflight; "
        f"{spent} credits by the balance; floor {floor:.1f} s, ratio {wall / floor:.2f}"
    )
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())

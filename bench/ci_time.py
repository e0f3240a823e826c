"""How long does CI take on a clean clone, and what does spreading the tests over workers buy?

    python bench/ci_time.py [--no-baseline]

Clones HEAD into a temporary folder and runs `bash .ci/run` there (a fresh virtual environment,
the README's test command, the linters), timing each phase from the lines `.ci/run` prints.
The baseline, measured in the same run and the same clone, is the README's test command on one
worker (`-n 0`): the ratio says what the xdist workers and the one-session self-test buy
together against running the same tests one after another. Writes bench/results/ci_time.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "ci_time.md"


def _run(command: list[str], cwd: Path) -> tuple[float, str, int]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=_env())
    return time.perf_counter() - started, done.stdout + done.stderr, done.returncode


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("TRYON_", "VIRTUAL_ENV"))}


def _tests_line(output: str) -> str:
    found = re.findall(r"^=* ?(\d+ passed.*?) in [\d.]+s", output, flags=re.M)
    return found[-1] if found else "no pytest summary"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--no-baseline", action="store_true", help="skip the one-worker run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clone = Path(tmp) / "clone"
        subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
        seconds, output, code = _run(["bash", ".ci/run"], clone)
        if code != 0:
            print(output[-3000:], file=sys.stderr)
            print(f"expected .ci/run to pass, it exited {code}", file=sys.stderr)
            return 1
        phases = dict(re.findall(r"^ci: (\w+) done at (\d+) s$", output, flags=re.M))
        test_phase = int(phases["tests"]) - int(phases["install"])
        rows = [
            ("`bash .ci/run`, clean clone, all phases", seconds, _tests_line(output)),
            ("its test phase (4 workers)", float(test_phase), ""),
        ]
        if not args.no_baseline:
            python = str(clone / ".venv-ci" / "bin" / "python")
            command = [python, "-m", "pytest", "-n", "0", "--hypothesis-profile=ci", "-q"]
            base_seconds, base_output, _ = _run(command, clone)
            rows.append(("the test command on one worker (`-n 0`)", base_seconds, ""))
            rows[-1] = (rows[-1][0], base_seconds, _tests_line(base_output))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, CPython {platform.python_version()}"
    lines = [
        f"## {date.today().isoformat()}, {machine}",
        "",
        "| run | seconds | tests |",
        "|---|---|---|",
        *(f"| {name} | {secs:.0f} | {tests} |" for name, secs, tests in rows),
        "",
        "Phases of `.ci/run` (seconds since it started): "
        + ", ".join(f"{name} {at}" for name, at in phases.items()),
        "",
    ]
    if len(rows) == 3:
        ratio = rows[2][1] / max(rows[1][1], 1.0)
        lines[-2:-2] = [f"One worker takes {ratio:.2f} times CI's test phase.", ""]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with RESULTS.open("a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

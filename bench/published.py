"""What every benchmark writes: the machine it ran on, and its results printed and kept."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from pathlib import Path


def ran_on() -> str:
    """`Run <time> UTC on <machine>, <cores> cores, <Python> <version>`: the line each result
    file opens with (a noisy 2-core machine reads differently from a quiet 16-core one)."""
    return (
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, {os.cpu_count()} "
        f"cores, {platform.python_implementation()} {platform.python_version()}"
    )


def publish(path: Path, lines: list[str]) -> None:
    """Print the results and write them to `path` (bench/results/...)."""
    text = "\n".join(lines) + "\n"
    print(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")

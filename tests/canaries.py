"""Canary keys and how to look for them: the failing runs of the secrets tests use keys no
real account has, then search every byte a run wrote for them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from tests.conftest import QUIET
from tryon_suite.http.clock import RealClock
from tryon_suite.mutants import mutant
from tryon_suite.selftest.run import contract_process
from tryon_suite.simulator.config import Account
from tryon_suite.simulator.core import Simulator
from tryon_suite.simulator.server import serving

ROOT = Path(__file__).resolve().parent.parent
MAIN = "canary-main-3f9a1c7e5b2d4086"
OTHER = "canary-other-8e1d2c3b4a5f6071"
NO_CREDITS = "canary-none-5a4b3c2d1e0f9182"
CANARIES = (MAIN, OTHER, NO_CREDITS)
ACCOUNTS = (Account(MAIN, 1_000_000), Account(OTHER, 1_000_000), Account(NO_CREDITS, 0))
ALL_KEYS = (
    "--tryon-api-key",
    MAIN,
    "--tryon-other-key",
    OTHER,
    "--tryon-no-credits-key",
    NO_CREDITS,
)


def pytest_contract(*args: str, report_dir: Path, paths: tuple[str, ...] = ("contract",)):
    """`python -m pytest` on the contract suite in a fresh process; the finished process."""
    return contract_process([*args, "--tryon-rate", "200"], report_dir, paths=paths)


def leaks(done: subprocess.CompletedProcess[str], folder: Path, keys=CANARIES) -> list[str]:
    """Where any key shows up: stdout, stderr, any file under `folder` or `.hypothesis/`."""
    found = [
        f"{name}: {key}"
        for name in ("stdout", "stderr")
        for key in keys
        if key in getattr(done, name)
    ]
    for root in (folder, ROOT / ".hypothesis"):
        for path in root.rglob("*") if root.exists() else ():
            if path.is_file():
                data = path.read_bytes()
                found += [f"{path}: {key}" for key in keys if key.encode() in data]
    return found


def canary_servers() -> Iterator[Callable[[str | None], str]]:
    """Serves a mutant (or the correct simulator) over HTTP that knows the canary keys."""
    opened = []

    def serve(name: str | None) -> str:
        config = replace(QUIET, accounts=ACCOUNTS)
        core = mutant(name).build(config, RealClock()) if name else Simulator(config, RealClock())
        context = serving(simulator=core)
        url, _ = context.__enter__()
        opened.append(context)
        return url

    yield serve
    for context in opened:
        context.__exit__(None, None, None)

"""The project's promises about itself: the README's two commands, and CI running one of them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow(11)

ROOT = Path(__file__).resolve().parent.parent


def _quickstart_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S)]


def test_the_quickstart_has_exactly_two_commands() -> None:
    commands = _quickstart_commands()
    assert len(commands) == 2, f"expected two commands in the quickstart, got {commands}"
    assert all("\n" not in c for c in commands), f"expected one line each, got {commands}"


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    test_command = _quickstart_commands()[1]
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci_lines, (
        f"expected .ci/run to hold the README's test command {test_command!r} as a line, "
        "found it nowhere"
    )


def test_pytest_lists_the_suite_markers_and_options() -> None:
    import subprocess
    import sys

    markers = subprocess.run(
        [sys.executable, "-m", "pytest", "--markers"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    for marker in ("@pytest.mark.clause(*ids)", "@pytest.mark.live", "@pytest.mark.spends_credits"):
        assert marker in markers, f"expected {marker} in pytest --markers, got none"
    helptext = subprocess.run(
        [sys.executable, "-m", "pytest", "--help"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    for option in ("--tryon-base-url", "--tryon-budget", "--tryon-allow-burst", "--tryon-limits"):
        assert option in helptext, f"expected {option} in pytest --help, got none"

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


def _package_imports(path: Path) -> set[str]:
    """The tryon_suite components a module imports (`tryon_suite.simulator.core` -> simulator),
    lazy imports inside functions included, imports for type hints only (under
    `if TYPE_CHECKING:`) left out."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] == "tryon_suite" and len(parts) > 1:
                found.add(parts[1])
            elif parts == ["tryon_suite"]:
                found.update(alias.name for alias in node.names)
    return found


def test_the_architecture_page_names_each_module_s_imports_truly() -> None:
    page = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    table = page.split("## Modules", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    documented: set[str] = set()
    problems = []
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        names = re.findall(r"`([a-z_/.]+)`", cells[0])
        listed = {n.strip() for n in cells[2].split(",")} - {"nothing", ""}
        components = {n.removesuffix(".py").removesuffix("/") for n in names}
        documented |= components
        actual: set[str] = set()
        for component in components:
            folder = ROOT / "tryon_suite" / component
            files = sorted(folder.glob("*.py")) if folder.is_dir() else [folder.with_suffix(".py")]
            for file in files:
                actual |= _package_imports(file)
        actual -= components
        if actual != listed:
            problems.append((names, sorted(listed), sorted(actual)))
    assert not problems, f"expected ARCHITECTURE.md's imports (listed, actual) to match: {problems}"
    modules = {p.stem for p in (ROOT / "tryon_suite").glob("*.py")} - {"__init__"}
    packages = {p.name for p in (ROOT / "tryon_suite").iterdir() if (p / "__init__.py").exists()}
    missing = (modules | packages) - documented
    assert not missing, f"expected every module on ARCHITECTURE.md, missing {sorted(missing)}"

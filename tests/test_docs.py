"""The documentation: a README that fits on a few screens, links that lead somewhere, a site
that builds with no warning, and the one exit-code table said alike everywhere."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
PAGES = sorted(DOCS.rglob("*.md"))

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.MULTILINE)
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*$", re.MULTILINE)
EXPLICIT_ID = re.compile(r"\{\s*#([\w-]+)[^}]*\}\s*$")
GENERATED = "<!-- generated: "


def _prose(text: str) -> str:
    """Markdown without its code: a link inside a code block or span is an example."""
    return CODE.sub("", FENCE.sub("", text))


def _links(path: Path) -> Iterator[str]:
    prose = _prose(path.read_text(encoding="utf-8"))
    yield from LINK.findall(prose)
    yield from REFERENCE.findall(prose)


def _slug(heading: str) -> str:
    """The anchor Python-Markdown's toc gives a heading (MkDocs uses it)."""
    text = re.sub(r"[`*_]", "", re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading))
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def _anchors(path: Path) -> set[str]:
    anchors = set()
    for heading in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        explicit = EXPLICIT_ID.search(heading)
        anchors.add(explicit.group(1) if explicit else _slug(heading))
    return anchors


def _broken(path: Path) -> list[str]:
    broken = []
    for target in _links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
            continue  # a URL with a scheme, or an anchor on the same page
        file_part, _, anchor = target.partition("#")
        file_part = file_part.split("?", 1)[0]
        resolved = (path.parent / file_part).resolve()
        if not resolved.exists():
            broken.append(f"{target} (no file {resolved})")
            continue
        checkable = resolved.suffix == ".md" and GENERATED not in resolved.read_text("utf-8")
        if anchor and checkable and anchor not in _anchors(resolved):
            broken.append(f"{target} (no heading #{anchor} in {resolved.name})")
    return broken


def test_the_readme_has_at_most_150_lines() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"expected README.md to have at most 150 lines, got {len(lines)}"


def test_the_architecture_page_has_under_80_lines() -> None:
    lines = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 80, f"expected ARCHITECTURE.md to have under 80 lines, got {len(lines)}"


@pytest.mark.parametrize("path", [README, *PAGES], ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_points_to_a_file_that_exists(path: Path) -> None:
    broken = _broken(path)
    assert not broken, f"expected every relative link of {path.name} to resolve, got {broken}"


def test_the_link_checker_finds_a_broken_link(tmp_path: Path) -> None:
    """The check above is not vacuous."""
    (tmp_path / "other.md").write_text("# Here\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[a](missing.md) [b](other.md#gone) [c](other.md#here) `[d](x.md)` [e](https://x.y)\n",
        encoding="utf-8",
    )
    broken = [entry.split(" ")[0] for entry in _broken(page)]
    assert broken == ["missing.md", "other.md#gone"], (
        f"expected the checker to flag missing.md and other.md#gone only, got {broken}"
    )


def _nav_pages(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _nav_pages(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nav_pages(value)


def test_the_nav_lists_every_page_and_only_pages_that_exist() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    listed = set(_nav_pages(config["nav"]))
    present = {str(p.relative_to(DOCS)) for p in PAGES}
    assert listed == present, (
        f"expected mkdocs.yml's nav to list exactly the pages under docs/, got "
        f"missing from nav {sorted(present - listed)}, absent files {sorted(listed - present)}"
    )


def _exit_code_rows(path: Path) -> dict[str, int]:
    """The first table of `path` whose rows start with an exit code: name -> code."""
    rows = re.findall(r"^\| (\d) \| ([A-Z]+) \|", path.read_text(encoding="utf-8"), re.MULTILINE)
    return {name: int(code) for code, name in rows}


@pytest.mark.parametrize(
    "path", [README, DOCS / "reference" / "exit-codes.md"], ids=lambda p: p.name
)
def test_the_exit_code_table_is_the_exit_code_enum(path: Path) -> None:
    from tryon_suite.errors import ExitCode

    expected = {member.name: int(member) for member in ExitCode}
    got = _exit_code_rows(path)
    assert got == expected, f"expected {path.name}'s exit-code table to be {expected}, got {got}"


PYTHON_BLOCK = re.compile(r"^\s*```python\n(.*?)^\s*```", re.MULTILINE | re.DOTALL)


def test_every_python_example_imports_names_the_package_exports() -> None:
    """The examples compile, and each `from tryon_suite import ...` name is public."""
    import textwrap

    import tryon_suite

    problems = []
    for path in [README, *PAGES]:
        for block in PYTHON_BLOCK.findall(path.read_text(encoding="utf-8")):
            code = textwrap.dedent(block)
            try:
                compile(code, str(path), "exec")
            except SyntaxError as exc:
                problems.append(f"{path.name}: {exc}")
            for names in re.findall(r"^from tryon_suite import (.+)$", code, re.MULTILINE):
                for name in (n.strip() for n in names.split(",")):
                    if name not in getattr(tryon_suite, "__all__", ()):
                        problems.append(f"{path.name}: {name} is not in tryon_suite.__all__")
    assert not problems, (
        f"expected every Python example to compile and import public names, got {problems}"
    )


@pytest.mark.slow(15)
def test_mkdocs_builds_the_site_with_no_warning(tmp_path: Path) -> None:
    for module in ("mkdocs", "material"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: pip install -e '.[docs]' to build the site")
    site = tmp_path / "site"
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(site)],
        cwd=ROOT,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    assert done.returncode == 0, (
        f"expected `mkdocs build --strict` to exit 0, got exit {done.returncode}:\n{output[-3000:]}"
    )
    pytest_options = (site / "reference" / "pytest-options" / "index.html").read_text("utf-8")
    for option in ("--tryon-base-url", "--tryon-budget", "TRYON_API_KEY"):
        assert option in pytest_options, (
            f"expected the generated pytest options page to list {option}, got none"
        )
    command_line = (site / "reference" / "command-line" / "index.html").read_text("utf-8")
    for section in ("tryon-suite-selftest", "tryon-suite-diff", "tryon-mock"):
        assert f'id="{section}"' in command_line, (
            f"expected the generated command-line page to have a section #{section}, got none"
        )

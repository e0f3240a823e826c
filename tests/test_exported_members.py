"""The public names: everything in `__all__` exists and says where it lives, and the contract
tests use nothing else of the package."""

from __future__ import annotations

import ast
from pathlib import Path

import tryon_suite

CONTRACT = Path(__file__).resolve().parent.parent / "contract"


def test_all_exports_exist_and_are_sorted_by_kind() -> None:
    missing = [name for name in tryon_suite.__all__ if not hasattr(tryon_suite, name)]
    assert not missing, f"expected every name in __all__ importable, missing {missing}"
    assert len(set(tryon_suite.__all__)) == len(tryon_suite.__all__), "expected no duplicates"


def test_exported_members_come_from_the_package() -> None:
    foreign = [
        name
        for name in tryon_suite.__all__
        if not name.startswith("__")
        and hasattr(getattr(tryon_suite, name), "__module__")
        and not getattr(tryon_suite, name).__module__.startswith("tryon_suite")
    ]
    assert not foreign, f"expected only tryon_suite's own members, got {foreign}"


def _package_imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import of tryon_suite or one of its modules in a file."""
    found: list[tuple[int, str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, []) for alias in node.names)
    return [item for item in found if item[1].split(".")[0] == "tryon_suite"]


def test_contract_tests_use_only_the_public_api() -> None:
    """A contract test imports from `tryon_suite` itself, and only names in its `__all__`:
    what a check needs lives in the package, not in a test."""
    paths = sorted(CONTRACT.glob("*.py"))
    assert paths, f"expected contract tests in {CONTRACT}, found none"
    problems = [
        f"{path.name}:{line} imports {module}" + (f" ({', '.join(names)})" if names else "")
        for path in paths
        for line, module, names in _package_imports(path)
        if module != "tryon_suite"
    ]
    assert not problems, f"expected imports from tryon_suite only, got {problems}"
    private = [
        f"{path.name}:{line} imports {name}"
        for path in paths
        for line, _, names in _package_imports(path)
        for name in names
        if name not in tryon_suite.__all__
    ]
    assert not private, f"expected names from tryon_suite.__all__ only, got {private}"

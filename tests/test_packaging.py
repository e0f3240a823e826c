"""The runtime dependencies are the ones the package imports, and only those: a test-only
library among them costs every user an install, a missing one breaks a fresh install (which
`.ci/wheel` proves by importing every module from the wheel with the runtime ones alone)."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: the module a distribution is imported as, where the names differ
IMPORT_NAME = {
    "PyYAML": "yaml",
    "Pillow": "PIL",
    "python-multipart": "python_multipart",
    "Jinja2": "jinja2",
    "hdrhistogram": "hdrh",
}
#: runtime dependencies no module imports by name, and why they are needed all the same
NOT_IMPORTED = {
    # jsonschema checks the uri and uri-reference formats only when it is installed
    "rfc3986-validator",
}


def _declared() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [re.split(r"[<>=!~\[ ;]", d, maxsplit=1)[0] for d in project["dependencies"]]


def _imported() -> set[str]:
    """The top-level modules the wheel's code imports: the package, and the locustfile and its
    modules it carries (load/)."""
    found: set[str] = set()
    for path in [*(ROOT / "tryon_suite").rglob("*.py"), *(ROOT / "load").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    own = {"tryon_suite", "_pytest", *(p.stem for p in (ROOT / "load").glob("*.py"))}
    return {m.lower() for m in found - set(sys.stdlib_module_names) - own}


def test_every_runtime_dependency_is_imported_by_the_package() -> None:
    imported = _imported()
    unused = [
        d
        for d in _declared()
        if d not in NOT_IMPORTED and IMPORT_NAME.get(d, d).replace("-", "_").lower() not in imported
    ]
    assert not unused, f"expected every runtime dependency imported by tryon_suite, not {unused}"


def test_every_library_the_package_imports_is_a_runtime_dependency() -> None:
    declared = {IMPORT_NAME.get(d, d).replace("-", "_").lower() for d in _declared()}
    # Locust's own: its gevent loop, and flask for the web UI tab (load/load_support.py)
    transitive = {"gevent", "flask"}
    missing = sorted(_imported() - declared - transitive)
    assert not missing, f"expected every import of tryon_suite declared at run time, got {missing}"

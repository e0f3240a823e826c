"""The package's layers, enforced: each folder of `tryon_suite/` imports only the layers below
it, and no module imports itself back through others. Every import counts, the ones inside a
function (lazy) and those under `if TYPE_CHECKING:` too: a cycle hidden from the interpreter is
still one a reader must hold in their head."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tryon_suite"

#: lowest first: a layer may import the layers before it, never one after it
LAYERS = [
    "errors",  # the exception tree, the exit codes, the usage parser
    "spec",  # the contract as data: schemas, clauses, the input-space model, fixture images
    "http",  # the client, pacing and retry, polling, exchanges, secrets, the cassette
    "report",  # the HTML kit: templates, charts, the dashboard; drift between two runs
    "simulator",  # the API simulated: core, hooks, faces, the twin
    "mutants",  # the simulator broken one way each
    "suite",  # the pytest plugin, targets, checks, evidence, verdicts, the compliance report
    "selftest",  # the suite against every mutant
    "load",  # load measures for Locust
    "lab",  # the retry-policy lab and the rate-limiter measure
    "cli",  # the `tryon-suite` command
]
MAX_TOP_LEVEL = 12
MAX_LINES = 400


def _module(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, known: set[str]) -> Iterator[tuple[int, str]]:
    """Every tryon_suite module `path` imports (line, module), wherever the import sits."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from tryon_suite.spec import model` imports the module tryon_suite.spec.model
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name in known:
                yield node.lineno, name


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None  # None: the package's own __init__


def test_the_package_has_one_folder_per_layer_and_few_entries() -> None:
    entries = sorted(p.name for p in PACKAGE.iterdir() if p.name != "__pycache__")
    assert len(entries) <= MAX_TOP_LEVEL, (
        f"expected at most {MAX_TOP_LEVEL} entries at the top of tryon_suite/, got "
        f"{len(entries)}: {entries}"
    )
    expected = sorted(["__init__.py", "errors.py", *(f for f in LAYERS if f != "errors")])
    assert entries == expected, f"expected the layers {expected}, got {entries}"


def test_no_layer_imports_a_layer_above_it() -> None:
    modules = _modules()
    upward = []
    for module, path in modules.items():
        mine = _layer(module)
        if mine is None:
            continue  # the public names, gathered from every layer on first use
        for line, imported in _imports(path, set(modules)):
            theirs = _layer(imported)
            if theirs is None:
                upward.append(f"{module}:{line} imports the package root")
            elif LAYERS.index(theirs) > LAYERS.index(mine):
                upward.append(f"{module}:{line} ({mine}) imports {imported} ({theirs})")
    assert not upward, f"expected every import to go down the layers {LAYERS}, got: {upward}"


def test_no_module_imports_itself_back() -> None:
    modules = _modules()
    graph = {
        m: {i for _, i in _imports(p, set(modules)) if i != m and not m.startswith(i + ".")}
        for m, p in modules.items()
        if m != "tryon_suite"
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    shown = [" -> ".join(c) for c in cycles]
    assert not cycles, f"expected no import cycle between modules, got {len(cycles)}: {shown}"


def test_no_module_is_over_400_lines() -> None:
    long = {
        m: n
        for m, p in _modules().items()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"expected every module under {MAX_LINES} lines, got {long}"

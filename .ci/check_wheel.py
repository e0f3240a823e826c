"""The wheel as a user gets it, checked from the fresh virtual environment it is installed in:
only the package lands in site-packages, every file a user needs is in it, and every module
imports with the runtime dependencies alone (a test-only one imported at run time fails here).

Run by .ci/wheel with that environment's python: `python .ci/check_wheel.py WHEEL`.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import zipfile
from pathlib import Path

NEEDED = [
    # the contract: schemas, clauses, the input-space model, the Arazzo workflows
    "tryon_suite/spec/schema_files/openapi.yaml",
    "tryon_suite/spec/schema_files/clauses.yaml",
    "tryon_suite/spec/schema_files/model.yaml",
    "tryon_suite/spec/schema_files/image-limits.json",
    "tryon_suite/spec/schema_files/try-on.arazzo.yaml",
    # every report's templates
    "tryon_suite/report/templates/compliance.html.j2",
    "tryon_suite/report/templates/index.html.j2",
    # the locustfile and its modules
    "tryon_suite/load/locust/locustfile.py",
    "tryon_suite/load/locust/load_support.py",
]


def main(wheel: str) -> int:
    problems: list[str] = []
    names = zipfile.ZipFile(wheel).namelist()
    tops = sorted({n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")})
    if tops != ["tryon_suite"]:
        problems.append(f"expected only tryon_suite/ at the top of the wheel, got {tops}")
    problems += [f"expected {n} in the wheel, found none" for n in NEEDED if n not in names]
    stray = [n for n in names if "__pycache__" in n or ".mypy_cache" in n]
    if stray:
        problems.append(f"expected no caches in the wheel, got {stray[:5]}")

    import tryon_suite

    where = Path(tryon_suite.__file__).resolve().parent
    if "site-packages" not in where.parts:
        problems.append(f"expected tryon_suite imported from site-packages, got {where}")
    for info in pkgutil.walk_packages([str(where)], "tryon_suite."):
        if info.name.endswith(".__main__"):
            continue  # `python -m tryon_suite.cli`: importing it runs the command
        try:
            importlib.import_module(info.name)
        except Exception as exc:  # every failure is listed, not only the first
            problems.append(
                f"expected {info.name} to import with the runtime dependencies: {exc!r}"
            )
    from tryon_suite.load import LOCUSTFILE
    from tryon_suite.spec.schemas import schema_dir

    for path in (LOCUSTFILE, schema_dir() / "openapi.yaml"):
        if where not in path.resolve().parents:
            problems.append(f"expected {path} inside the installed package {where}")
    for line in problems:
        print(f"wheel: {line}", file=sys.stderr)
    print(f"wheel: {len(names)} files, {'ok' if not problems else f'{len(problems)} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

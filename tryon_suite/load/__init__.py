"""Load-run machinery shared by `load/locustfile.py`: metrics, thresholds and the load report.

Importing this package does not import Locust; the locustfile imports Locust first.
`LOCUSTFILE` is the locustfile to pass to `locust -f`: the clone's `load/locustfile.py`, or the
copy a wheel carries (`tryon_suite/load/locust/`, see pyproject.toml).
"""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
#: `locust -f "$(python -c 'import tryon_suite.load as l; print(l.LOCUSTFILE)')"`
LOCUSTFILE = next(
    (
        p
        for p in (
            _HERE.parent.parent / "load" / "locustfile.py",
            _HERE / "locust" / "locustfile.py",
        )
        if p.is_file()
    ),
    _HERE / "locust" / "locustfile.py",
)

__all__ = ["LOCUSTFILE"]

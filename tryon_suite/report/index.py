"""reports/index.html: a dashboard of the latest run of each kind (contract, self-test, load,
policy lab, limiter), read from the JSON each writes beside its HTML."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["finished_now", "write_index"]


def finished_now() -> str:
    """Now, as every report writes its finishing time."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


#: the runs the dashboard knows, in its order: (JSON file, title)
_RUNS = (
    ("compliance.json", "Contract suite"),
    ("selftest.json", "Self-test (mutants)"),
    ("load.json", "Load run (Locust)"),
    ("policies.json", "Retry-policy lab"),
    ("limiter.json", "Rate limiter measured"),
    ("diff.json", "What changed (diff)"),
)


def _card(name: str, title: str, data: dict[str, Any]) -> dict[str, Any]:
    """One run as the dashboard shows it: verdict, when, and where to read more."""
    if name == "compliance.json":
        verdict = data.get("verdict", "")
        # an incomplete run neither holds nor fails: no verdict on the API, said as such
        ok: bool | None = {"pass": True, "fail": False}.get(verdict)
        totals = data.get("totals", {})
        detail = ", ".join(f"{n} {status}" for status, n in totals.items()) if totals else ""
        return {
            "title": title,
            "ok": ok,
            "verdict": f"{verdict}" + (f" ({detail})" if detail else ""),
            "finished": data.get("finished", ""),
            "html": "compliance.html",
            "target": data.get("target", ""),
        }
    return {
        "title": title,
        "ok": data.get("ok"),
        "verdict": data.get("verdict", ""),
        "finished": data.get("finished", ""),
        "html": data.get("html", name.replace(".json", ".html")),
        "target": data.get("target", data.get("host", "")),
    }


def write_index(folder: Path) -> Path:
    """reports/index.html: the latest run of each kind present in the folder, its verdict and
    when it finished, linking its report; a JSON file that cannot be read says so."""
    from tryon_suite.report.pages import environment  # render writes the index too

    cards = []
    for name, title in _RUNS:
        path = folder / name
        if not path.exists():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not an object")
            cards.append(_card(name, title, data))
        except (OSError, ValueError) as exc:
            cards.append(
                {
                    "title": title,
                    "ok": None,
                    "verdict": f"unreadable {name}: {exc}",
                    "finished": "",
                    "html": "",
                    "target": "",
                }
            )
    html = environment().get_template("index.html.j2").render(cards=cards, written=finished_now())
    path = folder / "index.html"
    path.write_text(html, encoding="utf-8")
    return path

"""The known-deviations file: failures and readings a team has accepted, each with an owner,
an expiry date and the evidence, so a nightly diff shows them amber until they expire."""

from __future__ import annotations

import dataclasses
import json
from datetime import date
from pathlib import Path
from typing import Any, Final

import yaml

from tryon_suite.report.drift.compare import Change, ReportError

__all__ = ["Deviation", "apply_known", "expired", "read_known"]

_FIELDS: Final = ("clause", "tolerated", "owner", "expires", "evidence")


@dataclasses.dataclass(frozen=True)
class Deviation:
    """One accepted deviation: `tolerated` is "fails" (the clause may fail) or a text the
    clause's new reading contains."""

    clause: str
    tolerated: str
    owner: str
    expires: date
    evidence: str

    def label(self) -> str:
        return (
            f"known, owner {self.owner}, until {self.expires.isoformat()}, evidence {self.evidence}"
        )

    def covers(self, change: Change) -> bool:
        if change.subject != self.clause:
            return False
        if self.tolerated == "fails":
            return change.new.startswith("fails")
        return change.group == "reading" and self.tolerated in change.new


def _entry(path: Path, i: int, raw: object) -> Deviation:
    if not isinstance(raw, dict):
        raise ReportError(f"{path}: expected entry {i + 1} to be a mapping of {', '.join(_FIELDS)}")
    missing = [f for f in _FIELDS if not str(raw.get(f) or "").strip()]
    if missing:
        name = raw.get("clause") or f"entry {i + 1}"
        raise ReportError(f"{path}: expected {name} to have {', '.join(missing)}, got none")
    expires = raw["expires"]
    if not isinstance(expires, date):  # YAML reads an unquoted 2026-12-31 as a date already
        try:
            expires = date.fromisoformat(str(expires))
        except ValueError:
            raise ReportError(
                f"{path}: expected {raw['clause']}'s expires as YYYY-MM-DD, got {expires!r}"
            ) from None
    return Deviation(
        str(raw["clause"]), str(raw["tolerated"]), str(raw["owner"]), expires, str(raw["evidence"])
    )


def read_known(path: Path) -> list[Deviation]:
    """The entries of a YAML or JSON file (a list, or {"deviations": [...]}); an empty file is
    no entry; a missing field or a bad date is a `ReportError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"{path}: expected a known-deviations file, got {exc.strerror}") from None
    try:
        data: Any = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ReportError(f"{path}: expected YAML or JSON, got {first}") from None
    if data is None:
        return []
    if isinstance(data, dict) and "deviations" in data:
        data = data["deviations"] or []
    if not isinstance(data, list):
        raise ReportError(f"{path}: expected a list of deviations, got {type(data).__name__}")
    return [_entry(path, i, raw) for i, raw in enumerate(data)]


def expired(known: list[Deviation], today: date) -> list[Change]:
    """Each entry past its date, as a material change: the file must be renewed or the failure
    fixed."""
    return [
        Change(
            "expired",
            d.clause,
            d.tolerated,
            f"known deviation for {d.clause} expired on {d.expires.isoformat()}",
            True,
            note=f"owner {d.owner}, evidence {d.evidence}",
        )
        for d in known
        if d.expires < today
    ]


def apply_known(changes: list[Change], known: list[Deviation], today: date) -> list[Change]:
    """The changes, each failure or reading an unexpired entry covers marked with it."""
    live = [d for d in known if d.expires >= today]
    marked = []
    for change in changes:
        cover = next((d for d in live if d.covers(change)), None)
        marked.append(dataclasses.replace(change, known=cover.label()) if cover else change)
    return marked

"""What changed between two compliance.json runs (and, if given, two load.json runs): pure
functions of the parsed reports, no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "LEVELS",
    "Change",
    "ReportError",
    "clause_moves",
    "code_changes",
    "latency_moves",
    "normalize_reading",
    "path_template",
    "read_compliance",
    "read_load",
    "reading_moves",
    "still_failing",
]

#: clause levels in order of materiality
LEVELS: Final = ("must", "should", "observe")
_STATUSES: Final = frozenset(
    {"holds", "fails", "not checked", "not run", "observed", "not checkable"}
)


class ReportError(ValueError):
    """A file that is not what the command reads; the message names the problem."""


@dataclass(frozen=True)
class Change:
    """One line of the diff: red (material, or a failure still there), amber (a known deviation
    covers it) or grey (listed, not material)."""

    group: str
    subject: str
    old: str
    new: str
    material: bool
    level: str = ""
    note: str = ""
    #: the known deviation covering it ("known, owner X, until D, evidence L"), if one does
    known: str = ""

    @property
    def counts(self) -> bool:
        """Whether it makes the exit code 1: material, and no known deviation covers it."""
        return self.material and not self.known

    @property
    def colour(self) -> str:
        if self.known:
            return "amber"
        return "red" if self.material or self.group == "still fails" else "grey"

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "subject": self.subject,
            "level": self.level,
            "old": self.old,
            "new": self.new,
            "material": self.material,
            "colour": self.colour,
            "counts": self.counts,
            "note": self.note,
            "known": self.known,
        }


def read_compliance(name: str, data: object) -> dict[str, Any]:
    """`data` checked to be a compliance.json, else a `ReportError` naming what is wrong."""
    if not isinstance(data, dict):
        raise ReportError(
            f"{name}: expected a compliance.json (a JSON object), got a list or value"
        )
    if data.get("kind") not in (None, "compliance") or "clauses" not in data:
        kind = data.get("kind")
        what = f"a {kind}.json" if isinstance(kind, str) else "no 'clauses' list"
        raise ReportError(f"{name}: expected a compliance.json with 'clauses', got {what}")
    clauses = data["clauses"]
    if not isinstance(clauses, list):
        raise ReportError(f"{name}: expected 'clauses' to be a list, got {type(clauses).__name__}")
    for i, clause in enumerate(clauses):
        if not isinstance(clause, dict) or not {"id", "level", "status"} <= clause.keys():
            raise ReportError(f"{name}: expected clause {i} to have id, level and status")
        if clause["status"] not in _STATUSES:
            raise ReportError(
                f"{name}: expected clause {clause['id']}'s status to be one of "
                f"{', '.join(sorted(_STATUSES))}, got {clause['status']!r}"
            )
    return data


def read_load(name: str, data: object) -> dict[str, dict[str, float]]:
    """mode -> percentile -> seconds from a load.json, else a `ReportError`."""
    modes = data.get("summary", {}).get("modes") if isinstance(data, dict) else None
    if not isinstance(modes, dict):
        raise ReportError(f"{name}: expected a load.json with summary.modes, got none")
    found: dict[str, dict[str, float]] = {}
    for mode, figures in modes.items():
        ttr = figures.get("ttr_s") if isinstance(figures, dict) else None
        if not isinstance(ttr, dict):
            raise ReportError(f"{name}: expected summary.modes.{mode}.ttr_s, got none")
        found[mode] = {
            p: float(ttr[p]) for p in ("p50", "p95", "p99") if isinstance(ttr.get(p), int | float)
        }
    return found


def _level_rank(level: str) -> int:
    return LEVELS.index(level) if level in LEVELS else len(LEVELS)


def _by_id(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["id"]: c for c in report["clauses"]}


def _status_text(clause: Mapping[str, Any] | None) -> str:
    if clause is None:
        return "absent"
    reason = clause.get("reason") or ""
    return f"{clause['status']} ({reason})" if reason else str(clause["status"])


def clause_moves(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Clauses whose status moved, must before should before observe; material when the move
    is to or from fails."""
    before, after = _by_id(old), _by_id(new)
    changes = []
    for cid in sorted(before.keys() | after.keys()):
        o, n = before.get(cid), after.get(cid)
        o_status = o["status"] if o else "absent"
        n_status = n["status"] if n else "absent"
        if o_status == n_status:
            continue
        level = (n or o or {}).get("level", "")
        changes.append(
            Change(
                "status",
                cid,
                _status_text(o),
                _status_text(n),
                material="fails" in (o_status, n_status),
                level=level,
            )
        )
    return sorted(changes, key=lambda c: (_level_rank(c.level), not c.material, c.subject))


def still_failing(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Clauses failing in both runs: listed, not material (nothing moved)."""
    before, after = _by_id(old), _by_id(new)
    return sorted(
        (
            Change(
                "still fails", cid, _status_text(before[cid]), _status_text(c), False, c["level"]
            )
            for cid, c in after.items()
            if c["status"] == "fails" and before.get(cid, {}).get("status") == "fails"
        ),
        key=lambda c: (_level_rank(c.level), c.subject),
    )


# What differs between two runs of the same server and says nothing about the API: the
# origin (scheme, host, port), ids, times and balances. Codes, sizes and counts stay.
_VOLATILE: Final = (
    (re.compile(r"\bhttps?://[^/\s'\"]+"), "<origin>"),
    (re.compile(r"[?#][^\s'\"]*"), ""),  # a signed URL's query
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<id>",
    ),
    (
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}| UTC)?"
        ),
        "<time>",
    ),
    (
        re.compile(
            r"\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),? \d{1,2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT"
        ),
        "<time>",
    ),
    (re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s|seconds?)\b"), "<seconds>"),
    (re.compile(r"(\"[^\"]+\"\s*:\s*)-?\d+(?:\.\d+)?"), r"\1<n>"),  # a JSON number (balances)
    (re.compile(r"\b[0-9a-f]{16,}\b", re.I), "<id>"),
    (re.compile(r"\b[a-z]+_[0-9a-f]{6,}\b", re.I), "<id>"),  # req_0000007b
    (re.compile(r":\d{2,5}\b(?=/)"), ""),  # a port left over
)


def normalize_reading(text: str) -> str:
    """An observation with its volatile parts replaced, so two runs of the same server read
    the same."""
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def _readings(report: Mapping[str, Any]) -> dict[str, tuple[list[str], list[str]]]:
    """clause id -> (raw observations, normalized) for every clause with observations."""
    found = {}
    for c in report["clauses"]:
        seen = [str(o) for o in c.get("observations") or []]
        if seen or c["level"] == "observe":
            found[c["id"]] = (seen, sorted({normalize_reading(o) for o in seen}))
    return found


def reading_moves(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Open points (and other observations) whose reading moved; a point observed in one run
    and not the other is listed with its status, not as a moved reading."""
    before, after = _readings(old), _readings(new)
    changes = []
    for cid in sorted(before.keys() & after.keys()):
        (o_raw, o_norm), (n_raw, n_norm) = before[cid], after[cid]
        if o_norm == n_norm or not o_norm or not n_norm:
            continue  # a reading gone or first made is a status move (observed <-> not checked)
        level = next((c["level"] for c in new["clauses"] if c["id"] == cid), "observe")
        changes.append(Change("reading", cid, "; ".join(o_raw), "; ".join(n_raw), True, level))
    return sorted(changes, key=lambda c: (_level_rank(c.level), c.subject))


_ID_SEGMENT: Final = re.compile(
    r"^(?=[^/]*\d)[A-Za-z0-9_-]{8,}(?:\.[a-z]{3,4})?$|^\d+$"  # ids have digits, or are numbers
)


def path_template(url: str) -> str:
    """A URL's path with ids replaced by {id}: /v1/try-on/job/{id}."""
    path = re.sub(r"^[a-z]+://[^/]+", "", url).split("?", 1)[0].split("#", 1)[0]
    parts = ["{id}" if _ID_SEGMENT.match(p) else p for p in path.split("/")]
    return "/".join(parts) or "/"


def _exchanges(report: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for c in report["clauses"]:
        for e in c.get("exchanges") or []:
            if isinstance(e, dict) and isinstance(e.get("status"), int):
                yield e


def _codes(report: Mapping[str, Any]) -> tuple[set[str], set[str]]:
    """('POST /v1/try-on -> 400', ...) and ('POST /v1/try-on -> 400: content-type', ...)."""
    codes, headers = set(), set()
    for e in _exchanges(report):
        line = f"{e.get('method', '?')} {path_template(str(e.get('url', '')))} -> {e['status']}"
        codes.add(line)
        for name in e.get("response_headers") or {}:
            headers.add(f"{line}: {str(name).lower()}")
    return codes, headers


def code_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Change]:
    """Status codes (material) and response header names (listed) first or no longer seen in
    the exchanges the reports hold."""
    (o_codes, o_headers), (n_codes, n_headers) = _codes(old), _codes(new)
    changes = [Change("code", c, "", "first seen", True) for c in sorted(n_codes - o_codes)]
    changes += [
        Change("code", c, "seen", "no longer seen", True) for c in sorted(o_codes - n_codes)
    ]
    # a header of a code that itself came or went says nothing more
    changes += [
        Change("header", h, "", "first seen", False)
        for h in sorted(n_headers - o_headers)
        if h.split(": ", 1)[0] in o_codes
    ]
    changes += [
        Change("header", h, "seen", "no longer seen", False)
        for h in sorted(o_headers - n_headers)
        if h.split(": ", 1)[0] in n_codes
    ]
    return changes


def latency_moves(
    old: Mapping[str, Mapping[str, float]],
    new: Mapping[str, Mapping[str, float]],
    tolerance: float,
    floor: float,
) -> list[Change]:
    """Time-to-result percentiles that moved by more than `tolerance` (a share of the old
    value) and more than `floor` seconds; a mode measured in one run only is material too."""
    changes = []
    for mode in sorted(old.keys() | new.keys()):
        if mode not in old or mode not in new:
            there = "old" if mode in old else "new"
            changes.append(
                Change("latency", f"{mode}", "", f"measured in the {there} run only", True)
            )
            continue
        for p in ("p50", "p95", "p99"):
            o, n = old[mode].get(p), new[mode].get(p)
            if o is None or n is None:
                continue
            moved = abs(n - o)
            if moved > floor and moved > tolerance * o:
                share = f"{(n - o) / o:+.0%}" if o else "from 0"
                changes.append(
                    Change("latency", f"{mode} {p}", f"{o:.3f} s", f"{n:.3f} s", True, note=share)
                )
    return changes

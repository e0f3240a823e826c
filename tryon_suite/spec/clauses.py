"""The clause catalogue (`schemas/clauses.yaml`): every statement of the contract, by id."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import yaml

from tryon_suite.errors import SchemaError
from tryon_suite.spec.schemas import schema_dir

__all__ = ["Clause", "Level", "catalogue", "clause"]

Level = Literal["must", "should", "observe"]


@dataclass(frozen=True)
class Clause:
    """One statement of the contract."""

    id: str
    level: Level
    source: str
    text: str
    schemas: tuple[str, ...]
    checkable: bool
    notes: str = ""
    #: the parts of the claim each to be seen holding before it holds (empty: any answer
    #: that could have failed it is enough)
    evidence: tuple[str, ...] = ()


@functools.cache
def catalogue() -> tuple[Clause, ...]:
    """Every clause, in the catalogue's order."""
    path = schema_dir() / "clauses.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SchemaError(f"expected a readable clause catalogue at {path}, got: {exc}") from None
    return tuple(
        Clause(
            id=entry["id"],
            level=entry["level"],
            source=entry["source"],
            text=entry["text"],
            schemas=tuple(entry.get("schemas") or ()),
            checkable=bool(entry.get("checkable", True)),
            notes=entry.get("notes", "") or "",
            evidence=tuple(entry.get("evidence") or ()),
        )
        for entry in data["clauses"]
    )


@functools.cache
def _by_id() -> dict[str, Clause]:
    return {c.id: c for c in catalogue()}


def clause(clause_id: str) -> Clause:
    """One clause by id; an unknown id is a clear error (ids are stable, never reused)."""
    try:
        return _by_id()[clause_id]
    except KeyError:
        raise SchemaError(f"expected a clause id from clauses.yaml, got {clause_id!r}") from None

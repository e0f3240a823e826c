"""The mutant catalogue: the simulator with exactly one realistic contract violation each.

Each mutant is the simulator's own core with hooks overridden (`Simulator.HOOKS` only) or one
config value changed (never a copy of it), tagged with the clauses it breaks and with what the
suite needs to see it: nothing, a burst permission, a no-credit key, or a second account. The
modules hold them by area; `CATALOGUE` keeps one order, the one the kill matrix shows.
"""

from __future__ import annotations

from tryon_suite.errors import ConfigError
from tryon_suite.mutants import (
    accounts,
    bodies,
    content_types,
    error_codes,
    headers,
    images,
    jobs,
    one_path,
    rate_limits,
    robustness,
    statuses,
    variations,
)
from tryon_suite.mutants._kit import Mutant, Need

__all__ = ["CATALOGUE", "Mutant", "Need", "mutant"]

CATALOGUE: list[Mutant] = [
    *bodies.MUTANTS,
    *statuses.MUTANTS,
    *error_codes.MUTANTS,
    *content_types.MUTANTS,
    *headers.MUTANTS,
    *images.MUTANTS,
    *jobs.MUTANTS,
    *accounts.MUTANTS,
    *rate_limits.MUTANTS,
    *robustness.MUTANTS,
    *one_path.MUTANTS,
    *variations.MUTANTS,
]


def mutant(name: str) -> Mutant:
    """A mutant by name; an unknown one is a clear error."""
    for candidate in CATALOGUE:
        if candidate.name == name:
            return candidate
    known = ", ".join(m.name for m in CATALOGUE)
    raise ConfigError(f"expected a mutant among {known}, got {name!r}")

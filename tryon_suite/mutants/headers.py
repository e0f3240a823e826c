"""Mutants whose 202 answers carry a wrong Location header, or none."""

from __future__ import annotations

from typing import Final

from tryon_suite.mutants._kit import Mutant, filtered, is_try_on, without_location
from tryon_suite.simulator.core import SimRequest, SimResponse


def _wrong_location(request: SimRequest, response: SimResponse) -> SimResponse:
    if is_try_on(request) and response.status == 202:
        where = response.headers["location"].rsplit("/", 1)[0] + "/00000000-wrong"
        return SimResponse(202, {**response.headers, "location": where}, response.body)
    return response


MUTANTS: Final = (
    Mutant(
        "location_missing",
        "202 without Location",
        ("tryon.202.location",),
        filtered(without_location),
    ),
    Mutant(
        "location_wrong",
        "Location names no such job",
        ("tryon.202.location_names_the_job",),
        filtered(_wrong_location),
    ),
)

"""Mutants that refuse the right requests with the wrong error_code."""

from __future__ import annotations

from typing import Final

from tryon_suite.mutants._kit import Mutant, body, error_code_renamed, filtered, with_body
from tryon_suite.simulator.core import SimRequest, SimResponse

_SWAPPED: Final = {
    "file_size_too_large": "resolution_too_high",
    "resolution_too_high": "file_size_too_large",
}


def _swap_size_codes(request: SimRequest, response: SimResponse) -> SimResponse:
    payload = body(response)
    if isinstance(payload, dict) and payload.get("error_code") in _SWAPPED:
        return with_body(response, {**payload, "error_code": _SWAPPED[payload["error_code"]]})
    return response


MUTANTS: Final = (
    Mutant(
        "malformed_as_invalid_parameter",
        "undecodable images say invalid_parameter",
        ("tryon.400.malformed_image",),
        error_code_renamed("malformed_image", "invalid_parameter"),
    ),
    Mutant(
        "size_and_resolution_swapped",
        "file_size_too_large and resolution_too_high swapped",
        ("tryon.400.file_size_too_large", "tryon.400.resolution_too_high"),
        filtered(_swap_size_codes),
    ),
    Mutant(
        "undocumented_foreground_code",
        "a flat image says no_subject_found",
        ("tryon.400.unknown_foreground", "tryon.400.body"),
        error_code_renamed("unknown_foreground", "no_subject_found"),
    ),
    Mutant(
        "missing_as_invalid_body",
        "a missing image says invalid_request_body",
        ("tryon.400.missing_parameter",),
        error_code_renamed("missing_parameter", "invalid_request_body"),
    ),
)

"""Mutants that let bad input images through, fail on them, or serve a bad result image."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Final

from tryon_suite.mutants._kit import (
    Build,
    Mutant,
    StandInResults,
    body,
    configured,
    crashed,
    filtered,
    is_try_on,
    variant,
)
from tryon_suite.simulator.core import SimRequest, SimResponse
from tryon_suite.spec.images import ImageInfo, ImageProblem, render_image
from tryon_suite.spec.schemas import limit_profile

# Retired: unsupported_format_accepted and flat_image_accepted. Taking every format and
# processing a single-colour image are fair readings of open points (API.md), which the
# other-readings servers (tests/readings.py) take; a mutant must break a rule. Their places are
# taken by the faults `_image_crashes` builds: the same images crashing the server.


def _result_bytes(data: Callable[[bytes], bytes]) -> Build:
    def rewrite(request: SimRequest, response: SimResponse) -> SimResponse:
        if request.path.startswith("/results/") and response.status == 200 and response.body:
            return SimResponse(200, response.headers, data(response.body))
        return response

    return filtered(rewrite)


def _inspect_bypass(code: str) -> Build:
    class Bypass(StandInResults):
        def inspect(self, data: bytes, field: str) -> ImageInfo | ImageProblem:
            checked = super().inspect(data, field)
            if isinstance(checked, ImageProblem) and checked.error_code == code:
                return ImageInfo("JPEG", 512, 512)
            return checked

    return variant(Bypass)


def _image_crashes(code: str) -> Build:
    """An image the API should refuse with `code` makes it fail with a 500 instead (only the
    image checks give these codes, so the try-on's refusal is the image's)."""

    def rewrite(request: SimRequest, response: SimResponse) -> SimResponse:
        payload = body(response)
        if is_try_on(request) and isinstance(payload, dict) and payload.get("error_code") == code:
            return crashed(response)
        return response

    return filtered(rewrite)


MUTANTS: Final = (
    Mutant(
        "result_is_png",
        "the result is a PNG labelled JPEG",
        ("tryon.result.jpeg",),
        _result_bytes(lambda _: render_image(64, 64, "PNG")),
    ),
    Mutant(
        "result_is_garbage",
        "the result bytes decode as nothing",
        ("tryon.result.jpeg",),
        _result_bytes(lambda data: data[: len(data) // 3]),
    ),
    Mutant(
        "max_resolution_not_enforced",
        "images past the maximum are accepted",
        ("tryon.400.resolution_too_high", "tryon.limits.max_resolution"),
        _inspect_bypass("resolution_too_high"),
    ),
    Mutant(
        "malformed_accepted",
        "undecodable images are accepted",
        ("tryon.400.malformed_image",),
        _inspect_bypass("malformed_image"),
    ),
    Mutant(
        "exotic_format_crashes",
        "GIF, BMP, TIFF and ICO images answer 500 (the decoder fails)",
        ("tryon.400.unsupported_image_format", "tryon.robustness.no_5xx_on_bad_input"),
        _image_crashes("unsupported_image_format"),
    ),
    Mutant(
        "flat_image_crashes",
        "single-colour images answer 500 (the subject finder fails on an empty mask)",
        ("tryon.400.unknown_foreground", "tryon.robustness.no_5xx_on_bad_input"),
        _image_crashes("unknown_foreground"),
    ),
    Mutant(
        "min_resolution_not_enforced",
        "images under the minimum are accepted",
        ("tryon.limits.min_resolution",),
        configured(limits=replace(limit_profile(), min_dimension=1)),
    ),
    Mutant(
        "size_limit_not_enforced",
        "files past 25 MB are accepted",
        ("tryon.400.file_size_too_large", "tryon.limits.max_file_size"),
        configured(limits=replace(limit_profile(), max_file_bytes_high=200_000_000)),
    ),
)

"""The decisions a variant of the simulator may change, each made here the correct way.

A mutant (tryon_suite.mutants) overrides one of these methods, and nothing else, to break one
clause: `Simulator.HOOKS` names them, and tests/test_mutants.py holds every mutant to that list.
The request flow that consults them is `core.Simulator`, which also holds the state they read.
"""

from __future__ import annotations

import io
import random
from dataclasses import replace
from typing import ClassVar, Literal

from PIL import Image

from tryon_suite.simulator import params
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.messages import SimRequest, SimResponse
from tryon_suite.simulator.readings import Readings
from tryon_suite.simulator.store import Job, Results
from tryon_suite.spec.images import RECOGNISED_FORMATS, ImageInfo, ImageProblem, inspect_image
from tryon_suite.spec.schemas import LimitProfile

__all__ = ["Hooks"]


class Hooks:
    """The simulator's overridable decisions, with the answers API.md gives."""

    #: the methods below, each documented: the only ones a mutant may override
    HOOKS: ClassVar[frozenset[str]] = frozenset(
        {
            "answer",
            "api_key",
            "content_type",
            "waits",
            "inspect",
            "inspect_input",
            "stream_cap",
            "processing_time",
            "compose",
            "result_ttl",
            "owns",
            "has_credits",
            "rate_bucket",
        }
    )

    # the state core.Simulator sets up and these decisions read
    config: SimulatorConfig
    #: the open points as this simulator reads them, and the limits as they read them
    readings: Readings
    limits: LimitProfile
    credits: dict[str, int]
    _random: random.Random
    _results: Results

    def answer(self, request: SimRequest, response: SimResponse) -> SimResponse:
        """The last word on every answer; the correct simulator changes nothing."""
        return response

    def api_key(self, request: SimRequest) -> str | None:
        """The key a request presents. API.md: X-API-KEY; header names are case-insensitive,
        and every face hands headers over with lower-case names."""
        return request.headers.get("x-api-key")

    def content_type(self, request: SimRequest) -> str | None:
        """The Content-Type a try-on body is read as: the one the request declares."""
        return request.headers.get("content-type")

    def waits(self, parsed: params.TryOnParams) -> bool:
        """Whether a try-on answers with its result (200) rather than a job (202): as
        wait_for_result asks (API.md)."""
        return parsed.wait_for_result

    def inspect(self, data: bytes, field: str) -> ImageInfo | ImageProblem:
        """Check one image as the API does (images.inspect_image under the limits), with the
        open points as the readings have them: the limits on each side or on the pixel count,
        the code for an image too small, and whether a single-colour image is processed."""
        readings, limits = self.readings, self.limits
        if readings.resolution_bound == "pixels":
            return _by_pixel_count(data, field, readings, limits)
        checked = inspect_image(data, limits, field)
        if isinstance(checked, ImageInfo):
            return checked
        if checked.error_code == "invalid_parameter":  # inspect_image's code for too small only
            return ImageProblem(readings.too_small_code, checked.message)
        if checked.error_code == "unknown_foreground" and readings.flat_images == "processed":
            return _info(data)
        return checked

    def inspect_input(
        self, data: bytes, field: str, source: Literal["file", "url"]
    ) -> ImageInfo | ImageProblem:
        """Check one input image as it arrived (a file part or a fetched URL): the same
        rules on every path (API.md), so the correct simulator ignores `source`."""
        return self.inspect(data, field)

    def stream_cap(self) -> int:
        """The most bytes read of one image while it streams in (a file part or a URL);
        the size rule itself is judged again by `inspect`."""
        return self.limits.max_file_bytes_high

    def processing_time(self, *, polled: bool) -> float:
        """How long one try-on takes, drawn within the configured spread; a waited and a
        polled one alike, so the correct simulator ignores `polled`."""
        base, spread = self.config.processing_time, self.config.processing_spread
        if spread <= 0 or base <= 0:
            return base
        return base * (1.0 + spread * (2.0 * self._random.random() - 1.0))

    def compose(self, person: bytes, garment: bytes) -> bytes:
        """The result JPEG of two checked input images."""
        return self._results.compose(person, garment)

    def result_ttl(self, *, polled: bool) -> float:
        """How long a result URL stays valid: an hour for every result (API.md), so the
        correct simulator ignores `polled`."""
        return self.config.result_ttl

    def owns(self, job: Job, key: str) -> bool:
        """Whether `key` may see `job`: only its own account."""
        return job.owner == key

    def rate_bucket(self, key: str) -> str:
        """Which count a request of `key` goes to: its account's (API.md: per account)."""
        return key

    def has_credits(self, key: str) -> bool:
        """Whether `key` can pay for one try-on."""
        return self.credits[key] >= self.config.credits_per_try_on


def _by_pixel_count(
    data: bytes, field: str, readings: Readings, limits: LimitProfile
) -> ImageInfo | ImageProblem:
    """The limits read as bounds on the pixel count (the minimum and maximum squared): every
    other check as inspect_image makes it."""
    relaxed = replace(limits, min_dimension=1, max_dimension=limits.max_dimension * 10)
    checked = inspect_image(data, relaxed, field)
    flat = isinstance(checked, ImageProblem) and checked.error_code == "unknown_foreground"
    if isinstance(checked, ImageProblem) and not (flat and readings.flat_images == "processed"):
        return checked
    info = checked if isinstance(checked, ImageInfo) else _info(data)
    pixels, low, high = info.width * info.height, limits.min_dimension, limits.max_dimension
    if pixels > high * high:
        return ImageProblem(
            "resolution_too_high",
            f"{field}: expected at most {high * high} pixels, got {info.width}x{info.height}",
        )
    if pixels < low * low:
        return ImageProblem(
            readings.too_small_code,
            f"{field}: expected at least {low * low} pixels, got {info.width}x{info.height}",
        )
    return info


def _info(data: bytes) -> ImageInfo:
    """What an image that passed every other check is, read from its header."""
    with Image.open(io.BytesIO(data), formats=RECOGNISED_FORMATS) as image:
        return ImageInfo(image.format or "unknown", image.size[0], image.size[1])

"""The decisions a variant of the simulator may change, each made here the correct way.

A mutant (tryon_suite.mutants) overrides one of these methods, and nothing else, to break one
clause: `Simulator.HOOKS` names them, and tests/test_mutants.py holds every mutant to that list.
The request flow that consults them is `core.Simulator`, which also holds the state they read.
"""

from __future__ import annotations

import random
from typing import ClassVar, Literal

from tryon_suite.simulator import params
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.messages import SimRequest, SimResponse
from tryon_suite.simulator.store import Job, Results
from tryon_suite.spec.images import ImageInfo, ImageProblem, inspect_image

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
        """Check one image as the API does (images.inspect_image under the limits)."""
        return inspect_image(data, self.config.limits, field)

    def inspect_input(
        self, data: bytes, field: str, source: Literal["file", "url"]
    ) -> ImageInfo | ImageProblem:
        """Check one input image as it arrived (a file part or a fetched URL): the same
        rules on every path (API.md), so the correct simulator ignores `source`."""
        return self.inspect(data, field)

    def stream_cap(self) -> int:
        """The most bytes read of one image while it streams in (a file part or a URL);
        the size rule itself is judged again by `inspect`."""
        return self.config.limits.max_file_bytes_high

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

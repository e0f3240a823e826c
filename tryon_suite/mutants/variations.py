"""Mutants the input-space model finds (`schemas/model.yaml`): a rule kept on one dimension
only, a request written another way misread, a real file's variety refused, a key almost
right taken, a method HTTP gives every resource refused, a refusal showing the server."""

from __future__ import annotations

import io
from typing import Final, Literal

from PIL import Image

from tryon_suite.mutants._kit import Mutant, body, configured, filtered, variant, with_body
from tryon_suite.simulator.core import Simulator
from tryon_suite.simulator.messages import SimRequest, SimResponse, error_answer
from tryon_suite.spec.images import ImageInfo, ImageProblem


class _WidthUnbounded(Simulator):
    """The maximum checked on the height only (a width past it is taken)."""

    def inspect(self, data: bytes, field: str) -> ImageInfo | ImageProblem:
        limits = self.config.limits
        try:
            width, height = Image.open(io.BytesIO(data)).size
        except Exception:
            return super().inspect(data, field)
        if width > limits.max_dimension >= height:
            return ImageInfo("JPEG", width, height)
        return super().inspect(data, field)


class _CmykRefused(Simulator):
    """A CMYK JPEG taken for a broken one (a decoder set up for RGB only)."""

    def inspect_input(
        self, data: bytes, field: str, source: Literal["file", "url"]
    ) -> ImageInfo | ImageProblem:
        try:
            mode = Image.open(io.BytesIO(data)).mode
        except Exception:
            mode = ""
        if mode == "CMYK":
            return ImageProblem("malformed_image", f"{field}: expected an image, got a broken one")
        return super().inspect_input(data, field, source)


class _KeyPrefix(Simulator):
    """Keys compared on all but their last character (a truncating lookup)."""

    def api_key(self, request: SimRequest) -> str | None:
        given = super().api_key(request)
        if given and len(given) > 8:
            for known in self.credits:
                if known[:-1] == given[:-1]:
                    return known
        return given


class _JsonCharsetRefused(Simulator):
    """`application/json; charset=utf-8` compared as a whole string, and refused."""

    def content_type(self, request: SimRequest) -> str | None:
        given = super().content_type(request)
        if given and given.lower().startswith("application/json") and given != "application/json":
            return "text/plain"
        return given


class _OneLimitForAll(Simulator):
    """One rate limit shared by every account (a limiter keyed by nothing)."""

    def rate_bucket(self, key: str) -> str:
        return "everyone"


class _ChargesImageRefusals(Simulator):
    """An image refused for its limits is charged (the credit taken before the checks)."""

    def answer(self, request: SimRequest, response: SimResponse) -> SimResponse:
        payload = body(response)
        key = self.api_key(request)
        refused = isinstance(payload, dict) and payload.get("error_code") == "resolution_too_high"
        if refused and key in self.credits:
            self.credits[key] -= self.config.credits_per_try_on
        return super().answer(request, response)


class _JobsChargedToAnother(Simulator):
    """A polled job is charged to another account than the one that asked for it."""

    def answer(self, request: SimRequest, response: SimResponse) -> SimResponse:
        key = self.api_key(request)
        if response.status == 202 and key in self.credits:
            payer = next((k for k, left in self.credits.items() if k != key and left > 0), None)
            if payer is not None:
                self.credits[key] += self.config.credits_per_try_on
                self.credits[payer] -= self.config.credits_per_try_on
        return super().answer(request, response)


class _PngInPngOut(Simulator):
    """A PNG person gives a PNG result: the result keeps the person image's format."""

    def compose(self, person: bytes, garment: bytes) -> bytes:
        jpeg = super().compose(person, garment)
        if not person.startswith(b"\x89PNG"):
            return jpeg
        out = io.BytesIO()
        Image.open(io.BytesIO(jpeg)).save(out, "PNG")
        return out.getvalue()


def _head_refused(request: SimRequest, response: SimResponse) -> SimResponse:
    if request.method.upper() == "HEAD" and request.path.startswith("/v1/"):
        return error_answer(405, "method_not_allowed", "expected GET", allow="GET")
    return response


def _traceback_in_400(request: SimRequest, response: SimResponse) -> SimResponse:
    payload = body(response)
    if response.status == 400 and isinstance(payload, dict):
        trace = (
            'Traceback (most recent call last):\n  File "/srv/tryon/app/handlers.py", line 88, '
            "in try_on\nValueError: bad input"
        )
        return with_body(response, {**payload, "detail": trace})
    return response


def _balance_without_key(request: SimRequest, response: SimResponse) -> SimResponse:
    if request.path == "/v1/credits" and response.status == 401:
        return with_body(response, {"credits": 0}, 200)
    return response


MUTANTS: Final = (
    Mutant(
        "png_in_png_out",
        "a PNG person image gives a PNG result",
        ("tryon.result.jpeg",),
        variant(_PngInPngOut),
    ),
    Mutant(
        "jobs_charged_to_another",
        "a polled job is charged to another account",
        ("tryon.credits.charged_to_the_payer",),
        variant(_JobsChargedToAnother),
        needs=("other_key",),
    ),
    Mutant(
        "charges_image_refusals",
        "a try-on refused for an image past the maximum is charged",
        ("tryon.credits.refusal_free",),
        variant(_ChargesImageRefusals),
    ),
    Mutant(
        "one_limit_for_all",
        "the rate limit is counted for all accounts together",
        ("tryon.rate_limit.accounts_apart",),
        variant(_OneLimitForAll),
        needs=("burst", "other_key"),
    ),
    Mutant(
        "jobs_always_fail",
        "every polled job ends failed (content_filter_error), while the same images waited on "
        "get a result",
        ("tryon.job.valid_input_completes",),
        configured(job_failure_rate=1.0),
    ),
    Mutant(
        "width_unbounded",
        "the maximum resolution is checked on the height only",
        ("tryon.limits.each_dimension", "tryon.400.resolution_too_high"),
        variant(_WidthUnbounded),
    ),
    Mutant(
        "cmyk_refused",
        "a CMYK JPEG is refused as malformed_image",
        ("tryon.request.answered_like_plain",),
        variant(_CmykRefused),
    ),
    Mutant(
        "key_prefix_accepted",
        "a key differing in its last character is taken for the run key",
        ("tryon.auth.every_endpoint",),
        variant(_KeyPrefix),
    ),
    Mutant(
        "json_charset_refused",
        "application/json with a charset parameter is unsupported_content_type",
        ("tryon.request.answered_like_plain",),
        variant(_JsonCharsetRefused),
    ),
    Mutant(
        "head_refused",
        "HEAD on a job or the balance is 405",
        ("tryon.request.methods",),
        filtered(_head_refused),
    ),
    Mutant(
        "traceback_in_400",
        "400 bodies carry a stack trace with the server's paths",
        ("tryon.error.no_internals",),
        filtered(_traceback_in_400),
    ),
    Mutant(
        "balance_without_key",
        "GET /v1/credits without a key answers 200",
        ("tryon.auth.every_endpoint",),
        filtered(_balance_without_key),
    ),
)

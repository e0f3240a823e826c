"""Mutants that break a rule on one path only (issue 9, point 5).

Each keeps the rule on every path but one, so a suite that checks the rule on a single path
(the person image, a JSON body, the try-on endpoint) lets it through.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Final, Literal

from PIL import Image

from tryon_suite.http.clock import Clock
from tryon_suite.mutants._kit import (
    Build,
    Mutant,
    StandInResults,
    body,
    crashed,
    filtered,
    is_job,
    is_json_body,
    is_multipart_body,
    is_try_on,
    relabelled,
    variant,
    with_body,
    without_location,
)
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.core import SimRequest, SimResponse, Simulator
from tryon_suite.simulator.fetch import ImageFetcher
from tryon_suite.spec.images import ImageInfo, ImageProblem

_SIZE_AND_RESOLUTION: Final = frozenset({"file_size_too_large", "resolution_too_high"})
_LIMITS: Final = (
    "tryon.limits.both_images",
    "tryon.400.file_size_too_large",
    "tryon.400.resolution_too_high",
    "tryon.limits.max_file_size",
    "tryon.limits.max_resolution",
)


def _limits_skipped(
    codes: frozenset[str], where: Callable[[str, Literal["file", "url"]], bool]
) -> Build:
    """The refusals with `codes` left out for the images `where` picks (by field and by how
    they arrived); the bytes still stream in under a raised cap, and every other image is
    judged as usual."""

    class SkipsLimits(StandInResults):
        def stream_cap(self) -> int:
            return 4 * super().stream_cap()

        def inspect_input(
            self, data: bytes, field: str, source: Literal["file", "url"]
        ) -> ImageInfo | ImageProblem:
            checked = super().inspect_input(data, field, source)
            if (
                where(field, source)
                and isinstance(checked, ImageProblem)
                and checked.error_code in codes
            ):
                return ImageInfo("JPEG", 512, 512)
            return checked

    return variant(SkipsLimits)


def _job_401_without_code(request: SimRequest, response: SimResponse) -> SimResponse:
    payload = body(response)
    if is_job(request) and response.status == 401 and isinstance(payload, dict):
        return with_body(response, {"error": payload.get("error", "unauthorized")})
    return response


def _unknown_job_crashes(
    config: SimulatorConfig, clock: Clock, fetcher: ImageFetcher | None = None
) -> Simulator:
    """A job id this simulator never issued answers 500; another account's job still 404."""
    issued: set[str] = set()

    def rewrite(request: SimRequest, response: SimResponse) -> SimResponse:
        payload = body(response)
        if is_try_on(request) and response.status == 202:
            issued.add(payload["job_id"])
        elif (
            is_job(request)
            and isinstance(payload, dict)
            and payload.get("error_code") == "job_not_found"
            and request.path.rsplit("/", 1)[-1] not in issued
        ):
            crash = {"error": "Internal server error", "error_code": "internal_server_error"}
            return with_body(response, crash, 500)
        return response

    return filtered(rewrite)(config, clock, fetcher)


def _no_location_for_json(request: SimRequest, response: SimResponse) -> SimResponse:
    if is_json_body(request):
        return without_location(request, response)
    return response


def _crashes_on(code: str, field_prefixes: tuple[str, ...]) -> Build:
    """One client mistake, in multipart bodies only, answered 500 instead of its 400."""

    def rewrite(request: SimRequest, response: SimResponse) -> SimResponse:
        payload = body(response)
        if (
            is_try_on(request)
            and is_multipart_body(request)
            and response.status == 400
            and isinstance(payload, dict)
            and payload.get("error_code") == code
            and str(payload.get("error", "")).startswith(field_prefixes)
        ):
            return crashed(response)
        return response

    return filtered(rewrite)


def _result_id(url: object) -> str:
    return str(url).rsplit("/", 1)[-1].removesuffix(".jpg")


def _as_png(jpeg: bytes) -> bytes:
    with Image.open(io.BytesIO(jpeg)) as image:
        out = io.BytesIO()
        image.save(out, "PNG")
    return out.getvalue()


def _png_for_json(
    config: SimulatorConfig, clock: Clock, fetcher: ImageFetcher | None = None
) -> Simulator:
    """Results of JSON-bodied try-ons (waited or polled) are served as PNG bytes: this
    simulator remembers which jobs and results came from JSON bodies."""
    json_jobs: set[str] = set()
    json_results: set[str] = set()

    def rewrite(request: SimRequest, response: SimResponse) -> SimResponse:
        payload = body(response)
        if is_try_on(request) and is_json_body(request) and isinstance(payload, dict):
            if response.status == 202:
                json_jobs.add(str(payload.get("job_id")))
            elif response.status == 200:
                json_results.add(_result_id(payload.get("result_url")))
        elif is_job(request) and isinstance(payload, dict) and payload.get("job_id") in json_jobs:
            if "result_url" in payload:
                json_results.add(_result_id(payload["result_url"]))
        elif (
            request.path.startswith("/results/")
            and response.status == 200
            and response.body
            and _result_id(request.path) in json_results
        ):
            return SimResponse(200, response.headers, _as_png(response.body))
        return response

    return filtered(rewrite)(config, clock, fetcher)


class _PolledResultsExpireEarly(Simulator):
    def result_ttl(self, *, polled: bool) -> float:
        # a polled job's result: kept one minute; a waited try-on's: the full hour
        return 60.0 if polled else super().result_ttl(polled=polled)


MUTANTS: Final = (
    Mutant(
        "garment_file_limits_not_enforced",
        "a garment file past 25 MB or 1920 px is accepted (the person file is checked)",
        _LIMITS,
        _limits_skipped(
            _SIZE_AND_RESOLUTION, lambda field, source: (field, source) == ("garment_image", "file")
        ),
    ),
    Mutant(
        "garment_url_limits_not_enforced",
        "a garment_image_url past 25 MB or 1920 px is accepted (a garment file is checked)",
        _LIMITS,
        _limits_skipped(
            _SIZE_AND_RESOLUTION, lambda field, source: (field, source) == ("garment_image", "url")
        ),
    ),
    Mutant(
        "url_size_not_enforced",
        "an image URL past 25 MB is accepted, person or garment (files are checked)",
        ("tryon.limits.both_images", "tryon.400.file_size_too_large", "tryon.limits.max_file_size"),
        _limits_skipped(frozenset({"file_size_too_large"}), lambda field, source: source == "url"),
    ),
    Mutant(
        "errors_labelled_text_html",
        "every 4xx answer is labelled text/html, its body still the JSON error",
        ("tryon.content_type.json_answers", "tryon.error.body_shape"),
        relabelled(
            "text/html; charset=utf-8", lambda request, response: 400 <= response.status < 500
        ),
    ),
    Mutant(
        "job_401_text_plain",
        "the job endpoint's 401 is labelled text/plain (the try-on 401 is JSON)",
        ("tryon.content_type.json_answers", "tryon.error.body_shape"),
        relabelled(
            "text/plain", lambda request, response: is_job(request) and response.status == 401
        ),
    ),
    Mutant(
        "job_status_text_plain",
        "a job status (200) is labelled text/plain, its body still JSON",
        ("tryon.content_type.json_answers", "tryon.job.status_body"),
        relabelled(
            "text/plain", lambda request, response: is_job(request) and response.status == 200
        ),
    ),
    Mutant(
        "accepted_text_plain",
        "a 202 is labelled text/plain, its body still JSON",
        ("tryon.content_type.json_answers",),
        relabelled(
            "text/plain", lambda request, response: is_try_on(request) and response.status == 202
        ),
    ),
    Mutant(
        "job_401_without_error_code",
        "the job endpoint's 401 carries no error_code (the try-on 401 does)",
        (
            "tryon.401.invalid_auth_token",
            "tryon.401.job_missing_key",
            "tryon.401.job_wrong_key",
            "tryon.error.body_shape",
        ),
        filtered(_job_401_without_code),
    ),
    Mutant(
        "unknown_job_answers_500",
        "a job id never issued answers 500 (another account's job still 404)",
        ("tryon.job.unknown_id", "tryon.robustness.no_5xx_on_bad_input"),
        _unknown_job_crashes,
    ),
    Mutant(
        "location_missing_for_json",
        "202 without Location for JSON bodies (multipart ones carry it)",
        ("tryon.202.location",),
        filtered(_no_location_for_json),
    ),
    Mutant(
        "bad_mode_in_multipart_answers_500",
        "a garment_mode outside the enum answers 500 in multipart (400 in JSON)",
        (
            "tryon.robustness.no_5xx_on_bad_input",
            "tryon.400.invalid_parameter",
            "tryon.request.garment_mode",
        ),
        _crashes_on("invalid_parameter", ("garment_mode:",)),
    ),
    Mutant(
        "bad_form_flag_answers_500",
        "a multipart flag that is neither true nor false answers 500 (400 in JSON)",
        (
            "tryon.robustness.no_5xx_on_bad_input",
            "tryon.request.preprocess_garment",
            "tryon.request.remove_background",
            "tryon.request.wait_for_result",
        ),
        _crashes_on(
            "invalid_parameter", ("preprocess_garment:", "remove_background:", "wait_for_result:")
        ),
    ),
    Mutant(
        "json_result_is_png",
        "results of JSON-bodied try-ons are PNGs labelled JPEG (multipart ones are JPEGs)",
        ("tryon.result.jpeg",),
        _png_for_json,
    ),
    Mutant(
        "polled_result_expires_early",
        "a polled job's result_url expires after a minute (waited ones last the hour)",
        ("tryon.result.valid_one_hour",),
        variant(_PolledResultsExpireEarly),
    ),
)

"""The mutant catalogue: the simulator with exactly one realistic contract violation each.

Each mutant is the simulator's own core with one hook overridden or one config value changed
(never a copy of it), tagged with the clauses it breaks and with what the suite needs to see
it: nothing, a burst permission, a no-credit key, or a second account.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from PIL import Image

from tryon_suite.clock import Clock
from tryon_suite.contract import limit_profile
from tryon_suite.errors import ConfigError
from tryon_suite.images import ImageInfo, ImageProblem, render_image
from tryon_suite.simulator import params
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.core import Job, SimRequest, SimResponse, Simulator

__all__ = ["CATALOGUE", "Mutant", "Need", "mutant"]

Need = Literal["burst", "no_credits", "other_key"]


@dataclass(frozen=True)
class Mutant:
    """One deviation: what it breaks, what seeing it needs, and how to build it."""

    name: str
    description: str
    clauses: tuple[str, ...]
    build: Callable[[SimulatorConfig, Clock], Simulator]
    needs: tuple[Need, ...] = ()


CATALOGUE: list[Mutant] = []


def _register(
    name: str, description: str, clauses: tuple[str, ...], needs: tuple[Need, ...] = ()
) -> Callable[[Callable[[SimulatorConfig, Clock], Simulator]], Callable[..., Simulator]]:
    def decorate(build: Callable[[SimulatorConfig, Clock], Simulator]) -> Callable[..., Simulator]:
        CATALOGUE.append(Mutant(name, description, clauses, build, needs))
        return build

    return decorate


def mutant(name: str) -> Mutant:
    """A mutant by name; an unknown one is a clear error."""
    for candidate in CATALOGUE:
        if candidate.name == name:
            return candidate
    known = ", ".join(m.name for m in CATALOGUE)
    raise ConfigError(f"expected a mutant among {known}, got {name!r}")


# -- helpers ----------------------------------------------------------------------------------


def _body(response: SimResponse) -> Any:
    try:
        return json.loads(response.body)
    except ValueError:
        return None


def _json(
    response: SimResponse, payload: Any, status: int | None = None, **headers: str
) -> SimResponse:
    merged = {**response.headers, **headers}
    return SimResponse(status or response.status, merged, json.dumps(payload).encode())


def _is_try_on(request: SimRequest) -> bool:
    return request.path == "/v1/try-on" and request.method.upper() == "POST"


def _is_job(request: SimRequest) -> bool:
    return request.path.startswith("/v1/try-on/job/")


def _filter(fn: Callable[[SimRequest, SimResponse], SimResponse]) -> Callable[..., Simulator]:
    """A mutant that rewrites answers on their way out."""

    def build(config: SimulatorConfig, clock: Clock) -> Simulator:
        class Filtered(Simulator):
            def answer(self, request: SimRequest, response: SimResponse) -> SimResponse:
                return fn(request, response)

        return Filtered(config, clock)

    return build


def _configured(**changes: Any) -> Callable[..., Simulator]:
    """A mutant that is only a different configuration."""

    def build(config: SimulatorConfig, clock: Clock) -> Simulator:
        return Simulator(replace(config, **changes), clock)

    return build


def _error_code(code: str, new_code: str, status: int | None = None) -> Callable[..., Simulator]:
    def fn(request: SimRequest, response: SimResponse) -> SimResponse:
        body = _body(response)
        if isinstance(body, dict) and body.get("error_code") == code:
            return _json(response, {**body, "error_code": new_code}, status)
        return response

    return _filter(fn)


# -- response bodies --------------------------------------------------------------------------


def _rename_result_url(request: SimRequest, response: SimResponse) -> SimResponse:
    body = _body(response)
    if _is_try_on(request) and response.status == 200 and isinstance(body, dict):
        return _json(response, {"resultUrl": body["result_url"]})
    return response


_register("result_url_renamed", "200 body says resultUrl", ("tryon.200.result_url",))(
    _filter(_rename_result_url)
)


def _drop_job_id(request: SimRequest, response: SimResponse) -> SimResponse:
    if _is_try_on(request) and response.status == 202:
        return _json(response, {"id": _body(response)["job_id"]})
    return response


_register("job_id_missing", "202 body names the job 'id'", ("tryon.202.job_id",))(
    _filter(_drop_job_id)
)


def _numeric_job_id(request: SimRequest, response: SimResponse) -> SimResponse:
    if _is_try_on(request) and response.status == 202:
        return _json(response, {"job_id": 12345})
    return response


_register("job_id_number", "202 job_id is a number", ("tryon.202.job_id",))(
    _filter(_numeric_job_id)
)


def _drop_error_code(request: SimRequest, response: SimResponse) -> SimResponse:
    body = _body(response)
    if response.status >= 400 and isinstance(body, dict) and "error_code" in body:
        return _json(response, {"error": body["error"]})
    return response


_register(
    "error_code_missing",
    "errors carry no error_code",
    ("tryon.error.body_shape", "tryon.400.body", "tryon.401.invalid_auth_token"),
)(_filter(_drop_error_code))


def _text_errors(request: SimRequest, response: SimResponse) -> SimResponse:
    if response.status == 400:
        return SimResponse(400, {"content-type": "text/plain"}, b"Bad Request")
    return response


_register(
    "error_not_json", "400 answers are plain text", ("tryon.error.body_shape", "tryon.400.body")
)(_filter(_text_errors))


def _rename_status(request: SimRequest, response: SimResponse) -> SimResponse:
    body = _body(response)
    if _is_job(request) and response.status == 200 and isinstance(body, dict):
        body["state"] = body.pop("status")
        return _json(response, body)
    return response


_register("job_status_renamed", "job status body says 'state'", ("tryon.job.status_body",))(
    _filter(_rename_status)
)

# -- status codes -----------------------------------------------------------------------------


def _sync_201(request: SimRequest, response: SimResponse) -> SimResponse:
    if _is_try_on(request) and response.status == 200:
        return SimResponse(201, response.headers, response.body)
    return response


_register("sync_answers_201", "a waited try-on answers 201", ("tryon.200.when_waiting",))(
    _filter(_sync_201)
)


def _ignores_wait(config: SimulatorConfig, clock: Clock) -> Simulator:
    class IgnoresWait(Simulator):
        async def _read_params(self, request: SimRequest) -> params.TryOnParams | SimResponse:
            parsed = await super()._read_params(request)
            if isinstance(parsed, params.TryOnParams):
                return replace(parsed, wait_for_result=True)
            return parsed

    return IgnoresWait(config, clock)


_register(
    "ignores_wait_false",
    "answers 200 when asked not to wait",
    ("tryon.202.when_not_waiting", "tryon.request.wait_for_result"),
)(_ignores_wait)


def _status(old: int, new: int) -> Callable[..., Simulator]:
    def fn(request: SimRequest, response: SimResponse) -> SimResponse:
        if response.status == old:
            return SimResponse(new, response.headers, response.body)
        return response

    return _filter(fn)


_register("errors_answer_422", "input errors answer 422, not 400", ("tryon.400.body",))(
    _status(400, 422)
)
_register(
    "rate_limit_answers_503",
    "the rate limit answers 503, not 429",
    ("tryon.429.rate_limit_exceeded",),
    ("burst",),
)(_status(429, 503))


def _missing_key_403(request: SimRequest, response: SimResponse) -> SimResponse:
    if response.status == 401 and "x-api-key" not in request.headers:
        return _json(
            response, {"error": "no credits", "error_code": "insufficient_api_credits"}, 403
        )
    return response


_register(
    "missing_key_answers_403",
    "no key answers 403 insufficient_api_credits",
    ("tryon.401.missing_key", "tryon.403.apart_from_401"),
)(_filter(_missing_key_403))
_register(
    "no_credits_answers_401",
    "no credits answers 401 invalid_auth_token",
    ("tryon.403.insufficient_api_credits", "tryon.403.apart_from_401"),
    ("no_credits",),
)(_error_code("insufficient_api_credits", "invalid_auth_token", 401))

# -- error codes ------------------------------------------------------------------------------

_register(
    "malformed_as_invalid_parameter",
    "undecodable images say invalid_parameter",
    ("tryon.400.malformed_image",),
)(_error_code("malformed_image", "invalid_parameter"))


def _swap_size_codes(request: SimRequest, response: SimResponse) -> SimResponse:
    body = _body(response)
    swap = {
        "file_size_too_large": "resolution_too_high",
        "resolution_too_high": "file_size_too_large",
    }
    if isinstance(body, dict) and body.get("error_code") in swap:
        return _json(response, {**body, "error_code": swap[body["error_code"]]})
    return response


_register(
    "size_and_resolution_swapped",
    "file_size_too_large and resolution_too_high swapped",
    ("tryon.400.file_size_too_large", "tryon.400.resolution_too_high"),
)(_filter(_swap_size_codes))
_register(
    "undocumented_foreground_code",
    "a flat image says no_subject_found",
    ("tryon.400.unknown_foreground", "tryon.400.body"),
)(_error_code("unknown_foreground", "no_subject_found"))
_register(
    "missing_as_invalid_body",
    "a missing image says invalid_request_body",
    ("tryon.400.missing_parameter",),
)(_error_code("missing_parameter", "invalid_request_body"))

# -- content types ----------------------------------------------------------------------------


def _guesses_json(config: SimulatorConfig, clock: Clock) -> Simulator:
    class GuessesJson(Simulator):
        async def _read_params(self, request: SimRequest) -> params.TryOnParams | SimResponse:
            kind = request.headers.get("content-type", "")
            if not kind.startswith(("application/json", "multipart/form-data")):
                headers = {**request.headers, "content-type": "application/json"}
                request = replace(request, headers=headers)
            return await super()._read_params(request)

    return GuessesJson(config, clock)


_register(
    "guesses_content_type",
    "any content type is read as JSON",
    ("tryon.400.unsupported_content_type", "tryon.content_type.others_refused"),
)(_guesses_json)


def _text_plain(request: SimRequest, response: SimResponse) -> SimResponse:
    if response.headers.get("content-type") == "application/json":
        return SimResponse(
            response.status, {**response.headers, "content-type": "text/plain"}, response.body
        )
    return response


_register(
    "answers_text_plain", "JSON answers labelled text/plain", ("tryon.content_type.json_answers",)
)(_filter(_text_plain))


def _refuses_multipart(config: SimulatorConfig, clock: Clock) -> Simulator:
    class RefusesMultipart(Simulator):
        async def _read_params(self, request: SimRequest) -> params.TryOnParams | SimResponse:
            if request.headers.get("content-type", "").startswith("multipart/"):
                headers = {**request.headers, "content-type": "application/x-multipart"}
                request = replace(request, headers=headers)
            return await super()._read_params(request)

    return RefusesMultipart(config, clock)


_register(
    "refuses_multipart", "multipart bodies are unsupported", ("tryon.content_type.multipart",)
)(_refuses_multipart)

# -- headers ----------------------------------------------------------------------------------


def _no_location(request: SimRequest, response: SimResponse) -> SimResponse:
    if _is_try_on(request) and response.status == 202:
        headers = {k: v for k, v in response.headers.items() if k != "location"}
        return SimResponse(202, headers, response.body)
    return response


_register("location_missing", "202 without Location", ("tryon.202.location",))(
    _filter(_no_location)
)


def _wrong_location(request: SimRequest, response: SimResponse) -> SimResponse:
    if _is_try_on(request) and response.status == 202:
        where = response.headers["location"].rsplit("/", 1)[0] + "/00000000-wrong"
        return SimResponse(202, {**response.headers, "location": where}, response.body)
    return response


_register(
    "location_wrong",
    "Location names no such job",
    ("tryon.202.location_names_the_job",),
)(_filter(_wrong_location))

# -- images -----------------------------------------------------------------------------------


def _result_bytes(data: Callable[[bytes], bytes]) -> Callable[..., Simulator]:
    def fn(request: SimRequest, response: SimResponse) -> SimResponse:
        if request.path.startswith("/results/") and response.status == 200 and response.body:
            return SimResponse(200, response.headers, data(response.body))
        return response

    return _filter(fn)


_register("result_is_png", "the result is a PNG labelled JPEG", ("tryon.result.jpeg",))(
    _result_bytes(lambda _: render_image(64, 64, "PNG"))
)
_register("result_is_garbage", "the result bytes decode as nothing", ("tryon.result.jpeg",))(
    _result_bytes(lambda body: body[: len(body) // 3])
)


class _StandInResults(Simulator):
    """A mutant that lets bad images through still answers with a JPEG: bytes that do not
    decode are composed from a stand-in image instead."""

    def _compose(self, person: bytes, garment: bytes) -> bytes:
        try:
            return super()._compose(person, garment)
        except Exception:  # the bytes let past a check may not decode
            stand_in = render_image(300, 300, "JPEG")
            return super()._compose(stand_in, stand_in)


def _inspect_bypass(code: str) -> Callable[..., Simulator]:
    def build(config: SimulatorConfig, clock: Clock) -> Simulator:
        class Bypass(_StandInResults):
            def inspect(self, data: bytes, field: str) -> ImageInfo | ImageProblem:
                checked = super().inspect(data, field)
                if isinstance(checked, ImageProblem) and checked.error_code == code:
                    return ImageInfo("JPEG", 512, 512)
                return checked

        return Bypass(config, clock)

    return build


_register(
    "max_resolution_not_enforced",
    "images past the maximum are accepted",
    ("tryon.400.resolution_too_high", "tryon.limits.max_resolution"),
)(_inspect_bypass("resolution_too_high"))
_register(
    "malformed_accepted",
    "undecodable images are accepted",
    ("tryon.400.malformed_image",),
)(_inspect_bypass("malformed_image"))
# Retired: unsupported_format_accepted and flat_image_accepted. Taking every format and
# processing a single-colour image are fair readings of open points (API.md), which the
# other-readings servers (tests/readings.py) take; a mutant must break a rule. Their places are
# taken by the faults below: the same images crashing the server.


def _image_crashes(code: str) -> Callable[..., Simulator]:
    """An image the API should refuse with `code` makes it fail with a 500 instead."""

    def build(config: SimulatorConfig, clock: Clock) -> Simulator:
        class Crashes(Simulator):
            async def _images(
                self, parsed: params.TryOnParams
            ) -> tuple[bytes, bytes] | SimResponse:
                got = await super()._images(parsed)
                if isinstance(got, SimResponse):
                    body = _body(got)
                    if isinstance(body, dict) and body.get("error_code") == code:
                        return _json(got, {"error": "Internal server error"}, 500)
                return got

        return Crashes(config, clock)

    return build


_register(
    "exotic_format_crashes",
    "GIF, BMP, TIFF and ICO images answer 500 (the decoder fails)",
    ("tryon.400.unsupported_image_format", "tryon.robustness.no_5xx_on_bad_input"),
)(_image_crashes("unsupported_image_format"))
_register(
    "flat_image_crashes",
    "single-colour images answer 500 (the subject finder fails on an empty mask)",
    ("tryon.400.unknown_foreground", "tryon.robustness.no_5xx_on_bad_input"),
)(_image_crashes("unknown_foreground"))
_register(
    "min_resolution_not_enforced",
    "images under the minimum are accepted",
    ("tryon.limits.min_resolution",),
)(_configured(limits=replace(limit_profile(), min_dimension=1)))
_register(
    "size_limit_not_enforced",
    "files past 25 MB are accepted",
    ("tryon.400.file_size_too_large", "tryon.limits.max_file_size"),
)(_configured(limits=replace(limit_profile(), max_file_bytes_high=200_000_000)))

# -- jobs -------------------------------------------------------------------------------------


def _state_goes_back(config: SimulatorConfig, clock: Clock) -> Simulator:
    polls: dict[str, int] = {}

    def fn(request: SimRequest, response: SimResponse) -> SimResponse:
        body = _body(response)
        if _is_job(request) and response.status == 200 and body.get("status") == "completed":
            seen = polls[body["job_id"]] = polls.get(body["job_id"], 0) + 1
            if seen % 2 == 0:
                return _json(response, {"job_id": body["job_id"], "status": "running"})
        return response

    return _filter(fn)(config, clock)


_register(
    "state_goes_back",
    "a completed job reads running again",
    ("tryon.job.forward_only", "tryon.job.final_states"),
)(_state_goes_back)


def _completed_without_url(request: SimRequest, response: SimResponse) -> SimResponse:
    body = _body(response)
    if _is_job(request) and response.status == 200 and body.get("status") == "completed":
        return _json(response, {"job_id": body["job_id"], "status": "completed"})
    return response


_register(
    "completed_without_result_url",
    "a completed job has no result_url",
    ("tryon.job.result_url_when_completed",),
)(_filter(_completed_without_url))


def _url_too_early(request: SimRequest, response: SimResponse) -> SimResponse:
    body = _body(response)
    if _is_job(request) and response.status == 200 and body.get("status") in ("pending", "running"):
        return _json(response, {**body, "result_url": "https://cdn.example.test/later.jpg"})
    return response


_register(
    "result_url_before_completion",
    "a running job already has a result_url",
    ("tryon.job.result_url_when_completed",),
)(_filter(_url_too_early))


def _other_job_id(request: SimRequest, response: SimResponse) -> SimResponse:
    body = _body(response)
    if _is_job(request) and response.status == 200 and isinstance(body, dict):
        return _json(response, {**body, "job_id": body["job_id"][::-1]})
    return response


_register(
    "status_names_another_job", "the job status names another job", ("tryon.job.same_job_id",)
)(_filter(_other_job_id))


def _never_finishes(config: SimulatorConfig, clock: Clock) -> Simulator:
    class NeverFinishes(Simulator):
        def _submit(
            self, request: SimRequest, key: str, person: bytes, garment: bytes, duration: float
        ) -> SimResponse:
            return super()._submit(request, key, person, garment, 500_000.0)

    return NeverFinishes(config, clock)


_register(
    "job_never_finishes",
    "polled jobs stay pending for days (sync answers as usual)",
    ("tryon.job.reaches_a_final_state",),
)(_never_finishes)

# -- auth and credits -------------------------------------------------------------------------


def _lenient_auth(
    *, missing: bool = False, wrong: bool = False, where: Callable[[SimRequest], bool]
) -> Callable[..., Simulator]:
    def build(config: SimulatorConfig, clock: Clock) -> Simulator:
        class Lenient(Simulator):
            def _authenticate(self, request: SimRequest) -> str | SimResponse:
                key = request.headers.get("x-api-key")
                if where(request) and (
                    (missing and not key) or (wrong and key and key not in self.credits)
                ):
                    return self.config.accounts[0].key
                return super()._authenticate(request)

        return Lenient(config, clock)

    return build


_register(
    "missing_key_accepted_on_try_on",
    "POST /v1/try-on without a key is served",
    ("tryon.401.missing_key", "tryon.auth.api_key_header"),
)(_lenient_auth(missing=True, where=_is_try_on))
_register(
    "missing_key_accepted_on_job",
    "GET job without a key is served",
    ("tryon.401.job_missing_key",),
)(_lenient_auth(missing=True, where=_is_job))
_register(
    "wrong_key_accepted",
    "an unknown key is served as the first account",
    ("tryon.401.wrong_key", "tryon.401.job_wrong_key"),
)(_lenient_auth(wrong=True, where=lambda request: True))


def _shares_jobs(config: SimulatorConfig, clock: Clock) -> Simulator:
    class SharesJobs(Simulator):
        def owns(self, job: Job, key: str) -> bool:
            return True

    return SharesJobs(config, clock)


_register(
    "other_account_sees_jobs",
    "any account can read any job",
    ("tryon.job.other_account_hidden",),
    ("other_key",),
)(_shares_jobs)


def _ignores_credits(config: SimulatorConfig, clock: Clock) -> Simulator:
    class IgnoresCredits(Simulator):
        def has_credits(self, key: str) -> bool:
            return True

    return IgnoresCredits(config, clock)


_register(
    "no_credits_served",
    "a key without credits is served",
    ("tryon.403.insufficient_api_credits",),
    ("no_credits",),
)(_ignores_credits)
_register(
    "success_costs_nothing",
    "a successful try-on costs no credit",
    ("tryon.credits.success_costs",),
)(_configured(credits_per_try_on=0))

# -- rate limiting ----------------------------------------------------------------------------

_register("no_rate_limit", "no rate limit at all", ("tryon.429.rate_limit_exceeded",), ("burst",))(
    _configured(rate_limit=0.0)
)


def _retry_after(value: str | None, empty_body: bool = False) -> Callable[..., Simulator]:
    def fn(request: SimRequest, response: SimResponse) -> SimResponse:
        if response.status != 429:
            return response
        headers = {k: v for k, v in response.headers.items() if k != "retry-after"}
        if value is not None:
            headers["retry-after"] = value
        return SimResponse(429, headers, b"" if empty_body else response.body)

    return _filter(fn)


_register(
    "bad_retry_after",
    "Retry-After says 'soon'",
    ("tryon.429.retry_after_format",),
    ("burst",),
)(_retry_after("soon"))


_register(
    "dishonest_retry_after",
    "Retry-After says 0 s while the bucket is still empty",
    ("tryon.429.retry_after_honest",),
    ("burst",),
)(_retry_after("0"))
_register(
    "empty_429",
    "429 with an empty body",
    ("tryon.429.rate_limit_exceeded",),
    ("burst",),
)(_retry_after("1", empty_body=True))

# -- robustness and result URLs ---------------------------------------------------------------


def _crashes_on_bad_json(request: SimRequest, response: SimResponse) -> SimResponse:
    body = _body(response)
    if isinstance(body, dict) and body.get("error_code") == "invalid_request_body":
        return SimResponse(500, {"content-type": "text/html"}, b"<h1>Internal Server Error</h1>")
    return response


_register(
    "crashes_on_bad_json",
    "an unparseable body answers 500",
    ("tryon.robustness.no_5xx_on_bad_input", "tryon.400.invalid_request_body"),
)(_filter(_crashes_on_bad_json))


def _relative_result(request: SimRequest, response: SimResponse) -> SimResponse:
    body = _body(response)
    if _is_try_on(request) and response.status == 200 and isinstance(body, dict):
        path = "/" + body["result_url"].split("/", 3)[3]
        return _json(response, {"result_url": path})
    return response


_register("relative_result_url", "result_url is a relative path", ("tryon.200.result_url",))(
    _filter(_relative_result)
)
_register(
    "result_expires_at_once",
    "result URLs answer 404 at once",
    ("tryon.result.jpeg", "tryon.result.valid_one_hour"),
)(_configured(result_ttl=0.0))

# -- one rule broken on one path only (issue 9, point 5) ------------------------------------
# Each of these keeps a rule on every path but one, so a suite that checks the rule on a single
# path (the person image, a JSON body, the try-on endpoint) lets it through.

_SIZE_AND_RESOLUTION: Final = frozenset({"file_size_too_large", "resolution_too_high"})


def _limits_skipped(field: str, source: Literal["file", "url"]) -> Callable[..., Simulator]:
    """Size and maximum resolution left unchecked for one image arriving one way; the bytes
    still stream in under a raised cap, and every other path is judged by `inspect` as usual."""

    def build(config: SimulatorConfig, clock: Clock) -> Simulator:
        class SkipsLimits(_StandInResults):
            def stream_cap(self) -> int:
                return 4 * super().stream_cap()

            def inspect_input(
                self, data: bytes, name: str, arrived: Literal["file", "url"]
            ) -> ImageInfo | ImageProblem:
                checked = super().inspect_input(data, name, arrived)
                if (
                    (name, arrived) == (field, source)
                    and isinstance(checked, ImageProblem)
                    and checked.error_code in _SIZE_AND_RESOLUTION
                ):
                    return ImageInfo("JPEG", 512, 512)
                return checked

        return SkipsLimits(config, clock)

    return build


_register(
    "garment_file_limits_not_enforced",
    "a garment file past 25 MB or 1920 px is accepted (the person file is checked)",
    (
        "tryon.limits.both_images",
        "tryon.400.file_size_too_large",
        "tryon.400.resolution_too_high",
        "tryon.limits.max_file_size",
        "tryon.limits.max_resolution",
    ),
)(_limits_skipped("garment_image", "file"))
_register(
    "garment_url_limits_not_enforced",
    "a garment_image_url past 25 MB or 1920 px is accepted (a garment file is checked)",
    (
        "tryon.limits.both_images",
        "tryon.400.file_size_too_large",
        "tryon.400.resolution_too_high",
        "tryon.limits.max_file_size",
        "tryon.limits.max_resolution",
    ),
)(_limits_skipped("garment_image", "url"))


def _url_size_unchecked(config: SimulatorConfig, clock: Clock) -> Simulator:
    class UrlSizeUnchecked(Simulator):
        def stream_cap(self) -> int:
            return 4 * super().stream_cap()

        def inspect_input(
            self, data: bytes, name: str, arrived: Literal["file", "url"]
        ) -> ImageInfo | ImageProblem:
            checked = super().inspect_input(data, name, arrived)
            if (
                arrived == "url"
                and isinstance(checked, ImageProblem)
                and checked.error_code == "file_size_too_large"
            ):
                return ImageInfo("JPEG", 512, 512)
            return checked

    return UrlSizeUnchecked(config, clock)


_register(
    "url_size_not_enforced",
    "an image URL past 25 MB is accepted, person or garment (files are checked)",
    ("tryon.limits.both_images", "tryon.400.file_size_too_large", "tryon.limits.max_file_size"),
)(_url_size_unchecked)


def _relabel(
    content_type: str, where: Callable[[SimRequest, SimResponse], bool]
) -> Callable[..., Simulator]:
    """Answers `where` picks keep their JSON bytes under another Content-Type."""

    def fn(request: SimRequest, response: SimResponse) -> SimResponse:
        if where(request, response):
            return SimResponse(
                response.status, {**response.headers, "content-type": content_type}, response.body
            )
        return response

    return _filter(fn)


_register(
    "errors_labelled_text_html",
    "every 4xx answer is labelled text/html, its body still the JSON error",
    ("tryon.content_type.json_answers", "tryon.error.body_shape"),
)(_relabel("text/html; charset=utf-8", lambda request, response: 400 <= response.status < 500))
_register(
    "job_401_text_plain",
    "the job endpoint's 401 is labelled text/plain (the try-on 401 is JSON)",
    ("tryon.content_type.json_answers", "tryon.error.body_shape"),
)(_relabel("text/plain", lambda request, response: _is_job(request) and response.status == 401))
_register(
    "job_status_text_plain",
    "a job status (200) is labelled text/plain, its body still JSON",
    ("tryon.content_type.json_answers", "tryon.job.status_body"),
)(_relabel("text/plain", lambda request, response: _is_job(request) and response.status == 200))
_register(
    "accepted_text_plain",
    "a 202 is labelled text/plain, its body still JSON",
    ("tryon.content_type.json_answers",),
)(_relabel("text/plain", lambda request, response: _is_try_on(request) and response.status == 202))


def _job_401_without_code(request: SimRequest, response: SimResponse) -> SimResponse:
    body = _body(response)
    if _is_job(request) and response.status == 401 and isinstance(body, dict):
        return _json(response, {"error": body.get("error", "unauthorized")})
    return response


_register(
    "job_401_without_error_code",
    "the job endpoint's 401 carries no error_code (the try-on 401 does)",
    (
        "tryon.401.invalid_auth_token",
        "tryon.401.job_missing_key",
        "tryon.401.job_wrong_key",
        "tryon.error.body_shape",
    ),
)(_filter(_job_401_without_code))


def _unknown_job_crashes(config: SimulatorConfig, clock: Clock) -> Simulator:
    class UnknownJobCrashes(Simulator):
        async def _job(self, request: SimRequest, job_id: str) -> SimResponse:
            answer = await super()._job(request, job_id)
            if answer.status == 404 and job_id not in self._jobs:
                body = {"error": "Internal server error", "error_code": "internal_server_error"}
                return _json(answer, body, 500)
            return answer

    return UnknownJobCrashes(config, clock)


_register(
    "unknown_job_answers_500",
    "a job id never issued answers 500 (another account's job still 404)",
    ("tryon.job.unknown_id", "tryon.robustness.no_5xx_on_bad_input"),
)(_unknown_job_crashes)


def _is_json_body(request: SimRequest) -> bool:
    return request.headers.get("content-type", "").lower().startswith("application/json")


def _is_multipart_body(request: SimRequest) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


def _no_location_for_json(request: SimRequest, response: SimResponse) -> SimResponse:
    if _is_json_body(request):
        return _no_location(request, response)
    return response


_register(
    "location_missing_for_json",
    "202 without Location for JSON bodies (multipart ones carry it)",
    ("tryon.202.location",),
)(_filter(_no_location_for_json))


def _crashes_on(code: str, field_prefixes: tuple[str, ...]) -> Callable[..., Simulator]:
    """One client mistake, in multipart bodies only, answered 500 instead of its 400."""

    def fn(request: SimRequest, response: SimResponse) -> SimResponse:
        body = _body(response)
        if (
            _is_try_on(request)
            and _is_multipart_body(request)
            and response.status == 400
            and isinstance(body, dict)
            and body.get("error_code") == code
            and str(body.get("error", "")).startswith(field_prefixes)
        ):
            return _json(response, {"error": "Internal server error"}, 500)
        return response

    return _filter(fn)


_register(
    "bad_mode_in_multipart_answers_500",
    "a garment_mode outside the enum answers 500 in multipart (400 in JSON)",
    (
        "tryon.robustness.no_5xx_on_bad_input",
        "tryon.400.invalid_parameter",
        "tryon.request.garment_mode",
    ),
)(_crashes_on("invalid_parameter", ("garment_mode:",)))
_register(
    "bad_form_flag_answers_500",
    "a multipart flag that is neither true nor false answers 500 (400 in JSON)",
    (
        "tryon.robustness.no_5xx_on_bad_input",
        "tryon.request.preprocess_garment",
        "tryon.request.remove_background",
        "tryon.request.wait_for_result",
    ),
)(
    _crashes_on(
        "invalid_parameter", ("preprocess_garment:", "remove_background:", "wait_for_result:")
    )
)


def _png_for_json(config: SimulatorConfig, clock: Clock) -> Simulator:
    """Results of JSON-bodied try-ons (waited or polled) are served as PNG bytes."""

    class PngForJson(Simulator):
        def __init__(self, config: SimulatorConfig, clock: Clock) -> None:
            super().__init__(config, clock)
            self.json_jobs: set[str] = set()
            self.json_results: set[str] = set()

        def answer(self, request: SimRequest, response: SimResponse) -> SimResponse:
            body = _body(response)
            if _is_try_on(request) and _is_json_body(request) and isinstance(body, dict):
                if response.status == 202:
                    self.json_jobs.add(str(body.get("job_id")))
                elif response.status == 200:
                    self.json_results.add(_result_id(body.get("result_url")))
            elif (
                _is_job(request) and isinstance(body, dict) and body.get("job_id") in self.json_jobs
            ):
                if "result_url" in body:
                    self.json_results.add(_result_id(body["result_url"]))
            elif (
                request.path.startswith("/results/")
                and response.status == 200
                and response.body
                and _result_id(request.path) in self.json_results
            ):
                return SimResponse(200, response.headers, _as_png(response.body))
            return response

    return PngForJson(config, clock)


def _result_id(url: object) -> str:
    return str(url).rsplit("/", 1)[-1].removesuffix(".jpg")


def _as_png(jpeg: bytes) -> bytes:
    with Image.open(io.BytesIO(jpeg)) as image:
        out = io.BytesIO()
        image.save(out, "PNG")
    return out.getvalue()


_register(
    "json_result_is_png",
    "results of JSON-bodied try-ons are PNGs labelled JPEG (multipart ones are JPEGs)",
    ("tryon.result.jpeg",),
)(_png_for_json)


def _polled_results_expire_early(config: SimulatorConfig, clock: Clock) -> Simulator:
    class PolledExpireEarly(Simulator):
        def _store_result(self, jpeg: bytes, expires: float | None = None) -> str:
            if expires is None:  # a waited try-on: kept the full hour
                return super()._store_result(jpeg)
            # a polled job's result: kept one minute, not one hour
            return super()._store_result(jpeg, expires - self.config.result_ttl + 60.0)

    return PolledExpireEarly(config, clock)


_register(
    "polled_result_expires_early",
    "a polled job's result_url expires after a minute (waited ones last the hour)",
    ("tryon.result.valid_one_hour",),
)(_polled_results_expire_early)

NEEDS_HELP: Final = {
    "burst": "--tryon-allow-burst",
    "no_credits": "--tryon-no-credits-key",
    "other_key": "--tryon-other-key",
}

"""The second and third other-readings servers: where readings of one open point cannot live
in one server (see tests/readings.py), these read it the remaining ways."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from typing import Any, ClassVar

from tests.readings import OtherReadings, json_answer, refusal
from tryon_suite.simulator import params
from tryon_suite.simulator.core import SimRequest, SimResponse

__all__ = ["OtherReadings2", "OtherReadings3"]


class OtherReadings2(OtherReadings):
    """The readings that cannot live beside OtherReadings's (an asctime Retry-After, a bare
    number for the balance, an absolute-path Location, 404 for any job not one's own), ours where
    OtherReadings has taken the other one (flat images refused), and a few of its own: the body
    read before the key, unknown fields refused, a media type in capitals, results behind a
    redirect."""

    DEPARTURES: ClassVar[frozenset[str]] = frozenset()  # an empty body: invalid_request_body
    READINGS: ClassVar[Mapping[str, str]] = {
        **OtherReadings.READINGS,
        "tryon.open.location_form": "relative, e.g. /v1/try-on/job/{job_id}",
        "tryon.open.unknown_job_id": "404",
        "tryon.open.other_account_job": "404",
        "tryon.open.credit_endpoint_shape": "bare",
        "tryon.open.flat_image": "400 unknown_foreground",
        "tryon.open.extra_response_fields": "meta",
        "tryon.open.unknown_request_fields": "an extra JSON field: 400 invalid_request_body",
    }
    ignore_unknown_fields: ClassVar[bool] = False
    accept_flat_images: ClassVar[bool] = False
    queue_share: ClassVar[float] = 0.5

    def location_for(self, job_id: str) -> str:
        return f"/v1/try-on/job/{job_id}"

    def retry_after(self, seconds: int) -> str:
        """An HTTP-date in the asctime form, which RFC 9110 has every recipient accept."""
        return time.asctime(time.gmtime(math.ceil(time.time() + seconds)))

    def credit_body(self, key: str) -> object:
        return self.credits[key]

    def extend(self, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "meta": {"request_id": f"req_{next(self._ids):08x}", "version": "beta"}}

    def json_type(self) -> str:
        # RFC 9110 section 8.3.1: type, subtype and charset value are case-insensitive
        return "application/JSON; charset=UTF-8"

    def unknown_job(self) -> SimResponse:
        return refusal(404, "not_found", "expected the id of a job, got another")

    def foreign_job(self) -> SimResponse:
        return self.unknown_job()  # another account's job looks like no job at all

    def answer(self, request: SimRequest, response: SimResponse) -> SimResponse:
        """result_url names a short link that redirects to the JPEG, as CDNs do."""
        response = super().answer(request, response)
        if not response.headers.get("content-type", "").lower().startswith("application/json"):
            return response
        body = json.loads(response.body)
        if isinstance(body, dict) and isinstance(body.get("result_url"), str):
            body["result_url"] = body["result_url"].replace("/results/", "/r/", 1)
            return SimResponse(response.status, response.headers, json.dumps(body).encode())
        return response

    async def _try_on(self, request: SimRequest) -> SimResponse:
        """The body is read before the key: a bad body without a valid key is a 400."""
        refusal = self._authenticate(request)
        if not isinstance(refusal, SimResponse):
            return await super()._try_on(request)
        parsed = await self._read_params(request)
        return parsed if isinstance(parsed, SimResponse) else refusal

    async def _route(self, request: SimRequest) -> SimResponse:
        if request.path.startswith("/r/") and request.method.upper() in ("GET", "HEAD"):
            where = "/results/" + request.path.removeprefix("/r/")
            return SimResponse(302, {"location": where, "content-length": "0"}, b"")
        return await super()._route(request)


class OtherReadings3(OtherReadings):
    """The third answer to points with three readings: a 429 without Retry-After, a balance
    nested deeper than a client would guess, an image too small for the decoder's use
    (unsupported_image_format), and an upload past the cap refused with 413 (RFC 9110)."""

    DEPARTURES: ClassVar[frozenset[str]] = frozenset()
    READINGS: ClassVar[Mapping[str, str]] = {
        **OtherReadings.READINGS,
        "tryon.open.retry_after": "no Retry-After",
        "tryon.open.credit_endpoint_shape": "'data'",
        "tryon.open.too_small_image": "400 unsupported_image_format",
        "tryon.open.file_size_unit": "413 file_size_too_large",
    }
    too_small_code: ClassVar[str] = "unsupported_image_format"

    async def _read_params(self, request: SimRequest) -> params.TryOnParams | SimResponse:
        read = await super()._read_params(request)
        if isinstance(read, SimResponse) and read.status == 400:
            body = json.loads(read.body)
            if body.get("error_code") == "file_size_too_large":  # the upload itself: 413
                return json_answer(413, body)
        return read

    def _throttle(self, key: str) -> SimResponse | None:
        answer = super()._throttle(key)
        if answer is None:
            return None
        headers = {k: v for k, v in answer.headers.items() if k != "retry-after"}
        return SimResponse(answer.status, headers, answer.body)

    def credit_body(self, key: str) -> object:
        return {"data": {"account": "acct_1", "credits": {"available": self.credits[key]}}}

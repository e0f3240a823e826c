"""Servers that read every open point of API.md the other way from our simulator, and break no
documented rule: a contract suite that is never stricter than the contract passes them all.

Each is our simulator with other `Readings`: three values, since readings of one point cannot
all live in one server (Retry-After as an IMF-fixdate, an asctime date or absent; the balance
as an object, a bare number or a nested object; Location relative to the request URL or an
absolute path). Each `ReadingServer` names, in `observed`, what the suite should then observe:
clause id -> a text one of its observations holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from tests.conftest import QUIET
from tryon_suite.http.clock import Clock, RealClock
from tryon_suite.mutants._kit import body, is_try_on, with_body
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.core import SimRequest, SimResponse, Simulator
from tryon_suite.simulator.fetch import ImageFetcher
from tryon_suite.simulator.readings import BALANCE, COUNTER, OPENING, Readings

__all__ = ["READINGS_1", "READINGS_2", "READINGS_3", "SERVERS", "ReadingServer"]

READINGS_1 = Readings(
    location="relative",
    job_ids="opaque",
    accepted_fields='{"status": "pending"}',
    unknown_job=(400, "invalid_parameter"),
    foreign_job=(403, "forbidden"),
    async_validation="fail_job",
    retry_after="imf-fixdate",
    limit_reads=False,
    check_order=("auth", "rate_limit", "body", "images", "garment_mode", "credits"),
    no_content_type_code="invalid_request_body",
    wrong_type_code="invalid_request_body",
    unknown_field_code=None,
    form_flags_any_case=False,
    form_flags_digits=True,
    empty_file="absent",
    formats=("JPEG", "PNG", "GIF"),
    megabyte="MB",
    resolution_bound="pixels",
    too_small_code="malformed_image",
    flat_images="processed",
    unreachable_url_code="malformed_image",
    json_type="application/json; charset=utf-8",
    extra_fields='{"request_id": "req_' + COUNTER + '"}',
    date_header=True,
    auth_challenge='ApiKey header="X-API-KEY"',
    credits_body=f'{{"total": {OPENING}, "remaining": {BALANCE}}}',
    result_type="application/octet-stream",
    signed_result_urls=True,
    expired_result="access_denied",
)
#: the readings that cannot live beside READINGS_1's, ours where it has taken the other one
#: (flat images refused), and a few of its own: the body judged before the key, unknown fields
#: refused, a media type in capitals, results behind a redirect
READINGS_2 = replace(
    READINGS_1,
    location="path",
    retry_after="asctime",
    credits_body=BALANCE,
    unknown_job=(404, "not_found"),
    foreign_job=(404, "not_found"),  # another account's job looks like no job at all
    flat_images="refused",
    extra_fields='{"meta": {"request_id": "req_' + COUNTER + '", "version": "beta"}}',
    # RFC 9110 section 8.3.1: type, subtype and charset value are case-insensitive
    json_type="application/JSON; charset=UTF-8",
    unknown_field_code="invalid_request_body",
    result_redirect=True,
    check_order=("rate_limit", "body", "auth", "images", "garment_mode", "credits"),
)
#: the third answer to points with three readings: a 429 without Retry-After, a balance nested
#: deeper than a client would guess, an image too small for the decoder's use
#: (unsupported_image_format), and an upload past the cap refused with 413 (RFC 9110)
READINGS_3 = replace(
    READINGS_1,
    retry_after="absent",
    credits_body=f'{{"data": {{"account": "acct_1", "credits": {{"available": {BALANCE}}}}}}}',
    too_small_code="unsupported_image_format",
    upload_too_large_status=413,
)

#: Not readings, since these are not open points: the servers' limits. 10 requests/s in bursts
#: of 3, twice the documented rate: a burst of 40 meets its 429 from 11/s up, so a loaded
#: machine (it measured 39/s once) still gets one; at 40/s the burst needed over 43/s, and the
#: machine's speed, not the target, decided the clause. Processing is quick.
CONFIG = replace(QUIET, rate_limit=10.0, burst=3, processing_time=0.2)

_READ_1: Mapping[str, str] = {
    "tryon.open.location_form": "relative, e.g. try-on/job/{job_id}",
    "tryon.open.retry_after": "HTTP-date",
    "tryon.open.too_small_image": "400 malformed_image",
    "tryon.open.unknown_job_id": "400",
    "tryon.open.other_account_job": "403",
    "tryon.open.credit_endpoint_shape": "'remaining'",
    "tryon.open.image_formats": "GIF: 200",
    "tryon.limits.formats": "WEBP: 400 unsupported_image_format",
    "tryon.open.flat_image": "processed (200)",
    "tryon.open.extra_response_fields": "request_id",
    "tryon.open.unknown_request_fields": "an extra JSON field: 200",
    "tryon.open.file_size_unit": "400 file_size_too_large",
    "tryon.open.check_order": "malformed_image",
    "tryon.open.resolution_per_side": "192x512 px: 200",
    "tryon.open.form_booleans": "'True': 400, '1': 200",
    "tryon.open.image_url_unreachable": "malformed_image",
    "tryon.open.async_validation": "accepted (202), then the job ended 'failed'",
}


class _DepartsOnEmptyBodies(Simulator):
    """Not a reading but a mild departure (API.md: the page ties an empty body to
    invalid_request_body; missing_parameter there is "worth reporting, not worth failing a
    run"): an empty JSON body read as an empty object, so its images are missing. Made as a
    mutant is, through the `answer` hook."""

    def answer(self, request: SimRequest, response: SimResponse) -> SimResponse:
        refused = body(response)
        empty = isinstance(refused, dict) and "got an empty body" in str(refused.get("error"))
        if is_try_on(request) and response.status == 400 and empty:
            missing = {
                "error": "person_image: expected a file or person_image_url, got neither",
                "error_code": "missing_parameter",
            }
            return with_body(response, missing)
        return response


@dataclass(frozen=True)
class ReadingServer:
    """A server that reads the open points otherwise: its readings, what the suite should
    then observe, and the should-clauses it breaks on purpose (a departure, not a reading)."""

    name: str
    readings: Readings
    #: clause id -> a text one of the suite's observations of it must contain
    observed: Mapping[str, str]
    departures: frozenset[str] = frozenset()
    #: share of a job's time spent pending (not an open point): 0 runs jobs at once
    queue_share: float = 0.0

    @property
    def config(self) -> SimulatorConfig:
        return replace(CONFIG, readings=self.readings, queue_share=self.queue_share)

    def simulator(
        self, clock: Clock | None = None, fetcher: ImageFetcher | None = None
    ) -> Simulator:
        """The server; `fetcher` gets image URLs (fixture images served in process, say), by
        default the network."""
        made = _DepartsOnEmptyBodies if self.departures else Simulator
        return made(self.config, clock or RealClock(), fetcher)


SERVERS: Mapping[str, ReadingServer] = {
    "readings1": ReadingServer(
        "readings1", READINGS_1, _READ_1, frozenset({"tryon.400.empty_body_code"})
    ),
    "readings2": ReadingServer(
        "readings2",
        READINGS_2,
        {
            **_READ_1,
            "tryon.open.location_form": "relative, e.g. /v1/try-on/job/{job_id}",
            "tryon.open.unknown_job_id": "404",
            "tryon.open.other_account_job": "404",
            "tryon.open.credit_endpoint_shape": "bare",
            "tryon.open.flat_image": "400 unknown_foreground",
            "tryon.open.extra_response_fields": "meta",
            "tryon.open.unknown_request_fields": "an extra JSON field: 400 invalid_request_body",
        },
        queue_share=0.5,
    ),
    "readings3": ReadingServer(
        "readings3",
        READINGS_3,
        {
            **_READ_1,
            "tryon.open.retry_after": "no Retry-After",
            "tryon.open.credit_endpoint_shape": "'data'",
            "tryon.open.too_small_image": "400 unsupported_image_format",
            "tryon.open.file_size_unit": "413 file_size_too_large",
        },
    ),
}

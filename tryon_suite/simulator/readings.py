"""Where the documentation is silent, the simulator reads it one way: every such answer, as data.

API.md lists the open points (Where the documentation is silent); a contract suite accepts every
reasonable reading of them. `Readings` holds the simulator's answer to each, one field per point,
so a simulator that reads them otherwise is a value (`SimulatorConfig(readings=...)`), not a
subclass: the other-readings servers of the project's own tests are three such values, and the
twin (`twin.py`) is the value a report's observations give. `Readings()` is the simulator's own
reading, each default the one its core had before readings were data.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from dataclasses import dataclass, replace
from typing import Final, Literal

from tryon_suite.errors import ConfigError
from tryon_suite.spec.schemas import LimitProfile

__all__ = ["BALANCE", "DEFAULT_ORDER", "OPENING", "STAGES", "Readings", "Stage"]

#: The checks of a try-on, in the order `Readings.check_order` names them.
Stage = Literal["auth", "rate_limit", "body", "garment_mode", "images", "credits"]
STAGES: Final[tuple[Stage, ...]] = (
    "auth",
    "rate_limit",
    "body",
    "garment_mode",
    "images",
    "credits",
)
#: The simulator's order: the key, its rate, the body (a bad garment_mode within it), the
#: images, the balance last, so a request refused for its body says why whatever the balance.
DEFAULT_ORDER: Final[tuple[Stage, ...]] = ("auth", "rate_limit", "body", "images", "credits")
#: In `Readings.credits_body`, where the balance goes, and the account's opening balance.
BALANCE: Final = "{balance}"
OPENING: Final = "{opening}"
#: In `Readings.extra_fields` and `accepted_fields`, a number fresh in each answer.
COUNTER: Final = "{n}"

_JOB_PATH: Final = "/v1/try-on/job/"


@dataclass(frozen=True)
class Readings:
    """The simulator's answer to each open point of API.md; the defaults are its own reading."""

    # -- the 202 and the job it names ---------------------------------------------------------
    #: Location: an absolute URL, an absolute path (/v1/try-on/job/ID), or a reference
    #: relative to the request URL /v1/try-on (try-on/job/ID, RFC 3986 section 5.2)
    location: Literal["absolute", "path", "relative"] = "absolute"
    #: a job id: a UUID, or an opaque string (tj_ and twelve hex digits)
    job_ids: Literal["uuid", "opaque"] = "uuid"
    #: a JSON object whose fields a 202 carries beside job_id (e.g. '{"status": "pending"}')
    accepted_fields: str | None = None
    #: status and error_code for a poll of a job id never issued, and of another account's job
    unknown_job: tuple[int, str] = (404, "job_not_found")
    foreign_job: tuple[int, str] = (404, "job_not_found")
    #: a polled try-on with a bad image: refused at once (400), or accepted as a job that
    #: fails with the refusal's error_code
    async_validation: Literal["refuse", "fail_job"] = "refuse"
    #: the error_code of a job that fails in processing (the config's job_failure_rate);
    #: content_filter_error is the one the documentation gives, as an example
    job_error_code: str = "content_filter_error"
    # -- the rate limit and the order of the checks -------------------------------------------
    #: a 429's Retry-After: whole seconds, an HTTP-date in one of RFC 9110's three forms, or none
    retry_after: Literal["seconds", "imf-fixdate", "rfc850", "asctime", "absent"] = "seconds"
    #: whether job polls and balance reads count toward the rate limit (else only try-ons)
    limit_reads: bool = True
    #: the try-on's checks in order, the first that refuses answering. rate_limit counts the
    #: key presented where it stands: before auth, a known key before it is judged (a key that
    #: is no account's never counts); after body, only bodies that pass count (API.md: a server
    #: may limit only what it accepts). garment_mode, when named, is judged apart from the body
    check_order: tuple[Stage, ...] = DEFAULT_ORDER
    # -- reading the body ---------------------------------------------------------------------
    #: the error_code for a try-on with no Content-Type at all
    no_content_type_code: str = "unsupported_content_type"
    #: the error_code for a flag of another type, or a form flag spelled otherwise
    wrong_type_code: str = "invalid_parameter"
    #: the error_code for a field the contract does not name; None: such fields are ignored
    unknown_field_code: str | None = "invalid_parameter"
    #: a form flag in any case (True, TRUE) is taken, and 1 or 0
    form_flags_any_case: bool = True
    form_flags_digits: bool = False
    #: an empty file part: an image that cannot be decoded, or no image at all
    empty_file: Literal["malformed", "absent"] = "malformed"
    #: the status of file_size_too_large for a file part past the cap (413: RFC 9110's)
    upload_too_large_status: int = 400
    # -- judging images -----------------------------------------------------------------------
    #: the formats accepted, by Pillow's names; None: the limit profile's
    formats: tuple[str, ...] | None = None
    #: 25 MB read as 25 MiB (26,214,400 bytes) or as 25,000,000 bytes
    megabyte: Literal["MiB", "MB"] = "MiB"
    #: the resolution limits bound each side, or the pixel count (min and max squared)
    resolution_bound: Literal["side", "pixels"] = "side"
    #: the error_code for an image under the minimum (no resolution_too_low exists)
    too_small_code: str = "invalid_parameter"
    #: a single-colour image: refused with unknown_foreground, or processed
    flat_images: Literal["refused", "processed"] = "refused"
    #: the error_code for an image URL that gives no image (not 200, unreachable, too slow)
    unreachable_url_code: str = "invalid_parameter"
    # -- answers ------------------------------------------------------------------------------
    #: the Content-Type of JSON answers (type, subtype and charset are case-insensitive)
    json_type: str = "application/json"
    #: a JSON object whose fields every JSON object answered carries beyond the documented
    extra_fields: str | None = None
    #: a Date header on every answer (RFC 9110: an origin server with a clock sends one)
    date_header: bool = False
    #: the WWW-Authenticate of a 401 (RFC 9110 asks for one); None: none
    auth_challenge: str | None = None
    #: GET /v1/credits: the body, as JSON with BALANCE and OPENING standing for the figures;
    #: None: no such endpoint (404), as a target that does not offer it
    credits_body: str | None = '{"credits": ' + BALANCE + "}"
    # -- result images ------------------------------------------------------------------------
    result_type: str = "image/jpeg"
    #: result URLs carry an expiry and a signature in the query, fresh each time, as a CDN's do
    signed_result_urls: bool = False
    #: result URLs name a short link that redirects (302) to the image
    result_redirect: bool = False
    #: an expired result: 404 with a JSON error, or 403 AccessDenied in XML, as a CDN answers
    expired_result: Literal["not_found", "access_denied"] = "not_found"

    def __post_init__(self) -> None:
        order = self.check_order
        required = [s for s in STAGES if s != "garment_mode"]
        if len(set(order)) != len(order) or not set(required) <= set(order) <= set(STAGES):
            raise ConfigError(
                f"expected check_order to name each of {', '.join(required)} once (and "
                f"garment_mode at most once), got {order}"
            )
        if "garment_mode" in order and order.index("garment_mode") < order.index("body"):
            raise ConfigError(f"expected garment_mode after body in check_order, got {order}")
        for before, after in (("body", "images"), ("auth", "images"), ("auth", "credits")):
            if order.index(before) > order.index(after):
                raise ConfigError(f"expected {before} before {after} in check_order, got {order}")
        for name in ("accepted_fields", "extra_fields"):
            text = getattr(self, name)
            if text is not None and not isinstance(_json(text.replace(COUNTER, "0")), dict):
                raise ConfigError(f"expected {name} to be a JSON object, got {text!r}")
        if self.credits_body is not None:
            self.credits(0, 0)  # a template that is not JSON fails here

    # -- what each reading makes of an answer ---------------------------------------------------

    def limits(self, profile: LimitProfile) -> LimitProfile:
        """The limit profile as read: the formats taken, and the bytes 25 MB stands for."""
        changed = profile
        if self.formats is not None:
            changed = replace(changed, formats=self.formats)
        if self.megabyte == "MB":
            changed = replace(changed, max_file_bytes_high=profile.max_file_bytes_low)
        return changed

    def location_of(self, job_id: str, base_url: str) -> str:
        """The 202's Location for a job (the try-on was POSTed to base_url/v1/try-on)."""
        if self.location == "relative":
            return f"try-on/job/{job_id}"
        path = f"{_JOB_PATH}{job_id}"
        return path if self.location == "path" else f"{base_url}{path}"

    def retry_after_of(self, wait: float) -> str | None:
        """A 429's Retry-After for a wait in seconds, rounded up so it is never too early."""
        seconds = max(1, math.ceil(wait))
        if self.retry_after == "seconds":
            return str(seconds)
        if self.retry_after == "absent":
            return None
        # an HTTP-date is the wall clock's, as the client's clock is: a virtual clock has none
        at = math.ceil(time.time() + seconds)
        if self.retry_after == "asctime":
            return time.asctime(time.gmtime(at))
        if self.retry_after == "rfc850":
            return time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(at))
        return email.utils.formatdate(at, usegmt=True)

    def credits(self, balance: int, opening: int) -> object:
        """The balance body of an account; call only where credits_body is not None."""
        assert self.credits_body is not None
        text = self.credits_body.replace(BALANCE, str(balance)).replace(OPENING, str(opening))
        return _json(text)

    def extra(self, counter: int) -> dict[str, object]:
        """The fields every JSON object answered carries beyond the documented ones."""
        return _fields(self.extra_fields, counter)

    def accepted(self, job_id: str, counter: int) -> dict[str, object]:
        """A 202's body."""
        return {"job_id": job_id, **_fields(self.accepted_fields, counter)}


def _fields(text: str | None, counter: int) -> dict[str, object]:
    if text is None:
        return {}
    fields = _json(text.replace(COUNTER, f"{counter:08x}"))
    assert isinstance(fields, dict)
    return fields


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"expected JSON in a reading, got {text!r}: {exc}") from None

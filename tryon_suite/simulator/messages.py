"""What every face (respx in process, ASGI over HTTP) hands the core, and what it gets back.

The core builds its JSON answers here too, so each documented shape is written once, and
dresses every answer as its readings have answers look.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final

from tryon_suite.simulator.readings import Readings

__all__ = [
    "Disconnected",
    "SimRequest",
    "SimResponse",
    "dressed",
    "error_answer",
    "headless",
    "json_answer",
    "result_answer",
]

#: what a CDN answers for an expired signed URL (`Readings.expired_result`)
_ACCESS_DENIED: Final = (
    b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
)


class Disconnected(Exception):
    """The client went away mid-body; a face raises it from the body stream, and it passes."""


async def _no_body() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


@dataclass(frozen=True)
class SimRequest:
    """A request as every face hands it over: header names lower-case, the body as a stream."""

    method: str
    path: str
    headers: Mapping[str, str]
    base_url: str
    body: AsyncIterator[bytes] = field(default_factory=_no_body)


@dataclass(frozen=True)
class SimResponse:
    """An answer: status, headers and body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def json_answer(
    status: int, payload: object, headers: Mapping[str, str] | None = None
) -> SimResponse:
    """A compact JSON body labelled application/json, as every API answer but a result is."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return SimResponse(status, {"content-type": "application/json", **(headers or {})}, body)


def error_answer(status: int, code: str, message: str, **headers: str) -> SimResponse:
    """API.md: errors are `{"error": "<description>", "error_code": "<code>"}`."""
    return json_answer(status, {"error": message, "error_code": code}, headers)


def result_answer(jpeg: bytes | None, readings: Readings, *, head: bool) -> SimResponse:
    """A result image, or (None) the answer to one expired or never made, as read."""
    if jpeg is None and readings.expired_result == "access_denied":
        return SimResponse(403, {"content-type": "application/xml"}, _ACCESS_DENIED)
    if jpeg is None:
        return error_answer(404, "not_found", "expected a result URL less than an hour old")
    headers = {"content-type": readings.result_type, "cache-control": "private, max-age=3600"}
    if head:
        return SimResponse(200, {**headers, "content-length": str(len(jpeg))}, b"")
    return SimResponse(200, headers, jpeg)


def dressed(response: SimResponse, readings: Readings, numbers: Iterator[int]) -> SimResponse:
    """An answer as the readings have answers look: a Date, a 401's challenge, the JSON media
    type, and fields beyond the documented ones (numbered from `numbers`)."""
    headers = dict(response.headers)
    body = response.body
    if readings.date_header:
        headers["date"] = email.utils.formatdate(usegmt=True)
    if response.status == 401 and readings.auth_challenge is not None:
        headers["www-authenticate"] = readings.auth_challenge
    if headers.get("content-type") == "application/json":
        headers["content-type"] = readings.json_type
        payload = json.loads(body) if readings.extra_fields is not None else None
        if isinstance(payload, dict):
            extra = readings.extra(next(numbers))
            payload.update((k, v) for k, v in extra.items() if k not in payload)
            body = json.dumps(payload, separators=(",", ":")).encode()
    if headers == response.headers and body is response.body:
        return response
    return SimResponse(response.status, headers, body)


def headless(response: SimResponse, method: str) -> SimResponse:
    """RFC 9110 9.3.2: HEAD is answered as GET is, without the content."""
    if method.upper() != "HEAD" or not response.body:
        return response
    length = {"content-length": str(len(response.body))}
    return SimResponse(response.status, {**response.headers, **length}, b"")

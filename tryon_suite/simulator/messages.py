"""What every face (respx in process, ASGI over HTTP) hands the core, and what it gets back.

The core builds its JSON answers here too, so each documented shape is written once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

__all__ = ["Disconnected", "SimRequest", "SimResponse", "error_answer", "json_answer"]


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

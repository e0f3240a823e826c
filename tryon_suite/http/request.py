"""What a request to the Try-On API is: its body (`TryOnRequest`), the documented endpoint it
calls, and the name it goes by in statistics.

Nothing here sends: `tryon_suite.http.client` does, through its transports.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import httpx

__all__ = [
    "CREDITS",
    "JOB",
    "NAME",
    "TRY_ON",
    "Endpoint",
    "TryOnRequest",
    "endpoint",
    "request_name",
]

TRY_ON: Final = "/v1/try-on"
CREDITS: Final = "/v1/credits"
JOB: Final = "/v1/try-on/job/{job_id}"

#: Where a request carries its statistics name, for a transport that reports it (Locust's).
NAME: Final = "tryon_suite.name"


@dataclass(frozen=True)
class TryOnRequest:
    """A try-on body, JSON or multipart, that knows how to send and describe itself."""

    kind: Literal["json", "multipart"]
    fields: Mapping[str, Any]
    files: Mapping[str, tuple[str, bytes, str]] = field(default_factory=dict)
    #: the body already encoded (bytes, Content-Type), sent as it is every time: see `frozen`
    encoded: tuple[bytes, str] | None = None

    @classmethod
    def json(cls, **fields: Any) -> TryOnRequest:
        return cls("json", fields)

    @classmethod
    def multipart(
        cls, files: Mapping[str, tuple[str, bytes, str]] | None = None, **fields: Any
    ) -> TryOnRequest:
        """Flags may be given as booleans; they travel as the text true or false."""
        text = {
            k: (("true" if v else "false") if isinstance(v, bool) else v) for k, v in fields.items()
        }
        return cls("multipart", text, dict(files or {}))

    def frozen(self) -> TryOnRequest:
        """The same body, encoded once (one multipart boundary) for a sender that repeats it
        thousands of times: a load run, where encoding per request is the harness's time."""
        content, headers = self.encode()
        return TryOnRequest(self.kind, self.fields, self.files, (content, headers["Content-Type"]))

    def httpx_kwargs(self) -> dict[str, Any]:
        if self.encoded is not None:
            return {"content": self.encoded[0]}
        if self.kind == "json":
            return {"json": dict(self.fields)}
        # Text fields go in as parts without a filename, so the body is multipart even when
        # no file is sent (httpx would otherwise fall back to a urlencoded form).
        parts: list[tuple[str, Any]] = [(k, (None, str(v))) for k, v in self.fields.items()]
        parts += list(self.files.items())
        return {"files": parts}

    def encode(self) -> tuple[bytes, dict[str, str]]:
        """The body bytes and Content-Type, for clients other than httpx (Locust's, say)."""
        if self.encoded is not None:
            return self.encoded[0], {"Content-Type": self.encoded[1]}
        request = httpx.Request("POST", "http://encode.invalid/", **self.httpx_kwargs())
        return request.read(), {"Content-Type": request.headers["content-type"]}

    @property
    def waits(self) -> bool:
        value = self.fields.get("wait_for_result", True)
        return value is True or (isinstance(value, str) and value.lower() == "true")


#: The API's two documented endpoints.
Endpoint = Literal["try-on", "job", "credits"]


@functools.lru_cache(maxsize=4096)
def endpoint(method: str, url: str) -> Endpoint | None:
    """Which documented endpoint a request calls, by method and path (None: another one)."""
    path = httpx.URL(url).path.rstrip("/")
    if method == "POST" and path.endswith(TRY_ON):
        return "try-on"
    if method == "GET" and f"{TRY_ON}/job/" in path:
        return "job"
    if method == "GET" and path.endswith(CREDITS):
        return "credits"
    return None


def request_name(method: str, url: str, body: TryOnRequest | None = None) -> str:
    """The name a request goes by in statistics: its endpoint, not its URL (one job is not
    another endpoint), and for a try-on whether it waits for the result."""
    called = endpoint(method, url)
    if called == "try-on":
        return f"POST {TRY_ON} ({'sync' if body is None or body.waits else 'polling'})"
    if called == "job":
        return f"GET {JOB}"
    return f"{method} {httpx.URL(url).path.rstrip('/')}"

"""Locust's HTTP client as an httpx transport: the load scenarios send through `TryOnClient`
(the suite's bodies, pacing, retry policy and polling loop) while Locust times and counts every
request, under the name the client gives it.

Nothing here imports Locust: the session is whatever `user.client` is (a `FastHttpSession`),
so this module loads without gevent's monkey-patching.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import httpx

from tryon_suite.http.client import NAME
from tryon_suite.http.redact import scrub

__all__ = ["HTTP_MS", "LocustTransport", "failure_text"]

#: where an answer carries Locust's own timing of its request, in milliseconds
HTTP_MS: Final = "tryon_suite.locust_response_time_ms"

_ERROR_TEXT: Final = 80
_DECODED: Final = frozenset({"content-encoding", "content-length", "transfer-encoding"})


def failure_text(status: int, body: bytes, secrets: Sequence[str] = ()) -> str | None:
    """How Locust lists an answer among its failures; None for a success. A 429 is named by
    its code alone, so every 429 of a run groups under one line; `secrets` (the key sent)
    are masked in the body before it is cut to length."""
    if 200 <= status < 300:
        return None
    if status == 429:
        return "429 rate_limit_exceeded"
    text = scrub(body.decode("utf-8", "replace"), secrets)
    return f"{status} {text[:_ERROR_TEXT]}"


class LocustTransport(httpx.BaseTransport):
    """Sends an httpx request with a Locust session (`FastHttpSession`), which fires Locust's
    request event for it; answers the httpx response the client layer expects."""

    #: Locust's session keeps its own timeouts and connections: the client sends to this
    #: transport directly, without httpx.Client's per-request machinery (WireTransport.direct)
    direct: Final = True

    def __init__(self, session: Any) -> None:
        self._session = session

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # Locust shows the method beside the name: the name leaves it out, so a row reads
        # "POST /v1/try-on (sync)", not "POST POST /v1/try-on (sync)"
        name = str(request.extensions.get(NAME) or request.url.path)
        name = name.removeprefix(f"{request.method} ")
        with self._session.request(
            request.method,
            str(request.url),
            name=name,
            data=request.read() or None,
            headers=dict(request.headers.items()),
            catch_response=True,
            allow_redirects=False,
        ) as answer:
            status = int(answer.status_code or 0)
            content = bytes(answer.content or b"")
            if status == 0:
                # geventhttpclient could not connect or read: Locust has counted the failure
                answer.failure(repr(getattr(answer, "error", None) or "no answer"))
                raise httpx.TransportError(f"expected an answer, got {answer.error!r}")
            # Locust prints its failures and writes them to its CSV: a key the target echoes
            # ("invalid key sk_...") is masked here, where the answer is first read
            sent_key = request.headers.get("x-api-key")
            problem = failure_text(status, content, [sent_key] if sent_key else [])
            if problem is None:
                answer.success()
            else:
                answer.failure(problem)
            # geventhttpclient hands the body decoded: its coding headers no longer apply
            headers = [
                (k, v)
                for k, v in (answer.headers.items() if answer.headers else [])
                if k.lower() not in _DECODED
            ]
            # Locust's own timing of this request, so the harness can measure what it adds
            meta = getattr(answer, "request_meta", None) or {}
            extensions = {HTTP_MS: meta["response_time"]} if "response_time" in meta else {}
        return httpx.Response(
            status, headers=headers, content=content, request=request, extensions=extensions
        )

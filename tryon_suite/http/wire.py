"""The bottom of the client's transports: one attempt on the wire, its whole answer read.

`WireTransport` wraps what reaches the target (the network, the in-process simulator, a
cassette, Locust's session) in an `httpx.Client`, for its machinery: default headers, cookies,
TLS, redirects. Every layer above sees one attempt as one exchange, a redirect chain followed
included, and an answer already read, as the client's callers do.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Callable
from typing import Any, Final

import httpx

__all__ = ["BOUND", "FOLLOW", "WireTransport", "tls_context"]

#: Per request: follow redirects (a result download), the chain being one attempt.
FOLLOW: Final = "tryon_suite.follow_redirects"
#: Per request: the whole answer must come within the request's read timeout, counted from
#: the send (a watched run's requests: `tryon_suite.http.watch`).
BOUND: Final = "tryon_suite.bound_whole_answer"


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client of the run: loading the CA bundle costs about 50 ms,
    and a contract run makes a client per check."""
    return ssl.create_default_context()


class WireTransport(httpx.BaseTransport):
    """Sends a request through an `httpx.Client` over `transport` (None: the network) and reads
    its answer; builds the requests it sends (`build`).

    A transport marked `direct` (Locust's, which keeps its own timeouts and connections) is
    sent to without httpx.Client's machinery, which a load run's harness time shows; a redirect
    to follow still goes through the client."""

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        """`now`: the clock a bound on the whole answer (`BOUND`) is counted on."""
        # A sync try-on waits for an image model: tens of seconds are normal.
        self.http = httpx.Client(
            timeout=httpx.Timeout(300.0, connect=10.0),
            verify=tls_context(),
            transport=transport,
        )
        self.direct: httpx.BaseTransport | None = (
            transport if getattr(transport, "direct", False) else None
        )
        self.now = now

    def build(
        self, method: str, url: str, *, follow_redirects: bool = False, **kwargs: Any
    ) -> httpx.Request:
        """The request as this transport sends it: with the client's default headers and
        timeouts, unless it goes direct."""
        if self.direct is not None and not follow_redirects:
            return httpx.Request(method, url, **kwargs)
        return self.http.build_request(method, url, **kwargs)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        follow_redirects = bool(request.extensions.get(FOLLOW, False))
        if self.direct is not None and not follow_redirects:
            response = self.direct.handle_request(request)
            response.read()
            return response
        if request.extensions.get(BOUND):
            return self._within_timeout(request, follow_redirects)
        response = self.http.send(request, follow_redirects=follow_redirects)
        response.read()
        return response

    def _within_timeout(self, request: httpx.Request, follow_redirects: bool) -> httpx.Response:
        """Send and read the whole answer within the request's read timeout, counted from the
        send: httpx bounds each read, so a body that trickles in a byte at a time would hold
        the run for ever; past the timeout it is a ReadTimeout, as a silent answer is."""
        limit = float(request.extensions.get("timeout", {}).get("read") or 300.0)
        started = self.now()
        response = self.http.send(request, follow_redirects=follow_redirects, stream=True)
        try:
            chunks = []
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if self.now() - started > limit:
                    raise httpx.ReadTimeout(
                        f"expected the whole answer within {limit:g} s, it was still coming",
                        request=request,
                    )
            response._content = b"".join(chunks)  # what Response.read() does
        finally:
            response.close()
        return response

    def close(self) -> None:
        self.http.close()

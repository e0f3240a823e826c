"""The in-process face: an httpx transport that answers with the simulator core.

The core runs on its own event loop in a helper thread (an anyio blocking portal), so sync and
async httpx clients alike reach it, and on a virtual clock, so polling and processing never wait.
Nothing global is patched: a client reaches the simulator only through the transport it was
given, so several simulators can be open side by side, and every other client stays on the
network.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Final

import anyio.to_thread
import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

from tryon_suite.http.clock import Clock, VirtualClock
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.core import SimRequest, Simulator
from tryon_suite.simulator.fetch import ImageFetcher

__all__ = ["DEFAULT_BASE_URL", "InProcessSimulator", "SimulatorTransport"]

#: A reserved name (RFC 2606 `.test`): it can never reach a real server by accident.
DEFAULT_BASE_URL: Final = "https://tryon-simulator.test"
_CHUNK: Final = 64 << 10


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(content), _CHUNK):
        yield content[start : start + _CHUNK]


class SimulatorTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Hands each request to `answer`; an async client waits in a worker thread, so its own
    event loop keeps running (an image server on it can still answer the simulator)."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self._answer = answer

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return self._answer(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return await anyio.to_thread.run_sync(self._answer, request)


class InProcessSimulator:
    """Use as a context manager: while open, clients on `transport` (or from `client()`) reach
    the simulator. It answers requests to `base_url` only; any other host is unreachable."""

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        clock: Clock | None = None,
        fetcher: ImageFetcher | None = None,
        simulator: Simulator | None = None,
    ) -> None:
        """`simulator`, when given (a mutant, say), is used as it is, with its own clock and
        fetcher."""
        self.base_url = base_url.rstrip("/")
        if simulator is not None:
            self.clock = simulator.clock
            self.simulator = simulator
        else:
            self.clock = clock if clock is not None else VirtualClock()
            self.simulator = Simulator(config, self.clock, fetcher)
        self.transport = SimulatorTransport(self._answer)
        self._origin = _origin(httpx.URL(self.base_url))
        self._stack: contextlib.ExitStack | None = None
        self._portal: BlockingPortal | None = None

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client on this simulator's transport, with `base_url` set; `kwargs` go to
        `httpx.Client` (headers, timeout)."""
        return httpx.Client(transport=self.transport, base_url=self.base_url, **kwargs)

    def __enter__(self) -> InProcessSimulator:
        stack = contextlib.ExitStack()
        self._portal = stack.enter_context(start_blocking_portal())
        stack.callback(self._portal.call, self.simulator.aclose)
        self._stack = stack
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        stack, self._stack, self._portal = self._stack, None, None
        if stack is not None:
            stack.close()

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if self._portal is None:
            raise RuntimeError("expected the simulator to be open (use it in a with block)")
        if _origin(request.url) != self._origin:
            # As a network would: the simulator is the only host this transport reaches.
            raise httpx.ConnectError(
                f"expected a request to {self.base_url}, got one to {request.url}", request=request
            )
        sim_request = SimRequest(
            method=request.method,
            path=request.url.path,
            headers={name.lower(): value for name, value in request.headers.items()},
            base_url=self.base_url,
            body=_chunks(request.content),
        )
        answer = self._portal.call(self.simulator.handle, sim_request)
        return httpx.Response(answer.status, headers=dict(answer.headers), content=answer.body)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port

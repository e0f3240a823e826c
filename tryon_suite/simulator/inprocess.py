"""The in-process face: a respx router that answers httpx requests with the simulator core.

The core runs on its own event loop in a helper thread (an anyio blocking portal), so sync and
async httpx clients alike reach it, and on a virtual clock, so polling and processing never wait.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Final

import httpx
import respx
from anyio.from_thread import BlockingPortal, start_blocking_portal

from tryon_suite.clock import Clock, VirtualClock
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.core import SimRequest, Simulator
from tryon_suite.simulator.fetch import ImageFetcher

__all__ = ["DEFAULT_BASE_URL", "InProcessSimulator"]

#: A reserved name (RFC 2606 `.test`): it can never reach a real server by accident.
DEFAULT_BASE_URL: Final = "https://tryon-simulator.test"
_CHUNK: Final = 64 << 10


async def _chunks(content: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(content), _CHUNK):
        yield content[start : start + _CHUNK]


class InProcessSimulator:
    """Use as a context manager: while open, httpx requests to `base_url` reach the simulator.

    Requests to any other host pass through to the network (image URLs the simulator fetches,
    a loopback image server); such servers must not run on the caller's own event loop, which
    waits while the simulator answers. Open one at a time: respx asks the first router opened
    first, and its pass-through route would take another simulator's requests.
    """

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        clock: Clock | None = None,
        fetcher: ImageFetcher | None = None,
        simulator: Simulator | None = None,
    ) -> None:
        """`simulator`, when given (a mutant, say), is used as it is, with its own clock."""
        self.base_url = base_url.rstrip("/")
        if simulator is not None:
            self.clock = simulator.clock
            self.simulator = simulator
        else:
            self.clock = clock if clock is not None else VirtualClock()
            self.simulator = Simulator(config, self.clock, fetcher)
        self.router = respx.MockRouter(assert_all_called=False)
        url = httpx.URL(self.base_url)
        where = {"scheme": url.scheme, "host": url.host}
        if url.port is not None:
            where["port"] = url.port  # type: ignore[assignment]
        self.router.route(**where).mock(side_effect=self._answer)
        self.router.route(name="pass-through").pass_through()
        self._stack: contextlib.ExitStack | None = None
        self._portal: BlockingPortal | None = None

    def mock_host(self, url: str, side_effect: Callable[[httpx.Request], httpx.Response]) -> None:
        """Answer requests to another host (fixture images, say) without a socket."""
        self.router.routes.pop("pass-through")  # type: ignore[no-untyped-call]
        self.router.route(host=httpx.URL(url).host).mock(side_effect=side_effect)
        self.router.route(name="pass-through").pass_through()

    def __enter__(self) -> InProcessSimulator:
        stack = contextlib.ExitStack()
        self._portal = stack.enter_context(start_blocking_portal())
        stack.enter_context(self.router)
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
        if self._portal is None:  # pragma: no cover - the router is only active while open
            raise RuntimeError("expected the simulator to be open (use it in a with block)")
        sim_request = SimRequest(
            method=request.method,
            path=request.url.path,
            headers={name.lower(): value for name, value in request.headers.items()},
            base_url=self.base_url,
            body=_chunks(request.content),
        )
        answer = self._portal.call(self.simulator.handle, sim_request)
        return httpx.Response(answer.status, headers=dict(answer.headers), content=answer.body)

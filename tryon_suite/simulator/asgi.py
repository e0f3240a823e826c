"""The HTTP face: the simulator core as a plain ASGI app, served by uvicorn on the real clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from tryon_suite.simulator.core import Disconnected, SimRequest, Simulator

__all__ = ["SimulatorApp"]


async def _body(request: Request) -> AsyncIterator[bytes]:
    try:
        async for chunk in request.stream():
            yield chunk
    except ClientDisconnect:
        raise Disconnected from None


class SimulatorApp:
    """ASGI app; the core does its own routing, so no framework router sits in between.

    Result URLs and absolute `Location` headers use `base_url` when given, else the address
    the request came to.
    """

    def __init__(
        self,
        simulator: Simulator,
        base_url: str | None = None,
        fixtures: Mapping[str, bytes] | None = None,
    ) -> None:
        self.simulator = simulator
        self.base_url = base_url.rstrip("/") if base_url else None
        #: images served at /fixtures/<name> (tryon-mock --serve-fixtures), so JSON bodies in
        #: load runs have URLs the simulator can fetch; not part of the API
        self.fixtures = dict(fixtures or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        if self.fixtures and request.url.path.startswith("/fixtures/"):
            data = self.fixtures.get(request.url.path.removeprefix("/fixtures/"))
            status, kind = (200, "image/*") if data is not None else (404, "text/plain")
            await Response(data or b"no such fixture", status, media_type=kind)(
                scope, receive, send
            )
            return
        base_url = self.base_url or str(request.base_url).rstrip("/")
        sim_request = SimRequest(
            method=request.method,
            path=request.url.path,
            headers=dict(request.headers.items()),  # Starlette gives lower-case names
            base_url=base_url,
            body=_body(request),
        )
        try:
            answer = await self.simulator.handle(sim_request)
        except Disconnected:
            return
        response = Response(answer.body, status_code=answer.status, headers=dict(answer.headers))
        await response(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.simulator.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

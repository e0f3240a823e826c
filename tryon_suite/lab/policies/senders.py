"""How a request travels: to the simulator core on this loop (after the modelled latency),
or over real HTTP."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx

from tryon_suite.http.secret import Secret
from tryon_suite.http.watch import Watch
from tryon_suite.lab.policies.settings import BASE, LabSettings

__all__ = ["Answer", "CoreSender", "HttpSender", "NetworkLatency", "Sender"]


@dataclass(frozen=True)
class NetworkLatency:
    """The model's time on the wire: each leg of a request (to the server, and the answer back)
    takes a log-normal time, median half the round trip's, drawn from a seeded generator, so a
    run stays the same for a seed. Without it every request of the virtual-time lab takes no
    time at all, and a client's retries and polls run faster than any real one can.

    A model assumption, measured: tryon-mock on loopback, one fixed-policy polling run alone on
    2 cores, answered in 9.8 ms at the median, 20.9 ms at p90 and 50.5 ms at p99: p90 / p50 =
    2.1 is a sigma of 0.6. A vendor's API over the internet has a larger median
    (`--latency-ms`); its shape is assumed the same, and each leg independent of the load (a
    server that slows as it queues is not modelled)."""

    median: float
    sigma: float = 0.6

    def leg(self, rng: random.Random) -> float:
        """Seconds one way: a request on its way to the server, or its answer on the way back."""
        if self.median <= 0:
            return 0.0
        return rng.lognormvariate(math.log(self.median / 2), self.sigma)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


class Sender(Protocol):
    """Sends one request: to the core in process, or over HTTP."""

    async def send(
        self, method: str, url: str, key: Secret, body: tuple[bytes, str] | None
    ) -> Answer: ...


def lab_simulator(settings: LabSettings) -> Any:
    """The simulator core for the lab, on the running loop's (virtual) time."""
    from tryon_suite.lab.virtualtime import LoopClock
    from tryon_suite.simulator.config import Account, SimulatorConfig
    from tryon_suite.simulator.core import Simulator
    from tryon_suite.simulator.fetch import StaticFetcher
    from tryon_suite.spec.images import ImageInfo, ImageProblem

    class LabSimulator(Simulator):
        """The lab measures limits and timing, not image checks: each distinct input is
        inspected once and each pair composed once (memoized), which makes an hour of traffic
        seconds of work. Every answer is still the core's."""

        _inspected: dict[tuple[bytes, str, str], ImageInfo | ImageProblem]
        _composed: dict[tuple[bytes, bytes], bytes]

        def inspect_input(
            self, data: bytes, field: str, source: Literal["file", "url"]
        ) -> ImageInfo | ImageProblem:
            memo = self.__dict__.setdefault("_inspected", {})
            if (data, field, source) not in memo:
                memo[data, field, source] = super().inspect_input(data, field, source)
            return memo[data, field, source]  # type: ignore[no-any-return]

        def compose(self, person: bytes, garment: bytes) -> bytes:
            memo = self.__dict__.setdefault("_composed", {})
            if (person, garment) not in memo:
                memo[person, garment] = super().compose(person, garment)
            return memo[person, garment]  # type: ignore[no-any-return]

    accounts = tuple(Account(k.reveal(), 10_000_000) for k in in_process_keys(settings))
    config = SimulatorConfig(
        accounts=accounts,
        rate_limit=settings.rate_limit,
        processing_time=settings.processing_time,
        seed=settings.seed,
    )
    person, garment = lab_images()
    fetcher = StaticFetcher({f"{BASE}/person.jpg": person, f"{BASE}/garment.jpg": garment})
    return LabSimulator(config, LoopClock(), fetcher)


def in_process_keys(settings: LabSettings) -> tuple[Secret, ...]:
    from tryon_suite.simulator.config import DEMO_KEY

    return (Secret(DEMO_KEY),)


def lab_images() -> tuple[bytes, bytes]:
    from tryon_suite.spec.fixture_images import FixtureImages
    from tryon_suite.spec.schemas import limit_profile

    # the smallest images the limits take: over HTTP, tryon-mock really decodes and composes
    # them, and the lab must measure the rate limit, not the server's image work
    images = FixtureImages(limit_profile())
    return images["edge-min.jpg"], images["edge-min.jpg"]


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


class CoreSender:
    """Hands each request to the simulator core on this loop, as the ASGI face would, each way
    after a leg of `latency` (the server sees the request late, the client the answer)."""

    def __init__(
        self, simulator: Any, latency: NetworkLatency | None = None, seed: str = ""
    ) -> None:
        from tryon_suite.simulator.messages import SimRequest

        self.simulator = simulator
        self._request = SimRequest
        self.latency = latency or NetworkLatency(0.0)
        self._rng = random.Random(f"latency:{seed}")

    async def send(
        self, method: str, url: str, key: Secret, body: tuple[bytes, str] | None
    ) -> Answer:
        headers = {"x-api-key": key.reveal()}
        if body is not None:
            headers["content-type"] = body[1]
        path = url.removeprefix(BASE)
        request = self._request(method, path, headers, BASE, _once(body[0] if body else b""))
        # both legs drawn before the request goes, so the draws' order is the sends' order
        there, back = self.latency.leg(self._rng), self.latency.leg(self._rng)
        if there > 0:
            await asyncio.sleep(there)
        answer = await self.simulator.handle(request)
        if back > 0:
            await asyncio.sleep(back)
        return Answer(answer.status, answer.headers, answer.body)


class HttpSender:
    """Sends over real HTTP with httpx (a sync try-on may take long: 300 s timeout). One per
    run: httpcore's pool scans every connection on each request, so one pool for every run
    at once costs more CPU than the server does.

    Every request goes under the run's `Watch`: once the run stopped, none is sent
    (`RunStopped`); a request without an answer asks whether the target still answers at all,
    and when it does not the run stops (`RunStopped`, the run INCOMPLETE); when it does, the
    request's own failure is raised (`httpx.HTTPError`) for the policy to count."""

    def __init__(
        self,
        base_url: str,
        watch: Watch | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.watch = watch or Watch()
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(300.0, connect=10.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            transport=transport,
        )

    async def send(
        self, method: str, url: str, key: Secret, body: tuple[bytes, str] | None
    ) -> Answer:
        headers = {"X-API-KEY": key.reveal()}
        content = None
        if body is not None:
            content, headers["Content-Type"] = body
        with self.watch.sending():
            try:
                response = await self.client.request(method, url, headers=headers, content=content)
            except httpx.HTTPError as exc:
                # the probe may wait for an answer: off the loop, the other requests go on
                await asyncio.to_thread(self.watch.failed, exc)
                raise
        self.watch.answered()
        return Answer(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        await self.client.aclose()

"""Fixtures for the project's own tests: images, simulators through each face, clients."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tryon_suite.http.clock import Clock, VirtualClock
from tryon_suite.simulator.config import DEMO_KEY, SimulatorConfig
from tryon_suite.simulator.core import Simulator
from tryon_suite.simulator.imageserver import ImageServer
from tryon_suite.simulator.inprocess import InProcessSimulator
from tryon_suite.simulator.server import serving
from tryon_suite.spec.fixture_images import FixtureImages
from tryon_suite.spec.images import render_image
from tryon_suite.spec.schemas import limit_profile
from tryon_suite.suite.targets import IMAGE_HOST

#: A quiet simulator: no rate limit, instant processing; tests turn on what they test.
QUIET = SimulatorConfig(rate_limit=0, processing_time=0.0)


@pytest.fixture(scope="session")
def person_jpeg() -> bytes:
    return render_image(512, 768, "JPEG", kind="person", seed=1)


@pytest.fixture(scope="session")
def garment_png() -> bytes:
    return render_image(400, 400, "PNG", kind="garment", seed=2)


@pytest.fixture
def simulator_factory() -> Iterator[Callable[..., InProcessSimulator]]:
    """Opens an in-process simulator with QUIET's settings overridden by keyword arguments."""
    opened: list[InProcessSimulator] = []

    def make(**overrides: Any) -> InProcessSimulator:
        fetcher = overrides.pop("fetcher", None)
        sim = InProcessSimulator(replace(QUIET, **overrides), fetcher=fetcher)
        opened.append(sim.__enter__())
        return sim

    yield make
    for sim in reversed(opened):
        sim.__exit__(None, None, None)


@pytest.fixture
def client_for() -> Iterator[Callable[..., httpx.Client]]:
    """Makes httpx clients for a base URL and key; closes them at the end."""
    clients: list[httpx.Client] = []

    def make(
        base_url: str, key: str | None = DEMO_KEY, transport: httpx.BaseTransport | None = None
    ) -> httpx.Client:
        headers = {"X-API-KEY": key} if key is not None else {}
        client = httpx.Client(base_url=base_url, headers=headers, timeout=30, transport=transport)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture(scope="session")
def image_server(person_jpeg: bytes, garment_png: bytes) -> Iterator[ImageServer]:
    """Real image URLs on loopback, fetched by the simulator with httpx."""
    with ImageServer({"/person.jpg": person_jpeg, "/garment.png": garment_png}) as server:
        server.add("/plain.png", render_image(400, 400, "PNG", kind="plain"))
        server.add("/tiny.png", render_image(100, 100, "PNG"))
        server.add("/huge.png", render_image(2500, 300, "PNG"))
        server.add("/photo.gif", render_image(300, 300, "GIF"))
        server.add("/random.jpg", bytes(range(256)) * 64)
        yield server


@dataclass
class Face:
    """One face of the simulator, opened: where it answers, through what, and its core."""

    name: str
    base_url: str
    simulator: Simulator
    clock: Clock
    make_client: Callable[..., httpx.Client]
    #: the in-process face's transport; None over HTTP (the network)
    transport: httpx.BaseTransport | None = None

    def client(self, key: str | None = DEMO_KEY) -> httpx.Client:
        return self.make_client(self.base_url, key, self.transport)


@pytest.fixture(params=["in-process", "http"])
def face_factory(
    request: pytest.FixtureRequest, client_for: Callable[..., httpx.Client]
) -> Iterator[Callable[..., Face]]:
    """Opens the simulator through one face (in process on a transport, or uvicorn on loopback)."""
    with contextlib.ExitStack() as stack:

        def make(**overrides: Any) -> Face:
            config = replace(QUIET, **overrides)
            if request.param == "in-process":
                sim = stack.enter_context(InProcessSimulator(config))
                return Face(
                    "in-process", sim.base_url, sim.simulator, sim.clock, client_for, sim.transport
                )
            base_url, core = stack.enter_context(serving(config))
            return Face("http", base_url, core, core.clock, client_for)

        yield make


@pytest.fixture(scope="session")
def fixture_images() -> FixtureImages:
    return FixtureImages(limit_profile())


class Opened:
    """One simulator (a mutant, another reading) open in process on a virtual clock, with a
    client holding the demo key; image URLs name the fixture images at IMAGE_HOST, which the
    simulator fetches through `tryon_suite.suite.targets.fixture_fetcher`."""

    def __init__(
        self, sim: InProcessSimulator, client: httpx.Client, images: FixtureImages, pace: float
    ) -> None:
        self.sim, self.client, self.images, self.pace = sim, client, images, pace

    def advance(self, seconds: float) -> None:
        clock = self.sim.clock
        assert isinstance(clock, VirtualClock), f"expected a virtual clock, got {clock!r}"
        clock.advance(seconds)

    def multipart(
        self, person: str = "person.jpg", garment: str = "garment.png", **data: str
    ) -> httpx.Response:
        self.advance(self.pace)
        files = {
            "person_image": (person, self.images[person], self.images.mime_type(person)),
            "garment_image": (garment, self.images[garment], self.images.mime_type(garment)),
        }
        return self.client.post("/v1/try-on", files=files, data=data)

    def json(
        self, person: str = "person.jpg", garment: str = "garment.png", **fields: Any
    ) -> httpx.Response:
        self.advance(self.pace)
        body = {
            "person_image_url": f"{IMAGE_HOST}/{person}",
            "garment_image_url": f"{IMAGE_HOST}/{garment}",
            **fields,
        }
        return self.client.post("/v1/try-on", json=body)

    def job(self, accepted: httpx.Response, key: str = DEMO_KEY) -> httpx.Response:
        """GET the job a 202 names, its Location resolved against the try-on URL."""
        where = httpx.URL(f"{self.sim.base_url}/v1/try-on").join(accepted.headers["location"])
        return self.client.get(where, headers={"X-API-KEY": key})


@pytest.fixture
def open_in_process(fixture_images: FixtureImages) -> Iterator[Callable[..., Opened]]:
    """Opens a built simulator in process; `pace` seconds pass before each try-on, for a
    simulator whose rate limit the test does not test."""
    with contextlib.ExitStack() as stack:

        def make(simulator: Simulator, *, pace: float = 0.0) -> Opened:
            sim = stack.enter_context(InProcessSimulator(simulator=simulator))
            client = stack.enter_context(sim.client(headers={"X-API-KEY": DEMO_KEY}))
            return Opened(sim, client, fixture_images, pace)

        yield make


@dataclass(frozen=True)
class SelftestRun:
    """The self-test's rows and the correct simulator's compliance report (its clauses by id)."""

    rows: list[Any]
    folder: Path
    exit_code: int

    @property
    def clauses(self) -> dict[str, Any]:
        report = json.loads((self.folder / "compliance.json").read_text(encoding="utf-8"))
        return {c["id"]: c for c in report["clauses"]}


@pytest.fixture(scope="session")
def selftest_run(tmp_path_factory: pytest.TempPathFactory) -> SelftestRun:
    """The self-test, run once for every test that reads it (they share an xdist group): the
    correct simulator's run in it is the suite's run against a correct server."""
    from tryon_suite.selftest.run import CORRECT, run_selftest

    folder = tmp_path_factory.mktemp("selftest")
    rows = run_selftest(folder=folder)
    correct = next(r for r in rows if r.mutant == CORRECT)
    return SelftestRun(rows, folder, correct.exit_code)


@pytest.fixture
def canary_server() -> Iterator[Callable[[str | None], str]]:
    """Serves a mutant (or, given None, the correct simulator) over HTTP that knows the canary
    keys (tests/canaries.py); its URL."""
    from tests.canaries import canary_servers

    yield from canary_servers()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests first, the slowest first (a stable sort): `--dist loadfile` hands out files
    in this order, so the long ones start at once and the short ones fill the gaps."""

    def seconds(item: pytest.Item) -> float:
        mark = item.get_closest_marker("slow")
        return float(mark.args[0]) if mark is not None and mark.args else 0.0

    items.sort(key=lambda item: -seconds(item))
    # pytest-xdist's --dist loadfile keeps one item per node id: a second item with the same id
    # would silently never run (Schemathesis once made two such).
    twice = sorted(nodeid for nodeid, n in Counter(i.nodeid for i in items).items() if n > 1)
    if twice:
        raise pytest.UsageError(f"expected every test id once, got these twice or more: {twice}")


#: Debian's Chromium: Playwright drives it through its path (it cannot download its own here)
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("TRYON_REQUIRE_BROWSER"):
            pytest.fail(f"expected Chromium at {CHROMIUM} (apt-get install chromium), found none")
        pytest.skip(f"not checked: no Chromium at {CHROMIUM} (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()

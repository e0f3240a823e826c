"""Fixtures for the project's own tests: images, simulators through each face, clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from tryon_suite.images import render_image
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.inprocess import InProcessSimulator

DEMO_KEY = "tryon-demo-key"
OTHER_KEY = "tryon-other-key"
NO_CREDITS_KEY = "tryon-no-credits-key"

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

    def make(base_url: str, key: str | None = DEMO_KEY) -> httpx.Client:
        headers = {"X-API-KEY": key} if key is not None else {}
        client = httpx.Client(base_url=base_url, headers=headers, timeout=30)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()

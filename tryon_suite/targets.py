"""What the contract suite runs against: the in-process simulator, or any live base URL."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx

from tryon_suite.client import Budget, TryOnClient
from tryon_suite.clock import VirtualClock
from tryon_suite.contract import LimitProfile
from tryon_suite.fixtures import FixtureImages
from tryon_suite.imageserver import ImageServer
from tryon_suite.retry import Pacer, RetryPolicy
from tryon_suite.secret import Secret
from tryon_suite.simulator.config import DEFAULT_ACCOUNTS, SimulatorConfig
from tryon_suite.simulator.inprocess import InProcessSimulator

__all__ = ["IMAGE_HOST", "Target", "TargetOptions", "open_target"]

#: Where the in-process target's fixture images live (a reserved .test name, served by respx).
IMAGE_HOST = "https://images.tryon-suite.test"


@dataclass(frozen=True)
class TargetOptions:
    """The suite's options, resolved from the command line and the environment."""

    base_url: str | None = None
    api_key: Secret | None = None
    no_credits_key: Secret | None = None
    other_key: Secret | None = None
    allow_burst: bool = False
    image_base_url: str | None = None
    budget: int | None = None
    limits: LimitProfile | None = None
    rate: float | None = None
    poll_timeout: float = 120.0
    seed: int = 0
    #: run in process against this mutant of the simulator (tryon_suite.mutants)
    mutant: str | None = None


@dataclass
class Target:
    """One opened target: where it is, which keys and permissions the run has, and its clock."""

    name: str
    base_url: str
    key: Secret
    other_key: Secret | None
    no_credits_key: Secret | None
    allow_burst: bool
    limits: LimitProfile
    images: FixtureImages
    image_url: Callable[[str], str]
    live: bool
    budget: Budget
    pacer: Pacer
    now: Callable[[], float]
    sleep: Callable[[float], None]
    #: moves the target's own clock (the in-process simulator); None for a live target
    advance: Callable[[float], None] | None
    poll_interval: float
    poll_timeout: float
    #: serves extra image bytes at a URL the target can fetch; None where the suite cannot
    publish: Callable[[str, bytes], str] | None = None
    seed: int = 0
    started: float = field(default_factory=time.time)

    def client(self, retry: RetryPolicy | None = None) -> TryOnClient:
        """A client for this target, sharing the run's budget and pacing."""
        return TryOnClient(
            self.base_url,
            self.key,
            other_key=self.other_key,
            no_credits_key=self.no_credits_key,
            pacer=self.pacer,
            retry=retry or RetryPolicy("retry-after", max_retries=6),
            budget=self.budget,
            sleep=self.sleep,
            seed=self.seed,
        )

    def authenticates(self, role: str) -> bool:
        """Whether the key of `role` ("run key", "other key", "no-credits key") is still taken
        by the target: asked as preflight asks, without a check's body or credits."""
        from tryon_suite.errors import PreflightError
        from tryon_suite.preflight import KeyToCheck, preflight

        key = {
            "run key": self.key,
            "other key": self.other_key,
            "no-credits key": self.no_credits_key,
        }.get(role)
        if key is None:
            return False
        try:
            preflight(self.base_url, [KeyToCheck(key, role, may_lack_credits=True)])
        except PreflightError:
            return False
        return True

    @property
    def secrets(self) -> tuple[Secret, ...]:
        return tuple(k for k in (self.key, self.other_key, self.no_credits_key) if k)


@contextlib.contextmanager
def open_target(options: TargetOptions, limits: LimitProfile) -> Iterator[Target]:
    """Open the target the options name; close what was started when done."""
    images = FixtureImages(limits)
    if options.base_url is None:
        yield from _in_process(options, limits, images)
    else:
        yield from _live(options, limits, images)


def _in_process(
    options: TargetOptions, limits: LimitProfile, images: FixtureImages
) -> Iterator[Target]:
    clock = VirtualClock()
    # A realistic simulator: 5 requests/s per key and 2 s of processing, on virtual time.
    config = SimulatorConfig(rate_limit=5.0, processing_time=2.0, limits=limits, seed=options.seed)
    extra: dict[str, bytes] = {}

    def publish(name: str, data: bytes) -> str:
        extra[name] = data
        return f"{IMAGE_HOST}/{name}"

    simulator = None
    if options.mutant is not None:
        from tryon_suite.mutants import mutant

        simulator = mutant(options.mutant).build(config, clock)
    with InProcessSimulator(config, clock=clock, simulator=simulator) as sim:
        sim.mock_host(IMAGE_HOST, lambda request: _serve_fixture(images, extra, request))
        keys = {a.credits: a.key for a in DEFAULT_ACCOUNTS}
        yield Target(
            name="in-process simulator" + (f" (mutant {options.mutant})" if options.mutant else ""),
            base_url=sim.base_url,
            key=Secret(DEFAULT_ACCOUNTS[0].key),
            other_key=Secret(DEFAULT_ACCOUNTS[1].key),
            no_credits_key=Secret(keys[0]),
            allow_burst=True,
            limits=limits,
            images=images,
            image_url=lambda name: f"{IMAGE_HOST}/{name}",
            live=False,
            budget=Budget(options.budget),
            pacer=Pacer(options.rate or 4.5, now=clock.now, sleep=clock.advance),
            now=clock.now,
            sleep=clock.advance,
            advance=clock.advance,
            poll_interval=0.5,
            poll_timeout=options.poll_timeout,
            publish=publish,
            seed=options.seed,
        )


def _serve_fixture(
    images: FixtureImages, extra: dict[str, bytes], request: httpx.Request
) -> httpx.Response:
    name = request.url.path.lstrip("/")
    try:
        data = extra[name] if name in extra else images[name]
    except KeyError:
        return httpx.Response(404, text="no such fixture")
    return httpx.Response(200, content=data, headers={"content-type": images.mime_type(name)})


def _live(options: TargetOptions, limits: LimitProfile, images: FixtureImages) -> Iterator[Target]:
    if options.base_url is None or options.api_key is None:  # the plugin checks both first
        raise ValueError("expected a base URL and an API key for a live target")
    with contextlib.ExitStack() as stack:
        publish: Callable[[str, bytes], str] | None = None
        if options.image_base_url:
            base = options.image_base_url.rstrip("/")
        else:
            server = stack.enter_context(ImageServer())
            for name in images.names:
                server.add(name, images[name])
            base = server.base_url
            publish = server.add
        yield Target(
            name=options.base_url,
            base_url=options.base_url.rstrip("/"),
            key=options.api_key,
            other_key=options.other_key,
            no_credits_key=options.no_credits_key,
            allow_burst=options.allow_burst,
            limits=limits,
            images=images,
            image_url=lambda name: f"{base}/{name}",
            live=True,
            budget=Budget(options.budget),
            pacer=Pacer(options.rate or 4.0),
            now=time.monotonic,
            sleep=time.sleep,
            advance=None,
            poll_interval=1.0,
            poll_timeout=options.poll_timeout,
            publish=publish,
            seed=options.seed,
        )

"""What the contract suite runs against: the in-process simulator, or any live base URL."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from tryon_suite.errors import ConfigError
from tryon_suite.http.cassette.replay import Cassette
from tryon_suite.http.client import Budget, Credits, Stack, TryOnClient
from tryon_suite.http.clock import VirtualClock
from tryon_suite.http.polling import PollPolicy
from tryon_suite.http.retry import Pacer, RetryPolicy
from tryon_suite.http.secret import Secret
from tryon_suite.http.watch import Timeouts, Watch, answers
from tryon_suite.simulator.config import DEFAULT_ACCOUNTS, SimulatorConfig
from tryon_suite.simulator.fetch import HttpFetcher
from tryon_suite.simulator.imageserver import ImageServer
from tryon_suite.simulator.inprocess import InProcessSimulator
from tryon_suite.spec.fixture_images import FixtureImages
from tryon_suite.spec.schemas import LimitProfile, limit_profile
from tryon_suite.suite.ledger import Ledger

__all__ = ["IMAGE_HOST", "Target", "TargetOptions", "fixture_fetcher", "open_target"]

#: Where the in-process target's fixture images live (a reserved .test name, served without a
#: socket by `fixture_fetcher`).
IMAGE_HOST = "https://images.tryon-suite.test"
_IMAGE_ROOT = httpx.URL(IMAGE_HOST + "/")
#: A live run paces itself under the documented 5 requests/s, and polls a job every second
#: (growing to 5 s); its purchases poll only once a sync purchase has answered.
LIVE_RATE = 4.0
LIVE_POLL = PollPolicy(interval=1.0)
#: The processing time of the simulator a `--tryon-plan` rehearses a live run on (virtual)
REHEARSAL_PROCESSING = 2.0


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
    #: the most credits the run may spend (None: no limit)
    credit_budget: int | None = None
    #: rehearse the run in process and print what it will cost, sending nothing
    plan: bool = False
    #: buy paid exchanges one by one at first use, even live (the benchmark's baseline)
    serial: bool = False
    #: the image-limit profile the target should obey (resolved once, from --tryon-limits)
    limits: LimitProfile = field(default_factory=limit_profile)
    rate: float | None = None
    #: run in process against this mutant of the simulator (tryon_suite.mutants)
    mutant: str | None = None
    #: answer every request from this recorded run (`--tryon-replay`): no network
    replay: Cassette | None = None
    #: live: seconds each kind of request may take, and the most the run may last
    timeouts: Timeouts = field(default_factory=Timeouts)
    deadline: float | None = None

    @property
    def live(self) -> bool:
        """Whether the run goes to a live endpoint (else the in-process simulator): the one
        answer to "is this run live?". A replay is as live as the run it replays."""
        if self.replay is not None:
            return bool(self.replay.header.get("live"))
        return self.base_url is not None


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
    #: moves the target's own clock (the in-process simulator); a live target's refuses
    advance: Callable[[float], None]
    #: how the suite polls this target's jobs
    poll: PollPolicy
    #: serves extra image bytes at a URL the target can fetch; None where the suite cannot
    publish: Callable[[str, bytes], str] | None = None
    #: what reaches the target (the in-process simulator's transport); None for the network
    transport: httpx.BaseTransport | None = None
    #: the run's credits: its budget, what was spent and what is promised
    credits: Credits = field(default_factory=Credits)
    #: the paid exchanges the run's checks share (set by the plugin once it knows them)
    ledger: Ledger | None = None
    started: float = field(default_factory=time.time)
    #: answered from a recorded run's cassette (`--tryon-replay`)
    replayed: bool = False
    #: a `--tryon-plan` rehearsal of a live run: the processing time its simulator takes
    rehearsal_processing: float | None = None
    #: a live target's timeouts per kind of request, deadline and liveness (None in process)
    watch: Watch | None = None

    def client(self, retry: RetryPolicy | None = None, *, may_spend: bool = True) -> TryOnClient:
        """A client for this target, sharing the run's budget, credits and pacing; with
        `may_spend` its try-ons reserve credits (a check whose try-ons must be refused has
        none to reserve)."""
        return TryOnClient(
            self.base_url,
            self.key,
            other_key=self.other_key,
            no_credits_key=self.no_credits_key,
            transport=Stack(
                self.transport,
                credits=self.credits,
                may_spend=may_spend,
                retry=retry or RetryPolicy("retry-after", max_retries=6),
                budget=self.budget,
                pacer=self.pacer,
                watch=self.watch,
                now=self.now,
                sleep=self.sleep,
            ),
        )

    def authenticates(self, role: str) -> bool:
        """Whether the key of `role` ("run key", "other key", "no-credits key") is still taken
        by the target: asked as preflight asks, without a check's body or credits."""
        from tryon_suite.errors import PreflightError
        from tryon_suite.http.preflight import KeyToCheck, preflight

        key = {
            "run key": self.key,
            "other key": self.other_key,
            "no-credits key": self.no_credits_key,
        }.get(role)
        if key is None:
            return False
        try:
            preflight(
                self.base_url,
                [KeyToCheck(key, role, may_lack_credits=True)],
                transport=self.transport,
            )
        except PreflightError:
            return False
        return True

    @property
    def secrets(self) -> tuple[Secret, ...]:
        return tuple(k for k in (self.key, self.other_key, self.no_credits_key) if k)


@contextlib.contextmanager
def open_target(options: TargetOptions) -> Iterator[Target]:
    """Open the target the options name; close what was started when done."""
    limits = options.limits
    images = FixtureImages(limits)
    if options.replay is not None:
        yield from _replayed(options, options.replay, limits, images)
    elif not options.live or options.plan:
        yield from _in_process(options, limits, images)
    else:
        yield from _live(options, limits, images)


def _in_process(
    options: TargetOptions, limits: LimitProfile, images: FixtureImages
) -> Iterator[Target]:
    """The in-process simulator; for `--tryon-plan` of a live run, a rehearsal of it: the
    live run's permissions, pacing, polling and Hypothesis profile on a virtual clock."""
    clock = VirtualClock()
    rehearsal = options.plan and options.live
    # A realistic simulator: 5 requests/s per key and 2 s of processing, on virtual time; a
    # rehearsal's limit lies a quarter above the run's pace, as 5/s lies above 4/s.
    rate_limit = max(5.0, 1.25 * (options.rate or LIVE_RATE)) if rehearsal else 5.0
    config = SimulatorConfig(
        rate_limit=rate_limit, processing_time=REHEARSAL_PROCESSING, limits=limits
    )
    extra: dict[str, bytes] = {}

    def publish(name: str, data: bytes) -> str:
        extra[name] = data
        return f"{IMAGE_HOST}/{name}"

    fetcher = fixture_fetcher(images, extra, timeout=config.fetch_timeout)
    simulator = None
    if options.mutant is not None:
        from tryon_suite.mutants import mutant

        simulator = mutant(options.mutant).build(config, clock, fetcher)
    with InProcessSimulator(config, clock=clock, fetcher=fetcher, simulator=simulator) as sim:
        keys = {a.credits: a.key for a in DEFAULT_ACCOUNTS}
        other, no_credits = Secret(DEFAULT_ACCOUNTS[1].key), Secret(keys[0])
        yield _target(
            options,
            images,
            name="in-process simulator" + (f" (mutant {options.mutant})" if options.mutant else ""),
            base_url=sim.base_url,
            key=Secret(DEFAULT_ACCOUNTS[0].key),
            other_key=other if not rehearsal or options.other_key else None,
            no_credits_key=no_credits if not rehearsal or options.no_credits_key else None,
            allow_burst=options.allow_burst if rehearsal else True,
            image_url=lambda name: f"{IMAGE_HOST}/{name}",
            live=options.live,
            pacer=Pacer(
                options.rate or (LIVE_RATE if rehearsal else 4.5),
                now=clock.now,
                sleep=clock.advance,
            ),
            now=clock.now,
            sleep=clock.advance,
            advance=_cannot_advance if rehearsal else clock.advance,
            poll=LIVE_POLL if rehearsal else PollPolicy(interval=0.5),
            publish=None if rehearsal and options.image_base_url else publish,
            transport=sim.transport,
            rehearsal_processing=config.processing_time if rehearsal else None,
        )


def _target(options: TargetOptions, images: FixtureImages, **where: Any) -> Target:
    """A target of the run's options: its keys, permissions, limits and budgets as the options
    say, unless the face sets them (`where`: name, URL, clock, transport, ...)."""
    account: dict[str, Any] = {
        "other_key": options.other_key,
        "no_credits_key": options.no_credits_key,
        "allow_burst": options.allow_burst,
        "limits": options.limits,
        "images": images,
        "budget": Budget(options.budget),
        "credits": Credits(options.credit_budget),
    }
    return Target(**{**account, **where})


def fixture_fetcher(
    images: FixtureImages, extra: Mapping[str, bytes] | None = None, *, timeout: float = 10.0
) -> HttpFetcher:
    """An image fetcher that serves the fixture images (and `extra`, by name) at IMAGE_HOST
    without a socket, and fetches any other URL over the network. `extra` is read at each
    fetch, so images published during the run are served too."""
    return HttpFetcher(timeout, transport=_FixtureTransport(images, {} if extra is None else extra))


class _FixtureTransport(httpx.AsyncBaseTransport):
    """Answers IMAGE_HOST from the fixtures; passes every other host to the network."""

    def __init__(self, images: FixtureImages, extra: Mapping[str, bytes]) -> None:
        self._images = images
        self._extra = extra
        self._network = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.copy_with(path="/", query=None, fragment=None) != _IMAGE_ROOT:
            return await self._network.handle_async_request(request)
        return _serve_fixture(self._images, self._extra, request)

    async def aclose(self) -> None:
        await self._network.aclose()


def _serve_fixture(
    images: FixtureImages, extra: Mapping[str, bytes], request: httpx.Request
) -> httpx.Response:
    name = request.url.path.lstrip("/")
    try:
        data = extra[name] if name in extra else images[name]
    except KeyError:
        return httpx.Response(404, text="no such fixture")
    return httpx.Response(200, content=data, headers={"content-type": images.mime_type(name)})


def _replayed(
    options: TargetOptions, cassette: Cassette, limits: LimitProfile, images: FixtureImages
) -> Iterator[Target]:
    """The recorded run's target, answered from its cassette on a virtual clock: the same
    base URL, keys by role, image URLs and pacing as recorded, and nothing waits."""
    from tryon_suite.http.cassette.replay import ReplayTransport

    header = cassette.header
    live = bool(header.get("live"))
    clock = VirtualClock()
    base_url = cassette.base_url.rstrip("/")
    recorded = header.get("options", {})
    image_base = str(recorded.get("image_base_url") or IMAGE_HOST).rstrip("/")
    keys = {"run key": options.api_key, "other key": options.other_key}
    keys["no-credits key"] = options.no_credits_key
    if options.api_key is None:
        raise ConfigError("expected a cassette recorded with a run key, got none")
    rate = options.rate or (LIVE_RATE if live else 0.0)
    yield _target(
        options,
        images,
        name=f"replay of {base_url} ({header.get('recorded_at')})",
        base_url=base_url,
        key=options.api_key,
        image_url=lambda name: f"{image_base}/{name}",
        live=live,
        pacer=Pacer(rate, now=clock.now, sleep=clock.advance),
        now=clock.now,
        sleep=clock.advance,
        advance=clock.advance,
        poll=LIVE_POLL if live else PollPolicy(interval=0.5),
        publish=lambda name, data: f"{image_base}/{name}",
        transport=ReplayTransport(cassette, base_url, keys),
        replayed=True,
    )


def _cannot_advance(seconds: float) -> None:
    raise ConfigError(
        f"expected a target whose clock the suite moves, got a live one (asked for {seconds} s)"
    )


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
        base_url = options.base_url.rstrip("/")
        watch = Watch(options.timeouts, deadline=options.deadline, probe=lambda: answers(base_url))
        stack.callback(watch.close)
        yield _target(
            options,
            images,
            name=options.base_url,
            base_url=base_url,
            key=options.api_key,
            image_url=lambda name: f"{base}/{name}",
            live=options.live,
            pacer=Pacer(options.rate or LIVE_RATE),
            now=time.monotonic,
            sleep=time.sleep,
            advance=_cannot_advance,
            poll=LIVE_POLL,
            publish=publish,
            watch=watch,
        )

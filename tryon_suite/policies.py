"""`tryon-suite policies`: the retry-policy lab. One arrival trace, every client policy.

The same open workload (Poisson arrivals from the seed, at `--rate` try-ons per second for
`--duration` seconds) goes through each retry policy of `tryon_suite.retry`, in sync mode
(`wait_for_result` true: 200 with the result) and polling mode (202, then the job polled as
`tryon_suite.polling.PollPolicy` says), and the lab tabulates, charts and ranks what each
bought: results per minute, requests and credits per result, 429s, time to result, give-ups.

By default the target is the simulator's core in this process, on a virtual-time event loop
(`virtualtime.py`): every try-on of the trace is in flight concurrently, an hour of traffic
takes seconds of wall time, and a seed gives the same table every time. With `--host` the same
driver sends the same trace over real HTTP, paced only by the trace. Either way the retry
decisions and what a policy remembers are `retry.RetryLoop` and `retry.RetryState`, the objects
`TryOnClient` drives, and time to result counts from each try-on's intended arrival, so a
client that falls behind is charged for it (no coordinated omission).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, NoReturn, Protocol

import httpx

from tryon_suite.client import TRY_ON, TryOnRequest
from tryon_suite.errors import ConfigError
from tryon_suite.load.latency import Latency
from tryon_suite.polling import PollPolicy
from tryon_suite.retry import POLICY_KINDS, PolicyKind, RetryLoop, RetryPolicy
from tryon_suite.secret import Secret

__all__ = [
    "TOLERANCE",
    "LabSettings",
    "Outcome",
    "arrival_trace",
    "main",
    "rank",
    "run_lab",
]

Mode = Literal["sync", "polling"]
MODES: Final[tuple[Mode, ...]] = ("sync", "polling")
#: Goodputs (and requests per result) closer than this share a rank: noise over real HTTP
#: cannot then flip a tie.
TOLERANCE: Final = 0.05
#: where the in-process simulator says it lives (RFC 2606: never a real host)
_BASE: Final = "https://policies.test"


@dataclass(frozen=True)
class LabSettings:
    """One lab run: the trace, the policies and modes, and the target."""

    rate: float = 8.0
    duration: float = 300.0
    seed: int = 0
    modes: tuple[Mode, ...] = MODES
    policies: tuple[PolicyKind, ...] = POLICY_KINDS
    max_retries: int = 5
    processing_time: float = 2.0
    rate_limit: float = 5.0
    poll: PollPolicy = field(default_factory=lambda: PollPolicy(wait_first=True))
    host: str | None = None
    keys: tuple[Secret, ...] = ()
    #: processes for the in-process runs (each run is independent: the table is the same)
    jobs: int = 1

    def __post_init__(self) -> None:
        if self.poll.timeout > 3600:
            raise ConfigError(
                f"expected a poll timeout of an hour at most, got {self.poll.timeout!r}"
            )
        for name in ("rate", "duration"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"expected --{name} > 0, got {value!r}")
        if self.processing_time < 0 or self.rate_limit < 0 or self.max_retries < 0:
            raise ConfigError(
                "expected --processing-time, --rate-limit and --max-retries >= 0, got "
                f"{self.processing_time!r}, {self.rate_limit!r} and {self.max_retries!r}"
            )
        if self.host is not None and not self.keys:
            raise ConfigError(
                "expected an API key for --host in TRYON_API_KEY, TRYON_API_KEYS or --key-env, "
                "got none"
            )

    def policy(self, kind: PolicyKind) -> RetryPolicy:
        return RetryPolicy(kind, max_retries=self.max_retries)


def arrival_trace(rate: float, duration: float, seed: int) -> list[float]:
    """Seconds from the start at which each try-on arrives: a Poisson process, the same for
    every policy and mode of a seed."""
    rng = random.Random(seed)
    times: list[float] = []
    t = rng.expovariate(rate)
    while t < duration:
        times.append(t)
        t += rng.expovariate(rate)
    return times


# -- what a policy got ---------------------------------------------------------------------


@dataclass
class Outcome:
    """What one policy in one mode got from the trace."""

    policy: PolicyKind
    mode: Mode
    duration: float
    arrivals: int = 0
    results: int = 0
    #: results delivered while the trace was arriving (the goodput counts these)
    in_window: int = 0
    #: try-ons that ended without a result, by why: "gave up" (retries or budget spent),
    #: "throttled" (refused locally), "timed out" (the job outlasted the poll timeout),
    #: "refused" (another answer), "failed" (a failed job, no answer)
    give_ups: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    polls: int = 0
    limited: int = 0
    rejected_locally: int = 0
    paid: int = 0
    credits: int | None = None
    latency: Latency = field(default_factory=Latency)

    def __getstate__(self) -> dict[str, Any]:
        # a run done in a worker process comes back with its histogram encoded, exactly
        return {**self.__dict__, "latency": self.latency.encode()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        latency = Latency()
        latency.add_encoded(state.pop("latency"))
        self.__dict__.update(state, latency=latency)

    def give_up(self, why: str) -> None:
        self.give_ups[why] = self.give_ups.get(why, 0) + 1

    @property
    def gave_up(self) -> int:
        return sum(self.give_ups.values())

    @property
    def goodput(self) -> float:
        """Results per minute while the trace arrives: the steady rate. A backlog drained after
        the last arrival would flatter whoever built the longest queue, so it is not counted
        here (its results are, in `results`)."""
        return self.in_window * 60.0 / self.duration

    @property
    def requests_per_result(self) -> float:
        return self.sent / self.results if self.results else math.inf

    @property
    def credits_per_result(self) -> float:
        spent = self.credits if self.credits is not None else self.paid
        return spent / self.results if self.results else math.inf

    @property
    def limited_ratio(self) -> float:
        return self.limited / self.sent if self.sent else 0.0

    def row(self) -> dict[str, Any]:
        """The figures as the table, the JSON and the ranking read them."""

        def finite(x: float) -> float | None:
            return round(x, 3) if math.isfinite(x) else None

        return {
            "policy": self.policy,
            "mode": self.mode,
            "arrivals": self.arrivals,
            "results": self.results,
            "goodput_per_min": round(self.goodput, 2),
            "requests": self.sent,
            "polls": self.polls,
            "requests_per_result": finite(self.requests_per_result),
            "credits": self.credits if self.credits is not None else self.paid,
            "credits_per_result": finite(self.credits_per_result),
            "ratio_429": round(self.limited_ratio, 3),
            **{f"{k}_s": v for k, v in self.latency.percentiles((50.0, 95.0, 99.0)).items()},
            "give_ups": self.gave_up,
            "give_ups_by_reason": dict(sorted(self.give_ups.items())),
            "rejected_locally": self.rejected_locally,
        }


# -- how a request travels -----------------------------------------------------------------


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


def _lab_simulator(settings: LabSettings) -> Any:
    """The simulator core for the lab, on the running loop's (virtual) time."""
    from tryon_suite.images import ImageInfo, ImageProblem
    from tryon_suite.simulator.config import Account, SimulatorConfig
    from tryon_suite.simulator.core import Simulator
    from tryon_suite.simulator.fetch import StaticFetcher
    from tryon_suite.virtualtime import LoopClock

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

    accounts = tuple(Account(k.reveal(), 10_000_000) for k in _in_process_keys(settings))
    config = SimulatorConfig(
        accounts=accounts,
        rate_limit=settings.rate_limit,
        processing_time=settings.processing_time,
        seed=settings.seed,
    )
    person, garment = _images()
    fetcher = StaticFetcher({f"{_BASE}/person.jpg": person, f"{_BASE}/garment.jpg": garment})
    return LabSimulator(config, LoopClock(), fetcher)


def _in_process_keys(settings: LabSettings) -> tuple[Secret, ...]:
    from tryon_suite.simulator.config import DEMO_KEY

    return (Secret(DEMO_KEY),)


def _images() -> tuple[bytes, bytes]:
    from tryon_suite.contract import limit_profile
    from tryon_suite.fixtures import FixtureImages

    # the smallest images the limits take: over HTTP, tryon-mock really decodes and composes
    # them, and the lab must measure the rate limit, not the server's image work
    images = FixtureImages(limit_profile())
    return images["edge-min.jpg"], images["edge-min.jpg"]


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


class CoreSender:
    """Hands each request to the simulator core on this loop, as the ASGI face would."""

    def __init__(self, simulator: Any) -> None:
        from tryon_suite.simulator.messages import SimRequest

        self.simulator = simulator
        self._request = SimRequest

    async def send(
        self, method: str, url: str, key: Secret, body: tuple[bytes, str] | None
    ) -> Answer:
        headers = {"x-api-key": key.reveal()}
        if body is not None:
            headers["content-type"] = body[1]
        path = url.removeprefix(_BASE)
        request = self._request(method, path, headers, _BASE, _once(body[0] if body else b""))
        answer = await self.simulator.handle(request)
        return Answer(answer.status, answer.headers, answer.body)


class HttpSender:
    """Sends over real HTTP with httpx (a sync try-on may take long: 300 s timeout). One per
    run: httpcore's pool scans every connection on each request, so one pool for every run
    at once costs more CPU than the server does."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(300.0, connect=10.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    async def send(
        self, method: str, url: str, key: Secret, body: tuple[bytes, str] | None
    ) -> Answer:
        headers = {"X-API-KEY": key.reveal()}
        content = None
        if body is not None:
            content, headers["Content-Type"] = body
        response = await self.client.request(method, url, headers=headers, content=content)
        return Answer(response.status_code, response.headers, response.content)

    async def aclose(self) -> None:
        await self.client.aclose()


# -- the driver ------------------------------------------------------------------------------


class _Run:
    """One policy in one mode over the trace: every try-on a task, all sharing the policy's
    `RetryState` (one client's memory) and one seeded generator."""

    def __init__(
        self,
        settings: LabSettings,
        kind: PolicyKind,
        mode: Mode,
        sender: Sender,
        key: Secret,
        body: tuple[bytes, str],
    ) -> None:
        self.settings = settings
        self.mode = mode
        self.sender = sender
        self.key = key
        self.body = body
        loop = asyncio.get_running_loop()
        self.state = settings.policy(kind).new_state(loop.time)
        self.rng = random.Random(f"{settings.seed}:{kind}:{mode}")
        self.outcome = Outcome(kind, mode, settings.duration)

    async def run(self, trace: Sequence[float]) -> Outcome:
        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        for at in trace:
            wait = start + at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            tasks.append(asyncio.create_task(self._try_on(start + at, start)))
        self.outcome.arrivals = len(tasks)
        await asyncio.gather(*tasks)
        self.outcome.rejected_locally = self.state.rejected
        return self.outcome

    async def _request(self, method: str, url: str, body: tuple[bytes, str] | None) -> Answer | str:
        """One request through the policy's retry loop (as `TryOnClient._send` drives it): the
        answer kept, or why there is none ("throttled", "failed")."""
        loop = RetryLoop(self.state, self.rng)
        while True:
            refused = loop.admit()
            if refused is not None:
                if refused.delay is None:
                    return "throttled"
                await asyncio.sleep(refused.delay)
                continue
            self.outcome.sent += 1
            try:
                answer = await self.sender.send(method, url, self.key, body)
            except httpx.HTTPError:
                loop.failed()
                return "failed"
            if answer.status == 429:
                self.outcome.limited += 1
            if method == "POST" and answer.status >= 500:
                # as the client: a POST that may have started paid work is not sent twice
                loop.answered(answer.status, None, retry=False)
                return answer
            decision = loop.answered(answer.status, answer.headers.get("retry-after"))
            if decision.delay is None:
                return answer
            await asyncio.sleep(decision.delay)

    async def _try_on(self, intended: float, start: float) -> None:
        outcome = self.outcome
        answer = await self._request("POST", f"{self._base()}{TRY_ON}", self.body)
        if isinstance(answer, Answer) and answer.status in (200, 202):
            outcome.paid += 1
        if isinstance(answer, str):
            why = answer
        elif answer.status == 200 and self.mode == "sync":
            why = None
        elif answer.status == 202 and self.mode == "polling":
            why = await self._follow(answer)
        else:
            why = "gave up" if answer.status == 429 else "refused"
        if why is not None:
            outcome.give_up(why)
            return
        now = asyncio.get_running_loop().time()
        outcome.results += 1
        outcome.in_window += now - start <= self.settings.duration
        outcome.latency.record(now - intended)

    async def _follow(self, accepted: Answer) -> str | None:
        """Poll the job until it is done (None), failed or the poll timeout passes; the same
        loop as `polling.follow_job`, on this loop's time."""
        location = accepted.headers.get("location") or ""
        poll = self.settings.poll
        loop = asyncio.get_running_loop()
        deadline = loop.time() + poll.timeout
        interval = poll.interval
        if poll.wait_first:
            await asyncio.sleep(interval)
        while True:
            answer = await self._request("GET", location, None)
            if isinstance(answer, Answer):
                self.outcome.polls += 1
                status = _job_status(answer)
                if status == "completed":
                    return None
                if status == "failed":
                    return "failed"
            if loop.time() >= deadline:
                return "timed out"
            await asyncio.sleep(interval)
            interval = poll.after(interval)

    def _base(self) -> str:
        return "" if self.settings.host is not None else _BASE


def _job_status(answer: Answer) -> str | None:
    if answer.status != 200:
        return None
    try:
        body = json.loads(answer.body)
    except ValueError:
        return None
    status = body.get("status") if isinstance(body, dict) else None
    return status if isinstance(status, str) else None


def _bodies(settings: LabSettings) -> dict[Mode, tuple[bytes, str]]:
    """The try-on body per mode: JSON naming the fixture images in process (the core fetches
    them from memory), multipart carrying them over HTTP (tryon-mock fetches nothing)."""
    out: dict[Mode, tuple[bytes, str]] = {}
    for mode in MODES:
        waits = mode == "sync"
        if settings.host is None:
            request = TryOnRequest.json(
                person_image_url=f"{_BASE}/person.jpg",
                garment_image_url=f"{_BASE}/garment.jpg",
                wait_for_result=waits,
            )
        else:
            person, garment = _images()
            files = {
                "person_image": ("person.jpg", person, "image/jpeg"),
                "garment_image": ("garment.jpg", garment, "image/jpeg"),
            }
            request = TryOnRequest.multipart(files, wait_for_result=waits)
        data, headers = request.encode()
        out[mode] = (data, headers["Content-Type"])
    return out


# -- running every policy --------------------------------------------------------------------


def _runs(settings: LabSettings) -> list[tuple[PolicyKind, Mode]]:
    return [(kind, mode) for mode in settings.modes for kind in settings.policies]


def run_lab(settings: LabSettings) -> list[Outcome]:
    """Every (policy, mode) over the same trace: in process on virtual time, or over HTTP."""
    from tryon_suite.virtualtime import run_virtual

    trace = arrival_trace(settings.rate, settings.duration, settings.seed)
    bodies = _bodies(settings)
    if settings.host is not None:
        return asyncio.run(_over_http(settings, trace, bodies))
    runs = _runs(settings)
    if settings.jobs > 1 and len(runs) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: a forked copy of a threaded parent (pytest-xdist's) may deadlock
        context = multiprocessing.get_context("spawn")
        workers = min(settings.jobs, len(runs))
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            return list(pool.map(_one_in_process, [settings] * len(runs), *zip(*runs, strict=True)))
    return [run_virtual(_in_process(settings, k, m, trace, bodies[m])) for k, m in runs]


def _one_in_process(settings: LabSettings, kind: PolicyKind, mode: Mode) -> Outcome:
    """One run, from the settings alone (in a worker process): the same trace, the same body."""
    from tryon_suite.virtualtime import run_virtual

    trace = arrival_trace(settings.rate, settings.duration, settings.seed)
    return run_virtual(_in_process(settings, kind, mode, trace, _bodies(settings)[mode]))


async def _in_process(
    settings: LabSettings,
    kind: PolicyKind,
    mode: Mode,
    trace: Sequence[float],
    body: tuple[bytes, str],
) -> Outcome:
    """A fresh simulator per run, so no run inherits another's bucket or jobs."""
    simulator = _lab_simulator(settings)
    key = _in_process_keys(settings)[0]
    before = simulator.credits[key.reveal()]
    outcome = await _Run(settings, kind, mode, CoreSender(simulator), key, body).run(trace)
    outcome.credits = before - simulator.credits[key.reveal()]
    await simulator.aclose()
    return outcome


async def _over_http(
    settings: LabSettings, trace: Sequence[float], bodies: Mapping[Mode, tuple[bytes, str]]
) -> list[Outcome]:
    """With a key per run, the runs of a batch go at once, each on its own key (the limit is
    per key); with fewer keys, batches of as many runs as keys, one after another."""
    runs = _runs(settings)
    width = len(settings.keys)
    outcomes: list[Outcome] = []
    for first in range(0, len(runs), width):
        if first:
            # let every key's bucket fill again: no run starts in another's debt
            await asyncio.sleep(2.0)
        batch = runs[first : first + width]
        outcomes += await asyncio.gather(
            *(
                _one_over_http(settings, kind, mode, key, trace, bodies[mode])
                for (kind, mode), key in zip(batch, settings.keys, strict=False)
            )
        )
    return outcomes


async def _one_over_http(
    settings: LabSettings,
    kind: PolicyKind,
    mode: Mode,
    key: Secret,
    trace: Sequence[float],
    body: tuple[bytes, str],
) -> Outcome:
    assert settings.host is not None
    sender = HttpSender(settings.host)
    try:
        before = await _balance(sender, key)
        outcome = await _Run(settings, kind, mode, sender, key, body).run(trace)
        after = await _balance(sender, key)
    finally:
        await sender.aclose()
    outcome.credits = before - after if before is not None and after is not None else None
    return outcome


async def _balance(sender: HttpSender, key: Secret) -> int | None:
    """The key's credit balance (GET /v1/credits), or None when unreadable (then credits are
    counted: a 200 or 202 is paid)."""
    for _ in range(10):
        answer = await sender.send("GET", "/v1/credits", key, None)
        if answer.status == 429:
            await asyncio.sleep(1.0)
            continue
        try:
            body = json.loads(answer.body)
        except ValueError:
            return None
        value = body.get("credits") if isinstance(body, dict) else None
        return value if isinstance(value, int) else None
    return None


# -- ranking -----------------------------------------------------------------------------------


def rank(rows: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """(rank, policy) best first, for the rows of one mode: by goodput, then fewer requests
    per result, then p95, where goodputs within `TOLERANCE` of the best of their tier count as
    equal (so requests per result decide between them), and a policy whose requests per result
    is also within `TOLERANCE` of the first of its rank shares that rank. p95 only orders
    within a rank: over real HTTP it is too noisy to separate two policies."""
    by_goodput = sorted(rows, key=lambda row: -row["goodput_per_min"])
    tiers: list[list[Mapping[str, Any]]] = []
    for row in by_goodput:
        if tiers and _near(tiers[-1][0]["goodput_per_min"], row["goodput_per_min"]):
            tiers[-1].append(row)
        else:
            tiers.append([row])
    ranked: list[tuple[int, str]] = []
    for tier in tiers:
        leader: Mapping[str, Any] | None = None
        number = 0
        for row in sorted(tier, key=lambda r: (_rpr(r), r["p95_s"])):
            if leader is None or not _near(_rpr(leader), _rpr(row)):
                leader, number = row, len(ranked) + 1
            ranked.append((number, row["policy"]))
    return ranked


def _rpr(row: Mapping[str, Any]) -> float:
    value = row["requests_per_result"]
    return math.inf if value is None else float(value)


def _near(x: float, y: float) -> bool:
    if math.isinf(x) or math.isinf(y):
        return x == y
    return abs(x - y) <= TOLERANCE * max(abs(x), abs(y), 1e-9)


def rankings(outcomes: Sequence[Outcome]) -> dict[str, list[tuple[int, str]]]:
    """The ranking of each mode run."""
    rows = [o.row() for o in outcomes]
    modes = dict.fromkeys(o.mode for o in outcomes)
    return {mode: rank([r for r in rows if r["mode"] == mode]) for mode in modes}


# -- output --------------------------------------------------------------------------------------

_COLUMNS: Final = (
    ("policy", "policy", "{}"),
    ("mode", "mode", "{}"),
    ("arrivals", "arrivals", "{}"),
    ("results", "results", "{}"),
    ("goodput_per_min", "results/min", "{:.1f}"),
    ("requests_per_result", "req/result", "{:.2f}"),
    ("credits_per_result", "credits/result", "{:.2f}"),
    ("ratio_429", "429 ratio", "{:.1%}"),
    ("p50_s", "p50 s", "{:.2f}"),
    ("p95_s", "p95 s", "{:.2f}"),
    ("p99_s", "p99 s", "{:.2f}"),
    ("give_ups", "give-ups", "{}"),
    ("rejected_locally", "local rejections", "{}"),
)


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """The console table, one line per policy and mode."""
    cells = [[head for _, head, _ in _COLUMNS]]
    for row in rows:
        cells.append(["-" if row[k] is None else form.format(row[k]) for k, _, form in _COLUMNS])
    widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in cells
    )


def verdict(ranked: Mapping[str, list[tuple[int, str]]]) -> str:
    """One line: the best policy (or policies sharing the first rank) of each mode."""
    parts = []
    for mode, order in ranked.items():
        best = [policy for number, policy in order if number == 1]
        parts.append(f"{mode}: {' = '.join(best)}")
    return "best policy per mode: " + "; ".join(parts)


def _charts(outcomes: Sequence[Outcome]) -> list[str]:
    import base64
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def encoded(figure: Any) -> str:
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png")
        plt.close(figure)
        return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()

    charts = []
    modes = list(dict.fromkeys(o.mode for o in outcomes))
    figure, axes = plt.subplots(1, 2, figsize=(10, 3.4), dpi=100)
    for mode, offset in zip(modes, (-0.2, 0.2), strict=False):
        mine = [o for o in outcomes if o.mode == mode]
        xs = [i + offset for i in range(len(mine))]
        axes[0].bar(xs, [o.goodput for o in mine], width=0.4, label=mode)
        rpr = [o.requests_per_result if math.isfinite(o.requests_per_result) else 0 for o in mine]
        axes[1].bar(xs, rpr, width=0.4, label=mode)
        for ax in axes:
            ax.set_xticks(range(len(mine)), [o.policy for o in mine], rotation=30, fontsize=8)
    axes[0].set_title("goodput (results per minute)")
    axes[1].set_title("amplification (requests per result)")
    for ax in axes:
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=8)
    charts.append(encoded(figure))
    for mode in modes:
        figure, ax = plt.subplots(figsize=(10, 3.4), dpi=100)
        for o in outcomes:
            if o.mode == mode and o.latency.count:
                points = o.latency.cdf()
                share = o.results / o.arrivals if o.arrivals else 0.0
                # a share of the trace, not of the results: give-ups keep the curve below 1
                ax.step([p[0] for p in points], [p[1] * share for p in points], label=o.policy)
        ax.set_xlabel("time to result, seconds from arrival")
        ax.set_ylabel("share of try-ons")
        ax.set_title(f"time to result, {mode} (a give-up never arrives)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        charts.append(encoded(figure))
    return charts


def write_report(
    outcomes: Sequence[Outcome], settings: LabSettings, folder: Path, wall: float
) -> Path:
    """reports/policies.html and policies.json, then the folder's index."""
    from tryon_suite.load.report import write_index
    from tryon_suite.report.render import _environment

    folder.mkdir(parents=True, exist_ok=True)
    ranked = rankings(outcomes)
    data = {
        "kind": "policies",
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "verdict": verdict(ranked),
        "ok": True,
        "html": "policies.html",
        "target": settings.host or "in-process simulator (virtual time)",
        "settings": _settings(settings),
        "wall_s": round(wall, 1),
        "tolerance": TOLERANCE,
        "rows": [o.row() for o in outcomes],
        "ranking": {mode: [{"rank": n, "policy": p} for n, p in r] for mode, r in ranked.items()},
    }
    (folder / "policies.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    html = (
        _environment()
        .get_template("policies.html.j2")
        .render(report=data, charts=_charts(outcomes))
    )
    path = folder / "policies.html"
    path.write_text(html, encoding="utf-8")
    write_index(folder)
    return path


def _settings(settings: LabSettings) -> dict[str, Any]:
    return {
        "rate": settings.rate,
        "duration_s": settings.duration,
        "seed": settings.seed,
        "modes": list(settings.modes),
        "policies": list(settings.policies),
        "max_retries": settings.max_retries,
        "processing_time_s": settings.processing_time,
        "rate_limit": settings.rate_limit if settings.host is None else "the target's",
        "poll": f"every {settings.poll.interval:g} s growing x{settings.poll.growth:g} to "
        f"{settings.poll.max_interval:g} s, timeout {settings.poll.timeout:g} s",
        "keys": len(settings.keys) if settings.host else 1,
    }


# -- the command line ------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Bad options print one line and exit 2 (no usage block, no traceback)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="tryon-suite policies",
        description="Run one arrival trace through every client retry policy, sync and "
        "polling, and rank them: goodput, requests and credits per result, 429s, time to "
        "result, give-ups. In process on virtual time by default; --host sends over HTTP.",
    )
    d = LabSettings()
    options: list[tuple[str, type, Any, str]] = [
        ("--rate", float, d.rate, f"try-ons per second offered (default {d.rate:g}; limit 5/s)"),
        ("--duration", float, d.duration, f"seconds of arrivals (default {d.duration:g})"),
        ("--seed", int, d.seed, "seed of the arrival trace and the jitter (default 0)"),
        ("--modes", str, ",".join(d.modes), "sync, polling or both (default both)"),
        ("--policies", str, ",".join(d.policies), "a subset of the policies (default all)"),
        ("--max-retries", int, d.max_retries, f"retries per request (default {d.max_retries})"),
        ("--processing-time", float, d.processing_time, "seconds a try-on takes (in process)"),
        ("--rate-limit", float, d.rate_limit, "requests/s per key (in process; default 5)"),
    ]
    for flag, kind, default, help_text in options:
        p.add_argument(flag, type=kind, default=default, help=help_text)
    p.add_argument(
        "--host", default=None, help="send over HTTP to this base URL (key: TRYON_API_KEY)"
    )
    p.add_argument(
        "--key-env",
        action="append",
        default=[],
        metavar="NAME",
        help="an environment variable holding a key, repeatable: with a key per policy the "
        "policies run at once (default TRYON_API_KEYS, comma-separated, else TRYON_API_KEY)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for the in-process runs (default: one per core; the table is the same)",
    )
    p.add_argument("--report-dir", default="reports", help="where policies.html and .json go")
    return p


def _keys(names: Sequence[str]) -> tuple[Secret, ...]:
    if names:
        missing = [n for n in names if not os.environ.get(n)]
        if missing:
            raise ConfigError(f"expected a key in ${missing[0]} (--key-env), got none")
        return tuple(Secret(os.environ[n].strip()) for n in names)
    many = [k.strip() for k in os.environ.get("TRYON_API_KEYS", "").split(",") if k.strip()]
    if many:
        return tuple(Secret(k) for k in many)
    one = os.environ.get("TRYON_API_KEY", "").strip()
    return (Secret(one),) if one else ()


def _choices(text: str, allowed: Sequence[str], what: str) -> tuple[Any, ...]:
    chosen = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [c for c in chosen if c not in allowed]
    if unknown or not chosen:
        raise ConfigError(
            f"expected {what} among {', '.join(allowed)}, got {unknown[0] if unknown else 'none'!r}"
        )
    return chosen


def settings_from(args: argparse.Namespace) -> LabSettings:
    """The settings the command line asks for; a bad one raises `ConfigError`."""
    return LabSettings(
        rate=args.rate,
        duration=args.duration,
        seed=args.seed,
        modes=_choices(args.modes, MODES, "--modes"),
        policies=_choices(args.policies, POLICY_KINDS, "--policies"),
        max_retries=args.max_retries,
        processing_time=args.processing_time,
        rate_limit=args.rate_limit,
        host=args.host,
        keys=_keys(args.key_env) if args.host else (),
        jobs=max(1, args.jobs),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the lab, print the table and the ranking, write the report; exit 2 on bad input."""
    p = parser()
    args = p.parse_args(argv)
    try:
        settings = settings_from(args)
    except ConfigError as exc:
        print(f"{p.prog}: error: {exc}", file=sys.stderr)
        return 2
    where = settings.host or "the in-process simulator on virtual time"
    print(
        f"{len(settings.policies)} policies x {len(settings.modes)} modes, one trace: "
        f"{settings.rate:g} try-ons/s for {settings.duration:g} s (seed {settings.seed}), "
        f"against {where}",
        flush=True,
    )
    started = time.perf_counter()
    outcomes = run_lab(settings)
    wall = time.perf_counter() - started
    print(table([o.row() for o in outcomes]))
    ranked = rankings(outcomes)
    for mode, order in ranked.items():
        print(f"ranking, {mode}: " + ", ".join(f"{n}. {p}" for n, p in order))
    path = write_report(outcomes, settings, Path(args.report_dir), wall)
    print(f"{verdict(ranked)} ({wall:.1f} s wall); report: {path}")
    return 0


def with_duration(settings: LabSettings, duration: float) -> LabSettings:
    """The same lab at another duration (a short one over HTTP, say)."""
    return replace(settings, duration=duration)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

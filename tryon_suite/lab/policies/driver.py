"""The driver: one policy in one mode over the trace, every try-on a task; every run of a lab,
in process on virtual time (in worker processes if asked) or over HTTP."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from contextlib import suppress
from typing import TypeVar

import httpx

from tryon_suite.http.client import TRY_ON, TryOnRequest
from tryon_suite.http.retry import PolicyKind, RetryLoop
from tryon_suite.http.secret import Secret
from tryon_suite.http.watch import RunStopped, Watch, answers
from tryon_suite.lab.policies.outcome import Outcome
from tryon_suite.lab.policies.senders import (
    Answer,
    CoreSender,
    HttpSender,
    NetworkLatency,
    Sender,
    in_process_keys,
    lab_images,
    lab_simulator,
)
from tryon_suite.lab.policies.settings import BASE, MODES, LabSettings, Mode, arrival_trace

__all__ = ["run_lab"]

T = TypeVar("T")


async def _together(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Every result, as `asyncio.gather`; when one fails (or the whole is cancelled), the others
    are cancelled and awaited before the error goes on, so none is left running."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


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
        tasks: list[asyncio.Task[None]] = []

        async def arrivals() -> None:
            for at in trace:
                wait = start + at - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                tasks.append(asyncio.create_task(self._try_on(start + at, start)))

        try:
            await arrivals()
            await asyncio.gather(*tasks)
        except BaseException:
            # the target stopped answering, or the run was interrupted: no try-on left behind
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        self.outcome.arrivals = len(tasks)
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
            sent_at = asyncio.get_running_loop().time()
            try:
                answer = await self.sender.send(method, url, self.key, body)
            except httpx.HTTPError:
                loop.failed()
                return "failed"
            self.outcome.round_trip.record(asyncio.get_running_loop().time() - sent_at)
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
        return "" if self.settings.host is not None else BASE


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
                person_image_url=f"{BASE}/person.jpg",
                garment_image_url=f"{BASE}/garment.jpg",
                wait_for_result=waits,
            )
        else:
            person, garment = lab_images()
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


def run_lab(settings: LabSettings, transport: httpx.MockTransport | None = None) -> list[Outcome]:
    """Every (policy, mode) over the same trace: in process on virtual time, or over HTTP
    (through `transport` when given, for tests). Over HTTP, raises `RunStopped` when the target
    stops answering mid-run."""
    from tryon_suite.lab.virtualtime import run_virtual

    trace = arrival_trace(settings.rate, settings.duration, settings.seed)
    bodies = _bodies(settings)
    if settings.host is not None:
        return asyncio.run(_over_http(settings, trace, bodies, transport))
    runs = _runs(settings)
    if settings.jobs > 1 and len(runs) > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        # spawn, not fork: a forked copy of a threaded parent (pytest-xdist's) may deadlock
        context = multiprocessing.get_context("spawn")
        workers = min(settings.jobs, len(runs))
        # Ctrl-C is the parent's to handle: a worker that took it would print a traceback
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_ignore_ctrl_c) as pool:
            return list(pool.map(_one_in_process, [settings] * len(runs), *zip(*runs, strict=True)))
    return [run_virtual(_in_process(settings, k, m, trace, bodies[m])) for k, m in runs]


def _ignore_ctrl_c() -> None:
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _one_in_process(settings: LabSettings, kind: PolicyKind, mode: Mode) -> Outcome:
    """One run, from the settings alone (in a worker process): the same trace, the same body."""
    from tryon_suite.lab.virtualtime import run_virtual

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
    simulator = lab_simulator(settings)
    key = in_process_keys(settings)[0]
    before = simulator.credits[key.reveal()]
    latency = NetworkLatency(settings.latency)
    sender = CoreSender(simulator, latency, f"{settings.seed}:{kind}:{mode}")
    outcome = await _Run(settings, kind, mode, sender, key, body).run(trace)
    outcome.credits = before - simulator.credits[key.reveal()]
    await simulator.aclose()
    return outcome


async def _over_http(
    settings: LabSettings,
    trace: Sequence[float],
    bodies: Mapping[Mode, tuple[bytes, str]],
    transport: httpx.MockTransport | None = None,
) -> list[Outcome]:
    """Every run over HTTP under one `Watch`: a request without an answer, or a silence while
    requests wait, asks whether the target still answers; when it does not, the runs are
    cancelled and `RunStopped` says why."""
    host = settings.host
    assert host is not None
    watch = Watch(probe=lambda: answers(host, transport))
    loop = asyncio.get_running_loop()
    halted = asyncio.Event()

    def wake(_reason: str) -> None:  # from the watching thread, or a probe's
        loop.call_soon_threadsafe(halted.set)

    watch.on_stop = wake
    work = asyncio.ensure_future(_batches(settings, trace, bodies, watch, transport))
    halt = asyncio.ensure_future(halted.wait())
    watch.start()
    try:
        await asyncio.wait({work, halt}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.close()
        halt.cancel()
        if not work.done():
            work.cancel()
            with suppress(asyncio.CancelledError, RunStopped):
                await work
    if watch.stopped is not None:
        raise RunStopped(watch.stopped)
    return work.result()


async def _batches(
    settings: LabSettings,
    trace: Sequence[float],
    bodies: Mapping[Mode, tuple[bytes, str]],
    watch: Watch,
    transport: httpx.MockTransport | None,
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
        outcomes += await _together(
            _one_over_http(settings, kind, mode, key, trace, bodies[mode], watch, transport)
            for (kind, mode), key in zip(batch, settings.keys, strict=False)
        )
    return outcomes


async def _one_over_http(
    settings: LabSettings,
    kind: PolicyKind,
    mode: Mode,
    key: Secret,
    trace: Sequence[float],
    body: tuple[bytes, str],
    watch: Watch,
    transport: httpx.MockTransport | None,
) -> Outcome:
    assert settings.host is not None
    sender = HttpSender(settings.host, watch, transport)
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

"""An asyncio event loop on virtual time: an hour of concurrent traffic in seconds, the same
every run.

`VirtualClock` (clock.py) moves time on each sleep, which serializes whoever sleeps: it cannot
model a thousand try-ons in flight at once. Here the loop itself keeps the time. When nothing
is ready to run, asyncio asks its selector to wait until the next timer; this selector polls
without blocking and, finding nothing, moves the loop's clock to that timer instead. Every
task sees the same time, timers fire in order, and ties run in the order they were scheduled,
so a run depends only on its seed. (The approach of the `looptime` and aiotools' VirtualClock
test helpers, which patch a running loop from pytest; this is the loop itself, ~30 lines, and
no dependency.) Only for code that does no real I/O: a socket's wait would take no virtual
time.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["LoopClock", "VirtualTimeLoop", "run_virtual"]

T = TypeVar("T")


class _Selector(selectors.DefaultSelector):
    """Never blocks on a timeout: tells the loop to jump over it."""

    def __init__(self, loop: VirtualTimeLoop) -> None:
        super().__init__()
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        # None: no timer at all, only I/O (a thread's wake-up call) can come: wait for it
        ready = super().select(None if timeout is None else 0)
        if not ready and timeout is not None and timeout > 0:
            self._loop.advance(timeout)
        return ready


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector event loop whose `time()` starts at 0 and moves only past idle waits."""

    def __init__(self) -> None:
        self._virtual_now = 0.0
        super().__init__(_Selector(self))

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += seconds


class LoopClock:
    """The `Clock` (clock.py) of the running loop: `loop.time()` and `asyncio.sleep`; on a
    `VirtualTimeLoop`, virtual seconds."""

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


def run_virtual(main: Coroutine[Any, Any, T]) -> T:
    """Run `main` to the end on a fresh `VirtualTimeLoop`, as `asyncio.run` would."""
    with asyncio.Runner(loop_factory=VirtualTimeLoop) as runner:
        return runner.run(main)

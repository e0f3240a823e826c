"""Serving the simulator over loopback HTTP with uvicorn: in a thread, or as `tryon-mock`."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from types import FrameType

import uvicorn

from tryon_suite.http.clock import RealClock
from tryon_suite.simulator.asgi import SimulatorApp
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.core import Simulator

__all__ = ["SimulatorServer", "bind", "serving"]


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; port 0 lets the system pick a free one (read it back from the socket)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only when the proto
    # says TCP, and without it every answer waits ~40 ms on Nagle and delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def base_url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class SimulatorServer(uvicorn.Server):
    """uvicorn, plus a hook once it accepts connections, and a clean exit on SIGINT or SIGTERM."""

    def __init__(
        self, config: uvicorn.Config, on_started: Callable[[], None] | None = None
    ) -> None:
        super().__init__(config)
        self._on_started = on_started
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.ready.set()
            if self._on_started is not None:
                self._on_started()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # uvicorn re-raises the signal after shutting down (a traceback on Ctrl-C, death by
        # SIGTERM); a simulator asked to stop has stopped cleanly, so it exits 0 instead.
        self._captured_signals.clear()


def uvicorn_config(app: SimulatorApp) -> uvicorn.Config:
    """Settings tuned for load: no access log, no server header, a deep backlog."""
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        lifespan="on",
        backlog=2048,
        timeout_keep_alive=30,
        # Stopping waits for answers in flight, but not for a long sync try-on forever.
        timeout_graceful_shutdown=5,
    )


@contextlib.contextmanager
def serving(
    config: SimulatorConfig | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    simulator: Simulator | None = None,
) -> Iterator[tuple[str, Simulator]]:
    """Serve a simulator (a fresh one on the real clock unless given) in a thread; yields its
    base URL and core."""
    sock = bind(host, port)
    base_url = base_url_of(sock)
    simulator = simulator or Simulator(config, RealClock())
    server = SimulatorServer(uvicorn_config(SimulatorApp(simulator, base_url)))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="tryon-mock", daemon=True
    )
    thread.start()
    try:
        # An Event, not a sleep: the wait ends the moment uvicorn listens.
        while not server.ready.wait(timeout=0.05):
            if not thread.is_alive():
                raise RuntimeError(f"expected the simulator to start on {base_url}, it exited")
        yield base_url, simulator
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

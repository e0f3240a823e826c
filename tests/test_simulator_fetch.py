"""Image URLs fetched for real (HttpFetcher): hostile URLs, closed ports, servers that drip."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import QUIET
from tests.test_simulator_fuzz import _check
from tryon_suite.simulator.config import DEMO_KEY
from tryon_suite.simulator.fetch import FetchProblem, HttpFetcher
from tryon_suite.simulator.imageserver import ImageServer
from tryon_suite.simulator.inprocess import InProcessSimulator

PERSON_URL = "http://127.0.0.1:9/person.jpg"
JSON = {"content-type": "application/json"}


HOSTILE_URLS = [
    "https://\ud9c3\udd2e\x0e\xafn",
    "http://exa mple.com/p.jpg",
    "http://[::1/p.jpg",
    "http://127.0.0.1:99999/p.jpg",
    "http://" + "a" * 300 + "/p.jpg",
    "https://xn--/p.jpg",
    "http://127.0.0.1:9/p.jpg",  # nothing listens on the discard port
]


@pytest.fixture(scope="module")
def fetching() -> Iterator[httpx.Client]:
    """A client of one simulator whose fetcher really fetches (no rate limit, so every example
    is answered on its merits); opened once, not once per example."""
    with InProcessSimulator(QUIET) as sim:
        yield sim.client(headers={"X-API-KEY": DEMO_KEY})


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_hostile_image_url_is_a_400_when_really_fetched(fetching: httpx.Client, url: str) -> None:
    """Through the real HttpFetcher: every URL either is refused or fails to fetch, as a 400."""
    body = {"person_image_url": url, "garment_image_url": "http://127.0.0.1:9/g.png"}
    # json.dumps escapes lone surrogates, which httpx's own encoder refuses to send
    content = json.dumps(body).encode()
    response = fetching.post("/v1/try-on", content=content, headers=JSON)
    assert response.status_code == 400, f"expected 400 for {url!r}, got {response.status_code}"
    assert response.json()["error_code"] == "invalid_parameter", f"got {response.json()}"


@given(path=st.text(max_size=40))
def test_any_url_on_a_closed_port_is_a_400_when_really_fetched(
    fetching: httpx.Client, path: str
) -> None:
    body = {"person_image_url": "http://127.0.0.1:9/" + path, "garment_image_url": PERSON_URL}
    response = fetching.post("/v1/try-on", json=body)
    _check(response)
    assert response.status_code == 400, (
        f"expected 400 for path {path!r}, got {response.status_code}"
    )


class _Drip(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        if self.path == "/huge":
            self.send_header("Content-Length", "999999999999")
            self.end_headers()
            return
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(1000):  # 10 bytes at a time, far slower than the deadline
                self.wfile.write(b"\xff" * 10)
                self.wfile.flush()
                threading.Event().wait(0.05)
        except OSError:
            return  # the simulator hung up, as it should

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def drip_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("path", "deadline", "code"),
    [
        # the drip must be cut off by the deadline: a short one keeps the test short
        ("/drip", 0.5, "invalid_parameter"),
        # the declared size alone must refuse it: a deadline a loaded machine cannot miss, so a
        # timeout can never pass for the size check (it once did, under CI load, at 0.5 s)
        ("/huge", 30.0, "file_size_too_large"),
    ],
)
def test_an_image_server_that_drips_or_declares_too_much_cannot_hold_the_simulator(
    drip_url: str, path: str, deadline: float, code: str
) -> None:
    """One deadline covers the whole fetch; a declared size past the cap is refused."""
    config = replace(QUIET, fetch_timeout=deadline)
    with InProcessSimulator(config, fetcher=HttpFetcher(deadline)) as sim:
        client = sim.client(headers={"X-API-KEY": DEMO_KEY}, timeout=60)
        body = {"person_image_url": drip_url + path, "garment_image_url": drip_url + path}
        response = client.post("/v1/try-on", json=body)
    assert (response.status_code, response.json()["error_code"]) == (400, code), (
        f"expected 400 {code} for {path}, got {response.status_code}: {response.text}"
    )


def test_a_fetcher_given_a_transport_fetches_through_it_within_its_cap() -> None:
    seen: list[str] = []

    def serve(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, content=b"x" * 10)

    async def fetch(max_bytes: int) -> bytes | FetchProblem:
        fetcher = HttpFetcher(transport=httpx.MockTransport(serve))
        try:
            return await fetcher.fetch("https://images.test/p.jpg", max_bytes)
        finally:
            await fetcher.aclose()

    assert anyio.run(fetch, 10) == b"x" * 10
    too_large = anyio.run(fetch, 9)
    assert isinstance(too_large, FetchProblem), f"expected a FetchProblem, got {too_large!r}"
    assert too_large.error_code == "file_size_too_large", too_large
    assert seen == ["https://images.test/p.jpg"] * 2, f"expected both through it, got {seen}"


@pytest.mark.parametrize(
    ("error", "printed"),
    [(ConnectionResetError, False), (BrokenPipeError, False), (ValueError, True)],
)
def test_the_image_server_prints_nothing_when_a_target_hangs_up_and_its_own_errors_in_full(
    capfd: pytest.CaptureFixture[str], error: type[Exception], printed: bool
) -> None:
    """A target whose fetch gave up mid-image closes the connection under the image server's
    write: not our error, and no traceback in the middle of the run's console."""
    with ImageServer({"/p.jpg": b"x"}) as images:
        try:
            raise error("while writing /p.jpg")
        except Exception:
            images._server.handle_error(None, ("127.0.0.1", 1))  # type: ignore[arg-type]
    err = capfd.readouterr().err
    assert ("while writing /p.jpg" in err) is printed, (
        f"expected the {error.__name__} {'printed' if printed else 'kept quiet'}, got {err!r}"
    )

"""Locust runs and the one exit-code table: a usage mistake ends within seconds with the
preflight's one line and exit 4, a target that stops answering is told apart, and the web
UI never serves the key nor listens beyond loopback when one is set.

(Its own file, so `--dist loadfile` runs these Locust processes beside the other load tests.)"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.canaries import MAIN
from tests.test_load import ROOT, locust
from tryon_suite.load.metrics import STOPPED_AFTER, LoadMetrics

pytestmark = pytest.mark.slow(15)


def _free_port() -> int:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tryon_lines(done: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in (done.stdout + done.stderr).splitlines() if "tryon" in line]


def test_a_refused_key_ends_at_once_with_the_preflight_s_line_and_exit_4(
    canary_server, tmp_path: Path
) -> None:
    url = canary_server(None)
    done = locust(tmp_path, "-u", "1", "--host", url, "--tryon-key", "canary-wrong-1", seconds=60)
    assert (done.returncode, _tryon_lines(done)) == (
        4,
        [
            f"tryon: the key given with --tryon-key was refused by {url} (401): check the key, "
            "and that it belongs to this target"
        ],
    ), f"expected exit 4 and the preflight's one line, got {done.returncode}: {done.stderr}"
    assert not (tmp_path / "load.json").exists(), "expected no load report for a usage mistake"


def test_an_unreachable_host_a_non_ascii_key_or_a_bad_option_is_one_line_and_exit_4(
    tmp_path: Path,
) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    cases = {
        "unreachable": (
            ("--host", url, "--tryon-key", MAIN),
            f"tryon: cannot reach {url} (ConnectError): check --host and that the service is up",
        ),
        "non-ASCII key": (
            ("--host", url, "--tryon-key", "clé-canary"),
            "tryon: the key given with --tryon-key cannot be used: expected an ASCII key (it "
            "travels in the X-API-KEY header), got one with a non-ASCII character",
        ),
        "bad threshold": (
            ("--tryon-max-429-ratio", "lots"),
            "error: argument --tryon-max-429-ratio: expected a number >= 0 or 'off', got 'lots'",
        ),
    }
    for case, (args, line) in cases.items():
        done = locust(tmp_path, "-u", "1", *args, seconds=60)
        errors = [x for x in done.stderr.splitlines() if "error" in x or x.startswith("tryon")]
        assert (done.returncode, len(errors), line in done.stderr) == (4, 1, True), (
            f"{case}: expected exit 4 and the one line {line!r}, got {done.returncode}: "
            f"{done.stderr[-600:]}"
        )


def test_requests_unanswered_to_the_end_mean_the_target_stopped_answering() -> None:
    metrics = LoadMetrics()
    for second in range(5):
        metrics.request("POST /v1/try-on (sync)", False, 100.0 + second)
    metrics.request("POST /v1/try-on (sync)", True, 105.0, answered=False)
    assert metrics.stopped_answering() == 0, "expected one lost connection not to count"
    for _ in range(STOPPED_AFTER):
        metrics.request("POST /v1/try-on (sync)", True, 107.0, answered=False)
    merged = LoadMetrics()
    merged.merge(metrics.export())
    assert merged.stopped_answering() == STOPPED_AFTER + 1, (
        f"expected the {STOPPED_AFTER + 1} requests after the last answer to count (merged from "
        f"a worker), got {merged.stopped_answering()}"
    )


@pytest.fixture
def web_ui(canary_server, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """Locust's web UI on a free port, the key in TRYON_API_KEY, a canary target."""
    url, port = canary_server(None), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYON_")}
    env["TRYON_API_KEY"] = MAIN
    command = [sys.executable, "-m", "locust", "-f", "load/locustfile.py", "--host", url]
    command += ["--web-port", str(port), "--tryon-report-dir", str(tmp_path)]
    # --autostart: the users spawn once the web UI serves, and Locust logs it
    command += ["--autostart", "-u", "1", "--only-summary"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "All users spawned" in line:
            break
    assert process.poll() is None, f"expected Locust's web UI running, got {''.join(seen)}"
    yield url, port
    process.terminate()
    process.communicate(timeout=30)


def _listening(port: int) -> set[str]:
    """The local addresses (hex, as /proc/net/tcp writes them) listening on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


def test_the_web_ui_serves_no_key_on_any_route_and_listens_on_loopback_only(
    web_ui: tuple[str, int],
) -> None:
    _, port = web_ui
    base = f"http://127.0.0.1:{port}"
    routes = [
        "/",
        "/stats/requests",
        "/stats/requests/csv",
        "/stats/failures/csv",
        "/stats/requests_full_history/csv",
        "/stats/report",
        "/exceptions",
        "/exceptions/csv",
        "/tasks",
        "/logs",
        "/login",
        "/worker-count",
        "/tryon/csv",
    ]
    page = urllib.request.urlopen(base + "/", timeout=30).read().decode()
    # the scripts and styles the page loads: their paths, as the page names them
    assets = sorted({"/assets/" + part.split('"')[0] for part in page.split('"/assets/')[1:]})
    served = {}
    for route in routes + assets:
        try:
            with urllib.request.urlopen(base + route, timeout=30) as answer:
                served[route] = answer.read()
        except urllib.error.HTTPError as refused:  # a route this run does not serve
            served[route] = refused.read()
    assert "tryon_min_result_ratio" in page, "expected the tryon options in the page's source"
    carrying = [route for route, body in served.items() if MAIN.encode() in body]
    assert not carrying, f"expected the key on no route of the web UI, found it on {carrying}"
    assert _listening(port) == {"0100007F"}, (
        f"expected the web UI to listen on 127.0.0.1 only, got {_listening(port)}"
    )

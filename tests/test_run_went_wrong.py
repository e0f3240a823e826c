"""A run that went wrong never ends green (issue 19): a target that stops answering mid-run,
hangs, or loses a result it handed out, judged over real HTTP by the README's live command.

Each server is the correct simulator served by uvicorn, changed in one way, counted in
requests (not seconds), so every run meets the fault at the same point.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.canaries import ACCOUNTS, MAIN, ROOT, leaks, pytest_contract
from tests.conftest import QUIET
from tryon_suite.errors import ExitCode
from tryon_suite.http.clock import RealClock
from tryon_suite.simulator.core import SimRequest, SimResponse, Simulator
from tryon_suite.simulator.server import serving

pytestmark = pytest.mark.slow(70)

#: short timeouts, so a hung target is found in seconds (the defaults are for real services)
FAST = ("--tryon-timeout", "connect=2,sync=6,poll=2,download=2")


class _Stops(Simulator):
    """The correct simulator until its `after`-th request; from then on it answers nothing
    (every request, the suite's probe included, waits on the wire: a hung target)."""

    def __init__(self, after: int) -> None:
        super().__init__(replace(QUIET, accounts=ACCOUNTS), RealClock())
        self.after = after
        self.seen = 0
        self._never = threading.Event()

    async def handle(self, request: SimRequest) -> SimResponse:
        self.seen += 1
        if self.seen > self.after:
            while not self._never.is_set():  # released when the test ends
                await asyncio.sleep(0.05)
        return await super().handle(request)

    def release(self) -> None:
        self._never.set()


class _Counted(Simulator):
    """The correct simulator, with an event set at its `at`-th request."""

    def __init__(self, at: int) -> None:
        super().__init__(replace(QUIET, accounts=ACCOUNTS, processing_time=1.0), RealClock())
        self.at = at
        self.seen = 0
        self.reached = threading.Event()

    async def handle(self, request: SimRequest) -> SimResponse:
        self.seen += 1
        if self.seen >= self.at:
            self.reached.set()
        return await super().handle(request)


class _LostResults(Simulator):
    """The correct simulator, whose result_url points where nothing listens: the API answers
    every request, but the result it promised cannot be fetched."""

    def __init__(self) -> None:
        super().__init__(replace(QUIET, accounts=ACCOUNTS), RealClock())

    def answer(self, request: SimRequest, response: SimResponse) -> SimResponse:
        response = super().answer(request, response)
        if b'"result_url"' not in response.body:
            return response
        payload = json.loads(response.body)
        payload["result_url"] = "http://127.0.0.1:9/results/gone.jpg"  # discard port: refused
        return replace(response, body=json.dumps(payload).encode())


class _FirstHangsUp(http.server.BaseHTTPRequestHandler):
    """Serves a JPEG, except to its first request: that connection is closed unanswered."""

    image = b""
    asked = 0

    def do_GET(self) -> None:
        type(self).asked += 1
        if type(self).asked == 1:
            self.close_connection = True
            return  # no status line: the client sees the server disconnect
        self.send_response(200)
        self.send_header("Content-Type", "image/jpeg")
        self.send_header("Content-Length", str(len(self.image)))
        self.end_headers()
        self.wfile.write(self.image)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ResultsElsewhere(_LostResults):
    """The correct simulator, its results served by another host (`where`)."""

    def __init__(self, where: str) -> None:
        super().__init__()
        self.where = where

    def answer(self, request: SimRequest, response: SimResponse) -> SimResponse:
        response = Simulator.answer(self, request, response)
        if b'"result_url"' not in response.body:
            return response
        payload = json.loads(response.body)
        payload["result_url"] = f"{self.where}/results/r.jpg"
        return replace(response, body=json.dumps(payload).encode())


@pytest.fixture
def served() -> Iterator[Any]:
    opened: list[Any] = []

    def serve(core: Simulator) -> str:
        context = serving(simulator=core)
        url, _ = context.__enter__()
        opened.append((context, core))
        return url

    yield serve
    for context, core in opened:
        if isinstance(core, _Stops):
            core.release()
        context.__exit__(None, None, None)


def _report(folder: Path) -> dict[str, Any]:
    path = folder / "compliance.json"
    assert path.exists(), f"expected a report at {path}, got none: {sorted(folder.iterdir())}"
    return json.loads(path.read_text())  # type: ignore[no-any-return]


def test_a_target_that_hangs_mid_run_ends_it_incomplete_with_a_report(
    served: Any, tmp_path: Path
) -> None:
    url = served(_Stops(after=30))
    done = pytest_contract(
        "--tryon-base-url", url, "--tryon-api-key", MAIN, *FAST, report_dir=tmp_path
    )
    report = _report(tmp_path)
    assert done.returncode == ExitCode.INCOMPLETE, (
        f"expected exit {int(ExitCode.INCOMPLETE)} (INCOMPLETE), got {done.returncode}: "
        f"{done.stdout[-1500:]}"
    )
    assert report["verdict"] == "incomplete", f"expected incomplete, got {report['verdict']}"
    assert "stopped answering" in (report["stopped"] or ""), (
        f"expected the report to say the target stopped answering, got {report['stopped']!r}"
    )
    statuses = {c["status"] for c in report["clauses"]}
    assert "not run" in statuses, f"expected clauses not run after the stop, got {statuses}"
    assert report["probe_requests"] >= 1, (
        f"expected the probe that found the target silent counted, got {report['probe_requests']}"
    )
    held_musts = [c for c in report["clauses"] if c["level"] == "must" and c["status"] == "holds"]
    assert all(c["evidence_count"] for c in held_musts), (
        "expected every must that holds to hold on evidence, got "
        f"{[c['id'] for c in held_musts if not c['evidence_count']]}"
    )
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("tryon verdict: INCOMPLETE (exit code 2)"), (
        f"expected the console's last line to give the verdict, got {last!r}"
    )
    junit = (tmp_path / "junit.xml").read_text()
    assert 'name="tryon_verdict" value="INCOMPLETE"' in junit, (
        f"expected JUnit to carry the verdict, got {junit[:600]!r}"
    )
    assert not leaks(done, tmp_path), f"expected no key in the output, got {leaks(done, tmp_path)}"


def test_a_result_url_that_cannot_be_fetched_fails_the_run(served: Any, tmp_path: Path) -> None:
    """The API answers everything else: a result it handed out that cannot be fetched is the
    API's broken promise, not the user's setup."""
    url = served(_LostResults())
    done = pytest_contract(
        "--tryon-base-url",
        url,
        "--tryon-api-key",
        MAIN,
        *FAST,
        report_dir=tmp_path,
        paths=("contract/test_success.py",),
    )
    report = _report(tmp_path)
    assert done.returncode == ExitCode.FAIL, (
        f"expected exit {int(ExitCode.FAIL)} (FAIL), got {done.returncode}: {done.stdout[-1500:]}"
    )
    failing = {c["id"]: c for c in report["clauses"] if c["status"] == "fails"}
    assert "tryon.result.valid_one_hour" in failing, (
        f"expected tryon.result.valid_one_hour to fail, got failing {sorted(failing)}"
    )
    reason = failing["tryon.result.valid_one_hour"]["reason"]
    assert "ConnectError" in reason, f"expected the transport error as evidence, got {reason!r}"
    assert "127.0.0.1:9" in reason, f"expected the lost URL in the evidence, got {reason!r}"


def _ctrl_c_as_from_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize(
    ("sent", "said"),
    [
        (signal.SIGINT, "interrupted by the user (Ctrl-C)"),
        (signal.SIGTERM, "terminated by a signal (SIGTERM)"),
    ],
)
def test_ctrl_c_writes_the_report_as_interrupted_and_exits_incomplete(
    served: Any, tmp_path: Path, sent: signal.Signals, said: str
) -> None:
    """Ctrl-C (SIGINT), or SIGTERM as a cancelled CI job sends."""
    core = _Counted(at=25)
    url = served(core)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYON_")}
    command = [sys.executable, "-m", "pytest", "contract", "-q", "-p", "no:cacheprovider"]
    command += ["--tryon-base-url", url, "--tryon-api-key", MAIN, "--tryon-report-dir"]
    with subprocess.Popen(
        [*command, str(tmp_path)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # as from a terminal: a test before this one in the same worker may have left Ctrl-C
        # ignored (Locust, a process pool), and a child inherits an ignored signal
        preexec_fn=_ctrl_c_as_from_a_terminal,
    ) as run:
        reached = core.reached.wait(timeout=60)
        run.send_signal(sent)
        output, _ = run.communicate(timeout=60)
    assert reached, f"expected the run to reach 25 requests, it sent {core.seen}"
    report = _report(tmp_path)
    assert run.returncode == ExitCode.INCOMPLETE, (
        f"expected exit {int(ExitCode.INCOMPLETE)}, got {run.returncode}: {output[-1200:]}"
    )
    assert report["verdict"] == "incomplete", f"expected incomplete, got {report['verdict']}"
    assert report["stopped"] == said, (
        f"expected the report to say it was interrupted, got {report['stopped']!r}"
    )
    not_run = [c for c in report["clauses"] if c["status"] == "not run"]
    assert not_run, "expected the clauses the interrupt left to be 'not run'"
    assert all(said in c["reason"] for c in not_run), (
        f"expected each 'not run' to say interrupted, got {[c['reason'] for c in not_run][:3]}"
    )


def _pytest_as_typed(*args: str) -> subprocess.CompletedProcess[str]:
    """`python -m pytest contract ARGS` as a user types it (every plugin loaded, Locust's
    `--host` among them), in a fresh process without TRYON_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRYON_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "contract", "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_result_host_that_hangs_up_once_is_asked_again_not_blamed(
    served: Any, tmp_path: Path, fixture_images: Any
) -> None:
    """One connection closed unanswered, while the API answers everything: the network's
    hiccup, not the API's failure, so the download is asked once more before it is judged."""

    class Once(_FirstHangsUp):
        image = fixture_images["person.jpg"]
        asked = 0

    handler = Once
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as results:
        threading.Thread(target=results.serve_forever, daemon=True).start()
        where = f"http://127.0.0.1:{results.server_address[1]}"
        url = served(_ResultsElsewhere(where))
        done = pytest_contract(
            "--tryon-base-url", url, "--tryon-api-key", MAIN, *FAST, report_dir=tmp_path,
            paths=("contract/test_success.py",),
        )  # fmt: skip
        results.shutdown()
    report = _report(tmp_path)
    assert handler.asked > 1, f"expected the result host asked again, got {handler.asked}"
    failing = [c["id"] for c in report["clauses"] if c["status"] == "fails"]
    assert failing == [], f"expected no failure for one hang-up, got {failing}"
    assert done.returncode == ExitCode.PASS, (
        f"expected exit 0, got {done.returncode}: {done.stdout[-1200:]}"
    )


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (("--host", "{url}"), "--tryon-base-url"),
        (("--tryon-report-dir", "/proc/no-such-folder"), "report folder"),
        (("--tryon-timeout", "sync=soon"), "--tryon-timeout"),
        (("--tryon-deadline", "0"), "--tryon-deadline"),
    ],
)
def test_usage_mistakes_stop_before_anything_is_sent(
    served: Any, tmp_path: Path, args: tuple[str, ...], wanted: str
) -> None:
    core = _Stops(after=10**9)
    url = served(core)
    given = [a.format(url=url) for a in args]
    if "--host" not in args:
        given = ["--tryon-base-url", url, "--tryon-api-key", MAIN, *given]
    if "--tryon-report-dir" not in args:
        given += ["--tryon-report-dir", str(tmp_path)]
    done = _pytest_as_typed(*given)
    output = done.stdout + done.stderr
    assert done.returncode == ExitCode.USAGE, (
        f"expected exit {int(ExitCode.USAGE)} (usage), got {done.returncode}: {output[-800:]}"
    )
    assert wanted in output, f"expected the message to name {wanted!r}, got {output[-800:]!r}"
    assert "Traceback" not in output, f"expected one line, no traceback, got {output[-800:]!r}"
    assert core.seen == 0, f"expected nothing sent to the target, got {core.seen} requests"


@pytest.mark.parametrize("key", ["clé-ünïcode", " spaced "])
def test_a_key_that_cannot_travel_in_a_header_is_a_usage_error(
    served: Any, tmp_path: Path, key: str
) -> None:
    core = _Stops(after=10**9)
    url = served(core)
    done = pytest_contract("--tryon-base-url", url, "--tryon-api-key", key, report_dir=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == ExitCode.USAGE, (
        f"expected exit {int(ExitCode.USAGE)}, got {done.returncode}: {output[-800:]}"
    )
    assert key.strip() not in output, "expected the message not to quote the key"
    assert "INTERNALERROR" not in output, f"expected a usage error, got {output[-800:]!r}"
    assert core.seen == 0, f"expected nothing sent, got {core.seen} requests"


def test_the_run_ends_at_its_deadline_incomplete_with_a_report(served: Any, tmp_path: Path) -> None:
    core = _Counted(at=10**9)
    url = served(core)
    done = pytest_contract(
        "--tryon-base-url", url, "--tryon-api-key", MAIN, "--tryon-deadline", "4",
        report_dir=tmp_path,
    )  # fmt: skip
    report = _report(tmp_path)
    assert done.returncode == ExitCode.INCOMPLETE, (
        f"expected exit 2 past the deadline, got {done.returncode}: {done.stdout[-1200:]}"
    )
    assert "deadline of 4 s" in (report["stopped"] or ""), (
        f"expected the report to name the deadline, got {report['stopped']!r}"
    )

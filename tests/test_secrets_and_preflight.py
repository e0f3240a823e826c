"""Keys never escape, above all from a failing run; a user's setup mistake ends the run at once.

Each failing run below uses canary keys and then every byte it wrote is searched for them:
stdout, stderr, everything under the report folder (HTML, JSON, JUnit) and `.hypothesis/`.
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import QUIET
from tryon_suite.clock import RealClock
from tryon_suite.mutants import mutant
from tryon_suite.secret import MASK, Secret, scrub_secrets
from tryon_suite.selftest import contract_process
from tryon_suite.simulator.config import Account
from tryon_suite.simulator.core import Simulator
from tryon_suite.simulator.server import serving

ROOT = Path(__file__).resolve().parent.parent
MAIN = "canary-main-3f9a1c7e5b2d4086"
OTHER = "canary-other-8e1d2c3b4a5f6071"
NO_CREDITS = "canary-none-5a4b3c2d1e0f9182"
CANARIES = (MAIN, OTHER, NO_CREDITS)
ACCOUNTS = (Account(MAIN, 1_000_000), Account(OTHER, 1_000_000), Account(NO_CREDITS, 0))
ALL_KEYS = (
    "--tryon-api-key",
    MAIN,
    "--tryon-other-key",
    OTHER,
    "--tryon-no-credits-key",
    NO_CREDITS,
)


def pytest_contract(*args: str, report_dir: Path, paths: tuple[str, ...] = ("contract",)):
    """`python -m pytest` on the contract suite in a fresh process; the finished process."""
    return contract_process([*args, "--tryon-rate", "200"], report_dir, paths=paths)


def leaks(done: subprocess.CompletedProcess[str], folder: Path, keys=CANARIES) -> list[str]:
    """Where any key shows up: stdout, stderr, any file under `folder` or `.hypothesis/`."""
    found = [
        f"{name}: {key}"
        for name in ("stdout", "stderr")
        for key in keys
        if key in getattr(done, name)
    ]
    for root in (folder, ROOT / ".hypothesis"):
        for path in root.rglob("*") if root.exists() else ():
            if path.is_file():
                data = path.read_bytes()
                found += [f"{path}: {key}" for key in keys if key.encode() in data]
    return found


@pytest.fixture
def canary_server() -> Iterator[Callable[[str | None], str]]:
    """Serves a mutant (or the correct simulator) over HTTP that knows the canary keys."""
    opened = []

    def serve(name: str | None) -> str:
        config = replace(QUIET, accounts=ACCOUNTS)
        core = mutant(name).build(config, RealClock()) if name else Simulator(config, RealClock())
        context = serving(simulator=core)
        url, _ = context.__enter__()
        opened.append(context)
        return url

    yield serve
    for context in opened:
        context.__exit__(None, None, None)


@pytest.mark.parametrize(
    ("name", "path", "what"),
    [
        ("missing_key_answers_403", "contract/test_auth.py", "a must clause failing"),
        ("crashes_on_bad_json", "contract/test_properties.py", "a Hypothesis property failing"),
        ("status_names_another_job", "contract/test_jobs_stateful.py", "a stateful test failing"),
    ],
)
def test_a_failing_run_writes_no_key_anywhere(
    canary_server, tmp_path: Path, name: str, path: str, what: str
) -> None:
    url = canary_server(name)
    done = pytest_contract(
        "--tryon-base-url",
        url,
        *ALL_KEYS,
        "--tryon-allow-burst",
        report_dir=tmp_path,
        paths=(path,),
    )
    assert done.returncode == 1, (
        f"expected {what} to fail the run (exit 1), got {done.returncode}:\n{done.stdout[-1500:]}"
    )
    assert (tmp_path / "junit.xml").exists(), "expected the JUnit XML written, to search it too"
    assert not leaks(done, tmp_path), (
        f"expected no key written after {what}, found {leaks(done, tmp_path)}"
    )


def test_an_unreachable_target_ends_at_once_with_one_line_and_no_key(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = pytest_contract(
        "--tryon-base-url", f"http://127.0.0.1:{port}", *ALL_KEYS, report_dir=tmp_path
    )
    assert done.returncode == 4, f"expected exit 4 (usage error), got {done.returncode}"
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert lines == [
        f"ERROR: tryon preflight: cannot reach http://127.0.0.1:{port} (ConnectError): "
        "check --tryon-base-url and that the service is up"
    ], f"expected one line naming the problem and the fix, got {lines}"
    assert not (tmp_path / "compliance.json").exists(), "expected no report of clause failures"
    assert not leaks(done, tmp_path), "expected no key in the output"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--tryon-api-key", "the key given with --tryon-api-key was refused"),
        ("--tryon-other-key", "the key given with --tryon-other-key was refused"),
        ("--tryon-no-credits-key", "the key given with --tryon-no-credits-key was refused"),
    ],
)
def test_a_key_the_target_refuses_ends_at_once_naming_the_option(
    canary_server, tmp_path: Path, option: str, message: str
) -> None:
    url = canary_server(None)
    wrong = "canary-wrong-0c9d8e7f6a5b4c3d"
    keys = list(ALL_KEYS)
    keys[keys.index(option) + 1] = wrong
    done = pytest_contract("--tryon-base-url", url, *keys, report_dir=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 4, f"expected exit 4, got {done.returncode}: {output[-800:]}"
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {lines}"
    assert message in lines[0], f"expected the line to say {message!r}, got {lines[0]!r}"
    assert not (tmp_path / "compliance.json").exists(), "expected no report of clause failures"
    assert not leaks(done, tmp_path, (*CANARIES, wrong)), "expected no key in the output"


def test_a_key_of_one_letter_leaves_a_styled_report_and_no_key_in_headers(
    canary_server, tmp_path: Path
) -> None:
    config = replace(QUIET, accounts=(Account("x", 1_000_000),))
    with serving(simulator=mutant("missing_key_answers_403").build(config, RealClock())) as (
        url,
        _,
    ):
        done = pytest_contract(
            "--tryon-base-url",
            url,
            "--tryon-api-key",
            "x",
            report_dir=tmp_path,
            paths=("contract/test_auth.py",),
        )
    assert done.returncode == 1, (
        f"expected the broken server to fail the run, got {done.returncode}"
    )
    html = (tmp_path / "compliance.html").read_text()
    assert "<style>" in html, "expected the page's CSS intact"
    assert "px" in html, "expected the CSS's sizes intact (a short key must not rewrite them)"
    report = json.loads((tmp_path / "compliance.json").read_text())
    sent = [
        value
        for clause in report["clauses"]
        for exchange in clause["exchanges"]
        for name, value in exchange["request_headers"].items()
        if name.lower() == "x-api-key"
    ]
    assert sent, "expected failing exchanges with their request headers in the report"
    assert all(value.endswith(MASK) for value in sent), f"expected every key masked, got {sent}"


def test_a_secret_prints_as_its_mask_everywhere() -> None:
    key = Secret(MAIN)
    shown = [repr(key), str(key), f"{key}", f"{key!r}", f"{key}", repr([key]), repr({"k": key})]
    assert all(MAIN not in text for text in shown), f"expected the key masked, got {shown}"
    assert key.reveal() == MAIN, "expected reveal() to give the value for the wire"
    with pytest.raises(TypeError, match="not pickled"):
        __import__("pickle").dumps(key)


def test_scrubbing_a_short_key_masks_only_the_whole_token() -> None:
    text = 'font: 14px; via httpx; {"key": "x", "note": "x y"}'
    assert scrub_secrets(text, [Secret("x")]) == (
        f'font: 14px; via httpx; {{"key": "{MASK}", "note": "{MASK} y"}}'
    ), "expected only the standalone x masked"
    assert scrub_secrets(f"echo {MAIN}!", [MAIN]) == f"echo {MASK}!", "expected a long key masked"


def test_a_failing_load_run_writes_no_key_anywhere(canary_server, tmp_path: Path) -> None:
    from tests.test_load import locust

    url = canary_server(None)
    done = locust(
        tmp_path,
        "-u",
        "2",
        "-r",
        "2",
        "--host",
        url,
        "--tryon-key",
        MAIN,
        "--tryon-min-goodput",
        "1000000",  # a threshold no run meets: the run fails
        seconds=3,
    )
    assert done.returncode == 3, (
        f"expected the broken threshold to fail the run, got {done.returncode}"
    )
    assert not leaks(done, tmp_path), f"expected no key written, found {leaks(done, tmp_path)}"


def test_a_key_the_target_echoes_back_is_masked_where_the_answer_is_read() -> None:
    import httpx

    from tryon_suite.client import TryOnClient

    def echo(request: httpx.Request) -> httpx.Response:
        told = f"key {request.headers['x-api-key']} is not valid"
        return httpx.Response(401, json={"error": told, "error_code": "invalid_auth_token"})

    client = TryOnClient(
        "http://target.test", Secret(MAIN), http=httpx.Client(transport=httpx.MockTransport(echo))
    )
    answer = client.credits()
    assert MAIN not in answer.text, f"expected the echoed key masked in the body, got {answer.text}"
    assert answer.json()["error"] == f"key {MASK} is not valid", f"got {answer.json()}"
    recorded = client.exchanges[-1]
    assert MAIN not in recorded.response_body + recorded.curl, "expected no key in the record"

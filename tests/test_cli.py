"""`tryon-mock` as a user runs it: a real process, a real port, a clean stop."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tryon_suite.cli.mock import main
from tryon_suite.simulator.config import DEMO_KEY, NO_CREDITS_KEY, OTHER_KEY

pytestmark = pytest.mark.slow(19)

COMMAND = [sys.executable, "-m", "tryon_suite.cli.mock"]


def _read_until(proc: subprocess.Popen[str], marker: str, limit: float = 30.0) -> list[str]:
    """Lines up to the one holding `marker`; waits on the pipe, never sleeps."""
    assert proc.stdout is not None
    lines: list[str] = []
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while True:
            if not selector.select(timeout=limit):
                raise AssertionError(f"expected a line with {marker!r} in {limit} s, got {lines}")
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"expected a line with {marker!r}, the process ended: {lines}")
            lines.append(line.rstrip("\n"))
            if marker in line:
                return lines


def _more_lines(proc: subprocess.Popen[str], count: int) -> list[str]:
    assert proc.stdout is not None
    return [proc.stdout.readline().rstrip("\n") for _ in range(count)]


@pytest.fixture
def start() -> Iterator[object]:
    procs: list[subprocess.Popen[str]] = []

    def run(*args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [*COMMAND, *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        procs.append(proc)
        return proc

    yield run
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_it_prints_its_url_and_keys_answers_http_and_stops_cleanly(
    start: object, stop: signal.Signals
) -> None:
    proc = start("--port", "0", "--processing-time", "0")  # type: ignore[operator]
    lines = _read_until(proc, "Listening on")
    url = lines[-1].removeprefix("Listening on ")
    assert url.startswith("http://127.0.0.1:"), f"expected a loopback base URL, got {lines[-1]!r}"
    keys = _more_lines(proc, 3)
    expected = [
        f"Key {DEMO_KEY} (1000000 credits)",
        f"Key {OTHER_KEY} (1000000 credits)",
        f"Key {NO_CREDITS_KEY} (0 credits)",
    ]
    assert keys == expected, f"expected the default keys {expected}, got {keys}"
    response = httpx.get(f"{url}/v1/credits", headers={"X-API-KEY": DEMO_KEY})
    assert response.json() == {"credits": 1_000_000}, f"got {response.status_code} {response.text}"
    proc.send_signal(stop)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, f"expected exit 0 on {stop.name}, got {proc.returncode}: {err}"
    assert "Traceback" not in err, f"expected no traceback on {stop.name}, got {err}"


def test_keys_given_on_the_command_line_are_the_accounts_and_are_not_printed(
    start: object,
) -> None:
    secret = "team-secret-key-0123456789"
    proc = start("--key", f"{secret}:3", "--key", "second-account-key-xyz")  # type: ignore[operator]
    url = _read_until(proc, "Listening on")[-1].removeprefix("Listening on ")
    keys = _more_lines(proc, 2)
    assert keys == ["Key **** (--key 1, 3 credits)", "Key **** (--key 2, 1000 credits)"], (
        f"expected each key masked whole, told apart by its place, got {keys}"
    )
    assert httpx.get(f"{url}/v1/credits", headers={"X-API-KEY": secret}).json() == {"credits": 3}
    refused = httpx.get(f"{url}/v1/credits", headers={"X-API-KEY": DEMO_KEY})
    assert refused.status_code == 401, f"expected defaults gone with --key, got {refused}"
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    assert secret not in out + err, "expected the key never printed, found it in the output"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--limits", "huge"], "expected a limit profile among reference, vendor-2025, got 'huge'"),
        (["--key", "a b"], "expected KEY[:CREDITS] with a non-empty key and no spaces, got 'a b'"),
        (
            ["--key", "k:-3"],
            "expected CREDITS to be a whole number >= 0 in KEY[:CREDITS], got '-3'",
        ),
        (["--fail-rate", "2"], "expected fail_rate between 0 and 1, got 2.0"),
        (["--rate-limit", "-1"], "expected rate_limit >= 0, got -1.0"),
        (["--rate-limit", "nan"], "expected a finite rate_limit, got nan"),
        (["--processing-time", "inf"], "expected a finite processing_time, got inf"),
        (["--port", "99999"], "expected --port between 0 and 65535, got 99999"),
    ],
)
def test_a_bad_option_prints_one_line_and_exits_2(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 4, f"expected exit code 4 (usage) for {args}"
    err = capsys.readouterr().err
    assert err == f"tryon-mock: error: {message}\n", f"expected one line naming it, got {err!r}"


def test_an_unknown_option_prints_one_line_not_the_usage() -> None:
    done = subprocess.run([*COMMAND, "--bogus"], capture_output=True, text=True)
    assert done.returncode == 4, f"expected exit 4 (usage), got {done.returncode}"
    assert done.stderr == "tryon-mock: error: unrecognized arguments: --bogus\n", done.stderr


def test_a_port_in_use_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    from tryon_suite.simulator.server import bind

    with bind("127.0.0.1", 0) as taken:
        port = taken.getsockname()[1]
        assert main(["--port", str(port)]) == 4
    err = capsys.readouterr().err
    assert err.startswith(f"tryon-mock: error: expected to listen on 127.0.0.1:{port}, got: "), (
        f"expected one line naming the port, got {err!r}"
    )
    assert err.count("\n") == 1, f"expected one line, got {err!r}"


def test_the_help_lists_every_option_the_issue_names() -> None:
    out = subprocess.run([*COMMAND, "--help"], capture_output=True, text=True, check=True).stdout
    for option in (
        "--host",
        "--port",
        "--rate-limit",
        "--processing-time",
        "--fail-rate",
        "--limits",
        "--key",
    ):
        assert option in out, f"expected {option} in --help, got:\n{out}"


def test_the_listening_socket_is_tcp_so_answers_are_not_delayed_by_nagle() -> None:
    import socket

    from tryon_suite.simulator.server import bind

    with bind("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP, (
            f"expected proto IPPROTO_TCP (asyncio then sets TCP_NODELAY), got {sock.proto}"
        )


# -- `tryon-suite`: every tool's usage mistakes are exit 4 (ExitCode.USAGE), one line --------

SUITE = [sys.executable, "-m", "tryon_suite.cli"]


def assert_usage_exit(
    tool_main: Callable[[list[str]], object],
    argv: list[str],
    expected: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`tool_main(argv)` ends with argparse's exit 4 and exactly the line `expected`."""
    with pytest.raises(SystemExit) as exited:
        tool_main(argv)
    err = capsys.readouterr().err
    assert (exited.value.code, err) == (4, expected), (
        f"expected exit 4 and {expected!r} for {argv}, got {exited.value.code} and {err!r}"
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "tryon-suite: error: the following arguments are required: COMMAND\n"),
        (["--bogus"], "tryon-suite: error: the following arguments are required: COMMAND\n"),
        (
            ["frob"],
            "tryon-suite: error: argument COMMAND: invalid choice: 'frob' (choose from "
            "'mock', 'selftest', 'mutants', 'fixtures', 'policies', 'limiter', 'diff')\n",
        ),
        (["selftest", "--bogus"], "tryon-suite selftest: error: unrecognized arguments: --bogus\n"),
        (["mutants", "extra"], "tryon-suite mutants: error: unrecognized arguments: extra\n"),
        (["policies", "--bogus"], "tryon-suite policies: error: unrecognized arguments: --bogus\n"),
        (
            ["diff", "a.json"],
            "tryon-suite diff: error: the following arguments are required: new\n",
        ),
        (
            ["limiter", "--budget", "x"],
            "tryon-suite limiter: error: argument --budget: invalid int value: 'x'\n",
        ),
    ],
)
def test_a_bad_option_to_any_tool_is_one_line_and_exit_4(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tryon_suite.cli import main as suite_main

    assert_usage_exit(suite_main, args, expected, capsys)


def test_an_unknown_mutant_is_one_line_and_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    from tryon_suite.cli import main as suite_main

    code = suite_main(["selftest", "no_such_mutant"])
    err = capsys.readouterr().err
    assert (code, err.count("\n")) == (4, 1), f"expected exit 4 and one line, got {code}, {err!r}"
    assert err.startswith("tryon-suite selftest: error: expected a mutant among "), (
        f"expected the line to name the catalogue, got {err!r}"
    )
    assert err.endswith("got 'no_such_mutant'\n"), f"expected the name echoed, got {err!r}"


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            ["policies", "--host", "http://127.0.0.1:9"],
            {"TRYON_API_KEY": "some-key"},
            "tryon-suite policies: cannot reach http://127.0.0.1:9 (ConnectError): check --host "
            "and that the service is up\n",
        ),
        (
            ["policies", "--host", "http://127.0.0.1:9"],
            {"TRYON_API_KEY": "clé"},
            "tryon-suite policies: the key given with TRYON_API_KEY cannot be used: expected an "
            "ASCII key (it travels in the X-API-KEY header), got one with a non-ASCII character\n",
        ),
        (
            ["limiter", "--host", "http://127.0.0.1:9"],
            {"TRYON_API_KEY": "some-key"},
            "tryon-suite limiter: cannot reach http://127.0.0.1:9 (ConnectError): check --host "
            "and that the service is up\n",
        ),
        (["diff", "gone.json", "gone.json"], {}, "tryon-suite diff: error: gone.json: "),
        (["policies", "--bogus"], {}, "tryon-suite policies: error: unrecognized arguments"),
        (
            ["selftest", "--bogus"],
            {},
            "tryon-suite selftest: error: unrecognized arguments: --bogus\n",
        ),
    ],
    ids=[
        "policies-unreachable",
        "policies-non-ascii-key",
        "limiter-unreachable",
        "diff-missing-file",
        "policies-bad-option",
        "selftest-bad-option",
    ],
)
def test_the_command_exits_4_with_one_line_and_no_traceback(
    args: list[str], env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    """As a user runs it: a real process, its real exit status."""
    keyless = {k: v for k, v in os.environ.items() if not k.startswith("TRYON_API_KEY")}
    done = subprocess.run(
        [*SUITE, *args], capture_output=True, text=True, cwd=tmp_path, env={**keyless, **env}
    )
    assert (done.returncode, done.stderr.count("\n")) == (4, 1), (
        f"expected exit 4 and one line for {args}, got {done.returncode} and {done.stderr!r}"
    )
    assert done.stderr.startswith(expected), f"expected {expected!r}, got {done.stderr!r}"
    assert done.stdout == "", f"expected nothing on stdout, got {done.stdout!r}"

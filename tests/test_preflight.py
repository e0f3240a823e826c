"""Preflight: before the first check, a live target that cannot be reached, or a key it
refuses, ends the run at once with one line naming the problem, exit 4, and no key anywhere.

(Beside tests/test_secrets_and_preflight.py, so `--dist loadfile` runs the two at once.)"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.canaries import (
    ALL_KEYS,
    CANARIES,
    leaks,
    pytest_contract,
)

pytestmark = pytest.mark.slow(10)


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


def test_a_funded_key_given_as_the_no_credits_key_ends_at_once(
    canary_server, tmp_path: Path
) -> None:
    """Its refusals (403) would never come: each no-credit check would spend a credit."""
    url = canary_server(None)
    keys = list(ALL_KEYS)
    keys[keys.index("--tryon-no-credits-key") + 1] = keys[keys.index("--tryon-other-key") + 1]
    done = pytest_contract("--tryon-base-url", url, *keys, report_dir=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 4, f"expected exit 4, got {done.returncode}: {output[-800:]}"
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got {lines}"
    wanted = "the key given with --tryon-no-credits-key has credits"
    assert wanted in lines[0], f"expected the line to say {wanted!r}, got {lines[0]!r}"
    assert not leaks(done, tmp_path), "expected no key in the output"

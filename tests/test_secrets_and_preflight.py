"""Keys never escape, above all from a failing run; a user's setup mistake ends the run at once.

Each failing run below uses canary keys and then every byte it wrote is searched for them:
stdout, stderr, everything under the report folder (HTML, JSON, JUnit) and `.hypothesis/`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.canaries import ALL_KEYS, MAIN, leaks, pytest_contract
from tests.conftest import QUIET
from tryon_suite.http.clock import RealClock
from tryon_suite.http.secret import MASK, Secret, mask
from tryon_suite.mutants import mutant
from tryon_suite.simulator.config import Account
from tryon_suite.simulator.server import serving

pytestmark = pytest.mark.slow(35)


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


def test_a_short_key_is_masked_only_where_a_whole_value_is_it() -> None:
    text = 'font: 14px; via httpx; {"key": "x", "note": "x y"}'
    got = mask(text, [Secret("x")])
    expected = f'font: 14px; via httpx; {{"key": "{MASK}", "note": "x y"}}'
    assert got == expected, (
        f"expected only the value that is the key masked, {expected!r}, got {got!r}"
    )
    assert mask(f"echo {MAIN}!", [MAIN]) == f"echo {MASK}!", "expected a long key masked"


def test_a_key_the_target_echoes_back_is_judged_as_it_came_and_masked_in_the_record() -> None:
    import httpx

    from tryon_suite.http.client import TryOnClient

    def echo(request: httpx.Request) -> httpx.Response:
        told = f"key {request.headers['x-api-key']} is not valid"
        return httpx.Response(401, json={"error": told, "error_code": "invalid_auth_token"})

    client = TryOnClient("http://target.test", Secret(MAIN), transport=httpx.MockTransport(echo))
    answer = client.credits()
    said = f"key {MAIN} is not valid"
    assert answer.json()["error"] == said, f"expected the answer as it came, got {answer.json()}"
    recorded = client.exchanges[-1]
    assert recorded.response_body == answer.text, "expected the record to hold the raw body"
    shown = repr(recorded) + recorded.masked().response_body + recorded.masked().curl
    assert MAIN not in shown, f"expected no key in the record's repr or output, got {shown}"

"""Verdicts are made on what really came back; keys are masked only where bytes leave the
process (report, console, JUnit, pytest's output), by exact value, never as a prefix.

The masking rule is `tryon_suite.http.secret.mask`: a key of 8 characters or more is masked
wherever it occurs (raw, JSON-escaped, HTML-escaped, percent-encoded); a shorter one only where
a whole value is it, so `/v1/try-on` and `application/json` survive the keys `v1` and `json`.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.canaries import leaks, pytest_contract
from tests.conftest import QUIET
from tryon_suite.http.client import TryOnClient
from tryon_suite.http.clock import RealClock
from tryon_suite.http.redact import redact, redact_headers
from tryon_suite.http.secret import MASK, Secret, mask
from tryon_suite.mutants import mutant
from tryon_suite.mutants._kit import Build, body, filtered
from tryon_suite.simulator.config import Account
from tryon_suite.simulator.core import Simulator
from tryon_suite.simulator.messages import SimRequest, SimResponse
from tryon_suite.simulator.server import serving

#: Long keys whose first four characters (`k_Q-`...) are in no base64 image or ordinary word,
#: so a prefix found in a report is a leak, not a coincidence.
MAIN = "k_Q-main-7c1e9a5d3b2f4068"
OTHER = "k_W-other-2d8b6f0a4c1e9357"
NO_CREDITS = "k_Z-none-9e3a1c5b7d2f0864"
LONG_KEYS = (MAIN, OTHER, NO_CREDITS)
#: The contract files a run here covers: every kind of answer, refusals and successes.
COVERED = (
    "contract/test_auth.py",
    "contract/test_errors.py",
    "contract/test_success.py",
    "contract/test_polling.py",
)
#: The quiet simulator has no rate limit: its burst check fails whatever the key.
NO_BURST = ("-k", "not burst_past_the_rate_limit")

pytestmark = pytest.mark.slow(58)


# -- the rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("application/json", "json", "application/json"),
        ('{"key": "json"}', "json", f'{{"key": "{MASK}"}}'),
        ('["v1", "v10"]', "v1", f'["{MASK}", "v10"]'),
        ("GET /v1/try-on/job/j1 -> 401", "v1", "GET /v1/try-on/job/j1 -> 401"),
        ("font: 14px; via httpx", "px", "font: 14px; via httpx"),
        ("a garment and a person", "a", "a garment and a person"),
        ("json", "json", MASK),
        (
            "https://t.test/v1/credits?key=v1&v=v1x",
            "v1",
            f"https://t.test/v1/credits?key={MASK}&v=v1x",
        ),
        ("X-Echo: px\r\nX-Size: 14px", "px", f"X-Echo: {MASK}\r\nX-Size: 14px"),
        ("garment_mode = 'a'\nmode = 'auto'", "a", f"garment_mode = '{MASK}'\nmode = 'auto'"),
        (f"the key {MAIN} is not valid", MAIN, f"the key {MASK} is not valid"),
        (f"token={MAIN}&x=1", MAIN, f"token={MASK}&x=1"),
    ],
)
def test_the_mask_hides_a_key_by_exact_value_without_corrupting_the_text(
    text: str, key: str, expected: str
) -> None:
    got = mask(text, [Secret(key)])
    assert got == expected, f"expected {text!r} with key {key!r} shown as {expected!r}, got {got!r}"


def test_a_long_key_is_masked_in_each_encoding_it_could_be_written_in() -> None:
    key = 'k_Q-odd/"key"&<9>+z'
    forms = {
        "raw": key,
        "JSON-escaped": json.dumps(key)[1:-1],
        "HTML-escaped": "k_Q-odd/&quot;key&quot;&amp;&lt;9&gt;+z",
        "percent-encoded": "k_Q-odd%2F%22key%22%26%3C9%3E%2Bz",
    }
    for name, form in forms.items():
        got = mask(f"before {form} after", [key])
        expected = f"before {MASK} after"
        assert got == expected, f"expected the {name} key masked as {expected!r}, got {got!r}"


def test_a_piece_of_a_long_key_left_by_a_cut_is_masked() -> None:
    cut = f"the body said {MAIN}"[:20]
    tail = f"{MAIN} rest"[10:]
    got = [mask(cut, [MAIN]), mask(f"{cut}...\nnext", [MAIN]), mask(tail, [MAIN])]
    expected = [f"the body said {MASK}", f"the body said {MASK}...\nnext", f"{MASK} rest"]
    assert got == expected, f"expected no piece of the key left, {expected}, got {got}"


def test_a_key_is_always_shown_as_the_mask_never_a_prefix() -> None:
    shown = [redact(k) for k in (*LONG_KEYS, "v1", "a")]
    assert shown == [MASK] * 5, f"expected every key shown as {MASK}, got {shown}"
    headers = redact_headers({"X-API-KEY": MAIN, "Authorization": "Bearer t", "Accept": "*/*"})
    expected = {"X-API-KEY": MASK, "Authorization": MASK, "Accept": "*/*"}
    assert headers == expected, f"expected {expected}, got {headers}"


# -- raw for the verdict, masked in the repr -------------------------------------------------


def test_an_echoed_key_is_kept_for_the_verdict_and_masked_in_the_exchange_repr() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        told = f"key {request.headers['x-api-key']} is not valid"
        return httpx.Response(
            401,
            headers={"x-echo": request.headers["x-api-key"]},
            json={"error": told, "error_code": "invalid_auth_token"},
        )

    client = TryOnClient("http://target.test", Secret(MAIN), transport=httpx.MockTransport(echo))
    answer = client.credits()
    client.close()
    exchange = client.exchanges[-1]
    said = f"key {MAIN} is not valid"
    assert answer.json()["error"] == said, f"expected the answer as it came, got {answer.text}"
    assert said in exchange.response_body, f"expected the raw body, got {exchange.response_body}"
    assert exchange.response_headers["x-echo"] == MAIN, "expected the raw response headers"
    assert exchange.request_headers["x-api-key"] == MASK, (
        f"expected the sent key header replaced by name, got {exchange.request_headers}"
    )
    shown = repr(exchange) + repr(exchange.masked())
    assert MAIN[:4] not in shown, f"expected a masked repr (no key, no prefix), got {shown}"
    assert "/v1/credits" in shown, f"expected the rest of the exchange shown, got {shown}"


# -- whole runs ------------------------------------------------------------------------------


def _run(
    folder: Path, main: str, other: str, build: Build | None = None, *args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """The covered contract files against the simulator (or a mutant's `build`) over HTTP,
    whose accounts are the given keys; the finished process and its compliance.json."""
    accounts = (Account(main, 1_000_000), Account(other, 1_000_000), Account(NO_CREDITS, 0))
    config = replace(QUIET, accounts=accounts)
    core = (build or Simulator)(config, RealClock())
    with serving(simulator=core) as (url, _):
        done = pytest_contract(
            "--tryon-base-url",
            url,
            *("--tryon-api-key", main, "--tryon-other-key", other),
            *("--tryon-no-credits-key", NO_CREDITS, "--tryon-allow-burst"),
            *args,
            report_dir=folder,
            paths=COVERED,
        )
    report = folder / "compliance.json"
    assert report.exists(), f"expected a report, got none:\n{done.stdout[-2000:]}"
    return done, json.loads(report.read_text())


def _statuses(report: dict[str, Any]) -> dict[str, str]:
    return {clause["id"]: clause["status"] for clause in report["clauses"]}


def test_a_correct_simulator_gets_the_same_verdicts_whatever_its_keys(tmp_path: Path) -> None:
    _, baseline = _run(tmp_path / "long", MAIN, OTHER, None, *NO_BURST)
    expected = _statuses(baseline)
    assert "fails" not in expected.values(), f"expected a passing baseline, got {expected}"
    for main, other in (("json", OTHER), ("px", OTHER), (MAIN, "v1"), (MAIN, "a")):
        _, report = _run(tmp_path / f"{main}-{other}", main, other, None, *NO_BURST)
        got = _statuses(report)
        moved = {c: f"{expected.get(c)} -> {s}" for c, s in got.items() if expected.get(c) != s}
        assert not moved, (
            f"expected the clause statuses of the long keys with --tryon-api-key {main} "
            f"--tryon-other-key {other}, got these moved: {moved}"
        )


def test_errors_labelled_html_fail_json_answers_with_v1_as_the_other_key(tmp_path: Path) -> None:
    _, report = _run(tmp_path, MAIN, "v1", mutant("errors_labelled_text_html").build, *NO_BURST)
    got = _statuses(report).get("tryon.content_type.json_answers")
    assert got == "fails", (
        f"expected tryon.content_type.json_answers to fail on text/html errors with "
        f"--tryon-other-key v1, got {got!r}"
    )


def _echo_keys(request: SimRequest, response: SimResponse) -> SimResponse:
    """A server that tells every caller its key: in each error's body and code, in a header,
    and in the Location of each job (so the polls carry it in their URL too)."""
    key = request.headers.get("x-api-key", "")
    headers = {**response.headers, "x-echo-key": key}
    payload = body(response)
    if isinstance(payload, dict) and response.status >= 400:
        payload = {
            **payload,
            "error": f"{payload.get('error')} (you sent {key})",
            "error_code": f"{payload.get('error_code')}:{key}",
            "api_key": key,
        }
        return SimResponse(response.status, headers, json.dumps(payload).encode())
    if "location" in headers:
        headers["location"] = f"{headers['location']}?api_key={key}"
    return SimResponse(response.status, headers, response.body)


def test_a_failing_run_of_a_server_echoing_keys_writes_no_key_nor_prefix(tmp_path: Path) -> None:
    done, _ = _run(tmp_path, MAIN, OTHER, filtered(_echo_keys))
    assert done.returncode == 1, f"expected a failing run (exit 1), got {done.returncode}"
    assert (tmp_path / "junit.xml").exists(), "expected the JUnit XML written, to search it too"
    html = (tmp_path / "compliance.html").read_text()
    assert f"you sent {MASK}" in html, "expected the echoed key in the report, masked"
    pieces = tuple(piece for key in LONG_KEYS for piece in (key, key[:4]))
    found = leaks(done, tmp_path, keys=pieces)
    assert not found, f"expected no key and no 4-character prefix of one written, found {found}"

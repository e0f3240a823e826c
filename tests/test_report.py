"""The compliance report: real HTML, checked in a real browser (Debian's Chromium)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tryon_suite.clauses import catalogue
from tryon_suite.client import Exchange
from tryon_suite.images import render_image
from tryon_suite.report import write_report
from tryon_suite.results import CheckOutcome, RunResults

CHROMIUM = "/usr/bin/chromium"
SECRET = "report-secret-key-1234567890"


def _results() -> RunResults:
    person = render_image(300, 400, "JPEG")
    exchange = Exchange(
        method="POST",
        url="https://api.example.test/v1/try-on",
        request_headers={"x-api-key": "repo****", "content-type": "multipart/form-data"},
        request_body="multipart/form-data parts:\nperson_image = file 'p.jpg' (image/jpeg)",
        request_images=[("person_image", person)],
        status=403,
        response_headers={"content-type": "application/json"},
        response_body=f'{{"error":"no credits for {SECRET}","error_code":"insufficient"}}',
        response_image=None,
        elapsed=0.012,
    )
    failing = CheckOutcome(
        "contract/test_auth.py::test_a_try_on_without_a_key_gets_401",
        ("tryon.401.missing_key",),
        "failed",
        "[tryon.401.missing_key] expected 401 with error_code invalid_auth_token, got 403",
        [exchange],
    )
    passing = CheckOutcome("contract/test_x.py::test_y", ("tryon.401.wrong_key",), "passed")
    skipped = CheckOutcome(
        "contract/test_z.py::test_w",
        ("tryon.403.insufficient_api_credits",),
        "not checked",
        "needs a valid key with no credits (--tryon-no-credits-key)",
    )
    results = RunResults(
        "https://api.example.test",
        1_700_000_000.0,
        1_700_000_042.0,
        "reference",
        17,
        500,
        [failing, passing, skipped],
    )
    results.observe("tryon.open.location_form", "relative, e.g. /v1/try-on/job/{job_id}")
    return results


@pytest.fixture
def written(tmp_path: Path) -> Path:
    write_report(_results(), tmp_path, (SECRET,))
    return tmp_path


def test_the_json_report_holds_totals_failures_first_and_no_key(written: Path) -> None:
    text = (written / "compliance.json").read_text()
    assert SECRET not in text, "expected the key scrubbed from the JSON report"
    data = json.loads(text)
    assert data["verdict"] == "fail", f"expected a failing verdict, got {data['verdict']}"
    assert data["clauses"][0]["id"] == "tryon.401.missing_key", "expected failures first"
    assert data["totals"]["fails"] == 1, f"got totals {data['totals']}"
    assert len(data["clauses"]) == len(catalogue()), "expected every clause in the table"
    assert data["requests"] == 17, f"expected the request count, got {data['requests']}"


def test_the_html_report_is_self_contained(written: Path) -> None:
    html = (written / "compliance.html").read_text()
    assert SECRET not in html, "expected the key scrubbed from the HTML report"
    for outside in ('src="http', 'href="http', "<script src", '<link rel="stylesheet"'):
        assert outside not in html, f"expected nothing loaded from elsewhere, found {outside!r}"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("TRYON_REQUIRE_BROWSER"):
            pytest.fail(f"expected Chromium at {CHROMIUM} (apt-get install chromium), found none")
        pytest.skip(f"not checked: no Chromium at {CHROMIUM} (.ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=shutil.which("chromium") or CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield launched
        launched.close()


def test_the_report_renders_in_chromium_with_its_table_and_failure_details(
    written: Path, browser: object
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((written / "compliance.html").as_uri())
    assert "compliance" in page.title().lower(), f"expected a titled page, got {page.title()!r}"
    rows = page.locator("#clauses tbody tr")
    assert rows.count() == len(catalogue()), f"expected one row a clause, got {rows.count()}"
    first = rows.first
    assert first.locator(".status").inner_text() == "fails", "expected the failure first"
    reason = first.locator("details.failure pre").first
    assert not reason.is_visible(), "expected the failure details closed at first"
    first.locator("details.failure summary").click()
    assert reason.is_visible(), "expected the failure details to open on a click"
    assert "got 403" in reason.inner_text(), f"got {reason.inner_text()!r}"
    thumb = first.locator("img.thumb").first
    width = thumb.evaluate("img => img.naturalWidth")
    assert width > 0, f"expected the request image thumbnail to load, got width {width}"
    observed = page.locator("#open-points").inner_text()
    assert "relative, e.g." in observed, f"expected the open point observed, got {observed[:200]!r}"
    assert page.locator("#totals").inner_text().count("\n") >= 3, "expected the four totals"
    assert not errors, f"expected no script errors, got {errors}"


def test_a_kill_matrix_beside_the_report_becomes_its_last_section(tmp_path: Path) -> None:
    from tryon_suite.selftest import KillResult, write_matrix

    rows = [
        KillResult("(correct simulator)", "no deviation", [], [], "in process", False, False),
        KillResult(
            "location_missing",
            "202 without Location",
            ["tryon.202.location"],
            [],
            "in process",
            True,
            True,
            ["tryon.202.location"],
            ["test_x"],
        ),
    ]
    write_matrix(rows, tmp_path)
    write_report(_results(), tmp_path, ())
    html = (tmp_path / "compliance.html").read_text()
    assert 'id="selftest"' in html, "expected the kill matrix section in the compliance report"
    assert "1 of 1 mutant runs" in " ".join(html.split()), "expected the kill count stated"
    assert (tmp_path / "selftest.html").exists(), "expected the matrix page itself"

"""The compliance report: real HTML, checked in a real browser (Debian's Chromium)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest

from tryon_suite.http.client import Stack, TryOnClient, TryOnRequest
from tryon_suite.spec.clauses import catalogue
from tryon_suite.spec.images import render_image
from tryon_suite.suite.evidence import Evidence
from tryon_suite.suite.report import write_report
from tryon_suite.suite.results import (
    STATUS_ORDER,
    CheckOutcome,
    CreditsSpent,
    RunResults,
    thumbnail,
)

SECRET = "report-secret-key-1234567890"
BASE = "https://api.example.test"

FAILING = "tryon.error.code_fits_status"
HOLDING = "tryon.credits.balance_endpoint"
SKIPPED = "tryon.403.insufficient_api_credits"
NOT_RUN = "tryon.job.forward_only"
OPEN_POINT = "tryon.open.location_form"
SIMPLE = "contract/test_errors.py::test_a_try_on_without_credits_names_its_code"
NOISY = "contract/test_jobs_stateful.py::test_jobs_behave_under_any_sequence"
PERSON = render_image(300, 400, "JPEG")

RunFactory = Callable[[str], RunResults]


def _answer(request: httpx.Request) -> httpx.Response:
    """A target that echoes the key it was given (in a header and in the body): the worst case
    for a report that must not show it."""
    key = request.headers.get("x-api-key", "")
    if request.url.path == "/v1/credits":
        return httpx.Response(200, json={"credits": 3})
    return httpx.Response(
        403,
        headers={"x-echo": key, "server": "sim (httpx)"},
        json={"error": f"no credits for {key} via httpx", "error_code": "forbidden"},
    )


@pytest.fixture
def run_factory() -> Iterator[RunFactory]:
    """Results of a run with the given key, its exchanges recorded raw by the real client (the
    report masks the keys they carry), every status represented."""
    clients: list[TryOnClient] = []

    def build(key: str) -> RunResults:
        client = TryOnClient(
            BASE, key, transport=Stack(httpx.MockTransport(_answer), sleep=lambda _: None)
        )
        clients.append(client)
        body = TryOnRequest.multipart(
            {"person_image": ("person.jpg", PERSON, "image/jpeg")},
            garment_image_url="https://images.example.test/shirt.jpg",
        )
        expected, received = "an error_code documented for 403", "error_code 'forbidden'"
        client.credits()
        client.try_on(body)
        client.try_on(TryOnRequest.json(person_image_url="https://a.test/p.jpg"))
        noisy_credits, noisy_first, noisy_last = client.exchanges
        client.try_on(body)
        simple_exchange = client.exchanges[-1]
        noisy = CheckOutcome(
            NOISY,
            (FAILING,),
            "failed",
            f"[{FAILING}] expected {expected}, got {received}",
            [noisy_credits, noisy_first, noisy_last],
            FAILING,
            [
                Evidence(HOLDING, "held", "a JSON balance", "200", noisy_credits),
                Evidence(FAILING, "failed", expected, received, noisy_last),
            ],
        )
        simple = CheckOutcome(
            SIMPLE,
            (FAILING,),
            "failed",
            f"[{FAILING}] expected {expected}, got {received}",
            [simple_exchange],
            FAILING,
            [Evidence(FAILING, "failed", expected, received, simple_exchange)],
        )
        held = [
            Evidence(HOLDING, "held", f"a JSON balance (call {n})", "200", noisy_credits)
            for n in range(7)
        ]
        balance = CheckOutcome(
            "contract/test_success.py::test_credits",
            (HOLDING,),
            "passed",
            evidence=held,
            paid=frozenset({id(noisy_credits)}),
        )
        skipped = CheckOutcome(
            "contract/test_auth.py::test_no_credits",
            (SKIPPED,),
            "not checked",
            "needs a valid key with no credits (--tryon-no-credits-key)",
        )
        looked = CheckOutcome(
            "contract/test_success.py::test_location",
            (OPEN_POINT,),
            "passed",
            evidence=[Evidence(OPEN_POINT, "observed", "", "relative", noisy_first)],
        )
        # one part of a limit's claim seen, the rest not: "partly checked", never "holds"
        partly = CheckOutcome(
            "contract/test_success.py::test_at_the_limits",
            ("tryon.limits.min_resolution",),
            "passed",
            evidence=[
                Evidence(
                    "tryon.limits.min_resolution",
                    "held",
                    "200 for an image at the minimum",
                    "200",
                    noisy_first,
                    part="accepted at the limit",
                )
            ],
        )
        results = RunResults(
            BASE, 1_700_000_000.0, 1_700_000_042.0, "reference", 17, 500,
            [noisy, simple, balance, skipped, looked, partly],
            credits=CreditsSpent(counted=3, budget=5, before=100.0, after=97.0),
        )  # fmt: skip
        results.observe(OPEN_POINT, "relative, e.g. /v1/try-on/job/{job_id}")
        results.not_run[NOT_RUN] = f"not run: the run stopped at a failure of {FAILING} (-x)"
        return results

    yield build
    for client in clients:
        client.close()


@pytest.fixture
def written(tmp_path: Path, run_factory: RunFactory) -> Path:
    write_report(run_factory(SECRET), tmp_path)
    return tmp_path


@pytest.fixture
def html(written: Path) -> str:
    return (written / "compliance.html").read_text()


def _section(html: str, section_id: str) -> str:
    """The HTML of one <section> of the page."""
    start = html.index(f'<section id="{section_id}"')
    return html[start : html.index("</section>", start)]


def _ids(fragment: str) -> list[str]:
    return re.findall(r'class="clause[^"]*" id="([^"]+)"', fragment)


def test_the_json_report_holds_totals_failures_first_and_no_key(written: Path) -> None:
    text = (written / "compliance.json").read_text()
    assert SECRET not in text, "expected the key masked in the JSON report"
    data = json.loads(text)
    assert data["verdict"] == "fail", f"expected a failing verdict, got {data['verdict']}"
    assert data["clauses"][0]["id"] == FAILING, "expected failures first"
    assert data["totals"]["fails"] == 1, f"got totals {data['totals']}"
    assert len(data["clauses"]) == len(catalogue()), "expected every clause in the table"
    assert data["requests"] == 17, f"expected the request count, got {data['requests']}"


def test_no_byte_the_report_writes_holds_the_key(written: Path) -> None:
    """The target echoed the key in a header and its body: the client masked it at the source."""
    for path in written.iterdir():
        assert SECRET.encode() not in path.read_bytes(), f"expected no key in {path.name}"


def test_the_html_report_is_self_contained(html: str) -> None:
    for outside in ('src="http', 'href="http', "<script src", '<link rel="stylesheet"'):
        assert outside not in html, f"expected nothing loaded from elsewhere, found {outside!r}"


def test_the_report_shows_a_total_and_rows_for_every_status(html: str) -> None:
    totals = _section(html.replace("<header>", '<section id="header">'), "header")
    for status in STATUS_ORDER:
        assert f'data-total="{status}"' in totals, f"expected a total for {status!r}"
        assert f'data-status="{status}"' in html, f"expected a clause shown as {status!r}"


def test_failures_come_first(html: str) -> None:
    rows = re.findall(r'<tbody class="clause[^"]*" id="([^"]+)" data-status="([^"]+)"', html)
    assert rows[0] == (FAILING, "fails"), f"expected the failure first, got {rows[:2]}"


def test_a_failure_leads_with_the_exchange_of_its_simplest_failing_test_and_its_curl(
    html: str,
) -> None:
    failure = html[html.index('<tr class="failure">') :]
    decisive = failure[: failure.index("</tr>")]
    assert "decisive exchange, from" in decisive, "expected the decisive exchange to lead"
    assert SIMPLE.split("::")[-1] in decisive, "expected the simplest failing test to lead"
    assert "the simplest of 2 failing tests" in decisive, "expected the other test counted"
    expected = "expected an error_code documented for 403, "
    line = f'{expected}<span class="got">got error_code &#39;forbidden&#39;</span>'
    assert line in html, "expected what was expected and what came back on one line"
    found = re.search(r'<pre class="curl">(.*?)</pre>', decisive, re.S)
    assert found, "expected the curl command in a <pre> of its own"
    curl = unescape(found.group(1))
    assert curl.startswith("curl -sS -i -X POST https://api.example.test/v1/try-on "), curl
    assert ' -H "x-api-key: $TRYON_API_KEY" ' in curl, f"expected the key variable, got {curl}"
    request = decisive[decisive.index('class="request"') : decisive.index('class="response"')]
    assert "x-api-key: ****\n" in request, "expected the key header shown as ****, no prefix"
    for noise in ("host:", "content-length:", "accept-encoding:", "user-agent:", "connection:"):
        assert noise not in request.lower(), f"expected no transport header {noise!r}"
    assert 'class="thumb" alt="person_image"' in decisive, "expected the image thumbnail"
    assert "403" in decisive[decisive.index('class="response"') :], "expected the response"


def test_checked_by_and_evidence_collapse_to_counts(html: str) -> None:
    row = html[html.index(f'id="{HOLDING}"') :]
    row = row[: row.index("</tbody>")]
    checked_by = row[row.index('<details class="checked-by">') :]
    assert "<summary>2 tests &middot; 1 credit</summary>" in checked_by, (
        "expected 'checked by' as a count, with its credit"
    )
    assert "<summary>evidence: 8 assertions</summary>" in row, "expected evidence counted"
    assert "3 more" in row, "expected the evidence not listed counted as more"


def test_the_filter_controls_exist_and_hide_without_javascript(html: str) -> None:
    boxes = re.findall(
        r'<input type="checkbox" class="filter filter-control" value="([^"]+)"', html
    )
    assert boxes == list(STATUS_ORDER), f"expected a filter box per status, got {boxes}"
    assert 'data-show="fails,partly checked,not checked,not run"' in html, (
        "expected a 'needs action' button"
    )
    assert "<noscript><style>.filter-control { display: none" in html, "expected no dead controls"


def test_open_points_appear_once_in_their_own_section(html: str) -> None:
    open_points = _ids(_section(html, "open-points-section"))
    observe = [c.id for c in catalogue() if c.level == "observe"]
    assert sorted(open_points) == sorted(observe), "expected every open point in its section"
    assert not set(observe) & set(_ids(_section(html, "clauses-section"))), "expected them once"
    assert html.count(f'id="{OPEN_POINT}"') == 1, "expected the open point shown once"
    assert "relative, e.g. /v1/try-on/job/{job_id}" in html, "expected what was observed"


def test_clauses_not_checkable_are_listed_apart_from_not_checked(html: str) -> None:
    apart = _ids(_section(html, "not-checkable-section"))
    expected = [c.id for c in catalogue() if not c.checkable and c.level != "observe"]
    assert sorted(apart) == sorted(expected), f"expected {expected}, got {apart}"
    assert not set(apart) & set(_ids(_section(html, "clauses-section"))), "expected them apart"


def test_a_not_run_clause_shows_why(html: str) -> None:
    row = html[html.index(f'id="{NOT_RUN}"') :]
    row = row[: row.index("</tbody>")]
    assert 'data-status="not run"' in row, "expected the clause shown as not run"
    assert f"stopped at a failure of {FAILING} (-x)" in row, "expected the reason shown"


def test_a_one_letter_key_leaves_the_page_intact(tmp_path: Path, run_factory: RunFactory) -> None:
    write_report(run_factory("x"), tmp_path)
    html = (tmp_path / "compliance.html").read_text()
    assert "body { font: 14px/1.45 system-ui" in html, "expected the CSS intact"
    # a one-letter key is masked where a whole value is it, never inside free text
    assert "no credits for x via httpx" in html, "expected the free text of the body intact"
    assert "x-echo: ****" in html, "expected the echoed key masked in the response headers"
    assert "x-echo: x\n" not in html, "expected no key in the response headers"
    thumb = thumbnail(PERSON)
    assert thumb is not None
    assert thumb in html, "expected the thumbnail intact"
    data = json.loads((tmp_path / "compliance.json").read_text())
    assert data["clauses"][0]["exchanges"][0]["response_headers"]["x-echo"] == "****"


def test_the_report_renders_in_chromium_led_by_its_failure(written: Path, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((written / "compliance.html").as_uri())
    assert "compliance" in page.title().lower(), f"expected a titled page, got {page.title()!r}"
    clauses = page.locator("#clauses tbody.clause")
    first = clauses.first
    assert first.locator(".status").inner_text() == "fails", "expected the failure first"
    decisive = first.locator(".decisive")
    assert decisive.is_visible(), "expected the decisive exchange shown without a click"
    assert "$TRYON_API_KEY" in decisive.locator("pre.curl").inner_text()
    thumb = decisive.locator("img.thumb").first
    width = thumb.evaluate("img => img.naturalWidth")
    assert width > 0, f"expected the request image thumbnail to load, got width {width}"
    observed = page.locator("#open-points").inner_text()
    assert "relative, e.g." in observed, f"expected the open point observed, got {observed[:200]!r}"
    spent = page.locator("#credits").inner_text()
    expected = (
        "3 credits spent (balance 100 before, 97 after; 3 successes counted) of a budget of 5"
    )
    assert spent == expected, f"expected the header to say {expected!r}, got {spent!r}"
    summary = page.locator(f'[id="{HOLDING}"] details.checked-by summary').inner_text()
    assert summary.endswith("1 credit"), f"expected the clause's credit shown, got {summary!r}"
    assert not errors, f"expected no script errors, got {errors}"


def test_checked_by_expands_in_chromium(written: Path, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto((written / "compliance.html").as_uri())
    checked_by = page.locator(f'[id="{FAILING}"] details.checked-by')
    listed = checked_by.locator("li").first
    assert not listed.is_visible(), "expected 'checked by' collapsed at first"
    checked_by.locator("summary").click()
    assert listed.is_visible(), "expected 'checked by' to expand on a click"
    assert "failed" in checked_by.inner_text(), "expected each test's outcome listed"


def test_the_status_filter_hides_and_shows_clauses_in_chromium(
    written: Path, browser: object
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((written / "compliance.html").as_uri())
    holding = page.locator(f'[id="{HOLDING}"]')
    failing = page.locator(f'[id="{FAILING}"]')
    assert holding.is_visible(), "expected everything shown at first"
    assert failing.is_visible(), "expected everything shown at first"
    page.locator('input.filter[value="holds"]').uncheck()
    assert not holding.is_visible(), "expected unticking 'holds' to hide a clause that holds"
    assert failing.is_visible(), "expected the failure still shown"
    page.get_by_role("button", name="needs action").click()
    assert not page.locator(f'[id="{OPEN_POINT}"]').is_visible(), "expected open points hidden"
    assert page.locator(f'[id="{NOT_RUN}"]').is_visible(), "expected 'not run' kept"
    assert page.locator("#not-checkable-section p.empty").is_visible(), "expected a note"
    page.get_by_role("button", name="everything").click()
    assert holding.is_visible(), "expected 'everything' to show what holds again"
    assert page.locator(f'[id="{OPEN_POINT}"]').is_visible(), "expected open points again"
    assert not errors, f"expected no script errors, got {errors}"


def test_without_javascript_every_clause_shows_and_no_filter(
    written: Path, browser: object
) -> None:
    context = browser.new_context(java_script_enabled=False)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto((written / "compliance.html").as_uri())
    rows = page.locator(".clause[data-status]")
    visible = sum(rows.nth(i).is_visible() for i in range(rows.count()))
    assert visible == len(catalogue()), f"expected every clause shown, got {visible}"
    assert not page.locator("#filter").is_visible(), "expected the filter hidden without JS"
    context.close()


def test_a_kill_matrix_given_to_the_report_becomes_its_last_section(
    tmp_path: Path, run_factory: RunFactory
) -> None:
    from tryon_suite.selftest.run import KillResult, write_matrix

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
    paths = write_matrix(rows, tmp_path)
    write_report(run_factory(SECRET), tmp_path / "plain")
    plain = (tmp_path / "plain" / "compliance.html").read_text()
    assert 'id="selftest"' not in plain, "expected no matrix in a report that was given none"
    write_report(run_factory(SECRET), tmp_path, json.loads(paths[1].read_text()))
    html = (tmp_path / "compliance.html").read_text()
    assert 'id="selftest"' in html, "expected the kill matrix section in the compliance report"
    assert "1 of 1 mutant runs" in " ".join(html.split()), "expected the kill count stated"
    assert (tmp_path / "selftest.html").exists(), "expected the matrix page itself"


def _load_run(folder: Path) -> Path:
    """A load report from measures made up to be read: sync and polling over 20 s, a fifth of
    the polling try-ons without a result, a 429 every other second."""
    from tryon_suite.load.console import verdict
    from tryon_suite.load.metrics import RESULT, LoadMetrics
    from tryon_suite.load.report import write_load_report
    from tryon_suite.load.summary import DEFAULT_THRESHOLDS, summarise

    metrics = LoadMetrics()
    for second in range(20):
        now = 1000.0 + second
        metrics.users(4, now)
        for mode, ttr in (("sync", 2.0 + second / 20), ("polling", 3.0 + second / 10)):
            metrics.try_on_started(mode, now)
            metrics.request(f"POST /v1/try-on ({mode})", False, now)
            if mode == "sync" or second % 5:
                metrics.try_on_ended(mode, now + 0.5, ttr, RESULT)
            else:
                metrics.try_on_ended(mode, now + 0.5, ttr, "429, retries given up")
        if second % 2:
            metrics.answer("POST /v1/try-on (sync)", 429, "1", None, "retry-after", now)
    summary = summarise(metrics, 20.0)
    checks = DEFAULT_THRESHOLDS.checks(summary)
    judged, lines = verdict(checks)
    lines.append(judged.line("load"))
    return write_load_report(
        summary,
        metrics.rows(),
        folder,
        target="http://127.0.0.1:9",
        settings={"target": "embedded tryon-mock", "rate limit": "5/s per key"},
        checks=checks,
        verdict_lines=lines,
        ok=judged.ok,
        ttr=dict(metrics.ttr),
        p95_limit=DEFAULT_THRESHOLDS.max_p95_ttr_s,
    )


def test_the_load_report_and_the_dashboard_render_in_chromium(
    tmp_path: Path, browser: object
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(_load_run(tmp_path).as_uri())
    verdict_text = page.locator("#verdict").inner_text()
    assert verdict_text.startswith("load verdict: FAIL"), (
        f"expected a failing verdict: {verdict_text!r}"
    )
    broken = [row.split("\t")[0] for row in page.locator("#thresholds tr.broken").all_inner_texts()]
    wanted = ["share of try-ons that got a result", "429 ratio"]
    assert broken == wanted, f"expected {wanted} highlighted as broken, got {broken}"
    assert "embedded tryon-mock" in page.locator("#settings").inner_text(), "expected settings"
    charts = page.locator("img[id^=chart-]")
    ids = [charts.nth(i).get_attribute("id") for i in range(charts.count())]
    expected = ["chart-distribution", "chart-percentiles", "chart-goodput", "chart-load"]
    assert ids == expected, f"expected the four charts in order, got {ids}"
    for i in range(charts.count()):
        width = charts.nth(i).evaluate("img => img.naturalWidth")
        assert width > 400, f"expected chart {ids[i]} drawn, got width {width}"
    page.goto((tmp_path / "index.html").as_uri())
    card = page.locator("section.card.bad")
    assert card.locator("h2").inner_text() == "Load run (Locust)", "expected the load run card"
    assert card.locator(".badge").inner_text() == "fails", "expected the failing badge"
    assert card.locator("a").get_attribute("href") == "load.html", "expected a link to it"
    assert not errors, f"expected no script errors, got {errors}"

"""`tryon-suite limiter`: the rate limit measured, in process on a virtual clock and over HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest

from tryon_suite.cli.limiter import main
from tryon_suite.http.clock import VirtualClock
from tryon_suite.lab.limiter import Measure, Prober, Settings, measure
from tryon_suite.mutants import mutant
from tryon_suite.mutants._kit import filtered
from tryon_suite.simulator.config import DEMO_KEY, SimulatorConfig
from tryon_suite.simulator.core import SimRequest, SimResponse, Simulator
from tryon_suite.simulator.inprocess import InProcessSimulator

Measured = dict[str, Measure]


class PollsFree(Simulator):
    """Job polls pass the rate limit untouched."""

    async def _gate(self, request: SimRequest) -> str | SimResponse:
        if request.path.startswith("/v1/try-on/job/"):
            return self._authenticate(request)
        return await super()._gate(request)


class PollsApart(Simulator):
    """Job polls have a bucket of their own, apart from try-ons'."""

    async def _gate(self, request: SimRequest) -> str | SimResponse:
        key = self._authenticate(request)
        if isinstance(key, SimResponse) or not request.path.startswith("/v1/try-on/job/"):
            return await super()._gate(request)
        return self._throttle(f"{key}/polls") or key


def _says(value: str) -> Callable[[SimRequest, SimResponse], SimResponse]:
    def rewrite(request: SimRequest, response: SimResponse) -> SimResponse:
        if response.status != 429:
            return response
        return SimResponse(429, {**response.headers, "retry-after": value}, response.body)

    return rewrite


def _as_date(request: SimRequest, response: SimResponse) -> SimResponse:
    """Retry-After as an HTTP date, counted from the answer's own Date (a fixed day: the
    limiter must read the one against the other, not against its own clock)."""
    if response.status != 429:
        return response
    sent = datetime(2030, 1, 1, tzinfo=UTC)
    wait = timedelta(seconds=int(response.headers["retry-after"]))
    headers = {
        **response.headers,
        "date": format_datetime(sent, usegmt=True),
        "retry-after": format_datetime(sent + wait, usegmt=True),
    }
    return SimResponse(429, headers, response.body)


def _without_retry_after(request: SimRequest, response: SimResponse) -> SimResponse:
    headers = {k: v for k, v in response.headers.items() if k != "retry-after"}
    return SimResponse(response.status, headers, response.body)


@pytest.fixture
def limiter() -> Callable[..., Measured]:
    """Measures a simulator (built by `build` from a config, else the correct one) in process,
    one request at a time on a virtual clock; the measures by name."""

    def run(
        build: Callable[[SimulatorConfig, VirtualClock], Simulator] = Simulator,
        settings: Settings | None = None,
        **config: float,
    ) -> Measured:
        clock = VirtualClock()
        simulator = build(SimulatorConfig(**config), clock)  # type: ignore[arg-type]
        with (
            InProcessSimulator(simulator=simulator) as sim,
            sim.client(headers={"X-API-KEY": DEMO_KEY}) as http,
        ):
            s = settings or Settings()
            prober = Prober(http, clock.now, clock.advance, s.budget, workers=0)
            return {m.name: m for m in measure(prober, s)}

    return run


@pytest.mark.parametrize(
    ("rate", "burst"), [(2.0, None), (3.0, None), (8.0, None), (3.0, 1), (2.0, 5), (8.0, 5)]
)
def test_it_finds_the_rate_within_a_fifth_and_the_burst_exactly(
    limiter: Callable[..., Measured], rate: float, burst: int | None
) -> None:
    found = limiter(rate_limit=rate, burst=burst)
    measured = found["sustained rate"].value
    assert measured is not None, f"expected a rate near {rate}/s, got {found['sustained rate']}"
    assert abs(measured / rate - 1) <= 0.2, f"expected {rate}/s within 20%, got {measured}/s"
    expected_burst = burst or round(rate)
    assert found["burst"].value == expected_burst, (
        f"expected a burst of {expected_burst}, got {found['burst']}"
    )
    recovery = found["recovery"].value
    assert recovery is not None, f"expected a recovery time, got {found['recovery']}"
    assert expected_burst / rate <= recovery <= 1.5 * expected_burst / rate, (
        f"expected a full burst back after about {expected_burst / rate:.2f} s, got {recovery} s"
    )


def test_it_judges_the_simulators_retry_after_honest(limiter: Callable[..., Measured]) -> None:
    verdict = limiter(rate_limit=3.0)["Retry-After honest"]
    assert (verdict.verdict, verdict.measured) == ("honest", "yes (3 of 3)"), (
        f"expected Retry-After honest 3 of 3, got {verdict}"
    )


def test_it_judges_a_retry_after_of_zero_on_an_empty_bucket_dishonest(
    limiter: Callable[..., Measured],
) -> None:
    verdict = limiter(mutant("dishonest_retry_after").build, rate_limit=3.0)
    assert verdict["Retry-After honest"].verdict == "dishonest", (
        f"expected dishonest, got {verdict['Retry-After honest']}"
    )


def test_it_calls_a_retry_after_far_past_the_need_conservative(
    limiter: Callable[..., Measured],
) -> None:
    verdict = limiter(filtered(_says("5")), rate_limit=8.0)["Retry-After honest"]
    assert verdict.verdict == "conservative", f"expected conservative, got {verdict}"
    assert "admitted" in verdict.detail, f"expected the early admission named, got {verdict}"


def test_it_reads_a_retry_after_date_against_the_answer_s_date(
    limiter: Callable[..., Measured],
) -> None:
    verdict = limiter(filtered(_as_date), rate_limit=3.0)["Retry-After honest"]
    assert verdict.verdict == "honest", f"expected honest, got {verdict}"


def test_a_retry_after_that_is_sometimes_too_short_is_dishonest(
    limiter: Callable[..., Measured],
) -> None:
    """At 0.7/s a token takes up to 1.43 s: 'Retry-After: 1' holds only part of the time."""
    found = limiter(filtered(_says("1")), Settings(window=8), rate_limit=0.7, burst=2)
    verdict = found["Retry-After honest"]
    assert (verdict.verdict, verdict.measured) == ("dishonest", "no (2 of 6 refused)"), (
        f"expected dishonest, 2 of 6 refused, got {verdict}"
    )


def test_it_reports_a_retry_after_that_never_comes_as_not_sent(
    limiter: Callable[..., Measured],
) -> None:
    verdict = limiter(filtered(_without_retry_after), rate_limit=3.0)["Retry-After honest"]
    assert verdict.verdict == "observed (not sent)", f"expected not sent, got {verdict}"


@pytest.mark.parametrize(
    ("build", "expected"), [(Simulator, "yes"), (PollsFree, "no"), (PollsApart, "no")]
)
def test_it_tells_whether_polls_count_against_the_limit(
    limiter: Callable[..., Measured], build: type[Simulator], expected: str
) -> None:
    polls = limiter(build, rate_limit=3.0)["polls count"]
    assert polls.measured == expected, f"expected polls count: {expected}, got {polls}"


def test_what_the_budget_does_not_cover_is_not_measured(limiter: Callable[..., Measured]) -> None:
    found = limiter(settings=Settings(budget=30), rate_limit=3.0)
    assert found["burst"].value == 3, f"expected the burst within budget, got {found['burst']}"
    for name in ("sustained rate", "Retry-After honest", "polls count"):
        assert found[name].measured == "not measured: budget", (
            f"expected {name} 'not measured: budget', got {found[name]}"
        )


def test_a_target_that_never_refuses_gets_no_made_up_figures(
    limiter: Callable[..., Measured],
) -> None:
    found = limiter(rate_limit=0.0)
    for name, m in found.items():
        assert m.value is None, f"expected {name} not measured, got {m}"
    assert "no 429 in 50 requests" in found["burst"].measured, (
        f"expected the burst to say no 429 came, got {found['burst']}"
    )
    assert "at least that" in found["sustained rate"].measured, (
        f"expected the rate to say it is above the probe rate, got {found['sustained rate']}"
    )


# -- the command over HTTP ---------------------------------------------------------------


@pytest.fixture
def mock() -> Iterator[Callable[..., str]]:
    """Starts tryon-mock with the given options; its URL, once it says it listens."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> str:
        process = subprocess.Popen(
            [sys.executable, "-m", "tryon_suite.cli.mock", "--port", "0", *args],
            stdout=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Listening on "), f"expected 'Listening on', got {line!r}"
        return line.removeprefix("Listening on ").strip()

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def _run(url: str, folder: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, dict]:
    monkeypatch.setenv("TRYON_API_KEY", DEMO_KEY)
    code = main(["--host", url, "--report-dir", str(folder)])
    return code, json.loads((folder / "limiter.json").read_text(encoding="utf-8"))


@pytest.mark.slow(17)
def test_it_measures_tryon_mock_at_three_per_second_over_http(
    mock: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, report = _run(mock("--rate-limit", "3"), tmp_path, monkeypatch)
    found = {m["name"]: m for m in report["measures"]}
    rate = found["sustained rate"]["value"]
    assert rate is not None, f"expected a rate near 3/s, got {found['sustained rate']}"
    assert abs(rate / 3 - 1) <= 0.2, f"expected 3/s within 20%, got {rate}/s"
    assert found["Retry-After honest"]["verdict"] == "honest", (
        f"expected honest, got {found['Retry-After honest']}"
    )
    assert (code, report["ok"], report["kind"]) == (0, True, "limiter"), (
        f"expected exit 0 and an ok limiter report, got {code}, {report['ok']}, {report['kind']}"
    )
    assert (tmp_path / "limiter.html").exists(), "expected limiter.html, got none"
    out = capsys.readouterr().out
    assert DEMO_KEY not in out, f"expected the key masked, got it in {out!r}"
    assert out.splitlines()[-1].startswith(
        "tryon-suite limiter verdict: PASS (exit code 0): rate "
    ), f"expected the verdict last, got {out}"


@pytest.mark.slow(14)
def test_a_lying_retry_after_over_http_is_dishonest_and_fails_the_run(
    mock: Callable[..., str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = mock("--rate-limit", "3", "--mutant", "dishonest_retry_after")
    code, report = _run(url, tmp_path, monkeypatch)
    found = {m["name"]: m for m in report["measures"]}
    assert found["Retry-After honest"]["verdict"] == "dishonest", (
        f"expected dishonest, got {found['Retry-After honest']}"
    )
    assert (code, report["ok"]) == (1, False), f"expected exit 1, not ok; got {code}, {report}"


def test_an_unknown_key_is_one_line_and_exit_4(
    mock: Callable[..., str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = mock("--rate-limit", "3")
    monkeypatch.setenv("TRYON_API_KEY", "not-a-known-key")
    code = main(["--host", url])
    err = capsys.readouterr().err
    assert code == 4, f"expected exit 4, got {code}"
    assert err == (
        f"tryon-suite limiter: the key given with TRYON_API_KEY was refused by {url} (401): "
        "check the key, and that it belongs to this target\n"
    ), f"expected one line naming the key's variable, got {err!r}"


def test_a_host_that_does_not_answer_is_one_line_and_exit_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRYON_API_KEY", DEMO_KEY)
    code = main(["--host", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert (code, err.count("\n")) == (4, 1), f"expected exit 4 and one line, got {code}, {err!r}"
    assert "check --host" in err, f"expected the line to name --host, got {err!r}"


def test_tryon_mock_refuses_an_unknown_mutant_with_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tryon_suite.cli.mock import main as mock_main

    code = mock_main(["--mutant", "no_such_mutant"])
    err = capsys.readouterr().err
    assert code == 4, f"expected exit 4 (usage), got {code}"
    assert err.startswith("tryon-mock: error: expected a mutant among "), (
        f"expected one line naming the catalogue, got {err!r}"
    )
    assert err.endswith("got 'no_such_mutant'\n"), f"expected the name echoed, got {err!r}"


def test_the_table_puts_long_reasons_under_it_as_numbered_notes(
    limiter: Callable[..., Measured],
) -> None:
    from tryon_suite.lab.limiter.output import table

    lines = table(list(limiter(rate_limit=0.0).values())).splitlines()
    assert lines[1].split() == [
        "burst",
        "not",
        "measured",
        "[1]",
        "not",
        "documented",
        "not",
        "measured",
    ], f"expected the burst row to point at note 1, got {lines[1]!r}"
    assert lines[6] == (
        "[1] burst: no 429 in 50 requests sent back to back: the target does not limit refused "
        "requests, or its burst is larger"
    ), f"expected note 1 under the table, got {lines[6]!r}"


def test_the_limiter_report_renders_in_chromium_with_its_chart(
    tmp_path: Path, browser: object
) -> None:
    from tryon_suite.lab.limiter.output import write_report

    clock = VirtualClock()
    simulator = Simulator(SimulatorConfig(rate_limit=3.0), clock)
    settings = Settings()
    with (
        InProcessSimulator(simulator=simulator) as sim,
        sim.client(headers={"X-API-KEY": DEMO_KEY}) as http,
    ):
        prober = Prober(http, clock.now, clock.advance, settings.budget, workers=0)
        measures = measure(prober, settings)
    write_report(
        tmp_path, target="in process", settings=settings, measures=measures, probes=prober.probes
    )
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((tmp_path / "limiter.html").as_uri())
    text = page.locator("body").inner_text()
    assert "Retry-After honest" in text, f"expected the measures table, got {text[:300]!r}"
    widths = page.locator("img").evaluate_all("images => images.map(i => i.naturalWidth)")
    assert min(widths, default=0) > 400, f"expected the chart drawn, got widths {widths}"
    page.goto((tmp_path / "index.html").as_uri())
    card = page.locator("section.card", has_text="Rate limiter measured")
    assert card.locator("a").get_attribute("href") == "limiter.html", "expected the card's link"
    assert not errors, f"expected no script errors, got {errors}"


def test_no_key_a_bad_option_or_a_non_ascii_key_is_one_line_and_exit_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Usage mistakes are ExitCode.USAGE (4), one line each, before anything is sent."""
    monkeypatch.delenv("TRYON_API_KEY", raising=False)
    code = main(["--host", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert (code, err) == (
        4,
        "tryon-suite limiter: error: expected the key in TRYON_API_KEY, got none\n",
    ), f"expected exit 4 and one line for no key, got {code}, {err!r}"
    with pytest.raises(SystemExit) as bad:
        main(["--host", "http://127.0.0.1:9", "--window", "-1"])
    err = capsys.readouterr().err
    assert (bad.value.code, err.count("\n")) == (4, 1), (
        f"expected exit 4 and one line for a bad option, got {bad.value.code}, {err!r}"
    )
    monkeypatch.setenv("TRYON_API_KEY", "clé-secrète")
    code = main(["--host", "http://127.0.0.1:9"])
    err = capsys.readouterr().err
    assert (code, err) == (
        4,
        "tryon-suite limiter: the key given with TRYON_API_KEY cannot be used: expected an "
        "ASCII key (it travels in the X-API-KEY header), got one with a non-ASCII character\n",
    ), f"expected exit 4 and the preflight's one line for a non-ASCII key, got {code}, {err!r}"


def _answers_preflight_then(failure: BaseException) -> httpx.MockTransport:
    """A target whose balance endpoint takes the key (the preflight passes) and whose every
    other request then fails with `failure`."""

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/credits":
            return httpx.Response(200, json={"credits": 5})
        raise failure

    return httpx.MockTransport(handle)


#: how the limiter's last line starts when the run could not judge
INCOMPLETE = "tryon-suite limiter verdict: INCOMPLETE (exit code 2): "


def test_a_target_that_stops_answering_mid_run_is_incomplete_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRYON_API_KEY", DEMO_KEY)
    gone = _answers_preflight_then(httpx.ConnectError("connection refused"))
    code = main(["--host", "http://api.test", "--report-dir", str(tmp_path)], transport=gone)
    last = capsys.readouterr().out.splitlines()[-1]
    assert (code, last.startswith(f"{INCOMPLETE}the target stopped answering mid-run")) == (
        2,
        True,
    ), f"expected exit 2 and a last line saying the target stopped answering, got {code}, {last!r}"


def test_an_interrupted_run_is_incomplete_exit_2_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRYON_API_KEY", DEMO_KEY)
    ctrl_c = _answers_preflight_then(KeyboardInterrupt())
    code = main(["--host", "http://api.test", "--report-dir", str(tmp_path)], transport=ctrl_c)
    last = capsys.readouterr().out.splitlines()[-1]
    assert (code, last.startswith(f"{INCOMPLETE}interrupted")) == (2, True), (
        f"expected exit 2 and a last line saying it was interrupted, got {code}, {last!r}"
    )

"""The retry-policy lab and the retry kinds it compares: decorrelated jitter, a retry budget,
adaptive client-side throttling; the same objects in `TryOnClient`."""

from __future__ import annotations

import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.test_cli import assert_usage_exit
from tryon_suite.cli.policies import LabSettings, Outcome, arrival_trace, main, rank, run_lab
from tryon_suite.http.client import LocallyThrottled, Stack, TryOnClient
from tryon_suite.http.clock import VirtualClock
from tryon_suite.http.retry import POLICY_KINDS, PolicyKind, RetryLoop, RetryPolicy

SHORT = LabSettings(duration=30.0, policies=("none", "fixed", "budget", "adaptive"))


@pytest.fixture(scope="module")
def overloaded() -> list[Outcome]:
    """Every policy, sync, 8 try-ons/s against 5/s for a virtual minute."""
    return run_lab(LabSettings(rate=8.0, duration=60.0, modes=("sync",)))


def _by_policy(outcomes: list[Outcome]) -> dict[str, Outcome]:
    return {o.policy: o for o in outcomes}


# -- the lab ---------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_table_twice() -> None:
    first = [o.row() for o in run_lab(SHORT)]
    second = [o.row() for o in run_lab(SHORT)]
    assert first == second, f"expected the same table for seed 0 twice, got {first} then {second}"


def test_every_policy_and_mode_gets_the_same_arrival_trace() -> None:
    outcomes = run_lab(SHORT)
    trace = arrival_trace(SHORT.rate, SHORT.duration, SHORT.seed)
    counts = {(o.policy, o.mode): o.arrivals for o in outcomes}
    assert set(counts.values()) == {len(trace)}, (
        f"expected {len(trace)} arrivals for every policy and mode, got {counts}"
    )
    again = arrival_trace(SHORT.rate, SHORT.duration, SHORT.seed)
    other = arrival_trace(SHORT.rate, SHORT.duration, SHORT.seed + 1)
    assert trace == again, "expected the trace of a seed to be the same every time, it differed"
    assert trace != other, "expected another seed to give another trace, got the same"


def test_every_try_on_ends_as_a_result_or_a_give_up(overloaded: list[Outcome]) -> None:
    for o in overloaded:
        assert o.results + o.gave_up == o.arrivals, (
            f"expected {o.policy}'s {o.arrivals} arrivals to be results or give-ups, got "
            f"{o.results} results and {o.gave_up} give-ups"
        )


def test_none_gives_up_under_overload_and_retrying_policies_get_more_results() -> None:
    # at the limit, Poisson bursts overflow the bucket: retries recover what none drops
    outcomes = _by_policy(run_lab(LabSettings(rate=5.0, duration=60.0, modes=("sync",))))
    none = outcomes["none"]
    assert none.gave_up > 0, f"expected none to give up under bursts, got {none.give_ups}"
    for kind in ("fixed", "backoff", "decorrelated", "retry-after"):
        assert outcomes[kind].goodput > none.goodput, (
            f"expected {kind} to beat none's goodput {none.goodput:.1f}/min, got "
            f"{outcomes[kind].goodput:.1f}/min"
        )


def test_adaptive_rejects_locally_under_sustained_overload_and_not_under_the_limit(
    overloaded: list[Outcome],
) -> None:
    adaptive = _by_policy(overloaded)["adaptive"]
    assert adaptive.rejected_locally > 0, "expected local rejections at 8/s against 5/s, got 0"
    calm = run_lab(LabSettings(rate=2.0, duration=60.0, modes=("sync",), policies=("adaptive",)))
    assert calm[0].rejected_locally == 0, (
        f"expected no local rejection at 2/s against 5/s, got {calm[0].rejected_locally}"
    )


def test_the_ranking_puts_close_goodputs_on_requests_per_result_and_shares_ties() -> None:
    def row(policy: str, goodput: float, rpr: float, p95: float = 1.0) -> dict[str, object]:
        return {"policy": policy, "goodput_per_min": goodput, "requests_per_result": rpr,
                "p95_s": p95}  # fmt: skip

    rows = [row("a", 300, 5.0), row("b", 298, 1.6), row("c", 299, 5.1, 9.0), row("d", 200, 1.0)]
    got = rank(rows)
    assert got == [(1, "b"), (2, "a"), (2, "c"), (4, "d")], (
        "expected b first (goodput within 5%, fewest requests), a and c sharing a rank, d last; "
        f"got {got}"
    )


def test_a_rank_claims_only_differences_larger_than_the_counting_noise() -> None:
    def row(policy: str, results: int, rpr: float) -> dict[str, object]:
        return {"policy": policy, "goodput_per_min": results * 2.0, "results_in_window": results,
                "results": results, "requests_per_result": rpr, "p95_s": 1.0}  # fmt: skip

    # 40 against 34 results: 15% apart, within twice the noise of such counts (about 46%)
    few = rank([row("a", 40, 10.0), row("b", 34, 8.0), row("c", 40, 12.0)])
    assert few == [(1, "b"), (1, "a"), (1, "c")], f"expected one shared rank, got {few}"
    # the same shares on 100 times the results: the noise is about 5%, so they part
    many = rank([row("a", 4000, 10.0), row("b", 3400, 8.0), row("c", 4000, 12.0)])
    assert many == [(1, "a"), (2, "c"), (3, "b")], f"expected three ranks, got {many}"


def test_a_modelled_latency_paces_each_request_the_same_for_a_seed() -> None:
    """Each request's round trip is two seeded legs: the median near the one asked for, the
    table the same twice; without it a request takes no time."""
    settings = LabSettings(duration=10.0, modes=("polling",), policies=("fixed",), latency=0.05)
    first, second = run_lab(settings), run_lab(settings)
    assert [o.row() for o in first] == [o.row() for o in second], "expected the same table twice"
    median = first[0].round_trip.percentile(50.0)
    assert 0.04 <= median <= 0.06, f"expected a round trip of about 0.05 s at p50, got {median}"
    instant = run_lab(LabSettings(duration=10.0, modes=("polling",), policies=("fixed",)))
    assert instant[0].round_trip.max <= 1e-6, (
        f"expected no time on the wire without a latency, got {instant[0].round_trip.max}"
    )


def _no_keys(mp: pytest.MonkeyPatch) -> None:
    for name in ("TRYON_API_KEY", "TRYON_API_KEYS"):
        mp.delenv(name, raising=False)


def test_bad_input_is_one_line_and_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, expected in (
        (["--rate", "-1"], "expected --rate > 0, got -1.0"),
        (["--policies", "none,often"], "expected --policies among none, fixed"),
        (["--host", "http://127.0.0.1:9"], "expected an API key for --host"),
        (["--latency-ms", "-5"], "expected --latency-ms between 0 and 60000, got -5"),
    ):
        with pytest.MonkeyPatch.context() as mp:
            _no_keys(mp)
            code = main(argv)
        err = capsys.readouterr().err
        assert code == 4, f"expected exit 4 (usage) for {argv}, got {code}"
        assert expected in err, f"expected {expected!r}, got {err!r}"
        assert err.count("\n") == 1, f"expected one line, got {err!r}"
        assert "Traceback" not in err, f"expected no traceback, got {err!r}"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--bogus"], "tryon-suite policies: error: unrecognized arguments: --bogus\n"),
        (
            ["--rate", "x"],
            "tryon-suite policies: error: argument --rate: invalid float value: 'x'\n",
        ),
    ],
)
def test_a_bad_option_is_one_line_and_exit_4(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_usage_exit(main, argv, expected, capsys)


def _usage(argv: list[str], env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the lab over --host with `env`'s keys: expects exit 4 and one line, returns it."""
    with pytest.MonkeyPatch.context() as mp:
        _no_keys(mp)
        for name, value in env.items():
            mp.setenv(name, value)
        code = main(argv)
    captured = capsys.readouterr()
    assert (code, captured.err.count("\n")) == (4, 1), (
        f"expected exit 4 and one line, got {code} and {captured.err!r}"
    )
    assert "Traceback" not in captured.err, f"expected no traceback, got {captured.err!r}"
    assert captured.out == "", f"expected nothing run, got {captured.out!r}"
    return captured.err


def test_a_host_that_does_not_answer_is_the_preflight_s_line_and_exit_4(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = _usage(["--host", "http://127.0.0.1:9"], {"TRYON_API_KEY": "some-key"}, capsys)
    expected = (
        "tryon-suite policies: cannot reach http://127.0.0.1:9 (ConnectError): check --host "
        "and that the service is up\n"
    )
    assert err == expected, f"expected {expected!r}, got {err!r}"


def test_a_refused_key_is_the_preflight_s_line_and_exit_4(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tryon_suite.simulator.server import serving

    with serving() as (url, _):
        err = _usage(["--host", url], {"TRYON_API_KEY": "not-a-known-key"}, capsys)
    expected = (
        f"tryon-suite policies: the key given with TRYON_API_KEY was refused by {url} (401): "
        "check the key, and that it belongs to this target\n"
    )
    assert err == expected, f"expected {expected!r}, got {err!r}"


def test_a_non_ascii_key_is_one_line_naming_where_it_came_from_and_exit_4(
    capsys: pytest.CaptureFixture[str],
) -> None:
    err = _usage(
        ["--host", "http://127.0.0.1:9"], {"TRYON_API_KEYS": "good-key,clé-secrète"}, capsys
    )
    expected = (
        "tryon-suite policies: the key given with TRYON_API_KEYS (key 2 of 2) cannot be used: "
        "expected an ASCII key (it travels in the X-API-KEY header), got one with a non-ASCII "
        "character\n"
    )
    assert err == expected, f"expected {expected!r}, got {err!r}"
    err = _usage(
        ["--host", "http://127.0.0.1:9", "--key-env", "LAB_KEY"], {"LAB_KEY": "clé"}, capsys
    )
    assert "the key given with --key-env LAB_KEY cannot be used" in err, (
        f"expected the line to name --key-env LAB_KEY, got {err!r}"
    )


def _answers_preflight_then(failure: BaseException) -> httpx.MockTransport:
    """A target that takes the key once (the preflight's balance: 200), then every request,
    the lab's and the liveness probe's alike, fails with `failure`."""
    answered: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        if not answered and request.url.path == "/v1/credits":
            answered.append(request)
            return httpx.Response(200, json={"credits": 100})
        raise failure

    return httpx.MockTransport(handle)


#: how the lab's last line starts when it could not rank
INCOMPLETE = "tryon-suite policies verdict: INCOMPLETE (exit code 2): "


@pytest.mark.parametrize(
    ("failure", "expected"),
    [
        (httpx.ConnectError("connection refused"), f"{INCOMPLETE}the target stopped answering"),
        (KeyboardInterrupt(), f"{INCOMPLETE}interrupted"),
    ],
    ids=["target-stopped", "ctrl-c"],
)
def test_a_run_cut_short_is_incomplete_exit_2_and_says_why_last(
    failure: BaseException,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _no_keys(monkeypatch)
    monkeypatch.setenv("TRYON_API_KEY", "lab-key")
    argv = ["--host", "http://api.test", "--duration", "5", "--report-dir", str(tmp_path)]
    code = main(argv, transport=_answers_preflight_then(failure))
    captured = capsys.readouterr()
    last = captured.out.splitlines()[-1] if captured.out else ""
    assert (code, last.startswith(expected)) == (2, True), (
        f"expected exit 2 and a last line starting {expected!r}, got {code} and {last!r}"
    )
    assert "Traceback" not in captured.err, f"expected no traceback, got {captured.err!r}"
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [], f"expected no report of a cut-short run, got {written}"


# -- the retry kinds ---------------------------------------------------------------------------


def test_every_kind_is_listed_once() -> None:
    assert len(set(POLICY_KINDS)) == len(POLICY_KINDS) == 7, f"got {POLICY_KINDS}"
    for kind in POLICY_KINDS:
        assert RetryPolicy(kind).kind == kind


def test_decorrelated_delays_stay_within_base_and_cap() -> None:
    policy = RetryPolicy("decorrelated", base_delay=0.5, max_delay=8.0, max_retries=50)
    rng = random.Random(1)
    previous = None
    delays = []
    for attempt in range(50):
        delay = policy.decide(attempt, 429, None, rng, previous).delay
        assert delay is not None
        delays.append(delay)
        previous = delay
    assert all(0.5 <= d <= 8.0 for d in delays), f"expected delays in [0.5, 8], got {delays}"
    assert max(delays) == 8.0, f"expected the cap to be reached, got at most {max(delays)}"


def test_budget_honours_retry_after_else_backs_off_and_adaptive_backs_off() -> None:
    rng = random.Random(0)
    assert RetryPolicy("budget").decide(0, 429, "3", rng).delay == 3.0
    assert RetryPolicy("budget").decide(0, 503, None, rng).reason == "backoff"
    adaptive = RetryPolicy("adaptive", base_delay=1.0).decide(2, 429, "30", rng)
    assert adaptive.reason == "backoff", f"expected backoff, not Retry-After, got {adaptive}"
    assert 0 <= (adaptive.delay or -1) <= 4.0, f"expected a delay in [0, 4] s, got {adaptive}"


def _refuse_all(loop: RetryLoop) -> int:
    """Drive one request that gets 429 every time; how many retries it was allowed."""
    assert loop.admit() is None
    retries = 0
    while loop.answered(429, None).delay is not None:
        retries += 1
    return retries


def test_the_budget_never_retries_more_than_its_ratio_of_first_attempts_plus_its_cap() -> None:
    policy = RetryPolicy("budget", budget_ratio=0.1, budget_cap=3.0, max_retries=5)
    state = policy.new_state(lambda: 0.0)
    rng = random.Random(0)
    retries = sum(_refuse_all(RetryLoop(state, rng)) for _ in range(200))
    ceiling = 0.1 * state.first_attempts + 3.0
    assert retries <= ceiling, f"expected at most {ceiling} retries, got {retries}"
    assert state.budget_refusals > 0, "expected the budget to refuse some retries, got none"


def test_the_adaptive_throttle_follows_the_sre_formula_over_its_window() -> None:
    clock = VirtualClock()
    state = RetryPolicy("adaptive", adaptive_window=120.0).new_state(clock.now)
    for _ in range(30):
        state.observe(429)
    for _ in range(10):
        state.observe(200)
    expected = (40 - 2 * 10) / 41
    got = state.rejection_probability()
    assert got == pytest.approx(expected), f"expected {expected:.3f}, got {got:.3f}"
    clock.advance(121.0)
    assert state.rejection_probability() == 0.0, "expected the window to forget old requests"


# -- the client uses the same objects ------------------------------------------------------------


@pytest.fixture
def refusing_state() -> RetryPolicy:
    return RetryPolicy("adaptive", max_retries=0)


def test_the_client_raises_locally_throttled_and_sends_nothing(
    refusing_state: RetryPolicy,
) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    clock = VirtualClock()
    state = refusing_state.new_state(clock.now)
    for _ in range(1000):
        state.observe(429)  # sustained overload: the throttle refuses nearly everything
    client = TryOnClient(
        "https://t.test",
        "k" * 20,
        transport=Stack(httpx.MockTransport(answer), retry=state, sleep=clock.advance),
    )
    with pytest.raises(LocallyThrottled, match="refused it locally") as caught:
        client.credits()
    assert isinstance(caught.value, httpx.TransportError), "expected a transport error by kind"
    assert sent == [], f"expected nothing sent, got {len(sent)} requests"
    assert client.locally_throttled == 1, f"expected 1 counted, got {client.locally_throttled}"


def test_the_client_retries_a_local_refusal_with_backoff_when_retries_remain() -> None:
    clock = VirtualClock()
    policy = RetryPolicy("adaptive", max_retries=50, base_delay=1.0, max_delay=1.0)
    state = policy.new_state(clock.now)
    for _ in range(20):
        state.observe(429)
    client = TryOnClient(
        "https://t.test",
        "k" * 20,
        transport=Stack(
            httpx.MockTransport(lambda r: httpx.Response(200, json={})),
            retry=state,
            sleep=clock.advance,
        ),
    )
    assert client.credits().status_code == 200
    assert client.locally_throttled > 0, "expected local refusals first, got none"
    assert clock.now() > 0, f"expected them waited out on the clock, waited {clock.now()} s"


# -- in process and over HTTP rank alike --------------------------------------------------------


@pytest.mark.slow(30)
def test_the_ranking_over_http_against_tryon_mock_never_contradicts_in_process() -> None:
    policies: tuple[PolicyKind, ...] = ("none", "fixed", "budget")
    keys = [f"lab-key-{i}" for i in range(len(policies))]
    args = [sys.executable, "-m", "tryon_suite.cli.mock", "--port", "0", "--rate-limit",
            "5", "--processing-time", "2"]  # fmt: skip
    for key in keys:
        args += ["--key", f"{key}:100000"]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("Listening on "), f"expected tryon-mock to start, got {line!r}"
        url = line.removeprefix("Listening on ").strip()
        settings = LabSettings(duration=12.0, modes=("sync",), policies=policies)
        from tryon_suite.http.secret import Secret

        over_http = run_lab(
            LabSettings(
                duration=12.0,
                modes=("sync",),
                policies=policies,
                host=url,
                keys=tuple(Secret(k) for k in keys),
            )
        )
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
    in_process = run_lab(settings)
    here = rank([o.row() for o in in_process])
    there = rank([o.row() for o in over_http])
    # On a loaded CI machine the HTTP side's round trips stretch and its retries thin out, so
    # it may tell fewer differences apart and share more ranks (bench/policies_rank.py
    # measures the whole ranking on a quiet machine); what it must never do is contradict
    # the model: put first a policy the model ranks strictly below another.
    at_here, at_there = {p: r for r, p in here}, {p: r for r, p in there}
    inversions = [
        (a, b)
        for a in at_here
        for b in at_here
        if at_here[a] < at_here[b] and at_there[a] > at_there[b]
    ]
    assert not inversions, (
        f"expected no pair ranked the other way round over HTTP: in process {here}, over HTTP "
        f"{there}, reversed {inversions}"
    )
    best = {p for r, p in here if r == 1}
    assert best <= {p for r, p in there if r == 1}, (
        f"expected the in-process best {sorted(best)} among the best over HTTP, got {there}"
    )


def test_the_policy_report_renders_in_chromium_with_its_charts(
    tmp_path: Path, browser: object
) -> None:
    from tryon_suite.lab.policies.report import write_report

    settings = LabSettings(duration=20.0, policies=("none", "retry-after"))
    # Playwright's sync API keeps an event loop running on this thread: the lab's own goes
    # on another
    with ThreadPoolExecutor(1) as pool:
        outcomes = pool.submit(run_lab, settings).result()
    write_report(outcomes, settings, tmp_path, wall=1.0)
    page = browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((tmp_path / "policies.html").as_uri())
    ranking = page.locator("table").first.inner_text()
    modes = [mode for mode in ("sync", "polling") if mode in ranking]
    assert modes == ["sync", "polling"], f"expected both modes ranked: {ranking!r}"
    widths = page.locator("img").evaluate_all("images => images.map(i => i.naturalWidth)")
    assert len(widths) >= 2, f"expected the lab's charts, got {len(widths)} images"
    assert min(widths) > 400, f"expected every chart drawn, got widths {widths}"
    page.goto((tmp_path / "index.html").as_uri())
    card = page.locator("section.card", has_text="Retry-policy lab")
    assert card.locator("a").get_attribute("href") == "policies.html", "expected the card's link"
    assert not errors, f"expected no script errors, got {errors}"

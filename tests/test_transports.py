"""Each of the client's transports alone, over a stub (httpx.MockTransport) on a fake clock:
the budget, the credit account, the pace, the retries, the watch, the record and the wire;
then the order the client stacks them in. Nothing sleeps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tryon_suite.http.account import (
    PREPAID,
    Budget,
    BudgetExhausted,
    BudgetTransport,
    CreditBudgetExhausted,
    Credits,
    CreditsTransport,
)
from tryon_suite.http.client import Stack
from tryon_suite.http.clock import VirtualClock
from tryon_suite.http.exchange import (
    BODY,
    KEYS,
    Keys,
    RecordTransport,
    exchange_of,
)
from tryon_suite.http.request import TryOnRequest
from tryon_suite.http.retry import Pacer, RetryDecision, RetryPolicy
from tryon_suite.http.retrying import (
    AGAIN,
    ALONE,
    PACE,
    PACED,
    RETRY,
    LocallyThrottled,
    Paced,
    PaceTransport,
    RetryTransport,
)
from tryon_suite.http.secret import MASK, Secret
from tryon_suite.http.watch import KIND, RunStopped, Timeouts, Watch, WatchTransport
from tryon_suite.http.wire import BOUND, FOLLOW, WireTransport

TRY_ON_URL = "https://t.test/v1/try-on"
CREDITS_URL = "https://t.test/v1/credits"


@dataclass
class Stub:
    """An inner transport answering from a script (a status, a response, or an error to
    raise); an empty script answers 200. Keeps every request it was handed."""

    script: list[int | httpx.Response | Exception]
    seen: list[httpx.Request] = field(default_factory=list)
    #: called with each request before it is answered (to look at state mid-flight)
    during: Callable[[httpx.Request], None] | None = None

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if self.during is not None:
            self.during(request)
        step = self.script.pop(0) if self.script else 200
        if isinstance(step, Exception):
            raise type(step)(str(step), request=request)  # type: ignore[call-arg]
        if isinstance(step, int):
            return httpx.Response(step, json={})
        return step

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


@pytest.fixture
def stub() -> Callable[..., Stub]:
    """A factory of stubs: `stub(429, 200)` answers 429, then 200."""

    def make(*script: int | httpx.Response | Exception) -> Stub:
        return Stub(list(script))

    return make


@dataclass
class FakeTime:
    """A virtual clock and the sleeps it was asked for: sleeping moves it, at once."""

    clock: VirtualClock = field(default_factory=VirtualClock)
    slept: list[float] = field(default_factory=list)

    def now(self) -> float:
        return self.clock.now()

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.clock.advance(seconds)


@pytest.fixture
def time_() -> FakeTime:
    return FakeTime()


def request(method: str = "GET", url: str = CREDITS_URL, /, **extensions: Any) -> httpx.Request:
    return httpx.Request(method, url, extensions=dict(extensions))


def too_many(seconds: str | None = None) -> httpx.Response:
    headers = {} if seconds is None else {"retry-after": seconds}
    return httpx.Response(429, headers=headers, json={"error_code": "rate_limit_exceeded"})


# -- the budget ---------------------------------------------------------------------------------


def test_the_budget_counts_each_attempt_and_refuses_one_past_it_unsent(
    stub: Callable[..., Stub],
) -> None:
    inner = stub()
    budget = Budget(2)
    transport = BudgetTransport(inner.transport, budget)
    transport.handle_request(request())
    transport.handle_request(request())
    with pytest.raises(BudgetExhausted, match="expected at most 2 requests"):
        transport.handle_request(request())
    assert (budget.sent, len(inner.seen)) == (2, 2), (
        f"expected 2 counted and 2 sent, got {budget.sent} counted and {len(inner.seen)} sent"
    )


def test_a_redirect_chain_followed_below_is_one_request_of_the_budget() -> None:
    hops: list[str] = []

    def hop(request: httpx.Request) -> httpx.Response:
        hops.append(str(request.url))
        if request.url.path == "/r.jpg":
            return httpx.Response(302, headers={"location": "https://cdn.test/signed.jpg"})
        if request.url.host == "cdn.test" and request.url.path == "/signed.jpg":
            return httpx.Response(307, headers={"location": "/final.jpg"})
        return httpx.Response(200, content=b"\xff\xd8", headers={"content-type": "image/jpeg"})

    wire = WireTransport(httpx.MockTransport(hop))
    budget = Budget()
    transport = BudgetTransport(wire, budget)
    answer = transport.handle_request(
        wire.build("GET", "https://t.test/r.jpg", follow_redirects=True, extensions={FOLLOW: True})
    )
    assert (answer.status_code, len(hops)) == (200, 3), (
        f"expected 200 after 3 hops, got {answer.status_code} after {hops}"
    )
    assert budget.sent == 1, f"expected the chain counted as 1 request, got {budget.sent}"


# -- the credit account -------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "spent"), [(200, 1), (202, 1), (400, 0), (429, 0), (503, 0)])
def test_a_try_on_reserves_a_credit_while_in_flight_and_its_answer_settles_it(
    stub: Callable[..., Stub], status: int, spent: int
) -> None:
    credits = Credits(5)
    promised: list[int] = []
    inner = stub(status)
    inner.during = lambda _: promised.append(credits.reserved)
    CreditsTransport(inner.transport, credits).handle_request(request("POST", TRY_ON_URL))
    assert promised == [1], f"expected 1 credit promised while in flight, got {promised}"
    assert (credits.spent, credits.reserved) == (spent, 0), (
        f"expected {spent} spent and none promised after a {status}, got {credits.spent} "
        f"spent and {credits.reserved} promised"
    )


def test_a_try_on_that_raised_releases_its_credit(stub: Callable[..., Stub]) -> None:
    credits = Credits(1)
    transport = CreditsTransport(stub(httpx.ConnectError("refused")).transport, credits)
    with pytest.raises(httpx.ConnectError):
        transport.handle_request(request("POST", TRY_ON_URL))
    assert (credits.spent, credits.reserved, credits.peak) == (0, 0, 1), (
        f"expected nothing spent or promised (peak 1), got {credits.spent}, "
        f"{credits.reserved} (peak {credits.peak})"
    )


def test_a_try_on_past_the_credit_budget_is_refused_unsent(stub: Callable[..., Stub]) -> None:
    credits = Credits(0)
    inner = stub()
    with pytest.raises(CreditBudgetExhausted, match="would pass --tryon-credit-budget 0"):
        CreditsTransport(inner.transport, credits).handle_request(request("POST", TRY_ON_URL))
    assert inner.seen == [], f"expected nothing sent, got {len(inner.seen)} requests"


def test_a_client_that_may_not_spend_reserves_nothing_but_counts_a_success(
    stub: Callable[..., Stub],
) -> None:
    credits = Credits(0)
    CreditsTransport(stub(200).transport, credits, may_spend=False).handle_request(
        request("POST", TRY_ON_URL)
    )
    assert (credits.spent, credits.reserved) == (1, 0), (
        f"expected the unexpected success counted, nothing promised, got {credits.spent} "
        f"spent and {credits.reserved} promised"
    )


def test_a_prepaid_try_on_settles_the_reservation_its_caller_made(
    stub: Callable[..., Stub],
) -> None:
    credits = Credits(1)
    credits.reserve("a purchase")
    CreditsTransport(stub(200).transport, credits).handle_request(
        request("POST", TRY_ON_URL, **{PREPAID: True})
    )
    assert (credits.spent, credits.reserved) == (1, 0), (
        f"expected the caller's credit spent and released, got {credits.spent} spent and "
        f"{credits.reserved} promised"
    )


@pytest.mark.parametrize(("method", "url"), [("GET", CREDITS_URL), ("PUT", TRY_ON_URL)])
def test_a_request_that_is_not_a_try_on_leaves_the_account_alone(
    stub: Callable[..., Stub], method: str, url: str
) -> None:
    credits = Credits(0)
    answer = CreditsTransport(stub(200).transport, credits).handle_request(request(method, url))
    assert (answer.status_code, credits.spent, credits.peak) == (200, 0, 0), (
        f"expected {method} {url} answered and not counted, got {answer.status_code}, "
        f"{credits.spent} spent (peak {credits.peak})"
    )


# -- the pace -----------------------------------------------------------------------------------


def test_each_attempt_waits_for_its_slot_and_its_answer_says_which(
    stub: Callable[..., Stub], time_: FakeTime
) -> None:
    pacer = Pacer(4.0, now=time_.now, sleep=time_.sleep)
    transport = PaceTransport(stub().transport, pacer)
    paced = [transport.handle_request(request()).extensions[PACED] for _ in range(3)]
    assert time_.now() == pytest.approx(0.5), f"expected 2 gaps of 0.25 s, got {time_.now()}"
    assert paced == [Paced(pacer, 0)] * 3, f"expected each answer tagged with slot 0, got {paced}"


def test_an_unpaced_attempt_does_not_wait_but_its_answer_names_the_pacer(
    stub: Callable[..., Stub], time_: FakeTime
) -> None:
    pacer = Pacer(4.0, now=time_.now, sleep=time_.sleep)
    transport = PaceTransport(stub().transport, pacer)
    tags = [transport.handle_request(request(**{PACE: False})).extensions[PACED] for _ in range(3)]
    assert time_.slept == [], f"expected no wait, got {time_.slept}"
    assert tags == [Paced(pacer, None)] * 3, f"expected unpaced tags, got {tags}"


def test_an_attempt_asked_alone_goes_first_after_the_hold(
    stub: Callable[..., Stub], time_: FakeTime
) -> None:
    pacer = Pacer(4.0, now=time_.now, sleep=time_.sleep)
    transport = PaceTransport(stub().transport, pacer)
    transport.handle_request(request())
    pacer.hold(3.0)
    transport.handle_request(request(**{ALONE: True}))
    alone_at = time_.now()
    transport.handle_request(request())
    assert (alone_at, time_.now()) == pytest.approx((3.0, 3.25)), (
        f"expected the lone attempt at 3 s and the next at 3.25 s, got {(alone_at, time_.now())}"
    )


def test_without_a_pacer_nothing_waits_and_no_answer_is_tagged(stub: Callable[..., Stub]) -> None:
    answer = PaceTransport(stub().transport, None).handle_request(request())
    assert PACED not in answer.extensions, f"expected no tag, got {answer.extensions}"


# -- the retries --------------------------------------------------------------------------------


def retrying(inner: httpx.BaseTransport, time_: FakeTime, **kwargs: Any) -> RetryTransport:
    return RetryTransport(
        inner, kwargs.pop("retry", None), sleep=time_.sleep, now=time_.now, **kwargs
    )


def test_a_429_is_retried_after_its_retry_after(stub: Callable[..., Stub], time_: FakeTime) -> None:
    inner = stub(too_many("3"), 200)
    transport = retrying(inner.transport, time_)
    answer = transport.handle_request(request())
    assert (answer.status_code, len(inner.seen)) == (200, 2), (
        f"expected 200 on the second attempt, got {answer.status_code} after {len(inner.seen)}"
    )
    assert time_.slept == [3.0], f"expected the 3 s Retry-After slept, got {time_.slept}"
    assert transport.retries == 1, f"expected 1 retry counted, got {transport.retries}"


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_post_is_never_sent_again_on_a_5xx_but_a_get_is(
    stub: Callable[..., Stub], time_: FakeTime, status: int
) -> None:
    posted = stub(status, 200)
    answer = retrying(posted.transport, time_).handle_request(request("POST", TRY_ON_URL))
    assert (answer.status_code, len(posted.seen)) == (status, 1), (
        f"expected the POST's {status} kept after 1 attempt, got {answer.status_code} after "
        f"{len(posted.seen)}"
    )
    got = stub(status, 200)
    answer = retrying(got.transport, time_).handle_request(request())
    assert (answer.status_code, len(got.seen)) == (200, 2), (
        f"expected the GET's {status} retried, got {answer.status_code} after {len(got.seen)}"
    )


def test_a_request_not_to_retry_keeps_its_first_answer(
    stub: Callable[..., Stub], time_: FakeTime
) -> None:
    inner = stub(too_many("3"), 200)
    seen: list[tuple[int, RetryDecision | None]] = []
    transport = retrying(
        inner.transport, time_, on_answer=lambda r, d: seen.append((r.status_code, d))
    )
    answer = transport.handle_request(request(**{RETRY: False}))
    assert (answer.status_code, len(inner.seen), time_.slept) == (429, 1, []), (
        f"expected the 429 kept at once, got {answer.status_code} after {len(inner.seen)} "
        f"attempts and sleeps {time_.slept}"
    )
    assert seen == [(429, None)], f"expected the hook told no decision, got {seen}"


def test_each_attempt_is_built_afresh_where_the_sender_says_how(
    stub: Callable[..., Stub], time_: FakeTime
) -> None:
    built: list[httpx.Request] = []

    def build() -> httpx.Request:
        built.append(request(**{AGAIN: build}))
        return built[-1]

    inner = stub(too_many("1"), too_many("1"), 200)
    retrying(inner.transport, time_).handle_request(build())
    assert inner.seen == built, (
        f"expected each of the 3 attempts built afresh, got {len(built)} built for "
        f"{len(inner.seen)} sent"
    )


def test_a_paced_429_holds_the_whole_run_and_slows_the_pace(
    stub: Callable[..., Stub], time_: FakeTime
) -> None:
    pacer = Pacer(4.0, now=time_.now, sleep=time_.sleep)
    inner = stub(too_many("2"), 200)
    transport = retrying(PaceTransport(inner.transport, pacer), time_)
    transport.handle_request(request())
    assert time_.slept == [2.0], f"expected the pacer's hold waited out once, got {time_.slept}"
    assert pacer.rate == pytest.approx(3.2), f"expected the pace slowed to 3.2/s, got {pacer.rate}"


def test_a_429_kept_by_its_caller_still_holds_the_run(
    stub: Callable[..., Stub], time_: FakeTime
) -> None:
    pacer = Pacer(4.0, now=time_.now, sleep=time_.sleep)
    inner = stub(too_many("5"))
    transport = retrying(PaceTransport(inner.transport, pacer), time_)
    transport.handle_request(request(**{RETRY: False, PACE: False}))
    pacer.wait()
    assert time_.now() == pytest.approx(5.0), (
        f"expected the next sender held 5 s, got {time_.now()}"
    )
    assert pacer.rate == 4.0, f"expected an unpaced refusal not to slow the pace, got {pacer.rate}"


def test_a_request_refused_through_every_retry_is_asked_once_more_alone(
    stub: Callable[..., Stub], time_: FakeTime
) -> None:
    pacer = Pacer(4.0, now=time_.now, sleep=time_.sleep)
    inner = stub(too_many("2"), too_many("2"), too_many("2"), 200)
    alone: list[bool] = []
    inner.during = lambda sent: alone.append(bool(sent.extensions.get(ALONE)))
    transport = retrying(
        PaceTransport(inner.transport, pacer), time_, retry=RetryPolicy(max_retries=2)
    )
    answer = transport.handle_request(request())
    assert (answer.status_code, alone) == (200, [False, False, False, True]), (
        f"expected 200 on a 4th attempt asked alone, got {answer.status_code} with {alone}"
    )
    assert transport.retries == 3, f"expected 2 retries and 1 ask counted, got {transport.retries}"


def test_an_unpaced_429_retried_sleeps_instead_of_holding_the_run(
    stub: Callable[..., Stub], time_: FakeTime
) -> None:
    pacer = Pacer(4.0, now=time_.now, sleep=time_.sleep)
    transport = retrying(PaceTransport(stub(too_many("2"), 200).transport, pacer), time_)
    transport.handle_request(request(**{PACE: False}))
    assert (time_.slept, pacer.rate) == ([2.0], 4.0), (
        f"expected a 2 s sleep and the pace kept, got {time_.slept} at {pacer.rate}/s"
    )


@pytest.mark.parametrize(
    ("error", "ask_again", "sent"),
    [
        (httpx.ConnectError, True, 2),
        (httpx.RemoteProtocolError, True, 2),
        (httpx.ReadTimeout, True, 1),
        (httpx.ConnectError, False, 1),
    ],
)
def test_an_attempt_without_an_answer_is_asked_once_more_only_where_asked_never_a_timeout(
    stub: Callable[..., Stub],
    time_: FakeTime,
    error: type[httpx.TransportError],
    ask_again: bool,
    sent: int,
) -> None:
    inner = stub(error("lost"), error("lost again"))
    transport = retrying(inner.transport, time_, ask_again=ask_again)
    with pytest.raises(error):
        transport.handle_request(request())
    assert len(inner.seen) == sent, f"expected {sent} attempts, got {len(inner.seen)}"


def test_the_adaptive_throttle_refuses_locally_and_sends_nothing(
    stub: Callable[..., Stub], time_: FakeTime
) -> None:
    state = RetryPolicy("adaptive", max_retries=0).new_state(time_.now)
    for _ in range(1000):
        state.observe(429)
    inner = stub()
    transport = retrying(inner.transport, time_, retry=state)
    with pytest.raises(LocallyThrottled, match="refused it locally"):
        transport.handle_request(request())
    assert (inner.seen, transport.locally_throttled) == ([], 1), (
        f"expected nothing sent and 1 refusal counted, got {len(inner.seen)} sent and "
        f"{transport.locally_throttled} counted"
    )


def test_a_local_refusal_with_retries_left_waits_and_tries_again(
    stub: Callable[..., Stub], time_: FakeTime
) -> None:
    policy = RetryPolicy("adaptive", max_retries=50, base_delay=1.0, max_delay=1.0)
    state = policy.new_state(time_.now)
    for _ in range(20):
        state.observe(429)
    transport = retrying(stub(200).transport, time_, retry=state)
    answer = transport.handle_request(request())
    assert answer.status_code == 200, f"expected 200 in the end, got {answer.status_code}"
    assert transport.locally_throttled > 0, (
        f"expected local refusals first, got {transport.locally_throttled}"
    )
    assert len(time_.slept) == transport.locally_throttled, (
        f"expected each of the {transport.locally_throttled} refusals waited out, got sleeps "
        f"{time_.slept}"
    )


# -- the record ---------------------------------------------------------------------------------

KEY = "run-key-0123456789abcdef"
KEYS_OF_RUN = Keys({KEY: "run key"}, (Secret(KEY),))


def test_the_record_keeps_each_attempt_as_it_was_and_masks_the_key_where_shown(
    stub: Callable[..., Stub],
) -> None:
    echo = httpx.Response(401, json={"error": f"key {KEY} is not valid"})
    recorder = RecordTransport(stub(echo).transport)
    sent = httpx.Request(
        "GET", CREDITS_URL, headers={"X-API-KEY": KEY}, extensions={KEYS: KEYS_OF_RUN}
    )
    answer = recorder.handle_request(sent)
    [kept] = recorder.exchanges
    assert exchange_of(answer) is kept, (
        f"expected the exchange hung on the answer, got {exchange_of(answer)!r}"
    )
    assert (kept.status, kept.key_role) == (401, "run key"), (
        f"expected a 401 sent with the run key, got {kept.status} with {kept.key_role!r}"
    )
    assert KEY in kept.response_body, f"expected the body kept raw, got {kept.response_body!r}"
    assert kept.request_headers["x-api-key"] == MASK, (
        f"expected the key header masked by name, got {kept.request_headers}"
    )
    shown = repr(kept) + kept.masked().response_body
    assert KEY not in shown, f"expected the key masked where shown, got {shown}"


def test_the_record_keeps_an_attempt_without_an_answer_on_its_request(
    stub: Callable[..., Stub],
) -> None:
    recorder = RecordTransport(stub(httpx.ConnectError("refused")).transport)
    sent = request(**{KEYS: KEYS_OF_RUN})
    with pytest.raises(httpx.ConnectError):
        recorder.handle_request(sent)
    [kept] = recorder.exchanges
    assert (kept.status, kept.note) == (None, "ConnectError('refused')"), (
        f"expected no status and the error as the note, got {kept.status} and {kept.note!r}"
    )
    assert exchange_of(sent) is kept, (
        f"expected the exchange hung on the request, got {exchange_of(sent)!r}"
    )


def test_the_record_describes_a_multipart_body_by_its_parts(stub: Callable[..., Stub]) -> None:
    body = TryOnRequest.multipart(
        {"person_image": ("p.jpg", b"\xff\xd8 person", "image/jpeg")}, wait_for_result=False
    )
    recorder = RecordTransport(stub(400).transport)
    recorder.handle_request(
        httpx.Request("POST", TRY_ON_URL, **body.httpx_kwargs(), extensions={BODY: body})
    )
    text = recorder.exchanges[0].request_body
    assert "person_image = file 'p.jpg' (image/jpeg, 9 bytes)" in text, (
        f"expected the file part described, got {text!r}"
    )


def test_the_retries_say_on_each_recorded_attempt_why_another_followed(
    stub: Callable[..., Stub], time_: FakeTime
) -> None:
    recorder = RecordTransport(stub(too_many("3"), httpx.ConnectError("reset"), 200).transport)
    retrying(recorder, time_, ask_again=True).handle_request(request())
    notes = [e.note for e in recorder.exchanges]
    assert notes == [
        "retried after 3.00 s (Retry-After)",
        "ConnectError('reset'); the target answered others: asked once more",
        "",
    ], f"expected each retry's reason on the attempt before it, got {notes}"


# -- the watch ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "read"), [("sync", 7.0), ("poll", 3.0), ("download", 5.0)])
def test_the_watch_gives_each_kind_of_request_its_timeouts_and_bounds_the_whole_answer(
    stub: Callable[..., Stub], kind: str, read: float
) -> None:
    inner = stub()
    watch = Watch(Timeouts(connect=2.0, sync=7.0, poll=3.0, download=5.0))
    WatchTransport(inner.transport, watch).handle_request(request(**{KIND: kind}))
    told = inner.seen[0].extensions
    got = (told["timeout"]["read"], told["timeout"]["connect"], told.get(BOUND))
    assert got == (read, 2.0, True), f"expected ({read}, 2.0, True) for {kind}, got {got}"


class _Trickle(httpx.SyncByteStream):
    """40 bytes, one per 0.2 s of the clock: each read is quick, the whole is not."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(40):
            self.clock.advance(0.2)
            self.sent += 1
            yield b" "


def test_the_whole_answer_must_come_within_the_read_timeout_of_a_watched_request(
    time_: FakeTime,
) -> None:
    trickle = _Trickle(time_.clock)
    wire = WireTransport(
        httpx.MockTransport(lambda r: httpx.Response(200, stream=trickle)), now=time_.now
    )
    watched = WatchTransport(wire, Watch(Timeouts(poll=1.0), now=time_.now))
    with pytest.raises(httpx.ReadTimeout, match="whole answer within 1 s"):
        watched.handle_request(wire.build("GET", CREDITS_URL))
    assert trickle.sent < 40, f"expected the answer cut before its end, got all {trickle.sent}"


def test_a_lost_answer_is_the_requests_own_while_the_target_answers_others(
    stub: Callable[..., Stub],
) -> None:
    watch = Watch(probe=lambda: True)
    with pytest.raises(httpx.ConnectError):
        WatchTransport(stub(httpx.ConnectError("x")).transport, watch).handle_request(request())
    assert (watch.probes, watch.stopped) == (1, None), (
        f"expected 1 probe and the run going on, got {watch.probes} and {watch.stopped!r}"
    )


def test_a_lost_answer_stops_the_run_when_the_target_answers_no_one(
    stub: Callable[..., Stub],
) -> None:
    inner = stub(httpx.ConnectError("x"))
    transport = WatchTransport(inner.transport, Watch(probe=lambda: False))
    with pytest.raises(RunStopped, match="stopped answering"):
        transport.handle_request(request())
    with pytest.raises(RunStopped):
        transport.handle_request(request())
    assert len(inner.seen) == 1, f"expected nothing sent after the stop, got {len(inner.seen)}"


def test_a_request_counts_in_flight_only_while_it_is_on_the_wire(
    stub: Callable[..., Stub],
) -> None:
    watch = Watch()
    during: list[int] = []
    inner = stub()
    inner.during = lambda _: during.append(watch._in_flight)
    WatchTransport(inner.transport, watch).handle_request(request())
    assert (during, watch._in_flight) == ([1], 0), (
        f"expected 1 in flight during the call and 0 after, got {during} and {watch._in_flight}"
    )


# -- the wire -----------------------------------------------------------------------------------


class _Direct(httpx.MockTransport):
    """A transport that asks to be sent to directly, as Locust's does."""

    direct = True


def test_a_direct_transport_gets_the_request_as_built_without_the_clients_headers(
    stub: Callable[..., Stub],
) -> None:
    inner = stub()
    wire = WireTransport(_Direct(inner))
    built = wire.build("GET", CREDITS_URL)
    wire.handle_request(built)
    assert inner.seen == [built], f"expected the very request built sent directly, got {inner.seen}"
    assert "user-agent" not in built.headers, f"expected no client headers, got {built.headers}"


def test_a_redirect_to_follow_goes_through_the_client_even_for_a_direct_transport() -> None:
    def hop(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/r.jpg":
            return httpx.Response(302, headers={"location": "/final.jpg"})
        return httpx.Response(200, content=b"image")

    wire = WireTransport(_Direct(hop))
    built = wire.build("GET", "https://t.test/r.jpg", follow_redirects=True)
    built.extensions[FOLLOW] = True
    answer = wire.handle_request(built)
    assert (answer.status_code, answer.content) == (200, b"image"), (
        f"expected the redirect followed, got {answer.status_code} {answer.content!r}"
    )
    assert "user-agent" in built.headers, (
        f"expected the client's request, with its headers, got {dict(built.headers)}"
    )


def test_the_wire_hands_up_an_answer_read_whole(stub: Callable[..., Stub]) -> None:
    wire = WireTransport(stub(httpx.Response(200, content=b"abc")).transport)
    answer = wire.handle_request(wire.build("GET", CREDITS_URL))
    assert (answer.is_closed, answer.content) == (True, b"abc"), (
        f"expected the answer read and closed, got closed={answer.is_closed}"
    )


# -- the stack ----------------------------------------------------------------------------------


def test_the_client_stacks_its_transports_in_the_documented_order(time_: FakeTime) -> None:
    stack = Stack(httpx.MockTransport(lambda r: httpx.Response(200)), watch=Watch())
    order: list[str] = []
    layer: Any = stack._top
    while layer is not None:
        order.append(type(layer).__name__)
        layer = getattr(layer, "inner", None)
    assert order == [
        "CreditsTransport",
        "RetryTransport",
        "BudgetTransport",
        "PaceTransport",
        "WatchTransport",
        "RecordTransport",
        "WireTransport",
    ], f"expected the order of the client's docstring, got {order}"


def test_a_stack_without_a_watch_or_a_record_leaves_those_layers_out() -> None:
    stack = Stack(httpx.MockTransport(lambda r: httpx.Response(200)), record=False)
    assert stack.pacing.inner is stack.wire, (
        f"expected the pace right above the wire, got {type(stack.pacing.inner).__name__}"
    )

"""The client layer: retry decisions, Retry-After parsing, pacing, budget, multipart bodies."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx

from tryon_suite.errors import ConfigError
from tryon_suite.http.client import Budget, BudgetExhausted, Stack, TryOnClient, TryOnRequest
from tryon_suite.http.clock import VirtualClock
from tryon_suite.http.polling import PollPolicy, follow_job
from tryon_suite.http.retry import Pacer, RetryDecision, RetryPolicy, parse_retry_after
from tryon_suite.load.transport import LocustTransport

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("3", 3.0),
        (" 120 ", 120.0),
        ("Wed, 25 Nov 2026 12:00:10 GMT", 10.0),
        ("Wed, 25 Nov 2026 11:59:00 GMT", 0.0),
        ("soon", None),
        ("-1", None),
        ("1.5", None),
        (None, None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value: str | None, seconds: float | None) -> None:
    got = parse_retry_after(value, NOW)
    assert got == seconds, f"expected {seconds} for {value!r}, got {got}"


def test_each_policy_decides_as_named() -> None:
    rng = random.Random(0)
    assert RetryPolicy("none").decide(0, 429, "2", rng).delay is None
    assert RetryPolicy("fixed", fixed_delay=1.5).decide(0, 429, None, rng).delay == 1.5
    assert RetryPolicy("retry-after").decide(0, 429, "7", rng).delay == 7.0
    backoff = [
        RetryPolicy("backoff", base_delay=1, max_delay=8).decide(n, 503, None, rng).delay or -1.0
        for n in range(5)
    ]
    ceilings = [1, 2, 4, 8, 8]
    assert all(0 <= d <= c for d, c in zip(backoff, ceilings, strict=True)), f"got {backoff}"
    assert RetryPolicy("retry-after").decide(0, 500, None, rng).delay is None, "500 is not retried"
    assert RetryPolicy(max_retries=2).decide(2, 429, "1", rng).delay is None, "expected a cap"


def test_an_unknown_policy_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="expected a retry policy among none, fixed, backoff"):
        RetryPolicy("sometimes")  # type: ignore[arg-type]


def test_the_pacer_spaces_requests_on_the_clock_it_is_given() -> None:
    clock = VirtualClock()
    pacer = Pacer(4.0, now=clock.now, sleep=clock.advance)
    for _ in range(9):
        pacer.wait()
    assert clock.now() == pytest.approx(2.0), f"expected 8 gaps of 0.25 s, got {clock.now()}"


def test_the_budget_stops_the_run_before_a_request_is_sent() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    transport = httpx.MockTransport(answer)
    client = TryOnClient("https://t.test", "k" * 20, transport=Stack(transport, budget=Budget(2)))
    client.credits()
    client.credits()
    with pytest.raises(BudgetExhausted, match="expected at most 2 requests"):
        client.credits()
    assert len(sent) == 2, f"expected 2 requests on the wire, got {len(sent)}"


def test_a_multipart_body_without_files_is_still_multipart() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(400, json={})

    transport = httpx.MockTransport(answer)
    client = TryOnClient("https://t.test", "k" * 20, transport=transport)
    client.try_on(
        TryOnRequest.multipart(person_image_url="https://x.test/p.jpg", wait_for_result=False)
    )
    kind = seen[0].headers["content-type"]
    assert kind.startswith("multipart/form-data; boundary="), f"expected multipart, got {kind}"
    assert b'name="wait_for_result"\r\n\r\nfalse' in seen[0].read(), "expected the flag as text"


def test_429_is_retried_honouring_retry_after_and_recorded_without_the_key() -> None:
    answers = iter(
        [
            httpx.Response(429, headers={"retry-after": "3"}, json={}),
            httpx.Response(200, json={"credits": 1}),
        ]
    )
    clock = VirtualClock()
    transport = httpx.MockTransport(lambda r: next(answers))
    key = "secret-key-abcdefghijkl"
    client = TryOnClient("https://t.test", key, transport=Stack(transport, sleep=clock.advance))
    assert client.credits().status_code == 200
    assert clock.now() == 3.0, f"expected to wait the 3 s Retry-After named, waited {clock.now()}"
    assert client.retries == 1
    shown = repr([e.__dict__ for e in client.exchanges])
    assert key not in shown, "expected the key redacted in the recorded exchanges"


# -- the one polling loop and the hooks the load run counts through ---------------------------
# Routes are values (a respx router used as the client's transport): nothing global is patched.


def _routed(router: respx.MockRouter, clock: VirtualClock, **kwargs: Any) -> TryOnClient:
    return TryOnClient(
        "https://t.test",
        "k" * 20,
        transport=Stack(
            httpx.MockTransport(router.handler), now=clock.now, sleep=clock.advance, **kwargs
        ),
    )


def test_following_a_job_waits_by_the_policy_and_stops_at_a_final_status() -> None:
    router = respx.MockRouter(base_url="https://t.test", assert_all_called=False)
    statuses = ["pending", "running", "running", "completed"]
    job = router.get("/v1/try-on/job/j1").mock(
        side_effect=[httpx.Response(200, json={"job_id": "j1", "status": s}) for s in statuses]
    )
    clock = VirtualClock()
    policy = PollPolicy(interval=1.0, growth=2.0, max_interval=3.0, wait_first=True)
    trace = follow_job(_routed(router, clock), "/v1/try-on/job/j1", policy, job_id="j1")
    assert trace.statuses == statuses, f"expected every status in order, got {trace.statuses}"
    assert (trace.final, trace.polls, job.call_count) == ("completed", 4, 4), trace
    # waits: 1 before the first poll, then 1, 2, 3 (capped) between the four polls
    assert clock.now() == 7.0, f"expected 1 + 1 + 2 + 3 s of waiting, got {clock.now()}"


def test_a_job_that_never_ends_is_given_up_at_the_timeout_not_polled_forever() -> None:
    router = respx.MockRouter(base_url="https://t.test", assert_all_called=False)
    router.get("/v1/try-on/job/j1").mock(
        return_value=httpx.Response(200, json={"job_id": "j1", "status": "pending"})
    )
    clock = VirtualClock()
    trace = follow_job(
        _routed(router, clock), "/v1/try-on/job/j1", PollPolicy(interval=1.0, timeout=10.0)
    )
    assert (trace.timed_out, trace.final) == (True, None), f"expected a timeout, got {trace}"
    waited = clock.now()
    assert 10.0 <= waited < 16.0, f"expected to stop soon after 10 s, stopped at {waited}"


def test_every_answer_reaches_the_hook_with_what_the_policy_decided() -> None:
    router = respx.MockRouter(base_url="https://t.test", assert_all_called=False)
    router.get("/v1/credits").mock(
        side_effect=[
            httpx.Response(429, headers={"retry-after": "2"}, json={}),
            httpx.Response(429, headers={"retry-after": "2"}, json={}),
        ]
    )
    router.post("/v1/try-on").mock(return_value=httpx.Response(503, json={}))
    seen: list[tuple[int, float | None, bool]] = []

    def hook(response: httpx.Response, decision: RetryDecision | None) -> None:
        if decision is None:
            seen.append((response.status_code, None, False))
        else:
            seen.append((response.status_code, decision.delay, decision.gave_up))

    client = _routed(
        router, VirtualClock(), retry=RetryPolicy(max_retries=1), record=False, on_answer=hook
    )
    client.credits()
    client.try_on(TryOnRequest.json(person_image_url="https://x.test/p.jpg"))
    assert seen == [(429, 2.0, False), (429, None, True), (503, None, False)], (
        "expected a retry, then a give-up, then a POST's 5xx not retried (the decision None), "
        f"got {seen}"
    )
    assert client.exchanges == [], "expected nothing recorded with record=False"


class _FakeAnswer:
    """What Locust's FastHttpSession hands a `with` block, with catch_response=True."""

    def __init__(self, status: int, content: bytes, headers: dict[str, str]) -> None:
        self.status_code, self.content, self.headers = status, content, headers
        self.verdict: str | None = None

    def __enter__(self) -> _FakeAnswer:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def success(self) -> None:
        self.verdict = "success"

    def failure(self, text: str) -> None:
        self.verdict = text


class _FakeSession:
    def __init__(self, answers: list[_FakeAnswer]) -> None:
        self.answers = answers
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> _FakeAnswer:
        self.calls.append({"method": method, "url": url, **kwargs})
        return self.answers.pop(0)


def test_locust_times_each_request_under_the_endpoint_name_the_client_gives_it() -> None:
    gzip_header = {"content-type": "application/json", "content-encoding": "gzip"}
    answers = [
        _FakeAnswer(429, b'{"error_code": "rate_limit_exceeded"}', {"retry-after": "1"}),
        _FakeAnswer(202, b'{"job_id": "j1"}', {"location": "/v1/try-on/job/j1"}),
        # geventhttpclient hands the body decoded, its Content-Encoding still attached
        _FakeAnswer(200, b'{"job_id": "j1", "status": "completed"}', gzip_header),
    ]
    session = _FakeSession(list(answers))
    clock = VirtualClock()
    client = TryOnClient(
        "https://t.test",
        "k" * 20,
        transport=Stack(LocustTransport(session), now=clock.now, sleep=clock.advance, record=False),
    )
    body = TryOnRequest.json(person_image_url="https://x/p", wait_for_result=False)
    accepted = client.try_on(body)
    polled = client.job(accepted.headers["location"])
    # Locust shows the method in its own column: the name leaves it out
    names = [f"{call['method']} {call['name']}" for call in session.calls]
    assert names == [
        "POST /v1/try-on (polling)",
        "POST /v1/try-on (polling)",
        "GET /v1/try-on/job/{job_id}",
    ], f"expected endpoint names, not URLs, each method once, got {names}"
    verdicts = [a.verdict for a in answers]
    assert verdicts == ["429 rate_limit_exceeded", "success", "success"], (
        f"expected Locust told a 429 is a failure and the rest successes, got {verdicts}"
    )
    assert polled.json()["status"] == "completed", "expected a body decoded once, not twice"
    assert clock.now() == 1.0, f"expected the 429's Retry-After honoured, waited {clock.now()}"
    assert session.calls[0]["allow_redirects"] is False, "expected redirects left to the client"


def test_a_frozen_body_is_sent_as_encoded_once_with_its_own_content_type() -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(400, json={"error_code": "invalid_parameter"})

    body = TryOnRequest.multipart(
        {"person_image": ("p.jpg", b"\xff\xd8 person", "image/jpeg")}, wait_for_result=False
    )
    frozen = body.frozen()
    client = TryOnClient("https://t.test", "k" * 20, transport=httpx.MockTransport(answer))
    client.try_on(frozen)
    client.try_on(frozen)
    contents = {request.content for request in sent}
    types = {request.headers["content-type"] for request in sent}
    assert contents == {frozen.encode()[0]}, "expected the same encoded bytes each time"
    assert types == {frozen.encode()[1]["Content-Type"]}, f"expected one boundary, got {types}"
    assert b'name="wait_for_result"\r\n\r\nfalse' in sent[0].content, "expected the flag kept"
    assert frozen.waits is False, "expected a frozen body to keep its mode"


# -- a request without an answer, live (the Watch) --------------------------------------------


class _NoAnswer(httpx.BaseTransport):
    """Every request: the connection refused, counted."""

    def __init__(self, error: type[httpx.TransportError] = httpx.ConnectError) -> None:
        self.sent = 0
        self.error = error

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent += 1
        if self.sent > 5:  # a bounded failure, not a hang, should the re-ask loop
            raise AssertionError(f"expected at most 2 attempts, got {self.sent}")
        raise self.error("no answer", request=request)


@pytest.mark.parametrize(
    ("error", "sent"),
    [(httpx.ConnectError, 2), (httpx.RemoteProtocolError, 2), (httpx.ReadTimeout, 1)],
)
def test_a_request_without_an_answer_is_asked_once_more_while_the_target_answers(
    error: type[httpx.TransportError], sent: int
) -> None:
    """Asked again once (never after a timeout), then raised for its check to judge."""
    from tryon_suite.http.watch import Watch

    transport = _NoAnswer(error)
    probes: list[int] = []

    def answered() -> bool:
        probes.append(1)
        return True

    watch = Watch(probe=answered)
    client = TryOnClient(
        "http://target.test", "k-0123456789", transport=Stack(transport, watch=watch)
    )
    with pytest.raises(error):
        client.download("http://results.test/r.jpg")
    assert transport.sent == sent, f"expected {sent} attempts, got {transport.sent}"
    assert len(probes) == sent, f"expected a probe per failed attempt, got {len(probes)}"
    assert watch.stopped is None, f"expected the run going on, got {watch.stopped!r}"


def test_a_target_silent_to_the_probe_stops_the_run_at_the_first_lost_request() -> None:
    from tryon_suite.http.watch import RunStopped, Watch

    transport = _NoAnswer()
    watch = Watch(probe=lambda: False)
    client = TryOnClient(
        "http://target.test", "k-0123456789", transport=Stack(transport, watch=watch)
    )
    with pytest.raises(RunStopped, match="stopped answering"):
        client.credits()
    assert transport.sent == 1, f"expected no second attempt, got {transport.sent}"
    with pytest.raises(RunStopped):
        client.credits()  # nothing more is sent
    assert transport.sent == 1, f"expected nothing sent after the stop, got {transport.sent}"


def test_the_probe_takes_any_answer_from_the_job_endpoint_or_the_balance() -> None:
    """One endpoint that stops answering (the balance, say) is a failure a check judges, not a
    target that stopped answering."""
    from tryon_suite.http.watch import answers

    def balance_hangs(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/credits":
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(401, json={"error_code": "invalid_auth_token"})

    def nothing(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def job_hangs(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/try-on/job/"):
            raise httpx.ReadTimeout("no answer", request=request)
        return httpx.Response(401)

    base = "http://target.test"
    assert answers(base, httpx.MockTransport(balance_hangs)), "expected the job endpoint heard"
    assert answers(base, httpx.MockTransport(job_hangs)), "expected the balance heard"
    assert not answers(base, httpx.MockTransport(nothing)), "expected a silent target silent"


class _Trickle(httpx.SyncByteStream):
    """40 bytes, one per 0.2 s of the client's clock: each read is quick, the whole is not."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.sent = 0

    def __iter__(self):
        for _ in range(40):
            self.clock.advance(0.2)
            self.sent += 1
            yield b" "


def test_an_answer_that_trickles_past_its_timeout_is_cut_as_a_read_timeout() -> None:
    from tryon_suite.http.watch import Timeouts, Watch

    clock = VirtualClock()
    trickle = _Trickle(clock)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=trickle))
    watch = Watch(Timeouts(poll=1.0), probe=lambda: True, now=clock.now)
    client = TryOnClient(
        "http://target.test",
        "k-0123456789",
        transport=Stack(transport, watch=watch, now=clock.now),
    )
    with pytest.raises(httpx.ReadTimeout, match="whole answer within 1 s"):
        client.credits()
    assert trickle.sent < 40, f"expected the answer cut before its end, got all {trickle.sent}"

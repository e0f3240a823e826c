"""The client layer: retry decisions, Retry-After parsing, pacing, budget, multipart bodies."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import httpx
import pytest

from tryon_suite.client import Budget, BudgetExhausted, TryOnClient, TryOnRequest
from tryon_suite.clock import VirtualClock
from tryon_suite.errors import ConfigError
from tryon_suite.retry import Pacer, RetryPolicy, parse_retry_after

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
    client = TryOnClient(
        "https://t.test", "k" * 20, http=httpx.Client(transport=transport), budget=Budget(2)
    )
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
    client = TryOnClient("https://t.test", "k" * 20, http=httpx.Client(transport=transport))
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
    client = TryOnClient(
        "https://t.test", key, http=httpx.Client(transport=transport), sleep=clock.advance
    )
    assert client.credits().status_code == 200
    assert clock.now() == 3.0, f"expected to wait the 3 s Retry-After named, waited {clock.now()}"
    assert client.retries == 1
    shown = repr([e.__dict__ for e in client.exchanges])
    assert key not in shown, "expected the key redacted in the recorded exchanges"

"""Configuration values, key specs, redaction and the body readers' caps."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest

from tryon_suite.errors import ConfigError
from tryon_suite.http.redact import redact, redact_headers, scrub
from tryon_suite.simulator import bodies
from tryon_suite.simulator.config import Account, SimulatorConfig, parse_account
from tryon_suite.simulator.ratelimit import TokenBucket


@pytest.mark.parametrize(
    ("spec", "account"),
    [("k1", Account("k1", 1000)), ("k1:0", Account("k1", 0)), ("a:b:7", None)],
)
def test_a_key_spec_is_key_and_optional_credits(spec: str, account: Account | None) -> None:
    if account is None:
        with pytest.raises(ConfigError, match="whole number"):
            parse_account(spec)
    else:
        assert parse_account(spec) == account, f"expected {account}, got {parse_account(spec)}"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"accounts": ()}, "expected at least one account, got none"),
        (
            {"accounts": (Account("a", 1), Account("a", 2))},
            "expected distinct keys, got 1 repeated",
        ),
        ({"queue_share": 1.5}, "expected queue_share between 0 and 1, got 1.5"),
        ({"burst": 0}, "expected burst >= 1, got 0"),
        ({"processing_time": -1}, "expected processing_time >= 0, got -1"),
    ],
)
def test_a_bad_config_names_the_value(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        SimulatorConfig(**overrides)  # type: ignore[arg-type]
    assert str(info.value) == message, f"expected {message!r}, got {str(info.value)!r}"


def test_keys_are_redacted_everywhere_they_could_leak() -> None:
    key = "live-key-abcdefghijklmnop"
    shown = [redact(k) for k in (key, "short", "CANARY-0123456789abcdef", "a")]
    assert shown == ["****"] * 4, f"expected every key shown as **** (no prefix), got {shown}"
    headers = redact_headers({"X-API-Key": key, "Accept": "*/*"})
    assert headers == {"X-API-Key": "****", "Accept": "*/*"}, f"got {headers}"
    text = scrub(f"sent {key} twice: {key}", [key])
    assert key not in text, f"expected the key scrubbed, got {text!r}"


def test_a_token_bucket_grants_its_capacity_then_names_the_wait() -> None:
    bucket = TokenBucket.full(rate=2.0, capacity=2, now=0.0)
    assert [bucket.take(0.0), bucket.take(0.0)] == [0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5), "expected half a second to the next token"
    assert bucket.take(0.5) == 0.0, "expected a token after half a second"


async def _stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


def test_a_multipart_file_past_the_cap_is_refused_while_streaming() -> None:
    head = b'--b\r\nContent-Disposition: form-data; name="person_image"; filename="p.jpg"\r\n\r\n'
    consumed: list[int] = []

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(64):  # 64 x 64 KiB = 4 MiB against a 1 MiB cap
            consumed.append(1)
            yield b"\xff" * (64 << 10)
        yield b"\r\n--b--\r\n"

    result = anyio.run(bodies.read_multipart, body(), "b", 1 << 20)
    assert result == bodies.BodyProblem(
        "file_size_too_large", "person_image: expected at most 1048576 bytes, got more"
    ), f"got {result}"
    assert len(consumed) == 64, "expected the rest drained so the client sees the answer"


def test_a_json_body_past_one_mebibyte_is_refused() -> None:
    result = anyio.run(bodies.read_json, _stream(b"[" * (1 << 20), b"1"))
    assert isinstance(result, bodies.BodyProblem), f"expected a problem, got {type(result)}"
    assert result.error_code == "invalid_request_body", f"got {result}"


def test_deeply_nested_json_is_a_clear_400_not_a_crash() -> None:
    result = anyio.run(bodies.read_json, _stream(b"[" * 100_000 + b"]" * 100_000))
    assert isinstance(result, bodies.BodyProblem), f"expected a problem, got {type(result)}"


@pytest.mark.parametrize("name", ["rate_limit", "processing_time", "latency"])
@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_non_finite_time_or_rate_is_refused(name: str, value: float) -> None:
    with pytest.raises(ConfigError, match=f"expected a finite {name}"):
        SimulatorConfig(**{name: value})  # type: ignore[arg-type]


def test_a_multipart_body_cut_before_its_closing_boundary_is_refused() -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="wait_for_result"\r\n\r\nfalse\r\n'
        b'--b\r\nContent-Disposition: form-data; name="garment_mode"\r\n\r\nup'
    )
    result = anyio.run(bodies.read_multipart, _stream(body), "b", 1 << 20)
    assert result == bodies.BodyProblem(
        "invalid_request_body", "expected a multipart body ending in its closing boundary"
    ), f"got {result}"


def test_json_errors_name_the_place_not_python_internals() -> None:
    result = anyio.run(bodies.read_json, _stream(b'{"a": 1,}'))
    assert isinstance(result, bodies.BodyProblem)
    assert result.message.startswith("expected valid JSON, got expecting property name"), result
    huge = anyio.run(bodies.read_json, _stream(b'{"wait_for_result": ' + b"9" * 5000 + b"}"))
    assert isinstance(huge, bodies.BodyProblem)
    assert huge.message == "expected valid JSON, got a number or nesting too large to read", huge


def test_against_a_live_target_hypothesis_does_not_shrink() -> None:
    """A failure found live is reported as found: shrinking it would spend requests (and
    credits) on a smaller example. Measured against tryon-mock at 15/s with every option: a
    failing run sent 217 and 340 requests with shrinking, 184 and 167 without; passing, 179."""
    from hypothesis import Phase, settings

    import tryon_suite.suite.options  # noqa: F401  (registers the profiles)

    phases = settings.get_profile("live").phases
    assert Phase.shrink not in phases, f"expected no shrink phase live, got {phases}"
    assert Phase.generate in phases, f"expected examples still generated live, got {phases}"

"""The `Readings` value: the default is the simulator's own answer to each open point, and each
field alone changes exactly the answer it names, over the in-process transport.

Each probe asks one open point (one request, or a few) and sums up only the answer that point
governs, so a field changing another probe's summary would be a reading leaking into another.
"""

from __future__ import annotations

import contextlib
import email.utils
import uuid
from collections.abc import Callable, Iterator
from dataclasses import fields, replace
from typing import Any

import httpx
import pytest

from tests.conftest import QUIET, Opened
from tryon_suite.errors import ConfigError
from tryon_suite.http.clock import VirtualClock
from tryon_suite.simulator.config import DEMO_KEY, NO_CREDITS_KEY, OTHER_KEY
from tryon_suite.simulator.core import Simulator
from tryon_suite.simulator.inprocess import InProcessSimulator
from tryon_suite.simulator.readings import BALANCE, OPENING, Readings
from tryon_suite.spec.fixture_images import FixtureImages
from tryon_suite.spec.schemas import limit_profile
from tryon_suite.suite.targets import fixture_fetcher

#: The reference limits with "25 MB" scaled down to 1 MB (1,000,000 or 1,048,576 bytes), so the
#: files between and past the two readings are small enough to send for every field.
PROFILE = replace(
    limit_profile(), name="small", max_file_bytes_low=1_000_000, max_file_bytes_high=1_048_576
)
IMAGES = FixtureImages(PROFILE)
NEVER_ISSUED = "00000000-0000-4000-8000-000000000000"
MISSING_IMAGES = {"garment_mode": "upper"}  # no image: a body refused for that alone

# about 18 s on 2 cores: a probe per open point and per change of each field
pytestmark = pytest.mark.slow(18)


@contextlib.contextmanager
def opened(readings: Readings) -> Iterator[Opened]:
    """A simulator with `readings`, limited to 5 requests a second, on a virtual clock."""
    # every polled job fails in processing, so its error_code shows
    config = replace(QUIET, limits=PROFILE, rate_limit=5.0, job_failure_rate=1.0, readings=readings)
    simulator = Simulator(config, VirtualClock(), fixture_fetcher(IMAGES))
    with (
        InProcessSimulator(simulator=simulator) as sim,
        sim.client(headers={"X-API-KEY": DEMO_KEY}) as client,
    ):
        yield Opened(sim, client, IMAGES, pace=10.0)  # the bucket refills before each try-on


def _code(response: httpx.Response) -> tuple[int, str | None]:
    try:
        body = response.json()
    except ValueError:
        body = None
    return response.status_code, body.get("error_code") if isinstance(body, dict) else None


def _form(header: str | None) -> str:
    """Which form of Retry-After a 429 carried."""
    if header is None:
        return "absent"
    if header.isdigit():
        return "seconds"
    assert email.utils.parsedate_to_datetime(header), f"expected an HTTP-date, got {header!r}"
    if "," not in header:
        return "asctime"
    return "rfc850" if "-" in header.split()[1] else "imf-fixdate"


def _accepted(s: Opened) -> httpx.Response:
    response = s.multipart(wait_for_result="false")
    assert response.status_code == 202, f"expected 202, got {response.status_code}: {response.text}"
    return response


def _location(s: Opened) -> str:
    accepted = _accepted(s)
    where = accepted.headers["location"].replace(accepted.json()["job_id"], "{id}")
    return where.replace(s.sim.base_url, "<base>")


def _job_ids(s: Opened) -> str:
    job_id = str(_accepted(s).json()["job_id"])
    with contextlib.suppress(ValueError):
        return f"uuid {uuid.UUID(job_id).version}"
    return job_id[:3] + "..."


def _polls(s: Opened, key: str = DEMO_KEY) -> httpx.Response:
    return s.client.get(f"/v1/try-on/job/{NEVER_ISSUED}", headers={"X-API-KEY": key})


def _burst(s: Opened, send: Callable[[], httpx.Response]) -> list[httpx.Response]:
    s.advance(10)
    return [send() for _ in range(6)]


def _try_on(s: Opened) -> httpx.Response:
    """A valid try-on, sent at once (`Opened.multipart` lets the bucket refill first)."""
    files = {
        f"{name}_image": (fixture, IMAGES[fixture], IMAGES.mime_type(fixture))
        for name, fixture in (("person", "person.jpg"), ("garment", "garment.png"))
    }
    return s.client.post("/v1/try-on", files=files)


def _no_credits_bad_body(s: Opened) -> tuple[int, str | None]:
    return _code(
        s.client.post("/v1/try-on", json=MISSING_IMAGES, headers={"X-API-KEY": NO_CREDITS_KEY})
    )


def _result(s: Opened) -> str:
    response = s.multipart()
    assert response.status_code == 200, f"expected 200, got {response.status_code}: {response.text}"
    return str(response.json()["result_url"])


def _expired(s: Opened) -> tuple[int, bool]:
    url = _result(s)
    s.advance(3700)
    late = s.client.get(url, follow_redirects=True)
    return late.status_code, "xml" in late.headers.get("content-type", "")


def _credits(s: Opened) -> tuple[int, Any]:
    answer = s.client.get("/v1/credits", headers={"X-API-KEY": OTHER_KEY})  # never charged
    body = answer.json()
    if isinstance(body, dict):  # the extra field every JSON answer may carry is extra_fields'
        body.pop("request_id", None)
    return answer.status_code, body


#: probe name -> what it asks, summed up as the one answer it is about
PROBES: dict[str, Callable[[Opened], object]] = {
    "location": _location,
    "job_ids": _job_ids,
    "accepted_fields": lambda s: _accepted(s).json().get("status"),
    "unknown_job": lambda s: _code(_polls(s)),
    "foreign_job": lambda s: _code(s.job(_accepted(s), key=OTHER_KEY)),
    "async_validation": lambda s: s.multipart("truncated.jpg", wait_for_result="false").status_code,
    "job_error_code": lambda s: s.job(_accepted(s)).json()["error"]["error_code"],
    "retry_after": lambda s: _form(_burst(s, lambda: _try_on(s))[-1].headers.get("retry-after")),
    "refused bodies count": lambda s: (
        429 in [r.status_code for r in _burst(s, lambda: s.client.post("/v1/try-on", json={}))]
    ),
    "limit_reads": lambda s: 429 in [r.status_code for r in _burst(s, lambda: _polls(s))],
    "bad key, bad body": lambda s: _code(
        s.client.post("/v1/try-on", json=MISSING_IMAGES, headers={"X-API-KEY": "wrong"})
    ),
    "bad garment_mode, bad image": lambda s: _code(
        s.multipart("truncated.jpg", garment_mode="sideways")
    ),
    "no credits, bad body": _no_credits_bad_body,
    "no_content_type_code": lambda s: _code(
        s.client.post("/v1/try-on", content=b"x", headers={"content-type": ""})
    ),
    "wrong_type_code": lambda s: _code(s.json(remove_background="yes")),
    "unknown_field_code": lambda s: _code(s.json(style="casual")),
    "form_flags_any_case": lambda s: s.multipart(wait_for_result="True").status_code,
    "form_flags_digits": lambda s: s.multipart(wait_for_result="1").status_code,
    "empty_file": lambda s: _code(s.multipart("empty.jpg")),
    "upload_too_large_status": lambda s: _code(s.multipart("oversize.jpg")),
    "formats": lambda s: (
        s.multipart("person.webp").status_code,
        s.multipart("photo.gif").status_code,
    ),
    "megabyte": lambda s: _code(s.multipart("between.jpg")),
    "resolution_bound": lambda s: s.multipart("narrow.png").status_code,
    "too_small_code": lambda s: _code(s.multipart("too-small.jpg")),
    "flat_images": lambda s: _code(s.multipart("plain.png")),
    "unreachable_url_code": lambda s: _code(s.json("no-such.png")),
    "json_type": lambda s: _polls(s).headers["content-type"],
    "extra_fields": lambda s: sorted(set(_polls(s).json()) - {"error", "error_code"}),
    "date_header": lambda s: "date" in _polls(s).headers,
    "auth_challenge": lambda s: _polls(s, key="wrong").headers.get("www-authenticate"),
    "credits_body": _credits,
    "result_type": lambda s: s.client.get(_result(s), follow_redirects=True).headers[
        "content-type"
    ],
    "signed_result_urls": lambda s: "signature=" in _result(s),
    "result_redirect": lambda s: s.client.get(_result(s)).status_code,
    "expired_result": _expired,
}

#: The simulator's own answers (the default `Readings()`), as it gave them before readings
#: were data.
OURS: dict[str, object] = {
    "location": "<base>/v1/try-on/job/{id}",
    "job_ids": "uuid 4",
    "accepted_fields": None,
    "unknown_job": (404, "job_not_found"),
    "foreign_job": (404, "job_not_found"),
    "async_validation": 400,
    "job_error_code": "content_filter_error",
    "retry_after": "seconds",
    "refused bodies count": True,
    "limit_reads": True,
    "bad key, bad body": (401, "invalid_auth_token"),
    "bad garment_mode, bad image": (400, "invalid_parameter"),
    "no credits, bad body": (400, "missing_parameter"),
    "no_content_type_code": (400, "unsupported_content_type"),
    "wrong_type_code": (400, "invalid_parameter"),
    "unknown_field_code": (400, "invalid_parameter"),
    "form_flags_any_case": 200,
    "form_flags_digits": 400,
    "empty_file": (400, "malformed_image"),
    "upload_too_large_status": (400, "file_size_too_large"),
    "formats": (200, 400),
    "megabyte": (200, None),
    "resolution_bound": 400,
    "too_small_code": (400, "invalid_parameter"),
    "flat_images": (400, "unknown_foreground"),
    "unreachable_url_code": (400, "invalid_parameter"),
    "json_type": "application/json",
    "extra_fields": [],
    "date_header": False,
    "auth_challenge": None,
    "credits_body": (200, {"credits": 1_000_000}),
    "result_type": "image/jpeg",
    "signed_result_urls": False,
    "result_redirect": 200,
    "expired_result": (404, False),
}

IMAGES_FIRST = ("auth", "rate_limit", "body", "images", "garment_mode", "credits")
#: (field, another value, the probe it changes, that probe's answer then)
CHANGES: list[tuple[str, object, str, object]] = [
    ("location", "path", "location", "/v1/try-on/job/{id}"),
    ("location", "relative", "location", "try-on/job/{id}"),
    ("job_ids", "opaque", "job_ids", "tj_..."),
    ("accepted_fields", '{"status": "pending"}', "accepted_fields", "pending"),
    ("unknown_job", (400, "invalid_parameter"), "unknown_job", (400, "invalid_parameter")),
    ("foreign_job", (403, "forbidden"), "foreign_job", (403, "forbidden")),
    ("async_validation", "fail_job", "async_validation", 202),
    ("job_error_code", "moderation_error", "job_error_code", "moderation_error"),
    ("retry_after", "imf-fixdate", "retry_after", "imf-fixdate"),
    ("retry_after", "rfc850", "retry_after", "rfc850"),
    ("retry_after", "asctime", "retry_after", "asctime"),
    ("retry_after", "absent", "retry_after", "absent"),
    ("limit_reads", False, "limit_reads", False),
    (
        "check_order",
        ("rate_limit", "body", "auth", "images", "credits"),
        "bad key, bad body",
        (400, "missing_parameter"),
    ),
    ("check_order", IMAGES_FIRST, "bad garment_mode, bad image", (400, "malformed_image")),
    (
        "check_order",
        ("auth", "body", "images", "rate_limit", "credits"),
        "refused bodies count",
        False,
    ),
    (
        "check_order",
        ("auth", "rate_limit", "credits", "body", "images"),
        "no credits, bad body",
        (403, "insufficient_api_credits"),
    ),
    (
        "no_content_type_code",
        "invalid_request_body",
        "no_content_type_code",
        (400, "invalid_request_body"),
    ),
    ("wrong_type_code", "invalid_request_body", "wrong_type_code", (400, "invalid_request_body")),
    ("unknown_field_code", None, "unknown_field_code", (200, None)),
    (
        "unknown_field_code",
        "invalid_request_body",
        "unknown_field_code",
        (400, "invalid_request_body"),
    ),
    ("form_flags_any_case", False, "form_flags_any_case", 400),
    ("form_flags_digits", True, "form_flags_digits", 200),
    ("empty_file", "absent", "empty_file", (400, "missing_parameter")),
    ("upload_too_large_status", 413, "upload_too_large_status", (413, "file_size_too_large")),
    ("formats", ("JPEG", "PNG", "GIF"), "formats", (400, 200)),
    ("megabyte", "MB", "megabyte", (400, "file_size_too_large")),
    ("resolution_bound", "pixels", "resolution_bound", 200),
    ("too_small_code", "malformed_image", "too_small_code", (400, "malformed_image")),
    ("flat_images", "processed", "flat_images", (200, None)),
    ("unreachable_url_code", "malformed_image", "unreachable_url_code", (400, "malformed_image")),
    (
        "json_type",
        "application/JSON; charset=UTF-8",
        "json_type",
        "application/JSON; charset=UTF-8",
    ),
    ("extra_fields", '{"request_id": "req_{n}"}', "extra_fields", ["request_id"]),
    ("date_header", True, "date_header", True),
    ("auth_challenge", "ApiKey", "auth_challenge", "ApiKey"),
    (
        "credits_body",
        None,
        "credits_body",
        (404, {"error": "no route for /v1/credits", "error_code": "not_found"}),
    ),
    ("credits_body", BALANCE, "credits_body", (200, 1_000_000)),
    (
        "credits_body",
        f'{{"total": {OPENING}, "remaining": {BALANCE}}}',
        "credits_body",
        (200, {"total": 1_000_000, "remaining": 1_000_000}),
    ),
    ("result_type", "application/octet-stream", "result_type", "application/octet-stream"),
    ("signed_result_urls", True, "signed_result_urls", True),
    ("result_redirect", True, "result_redirect", 302),
    ("expired_result", "access_denied", "expired_result", (403, True)),
]


def _answers(readings: Readings) -> dict[str, object]:
    with opened(readings) as server:
        return {name: probe(server) for name, probe in PROBES.items()}


@pytest.fixture(scope="module")
def ours() -> dict[str, object]:
    return _answers(Readings())


def test_the_default_readings_are_the_simulators_own_answers(ours: dict[str, object]) -> None:
    differing = {k: (OURS[k], ours[k]) for k in OURS if OURS[k] != ours[k]}
    assert not differing, (
        f"expected the simulator's own answers: probe -> (expected, got) {differing}"
    )


@pytest.mark.parametrize(
    ("name", "value", "probe", "answer"),
    CHANGES,
    ids=[f"{name}={value!r}"[:60] for name, value, _, _ in CHANGES],
)
def test_each_field_alone_changes_exactly_its_answer(
    ours: dict[str, object], name: str, value: object, probe: str, answer: object
) -> None:
    changes: dict[str, Any] = {name: value}
    got = _answers(Readings(**changes))
    expected = {**ours, probe: answer}
    differing = {k: (expected[k], got[k]) for k in PROBES if expected[k] != got[k]}
    assert not differing, (
        f"{name}={value!r}: expected only {probe!r} to change, to {answer!r}; "
        f"probe -> (expected, got) {differing}"
    )


def test_every_field_is_changed_by_some_case() -> None:
    changed = {name for name, _, _, _ in CHANGES}
    unchanged = sorted({f.name for f in fields(Readings)} - changed)
    assert not unchanged, f"expected a case for every field of Readings, got none for {unchanged}"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"check_order": ("auth", "body", "images", "credits")}, "to name each of"),
        (
            {"check_order": ("auth", "rate_limit", "images", "body", "credits")},
            "body before images",
        ),
        (
            {"check_order": ("auth", "rate_limit", "garment_mode", "body", "images", "credits")},
            "garment_mode after body",
        ),
        ({"extra_fields": "[1]"}, "extra_fields to be a JSON object"),
        ({"credits_body": '{"credits": }'}, "expected JSON in a reading"),
    ],
)
def test_a_reading_that_cannot_be_served_is_refused_when_made(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Readings(**changes)

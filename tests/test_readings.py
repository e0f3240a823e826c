"""The other-readings servers read each open point as they claim (tests/readings.py), so the
verdict test that runs the suite against them proves the suite accepts those readings."""

from __future__ import annotations

import email.utils
import io
from collections.abc import Callable

import httpx
import pytest
from PIL import Image

from tests.conftest import Opened
from tests.readings import READINGS_1, SERVERS, ReadingServer
from tryon_suite.http.clock import VirtualClock
from tryon_suite.simulator.config import NO_CREDITS_KEY, OTHER_KEY
from tryon_suite.spec.fixture_images import FixtureImages
from tryon_suite.suite.targets import fixture_fetcher

NEVER_ISSUED = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(params=["readings1", "readings2"])
def server(
    request: pytest.FixtureRequest,
    open_in_process: Callable[..., Opened],
    fixture_images: FixtureImages,
) -> Opened:
    """One reading server, a second passing before each try-on to stay under its rate limit."""
    reading = SERVERS[request.param].simulator(
        VirtualClock(), fetcher=fixture_fetcher(fixture_images)
    )
    return open_in_process(reading, pace=1.0)


def reading_of(server: Opened) -> ReadingServer:
    readings = server.sim.simulator.readings
    found = [s for s in SERVERS.values() if s.readings == readings]
    assert found, f"expected a reading server, got {readings!r}"
    return found[0]


def answer(response: httpx.Response) -> tuple[int, str | None]:
    body = response.json()
    return response.status_code, body.get("error_code") if isinstance(body, dict) else None


def first(server: Opened) -> bool:
    return reading_of(server).readings == READINGS_1


#: readings both servers share: (request, expected status and error_code)
SHARED: dict[str, tuple[Callable[[Opened], httpx.Response], tuple[int, str | None]]] = {
    "too small: malformed_image": (
        lambda s: s.multipart("too-small.png"),
        (400, "malformed_image"),
    ),
    "25 MB is 25,000,000 bytes": (
        lambda s: s.multipart("between.jpg"),
        (400, "file_size_too_large"),
    ),
    "GIF accepted": (lambda s: s.multipart("photo.gif"), (200, None)),
    "WEBP refused": (lambda s: s.multipart("person.webp"), (400, "unsupported_image_format")),
    "the pixel count bounds the size": (lambda s: s.multipart("narrow.png"), (200, None)),
    "form flag 'True' refused": (
        lambda s: s.multipart(wait_for_result="True"),
        (400, "invalid_request_body"),
    ),
    "form flag '1' taken": (lambda s: s.multipart(wait_for_result="1"), (200, None)),
    "a JSON flag of another type": (
        lambda s: s.json(remove_background="yes"),
        (400, "invalid_request_body"),
    ),
    "images before garment_mode": (
        lambda s: s.multipart("truncated.jpg", garment_mode="sideways"),
        (400, "malformed_image"),
    ),
    "unreachable URL: malformed_image": (
        lambda s: s.json("no-such.png"),
        (400, "malformed_image"),
    ),
    "no Content-Type: invalid_request_body": (
        lambda s: s.client.post("/v1/try-on", content=b"x", headers={"content-type": ""}),
        (400, "invalid_request_body"),
    ),
}


@pytest.mark.parametrize("case", list(SHARED))
def test_both_servers_read_the_shared_points_otherwise(server: Opened, case: str) -> None:
    send, expected = SHARED[case]
    got = answer(send(server))
    assert got == expected, f"{case}: expected {expected}, got {got}"


def test_each_answer_carries_extra_fields_and_a_json_type_with_parameters(server: Opened) -> None:
    response = server.multipart(garment_mode="sideways")
    extra = "request_id" if first(server) else "meta"
    assert extra in response.json(), response.text
    kind = response.headers["content-type"]
    assert kind != "application/json", "expected a media type with parameters"
    assert kind.lower().startswith("application/json;"), kind


def test_location_is_relative_to_the_request_url_or_an_absolute_path(server: Opened) -> None:
    accepted = server.multipart(wait_for_result="false")
    job_id = accepted.json()["job_id"]
    expected = f"try-on/job/{job_id}" if first(server) else f"/v1/try-on/job/{job_id}"
    assert accepted.headers["location"] == expected
    first_status = server.job(accepted).json()["status"]
    assert first_status == ("running" if first(server) else "pending"), first_status


def test_retry_after_is_an_http_date(server: Opened) -> None:
    server.advance(10)
    refused = [server.client.post("/v1/try-on", json={}) for _ in range(4)][-1]
    assert refused.status_code == 429, refused.text
    header = refused.headers["retry-after"]
    if first(server):
        assert header.endswith(" GMT"), f"expected an IMF-fixdate, got {header}"
        assert email.utils.parsedate_to_datetime(header), header
    else:
        assert len(header.split()) == 5, f"expected an asctime date, got {header}"
        assert "," not in header, f"expected an asctime date, got {header}"
    polls = [server.client.get("/v1/credits").status_code for _ in range(6)]
    assert polls == [200] * 6, f"expected reads not rate limited, got {polls}"


def test_the_credit_balance_is_an_object_or_a_bare_number(server: Opened) -> None:
    balance = server.client.get("/v1/credits").json()
    if first(server):
        assert {"total", "remaining"} <= set(balance), balance
    else:
        assert isinstance(balance, int), balance


def test_unknown_and_foreign_jobs(server: Opened) -> None:
    unknown = server.client.get(f"/v1/try-on/job/{NEVER_ISSUED}")
    foreign = server.job(server.multipart(wait_for_result="false"), key=OTHER_KEY)
    if first(server):
        assert answer(unknown) == (400, "invalid_parameter")
        assert foreign.status_code == 403, foreign.text
    else:
        assert unknown.status_code == foreign.status_code == 404


def test_a_flat_image_is_processed_or_fails_its_job(server: Opened) -> None:
    waited = server.multipart("plain.png")
    accepted = server.multipart("plain.png", wait_for_result="false")
    assert accepted.status_code == 202, accepted.text
    server.advance(1.0)
    job = server.job(accepted).json()
    if first(server):
        assert waited.status_code == 200, waited.text
        assert job["status"] == "completed", job
    else:
        assert answer(waited) == (400, "unknown_foreground")
        assert job["status"] == "failed", job
        assert job["error"]["error_code"] == "unknown_foreground", job


def test_an_unknown_request_field_is_ignored_or_refused(server: Opened) -> None:
    got = answer(server.json(style="casual"))
    assert got == ((200, None) if first(server) else (400, "invalid_request_body")), got


def test_the_result_downloads_directly_or_through_a_redirect(server: Opened) -> None:
    url = server.multipart().json()["result_url"]
    assert "signature=" in url, url
    direct = server.client.get(url)
    if first(server):
        assert direct.status_code == 200
    else:
        assert direct.status_code == 302, direct.status_code
        direct = server.client.get(url, follow_redirects=True)
    assert direct.headers["content-type"] == "application/octet-stream"
    with Image.open(io.BytesIO(direct.content)) as image:
        assert image.format == "JPEG"
    server.advance(3700)
    expired = server.client.get(url, follow_redirects=True)
    assert expired.status_code == 403, expired.text
    assert "xml" in expired.headers["content-type"], expired.headers


def test_a_bad_image_in_polling_mode_is_accepted_and_its_job_fails(server: Opened) -> None:
    accepted = server.multipart("truncated.jpg", wait_for_result="false")
    assert accepted.status_code == 202, accepted.text
    server.advance(1.0)
    job = server.job(accepted).json()
    assert job["status"] == "failed", job
    assert job["error"]["error_code"] == "malformed_image", job


def test_the_checks_come_in_another_order(server: Opened) -> None:
    """Credits after the body (both); the body before the key (OtherReadings2)."""
    no_credits = {"X-API-KEY": NO_CREDITS_KEY}
    bad_body = {"garment_mode": "sideways"}
    refused = server.client.post("/v1/try-on", json=bad_body, headers=no_credits)
    assert answer(refused) == (400, "missing_parameter"), refused.text
    assert server.multipart(garment_mode="auto").status_code == 200
    server.client.headers["X-API-KEY"] = NO_CREDITS_KEY
    assert answer(server.multipart()) == (403, "insufficient_api_credits")
    server.client.headers["X-API-KEY"] = "wrong"
    wrong_key = server.client.post("/v1/try-on", json=bad_body)
    expected = (401, "invalid_auth_token") if first(server) else (400, "missing_parameter")
    assert answer(wrong_key) == expected, wrong_key.text
    unknown_key = server.multipart()
    assert answer(unknown_key) == (401, "invalid_auth_token"), unknown_key.text
    assert unknown_key.headers["www-authenticate"].startswith("ApiKey"), unknown_key.headers


def test_the_third_server_reads_its_own_points(open_in_process: Callable[..., Opened]) -> None:
    server = open_in_process(SERVERS["readings3"].simulator(VirtualClock()), pace=1.0)
    refused = [server.client.post("/v1/try-on", json={}) for _ in range(4)][-1]
    assert refused.status_code == 429, refused.text
    assert "retry-after" not in refused.headers, refused.headers
    balance = server.client.get("/v1/credits").json()
    assert balance["data"]["credits"]["available"] == 1_000_000, balance
    too_large = server.multipart("oversize.jpg")
    assert answer(too_large) == (413, "file_size_too_large"), too_large.text
    too_small = server.multipart("too-small.jpg")
    assert answer(too_small) == (400, "unsupported_image_format"), too_small.text


def test_an_empty_body_is_missing_parameter_only_where_the_server_departs(server: Opened) -> None:
    empty = server.client.post(
        "/v1/try-on", content=b"", headers={"content-type": "application/json"}
    )
    departs = bool(reading_of(server).departures)
    expected = "missing_parameter" if departs else "invalid_request_body"
    assert answer(empty) == (400, expected), empty.text

"""The simulator conforms through both faces: in process (a transport) and over HTTP (uvicorn).

Every answer is checked against the schema for its status; each behaviour has a test.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import Face
from tryon_suite.simulator.config import DEMO_KEY, NO_CREDITS_KEY, OTHER_KEY
from tryon_suite.simulator.imageserver import ImageServer
from tryon_suite.suite.checks import Endpoint, answer_problem

FaceFactory = Callable[..., Face]


def conforming(response: httpx.Response, endpoint: Endpoint = "try-on") -> httpx.Response:
    problem = answer_problem(endpoint, response)
    assert problem is None, f"expected an answer that matches its schema, got: {problem}"
    return response


def expect(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    got = (response.status_code, body.get("error_code"))
    assert got == (status, code), f"expected {(status, code)}, got {got} with body {body}"
    return body


def files(person: bytes, garment: bytes) -> dict[str, tuple[str, bytes, str]]:
    return {
        "person_image": ("person.jpg", person, "image/jpeg"),
        "garment_image": ("garment.png", garment, "image/png"),
    }


def assert_is_jpeg(client: httpx.Client, url: str) -> None:
    image = client.get(url)
    assert image.status_code == 200, (
        f"expected the result URL to answer 200, got {image.status_code}"
    )
    assert image.headers["content-type"] == "image/jpeg", (
        f"expected image/jpeg, got {image.headers['content-type']}"
    )
    with Image.open(io.BytesIO(image.content)) as decoded:
        decoded.load()
        assert decoded.format == "JPEG", f"expected JPEG bytes, got {decoded.format}"


@pytest.mark.parametrize("mode", ["auto", "full", "upper", "lower"])
def test_it_answers_a_multipart_try_on_with_a_jpeg_result_url(
    face_factory: FaceFactory, person_jpeg: bytes, garment_png: bytes, mode: str
) -> None:
    face = face_factory()
    client = face.client()
    data = {"garment_mode": mode, "preprocess_garment": "false", "remove_background": "true"}
    response = conforming(
        client.post("/v1/try-on", files=files(person_jpeg, garment_png), data=data)
    )
    body = expect(response, 200)
    assert body["result_url"].startswith(face.base_url + "/results/"), f"got {body}"
    assert_is_jpeg(client, body["result_url"])


def test_it_answers_a_json_try_on_by_fetching_both_urls(
    face_factory: FaceFactory, image_server: ImageServer
) -> None:
    face = face_factory()
    client = face.client()
    body = {
        "person_image_url": image_server.base_url + "/person.jpg",
        "garment_image_url": image_server.base_url + "/garment.png",
        "garment_mode": "upper",
        "preprocess_garment": True,
        "remove_background": False,
        "wait_for_result": True,
    }
    result = expect(conforming(client.post("/v1/try-on", json=body)), 200)
    assert_is_jpeg(client, result["result_url"])


@pytest.mark.parametrize("location", ["absolute", "relative"])
def test_it_answers_202_with_a_location_to_poll_when_not_waiting(
    face_factory: FaceFactory, person_jpeg: bytes, garment_png: bytes, location: str
) -> None:
    face = face_factory(location=location)
    client = face.client()
    response = conforming(
        client.post(
            "/v1/try-on", files=files(person_jpeg, garment_png), data={"wait_for_result": "False"}
        )
    )
    job_id = expect(response, 202)["job_id"]
    where = response.headers["location"]
    expected = f"/v1/try-on/job/{job_id}"
    if location == "absolute":
        expected = face.base_url + expected
    assert where == expected, f"expected Location {expected}, got {where}"
    status = expect(conforming(client.get(where), "job"), 200)
    assert status["status"] == "completed", f"expected a finished job (no processing), got {status}"
    assert_is_jpeg(client, status["result_url"])


def test_a_multipart_file_wins_over_its_url(
    face_factory: FaceFactory, person_jpeg: bytes, garment_png: bytes
) -> None:
    client = face_factory().client()
    data = {
        "person_image_url": "http://127.0.0.1:9/unreachable.jpg",
        "garment_image_url": "http://127.0.0.1:9/unreachable.png",
    }
    response = client.post("/v1/try-on", files=files(person_jpeg, garment_png), data=data)
    expect(conforming(response), 200)


def _bad_requests(
    person: bytes, garment: bytes, images: ImageServer
) -> list[tuple[str, dict[str, Any], str]]:
    """(why, httpx keyword arguments, expected error_code), one violation each."""
    url = images.base_url
    ok_json = {"person_image_url": url + "/person.jpg", "garment_image_url": url + "/garment.png"}
    oversize = person + b"\0" * (26_214_400 + 1 - len(person))
    return [
        (
            "empty JSON body",
            {"content": b"", "headers": {"content-type": "application/json"}},
            "invalid_request_body",
        ),
        (
            "not JSON",
            {"content": b"{nope", "headers": {"content-type": "application/json"}},
            "invalid_request_body",
        ),
        ("a JSON array", {"json": [1, 2]}, "invalid_request_body"),
        (
            "text/plain",
            {"content": b"hello", "headers": {"content-type": "text/plain"}},
            "unsupported_content_type",
        ),
        ("no content type", {"content": b"{}"}, "unsupported_content_type"),
        ("no garment", {"json": {"person_image_url": url + "/person.jpg"}}, "missing_parameter"),
        (
            "no images at all",
            {"files": {"garment_mode": (None, b"upper")}},
            "missing_parameter",
        ),
        ("bad garment_mode", {"json": {**ok_json, "garment_mode": "torso"}}, "invalid_parameter"),
        ("an unknown JSON field", {"json": {**ok_json, "style": "casual"}}, "invalid_parameter"),
        (
            "a stray file part",
            {"files": {**files(person, garment), "extra": ("x.txt", b"x", "text/plain")}},
            "invalid_parameter",
        ),
        (
            "a flag as a string in JSON",
            {"json": {**ok_json, "wait_for_result": "yes"}},
            "invalid_parameter",
        ),
        ("a URL as a number", {"json": {**ok_json, "person_image_url": 7}}, "invalid_parameter"),
        (
            "a flag that is not a boolean in a form",
            {"files": files(person, garment), "data": {"remove_background": "maybe"}},
            "invalid_parameter",
        ),
        (
            "an image URL that answers 404",
            {"json": {**ok_json, "garment_image_url": url + "/x.png"}},
            "invalid_parameter",
        ),
        (
            "a too-small image",
            {"json": {**ok_json, "person_image_url": url + "/tiny.png"}},
            "invalid_parameter",
        ),
        ("a file past 25 MB", {"files": files(oversize, garment)}, "file_size_too_large"),
        (
            "a too-high resolution",
            {"json": {**ok_json, "person_image_url": url + "/huge.png"}},
            "resolution_too_high",
        ),
        (
            "random bytes",
            {"json": {**ok_json, "garment_image_url": url + "/random.jpg"}},
            "malformed_image",
        ),
        (
            "a truncated JPEG",
            {"files": files(person[: len(person) // 2], garment)},
            "malformed_image",
        ),
        (
            "a GIF",
            {"json": {**ok_json, "person_image_url": url + "/photo.gif"}},
            "unsupported_image_format",
        ),
        (
            "a single-colour garment",
            {"json": {**ok_json, "garment_image_url": url + "/plain.png"}},
            "unknown_foreground",
        ),
    ]


def test_every_400_code_is_provoked_by_a_real_input(
    face_factory: FaceFactory, person_jpeg: bytes, garment_png: bytes, image_server: ImageServer
) -> None:
    client = face_factory().client()
    before = client.get("/v1/credits").json()["credits"]
    seen = set()
    for why, kwargs, code in _bad_requests(person_jpeg, garment_png, image_server):
        response = conforming(client.post("/v1/try-on", **kwargs))
        body = response.json()
        got = (response.status_code, body.get("error_code"))
        assert got == (400, code), f"{why}: expected (400, {code}), got {got}: {body['error']}"
        seen.add(code)
    assert len(seen) == 9, f"expected all nine documented 400 codes, saw {sorted(seen)}"
    after = client.get("/v1/credits").json()["credits"]
    assert after == before, (
        f"expected refused requests to cost nothing, balance {before} -> {after}"
    )


@pytest.mark.parametrize("key", [None, "", "wrong-key"])
def test_a_missing_or_wrong_key_gets_401_on_both_endpoints(
    face_factory: FaceFactory, person_jpeg: bytes, garment_png: bytes, key: str | None
) -> None:
    face = face_factory()
    job_id = (
        face.client()
        .post(
            "/v1/try-on", files=files(person_jpeg, garment_png), data={"wait_for_result": "false"}
        )
        .json()["job_id"]
    )
    client = face.client(key)
    expect(
        conforming(client.post("/v1/try-on", files=files(person_jpeg, garment_png))),
        401,
        "invalid_auth_token",
    )
    expect(conforming(client.get(f"/v1/try-on/job/{job_id}"), "job"), 401, "invalid_auth_token")


@pytest.mark.parametrize("header", ["X-API-KEY", "X-API-Key", "x-api-key"])
def test_the_key_header_name_is_case_insensitive(
    face_factory: FaceFactory, person_jpeg: bytes, garment_png: bytes, header: str
) -> None:
    face = face_factory()
    client = face.client(None)
    response = client.post(
        "/v1/try-on", files=files(person_jpeg, garment_png), headers={header: DEMO_KEY}
    )
    expect(conforming(response), 200)


def test_a_key_with_no_credits_gets_403_and_is_not_a_401(
    face_factory: FaceFactory, person_jpeg: bytes, garment_png: bytes
) -> None:
    client = face_factory().client(NO_CREDITS_KEY)
    response = client.post("/v1/try-on", files=files(person_jpeg, garment_png))
    expect(conforming(response), 403, "insufficient_api_credits")


def test_a_success_costs_one_credit(
    face_factory: FaceFactory, person_jpeg: bytes, garment_png: bytes
) -> None:
    client = face_factory().client()
    before = client.get("/v1/credits").json()["credits"]
    expect(client.post("/v1/try-on", files=files(person_jpeg, garment_png)), 200)
    after = client.get("/v1/credits").json()["credits"]
    assert after == before - 1, f"expected {before - 1} credits after one try-on, got {after}"


def test_a_burst_past_the_rate_limit_gets_429_with_retry_after(
    face_factory: FaceFactory,
) -> None:
    # One token per 100 s and a bucket of 2: the third request is refused on any machine.
    face = face_factory(rate_limit=0.01, burst=2)
    client = face.client()
    answers = [client.post("/v1/try-on", json={}) for _ in range(3)]
    statuses = [a.status_code for a in answers]
    assert statuses == [400, 400, 429], f"expected two answers then a 429, got {statuses}"
    expect(conforming(answers[2]), 429, "rate_limit_exceeded")
    retry_after = answers[2].headers.get("retry-after", "")
    seconds = int(retry_after) if retry_after.isdigit() else -1
    assert 1 <= seconds <= 100, f"expected Retry-After in whole seconds to 100, got {retry_after!r}"
    other = face.client(OTHER_KEY).post("/v1/try-on", json={})
    assert other.status_code == 400, f"expected another key its own bucket, got {other.status_code}"


def test_the_rate_limit_counts_job_polls_too(face_factory: FaceFactory) -> None:
    client = face_factory(rate_limit=0.01, burst=1).client()
    client.get("/v1/try-on/job/unknown")
    expect(conforming(client.get("/v1/try-on/job/unknown"), "job"), 429, "rate_limit_exceeded")


def test_an_injected_failure_is_a_documented_500(
    face_factory: FaceFactory, person_jpeg: bytes, garment_png: bytes
) -> None:
    client = face_factory(fail_rate=1.0).client()
    response = client.post("/v1/try-on", files=files(person_jpeg, garment_png))
    expect(conforming(response), 500, "internal_server_error")


def test_a_job_is_invisible_to_another_account_and_unknown_ids_get_404(
    face_factory: FaceFactory, person_jpeg: bytes, garment_png: bytes
) -> None:
    face = face_factory()
    job_id = (
        face.client()
        .post(
            "/v1/try-on", files=files(person_jpeg, garment_png), data={"wait_for_result": "false"}
        )
        .json()["job_id"]
    )
    expect(face.client(OTHER_KEY).get(f"/v1/try-on/job/{job_id}"), 404, "job_not_found")
    expect(face.client().get("/v1/try-on/job/no-such-job"), 404, "job_not_found")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v1/try-on", 405, "method_not_allowed"),
        ("DELETE", "/v1/try-on/job/abc", 405, "method_not_allowed"),
        ("GET", "/v2/try-on", 404, "not_found"),
        ("GET", "/results/00000000000000000000000000000000.jpg", 404, "not_found"),
    ],
)
def test_other_routes_get_a_json_error(
    face_factory: FaceFactory, method: str, path: str, status: int, code: str
) -> None:
    expect(face_factory().client().request(method, path), status, code)

"""The simulator survives any input: a documented 4xx with a documented body, never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.conftest import QUIET
from tryon_suite.simulator.config import DEMO_KEY
from tryon_suite.simulator.fetch import StaticFetcher
from tryon_suite.simulator.inprocess import InProcessSimulator
from tryon_suite.spec.images import render_image
from tryon_suite.suite.checks import answer_problem

PERSON = render_image(300, 400, "JPEG", kind="person", seed=7)
GARMENT = render_image(300, 300, "PNG", kind="garment", seed=8)
IMAGES = {"https://images.test/p.jpg": PERSON, "https://images.test/g.png": GARMENT}
FIELDS = [
    "person_image_url",
    "garment_image_url",
    "person_image",
    "garment_image",
    "garment_mode",
    "preprocess_garment",
    "remove_background",
    "wait_for_result",
]
DOCUMENTED = {200, 202, 400}


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with InProcessSimulator(QUIET, fetcher=StaticFetcher(IMAGES)) as sim:
        yield sim.client(headers={"X-API-KEY": DEMO_KEY})


def _check(response: httpx.Response) -> None:
    event(f"status {response.status_code} {response.json().get('error_code', '')}")
    assert response.status_code in DOCUMENTED, (
        f"expected one of {sorted(DOCUMENTED)}, got {response.status_code}: {response.text[:200]}"
    )
    problem = answer_problem("try-on", response)
    assert problem is None, f"expected a documented answer, got: {problem}"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
field_values = json_values | st.sampled_from(
    [*IMAGES, "auto", "full", "upper", "lower", True, False, "true", ""]
)
json_bodies = st.dictionaries(
    st.sampled_from(FIELDS) | st.text(max_size=12), field_values, max_size=8
)


@given(body=json_bodies | json_values)
def test_any_json_body_gets_a_documented_answer(client: httpx.Client, body: object) -> None:
    _check(client.post("/v1/try-on", json=body))


content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data; boundary=",
        "text/plain",
        "application/x-www-form-urlencoded",
        "image/jpeg",
        ";;;",
        "",
    ]
) | st.text(max_size=30).filter(lambda s: "\n" not in s and "\r" not in s)


@given(content_type=content_types, raw=st.binary(max_size=2048))
def test_any_bytes_with_any_content_type_get_a_documented_answer(
    client: httpx.Client, content_type: str, raw: bytes
) -> None:
    try:
        request = client.build_request(
            "POST", "/v1/try-on", content=raw, headers={"content-type": content_type}
        )
    except (UnicodeEncodeError, httpx.LocalProtocolError):
        return  # not a header any client could send
    _check(client.send(request))


part_contents = st.sampled_from([PERSON, GARMENT, PERSON[:500], b""]) | st.binary(max_size=300)
text_contents = st.sampled_from([*IMAGES, "auto", "upper", "true", "FALSE", "0"]) | st.text(
    max_size=30
)


@st.composite
def multipart_bodies(draw: st.DrawFn) -> bytes:
    """A multipart body built part by part; sometimes cut short or with a stray part."""
    boundary = b"tryon-fuzz-boundary"
    out = bytearray()
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.sampled_from(FIELDS) | st.text(max_size=8))
        as_file = draw(st.booleans())
        disposition = f'form-data; name="{name}"'
        if as_file:
            disposition += '; filename="f.bin"'
            content = draw(part_contents)
        else:
            content = draw(text_contents).encode("utf-8")
        out += b"--" + boundary + b"\r\n"
        out += f"Content-Disposition: {disposition}\r\n\r\n".encode("utf-8", "replace")
        out += content + b"\r\n"
    out += b"--" + boundary + b"--\r\n"
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(out)))
        out = out[:cut]
    return bytes(out)


@given(body=multipart_bodies())
def test_any_multipart_body_gets_a_documented_answer(client: httpx.Client, body: bytes) -> None:
    headers = {"content-type": "multipart/form-data; boundary=tryon-fuzz-boundary"}
    _check(client.post("/v1/try-on", content=body, headers=headers))


@given(job_id=st.text(min_size=1, max_size=40))
def test_any_job_id_gets_a_json_answer(client: httpx.Client, job_id: str) -> None:
    response = client.get(f"/v1/try-on/job/{quote(job_id, safe='')}")
    assert response.status_code in (200, 404), (
        f"expected 200 or 404 for job id {job_id!r}, got {response.status_code}"
    )
    body = response.json()
    assert isinstance(body, dict), f"expected a JSON object, got {body!r}"

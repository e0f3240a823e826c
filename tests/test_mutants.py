"""The mutants: each overrides declared hooks only, and those that break a rule on one path
only deviate on that path and keep the rule on its sibling path, so a suite that checks one path
alone lets them through (issue 9, point 5)."""

from __future__ import annotations

import inspect
import io
from collections.abc import Callable

import httpx
import pytest
from PIL import Image

from tests.conftest import QUIET, Opened
from tryon_suite.http.clock import VirtualClock
from tryon_suite.mutants import CATALOGUE, mutant
from tryon_suite.simulator.config import OTHER_KEY
from tryon_suite.simulator.core import Job, SimRequest, SimResponse, Simulator
from tryon_suite.simulator.fetch import StaticFetcher
from tryon_suite.simulator.hooks import Hooks
from tryon_suite.spec.clauses import catalogue
from tryon_suite.spec.fixture_images import FixtureImages
from tryon_suite.suite.targets import fixture_fetcher

NEVER_ISSUED = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def open_mutant(
    open_in_process: Callable[..., Opened], fixture_images: FixtureImages
) -> Callable[[str], Opened]:
    def make(name: str) -> Opened:
        return open_in_process(
            mutant(name).build(QUIET, VirtualClock(), fixture_fetcher(fixture_images))
        )

    return make


def overridden(cls: type[Simulator]) -> set[str]:
    """The methods `cls` defines anew on its way down from Simulator (dunders aside)."""
    assert issubclass(cls, Simulator), f"expected a Simulator subclass, got {cls}"
    methods = (staticmethod, classmethod, property)
    return {
        name
        for klass in cls.__mro__[: cls.__mro__.index(Simulator)]
        for name, value in vars(klass).items()
        if not name.startswith("__") and (inspect.isfunction(value) or isinstance(value, methods))
    }


@pytest.mark.parametrize("name", [m.name for m in CATALOGUE])
def test_a_mutant_overrides_declared_hooks_only(name: str) -> None:
    fetcher = StaticFetcher({})
    core = mutant(name).build(QUIET, VirtualClock(), fetcher)
    assert core.fetcher is fetcher, f"expected mutant {name} to use the fetcher given, got another"
    undeclared = sorted(overridden(type(core)) - Simulator.HOOKS)
    assert not undeclared, (
        f"expected mutant {name} to override only Simulator.HOOKS, got {', '.join(undeclared)}"
    )


def test_a_mutant_is_tagged_should_only_exactly_when_all_it_breaks_is_a_should() -> None:
    """A mutant breaking only shoulds can never fail a run (exit 1): untagged, it would keep
    the self-test red forever; tagged with a must among its clauses, it would excuse a miss."""
    levels = {c.id: c.level for c in catalogue()}
    wrong = [
        (m.name, m.should_only, [levels[c] for c in m.clauses])
        for m in CATALOGUE
        if m.should_only != all(levels[c] == "should" for c in m.clauses)
    ]
    assert not wrong, f"expected should_only to match the clauses' levels, got {wrong}"


def test_simulator_hooks_names_exactly_the_documented_methods_of_hooks() -> None:
    defined = {name: value for name, value in vars(Hooks).items() if inspect.isfunction(value)}
    assert set(defined) == Simulator.HOOKS, (
        f"expected hooks.Hooks to define {sorted(Simulator.HOOKS)}, got {sorted(defined)}"
    )
    undocumented = sorted(name for name, method in defined.items() if not inspect.getdoc(method))
    assert not undocumented, f"expected every hook documented, got none on {undocumented}"


def test_an_override_of_a_private_helper_is_caught() -> None:
    class Sneaky(Simulator):
        async def _gate(self, request: SimRequest) -> str | SimResponse:
            return await super()._gate(request)

        def owns(self, job: Job, key: str) -> bool:
            return True

    assert overridden(Sneaky) == {"_gate", "owns"}, (
        f"expected _gate and owns, got {overridden(Sneaky)}"
    )


def answer(response: httpx.Response) -> tuple[int, str | None]:
    """Status and error_code, read from the bytes whatever the Content-Type says."""
    try:
        body = response.json()
    except ValueError:
        return response.status_code, None
    return response.status_code, body.get("error_code") if isinstance(body, dict) else None


def kind(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", ""))


def image_format(client: httpx.Client, url: str) -> str | None:
    got = client.get(url)
    assert got.status_code == 200, f"expected the result to download, got {got.status_code}"
    with Image.open(io.BytesIO(got.content)) as image:
        return image.format


def test_garment_file_limits_skip_only_the_garment_file(open_mutant: Callable[..., Opened]) -> None:
    m = open_mutant("garment_file_limits_not_enforced")
    assert answer(m.multipart(garment="too-high.png"))[0] == 200
    assert answer(m.multipart(garment="oversize.jpg"))[0] == 200
    assert answer(m.multipart(person="too-high.png")) == (400, "resolution_too_high")
    assert answer(m.multipart(person="oversize.jpg")) == (400, "file_size_too_large")
    assert answer(m.json(garment="too-high.png")) == (400, "resolution_too_high")
    assert answer(m.json(garment="oversize.jpg")) == (400, "file_size_too_large")


def test_garment_url_limits_skip_only_the_garment_url(open_mutant: Callable[..., Opened]) -> None:
    m = open_mutant("garment_url_limits_not_enforced")
    assert answer(m.json(garment="too-high.png"))[0] == 200
    assert answer(m.json(garment="oversize.jpg"))[0] == 200
    assert answer(m.json(person="too-high.png")) == (400, "resolution_too_high")
    assert answer(m.json(person="oversize.jpg")) == (400, "file_size_too_large")
    assert answer(m.multipart(garment="too-high.png")) == (400, "resolution_too_high")
    assert answer(m.multipart(garment="oversize.jpg")) == (400, "file_size_too_large")


def test_url_size_is_skipped_for_urls_only(open_mutant: Callable[..., Opened]) -> None:
    m = open_mutant("url_size_not_enforced")
    assert answer(m.json(person="oversize.jpg"))[0] == 200
    assert answer(m.json(garment="oversize.jpg"))[0] == 200
    assert answer(m.json(person="too-high.png")) == (400, "resolution_too_high")
    assert answer(m.multipart(person="oversize.jpg")) == (400, "file_size_too_large")


def test_every_4xx_is_labelled_html_with_its_json_body_kept(
    open_mutant: Callable[..., Opened],
) -> None:
    m = open_mutant("errors_labelled_text_html")
    refused = m.json(garment_mode="sideways")
    assert answer(refused) == (400, "invalid_parameter")
    assert kind(refused).startswith("text/html"), kind(refused)
    unknown = m.client.get(f"/v1/try-on/job/{NEVER_ISSUED}")
    assert kind(unknown).startswith("text/html"), kind(unknown)
    no_key = m.client.post("/v1/try-on", json={}, headers={"X-API-KEY": ""})
    assert answer(no_key) == (401, "invalid_auth_token")
    assert kind(no_key).startswith("text/html"), kind(no_key)
    assert kind(m.json()) == "application/json"


@pytest.mark.parametrize(
    ("name", "broken", "kept"),
    [
        ("job_401_text_plain", "job 401", "try-on 401"),
        ("job_status_text_plain", "job 200", "try-on 202"),
        ("accepted_text_plain", "try-on 202", "job 200"),
    ],
)
def test_one_answer_is_labelled_text_plain_its_sibling_json(
    open_mutant: Callable[..., Opened], name: str, broken: str, kept: str
) -> None:
    m = open_mutant(name)
    accepted = m.multipart(wait_for_result="false")
    job = m.client.get(accepted.headers["location"])
    seen = {
        "try-on 202": accepted,
        "job 200": job,
        "try-on 401": m.client.post("/v1/try-on", json={}, headers={"X-API-KEY": ""}),
        "job 401": m.client.get(accepted.headers["location"], headers={"X-API-KEY": ""}),
    }
    assert kind(seen[broken]) == "text/plain", f"{broken}: {kind(seen[broken])}"
    assert seen[broken].json(), "expected the JSON body kept"
    assert kind(seen[kept]) == "application/json", f"{kept}: {kind(seen[kept])}"


def test_the_job_401_alone_lacks_an_error_code(open_mutant: Callable[..., Opened]) -> None:
    m = open_mutant("job_401_without_error_code")
    location = m.multipart(wait_for_result="false").headers["location"]
    job = m.client.get(location, headers={"X-API-KEY": "wrong"})
    assert job.status_code == 401, job.text
    assert "error_code" not in job.json(), job.text
    try_on = m.client.post("/v1/try-on", json={}, headers={"X-API-KEY": "wrong"})
    assert answer(try_on) == (401, "invalid_auth_token")


def test_a_job_id_never_issued_answers_500_another_accounts_404(
    open_mutant: Callable[..., Opened],
) -> None:
    m = open_mutant("unknown_job_answers_500")
    assert m.client.get(f"/v1/try-on/job/{NEVER_ISSUED}").status_code == 500
    location = m.multipart(wait_for_result="false").headers["location"]
    other = m.client.get(location, headers={"X-API-KEY": OTHER_KEY})
    assert answer(other) == (404, "job_not_found")


def test_only_json_bodies_get_a_202_without_location(open_mutant: Callable[..., Opened]) -> None:
    m = open_mutant("location_missing_for_json")
    from_json = m.json(wait_for_result=False)
    assert from_json.status_code == 202, from_json.text
    assert "location" not in from_json.headers, from_json.headers
    assert "location" in m.multipart(wait_for_result="false").headers


@pytest.mark.parametrize(
    ("name", "field", "bad_text", "bad_json"),
    [
        ("bad_mode_in_multipart_answers_500", "garment_mode", "sideways", "sideways"),
        ("bad_form_flag_answers_500", "remove_background", "maybe", "maybe"),
    ],
)
def test_one_mistake_answers_500_in_multipart_and_400_in_json(
    open_mutant: Callable[..., Opened], name: str, field: str, bad_text: str, bad_json: str
) -> None:
    m = open_mutant(name)
    assert m.multipart(**{field: bad_text}).status_code == 500
    assert answer(m.json(**{field: bad_json})) == (400, "invalid_parameter")
    assert answer(m.multipart(garment="truncated.jpg")) == (400, "malformed_image")


def test_json_results_are_png_multipart_ones_jpeg(open_mutant: Callable[..., Opened]) -> None:
    m = open_mutant("json_result_is_png")
    assert image_format(m.client, m.json().json()["result_url"]) == "PNG"
    polled = m.client.get(m.json(wait_for_result=False).headers["location"]).json()
    assert image_format(m.client, polled["result_url"]) == "PNG"
    assert image_format(m.client, m.multipart().json()["result_url"]) == "JPEG"
    polled = m.client.get(m.multipart(wait_for_result="false").headers["location"]).json()
    assert image_format(m.client, polled["result_url"]) == "JPEG"


def test_a_polled_result_expires_in_a_minute_a_waited_one_lasts_the_hour(
    open_mutant: Callable[..., Opened],
) -> None:
    m = open_mutant("polled_result_expires_early")
    waited = m.multipart().json()["result_url"]
    polled = m.client.get(m.multipart(wait_for_result="false").headers["location"]).json()
    assert polled["status"] == "completed", polled
    m.advance(61)
    assert m.client.get(polled["result_url"]).status_code == 404
    m.advance(3500)
    assert m.client.get(waited).status_code == 200


@pytest.mark.parametrize(
    ("name", "crashing", "still_refused"),
    [
        ("exotic_format_crashes", "photo.tiff", ("plain.png", "unknown_foreground")),
        ("flat_image_crashes", "plain.png", ("photo.tiff", "unsupported_image_format")),
    ],
)
def test_one_kind_of_unusable_image_answers_500_the_others_400(
    open_mutant: Callable[..., Opened], name: str, crashing: str, still_refused: tuple[str, str]
) -> None:
    m = open_mutant(name)
    assert m.multipart(person=crashing).status_code == 500
    assert answer(m.multipart(person=still_refused[0])) == (400, still_refused[1])
    assert answer(m.multipart(person="truncated.jpg")) == (400, "malformed_image")

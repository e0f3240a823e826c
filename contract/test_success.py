"""Try-ons that succeed: JSON and multipart, sync (200 then a JPEG) and the documented defaults."""

from __future__ import annotations

import pytest

from contract.helpers import files, urls
from tryon_suite.checks import expect_documented, expect_jpeg, expect_status
from tryon_suite.client import TryOnClient, TryOnRequest
from tryon_suite.errors import ContractViolation
from tryon_suite.pytest_plugin import not_checked
from tryon_suite.targets import Target

pytestmark = [pytest.mark.live, pytest.mark.spends_credits]


def _result(client: TryOnClient, body: TryOnRequest, observe=None) -> str:
    """Send, expect 200 with a result_url, download it as a JPEG; returns the URL."""
    response = client.try_on(body)
    if response.status_code == 400 and "unsupported_content_type" in response.text:
        raise ContractViolation(
            f"tryon.content_type.{body.kind}", f"a {body.kind} body accepted", response.text[:200]
        )
    answer = expect_status(response, {200}, "tryon.200.when_waiting", "tryon.200.result_url")
    expect_documented(response, clause="tryon.200.result_url")
    if "application/json" not in response.headers.get("content-type", ""):
        raise ContractViolation(
            "tryon.content_type.json_answers",
            "Content-Type application/json",
            repr(response.headers.get("content-type")),
        )
    if observe is not None:
        extra = sorted(set(answer) - {"result_url"})
        observe(
            "tryon.open.extra_response_fields", f"200 body: {extra or 'none beyond result_url'}"
        )
    expect_jpeg(client.download(answer["result_url"]))
    return str(answer["result_url"])


@pytest.mark.clause(
    "tryon.content_type.multipart",
    "tryon.request.person_image",
    "tryon.request.garment_image",
    "tryon.request.garment_mode",
    "tryon.200.when_waiting",
    "tryon.200.result_url",
    "tryon.result.jpeg",
    "tryon.content_type.json_answers",
)
@pytest.mark.parametrize("mode", ["auto", "full", "upper", "lower"])
def test_a_multipart_try_on_answers_200_with_a_jpeg_for_each_garment_mode(
    client: TryOnClient, target: Target, mode: str, observe
) -> None:
    _result(
        client,
        TryOnRequest.multipart(files(target), garment_mode=mode, wait_for_result=True),
        observe,
    )


@pytest.mark.clause(
    "tryon.content_type.json",
    "tryon.request.person_image_url",
    "tryon.request.garment_image_url",
    "tryon.limits.both_images",
    "tryon.200.result_url",
    "tryon.result.jpeg",
)
@pytest.mark.parametrize("mode", ["auto", "full", "upper", "lower"])
def test_a_json_try_on_with_image_urls_answers_200_with_a_jpeg(
    client: TryOnClient, target: Target, mode: str
) -> None:
    _result(client, TryOnRequest.json(**urls(target), garment_mode=mode, wait_for_result=True))


@pytest.mark.clause(
    "tryon.request.preprocess_garment",
    "tryon.request.remove_background",
    "tryon.request.wait_for_result",
)
@pytest.mark.parametrize(
    ("kind", "preprocess", "remove"),
    [
        ("json", True, True),
        ("json", False, False),
        ("multipart", False, True),
        ("multipart", True, False),
    ],
)
def test_each_flag_value_is_accepted(
    client: TryOnClient, target: Target, kind: str, preprocess: bool, remove: bool
) -> None:
    flags = {"preprocess_garment": preprocess, "remove_background": remove, "wait_for_result": True}
    body = (
        TryOnRequest.json(**urls(target), **flags)
        if kind == "json"
        else TryOnRequest.multipart(files(target), **flags)
    )
    _result(client, body)


@pytest.mark.clause("tryon.request.wait_for_result_default", "tryon.request.garment_mode_default")
@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_without_optional_fields_the_try_on_waits_and_answers_200(
    client: TryOnClient, target: Target, kind: str
) -> None:
    body = (
        TryOnRequest.json(**urls(target))
        if kind == "json"
        else TryOnRequest.multipart(files(target))
    )
    _result(client, body)


@pytest.mark.clause("tryon.request.file_wins_over_url")
def test_a_file_wins_over_its_url(client: TryOnClient, target: Target) -> None:
    """The URLs point at bytes that are no image: only the files can make this succeed."""
    urls = {
        "person_image_url": target.image_url("random.bin"),
        "garment_image_url": target.image_url("random.bin"),
    }
    _result(client, TryOnRequest.multipart(files(target), **urls, wait_for_result=True))


@pytest.mark.clause("tryon.limits.formats", "tryon.limits.within_limits_accepted")
@pytest.mark.parametrize(
    ("person", "garment"),
    [("person.jpg", "garment.jpg"), ("person.png", "garment.png"), ("person.webp", "garment.webp")],
)
def test_jpeg_png_and_webp_are_accepted(
    client: TryOnClient, target: Target, person: str, garment: str
) -> None:
    _result(client, TryOnRequest.multipart(files(target, person, garment)))


@pytest.mark.clause(
    "tryon.limits.within_limits_accepted",
    "tryon.limits.min_resolution",
    "tryon.limits.max_resolution",
)
@pytest.mark.parametrize("edge", ["edge-min.png", "edge-max.png"])
def test_images_exactly_at_the_resolution_limits_are_accepted(
    client: TryOnClient, target: Target, edge: str
) -> None:
    _result(client, TryOnRequest.multipart(files(target, edge, "garment.png")))


@pytest.mark.clause("tryon.result.valid_one_hour")
def test_a_result_url_still_downloads_just_before_an_hour(
    client: TryOnClient, target: Target, observe
) -> None:
    url = _result(client, TryOnRequest.multipart(files(target)))
    if target.advance is None:
        not_checked("needs an hour of waiting; only a target whose clock the suite moves checks it")
    target.advance(3590)
    expect_jpeg(client.download(url), clause="tryon.result.valid_one_hour")
    target.advance(20)
    late = client.download(url)
    observe(
        "tryon.open.result_after_expiry",
        f"{late.status_code} {late.headers.get('content-type', '')}",
    )


@pytest.mark.clause("tryon.credits.success_costs", "tryon.credits.balance_endpoint")
def test_a_success_costs_credits(client: TryOnClient, target: Target, observe) -> None:
    before = client.credits()
    if before.status_code == 404:
        not_checked("the target has no GET /v1/credits, so the balance cannot be read")
    if before.status_code != 200:
        raise ContractViolation(
            "tryon.credits.balance_endpoint",
            "200 with the balance",
            f"{before.status_code} {before.text[:200]!r}",
        )
    body = before.json()
    observe("tryon.open.credit_endpoint_shape", f"keys {sorted(body)}")
    balance = _balance(body)
    if balance is None:
        not_checked(f"no numeric balance found in {body!r}")
    _result(client, TryOnRequest.multipart(files(target)))
    after = _balance(client.credits().json())
    if after is None or after >= balance:
        raise ContractViolation(
            "tryon.credits.success_costs",
            f"fewer than {balance} credits after a try-on",
            repr(after),
        )


def _balance(body: object) -> float | None:
    """The first number in the body: the shape of the balance is not documented."""
    if isinstance(body, bool):
        return None
    if isinstance(body, int | float):
        return float(body)
    if isinstance(body, dict):
        for value in body.values():
            if (found := _balance(value)) is not None:
                return found
    return None

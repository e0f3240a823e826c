"""Try-ons that succeed: JSON and multipart, sync (200 then a JPEG) and the documented defaults."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contract.helpers import LIVE_RECHECK, expect_still_valid, files, urls
from tryon_suite import (
    ERROR_400_CODES,
    NO_5XX,
    Target,
    TryOnClient,
    TryOnRequest,
    expect_balance,
    expect_error,
    expect_format_within_limits,
    expect_jpeg,
    expect_numeric_balance,
    expect_result_answer,
    expect_success_costs,
    not_checked,
)

pytestmark = [pytest.mark.live, pytest.mark.spends_credits]
#: How often the balance is read after a success before "it cost nothing" is concluded.
BALANCE_READS = 3


def _result(
    client: TryOnClient, body: TryOnRequest, observe=None, accepted: tuple[str, ...] = ()
) -> str:
    """Send, expect 200 with a result_url, download it as a JPEG; returns the URL. A success
    is evidence for the body's kind and fields, and for `accepted` (what the body tried)."""
    answer = expect_result_answer(client.try_on(body), body, accepted)
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
        accepted=("tryon.request.garment_mode",),
    )


@pytest.mark.clause(
    "tryon.content_type.json",
    "tryon.request.person_image_url",
    "tryon.request.garment_image_url",
    "tryon.request.garment_mode",
    "tryon.200.result_url",
    "tryon.result.jpeg",
)
@pytest.mark.parametrize("mode", ["auto", "full", "upper", "lower"])
def test_a_json_try_on_with_image_urls_answers_200_with_a_jpeg(
    client: TryOnClient, target: Target, mode: str
) -> None:
    _result(
        client,
        TryOnRequest.json(**urls(target), garment_mode=mode, wait_for_result=True),
        accepted=("tryon.request.garment_mode",),
    )


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
    _result(client, body, accepted=tuple(f"tryon.request.{flag}" for flag in flags))


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
    _result(client, body, accepted=("tryon.request.wait_for_result_default",))


@pytest.mark.clause("tryon.request.file_wins_over_url")
def test_a_file_wins_over_its_url(client: TryOnClient, target: Target) -> None:
    """The URLs point at bytes that are no image: only the files can make this succeed."""
    urls = {
        "person_image_url": target.image_url("random.bin"),
        "garment_image_url": target.image_url("random.bin"),
    }
    body = TryOnRequest.multipart(files(target), **urls, wait_for_result=True)
    _result(client, body, accepted=("tryon.request.file_wins_over_url",))


@pytest.mark.clause(
    "tryon.limits.formats", "tryon.limits.within_limits_accepted", NO_5XX, "tryon.400.body"
)
@pytest.mark.parametrize("fmt", ["jpg", "png", "webp"])
def test_which_of_jpeg_png_and_webp_are_accepted(
    client: TryOnClient, target: Target, fmt: str, observe
) -> None:
    """The reference page names no format: each answer is a reading, 200 or a 400."""
    body = TryOnRequest.multipart(files(target, f"person.{fmt}", f"garment.{fmt}"))
    response = client.try_on(body)
    code = None
    if response.status_code != 200:
        code = expect_error(response, 400, ERROR_400_CODES, "tryon.400.body")
    answer = f"400 {code}" if code else "accepted"
    observe("tryon.limits.formats", f"{fmt.upper()}: {answer}", response)
    # Refusing a format is a reading; refusing it for its size or resolution is not.
    expect_format_within_limits(response, fmt, code)


@pytest.mark.clause(
    "tryon.limits.within_limits_accepted",
    "tryon.limits.min_resolution",
    "tryon.limits.max_resolution",
)
@pytest.mark.parametrize("edge", ["edge-min.jpg", "edge-max.jpg"])
@pytest.mark.parametrize("image", ["person", "garment"])
def test_images_exactly_at_the_resolution_limits_are_accepted(
    client: TryOnClient, target: Target, edge: str, image: str
) -> None:
    limit = "tryon.limits.min_resolution" if "min" in edge else "tryon.limits.max_resolution"
    chosen = (
        files(target, edge, "garment.jpg")
        if image == "person"
        else files(target, "person.jpg", edge)
    )
    body = TryOnRequest.multipart(chosen)
    _result(client, body, accepted=("tryon.limits.within_limits_accepted", limit))


@pytest.mark.clause("tryon.result.valid_one_hour")
def test_a_result_url_still_downloads_just_before_an_hour(
    client: TryOnClient, target: Target, observe
) -> None:
    url = _result(client, TryOnRequest.multipart(files(target)))
    expect_still_valid(client, target, url)
    if target.live:
        not_checked(
            f"the result still downloads {LIVE_RECHECK:g} s on; the hour itself is checked "
            "only where the suite moves the target's clock"
        )
    target.advance(20)  # in process: the target's clock moves
    late = client.download(url)
    observe(
        "tryon.open.result_after_expiry",
        f"{late.status_code} {late.headers.get('content-type', '')}",
    )


@pytest.mark.clause(
    "tryon.credits.success_costs",
    "tryon.credits.balance_endpoint",
    "tryon.open.credit_endpoint_shape",
)
def test_a_success_costs_credits(client: TryOnClient, target: Target, observe) -> None:
    before = client.credits()
    body = expect_balance(before)
    observe("tryon.open.credit_endpoint_shape", _shape(body), before)
    balances = expect_numeric_balance(before, body)
    _result(client, TryOnRequest.multipart(files(target)))
    # The shape is open ({"credits"}, {"total", "remaining"}, a bare number, ...): a success
    # costs credits when some balance figure went down, whichever it is.
    expect_success_costs(balances, _balances(client, target))


def _balances(client: TryOnClient, target: Target) -> Iterator[httpx.Response]:
    """The balance, read as the check asks: billing may lag the answer a little, so again, a
    second apart, up to BALANCE_READS times."""
    for attempt in range(BALANCE_READS):
        if attempt:
            target.sleep(1.0)
        yield client.credits()


def _shape(body: object) -> str:
    if isinstance(body, dict):
        return f"an object with keys {sorted(body)}"
    return f"a bare {type(body).__name__}"

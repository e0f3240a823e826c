"""Try-ons that succeed: JSON and multipart, sync (200 then a JPEG) and the documented defaults."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from contract.helpers import LIVE_RECHECK, expect_still_valid, files
from tryon_suite import (
    ERROR_400_CODES,
    NO_5XX,
    PURCHASES,
    Sale,
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
    observed,
)

pytestmark = [pytest.mark.live, pytest.mark.spends_credits]
#: How often the balance is read after a success before "it cost nothing" is concluded.
BALANCE_READS = 3


def _judged(sale: Sale, record: bool = False, accepted: tuple[str, ...] = ()) -> str:
    """Judge a bought sync try-on: 200 with a result_url, the result a JPEG; returns the URL.
    A success is evidence for the body's kind and fields, and for `accepted` (what the body
    tried). Every check that shares the purchase judges the same answer."""
    assert sale.response is not None
    answer = expect_result_answer(sale.response, sale.body, accepted)
    if record:
        extra = sorted(set(answer) - {"result_url"})
        observed(
            "tryon.open.extra_response_fields",
            f"200 body: {extra or 'none beyond result_url'}",
            value={"result_body": extra},
        )
    if sale.download is None:
        raise AssertionError(f"expected the purchase to have downloaded {answer['result_url']}")
    expect_jpeg(sale.download)
    return str(answer["result_url"])


#: The garment modes, each bought once, in the purchase that carries it.
MODE_PURCHASES = {
    "auto": "multipart-auto",
    "full": "multipart-full",
    "upper": "json-upper",
    "lower": "json-lower",
}


@pytest.mark.clause(
    "tryon.request.garment_mode",
    "tryon.200.when_waiting",
    "tryon.200.result_url",
    "tryon.result.jpeg",
    "tryon.content_type.json_answers",
)
@pytest.mark.purchases(*MODE_PURCHASES.values())
@pytest.mark.parametrize("mode", list(MODE_PURCHASES))
def test_each_garment_mode_answers_200_with_a_jpeg(bought, mode: str) -> None:
    """Each mode is one purchase: two multipart, two JSON, each with other flags and edges."""
    sale = bought(MODE_PURCHASES[mode])
    assert sale.body.fields.get("garment_mode") == mode, f"expected {mode}, got {sale.body}"
    _judged(sale, record=True, accepted=(f"tryon.request.garment_mode#{mode} accepted",))


@pytest.mark.clause(
    "tryon.content_type.multipart",
    "tryon.content_type.json",
    "tryon.request.person_image",
    "tryon.request.garment_image",
    "tryon.request.person_image_url",
    "tryon.request.garment_image_url",
    "tryon.request.preprocess_garment",
    "tryon.request.remove_background",
    "tryon.request.wait_for_result",
)
@pytest.mark.purchases(*MODE_PURCHASES.values())
def test_each_flag_value_is_accepted_as_multipart_and_as_json(bought) -> None:
    """Across the four mode purchases each flag is sent true and false, on both kinds."""
    seen: dict[str, set[str]] = {}
    for name in MODE_PURCHASES.values():
        sale = bought(name)
        flags = ("preprocess_garment", "remove_background", "wait_for_result")
        parts = {"wait_for_result": "#true answered 200"}  # a sync purchase: it waited
        _judged(
            sale,
            accepted=tuple(
                f"tryon.request.{f}{parts.get(f, '')}" for f in flags if f in sale.body.fields
            ),
        )
        for flag in flags:
            if flag in sale.body.fields:
                seen.setdefault(flag, set()).add(str(sale.body.fields[flag]).lower())
    assert seen["preprocess_garment"] == seen["remove_background"] == {"true", "false"}, (
        f"expected both values of each flag among the purchases, got {seen}"
    )


@pytest.mark.clause("tryon.request.wait_for_result_default", "tryon.request.garment_mode_default")
@pytest.mark.purchases("multipart-defaults", "json-upper")
@pytest.mark.parametrize("name", ["multipart-defaults", "json-upper"])
def test_without_wait_for_result_the_try_on_waits_and_answers_200(bought, name: str) -> None:
    """Multipart with no optional field; JSON with wait_for_result left out."""
    sale = bought(name)
    assert "wait_for_result" not in sale.body.fields, f"expected it left out, got {sale.body}"
    _judged(sale, accepted=("tryon.request.wait_for_result_default",))


@pytest.mark.clause("tryon.request.file_wins_over_url")
@pytest.mark.purchases("multipart-full")
def test_a_file_wins_over_its_url(bought) -> None:
    """The URLs point at bytes that are no image: only the files can make this succeed."""
    sale = bought("multipart-full")
    assert "person_image_url" in sale.body.fields, f"expected decoy URLs, got {sale.body}"
    _judged(sale, accepted=("tryon.request.file_wins_over_url",))


@pytest.mark.clause(
    "tryon.limits.formats", "tryon.limits.within_limits_accepted", NO_5XX, "tryon.400.body"
)
@pytest.mark.purchases("png-and-webp", "multipart-defaults")
def test_which_of_jpeg_png_and_webp_are_accepted(
    client: TryOnClient, target: Target, bought
) -> None:
    """The reference page names no format: each answer is a reading, 200 or a 400. PNG and
    WebP go in one purchase; only if it is refused does each go alone, to tell which."""
    jpeg = bought("multipart-defaults")
    assert jpeg.response is not None
    _record_format(jpeg.response, "jpg")
    both = bought("png-and-webp")
    assert both.response is not None
    if both.response.status_code == 200:
        for fmt in ("png", "webp"):
            _record_format(both.response, fmt)
        return
    for fmt in ("png", "webp"):
        alone = client.try_on(
            TryOnRequest.multipart(files(target, f"person.{fmt}", f"garment.{fmt}"))
        )
        _record_format(alone, fmt)


def _record_format(response: httpx.Response, fmt: str) -> None:
    code = None
    if response.status_code != 200:
        code = expect_error(response, 400, ERROR_400_CODES, "tryon.400.body")
    answer = f"400 {code}" if code else "accepted"
    name = "JPEG" if fmt == "jpg" else fmt.upper()  # as the image libraries name it
    observed(
        "tryon.limits.formats", f"{fmt.upper()}: {answer}", response, value={name: code is None}
    )
    # Refusing a format is a reading; refusing it for its size or resolution is not.
    expect_format_within_limits(response, fmt, code)


@pytest.mark.clause(
    "tryon.limits.within_limits_accepted",
    "tryon.limits.min_resolution",
    "tryon.limits.max_resolution",
)
@pytest.mark.purchases("multipart-auto", "multipart-full")
@pytest.mark.parametrize("name", ["multipart-auto", "multipart-full"])
def test_images_exactly_at_the_resolution_limits_are_accepted(bought, name: str) -> None:
    """Each purchase carries one image at the minimum and the other at the maximum: together,
    each limit on the person and on the garment."""
    sale = bought(name)
    accepted = ["tryon.limits.within_limits_accepted"]
    names = {part[0] for part in sale.body.files.values()}
    accepted += [
        f"tryon.limits.{side}_resolution#accepted at the limit"
        for side in ("min", "max")
        if f"edge-{side}.jpg" in names
    ]
    assert len(accepted) == 3, f"expected an edge-min and an edge-max image, got {sorted(names)}"
    _judged(sale, accepted=tuple(accepted))


@pytest.mark.clause("tryon.result.valid_one_hour")
@pytest.mark.purchases("multipart-defaults")
def test_a_result_url_still_downloads_just_before_an_hour(
    client: TryOnClient, target: Target, bought
) -> None:
    sale = bought("multipart-defaults")
    url = _judged(sale, record=True)
    expect_still_valid(client, target, url, sale.result_seen_at)
    if target.live:
        not_checked(
            f"the result still downloads {LIVE_RECHECK:g} s on; the hour itself is checked "
            "only where the suite moves the target's clock",
            scope="outside",
        )
    target.advance(20)  # in process: the target's clock moves
    late = client.download(url)
    kind = late.headers.get("content-type", "")
    observed(
        "tryon.open.result_after_expiry",
        f"{late.status_code} {kind}",
        value={"status": late.status_code, "content_type": kind},
    )


@pytest.mark.clause(
    "tryon.credits.success_costs",
    "tryon.credits.balance_endpoint",
    "tryon.open.credit_endpoint_shape",
)
@pytest.mark.purchases("multipart-defaults")
def test_a_success_costs_credits(client: TryOnClient, target: Target, bought) -> None:
    """The balance read before the run's first paid request, then after this purchase."""
    assert target.ledger is not None
    before = target.ledger.balance_before
    if before is None:
        not_checked("the balance could not be read before the first paid request", scope="run")
    body = expect_balance(before)
    observed(
        "tryon.open.credit_endpoint_shape", _shape(body), before, value={"shape": _skeleton(body)}
    )
    balances = expect_numeric_balance(before, body)
    _judged(bought("multipart-defaults"))
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


def _skeleton(body: object) -> object:
    """The body's shape as data: each value replaced by the name of its JSON type."""
    if isinstance(body, dict):
        return {key: _skeleton(value) for key, value in body.items()}
    if isinstance(body, list):
        return [_skeleton(value) for value in body[:1]]
    if isinstance(body, bool) or body is None:
        return "boolean" if body is not None else "null"
    return "number" if isinstance(body, int | float) else "string"


def _shape(body: object) -> str:
    if isinstance(body, dict):
        return f"an object with keys {sorted(body)}"
    return f"a bare {type(body).__name__}"


#: Every waited-on purchase: whatever it sent (PNG, WebP, GIF, a flat image, a form's
#: spelling of a flag), a result it got is a JPEG.
SYNC_PURCHASES = [name for name, p in PURCHASES.items() if p.kind == "sync"]


@pytest.mark.clause("tryon.result.jpeg")
@pytest.mark.purchases(*SYNC_PURCHASES)
def test_every_result_is_a_jpeg_whatever_the_inputs_were(bought) -> None:
    """API.md: the result is a JPEG, on every path and for every input format."""
    judged = 0
    for name in SYNC_PURCHASES:
        sale = bought(name)
        if sale.response is None or sale.response.status_code != 200:
            continue
        if sale.download is None:
            raise AssertionError(f"expected the purchase {name} to have downloaded its result")
        expect_jpeg(sale.download)
        judged += 1
    if not judged:
        not_checked("no waited-on purchase got a result", scope="run")

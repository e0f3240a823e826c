"""Every documented 400 code, provoked on purpose with real bytes or bodies."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from contract.helpers import answer_text, files, urls
from tryon_suite.checks import NO_5XX, expect_error
from tryon_suite.client import TryOnClient, TryOnRequest
from tryon_suite.contract import ERROR_400_CODES
from tryon_suite.errors import ContractViolation
from tryon_suite.evidence import held, not_checked
from tryon_suite.fixtures import UNSUPPORTED_FORMATS
from tryon_suite.jobs import location_of
from tryon_suite.strategies import NOT_AN_IMAGE, TOO_SMALL, WRONG_TYPE
from tryon_suite.targets import Target

pytestmark = [pytest.mark.live]
ANY_400 = set(ERROR_400_CODES)

#: Codes that say an image broke a size or resolution limit.
LIMIT_CODES = {"file_size_too_large", "resolution_too_high", "invalid_parameter"}
#: Codes for a 400 that is about an image at all (for a case that breaks two rules, say).
IMAGE_CODES = NOT_AN_IMAGE | {"file_size_too_large", "resolution_too_high", "unknown_foreground"}
#: "A parameter was provided but it was invalid" or "the request body was ... invalid": a value
#: of the wrong type or outside its enum may fairly get either.
WRONG_VALUE = WRONG_TYPE
IMAGES = ["person", "garment"]
BOTH_WAYS = [(image, how) for image in IMAGES for how in ("file", "url")]
WAIT = {"wait_for_result": True}  # API.md: whether polling validates at once is an open point


def _send_raw(client: TryOnClient, content: bytes, content_type: str | None):
    headers = {"content-type": content_type} if content_type else {}
    return client.send("POST", "/v1/try-on", content=content, headers=headers)


@pytest.mark.clause(
    "tryon.400.invalid_request_body",
    "tryon.400.empty_body_code",
    "tryon.400.body",
    "tryon.error.body_shape",
    "tryon.error.code_fits_status",
)
@pytest.mark.parametrize(
    "content", [b"", b"{not json", b'{"person_image_url": "x"'], ids=["empty", "garbage", "cut"]
)
def test_a_body_that_cannot_be_parsed_is_invalid_request_body(
    client: TryOnClient, content: bytes
) -> None:
    # An empty body may fairly be read as an empty object, so as missing parameters.
    codes = (
        {"invalid_request_body", "missing_parameter"} if not content else {"invalid_request_body"}
    )
    response = _send_raw(client, content, "application/json")
    code = expect_error(response, 400, codes, "tryon.400.invalid_request_body")
    if not content:
        if code != "invalid_request_body":
            raise ContractViolation(
                "tryon.400.empty_body_code", "invalid_request_body", code, response
            )
        held("tryon.400.empty_body_code", "an empty body: invalid_request_body", response)


@pytest.mark.clause("tryon.400.unsupported_content_type", "tryon.content_type.others_refused")
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_another_content_type_is_refused(
    client: TryOnClient, target: Target, content_type: str | None
) -> None:
    content = b"person_image_url=" + target.image_url("person.jpg").encode()
    codes = {"unsupported_content_type"}
    if content_type is None:  # no Content-Type at all: an unreadable body is a fair reading too
        codes.add("invalid_request_body")
    response = _send_raw(client, content, content_type)
    expect_error(response, 400, codes, "tryon.400.unsupported_content_type")
    held("tryon.content_type.others_refused", f"Content-Type {content_type} refused", response)


@pytest.mark.clause(
    "tryon.400.missing_parameter",
    "tryon.request.person_image_required",
    "tryon.request.garment_image_required",
)
@pytest.mark.parametrize(
    ("kind", "drop"),
    [("json", "person"), ("json", "garment"), ("multipart", "person"), ("multipart", "garment")],
)
def test_a_missing_image_is_missing_parameter(
    client: TryOnClient, target: Target, kind: str, drop: str
) -> None:
    if kind == "json":
        body = TryOnRequest.json(
            **{k: v for k, v in urls(target).items() if not k.startswith(drop)}, **WAIT
        )
    else:
        body = TryOnRequest.multipart(
            {k: v for k, v in files(target).items() if not k.startswith(drop)}, **WAIT
        )
    expect_error(client.try_on(body), 400, {"missing_parameter"}, "tryon.400.missing_parameter")
    held(f"tryon.request.{drop}_image_required", f"a body without the {drop} image refused")


@pytest.mark.clause("tryon.400.invalid_parameter", "tryon.request.garment_mode")
@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_a_garment_mode_outside_the_enum_is_invalid_parameter(
    client: TryOnClient, target: Target, kind: str
) -> None:
    body = (
        TryOnRequest.json(**urls(target), garment_mode="sideways", **WAIT)
        if kind == "json"
        else TryOnRequest.multipart(files(target), garment_mode="sideways", **WAIT)
    )
    code = expect_error(client.try_on(body), 400, WRONG_VALUE, "tryon.request.garment_mode")
    if code == "invalid_parameter":
        held("tryon.400.invalid_parameter", "garment_mode 'sideways' got invalid_parameter")


@pytest.mark.clause(
    "tryon.request.preprocess_garment",
    "tryon.request.remove_background",
    "tryon.request.wait_for_result",
)
@pytest.mark.parametrize("flag", ["preprocess_garment", "remove_background", "wait_for_result"])
def test_a_flag_that_is_not_a_boolean_is_refused(
    client: TryOnClient, target: Target, flag: str
) -> None:
    body = TryOnRequest.json(**urls(target), **{flag: {"value": True}})
    expect_error(client.try_on(body), 400, WRONG_VALUE, f"tryon.request.{flag}")


@pytest.mark.clause("tryon.request.files_need_multipart")
def test_a_json_body_carries_no_files(client: TryOnClient, target: Target, observe) -> None:
    """JSON cannot carry file parts: a body with only base64-ish text where files go is refused."""
    body = TryOnRequest.json(person_image="aGVsbG8=", garment_image="aGVsbG8=", **WAIT)
    # No URL came (missing), or the fields are not what JSON may carry (invalid)
    codes = {"missing_parameter", "invalid_parameter", "invalid_request_body"}
    code = expect_error(client.try_on(body), 400, codes, "tryon.request.files_need_multipart")
    observe("tryon.open.unknown_request_fields", f"image files as JSON fields: 400 {code}")


@pytest.mark.clause("tryon.400.malformed_image")
@pytest.mark.parametrize(("image", "how"), BOTH_WAYS)
@pytest.mark.parametrize("fixture", ["truncated.jpg", "random.bin"])
def test_undecodable_bytes_are_malformed_image(
    client: TryOnClient, target: Target, fixture: str, image: str, how: str
) -> None:
    body = _with_image(target, image, fixture, how)
    # Random bytes have no format at all: "not supported" is as fair as "cannot be decoded";
    # a truncated JPEG is a JPEG that cannot be decoded. A URL's content is its parameter.
    codes = NOT_AN_IMAGE if fixture == "random.bin" else {"malformed_image"}
    if how == "url":
        codes = codes | {"invalid_parameter"}
    code = expect_error(client.try_on(body), 400, codes, "tryon.400.malformed_image")
    if code != "malformed_image":
        not_checked(
            f"the target answered {code}, a fair reading that does not show malformed_image"
        )


@pytest.mark.clause("tryon.400.malformed_image")
def test_an_empty_file_is_malformed_or_missing(client: TryOnClient, target: Target) -> None:
    # An empty file part may fairly be read as no file at all.
    codes = {"malformed_image", "missing_parameter", "invalid_parameter"}
    body = _with_image(target, "person", "empty.jpg", "file")
    expect_error(client.try_on(body), 400, codes, "tryon.400.malformed_image")


def _observe_accepted_or_refused(
    response: httpx.Response, clause: str, label: str, observe: Callable[..., None]
) -> None:
    """Record the answer to an open point; either 200 or a 400 is a fair reading, a 5xx is a
    server fault, anything else is recorded as what it is."""
    if response.status_code >= 500:
        raise ContractViolation(NO_5XX, f"200 or 400 for {label}", str(response.status_code))
    observe(clause, f"{label}: {answer_text(response)}", response)


def _with_image(target: Target, image: str, fixture: str, how: str) -> TryOnRequest:
    """A valid waiting body whose `image` (person or garment) is `fixture`, as a file or URL."""
    if how == "file":
        part = (fixture, target.images[fixture], target.images.mime_type(fixture))
        return TryOnRequest.multipart({**files(target), f"{image}_image": part}, **WAIT)
    return TryOnRequest.json(
        **{**urls(target), f"{image}_image_url": target.image_url(fixture)}, **WAIT
    )


def _with_person(target: Target, fixture: str, how: str) -> TryOnRequest:
    return _with_image(target, "person", fixture, how)


@pytest.mark.clause("tryon.400.unknown_foreground", "tryon.open.flat_image")
@pytest.mark.parametrize("fixture", ["plain.png", "plain.jpg"])
@pytest.mark.spends_credits
def test_a_single_colour_image_is_unknown_foreground_or_processed(
    client: TryOnClient, target: Target, fixture: str, observe
) -> None:
    """Whether a flat image has a foreground is an open point: processing it is fair, and so
    is refusing it with unknown_foreground; no other answer is."""
    response = client.try_on(_with_person(target, fixture, "file"))
    if response.status_code == 200:
        observe("tryon.open.flat_image", f"{fixture}: processed (200)", response)
        not_checked(f"the target processed the single-colour {fixture}, a fair reading")
    expect_error(response, 400, {"unknown_foreground"}, "tryon.400.unknown_foreground")
    observe("tryon.open.flat_image", f"{fixture}: 400 unknown_foreground", response)


@pytest.mark.clause(
    "tryon.400.resolution_too_high", "tryon.limits.max_resolution", "tryon.limits.both_images"
)
@pytest.mark.parametrize(("image", "how"), BOTH_WAYS)
def test_an_image_past_the_maximum_is_resolution_too_high(
    client: TryOnClient, target: Target, image: str, how: str
) -> None:
    expect_error(
        client.try_on(_with_image(target, image, "too-high.jpg", how)),
        400,
        {"resolution_too_high"},
        "tryon.400.resolution_too_high",
    )
    held("tryon.limits.max_resolution", f"a {image} image over the maximum refused ({how})")
    held("tryon.limits.both_images", f"the {image} image's resolution checked as a {how}")


@pytest.mark.clause(
    "tryon.limits.min_resolution", "tryon.open.too_small_image", "tryon.limits.both_images"
)
@pytest.mark.parametrize(("image", "how"), BOTH_WAYS)
def test_an_image_below_the_minimum_is_refused(
    client: TryOnClient, target: Target, observe, image: str, how: str
) -> None:
    code = expect_error(
        client.try_on(_with_image(target, image, "too-small.jpg", how)),
        400,
        TOO_SMALL,
        "tryon.limits.min_resolution",
    )
    observe("tryon.open.too_small_image", f"400 {code}")
    held("tryon.limits.both_images", f"the {image} image's minimum checked as a {how}")


@pytest.mark.clause(
    "tryon.400.file_size_too_large", "tryon.limits.max_file_size", "tryon.limits.both_images"
)
@pytest.mark.parametrize(("image", "how"), BOTH_WAYS)
def test_a_file_past_the_size_limit_is_file_size_too_large(
    client: TryOnClient, target: Target, image: str, how: str
) -> None:
    response = client.try_on(_with_image(target, image, "oversize.jpg", how))
    if how == "file" and response.status_code == 413:
        # RFC 9110: 413 Content Too Large, from the server or a proxy before it, is a fair
        # refusal of an upload past the limit; the API's own code is then not shown.
        held("tryon.limits.max_file_size", f"a {image} file over 25 MB refused (413)", response)
        not_checked("the upload was refused with 413 before the API could answer")
    # A URL whose download passes the cap is a bad parameter too.
    codes = {"file_size_too_large"} | ({"invalid_parameter"} if how == "url" else set())
    code = expect_error(response, 400, codes, "tryon.limits.max_file_size")
    if code == "file_size_too_large":
        held("tryon.400.file_size_too_large", f"a {image} {how} over 25 MB", response)
    held("tryon.limits.max_file_size", f"a {image} image over 25 MB refused ({how})")
    held("tryon.limits.both_images", f"the {image} image's size checked as a {how}")


@pytest.mark.clause("tryon.open.file_size_unit")
@pytest.mark.spends_credits
def test_what_a_file_between_25e6_and_25_mib_gets(
    client: TryOnClient, target: Target, observe
) -> None:
    response = client.try_on(_with_person(target, "between.jpg", "file"))
    size = len(target.images["between.jpg"])
    _observe_accepted_or_refused(response, "tryon.open.file_size_unit", f"{size:,} bytes", observe)


@pytest.mark.clause("tryon.400.unsupported_image_format", "tryon.open.image_formats")
@pytest.mark.spends_credits
def test_some_recognised_formats_are_unsupported_image_format(
    client: TryOnClient, target: Target, observe
) -> None:
    """Which formats beyond JPEG a target takes is open (all of them is a fair reading too);
    a refusal says the image is not usable, and a 5xx is a fault."""
    answers = {}
    for fmt in UNSUPPORTED_FORMATS:
        response = client.try_on(_with_person(target, f"photo.{fmt.lower()}", "file"))
        answers[fmt] = answer_text(response)
        if response.status_code != 200:
            # an ICO's small frames may fairly be too small, or show no subject
            expect_error(response, 400, IMAGE_CODES | TOO_SMALL, "tryon.400.body")
    observe("tryon.open.image_formats", ", ".join(f"{k}: {v}" for k, v in answers.items()))
    refused = [k for k, v in answers.items() if "unsupported_image_format" in v]
    if refused:
        held("tryon.400.unsupported_image_format", f"refused as unsupported: {refused}")
        return
    not_checked(f"no format was refused as unsupported_image_format, a fair reading: {answers}")


@pytest.mark.clause("tryon.open.check_order")
def test_which_error_wins_when_two_rules_break(
    client: TryOnClient, target: Target, observe
) -> None:
    body = TryOnRequest.multipart(
        {**files(target), "person_image": ("t.jpg", target.images["truncated.jpg"], "image/jpeg")},
        garment_mode="sideways",
        **WAIT,
    )
    response = client.try_on(body)
    code = expect_error(response, 400, WRONG_VALUE | {"malformed_image"}, "tryon.400.body")
    observe("tryon.open.check_order", f"bad garment_mode with a truncated image: {code}")


@pytest.mark.clause("tryon.open.unknown_request_fields")
@pytest.mark.spends_credits
def test_what_an_unknown_field_gets(client: TryOnClient, target: Target, observe) -> None:
    response = client.try_on(TryOnRequest.json(**urls(target), style="casual", **WAIT))
    _observe_accepted_or_refused(
        response, "tryon.open.unknown_request_fields", "an extra JSON field", observe
    )


@pytest.mark.clause("tryon.open.image_url_unreachable")
def test_what_an_unreachable_image_url_gets(client: TryOnClient, target: Target, observe) -> None:
    body = TryOnRequest.json(
        **{**urls(target), "garment_image_url": target.image_url("no-such-image.png")}, **WAIT
    )
    # The URL is a bad parameter, or what came back is no image
    codes = {"invalid_parameter", "invalid_request_body"} | NOT_AN_IMAGE
    code = expect_error(client.try_on(body), 400, codes, "tryon.400.body")
    observe("tryon.open.image_url_unreachable", f"a URL answering 404: 400 {code}")


@pytest.mark.clause("tryon.open.form_booleans")
@pytest.mark.spends_credits
def test_which_spellings_of_a_form_flag_are_taken(
    client: TryOnClient, target: Target, observe
) -> None:
    seen = []
    for spelling in ("True", "1"):
        response = client.try_on(TryOnRequest.multipart(files(target), wait_for_result=spelling))
        seen.append(f"{spelling!r}: {response.status_code}")
        if response.status_code >= 500:
            raise ContractViolation(
                NO_5XX, "200, 202 or 400", f"{response.status_code} for {spelling!r}", response
            )
    observe("tryon.open.form_booleans", ", ".join(seen))


@pytest.mark.clause("tryon.limits.vendor_docs_profile")
@pytest.mark.spends_credits
def test_under_the_vendor_profile_64_and_6000_px_are_accepted(
    client: TryOnClient, target: Target
) -> None:
    if target.limits.name != "vendor-2025":
        not_checked("runs with --tryon-limits vendor-2025")
    for edge in ("edge-min.jpg", "edge-max.jpg"):
        response = client.try_on(_with_person(target, edge, "file"))
        if response.status_code == 200:
            held("tryon.limits.vendor_docs_profile", f"200 for {edge}", response)
            continue
        code = expect_error(response, 400, ANY_400, "tryon.400.body")
        if code in LIMIT_CODES:
            raise ContractViolation(
                "tryon.limits.vendor_docs_profile",
                f"200 for {edge}",
                f"{response.status_code} {code}",
                response,
            )
        not_checked(f"{edge} was refused for another reason ({code})")


@pytest.mark.clause("tryon.open.resolution_per_side")
@pytest.mark.spends_credits
def test_whether_the_minimum_bounds_each_side_or_the_pixel_count(
    client: TryOnClient, target: Target, observe
) -> None:
    response = client.try_on(_with_person(target, "narrow.png", "file"))
    low = target.limits.min_dimension
    label = f"{low * 3 // 4}x{low * 2} px"
    _observe_accepted_or_refused(response, "tryon.open.resolution_per_side", label, observe)


@pytest.mark.clause("tryon.open.async_validation")
@pytest.mark.spends_credits
def test_whether_polling_mode_refuses_a_bad_image_at_once(
    client: TryOnClient, target: Target, observe
) -> None:
    from tryon_suite.jobs import follow

    person = ("truncated.jpg", target.images["truncated.jpg"], "image/jpeg")
    body = TryOnRequest.multipart({**files(target), "person_image": person}, wait_for_result=False)
    response = client.try_on(body)
    if response.status_code == 400:
        code = expect_error(response, 400, ANY_400, "tryon.400.body")
        observe("tryon.open.async_validation", f"refused at once: 400 {code}", response)
        return
    if response.status_code != 202:
        raise ContractViolation(
            "tryon.202.when_not_waiting",
            "400 at once or 202",
            f"{response.status_code} {response.text[:200]!r}",
            response,
        )
    trace = follow(client, target.poll, str(response.json()["job_id"]), location_of(response))
    observe("tryon.open.async_validation", f"accepted (202), then the job went {trace.statuses}")

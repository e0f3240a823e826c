"""Every documented 400 code, provoked on purpose with real bytes or bodies."""

from __future__ import annotations

import httpx
import pytest

from contract.helpers import answer_text, answer_value, files, urls
from tryon_suite import (
    NOT_AN_IMAGE,
    UNSUPPORTED_FORMATS,
    WRONG_TYPE,
    Target,
    TryOnClient,
    TryOnRequest,
    ask_bad_input,
    expect_code,
    expect_content_type_refused,
    expect_error,
    expect_file_too_large,
    expect_garment_mode_refused,
    expect_image_refused,
    expect_missing_image,
    expect_no_5xx,
    expect_refused_now_or_accepted,
    expect_some_format_unsupported,
    expect_vendor_edge_accepted,
    judge_job,
    location_of,
    not_checked,
    observed,
)

pytestmark = [pytest.mark.live]

#: "A parameter was provided but it was invalid" or "the request body was ... invalid": a value
#: of the wrong type or outside its enum may fairly get either.
WRONG_VALUE = WRONG_TYPE
IMAGES = ["person", "garment"]
BOTH_WAYS = [(image, how) for image in IMAGES for how in ("file", "url")]
WAIT = {"wait_for_result": True}  # API.md: whether polling validates at once is an open point
TRY_ON = "/v1/try-on"


def _send_raw(client: TryOnClient, content: bytes, content_type: str | None):
    headers = {"content-type": content_type} if content_type else {}
    return ask_bad_input(lambda: client.send("POST", TRY_ON, content=content, headers=headers))


def _ask(client: TryOnClient, body: TryOnRequest) -> httpx.Response:
    """A try-on wrong on purpose: a 5xx is asked once more before it is judged."""
    return ask_bad_input(lambda: client.try_on(body))


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
        wanted = "invalid_request_body"
        expect_code(response, code, wanted, "tryon.400.empty_body_code", "an empty body")


@pytest.mark.clause("tryon.400.unsupported_content_type", "tryon.content_type.others_refused")
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_another_content_type_is_refused(
    client: TryOnClient, target: Target, content_type: str | None
) -> None:
    content = b"person_image_url=" + target.image_url("person.jpg").encode()
    expect_content_type_refused(_send_raw(client, content, content_type), content_type)


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
    expect_missing_image(_ask(client, body), drop)


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
    expect_garment_mode_refused(_ask(client, body), "sideways")


@pytest.mark.clause("tryon.request.files_need_multipart")
def test_a_json_body_carries_no_files(client: TryOnClient, target: Target) -> None:
    """JSON cannot carry file parts: a body with only base64-ish text where files go is refused."""
    body = TryOnRequest.json(person_image="aGVsbG8=", garment_image="aGVsbG8=", **WAIT)
    # No URL came (missing), or the fields are not what JSON may carry (invalid)
    codes = {"missing_parameter", "invalid_parameter", "invalid_request_body"}
    code = expect_error(_ask(client, body), 400, codes, "tryon.request.files_need_multipart")
    observed(
        "tryon.open.unknown_request_fields",
        f"image files as JSON fields: 400 {code}",
        value={"files_as_json": code},
    )


@pytest.mark.clause("tryon.400.malformed_image")
@pytest.mark.parametrize(
    ("fixture", "image", "how"),
    [("truncated.jpg", *both) for both in BOTH_WAYS] + [("random.bin", "person", "file")],
)
def test_undecodable_bytes_are_malformed_image(
    client: TryOnClient, target: Target, fixture: str, image: str, how: str
) -> None:
    body = _with_image(target, image, fixture, how)
    # Random bytes have no format at all: "not supported" is as fair as "cannot be decoded";
    # a truncated JPEG is a JPEG that cannot be decoded. A URL's content is its parameter.
    codes = NOT_AN_IMAGE if fixture == "random.bin" else {"malformed_image"}
    if how == "url":
        codes = codes | {"invalid_parameter"}
    code = expect_error(_ask(client, body), 400, codes, "tryon.400.malformed_image")
    if code != "malformed_image":
        not_checked(
            f"the target answered {code}, a fair reading that does not show malformed_image",
            scope="reading",
        )


@pytest.mark.clause("tryon.400.malformed_image")
def test_an_empty_file_is_malformed_or_missing(client: TryOnClient, target: Target) -> None:
    # An empty file part may fairly be read as no file at all.
    codes = {"malformed_image", "missing_parameter", "invalid_parameter"}
    body = _with_image(target, "person", "empty.jpg", "file")
    expect_error(_ask(client, body), 400, codes, "tryon.400.malformed_image")


def _observe_accepted_or_refused(response: httpx.Response, clause: str, label: str) -> None:
    """Record the answer to an open point; either 200 or a 400 is a fair reading, a 5xx is a
    server fault, anything else is recorded as what it is."""
    expect_no_5xx(response, f"200 or 400 for {label}")
    observed(clause, f"{label}: {answer_text(response)}", response, value=answer_value(response))


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
@pytest.mark.purchases("person-plain.png", "person-plain.jpg")
def test_a_single_colour_image_is_unknown_foreground_or_processed(bought, fixture: str) -> None:
    """Whether a flat image has a foreground is an open point: processing it is fair, and so
    is refusing it with unknown_foreground; no other answer is."""
    response = bought(f"person-{fixture}").response
    if response.status_code == 200:
        observed(
            "tryon.open.flat_image",
            f"{fixture}: processed (200)",
            response,
            value={"processed": True},
        )
        not_checked(
            f"the target processed the single-colour {fixture}, a fair reading", scope="reading"
        )
    expect_error(response, 400, {"unknown_foreground"}, "tryon.400.unknown_foreground")
    observed(
        "tryon.open.flat_image",
        f"{fixture}: 400 unknown_foreground",
        response,
        value={"processed": False},
    )


@pytest.mark.clause(
    "tryon.400.file_size_too_large", "tryon.limits.max_file_size", "tryon.limits.both_images"
)
@pytest.mark.parametrize(("image", "how"), BOTH_WAYS)
def test_a_file_past_the_size_limit_is_file_size_too_large(
    client: TryOnClient, target: Target, image: str, how: str
) -> None:
    response = _ask(client, _with_image(target, image, "oversize.jpg", how))
    expect_file_too_large(response, image, how)


@pytest.mark.clause("tryon.open.file_size_unit")
@pytest.mark.spends_credits
@pytest.mark.purchases("person-between.jpg")
def test_what_a_file_between_25e6_and_25_mib_gets(bought, target: Target) -> None:
    """A purchase: a target that takes it processes it, concurrently with the free checks."""
    response = bought("person-between.jpg").response
    size = len(target.images["between.jpg"])
    _observe_accepted_or_refused(response, "tryon.open.file_size_unit", f"{size:,} bytes")


@pytest.mark.clause("tryon.400.unsupported_image_format", "tryon.open.image_formats")
@pytest.mark.spends_credits
@pytest.mark.purchases(*(f"person-photo.{fmt.lower()}" for fmt in UNSUPPORTED_FORMATS))
def test_some_recognised_formats_are_unsupported_image_format(bought) -> None:
    """Which formats beyond JPEG a target takes is open (all of them is a fair reading too);
    a refusal says the image is not usable, and a 5xx is a fault."""
    answers, taken = {}, {}
    for fmt in UNSUPPORTED_FORMATS:
        response = bought(f"person-photo.{fmt.lower()}").response
        answers[fmt] = answer_text(response)
        taken[fmt] = response.status_code < 400
        if response.status_code != 200:
            expect_image_refused(response)
    observed(
        "tryon.open.image_formats",
        ", ".join(f"{k}: {v}" for k, v in answers.items()),
        value=taken,
    )
    expect_some_format_unsupported(answers)


@pytest.mark.clause("tryon.open.check_order")
def test_which_error_wins_when_two_rules_break(client: TryOnClient, target: Target) -> None:
    body = TryOnRequest.multipart(
        {**files(target), "person_image": ("t.jpg", target.images["truncated.jpg"], "image/jpeg")},
        garment_mode="sideways",
        **WAIT,
    )
    response = _ask(client, body)
    code = expect_error(response, 400, WRONG_VALUE | {"malformed_image"}, "tryon.400.body")
    observed(
        "tryon.open.check_order",
        f"bad garment_mode with a truncated image: {code}",
        value={"garment_mode_vs_image": code},
    )


@pytest.mark.clause("tryon.open.unknown_request_fields")
@pytest.mark.spends_credits
@pytest.mark.purchases("json-unknown-field")
def test_what_an_unknown_field_gets(bought) -> None:
    response = bought("json-unknown-field").response
    _observe_accepted_or_refused(
        response, "tryon.open.unknown_request_fields", "an extra JSON field"
    )


@pytest.mark.clause("tryon.open.image_url_unreachable")
def test_what_an_unreachable_image_url_gets(client: TryOnClient, target: Target) -> None:
    body = TryOnRequest.json(
        **{**urls(target), "garment_image_url": target.image_url("no-such-image.png")}, **WAIT
    )
    # The URL is a bad parameter, or what came back is no image
    codes = {"invalid_parameter", "invalid_request_body"} | NOT_AN_IMAGE
    code = expect_error(_ask(client, body), 400, codes, "tryon.400.body")
    observed(
        "tryon.open.image_url_unreachable",
        f"a URL answering 404: 400 {code}",
        value={"status": 400, "error_code": code},
    )


@pytest.mark.clause("tryon.open.form_booleans")
@pytest.mark.spends_credits
@pytest.mark.purchases("form-wait-True", "form-wait-1")
def test_which_spellings_of_a_form_flag_are_taken(bought) -> None:
    seen, taken = [], {}
    for spelling in ("True", "1"):
        response = bought(f"form-wait-{spelling}").response
        seen.append(f"{spelling!r}: {response.status_code}")
        taken[spelling] = response.status_code < 400
        expect_no_5xx(response, f"200, 202 or 400 for {spelling!r}")
    observed("tryon.open.form_booleans", ", ".join(seen), value=taken)


@pytest.mark.clause("tryon.limits.vendor_docs_profile")
@pytest.mark.spends_credits
def test_under_the_vendor_profile_64_and_6000_px_are_accepted(
    client: TryOnClient, target: Target
) -> None:
    if target.limits.name != "vendor-2025":
        not_checked("runs with --tryon-limits vendor-2025", scope="option")
    for edge in ("edge-min.jpg", "edge-max.jpg"):
        expect_vendor_edge_accepted(client.try_on(_with_person(target, edge, "file")), edge)


@pytest.mark.clause("tryon.open.resolution_per_side")
@pytest.mark.spends_credits
@pytest.mark.purchases("person-narrow.png")
def test_whether_the_minimum_bounds_each_side_or_the_pixel_count(bought, target: Target) -> None:
    response = bought("person-narrow.png").response
    low = target.limits.min_dimension
    label = f"{low * 3 // 4}x{low * 2} px"
    _observe_accepted_or_refused(response, "tryon.open.resolution_per_side", label)


@pytest.mark.clause("tryon.open.async_validation")
@pytest.mark.spends_credits
@pytest.mark.purchases("job-truncated-person")
def test_whether_polling_mode_refuses_a_bad_image_at_once(bought, target: Target) -> None:
    """A purchase: accepted, its job is followed beside the free checks; each poll is judged."""
    sale = bought("job-truncated-person")
    response = sale.response
    code = expect_refused_now_or_accepted(response)
    if code is not None:
        observed(
            "tryon.open.async_validation",
            f"refused at once: 400 {code}",
            response,
            value={"refused_at_once": True, "error_code": code},
        )
        return
    job_id, location = str(response.json()["job_id"]), location_of(response)
    trace = judge_job(job_id, location, sale.polls, target.poll, timed_out=sale.timed_out)
    # where the job ended, not each status a poll met: whether a poll caught it 'running'
    # first is the clock's, and would read as a moved open point between two runs alike
    ended = f"ended {trace.final!r}" if trace.final else f"never ended ({trace.statuses[-1:]})"
    observed(
        "tryon.open.async_validation",
        f"accepted (202), then the job {ended}",
        value={"refused_at_once": False, "job_ended": trace.final},
    )

"""Checks on images: a result is a JPEG, and the limits on what is sent (resolution, file size,
format) are kept on both images, whether sent as a file or a URL."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Final

import httpx
from PIL import Image

from tryon_suite.errors import ContractViolation
from tryon_suite.spec.schemas import ERROR_400_CODES
from tryon_suite.suite.checks.answers import body_text
from tryon_suite.suite.checks.refusals import expect_error
from tryon_suite.suite.evidence import held, not_checked
from tryon_suite.suite.strategies import NOT_AN_IMAGE, TOO_SMALL

__all__ = [
    "expect_file_too_large",
    "expect_format_within_limits",
    "expect_image_refused",
    "expect_jpeg",
    "expect_resolution_too_high",
    "expect_some_format_unsupported",
    "expect_too_small",
    "expect_vendor_edge_accepted",
]

#: Codes that say an image broke a size or resolution limit.
_LIMIT_CODES: Final = frozenset({"file_size_too_large", "resolution_too_high", "invalid_parameter"})
#: Codes for a 400 about an image at all; an ICO's small frames may fairly be too small, or show
#: no subject.
_IMAGE_CODES: Final = (
    NOT_AN_IMAGE | {"file_size_too_large", "resolution_too_high", "unknown_foreground"} | TOO_SMALL
)


def expect_jpeg(
    response: httpx.Response, clause: str = "tryon.result.jpeg", *, record: bool = True
) -> tuple[int, int]:
    """A 200 whose bytes decode as a JPEG; returns its size in pixels. With `record` False a
    pass is no evidence (the answer could fail the clause but not show it holds). A result
    URL answered "not found" or "gone" breaks its hour of validity, not its format: the
    answer says nothing of what the image would have been."""
    if response.status_code in (404, 410) and clause == "tryon.result.jpeg":
        clause = "tryon.result.valid_one_hour"
    if response.status_code != 200:
        raise ContractViolation(clause, "200 with the result image", body_text(response), response)
    try:
        with Image.open(io.BytesIO(response.content)) as image:
            fmt = image.format
            image.load()
            size = image.size
    except Exception as exc:  # any decoding failure is the finding
        raise ContractViolation(
            clause,
            "JPEG bytes",
            f"{len(response.content)} bytes Pillow cannot decode ({exc})",
            response,
        ) from None
    if fmt != "JPEG":
        raise ContractViolation(clause, "a JPEG", f"a {fmt} image", response)
    if record:
        held(clause, "a JPEG Pillow decodes", response)
    return size


def expect_resolution_too_high(response: httpx.Response, image: str, how: str) -> None:
    """An `image` past the maximum resolution, sent `how` (file or url), is refused."""
    expect_error(response, 400, {"resolution_too_high"}, "tryon.400.resolution_too_high")
    past = f"refused past it: {image} {how}"
    held(
        "tryon.limits.max_resolution",
        f"a {image} image over the maximum refused ({how})",
        part=past,
    )
    held(
        "tryon.limits.both_images",
        f"the {image} image's resolution checked as a {how}",
        part=f"{image} {how}",
    )


def expect_too_small(response: httpx.Response, image: str, how: str) -> str:
    """An `image` below the minimum resolution is refused (there is no resolution_too_low:
    any code a reasonable server could give will do); returns the code."""
    code = expect_error(
        response,
        400,
        TOO_SMALL,
        "tryon.limits.min_resolution",
        part=f"refused past it: {image} {how}",
    )
    held(
        "tryon.limits.both_images",
        f"the {image} image's minimum checked as a {how}",
        part=f"{image} {how}",
    )
    return code


def expect_file_too_large(response: httpx.Response, image: str, how: str) -> None:
    """An `image` past 25 MB is refused: file_size_too_large, invalid_parameter for a URL whose
    download passes the cap, or (RFC 9110) a 413 for an upload, which shows no code."""
    if how == "file" and response.status_code == 413:
        # 413 Content Too Large, from the server or a proxy before it, is a fair refusal of an
        # upload past the limit; the API's own code is then not shown.
        held(
            "tryon.limits.max_file_size",
            f"a {image} file over 25 MB refused (413)",
            response,
            part=f"refused past it: {image} {how}",
        )
        not_checked("the upload was refused with 413 before the API could answer", scope="reading")
    codes = {"file_size_too_large"} | ({"invalid_parameter"} if how == "url" else set())
    code = expect_error(response, 400, codes, "tryon.limits.max_file_size")
    if code == "file_size_too_large":
        held("tryon.400.file_size_too_large", f"a {image} {how} over 25 MB", response)
    held(
        "tryon.limits.max_file_size",
        f"a {image} image over 25 MB refused ({how})",
        part=f"refused past it: {image} {how}",
    )
    held(
        "tryon.limits.both_images",
        f"the {image} image's size checked as a {how}",
        part=f"{image} {how}",
    )


def expect_image_refused(response: httpx.Response) -> str:
    """A 400 refusing an image says why with an image's code; returns the code."""
    return expect_error(response, 400, _IMAGE_CODES, "tryon.400.body")


def expect_some_format_unsupported(answers: Mapping[str, str]) -> None:
    """Of recognised formats beyond JPEG, PNG and WEBP (`answers`: format -> `status code`),
    some are refused as unsupported_image_format; taking them all is a fair reading."""
    refused = [fmt for fmt, answer in answers.items() if "unsupported_image_format" in answer]
    if not refused:
        not_checked(
            f"no format was refused as unsupported_image_format, a fair reading: {dict(answers)}",
            scope="reading",
        )
    held("tryon.400.unsupported_image_format", f"refused as unsupported: {refused}")


def expect_vendor_edge_accepted(response: httpx.Response, edge: str) -> None:
    """Under the vendor-2025 profile an image at 64 or 6000 px is accepted: refused for a limit
    it breaks the profile; refused for another reason it shows nothing."""
    clause = "tryon.limits.vendor_docs_profile"
    if response.status_code == 200:
        held(clause, f"200 for {edge}", response)
        return
    code = expect_error(response, 400, ERROR_400_CODES, "tryon.400.body")
    if code in _LIMIT_CODES:
        raise ContractViolation(
            clause, f"200 for {edge}", f"{response.status_code} {code}", response
        )
    not_checked(f"{edge} was refused for another reason ({code})", scope="reading")


def expect_format_within_limits(response: httpx.Response, fmt: str, code: str | None) -> None:
    """An image of `fmt` within every limit is accepted (`code` None; evidence for JPEG and
    PNG, whether WEBP is taken is open) or refused with `code` for its format, never for its
    size or resolution."""
    if code is None:
        if fmt in ("jpg", "png"):
            held("tryon.limits.within_limits_accepted", f"a {fmt} within limits", response)
        return
    if code in ("file_size_too_large", "resolution_too_high"):
        raise ContractViolation(
            "tryon.limits.within_limits_accepted",
            f"a {fmt} image within every limit accepted",
            f"400 {code}",
            response,
        )

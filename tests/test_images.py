"""Image checks with real bytes decoded by Pillow: each documented 400 code, in order."""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from tryon_suite.spec.images import (
    ImageInfo,
    ImageProblem,
    compose_result,
    inspect_image,
    render_image,
)
from tryon_suite.spec.schemas import limit_profile

REFERENCE = limit_profile()
NEWER = limit_profile("vendor-2025")


def _code(data: bytes, profile: object = REFERENCE) -> str:
    result = inspect_image(data, profile, "person_image")  # type: ignore[arg-type]
    return "ok" if isinstance(result, ImageInfo) else result.error_code


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_supported_image_within_the_limits_passes(fmt: str) -> None:
    result = inspect_image(render_image(300, 500, fmt), REFERENCE, "person_image")
    assert result == ImageInfo(fmt, 300, 500), f"expected ImageInfo({fmt}, 300, 500), got {result}"


@pytest.mark.parametrize(
    ("width", "height", "expected"),
    [
        (256, 256, "ok"),
        (1920, 1920, "ok"),
        (1921, 300, "resolution_too_high"),
        (300, 1921, "resolution_too_high"),
        (255, 300, "invalid_parameter"),
        (300, 255, "invalid_parameter"),
    ],
)
def test_dimensions_are_checked_at_both_edges(width: int, height: int, expected: str) -> None:
    got = _code(render_image(width, height, "PNG"))
    assert got == expected, f"expected {expected} for {width}x{height}, got {got}"


def test_the_newer_profile_moves_the_edges() -> None:
    assert _code(render_image(64, 64, "PNG"), NEWER) == "ok"
    assert _code(render_image(2400, 100, "PNG"), NEWER) == "ok"
    assert _code(render_image(63, 100, "PNG"), NEWER) == "invalid_parameter"


def test_a_file_past_the_size_limit_is_refused_before_decoding() -> None:
    valid = render_image(300, 300, "JPEG")
    padded = valid + b"\0" * (REFERENCE.max_file_bytes_high + 1 - len(valid))
    problem = inspect_image(padded, REFERENCE, "garment_image")
    assert problem == ImageProblem(
        "file_size_too_large", "garment_image: expected at most 26214400 bytes, got 26214401"
    ), f"got {problem}"


def test_a_file_of_exactly_the_upper_size_is_not_refused_for_size() -> None:
    valid = render_image(300, 300, "JPEG")
    padded = valid + b"\0" * (REFERENCE.max_file_bytes_high - len(valid))
    got = _code(padded)
    assert got != "file_size_too_large", f"expected no size refusal at the limit, got {got}"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "empty"),
        (os.urandom(0) + bytes(range(256)) * 40, "random-looking bytes"),
        (b"GIF89a" + b"\0" * 4, "a header and nothing else"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 100, "a JPEG signature and junk"),
    ],
)
def test_bytes_that_are_not_an_image_are_malformed(data: bytes, why: str) -> None:
    assert _code(data) == "malformed_image", (
        f"expected malformed_image for {why}, got {_code(data)}"
    )


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_truncated_image_is_malformed(fmt: str) -> None:
    data = render_image(600, 800, fmt, seed=3)
    got = _code(data[: len(data) // 2])
    assert got == "malformed_image", f"expected malformed_image for a cut {fmt}, got {got}"


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_a_recognised_but_unsupported_format_is_refused(fmt: str) -> None:
    problem = inspect_image(render_image(300, 300, fmt), REFERENCE, "person_image")
    assert problem == ImageProblem(
        "unsupported_image_format", f"person_image: expected one of JPEG, PNG, WEBP, got {fmt}"
    ), f"got {problem}"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_single_colour_image_has_no_foreground(fmt: str) -> None:
    got = _code(render_image(400, 400, fmt, kind="plain"))
    assert got == "unknown_foreground", f"expected unknown_foreground, got {got}"


def test_a_fully_transparent_png_has_no_foreground() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (300, 300), (10, 200, 30, 0)).save(out, "PNG")
    assert _code(out.getvalue()) == "unknown_foreground"


def test_a_decompression_bomb_is_too_high_not_a_crash() -> None:
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")  # small file, 400 megapixels
    got = _code(out.getvalue())
    assert got == "resolution_too_high", f"expected resolution_too_high, got {got}"


def test_the_result_is_a_real_jpeg_composed_of_both_inputs() -> None:
    person, garment = render_image(512, 768, "JPEG"), render_image(400, 400, "PNG", kind="garment")
    result = compose_result(person, garment)
    with Image.open(io.BytesIO(result)) as image:
        image.load()
        assert image.format == "JPEG", f"expected a JPEG, got {image.format}"
        assert max(image.size) == 384, f"expected the long side 384 px, got {image.size}"


def test_rendered_fixtures_are_deterministic_per_seed() -> None:
    assert render_image(300, 300, "PNG", seed=4) == render_image(300, 300, "PNG", seed=4)
    assert render_image(300, 300, "PNG", seed=4) != render_image(300, 300, "PNG", seed=5)


@pytest.mark.parametrize(
    "name", ["grey16.png", "palette.png", "grey.png", "cmyk.jpg", "progressive.jpg"]
)
def test_the_variety_of_real_files_passes_as_a_plain_image_does(name: str) -> None:
    """Modes resampling does not take (16-bit greyscale) are valid images all the same."""
    from tryon_suite.spec.fixture_images import FixtureImages

    data = FixtureImages(limit_profile("reference"))[name]
    checked = inspect_image(data, limit_profile("reference"), "person_image")
    assert isinstance(checked, ImageInfo), f"expected {name} taken as an image, got {checked}"

"""Real image bytes: checking inputs as the API does, composing results, making fixtures."""

from __future__ import annotations

import io
import random
import warnings
from dataclasses import dataclass
from typing import Final, Literal

from PIL import Image, ImageDraw, ImageFile

from tryon_suite.spec.schemas import LimitProfile

__all__ = [
    "RECOGNISED_FORMATS",
    "ImageInfo",
    "ImageProblem",
    "compose_result",
    "inspect_image",
    "render_image",
]

#: Formats we identify by their magic bytes. Only these are tried, so random bytes are not
#: mistaken for a format with a weak signature (TGA would claim almost anything).
RECOGNISED_FORMATS: Final[tuple[str, ...]] = (
    "JPEG",
    "PNG",
    "WEBP",
    "GIF",
    "BMP",
    "TIFF",
    "ICO",
    "JPEG2000",
    "PSD",
)

#: Below this spread of every channel, an image is one colour and has no foreground.
_FLAT_SPREAD: Final = 6


@dataclass(frozen=True)
class ImageInfo:
    """An image that passed every check."""

    format: str
    width: int
    height: int


@dataclass(frozen=True)
class ImageProblem:
    """Why an image was refused: a documented 400 error_code and a sentence naming the field."""

    error_code: str
    message: str


def inspect_image(data: bytes, profile: LimitProfile, field: str) -> ImageInfo | ImageProblem:
    """Check image bytes in the order size, format, dimensions, full decode, foreground."""
    if len(data) > profile.max_file_bytes_high:
        return ImageProblem(
            "file_size_too_large",
            f"{field}: expected at most {profile.max_file_bytes_high} bytes, got {len(data)}",
        )
    if not data:
        return ImageProblem("malformed_image", f"{field}: expected image bytes, got none")
    try:
        with warnings.catch_warnings():
            # Dimensions are judged below against the profile; Pillow's bomb warning adds nothing.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=RECOGNISED_FORMATS)
    except Image.DecompressionBombError:
        return ImageProblem(
            "resolution_too_high",
            f"{field}: expected at most {profile.max_dimension}x{profile.max_dimension} px, "
            "got an image far larger",
        )
    except Exception:  # Pillow raises many types on hostile headers; all mean the same here
        return ImageProblem(
            "malformed_image", f"{field}: expected a decodable image, got unrecognised bytes"
        )
    with image:
        fmt = image.format or "unknown"
        if fmt not in profile.formats:
            allowed = ", ".join(profile.formats)
            return ImageProblem(
                "unsupported_image_format", f"{field}: expected one of {allowed}, got {fmt}"
            )
        width, height = image.size
        if width > profile.max_dimension or height > profile.max_dimension:
            return ImageProblem(
                "resolution_too_high",
                f"{field}: expected at most {profile.max_dimension}x{profile.max_dimension} px, "
                f"got {width}x{height}",
            )
        if width < profile.min_dimension or height < profile.min_dimension:
            # API.md: no resolution_too_low exists; which code applies is an open point.
            return ImageProblem(
                "invalid_parameter",
                f"{field}: expected at least {profile.min_dimension}x{profile.min_dimension} px, "
                f"got {width}x{height}",
            )
        try:
            small = _decode_small(image)
        except Exception:
            return ImageProblem(
                "malformed_image", f"{field}: expected a complete {fmt} image, got a broken one"
            )
    if _is_flat(small):
        return ImageProblem(
            "unknown_foreground", f"{field}: expected a subject to find, got a single-colour image"
        )
    return ImageInfo(fmt, width, height)


_RESAMPLED: Final = frozenset({"1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr", "I", "F"})


def _decode_small(image: ImageFile.ImageFile) -> Image.Image:
    """Decode every byte (so truncation shows) into a thumbnail, cheaply where the codec allows."""
    if image.format == "JPEG":
        image.draft("RGB", (128, 128))  # JPEG decodes at 1/8 scale, still reading all the data
    image.load()
    # Modes resampling does not take (16-bit greyscale, say) are valid images all the same.
    small = image.copy() if image.mode in _RESAMPLED else image.convert("RGBA")
    small.thumbnail((128, 128))
    return small


def _is_flat(image: Image.Image) -> bool:
    if "A" in image.getbands():
        alpha = image.getchannel("A")
        if alpha.getextrema()[1] == 0:
            return True  # fully transparent: nothing in front of anything
    extrema = image.convert("RGB").getextrema()
    return all(high - low <= _FLAT_SPREAD for low, high in extrema)  # type: ignore[misc]


def compose_result(person: bytes, garment: bytes, max_side: int = 384) -> bytes:
    """A cheap but real try-on result: the garment pasted on the person, as a JPEG."""
    with Image.open(io.BytesIO(person)) as p:
        if p.format == "JPEG":
            p.draft("RGB", (max_side, max_side))
        base = p.convert("RGB")
    base.thumbnail((max_side, max_side))
    with Image.open(io.BytesIO(garment)) as g:
        if g.format == "JPEG":
            g.draft("RGB", (max_side, max_side))
        overlay = g.convert("RGBA")
    overlay.thumbnail((max(1, base.width // 2), max(1, base.height // 2)))
    x = (base.width - overlay.width) // 2
    y = (base.height - overlay.height) // 3
    base.paste(overlay, (x, y), overlay)
    out = io.BytesIO()
    base.save(out, "JPEG", quality=80)
    return out.getvalue()


Kind = Literal["person", "garment", "plain"]


def render_image(
    width: int,
    height: int,
    fmt: str = "JPEG",
    *,
    kind: Kind = "person",
    seed: int = 0,
) -> bytes:
    """Real image bytes of a given size and format: a figure, a garment, or one flat colour."""
    rng = random.Random(seed)
    background = (rng.randrange(180, 256), rng.randrange(180, 256), rng.randrange(180, 256))
    mode = "RGB" if fmt in ("JPEG", "BMP", "PPM") else "RGBA"
    image = Image.new(mode, (width, height), background)
    if kind != "plain":
        draw = ImageDraw.Draw(image)
        colour = (rng.randrange(0, 120), rng.randrange(0, 120), rng.randrange(0, 120))
        w, h = width, height
        if kind == "person":
            draw.ellipse((w * 0.40, h * 0.05, w * 0.60, h * 0.25), fill=colour)
            draw.rectangle((w * 0.30, h * 0.25, w * 0.70, h * 0.95), fill=colour)
        else:
            draw.polygon(
                [(w * 0.2, h * 0.2), (w * 0.8, h * 0.2), (w * 0.7, h * 0.9), (w * 0.3, h * 0.9)],
                fill=colour,
            )
    out = io.BytesIO()
    if fmt == "GIF":
        image = image.convert("P")
    image.save(out, fmt)
    return out.getvalue()

"""The fixture images every check uses: real bytes, made on demand, the same on every run.

Sizes follow the limit profile under test, so the edges (too small, too high, exactly at the
limit) move with it.
"""

from __future__ import annotations

import functools
import io
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from PIL import Image

from tryon_suite.spec.images import render_image
from tryon_suite.spec.schemas import LimitProfile

__all__ = ["MIME_TYPES", "UNSUPPORTED_FORMATS", "FixtureImages"]

#: Formats Pillow writes that are not JPEG, PNG or WEBP: which ones a target refuses is an open
#: point, but it must refuse some as unsupported_image_format.
UNSUPPORTED_FORMATS: Final = ("GIF", "BMP", "TIFF", "ICO")
MIME_TYPES: Final[Mapping[str, str]] = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
    "ico": "image/x-icon",
    "bin": "application/octet-stream",
}


class FixtureImages:
    """Named fixture images for one limit profile; each is made once, then cached."""

    def __init__(self, profile: LimitProfile) -> None:
        self.profile = profile
        low, high = profile.min_dimension, profile.max_dimension
        mid = max(low, min(high, 512))
        makers: dict[str, Callable[[], bytes]] = {
            "person.jpg": lambda: render_image(mid, min(high, mid * 3 // 2), "JPEG", seed=1),
            "person.png": lambda: render_image(mid, mid, "PNG", seed=3),
            "person.webp": lambda: render_image(mid, mid, "WEBP", seed=5),
            "garment.png": lambda: render_image(mid, mid, "PNG", kind="garment", seed=2),
            "garment.jpg": lambda: render_image(mid, mid, "JPEG", kind="garment", seed=4),
            "garment.webp": lambda: render_image(mid, mid, "WEBP", kind="garment", seed=6),
            "edge-min.png": lambda: render_image(low, low, "PNG", seed=7),
            # The limits in JPEG too: which formats beside JPEG a target takes is open.
            "edge-min.jpg": lambda: render_image(low, low, "JPEG", seed=7),
            "edge-max.jpg": lambda: render_image(high, high, "JPEG", seed=8),
            "too-small.jpg": lambda: render_image(low - 1, low - 1, "JPEG", seed=9),
            "too-high.jpg": lambda: _large(high + 1, "JPEG"),
            # One side past a limit, the other at it: past the limit under every reading
            # (per side, or by pixel count), so each side's rule is seen alone.
            "wide-over.jpg": lambda: _large(high + 1, "JPEG", high),
            "tall-over.jpg": lambda: _large(high, "JPEG", high + 1),
            "narrow-under.jpg": lambda: render_image(low - 1, low, "JPEG", seed=18),
            "short-under.jpg": lambda: render_image(low, low - 1, "JPEG", seed=19),
            # The valid band's other corners: one side at the maximum, the other at the minimum.
            "band-wide.jpg": lambda: _large(high, "JPEG", low),
            "band-tall.jpg": lambda: _large(low, "JPEG", high),
            "edge-max.png": lambda: render_image(high, high, "PNG", seed=8),
            # Both sides past the edge, so per-side and pixel-count readings agree.
            "too-small.png": lambda: render_image(low - 1, low - 1, "PNG", seed=9),
            "too-high.png": lambda: _large_png(high + 1),
            # One side under the minimum, but more pixels than min x min: per-side and
            # pixel-count readings of the limit disagree on it.
            "narrow.png": lambda: render_image(low * 3 // 4, low * 2, "PNG", seed=17),
            "plain.png": lambda: render_image(mid, mid, "PNG", kind="plain", seed=10),
            "plain.jpg": lambda: render_image(mid, mid, "JPEG", kind="plain", seed=11),
            # Cut before the scan data: no decoder, however tolerant, gets pixels from it.
            "truncated.jpg": lambda: _before_scan(render_image(mid, mid, "JPEG", seed=12)),
            "random.bin": lambda: random.Random(13).randbytes(20_000),
            "empty.jpg": lambda: b"",
            "oversize.jpg": lambda: _padded(
                render_image(mid, mid, "JPEG", seed=14), profile.max_file_bytes_high + 1
            ),
            "between.jpg": lambda: _padded(
                render_image(mid, mid, "JPEG", seed=15),
                (profile.max_file_bytes_low + profile.max_file_bytes_high) // 2,
            ),
        }
        makers.update(_variety(mid, profile))
        for fmt in UNSUPPORTED_FORMATS:
            makers[f"photo.{fmt.lower()}"] = functools.partial(_unsupported, fmt, min(mid, 256))
        self._makers = makers
        self._cache: dict[str, bytes] = {}

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._makers)

    def __getitem__(self, name: str) -> bytes:
        if name not in self._cache:
            try:
                maker = self._makers[name]
            except KeyError:
                known = ", ".join(self._makers)
                raise KeyError(f"expected a fixture image among {known}, got {name!r}") from None
            self._cache[name] = maker()
        return self._cache[name]

    @staticmethod
    def mime_type(name: str) -> str:
        return MIME_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")

    def export(self, folder: Path) -> list[Path]:
        """Write every image to `folder`, to host them where a remote target can fetch them."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name in self.names:
            path = folder / name
            path.write_bytes(self[name])
            written.append(path)
        return written


def _before_scan(data: bytes) -> bytes:
    """A JPEG's headers without its scan: recognisable as a JPEG, decodable by nothing."""
    return data[: data.index(b"\xff\xda")]


def _padded(image: bytes, size: int) -> bytes:
    """A valid image followed by zeros up to `size` bytes (decoders stop at the image's end)."""
    return image + b"\0" * max(0, size - len(image))


def _large_png(side: int) -> bytes:
    return _large(side, "PNG")


def _large(side: int, fmt: str, height: int | None = None) -> bytes:
    """A large image (square unless `height`), kept small on disk by a simple drawing in
    palette mode."""
    height = side if height is None else height
    image = Image.new("P", (side, height), 1)
    image.putpalette([240, 240, 235, 40, 60, 90] + [0] * 762)
    stripe = Image.new("P", (max(1, side // 3), max(1, height // 2)), 0)
    image.paste(stripe, (side // 3, height // 4))
    out = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(out, "JPEG", quality=70)
    else:
        image.save(out, fmt, optimize=False)
    return out.getvalue()


def _saved(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _variety(mid: int, profile: LimitProfile) -> dict[str, Callable[[], bytes]]:
    """Images in the variety real files come in, each valid within the limits: colour modes,
    encodings, metadata, animation, and a file of exactly the size limit. Each is compared with
    the plain image of its format (`schemas/model.yaml`), so a format a target refuses is
    refused alike and never counts against it."""

    def photo(mode: str = "RGB", seed: int = 20) -> Image.Image:
        rgb = Image.open(io.BytesIO(render_image(mid, mid * 5 // 4, "PNG", seed=seed)))
        return rgb.convert("RGB").convert(mode)

    def exif_rotated() -> bytes:
        exif = Image.Exif()
        exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
        exif[0x010F] = "tryon-suite"  # Make
        return _saved(photo(), "JPEG", exif=exif.tobytes())

    def with_metadata() -> bytes:
        from PIL import ImageCms

        icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
        exif = Image.Exif()
        exif[0x0131] = "tryon-suite fixtures"  # Software
        return _saved(photo(), "JPEG", icc_profile=icc, exif=exif.tobytes(), comment=b"suite")

    def frames(fmt: str) -> bytes:
        first, second = photo(seed=21), photo(seed=22)
        if fmt == "GIF":
            first, second = first.convert("P"), second.convert("P")
        return _saved(first, fmt, save_all=True, append_images=[second], duration=200, loop=0)

    return {
        "grey.jpg": lambda: _saved(photo("L"), "JPEG"),
        "cmyk.jpg": lambda: _saved(photo("CMYK"), "JPEG"),
        "progressive.jpg": lambda: _saved(photo(), "JPEG", progressive=True, quality=85),
        "exif-rotated.jpg": exif_rotated,
        "metadata.jpg": with_metadata,
        "palette.png": lambda: _saved(photo("P"), "PNG"),
        "grey.png": lambda: _saved(photo("L"), "PNG"),
        "grey16.png": lambda: _saved(photo("L").convert("I;16"), "PNG"),
        "rgb.png": lambda: _saved(photo(), "PNG"),
        "animated.gif": lambda: frames("GIF"),
        # Exactly the limit's smaller reading: at most 25 MB under either reading of "MB".
        "size-at-limit.jpg": lambda: _padded(
            render_image(mid, mid, "JPEG", seed=23), profile.max_file_bytes_low
        ),
    }


def _unsupported(fmt: str, side: int) -> bytes:
    return render_image(side, side, fmt, seed=16)

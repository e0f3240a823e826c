"""Hypothesis strategies for try-on bodies, built from the schemas and the clause catalogue.

Valid bodies are valid by the whole contract (real images within the limits), not just by
the schema. Invalid bodies break one rule of a valid one, so the answer it calls for is known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from hypothesis import strategies as st

from tryon_suite.http.client import TryOnRequest
from tryon_suite.spec.fixture_images import FixtureImages
from tryon_suite.spec.images import render_image
from tryon_suite.spec.model import TOO_SMALL as TOO_SMALL
from tryon_suite.spec.model import WRONG_TYPE as WRONG_TYPE
from tryon_suite.spec.schemas import load_schema

__all__ = [
    "Violation",
    "flag_values",
    "garment_modes",
    "images_within_limits",
    "invalid_try_on_bodies",
    "try_on_bodies",
]

_REQUEST: Final = load_schema("try-on-request.json")
#: garment_mode's enum and the flags, read from the schema rather than written again here.
GARMENT_MODES: Final[tuple[str, ...]] = tuple(_REQUEST["properties"]["garment_mode"]["enum"])
FLAGS: Final[tuple[str, ...]] = tuple(
    name for name, spec in _REQUEST["properties"].items() if spec.get("type") == "boolean"
)
#: Bytes that are no image: undecodable, or of no format the server knows.
NOT_AN_IMAGE: Final = frozenset({"malformed_image", "unsupported_image_format"})
#: Spellings a lenient server may fairly read as a boolean; never used as a wrong value.
_BOOLEANISH: Final = frozenset(
    {"", "true", "false", "1", "0", "yes", "no", "on", "off", "t", "f", "y", "n"}
)


def garment_modes() -> st.SearchStrategy[str]:
    return st.sampled_from(GARMENT_MODES)


def flag_values() -> st.SearchStrategy[dict[str, bool]]:
    """Each flag present (true or false) or absent."""
    return st.fixed_dictionaries({}, optional={name: st.booleans() for name in FLAGS})


@dataclass(frozen=True)
class Image:
    """An image within the limits, as a name, its bytes and its MIME type."""

    name: str
    data: bytes
    mime: str


_MIME: Final = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_EXT: Final = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


def images_within_limits(images: FixtureImages, kind: str) -> st.SearchStrategy[Image]:
    """Real images of varied size and format inside the profile's limits (capped at 800 px)."""
    low, high = images.profile.min_dimension, min(images.profile.max_dimension, 800)

    @st.composite
    def build(draw: st.DrawFn) -> Image:
        # JPEG and PNG: which other formats a target takes is an open point (tryon.limits.formats)
        fmt = draw(st.sampled_from(sorted(set(images.profile.formats) & {"JPEG", "PNG"})))
        width = draw(st.integers(low, high))
        height = draw(st.integers(low, high))
        seed = draw(st.integers(0, 50))
        data = render_image(width, height, fmt, kind=kind, seed=seed)  # type: ignore[arg-type]
        return Image(f"gen-{kind}-{width}x{height}-{seed}.{_EXT[fmt]}", data, _MIME[fmt])

    return build()


Publish = Callable[[str, bytes], str] | None


def try_on_bodies(
    images: FixtureImages,
    image_url: Callable[[str], str],
    publish: Publish = None,
    kinds: tuple[str, ...] = ("json", "multipart"),
    waiting: bool | None = None,
) -> st.SearchStrategy[TryOnRequest]:
    """Valid try-on bodies: both content types, each optional field present or absent;
    `waiting` fixes wait_for_result (True or False) instead of drawing it."""

    @st.composite
    def build(draw: st.DrawFn) -> TryOnRequest:
        kind = draw(st.sampled_from(kinds))
        fields: dict[str, Any] = dict(draw(flag_values()))
        if waiting is not None:
            fields["wait_for_result"] = waiting
        if draw(st.booleans()):
            fields["garment_mode"] = draw(garment_modes())
        files: dict[str, tuple[str, bytes, str]] = {}
        for role, fixture in (("person", "person.jpg"), ("garment", "garment.jpg")):
            image = draw(images_within_limits(images, role))
            as_file = kind == "multipart" and draw(st.booleans())
            if as_file:
                files[f"{role}_image"] = (image.name, image.data, image.mime)
                if draw(st.booleans()):  # a URL beside the file: the file wins
                    fields[f"{role}_image_url"] = image_url("random.bin")
            elif publish is not None:
                fields[f"{role}_image_url"] = publish(image.name, image.data)
            else:
                fields[f"{role}_image_url"] = image_url(fixture)
        if kind == "json":
            return TryOnRequest.json(**fields)
        return TryOnRequest.multipart(files, **fields)

    return build()


@dataclass(frozen=True)
class Violation:
    """One broken rule, the body that breaks it, and the 400 codes the contract allows."""

    rule: str
    body: TryOnRequest | None
    codes: frozenset[str]
    clause: str
    content: bytes | None = None
    content_type: str | None = None


def _bad_images(images: FixtureImages) -> list[tuple[str, str, frozenset[str]]]:
    """(fixture, clause, allowed codes) for each image rule."""
    return [
        ("truncated.jpg", "tryon.400.malformed_image", frozenset({"malformed_image"})),
        ("random.bin", "tryon.400.malformed_image", NOT_AN_IMAGE),
        # A single-colour image is not here: whether it is refused is an open point.
        ("too-high.jpg", "tryon.400.resolution_too_high", frozenset({"resolution_too_high"})),
        ("too-small.jpg", "tryon.limits.min_resolution", TOO_SMALL),
    ]


def invalid_try_on_bodies(
    images: FixtureImages, image_url: Callable[[str], str]
) -> st.SearchStrategy[Violation]:
    """A valid body with exactly one rule broken, and what the contract says it must get."""
    person, garment = images["person.jpg"], images["garment.jpg"]
    base_files = {
        "person_image": ("person.jpg", person, "image/jpeg"),
        "garment_image": ("garment.jpg", garment, "image/jpeg"),
    }
    base_urls = {
        "person_image_url": image_url("person.jpg"),
        "garment_image_url": image_url("garment.jpg"),
    }

    @st.composite
    def build(draw: st.DrawFn) -> Violation:
        rule = draw(
            st.sampled_from(
                [
                    "garment_mode outside the enum",
                    "a flag of the wrong type",
                    "an image missing",
                    "a bad image file",
                    "a URL that is not a string",
                    "a body that is not JSON",
                    "another content type",
                ]
            )
        )
        multipart = draw(st.booleans())
        waiting = {"wait_for_result": True}  # API.md open point: async may validate later
        if rule == "garment_mode outside the enum":
            mode = draw(
                st.text(min_size=1, max_size=12).filter(
                    lambda s: s.strip().lower() not in GARMENT_MODES and s.strip() != ""
                )
            )
            body = (
                TryOnRequest.multipart(base_files, garment_mode=mode, **waiting)
                if multipart
                else TryOnRequest.json(**base_urls, garment_mode=mode, **waiting)
            )
            # "A parameter was provided but it was invalid", or "the body was ... invalid": both
            return Violation(rule, body, WRONG_TYPE, "tryon.request.garment_mode")
        if rule == "a flag of the wrong type":
            flag = draw(st.sampled_from(FLAGS))
            if multipart:
                # no numbers: how form text maps to a flag is open ("1", "2" may mean true)
                value: Any = draw(st.sampled_from(["maybe", "yes please", "nil", "tru"]))
                body = TryOnRequest.multipart(base_files, **{flag: value})
            else:
                value = draw(
                    st.sampled_from([[], {}, "maybe"])
                    | st.text(max_size=5).filter(lambda s: s.strip().lower() not in _BOOLEANISH)
                )
                body = TryOnRequest.json(**base_urls, **{flag: value})
            return Violation(rule, body, WRONG_TYPE, f"tryon.request.{flag}")
        if rule == "an image missing":
            role = draw(st.sampled_from(["person", "garment"]))
            if multipart:
                files = {k: v for k, v in base_files.items() if not k.startswith(role)}
                body = TryOnRequest.multipart(files, **waiting)
            else:
                urls = {k: v for k, v in base_urls.items() if not k.startswith(role)}
                body = TryOnRequest.json(**urls, **waiting)
            return Violation(
                rule, body, frozenset({"missing_parameter"}), f"tryon.request.{role}_image_required"
            )
        if rule == "a bad image file":
            name, clause, codes = draw(st.sampled_from(_bad_images(images)))
            role = draw(st.sampled_from(["person", "garment"]))
            bad = {**base_urls, f"{role}_image_url": image_url(name)}
            if multipart:
                # the part declares its bytes' own type: only the image rule is broken
                part = (name, images[name], images.mime_type(name))
                files = {**base_files, f"{role}_image": part}
                body = TryOnRequest.multipart(files, **waiting)
            else:
                body = TryOnRequest.json(**bad, **waiting)
                if clause == "tryon.400.malformed_image":  # a URL's content is its parameter
                    codes = codes | {"invalid_parameter"}
            return Violation(rule, body, codes, clause)
        if rule == "a URL that is not a string":
            value = draw(st.sampled_from([7, True, ["https://x.test/a.jpg"], {"url": "x"}]))
            role = draw(st.sampled_from(["person", "garment"]))
            body = TryOnRequest.json(**{**base_urls, f"{role}_image_url": value}, **waiting)
            return Violation(rule, body, WRONG_TYPE, f"tryon.request.{role}_image_url")
        if rule == "a body that is not JSON":
            content = draw(
                st.sampled_from([b"", b"{", b"not json", b'{"person_image_url": '])
                | st.binary(max_size=40).filter(_not_json)
            )
            # An empty body may fairly be read as an empty object: missing parameters.
            empty = frozenset({"missing_parameter"} if not content else ())
            codes = frozenset({"invalid_request_body"}) | empty
            return Violation(
                rule,
                None,
                codes,
                "tryon.400.invalid_request_body",
                content,
                "application/json",
            )
        content_type = draw(
            st.sampled_from(
                ["text/plain", "application/xml", "application/x-www-form-urlencoded", "image/jpeg"]
            )
        )
        return Violation(
            rule,
            None,
            frozenset({"unsupported_content_type"}),
            "tryon.400.unsupported_content_type",
            b"person_image_url=x",
            content_type,
        )

    return build()


def _not_json(data: bytes) -> bool:
    import json

    try:
        json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return True
    return False

"""The try-on parameters, read from a JSON object or a multipart form as the contract says."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, fields
from typing import Final, Literal, TypeGuard

import httpx

from tryon_suite.simulator import bodies
from tryon_suite.simulator.bodies import Form
from tryon_suite.simulator.readings import Readings
from tryon_suite.spec import schemas as contract

__all__ = [
    "FLAG_DEFAULTS",
    "FORM_FIELDS",
    "GARMENT_MODES",
    "JSON_FIELDS",
    "HeldBack",
    "ParamProblem",
    "TryOnParams",
    "from_form",
    "from_json",
    "read",
]

#: A static mirror of garment_mode's enum for mypy; tests/test_single_source.py keeps it equal
#: to the schema's, which is what requests are checked against.
GarmentMode = Literal["auto", "full", "upper", "lower"]
GARMENT_MODES: Final = contract.garment_modes()
#: API.md, Try-on request: what an absent field means, as schemas/try-on-request.json says.
DEFAULTS: Final[Mapping[str, object]] = contract.request_defaults()
FLAG_DEFAULTS: Final[Mapping[str, bool]] = contract.flag_defaults()
URL_FIELDS: Final = contract.url_fields()
#: Each image comes as a file part named like its URL field without `_url` (try-on-form.json).
IMAGE_FIELDS: Final = tuple(name.removesuffix("_url") for name in URL_FIELDS)
#: The additionalProperties of both request schemas is false: these are the only fields.
JSON_FIELDS: Final = contract.request_fields(contract.REQUEST_SCHEMA)
FORM_FIELDS: Final = contract.request_fields(contract.FORM_SCHEMA)
_URL: Final = {name: re.compile(contract.request_property(name)["pattern"]) for name in URL_FIELDS}
_MAX_URL_CHARS: Final = 2048
_OURS: Final = Readings()


@dataclass(frozen=True)
class ParamProblem:
    """A parameter the API would refuse: a documented 400 code and a sentence naming it."""

    error_code: str
    message: str
    #: 400, but for a file past the cap where the readings answer it otherwise (413)
    status: int = 400


@dataclass(frozen=True)
class TryOnParams:
    """One try-on request, with defaults filled in; each image as bytes, a URL, or neither."""

    person_image: bytes | None
    garment_image: bytes | None
    person_image_url: str | None
    garment_image_url: str | None
    garment_mode: GarmentMode
    preprocess_garment: bool
    remove_background: bool
    wait_for_result: bool


@dataclass(frozen=True)
class HeldBack(TryOnParams):
    """The parameters, and a refusal judged after the images: a garment_mode outside the
    enum, where the readings' check_order names garment_mode as a check of its own."""

    problem: ParamProblem | None = None


def _check_url(name: str, value: object) -> str | ParamProblem:
    if not isinstance(value, str):
        return ParamProblem(
            "invalid_parameter", f"{name}: expected a URL string, got {_kind(value)}"
        )
    shown = value if len(value) <= 80 else value[:77] + "..."
    if len(value) > _MAX_URL_CHARS or not _URL[name].match(value):
        return ParamProblem("invalid_parameter", f"{name}: expected an http(s) URL, got {shown!r}")
    try:
        port = httpx.URL(value).port
    except (httpx.InvalidURL, ValueError, UnicodeError):
        return ParamProblem("invalid_parameter", f"{name}: expected a valid URL, got {shown!r}")
    if port is not None and not 0 < port < 65536:
        return ParamProblem("invalid_parameter", f"{name}: expected a port 1-65535, got {port}")
    return value


def _is_mode(value: object) -> TypeGuard[GarmentMode]:
    return isinstance(value, str) and value in GARMENT_MODES


def _check_mode(value: object) -> GarmentMode | ParamProblem:
    if _is_mode(value):
        return value
    shown = repr(value) if isinstance(value, str) and len(value) <= 40 else _kind(value)
    modes = ", ".join(GARMENT_MODES)
    return ParamProblem("invalid_parameter", f"garment_mode: expected one of {modes}, got {shown}")


def _kind(value: object) -> str:
    """A short name for a JSON value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _build(
    values: Mapping[str, object],
    files: Mapping[str, bytes],
    flags: Mapping[str, bool],
    readings: Readings,
) -> TryOnParams | ParamProblem:
    urls: dict[str, str | None] = {}
    for name in URL_FIELDS:
        if name in values:
            checked = _check_url(name, values[name])
            if isinstance(checked, ParamProblem):
                return checked
            urls[name] = checked
        else:
            urls[name] = None
    mode = _check_mode(values.get("garment_mode", DEFAULTS["garment_mode"]))
    held_back: ParamProblem | None = None
    if isinstance(mode, ParamProblem):
        if "garment_mode" not in readings.check_order:
            return mode
        held_back, mode = mode, "auto"
    for image in IMAGE_FIELDS:
        if image not in files and urls[f"{image}_url"] is None:
            return ParamProblem(
                "missing_parameter", f"{image}: expected a file or {image}_url, got neither"
            )
    parsed = TryOnParams(
        person_image=files.get("person_image"),
        garment_image=files.get("garment_image"),
        person_image_url=urls["person_image_url"],
        garment_image_url=urls["garment_image_url"],
        garment_mode=mode,
        preprocess_garment=flags["preprocess_garment"],
        remove_background=flags["remove_background"],
        wait_for_result=flags["wait_for_result"],
    )
    if held_back is None:
        return parsed
    return HeldBack(**{f.name: getattr(parsed, f.name) for f in fields(parsed)}, problem=held_back)


def _unknown(names: list[str], allowed: frozenset[str], code: str) -> ParamProblem | None:
    """The request schemas allow no other field; which code applies is not documented."""
    unknown = [name for name in names if name not in allowed]
    if not unknown:
        return None
    shown = unknown[0] if len(unknown[0]) <= 40 else unknown[0][:37] + "..."
    return ParamProblem(
        code,
        f"{shown}: expected only the documented fields ({', '.join(sorted(allowed))}), "
        "got an unknown one",
    )


def from_json(body: object, readings: Readings = _OURS) -> TryOnParams | ParamProblem:
    """Parameters of a JSON body; a field the contract does not name is refused (or ignored,
    as `readings` has it)."""
    if not isinstance(body, dict):
        return ParamProblem("invalid_request_body", f"expected a JSON object, got {_kind(body)}")
    code = readings.unknown_field_code
    if code is None:
        body = {name: value for name, value in body.items() if name in JSON_FIELDS}
    for name in IMAGE_FIELDS:
        if code is not None and name in body:
            return ParamProblem(
                code, f"{name}: expected {name}_url in a JSON body (files need multipart/form-data)"
            )
    if code is not None and (problem := _unknown(list(body), JSON_FIELDS, code)) is not None:
        return problem
    flags: dict[str, bool] = {}
    for name, default in FLAG_DEFAULTS.items():
        value = body.get(name, default)
        if not isinstance(value, bool):
            return ParamProblem(
                readings.wrong_type_code, f"{name}: expected true or false, got {_kind(value)}"
            )
        flags[name] = value
    return _build(body, {}, flags, readings)


def _flag(text: str, readings: Readings) -> bool | None:
    """A form flag's value as `readings` spells it (true or false, in any case or exactly;
    1 and 0 too, or not); None: not a spelling taken."""
    spelled = text.strip().lower() if readings.form_flags_any_case else text
    if readings.form_flags_digits and spelled in ("1", "0"):
        return spelled == "1"
    return spelled == "true" if spelled in ("true", "false") else None


def from_form(form: Form, readings: Readings = _OURS) -> TryOnParams | ParamProblem:
    """Parameters of a multipart form: flags travel as the text true or false."""
    code = readings.unknown_field_code
    texts = form.fields
    if code is None:
        texts = {name: text for name, text in texts.items() if name in FORM_FIELDS}
    elif (problem := _unknown([*texts, *form.stray_files], FORM_FIELDS, code)) is not None:
        return problem
    flags: dict[str, bool] = {}
    for name, default in FLAG_DEFAULTS.items():
        text = texts.get(name)
        value = default if text is None else _flag(text, readings)
        if value is None:
            assert text is not None
            shown = text if len(text) <= 40 else text[:37] + "..."
            return ParamProblem(
                readings.wrong_type_code, f"{name}: expected true or false, got {shown!r}"
            )
        flags[name] = value
    files = form.files
    if readings.empty_file == "absent":
        files = {name: data for name, data in files.items() if data}
    return _build(texts, files, flags, readings)


async def read(
    chunks: AsyncIterator[bytes], content_type: str | None, max_file_bytes: int, readings: Readings
) -> TryOnParams | ParamProblem:
    """The parameters of a try-on body of `content_type`, or why the API would refuse it; the
    body is read to its end either way, so an HTTP client still sees the answer."""
    kind, options = bodies.media_type(content_type)
    if kind == "application/json":
        body = await bodies.read_json(chunks)
        if isinstance(body, bodies.BodyProblem):
            return ParamProblem(body.error_code, body.message)
        return from_json(body, readings)
    if kind == "multipart/form-data":
        form = await bodies.read_multipart(chunks, options.get("boundary"), max_file_bytes)
        if isinstance(form, bodies.BodyProblem):
            too_large = form.error_code == "file_size_too_large"
            status = readings.upload_too_large_status if too_large else 400
            return ParamProblem(form.error_code, form.message, status)
        return from_form(form, readings)
    async for _ in chunks:
        pass
    return ParamProblem(
        "unsupported_content_type" if kind else readings.no_content_type_code,
        f"expected application/json or multipart/form-data, got {(kind or 'none')[:80]}",
    )

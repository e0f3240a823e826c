"""The try-on parameters, read from a JSON object or a multipart form as the contract says."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, TypeGuard

import httpx

from tryon_suite.simulator.bodies import Form
from tryon_suite.spec import schemas as contract

__all__ = [
    "FLAG_DEFAULTS",
    "FORM_FIELDS",
    "GARMENT_MODES",
    "JSON_FIELDS",
    "ParamProblem",
    "TryOnParams",
    "from_form",
    "from_json",
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


@dataclass(frozen=True)
class ParamProblem:
    """A parameter the API would refuse: a documented 400 code and a sentence naming it."""

    error_code: str
    message: str


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
    values: Mapping[str, object], files: Mapping[str, bytes], flags: Mapping[str, bool]
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
    if isinstance(mode, ParamProblem):
        return mode
    for image in IMAGE_FIELDS:
        if image not in files and urls[f"{image}_url"] is None:
            return ParamProblem(
                "missing_parameter", f"{image}: expected a file or {image}_url, got neither"
            )
    return TryOnParams(
        person_image=files.get("person_image"),
        garment_image=files.get("garment_image"),
        person_image_url=urls["person_image_url"],
        garment_image_url=urls["garment_image_url"],
        garment_mode=mode,
        preprocess_garment=flags["preprocess_garment"],
        remove_background=flags["remove_background"],
        wait_for_result=flags["wait_for_result"],
    )


def _unknown(names: list[str], allowed: frozenset[str]) -> ParamProblem | None:
    """The request schemas allow no other field; which code applies is not documented."""
    unknown = [name for name in names if name not in allowed]
    if not unknown:
        return None
    shown = unknown[0] if len(unknown[0]) <= 40 else unknown[0][:37] + "..."
    return ParamProblem(
        "invalid_parameter",
        f"{shown}: expected only the documented fields ({', '.join(sorted(allowed))}), "
        "got an unknown one",
    )


def from_json(body: object) -> TryOnParams | ParamProblem:
    """Parameters of a JSON body; a field the contract does not name is refused."""
    if not isinstance(body, dict):
        return ParamProblem("invalid_request_body", f"expected a JSON object, got {_kind(body)}")
    for name in IMAGE_FIELDS:
        if name in body:
            return ParamProblem(
                "invalid_parameter",
                f"{name}: expected {name}_url in a JSON body (files need multipart/form-data)",
            )
    if (problem := _unknown(list(body), JSON_FIELDS)) is not None:
        return problem
    flags: dict[str, bool] = {}
    for name, default in FLAG_DEFAULTS.items():
        value = body.get(name, default)
        if not isinstance(value, bool):
            return ParamProblem(
                "invalid_parameter", f"{name}: expected true or false, got {_kind(value)}"
            )
        flags[name] = value
    return _build(body, {}, flags)


def from_form(form: Form) -> TryOnParams | ParamProblem:
    """Parameters of a multipart form: flags travel as the text true or false."""
    names = [*form.fields, *form.stray_files]
    if (problem := _unknown(names, FORM_FIELDS)) is not None:
        return problem
    flags: dict[str, bool] = {}
    for name, default in FLAG_DEFAULTS.items():
        text = form.fields.get(name)
        if text is None:
            flags[name] = default
        elif text.strip().lower() in ("true", "false"):
            flags[name] = text.strip().lower() == "true"
        else:
            shown = text if len(text) <= 40 else text[:37] + "..."
            return ParamProblem(
                "invalid_parameter", f"{name}: expected true or false, got {shown!r}"
            )
    return _build(form.fields, form.files, flags)

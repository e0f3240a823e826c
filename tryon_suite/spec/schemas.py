"""The contract as data: the JSON Schemas and image-limit profiles in `schemas/`, loaded once."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jsonschema
from jsonschema.exceptions import best_match
from referencing import Registry, Resource

from tryon_suite.errors import ConfigError, SchemaError

__all__ = [
    "ERROR_400_CODES",
    "FORM_SCHEMA",
    "REQUEST_SCHEMA",
    "RESPONSE_SCHEMAS",
    "LimitProfile",
    "flag_defaults",
    "garment_modes",
    "limit_profile",
    "limit_profiles",
    "load_schema",
    "request_defaults",
    "request_fields",
    "request_property",
    "schema_dir",
    "url_fields",
    "validation_problem",
    "validator",
]

#: The response schema for each documented status of POST /v1/try-on (API.md, Responses).
RESPONSE_SCHEMAS: Final[Mapping[int, str]] = {
    200: "try-on-result.json",
    202: "try-on-accepted.json",
    400: "error-400.json",
    401: "error-401.json",
    403: "error-403.json",
    429: "error-429.json",
    500: "error-500.json",
}


def schema_dir() -> Path:
    """The `schemas/` folder: the repo's top level, or the copy a wheel carries
    (`tryon_suite/spec/schema_files/`, see pyproject.toml)."""
    here = Path(__file__).resolve().parent  # tryon_suite/spec
    for candidate in (here.parent.parent / "schemas", here / "schema_files"):
        if (candidate / "openapi.yaml").is_file():
            return candidate
    raise SchemaError(
        f"expected the contract files in {here.parent.parent / 'schemas'}, found none"
    )


@functools.cache
def load_schema(name: str) -> dict[str, Any]:
    """One JSON file of `schemas/`, parsed."""
    path = schema_dir() / name
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SchemaError(f"expected a schema file {path}, found none") from None
    except json.JSONDecodeError as exc:
        raise SchemaError(f"expected JSON in {path}, got an error: {exc}") from None
    return loaded


@functools.cache
def _registry() -> Registry:
    resources = [
        (schema["$id"], Resource.from_contents(schema))
        for path in sorted(schema_dir().glob("*.json"))
        if "$id" in (schema := load_schema(path.name))
    ]
    return Registry().with_resources(resources)


@functools.cache
def validator(name: str) -> jsonschema.protocols.Validator:
    """A draft 2020-12 validator for one schema file, checking formats too."""
    schema = load_schema(name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, registry=_registry(), format_checker=cls.FORMAT_CHECKER)


def validation_problem(name: str, instance: object) -> str | None:
    """None when `instance` satisfies schema `name`, else one readable sentence on why not."""
    error = best_match(validator(name).iter_errors(instance))  # type: ignore[arg-type]
    if error is None:
        return None
    return f"{name} at {error.json_path}: {error.message}"


ERROR_400_CODES: Final[tuple[str, ...]] = tuple(
    load_schema("error-400.json")["properties"]["error_code"]["enum"]
)

#: The two request bodies of POST /v1/try-on (openapi.yaml $refs both).
REQUEST_SCHEMA: Final = "try-on-request.json"
FORM_SCHEMA: Final = "try-on-form.json"


def request_fields(name: str = REQUEST_SCHEMA) -> frozenset[str]:
    """The fields a request schema names: with additionalProperties false, the only ones allowed."""
    return frozenset(load_schema(name)["properties"])


def request_property(field: str, name: str = REQUEST_SCHEMA) -> dict[str, Any]:
    """One field's schema, for the constraints a server applies by hand (a pattern, a type)."""
    try:
        spec: dict[str, Any] = load_schema(name)["properties"][field]
    except KeyError:
        raise SchemaError(f"expected a field {field!r} in {name}, found none") from None
    return spec


def garment_modes() -> tuple[str, ...]:
    """garment_mode's enum, in the schema's order."""
    return tuple(request_property("garment_mode")["enum"])


def url_fields() -> tuple[str, ...]:
    """The fields of the JSON request that carry an image's URL (format uri), in schema order."""
    properties = load_schema(REQUEST_SCHEMA)["properties"]
    return tuple(name for name, spec in properties.items() if spec.get("format") == "uri")


def request_defaults() -> dict[str, Any]:
    """What the server assumes for each field a JSON request leaves out (the schema's defaults)."""
    properties = load_schema(REQUEST_SCHEMA)["properties"]
    return {name: spec["default"] for name, spec in properties.items() if "default" in spec}


def flag_defaults() -> dict[str, bool]:
    """Each boolean field and its default: a flag without one would leave the server guessing."""
    properties = load_schema(REQUEST_SCHEMA)["properties"]
    flags = [name for name, spec in properties.items() if spec.get("type") == "boolean"]
    defaults = request_defaults()
    missing = [name for name in flags if not isinstance(defaults.get(name), bool)]
    if missing:
        raise SchemaError(
            f"expected a true/false default for each flag in {REQUEST_SCHEMA}, "
            f"got none for {', '.join(missing)}"
        )
    return {name: defaults[name] for name in flags}


@dataclass(frozen=True)
class LimitProfile:
    """Input image limits (API.md: the limits are a moving target, kept as named profiles)."""

    name: str
    max_file_bytes_low: int
    max_file_bytes_high: int
    min_dimension: int
    max_dimension: int
    formats: tuple[str, ...]
    source: str = ""


def limit_profiles() -> dict[str, LimitProfile]:
    """Every profile of `schemas/image-limits.json`, by name."""
    data = load_schema("image-limits.json")
    return {
        name: LimitProfile(
            name=name,
            max_file_bytes_low=spec["max_file_bytes_low"],
            max_file_bytes_high=spec["max_file_bytes_high"],
            min_dimension=spec["min_dimension"],
            max_dimension=spec["max_dimension"],
            formats=tuple(spec["formats"]),
            source=spec["source"],
        )
        for name, spec in data["profiles"].items()
    }


def limit_profile(name: str | None = None) -> LimitProfile:
    """The named profile, or the default one (the reference page's)."""
    profiles = limit_profiles()
    chosen = name or load_schema("image-limits.json")["default_profile"]
    try:
        return profiles[chosen]
    except KeyError:
        known = ", ".join(sorted(profiles))
        raise ConfigError(f"expected a limit profile among {known}, got {chosen!r}") from None

"""One contract: the simulator, the strategies and openapi.yaml say what `schemas/` says.

Each expectation is read from the files themselves (json and yaml, not through
tryon_suite.spec.schemas), so a copy that drifts anywhere fails here.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, get_args

import pytest
import yaml
from jsonschema.validators import validator_for

from tryon_suite.simulator import bodies, params
from tryon_suite.simulator.config import DEFAULT_ACCOUNTS, DEMO_KEY, SimulatorConfig
from tryon_suite.simulator.core import Simulator
from tryon_suite.spec.schemas import limit_profile, schema_dir
from tryon_suite.suite import strategies

URLS = {
    "person_image_url": "https://images.test/person.jpg",
    "garment_image_url": "https://images.test/garment.jpg",
}
FILES = {"person_image": b"person", "garment_image": b"garment"}


def _read(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((schema_dir() / name).read_text(encoding="utf-8"))
    return loaded


REQUEST = _read("try-on-request.json")
FORM = _read("try-on-form.json")
LIMITS = _read("image-limits.json")
OPENAPI: dict[str, Any] = yaml.safe_load((schema_dir() / "openapi.yaml").read_text("utf-8"))


def _defaults(schema: dict[str, Any]) -> dict[str, Any]:
    return {k: v["default"] for k, v in schema["properties"].items() if "default" in v}


def _accepted(parsed: params.TryOnParams | params.ParamProblem) -> params.TryOnParams:
    assert isinstance(parsed, params.TryOnParams), f"expected parameters, got {parsed}"
    return parsed


def test_garment_mode_has_one_enum_in_the_schemas_the_simulator_and_the_strategies() -> None:
    enum = tuple(REQUEST["properties"]["garment_mode"]["enum"])
    form_enum = tuple(FORM["properties"]["garment_mode"]["enum"])
    assert form_enum == enum, f"expected the form's enum {enum}, got {form_enum}"
    copies = {
        "params.GARMENT_MODES": params.GARMENT_MODES,
        "params.GarmentMode": get_args(params.GarmentMode),
        "strategies.GARMENT_MODES": strategies.GARMENT_MODES,
    }
    for where, got in copies.items():
        assert tuple(got) == enum, f"expected {where} == {enum}, got {tuple(got)}"


def test_the_simulator_takes_each_enum_value_and_refuses_any_other() -> None:
    enum = REQUEST["properties"]["garment_mode"]["enum"]
    for mode in enum:
        got = _accepted(params.from_json({**URLS, "garment_mode": mode})).garment_mode
        assert got == mode, f"expected garment_mode {mode!r}, got {got!r}"
    refused = params.from_json({**URLS, "garment_mode": "sideways"})
    expected = f"garment_mode: expected one of {', '.join(enum)}, got 'sideways'"
    assert refused == params.ParamProblem("invalid_parameter", expected), (
        f"expected the refusal {expected!r}, got {refused}"
    )


def test_the_schemas_defaults_are_valid_values_of_their_own_fields() -> None:
    for name, schema in (("try-on-request.json", REQUEST), ("try-on-form.json", FORM)):
        for field, value in _defaults(schema).items():
            spec = schema["properties"][field]
            errors = [e.message for e in validator_for(spec)(spec).iter_errors(value)]
            assert not errors, f"expected {name} {field} default {value!r} valid, got {errors}"


def test_the_json_and_form_schemas_give_the_same_defaults() -> None:
    assert _defaults(FORM) == _defaults(REQUEST), (
        f"expected the form's defaults {_defaults(REQUEST)}, got {_defaults(FORM)}"
    )


@pytest.mark.parametrize("kind", ["json", "multipart"])
def test_a_field_left_out_gets_the_schemas_default(kind: str) -> None:
    parsed = _accepted(
        params.from_json(URLS) if kind == "json" else params.from_form(bodies.Form(files=FILES))
    )
    expected = _defaults(REQUEST)
    got = {field: getattr(parsed, field) for field in expected}
    assert got == expected, f"expected the defaults {expected} in {kind}, got {got}"


def test_the_flags_are_the_schemas_booleans_in_the_simulator_and_the_strategies() -> None:
    booleans = {k for k, v in REQUEST["properties"].items() if v.get("type") == "boolean"}
    for where, got in (
        ("params.FLAG_DEFAULTS", set(params.FLAG_DEFAULTS)),
        ("strategies.FLAGS", set(strategies.FLAGS)),
    ):
        assert got == booleans, f"expected {where} to name {sorted(booleans)}, got {sorted(got)}"


def test_the_simulator_allows_exactly_the_fields_each_request_schema_names() -> None:
    for where, got, schema in (
        ("params.JSON_FIELDS", params.JSON_FIELDS, REQUEST),
        ("params.FORM_FIELDS", params.FORM_FIELDS, FORM),
    ):
        expected = set(schema["properties"])
        assert set(got) == expected, f"expected {where} == {sorted(expected)}, got {sorted(got)}"
    held = {f.name for f in dataclasses.fields(params.TryOnParams)}
    assert held == set(FORM["properties"]), (
        f"expected TryOnParams to hold {sorted(FORM['properties'])}, got {sorted(held)}"
    )


def test_the_simulator_refuses_another_field_because_the_schemas_are_closed() -> None:
    closed = {"json": REQUEST["additionalProperties"], "form": FORM["additionalProperties"]}
    assert closed == {"json": False, "form": False}, f"expected closed schemas, got {closed}"
    refused = {
        "json": params.from_json({**URLS, "colour": "red"}),
        "form": params.from_form(bodies.Form(fields={"colour": "red"}, files=FILES)),
    }
    for kind, got in refused.items():
        assert isinstance(got, params.ParamProblem), f"expected {kind} refused, got {got}"
        assert got.error_code == "invalid_parameter", (
            f"expected invalid_parameter for {kind}, got {got.error_code}"
        )


def test_the_image_file_fields_are_the_forms_byte_fields() -> None:
    byte_fields = {k for k, v in FORM["properties"].items() if "contentMediaType" in v}
    for where, got in (
        ("params.IMAGE_FIELDS", set(params.IMAGE_FIELDS)),
        ("bodies.FILE_FIELDS", set(bodies.FILE_FIELDS)),
    ):
        assert got == byte_fields, f"expected {where} == {sorted(byte_fields)}, got {sorted(got)}"


def test_openapi_takes_its_request_bodies_from_the_schema_files() -> None:
    content = OPENAPI["paths"]["/v1/try-on"]["post"]["requestBody"]["content"]
    refs = {kind: content[kind]["schema"]["$ref"] for kind in content}
    expected = {
        "application/json": "./try-on-request.json",
        "multipart/form-data": "./try-on-form.json",
    }
    assert refs == expected, f"expected request bodies {expected}, got {refs}"


def test_openapis_multipart_encoding_names_the_image_fields_and_the_profiles_formats() -> None:
    encoding = OPENAPI["paths"]["/v1/try-on"]["post"]["requestBody"]["content"][
        "multipart/form-data"
    ]["encoding"]
    assert set(encoding) == set(params.IMAGE_FIELDS), (
        f"expected encodings for {sorted(params.IMAGE_FIELDS)}, got {sorted(encoding)}"
    )
    formats = {f for spec in LIMITS["profiles"].values() for f in spec["formats"]}
    for field, spec in encoding.items():
        types = {t.strip().removeprefix("image/").upper() for t in spec["contentType"].split(",")}
        assert types == formats, f"expected {field} to take {sorted(formats)}, got {sorted(types)}"


@pytest.mark.parametrize("name", sorted(LIMITS["profiles"]))
def test_a_simulator_given_a_profile_uses_the_schemas_numbers(name: str) -> None:
    spec = LIMITS["profiles"][name]
    sim = Simulator(SimulatorConfig(limits=limit_profile(name)))
    got = {k: v for k, v in dataclasses.asdict(sim.config.limits).items() if k != "name"}
    expected = {**spec, "formats": tuple(spec["formats"])}
    assert got == expected, f"expected profile {name} as {expected}, got {got}"
    cap = sim.stream_cap()
    assert cap == spec["max_file_bytes_high"], (
        f"expected to stream at most {spec['max_file_bytes_high']} bytes, got {cap}"
    )


def test_a_simulator_by_default_uses_the_schemas_default_profile() -> None:
    got = Simulator().config.limits.name
    expected = LIMITS["default_profile"]
    assert got == expected, f"expected the {expected!r} profile, got {got!r}"


def test_the_demo_key_is_the_first_funded_default_account() -> None:
    first = DEFAULT_ACCOUNTS[0]
    assert (first.key, first.credits > 0) == (DEMO_KEY, True), (
        f"expected {DEMO_KEY!r} with credits first, got {first}"
    )

"""The contract files: valid schemas, examples that pass, invalid instances that fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for

from tryon_suite.errors import ConfigError
from tryon_suite.spec.schemas import (
    ERROR_400_CODES,
    RESPONSE_SCHEMAS,
    limit_profile,
    limit_profiles,
    load_schema,
    schema_dir,
    validation_problem,
)

MESSAGE_SCHEMAS = sorted(
    p.name for p in schema_dir().glob("*.json") if p.name != "clauses.schema.json"
)
DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def test_every_message_the_issue_names_has_a_schema_file() -> None:
    expected = {
        "try-on-request.json",
        "try-on-form.json",
        "try-on-result.json",
        "try-on-accepted.json",
        "try-on-accepted-headers.json",
        "job-status.json",
        "error-400.json",
        "error-401.json",
        "error-403.json",
        "error-429.json",
        "error-500.json",
        "image-limits.json",
    }
    missing = expected - set(MESSAGE_SCHEMAS)
    assert not missing, f"expected schema files {sorted(expected)}, missing {sorted(missing)}"


@pytest.mark.parametrize("name", MESSAGE_SCHEMAS)
def test_each_schema_is_valid_draft_2020_12_with_id_title_description_and_examples(
    name: str,
) -> None:
    schema = load_schema(name)
    assert schema.get("$schema") == DRAFT_2020_12, (
        f"expected $schema {DRAFT_2020_12}, got {schema.get('$schema')!r}"
    )
    cls = validator_for(schema)
    error = best_match(cls(cls.META_SCHEMA).iter_errors(schema))
    assert error is None, f"expected {name} to satisfy its metaschema, got {error.message}"
    assert schema.get("$id", "").endswith("/" + name), (
        f"expected $id ending in /{name}, got {schema.get('$id')!r}"
    )
    for key in ("title", "description"):
        assert schema.get(key), f"expected a non-empty {key} in {name}, got {schema.get(key)!r}"
    assert schema.get("examples"), f"expected documented examples in {name}, got none"


def _examples() -> list[tuple[str, Any]]:
    return [
        (name, example) for name in MESSAGE_SCHEMAS for example in load_schema(name)["examples"]
    ]


@pytest.mark.parametrize(("name", "example"), _examples())
def test_each_documented_example_validates(name: str, example: Any) -> None:
    assert validation_problem(name, example) is None, (
        f"expected the example to satisfy {name}, got: {validation_problem(name, example)}"
    )


URL = "https://example.com/p.jpg"
INVALID: list[tuple[str, object, str]] = [
    ("try-on-request.json", {"garment_image_url": URL}, "person URL missing"),
    ("try-on-request.json", {"person_image_url": URL}, "garment URL missing"),
    ("try-on-request.json", [URL, URL], "an array, not an object"),
    (
        "try-on-request.json",
        {"person_image_url": URL, "garment_image_url": URL, "garment_mode": "torso"},
        "garment_mode outside the enum",
    ),
    (
        "try-on-request.json",
        {"person_image_url": URL, "garment_image_url": URL, "wait_for_result": "false"},
        "a flag as a string in JSON",
    ),
    (
        "try-on-request.json",
        {"person_image_url": URL, "garment_image_url": URL, "remove_background": 1},
        "a flag as a number",
    ),
    (
        "try-on-request.json",
        {"person_image_url": "ftp://example.com/p.jpg", "garment_image_url": URL},
        "a URL that is not http(s)",
    ),
    (
        "try-on-request.json",
        {"person_image_url": "not a url", "garment_image_url": URL},
        "not a URL at all",
    ),
    (
        "try-on-request.json",
        {"person_image_url": URL, "garment_image_url": URL, "person_image": "x"},
        "a file field in a JSON body",
    ),
    ("try-on-request.json", {"person_image_url": None, "garment_image_url": URL}, "a null URL"),
    ("try-on-form.json", {"person_image": "x"}, "no garment at all"),
    ("try-on-form.json", {"garment_image_url": URL}, "no person at all"),
    (
        "try-on-form.json",
        {"person_image": "x", "garment_image": "y", "garment_mode": "AUTO"},
        "garment_mode in the wrong case",
    ),
    ("try-on-result.json", {}, "no result_url"),
    ("try-on-result.json", {"result_url": 3}, "result_url a number"),
    ("try-on-accepted.json", {"id": "abc"}, "job_id renamed"),
    ("try-on-accepted.json", {"job_id": ""}, "job_id empty"),
    ("try-on-accepted-headers.json", {}, "no location header"),
    ("job-status.json", {"job_id": "a", "status": "done"}, "status outside the enum"),
    ("job-status.json", {"job_id": "a", "status": "completed"}, "completed without result_url"),
    (
        "job-status.json",
        {"job_id": "a", "status": "running", "result_url": URL},
        "result_url before completion",
    ),
    ("job-status.json", {"job_id": "a", "status": "failed"}, "failed without error"),
    (
        "job-status.json",
        {"job_id": "a", "status": "completed", "result_url": URL, "error": {}},
        "error on a completed job",
    ),
    (
        "job-status.json",
        {"job_id": "a", "status": "failed", "error": {"message": "x"}},
        "error without error_code",
    ),
    ("job-status.json", {"status": "pending"}, "no job_id"),
    ("error-400.json", {"error": "x", "error_code": "resolution_too_low"}, "undocumented code"),
    ("error-400.json", {"error_code": "malformed_image"}, "no description"),
    ("error-400.json", {"error": "x"}, "no error_code"),
    ("error-401.json", {"error": "x", "error_code": "unauthorized"}, "wrong 401 code"),
    ("error-403.json", {"error": "x", "error_code": "invalid_auth_token"}, "401 code on 403"),
    ("error-429.json", {"error": "x", "error_code": "too_many_requests"}, "wrong 429 code"),
    ("error-500.json", {"error_code": "internal"}, "500 without a description"),
    ("error-500.json", "Internal Server Error", "500 as a bare string"),
]


@pytest.mark.parametrize(
    ("name", "instance", "why"), INVALID, ids=[f"{n}:{w}" for n, _, w in INVALID]
)
def test_each_invalid_instance_is_rejected(name: str, instance: object, why: str) -> None:
    assert validation_problem(name, instance) is not None, (
        f"expected {name} to reject {instance!r} ({why}), got no error"
    )


def test_a_rejection_names_the_schema_and_the_place() -> None:
    problem = validation_problem("job-status.json", {"job_id": "a", "status": "done"})
    expected = (
        "job-status.json at $.status: 'done' is not one of "
        "['pending', 'running', 'completed', 'failed']"
    )
    assert problem == expected, f"expected {expected!r}, got {problem!r}"


@pytest.mark.parametrize(
    "instance",
    [
        {"error": "x", "error_code": "internal_server_error", "request_id": "r1"},
        {"error": "x", "error_code": "malformed_image", "details": {"field": "person_image"}},
    ],
)
def test_responses_allow_extra_properties(instance: dict[str, object]) -> None:
    name = (
        "error-500.json" if instance["error_code"] == "internal_server_error" else "error-400.json"
    )
    assert validation_problem(name, instance) is None, (
        f"expected {name} to allow extra properties, got {validation_problem(name, instance)}"
    )


def test_the_nine_documented_400_codes_are_the_enum() -> None:
    expected = {
        "invalid_request_body",
        "missing_parameter",
        "invalid_parameter",
        "unsupported_content_type",
        "malformed_image",
        "unsupported_image_format",
        "file_size_too_large",
        "resolution_too_high",
        "unknown_foreground",
    }
    assert set(ERROR_400_CODES) == expected, f"expected {expected}, got {set(ERROR_400_CODES)}"


def test_every_documented_status_has_a_response_schema() -> None:
    assert sorted(RESPONSE_SCHEMAS) == [200, 202, 400, 401, 403, 429, 500], (
        f"expected the seven documented statuses, got {sorted(RESPONSE_SCHEMAS)}"
    )


def test_the_limit_profiles_hold_the_reference_page_and_the_newer_vendor_numbers() -> None:
    reference, newer = limit_profile(), limit_profile("vendor-2025")
    got = (reference.name, reference.min_dimension, reference.max_dimension)
    assert got == ("reference", 256, 1920), f"expected reference 256..1920, got {got}"
    assert (reference.max_file_bytes_low, reference.max_file_bytes_high) == (25_000_000, 26_214_400)
    edges = (newer.min_dimension, newer.max_dimension)
    assert edges == (64, 6000), f"expected vendor-2025 64..6000, got {edges}"
    assert set(reference.formats) == {"JPEG", "PNG", "WEBP"}, f"got {reference.formats}"
    assert set(limit_profiles()) == {"reference", "vendor-2025"}


def test_an_unknown_limit_profile_is_a_clear_error() -> None:
    with pytest.raises(ConfigError) as info:
        limit_profile("huge")
    assert str(info.value) == (
        "expected a limit profile among reference, vendor-2025, got 'huge'"
    ), f"got {info.value}"


OPENAPI = schema_dir() / "openapi.yaml"


def test_the_openapi_document_validates() -> None:
    from openapi_spec_validator import validate
    from openapi_spec_validator.readers import read_from_filename

    spec, base_uri = read_from_filename(str(OPENAPI))
    validate(spec, base_uri=base_uri)  # raises with the path of the first problem


def test_the_openapi_document_refs_the_schema_files_and_copies_none() -> None:
    text = OPENAPI.read_text(encoding="utf-8")
    for name in ("try-on-request.json", "try-on-form.json", "job-status.json", "error-400.json"):
        assert f'$ref: "./{name}' in text, f"expected openapi.yaml to $ref {name}, found no ref"
    copied = [word for word in ('"enum"', "invalid_request_body") if word in text]
    assert not copied, f"expected no schema content copied into openapi.yaml, found {copied}"
    security = "X-API-KEY"
    assert f"name: {security}" in text, f"expected the {security} security scheme, found none"


def test_schemathesis_loads_the_openapi_document_with_both_operations() -> None:
    import schemathesis

    schema = schemathesis.openapi.from_path(str(OPENAPI))
    operations = sorted(
        f"{result.ok().method.upper()} {result.ok().path}"  # type: ignore[union-attr]
        for result in schema.get_all_operations()
    )
    assert operations == ["GET /v1/try-on/job/{job_id}", "POST /v1/try-on"], (
        f"expected both operations, got {operations}"
    )


def test_the_schema_folder_is_found_from_the_package() -> None:
    assert (schema_dir() / "openapi.yaml").is_file()
    assert schema_dir() == Path(__file__).resolve().parent.parent / "schemas"


def test_the_image_limits_file_satisfies_its_own_schema() -> None:
    data = load_schema("image-limits.json")
    instance = {"default_profile": data["default_profile"], "profiles": data["profiles"]}
    problem = validation_problem("image-limits.json", instance)
    assert problem is None, f"expected the shipped profiles to be valid, got {problem}"
    assert data["default_profile"] in data["profiles"], (
        f"expected the default profile among {sorted(data['profiles'])}, "
        f"got {data['default_profile']!r}"
    )

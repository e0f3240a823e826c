"""The clause catalogue (schemas/clauses.yaml) is well formed and agrees with the schemas."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

SCHEMAS = Path(__file__).parent.parent / "schemas"
CATALOGUE = SCHEMAS / "clauses.yaml"
CATALOGUE_SCHEMA = SCHEMAS / "clauses.schema.json"

#: The prefixes a clause id may start with, one per part of the contract.
PREFIXES = frozenset(
    {
        "request",
        "content_type",
        "limits",
        "200",
        "202",
        "400",
        "401",
        "403",
        "429",
        "500",
        "error",
        "job",
        "result",
        "auth",
        "credits",
        "rate_limit",
        "open",
        "robustness",
    }
)


@functools.cache
def load_document(name: str) -> Any:
    """One file of schemas/, parsed as JSON or (for .yaml) YAML."""
    text = (SCHEMAS / name).read_text(encoding="utf-8")
    return yaml.safe_load(text) if name.endswith(".yaml") else json.loads(text)


def catalogue() -> dict[str, Any]:
    loaded: dict[str, Any] = load_document(CATALOGUE.name)
    return loaded


def clauses() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = catalogue()["clauses"]
    return found


def clause_ids() -> list[str]:
    return [clause["id"] for clause in clauses()]


def resolve(reference: str) -> Any:
    """What `file` or `file#/json/pointer` names inside schemas/; LookupError if nothing."""
    name, _, fragment = reference.partition("#")
    if not (SCHEMAS / name).is_file():
        raise LookupError(f"expected a file {name!r} in schemas/, found none")
    node = load_document(name)
    if not fragment:
        return node
    pointer = unquote(fragment)  # a pointer in a URI fragment is percent-encoded (RFC 6901 §6)
    if not pointer.startswith("/"):
        raise LookupError(f"expected a JSON pointer starting with '/', got {pointer!r}")
    walked = ""
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            keys = {str(key): key for key in node}
            if token not in keys:
                raise LookupError(
                    f"expected a key {token!r} under {walked or '/'!r} in {name}, "
                    f"got only {sorted(keys)}"
                )
            node = node[keys[token]]
        elif isinstance(node, list):
            if not token.isdigit() or (token != "0" and token.startswith("0")):
                raise LookupError(f"expected an array index under {walked!r}, got {token!r}")
            if int(token) >= len(node):
                raise LookupError(
                    f"expected index {token} under {walked!r} in {name}, got {len(node)} items"
                )
            node = node[int(token)]
        else:
            raise LookupError(f"expected an object or array at {walked!r} in {name}, got {node!r}")
        walked += "/" + raw
    return node


def error_codes(status: int) -> list[str]:
    """The error_code values schemas/error-<status>.json allows (an enum, or a const)."""
    code = load_document(f"error-{status}.json")["properties"]["error_code"]
    return list(code["enum"]) if "enum" in code else [code["const"]]


def test_the_catalogue_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = load_document(CATALOGUE_SCHEMA.name)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "https://tryon-suite.github.io/schemas/clauses.schema.json", (
        f"expected the catalogue schema's $id to be on tryon-suite.github.io, got {schema['$id']!r}"
    )


def test_the_catalogue_validates_against_its_schema() -> None:
    validator = Draft202012Validator(
        load_document(CATALOGUE_SCHEMA.name), format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    error = best_match(validator.iter_errors(catalogue()))
    assert error is None, (
        f"expected clauses.yaml to match clauses.schema.json, "
        f"got at {error.json_path}: {error.message}"
    )


@pytest.mark.parametrize(
    ("change", "expected_path"),
    [
        ({"id": "tryon.Request.Person"}, "$.clauses[0].id"),
        ({"id": "request.person_image_url"}, "$.clauses[0].id"),
        ({"level": "may"}, "$.clauses[0].level"),
        ({"text": "two\nlines"}, "$.clauses[0].text"),
        ({"text": "one line\n"}, "$.clauses[0].text"),
        ({"text": "  "}, "$.clauses[0].text"),
        ({"schemas": "error-400.json"}, "$.clauses[0].schemas"),
        ({"checkable": "yes"}, "$.clauses[0].checkable"),
        ({"status": 400}, "$.clauses[0]"),
    ],
)
def test_the_catalogue_schema_refuses_a_broken_clause(
    change: dict[str, object], expected_path: str
) -> None:
    broken = {**catalogue(), "clauses": [{**clauses()[0], **change}]}
    validator = Draft202012Validator(load_document(CATALOGUE_SCHEMA.name))
    error = best_match(validator.iter_errors(broken))
    assert error is not None, f"expected {change} to be refused, got no error"
    assert error.json_path == expected_path, (
        f"expected {change} to be refused at {expected_path}, got {error.json_path}"
    )


def test_clause_ids_are_unique() -> None:
    ids = clause_ids()
    repeated = sorted({clause_id for clause_id in ids if ids.count(clause_id) > 1})
    assert repeated == [], f"expected every clause id once, got repeated ids {repeated}"


def test_every_clause_id_starts_with_a_known_prefix() -> None:
    unknown = [i for i in clause_ids() if i.split(".")[1] not in PREFIXES]
    assert unknown == [], (
        f"expected ids to start with tryon.<one of {sorted(PREFIXES)}>, got {unknown}"
    )


def test_the_catalogue_has_between_50_and_130_clauses() -> None:
    count = len(clauses())
    assert 50 <= count <= 130, f"expected between 50 and 130 clauses, got {count}"


def test_every_clause_names_a_declared_source() -> None:
    declared = set(catalogue()["sources"])
    undeclared = [(c["id"], c["source"]) for c in clauses() if c["source"] not in declared]
    assert undeclared == [], (
        f"expected each clause's source to be one of {sorted(declared)}, got {undeclared}"
    )


def test_every_declared_source_is_cited_by_a_clause() -> None:
    cited = {clause["source"] for clause in clauses()}
    unused = sorted(set(catalogue()["sources"]) - cited)
    assert unused == [], f"expected every declared source to be cited, got uncited {unused}"


def test_every_schema_reference_resolves() -> None:
    broken: list[str] = []
    for clause in clauses():
        for reference in clause["schemas"]:
            try:
                resolve(reference)
            except LookupError as exc:
                broken.append(f"{clause['id']}: {reference} ({exc})")
    assert broken == [], "expected every schema reference to resolve, got:\n" + "\n".join(broken)


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("error-401.json#/properties/error_code/const", "invalid_auth_token"),
        ("job-status.json#/properties/status/enum/3", "failed"),
        ("openapi.yaml#/paths/~1v1~1try-on/post/operationId", "tryOn"),
        ("openapi.yaml#/paths/~1v1~1try-on~1job~1%7Bjob_id%7D/get/operationId", "getTryOnJob"),
    ],
)
def test_a_pointer_is_unescaped_and_walked(reference: str, expected: str) -> None:
    resolved = resolve(reference)
    assert resolved == expected, f"expected {reference} to name {expected!r}, got {resolved!r}"


@pytest.mark.parametrize(
    "reference",
    [
        "no-such-file.json",
        "error-400.json#/properties/no_such_property",
        "job-status.json#/allOf/2",
        "job-status.json#/allOf/01",
        "error-400.json#properties",
        "openapi.yaml#/paths/v1/try-on",
    ],
)
def test_a_reference_to_nothing_is_reported(reference: str) -> None:
    with pytest.raises(LookupError, match=r"^expected "):
        resolve(reference)


@pytest.mark.parametrize("code", error_codes(400))
def test_each_documented_400_code_has_its_own_clause(code: str) -> None:
    expected = f"tryon.400.{code}"
    assert expected in clause_ids(), (
        f"expected a clause {expected} for the 400 code {code!r} of error-400.json, got none"
    )


@pytest.mark.parametrize(
    ("status", "code"),
    [(status, code) for status in (401, 403, 429) for code in error_codes(status)],
)
def test_each_401_403_and_429_code_has_its_own_clause(status: int, code: str) -> None:
    expected = f"tryon.{status}.{code}"
    assert expected in clause_ids(), (
        f"expected a clause {expected} for the {status} code {code!r} of error-{status}.json, "
        f"got none"
    )


def test_every_open_point_is_observe_only() -> None:
    wrong = [
        (c["id"], c["level"])
        for c in clauses()
        if c["id"].startswith("tryon.open.") and c["level"] != "observe"
    ]
    assert wrong == [], f"expected every tryon.open.* clause at level observe, got {wrong}"

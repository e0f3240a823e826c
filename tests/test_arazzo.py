"""The Arazzo workflows (schemas/try-on.arazzo.yaml): valid Arazzo 1.1, and every name in them
resolves in openapi.yaml, in the workflow itself, or in the message schemas.

The official Arazzo 1.1 JSON Schema is vendored in tests/data/ (iteration 2026-04-15,
https://spec.openapis.org/arazzo/1.1/schema/2026-04-15). That site was not reachable from the
machine it was vendored on, so the file was built from the OAI/Arazzo-Specification
repository's src/schemas/validation/schema.yaml (branch v1.1-dev) the way the OAI publishes
it; its SHA-256 equals the published file's, which a test below checks (tests/data/README.md).
Only files are read here, never the package, so the tests hold whatever its layout.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema.exceptions import best_match
from jsonschema.validators import Draft202012Validator, validator_for
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "schemas"
WORKFLOW = SCHEMAS / "try-on.arazzo.yaml"
ARAZZO_SCHEMA = Path(__file__).resolve().parent / "data" / "arazzo-1.1-2026-04-15.schema.json"
ARAZZO_SHA256 = "37be908409bdb2f7bffe61fa23685c7e84cbeebfafac475a1d01dbc50ff7ab9e"
ARAZZO_ID = "https://spec.openapis.org/arazzo/1.1/schema/2026-04-15"

STATUS = re.compile(r"\$statusCode\s*==\s*(\d{3})")
STEP_REF = re.compile(r"\$steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9._-]+)")
INPUT_REF = re.compile(r"\$inputs\.([A-Za-z0-9._-]+)")
SOURCE_REF = re.compile(r"\$sourceDescriptions\.([A-Za-z0-9_-]+)\.([^\s}#]+)")
COMPONENT_REF = re.compile(r"\$components\.([A-Za-z]+)\.([A-Za-z0-9._-]+)")
BODY_REF = re.compile(r"\$response\.body#/([^/\s]+)")


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = _yaml(WORKFLOW)
    return loaded


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    loaded: dict[str, Any] = _yaml(SCHEMAS / "openapi.yaml")
    return loaded


@pytest.fixture(scope="module")
def arazzo_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(ARAZZO_SCHEMA.read_text(encoding="utf-8"))
    return loaded


def _operations(openapi: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "delete", "patch", "head", "options", "trace"):
                yield path, method, operation


def _operation(
    step: dict[str, Any], openapi: dict[str, Any], sources: dict[str, Any]
) -> dict[str, Any]:
    """The OpenAPI operation a step calls, by operationId or operationPath."""
    if "operationId" in step:
        name = step["operationId"]
        if match := SOURCE_REF.fullmatch(name):
            assert match.group(1) in sources, (
                f"expected step {step['stepId']} to name a source among {sorted(sources)}, "
                f"got {match.group(1)!r}"
            )
            name = match.group(2)
        found = [op for _, _, op in _operations(openapi) if op.get("operationId") == name]
        assert len(found) == 1, (
            f"expected step {step['stepId']}'s operationId {name!r} once in openapi.yaml, "
            f"got it {len(found)} times"
        )
        return found[0]
    path = step["operationPath"]
    match = re.fullmatch(r"\{\$sourceDescriptions\.([A-Za-z0-9_-]+)\.url\}#(/.*)", path)
    assert match, (
        f"expected operationPath '{{$sourceDescriptions.NAME.url}}#/paths/...', got {path!r}"
    )
    assert match.group(1) in sources, (
        f"expected operationPath to name a source among {sorted(sources)}, got {match.group(1)!r}"
    )
    node: Any = openapi
    for token in match.group(2).lstrip("/").split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        child = node.get(token) if isinstance(node, dict) else None
        assert child is not None, f"expected {path!r} to resolve in openapi.yaml, got no {token!r}"
        node = child
    return dict(node)


def _steps(document: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for workflow in document["workflows"]:
        for step in workflow["steps"]:
            yield workflow, step


def _resolved(item: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """A step's parameter or action, a Reusable Object replaced by what it references."""
    if "reference" not in item:
        return item
    match = COMPONENT_REF.fullmatch(item["reference"])
    assert match, f"expected a reference '$components.TYPE.NAME', got {item['reference']!r}"
    kind, name = match.groups()
    known = document.get("components", {}).get(kind, {})
    assert name in known, f"expected {item['reference']!r} among {kind} {sorted(known)}, got none"
    target: dict[str, Any] = known[name]
    return target


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _response(operation: dict[str, Any], status: str, openapi: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = operation["responses"][status]
    if "$ref" in response:
        name = response["$ref"].removeprefix("#/components/responses/")
        response = openapi["components"]["responses"][name]
    return response


def test_the_vendored_arazzo_schema_is_the_published_1_1_file(
    arazzo_schema: dict[str, Any],
) -> None:
    digest = hashlib.sha256(ARAZZO_SCHEMA.read_bytes()).hexdigest()
    assert digest == ARAZZO_SHA256, (
        f"expected the vendored Arazzo schema's SHA-256 {ARAZZO_SHA256}, got {digest}"
    )
    assert arazzo_schema["$id"] == ARAZZO_ID, (
        f"expected $id {ARAZZO_ID}, got {arazzo_schema.get('$id')!r}"
    )


def test_the_workflows_satisfy_the_official_arazzo_1_1_schema(
    document: dict[str, Any], arazzo_schema: dict[str, Any]
) -> None:
    cls = validator_for(arazzo_schema)
    error = best_match(cls(arazzo_schema, format_checker=cls.FORMAT_CHECKER).iter_errors(document))
    assert error is None, (
        f"expected {WORKFLOW.name} to satisfy the Arazzo 1.1 schema, got at "
        f"{error.json_path}: {error.message}"
    )
    assert str(document["arazzo"]).startswith("1.1."), (
        f"expected arazzo 1.1.x, got {document['arazzo']!r}"
    )


def test_the_arazzo_schema_refuses_a_step_naming_two_targets(
    document: dict[str, Any], arazzo_schema: dict[str, Any]
) -> None:
    """The schema check is not vacuous: a step with both operationId and workflowId fails."""
    broken = copy.deepcopy(document)
    broken["workflows"][0]["steps"][0]["workflowId"] = "tryOnPolled"
    cls = validator_for(arazzo_schema)
    errors = list(cls(arazzo_schema).iter_errors(broken))
    assert errors, "expected the Arazzo schema to refuse a step with two targets, got no error"


def test_each_source_description_is_the_openapi_document_beside_it(
    document: dict[str, Any],
) -> None:
    for source in document["sourceDescriptions"]:
        path = (WORKFLOW.parent / source["url"]).resolve()
        assert path.is_file(), f"expected {source['url']!r} beside {WORKFLOW.name}, got no file"
        assert source.get("type") == "openapi", (
            f"expected source {source['name']} of type openapi, got {source.get('type')!r}"
        )


def test_every_step_calls_an_operation_of_openapi_yaml(
    document: dict[str, Any], openapi: dict[str, Any]
) -> None:
    sources = {s["name"]: s for s in document["sourceDescriptions"]}
    called = {_operation(step, openapi, sources)["operationId"] for _, step in _steps(document)}
    assert called == {"tryOn", "getTryOnJob"}, (
        f"expected the workflows to call tryOn and getTryOnJob, got {sorted(called)}"
    )


def test_every_status_a_criterion_names_is_one_the_operation_documents(
    document: dict[str, Any], openapi: dict[str, Any]
) -> None:
    sources = {s["name"]: s for s in document["sourceDescriptions"]}
    problems = []
    for _, step in _steps(document):
        operation = _operation(step, openapi, sources)
        documented = set(operation["responses"])
        actions = [_resolved(a, document) for a in step.get("onSuccess", [])]
        actions += [_resolved(a, document) for a in step.get("onFailure", [])]
        criteria = step.get("successCriteria", []) + [c for a in actions for c in a["criteria"]]
        for criterion in criteria:
            for status in STATUS.findall(criterion["condition"]):
                if status not in documented:
                    problems.append((step["stepId"], status, sorted(documented)))
    assert not problems, (
        f"expected each status a criterion names among the operation's documented ones, "
        f"got (step, status, documented): {problems}"
    )


def test_every_success_criterion_states_a_status(document: dict[str, Any]) -> None:
    unstated = [
        step["stepId"]
        for _, step in _steps(document)
        if not any(STATUS.search(c["condition"]) for c in step.get("successCriteria", []))
    ]
    assert not unstated, f"expected every step's success to name a status, got none in {unstated}"


def test_every_parameter_is_one_the_operation_takes(
    document: dict[str, Any], openapi: dict[str, Any]
) -> None:
    sources = {s["name"]: s for s in document["sourceDescriptions"]}
    schemes = openapi["components"]["securitySchemes"].values()
    key_headers = {s["name"].lower() for s in schemes if s.get("in") == "header"}
    problems = []
    for _, step in _steps(document):
        operation = _operation(step, openapi, sources)
        declared = {(p["in"], p["name"].lower()) for p in operation.get("parameters", [])}
        for parameter in (_resolved(p, document) for p in step.get("parameters", [])):
            where, name = parameter["in"], parameter["name"].lower()
            if (where, name) not in declared and not (where == "header" and name in key_headers):
                problems.append((step["stepId"], where, parameter["name"]))
        missing = {name for where, name in declared if where == "path"} - {
            _resolved(p, document)["name"].lower() for p in step.get("parameters", [])
        }
        if missing:
            problems.append((step["stepId"], "path parameter not given", sorted(missing)))
    assert not problems, (
        f"expected each parameter to be the operation's or its key header {sorted(key_headers)}, "
        f"got {problems}"
    )


def test_every_runtime_reference_resolves(document: dict[str, Any]) -> None:
    sources = {s["name"] for s in document["sourceDescriptions"]}
    components = document.get("components", {})
    problems = []
    for workflow in document["workflows"]:
        inputs = workflow.get("inputs", {})
        if "$ref" in inputs:
            inputs = components["inputs"][inputs["$ref"].rsplit("/", 1)[-1]]
        seen: dict[str, set[str]] = {}
        for step in workflow["steps"]:
            for text in _strings({k: v for k, v in step.items() if k != "outputs"}):
                for source, _ in SOURCE_REF.findall(text):
                    if source not in sources:
                        problems.append(f"{text!r}: no source {source!r} in {sorted(sources)}")
                for name in INPUT_REF.findall(text):
                    if name not in inputs.get("properties", {}):
                        problems.append(f"{text!r}: no input {name!r} in {workflow['workflowId']}")
                for kind, name in COMPONENT_REF.findall(text):
                    if name not in components.get(kind, {}):
                        problems.append(f"{text!r}: no component {kind}.{name}")
                for step_id, output in STEP_REF.findall(text):
                    if output not in seen.get(step_id, set()):
                        problems.append(
                            f"{text!r}: expected an output {output!r} of an earlier step "
                            f"{step_id!r}, got outputs {seen.get(step_id)}"
                        )
            seen[step["stepId"]] = set(step.get("outputs", {}))
        for text in _strings(workflow.get("outputs", {})):
            for step_id, output in STEP_REF.findall(text):
                if output not in seen.get(step_id, set()):
                    problems.append(f"{text!r}: no output {output!r} of step {step_id!r}")
    for text in _strings(components.get("parameters", {})):
        for name in INPUT_REF.findall(text):
            for workflow in document["workflows"]:
                ref = workflow.get("inputs", {}).get("$ref", "")
                schema = components["inputs"].get(ref.rsplit("/", 1)[-1], workflow.get("inputs"))
                if name not in schema.get("properties", {}):
                    problems.append(f"{text!r}: no input {name!r} in {workflow['workflowId']}")
    assert not problems, f"expected every runtime reference to resolve, got: {problems}"


def _message_schemas() -> Registry:
    resources = []
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    registry: Registry = Registry().with_resources(resources)
    return registry


def _sample(value: Any, inputs: dict[str, Any]) -> Any:
    """A payload with each `$inputs.x` replaced by an example of that input."""
    if isinstance(value, dict):
        return {k: _sample(v, inputs) for k, v in value.items()}
    if isinstance(value, str) and (match := INPUT_REF.fullmatch(value)):
        spec = inputs["properties"][match.group(1)]
        if "enum" in spec:
            return spec["enum"][0]
        return "https://images.example/photo.jpg" if spec.get("format") == "uri" else "text"
    return value


def test_each_request_body_is_one_the_request_schema_accepts(document: dict[str, Any]) -> None:
    schema = json.loads((SCHEMAS / "try-on-request.json").read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema, registry=_message_schemas())
    inputs = document["components"]["inputs"]["tryOnInputs"]
    for _, step in _steps(document):
        body = step.get("requestBody")
        if body is None:
            continue
        assert body["contentType"] == "application/json", (
            f"expected step {step['stepId']} to send application/json, got {body['contentType']!r}"
        )
        error = best_match(validator.iter_errors(_sample(body["payload"], inputs)))
        assert error is None, (
            f"expected step {step['stepId']}'s body to satisfy try-on-request.json, got at "
            f"{error.json_path}: {error.message}"
        )


def test_each_output_read_from_a_body_is_a_field_of_the_documented_answer(
    document: dict[str, Any], openapi: dict[str, Any]
) -> None:
    sources = {s["name"]: s for s in document["sourceDescriptions"]}
    problems = []
    for _, step in _steps(document):
        operation = _operation(step, openapi, sources)
        statuses = {s for c in step["successCriteria"] for s in STATUS.findall(c["condition"])}
        fields: set[str] = set()
        for status in statuses:
            content = _response(operation, status, openapi).get("content", {})
            ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
            schema = json.loads((SCHEMAS / ref.removeprefix("./")).read_text(encoding="utf-8"))
            fields |= set(schema.get("properties", {}))
        texts = list(_strings(step.get("outputs", {})))
        texts += [c.get("context", "") + " " + c["condition"] for c in step["successCriteria"]]
        for text in texts:
            problems += [(step["stepId"], f) for f in BODY_REF.findall(text) if f not in fields]
    assert not problems, (
        f"expected each body field a step reads to be documented for its success status, "
        f"got (step, field): {problems}"
    )

"""Mutants whose answers carry the wrong body: renamed, missing or mistyped fields."""

from __future__ import annotations

from typing import Final

from tryon_suite.mutants._kit import Mutant, body, filtered, is_job, is_try_on, with_body
from tryon_suite.simulator.core import SimRequest, SimResponse


def _rename_result_url(request: SimRequest, response: SimResponse) -> SimResponse:
    payload = body(response)
    if is_try_on(request) and response.status == 200 and isinstance(payload, dict):
        return with_body(response, {"resultUrl": payload["result_url"]})
    return response


def _drop_job_id(request: SimRequest, response: SimResponse) -> SimResponse:
    if is_try_on(request) and response.status == 202:
        return with_body(response, {"id": body(response)["job_id"]})
    return response


def _numeric_job_id(request: SimRequest, response: SimResponse) -> SimResponse:
    if is_try_on(request) and response.status == 202:
        return with_body(response, {"job_id": 12345})
    return response


def _drop_error_code(request: SimRequest, response: SimResponse) -> SimResponse:
    payload = body(response)
    if response.status >= 400 and isinstance(payload, dict) and "error_code" in payload:
        return with_body(response, {"error": payload["error"]})
    return response


def _text_errors(request: SimRequest, response: SimResponse) -> SimResponse:
    if response.status == 400:
        return SimResponse(400, {"content-type": "text/plain"}, b"Bad Request")
    return response


def _echo_key(request: SimRequest, response: SimResponse) -> SimResponse:
    payload = body(response)
    key = next((v for k, v in request.headers.items() if k.lower() == "x-api-key"), None)
    if response.status >= 400 and isinstance(payload, dict) and key:
        return with_body(response, {**payload, "error": f"{payload.get('error')} (key {key})"})
    return response


def _rename_status(request: SimRequest, response: SimResponse) -> SimResponse:
    payload = body(response)
    if is_job(request) and response.status == 200 and isinstance(payload, dict):
        payload["state"] = payload.pop("status")
        return with_body(response, payload)
    return response


MUTANTS: Final = (
    Mutant(
        "key_echoed",
        "error answers repeat the request's API key",
        ("tryon.auth.key_not_echoed",),
        filtered(_echo_key),
    ),
    Mutant(
        "result_url_renamed",
        "200 body says resultUrl",
        ("tryon.200.result_url",),
        filtered(_rename_result_url),
    ),
    Mutant(
        "job_id_missing",
        "202 body names the job 'id'",
        ("tryon.202.job_id",),
        filtered(_drop_job_id),
    ),
    Mutant(
        "job_id_number",
        "202 job_id is a number",
        ("tryon.202.job_id",),
        filtered(_numeric_job_id),
    ),
    Mutant(
        "error_code_missing",
        "errors carry no error_code",
        ("tryon.error.body_shape", "tryon.400.body", "tryon.401.invalid_auth_token"),
        filtered(_drop_error_code),
    ),
    Mutant(
        "error_not_json",
        "400 answers are plain text",
        ("tryon.error.body_shape", "tryon.400.body"),
        filtered(_text_errors),
    ),
    Mutant(
        "job_status_renamed",
        "job status body says 'state'",
        ("tryon.job.status_body",),
        filtered(_rename_status),
    ),
)

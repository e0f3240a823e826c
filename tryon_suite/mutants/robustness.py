"""Mutants that crash on bad input, or hand out result URLs that are wrong or already gone."""

from __future__ import annotations

from typing import Final

from tryon_suite.mutants._kit import Mutant, body, configured, filtered, is_try_on, with_body
from tryon_suite.simulator.core import SimRequest, SimResponse


def _crashes_on_bad_json(request: SimRequest, response: SimResponse) -> SimResponse:
    payload = body(response)
    if isinstance(payload, dict) and payload.get("error_code") == "invalid_request_body":
        return SimResponse(500, {"content-type": "text/html"}, b"<h1>Internal Server Error</h1>")
    return response


def _relative_result(request: SimRequest, response: SimResponse) -> SimResponse:
    payload = body(response)
    if is_try_on(request) and response.status == 200 and isinstance(payload, dict):
        path = "/" + payload["result_url"].split("/", 3)[3]
        return with_body(response, {"result_url": path})
    return response


MUTANTS: Final = (
    Mutant(
        "crashes_on_bad_json",
        "an unparseable body answers 500",
        ("tryon.robustness.no_5xx_on_bad_input", "tryon.400.invalid_request_body"),
        filtered(_crashes_on_bad_json),
    ),
    Mutant(
        "relative_result_url",
        "result_url is a relative path",
        ("tryon.200.result_url",),
        filtered(_relative_result),
    ),
    Mutant(
        "result_expires_at_once",
        "result URLs answer 404 at once",
        ("tryon.result.jpeg", "tryon.result.valid_one_hour"),
        configured(result_ttl=0.0),
    ),
)

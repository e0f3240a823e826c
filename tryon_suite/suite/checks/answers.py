"""Judging any answer: which schema applies, what is wrong with a body, and the rules every
answer obeys (`judge_answer`, applied by the plugin to every exchange of a run)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from email.message import Message
from typing import Any, Final, Literal

import httpx

from tryon_suite.errors import ContractViolation
from tryon_suite.http.client import Endpoint, Exchange, endpoint
from tryon_suite.spec.schemas import RESPONSE_SCHEMAS, validation_problem
from tryon_suite.suite.evidence import Evidence, held, observed

__all__ = [
    "ANSWER_CLAUSES",
    "FIRST_5XX",
    "NO_5XX",
    "Endpoint",
    "answer_problem",
    "body_text",
    "endpoint_of",
    "error_code",
    "expect_documented",
    "expect_documented_status",
    "expect_no_5xx",
    "expect_status",
    "first_5xx",
    "headers_problem",
    "is_json_media_type",
    "json_or_none",
    "judge_answer",
    "schema_clause",
    "schema_for",
]


#: A client's mistake answered with a 5xx is a server fault wherever it happens.
NO_5XX: Final = "tryon.robustness.no_5xx_on_bad_input"
#: Where the answer to a repeated bad-input probe keeps the 5xx that made it repeated.
FIRST_5XX: Final = "tryon_suite.first_5xx"

#: GET /v1/try-on/job/{id}: 200 is the job's status; of its errors only 401 and 429 are
#: documented (API.md: every API call is authenticated and rate limited). A refusal of an
#: unknown or foreign job is an open point: its status and body are observed, not judged.
_JOB_SCHEMAS: Final[Mapping[int, str]] = {
    200: "job-status.json",
    401: RESPONSE_SCHEMAS[401],
    429: RESPONSE_SCHEMAS[429],
}

#: The clause a schema mismatch breaks, by endpoint and status.
_SCHEMA_CLAUSE: Final[Mapping[tuple[Endpoint, int], str]] = {
    ("try-on", 200): "tryon.200.result_url",
    ("try-on", 202): "tryon.202.job_id",
    ("job", 200): "tryon.job.status_body",
    ("try-on", 500): "tryon.500.body",
}


#: Clauses judged on every answer the run received (judge_answer), with why one may have no
#: evidence: no test provokes them, they are checked wherever an answer lets them be.
ANSWER_CLAUSES: Final[Mapping[str, str]] = {
    "tryon.500.body": "no 500 answer was seen (one cannot be provoked on purpose)",
    "tryon.content_type.json_answers": "no documented answer was received",
    "tryon.error.body_shape": "no error answer was received",
    "tryon.error.code_fits_status": "no error answer was received",
    "tryon.auth.key_not_echoed": "no answer to a request carrying a key of 8 characters or more",
    "tryon.error.no_internals": "no error answer was received",
}
#: What a refusal must not carry (OWASP API8: error messages that expose the server): a stack
#: trace of the common runtimes, or a path of the server's file system.
_INTERNALS: Final = re.compile(
    r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+"
    r"|\bat [\w$.]+\([\w$]+\.(?:java|kt|cs|go|js|ts):\d+\)"
    r"|(?:^|[\s\"'(=])/(?:usr|home|srv|opt|app|var|tmp|root|etc)/[\w./-]+"
    r"|[A-Za-z]:\\\\(?:Users|Program Files|inetpub)\\\\|site-packages|node_modules/"
)
#: roles of the run's own keys (`Exchange.key_role`): the keys an answer must not repeat
_RUN_KEYS: Final = frozenset({"run key", "other key", "no-credits key"})


#: GET /v1/credits: its balance's shape is not documented (not judged); its refusals are the
#: API's errors, of the statuses every call may get.
_CREDITS_SCHEMAS: Final[Mapping[int, str]] = {
    401: RESPONSE_SCHEMAS[401],
    429: RESPONSE_SCHEMAS[429],
}


def schema_for(endpoint: Endpoint, status: int) -> str | None:
    """The schema file for a status of an endpoint, or None when the status is not documented."""
    tables = {"try-on": RESPONSE_SCHEMAS, "job": _JOB_SCHEMAS, "credits": _CREDITS_SCHEMAS}
    return tables[endpoint].get(status)


def schema_clause(endpoint: Endpoint, status: int) -> str:
    """The clause a body that does not match its schema breaks."""
    return _SCHEMA_CLAUSE.get((endpoint, status), "tryon.error.body_shape")


def is_json_media_type(content_type: str | None) -> bool:
    """RFC 9110: the media type is case-insensitive and may carry parameters (charset);
    RFC 6839: `+json` suffixes are JSON too."""
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    kind = message.get_content_type().lower()
    return kind == "application/json" or kind.endswith("+json")


def _parse(text: str | bytes) -> Any:
    return json.loads(text)


def json_or_none(response: httpx.Response) -> Any:
    """The parsed body, or None when it is not JSON: a check then names what it expected."""
    try:
        return _parse(response.text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _is_json(text: str) -> bool:
    try:
        _parse(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return True


def error_code(response: httpx.Response) -> object:
    """The error_code of a JSON error body as sent (any type), or None when there is none."""
    body = json_or_none(response)
    return body.get("error_code") if isinstance(body, dict) else None


def body_text(response: httpx.Response) -> str:
    """`status 'body'`, cut short: what a violation says it received."""
    return f"{response.status_code} {response.text[:300]!r}"


def answer_problem(endpoint: Endpoint, response: httpx.Response) -> str | None:
    """None when the answer's body (and 202 headers) match the schema for its status."""
    return _body_problem(endpoint, response.status_code, response.text, response.headers)


def _body_problem(
    endpoint: Endpoint, status: int, text: str, headers: Mapping[str, str]
) -> str | None:
    name = schema_for(endpoint, status)
    if name is None:
        return f"expected a documented status for {endpoint}, got {status}"
    try:
        body = _parse(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return f"expected a JSON body with status {status}, got {text[:120]!r}"
    if (problem := validation_problem(name, body)) is not None:
        return f"status {status}: {problem}; body {json.dumps(body)[:300]}"
    return None


def headers_problem(response: httpx.Response) -> str | None:
    """None when a 202's headers match try-on-accepted-headers.json (Location, that is)."""
    headers = {k.lower(): v for k, v in response.headers.items()}
    if (problem := validation_problem("try-on-accepted-headers.json", headers)) is not None:
        return f"status 202 headers: {problem}"
    return None


def endpoint_of(exchange: Exchange) -> Endpoint | None:
    """Which documented endpoint an exchange called, by method and path."""
    return endpoint(exchange.method, exchange.url)


def _key_echo(exchange: Exchange) -> list[Evidence]:
    """tryon.auth.key_not_echoed on one answer to a request that carried one of the run's keys
    (judged on the raw answer; what the suite writes masks it)."""
    keys = [s.reveal() for s in exchange.secrets if len(s.reveal()) >= 8]
    if exchange.key_role not in _RUN_KEYS or not keys:
        return []
    clause = "tryon.auth.key_not_echoed"
    expected = "an answer that does not repeat the request's key"
    places = [exchange.response_body, *exchange.response_headers.values()]
    if any(key in place for key in keys for place in places):
        where = "its body" if any(k in exchange.response_body for k in keys) else "a header"
        return [Evidence(clause, "failed", expected, f"the key repeated in {where}", exchange)]
    return [Evidence(clause, "held", expected, f"{exchange.status} without the key", exchange)]


def _internals(exchange: Exchange) -> list[Evidence]:
    """tryon.error.no_internals on one error answer: its body shows no stack trace and no path
    of the server's file system (judged on the raw answer)."""
    status = exchange.status
    if status is None or status < 400:
        return []
    clause = "tryon.error.no_internals"
    expected = "a refusal without a stack trace or a server file path"
    found = _INTERNALS.search(exchange.response_body or "")
    if found is not None:
        seen = f"{status} carrying {found.group(0).strip()[:80]!r}"
        return [Evidence(clause, "failed", expected, seen, exchange)]
    return [Evidence(clause, "held", expected, f"{status} without internals", exchange)]


def judge_answer(exchange: Exchange) -> list[Evidence]:
    """The rules every answer of the API obeys, judged on one recorded exchange: it is JSON
    (RFC 9110 media type, parameters allowed) and matches the schema for its status. An
    answer the documentation does not describe (a job refusal, an undocumented status) is
    left to the tests that provoke it."""
    endpoint = endpoint_of(exchange)
    status = exchange.status
    if endpoint is None or status is None:
        return []
    found: list[Evidence] = [*_key_echo(exchange), *_internals(exchange)]
    if schema_for(endpoint, status) is None:
        return found
    kind = exchange.response_headers.get("content-type") or next(
        (v for k, v in exchange.response_headers.items() if k.lower() == "content-type"), None
    )
    if status != 500:  # the 500 body is only a should (tryon.500.body), judged below
        clause = "tryon.content_type.json_answers"
        expected = f"a JSON media type on a {status} answer"
        verdict: Literal["held", "failed"] = "held" if is_json_media_type(kind) else "failed"
        part = "on an error" if status >= 400 else "on a success"
        found.append(
            Evidence(clause, verdict, expected, f"Content-Type {kind!r}", exchange, part=part)
        )
    problem = _body_problem(endpoint, status, exchange.response_body, exchange.response_headers)
    clause = schema_clause(endpoint, status)
    expected = f"a {status} body matching {schema_for(endpoint, status)}"
    if status == 500 and not _is_json(exchange.response_body):
        # API.md documents no 500 body: one that is not JSON (an HTML page, nothing) is
        # recorded, never judged (tryon.500.body's note)
        seen = f"a 500 whose body is not JSON: {exchange.response_body[:120]!r}"
        return [Evidence(clause, "observed", "", seen, exchange)]
    if problem is not None and 400 <= status < 500 and "at $.error_code" in problem:
        # a 500's error_code is not documented (API.md), so it is never judged as a code
        clause = "tryon.error.code_fits_status"
    if endpoint == "try-on" and status == 202:
        headers = {k.lower(): v for k, v in exchange.response_headers.items()}
        location = validation_problem("try-on-accepted-headers.json", headers)
        found.append(
            Evidence(
                "tryon.202.location",
                "failed" if location else "held",
                "a 202 with a Location header (a URI reference)",
                location or f"Location {headers.get('location')!r}",
                exchange,
            )
        )
    if problem is None:
        found.append(Evidence(clause, "held", expected, f"{status} body", exchange))
        if status >= 400 and status != 500:
            found.append(
                Evidence(
                    "tryon.error.code_fits_status",
                    "held",
                    f"an error_code documented for {status}",
                    f"{status} body",
                    exchange,
                )
            )
    else:
        found.append(Evidence(clause, "failed", expected, problem, exchange))
    return found


# -- assertions on one answer; each names its clause ----------------------------------------


def expect_documented(
    response: httpx.Response, endpoint: Endpoint = "try-on", clause: str | None = None
) -> Any:
    """The answer matches the schema for its status; returns the parsed body."""
    clause = clause or schema_clause(endpoint, response.status_code)
    problem = answer_problem(endpoint, response)
    if problem is not None:
        raise ContractViolation(
            clause, "an answer that matches its documented schema", problem, response
        )
    held(clause, f"a {response.status_code} body matching its schema", response)
    return _parse(response.text)


def expect_status(
    response: httpx.Response, statuses: set[int], clause: str, schema_clause: str | None = None
) -> Any:
    """The status is one of `statuses` (else `clause` fails) and the body matches its schema
    (else `schema_clause` fails, by default the same); returns the body."""
    wanted = " or ".join(str(s) for s in sorted(statuses))
    if response.status_code not in statuses:
        raise ContractViolation(clause, f"status {wanted}", body_text(response), response)
    held(clause, f"status {wanted}", response)
    return expect_documented(response, clause=schema_clause or clause)


def expect_no_5xx(response: httpx.Response, expected: str, held_as: str | None = None) -> None:
    """A 5xx for a client's mistake, or for a probe of an open point, is a server fault
    (NO_5XX). `held_as` records the evidence; without it a pass is none (the caller records
    what the answer showed). An answer `ask_bad_input` got by asking once more after a 5xx
    says so, and a fault then carries both answers."""
    first = first_5xx(response)
    if response.status_code >= 500:
        received = body_text(response)
        if first is not None:
            observed(NO_5XX, f"{body_text(first)}, asked once more", first)
            received = f"{first.status_code}, asked once more: {received}"
        raise ContractViolation(NO_5XX, expected, received, response)
    if held_as is not None:
        if first is not None:
            held_as += f" ({first.status_code} first, asked once more: {response.status_code})"
        held(NO_5XX, held_as, response)


def first_5xx(response: httpx.Response) -> httpx.Response | None:
    """The 5xx `ask_bad_input` asked once more after, when `response` is the repeat's."""
    found = response.extensions.get(FIRST_5XX)
    return found if isinstance(found, httpx.Response) else None


def expect_documented_status(response: httpx.Response) -> None:
    """A try-on is answered with a status its reference page documents, whatever was sent."""
    status = response.status_code
    if schema_for("try-on", status) is None:
        raise ContractViolation(
            "tryon.error.documented_statuses",
            "a documented status (400, 401, 403, 429)",
            str(status),
            response,
        )
    held("tryon.error.documented_statuses", f"{status} is documented", response)

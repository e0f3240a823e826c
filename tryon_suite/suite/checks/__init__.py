"""Judging answers against the contract: each check names its clause and records its evidence.

Two kinds of check live here. The `expect_*` functions are the assertions contract tests make
(a contract test sends, then calls them): each raises a `ContractViolation` naming its clause or
records the evidence it held on. `judge_answer` is applied by the plugin to every answer the run
received, whichever test sent the request, so a rule about every answer (JSON, the schema for
its status) is checked on every path, not only where a test thought of it.

The modules, by what they judge: `answers` (any answer: schemas, statuses, no 5xx), `refusals`
(the documented errors), `accepted` (successes), `images` (results and image limits), `auth`
(401, 403, 429 and the rate limit), `credits` (the balance) and `jobs` (every poll of a job).
Here are the names the rest of the package judges answers with; a contract test takes its
checks from `tryon_suite` itself.
"""

from __future__ import annotations

from tryon_suite.suite.checks.answers import (
    ANSWER_CLAUSES,
    NO_5XX,
    Endpoint,
    answer_problem,
    endpoint_of,
    expect_documented,
    expect_status,
    headers_problem,
    is_json_media_type,
    judge_answer,
    schema_for,
)
from tryon_suite.suite.checks.images import expect_jpeg
from tryon_suite.suite.checks.refusals import expect_error, expect_refusal

__all__ = [
    "ANSWER_CLAUSES",
    "NO_5XX",
    "Endpoint",
    "answer_problem",
    "endpoint_of",
    "expect_documented",
    "expect_error",
    "expect_jpeg",
    "expect_refusal",
    "expect_status",
    "headers_problem",
    "is_json_media_type",
    "judge_answer",
    "schema_for",
]

"""Judgements of the model's cases (`schemas/model.yaml`): a variation answered as its plain
form, the methods HTTP gives every resource, and another account kept out."""

from __future__ import annotations

import httpx

from tryon_suite.errors import ContractViolation
from tryon_suite.spec.model import Case
from tryon_suite.suite.checks.answers import body_text, error_code, expect_no_5xx
from tryon_suite.suite.evidence import held

__all__ = ["answer_key", "expect_foreign_kept_out", "expect_like_plain", "expect_method"]


def answer_key(response: httpx.Response) -> str:
    """What two answers must share to be "answered alike": the status and, for an error, its
    error_code (messages and ids may differ)."""
    code = error_code(response) if response.status_code >= 400 else None
    return f"{response.status_code} {code}" if code is not None else str(response.status_code)


def expect_like_plain(case: Case, variant: httpx.Response, plain: httpx.Response) -> None:
    """`variant` answered as `plain`, the same request written the plain way (or, where the
    partition names them, with a code a reasonable server may give instead)."""
    clause = case.clause
    expected = f"the plain form's answer, {answer_key(plain)}"
    expect_no_5xx(variant, expected)
    if answer_key(variant) == answer_key(plain):
        held(clause, expected, variant, part=case.partition.name)
        return
    other = case.partition.expect.or_codes
    if variant.status_code == 400 and error_code(variant) in other:
        held(clause, f"{expected}, or 400 {error_code(variant)}", variant)
        return
    raise ContractViolation(clause, f"{expected} ({case.id})", body_text(variant), variant)


def expect_method(case: Case, response: httpx.Response, get: httpx.Response | None) -> None:
    """RFC 9110: HEAD is answered as GET is, with no content (9.3.2); a method the resource
    does not support gets 405 with an Allow naming those it does (15.5.6), or 501 from a
    server that does not know the method (15.6.2); OPTIONS, which a server need not support,
    gets no 5xx and, when it lists methods, lists the one the resource serves."""
    spec = case.partition.expect
    clause = case.clause
    status = response.status_code
    if spec.head:
        assert get is not None, "HEAD is compared with the GET of the same resource"
        expected = f"HEAD answered as GET is ({get.status_code}), with no content"
        if status != get.status_code or response.content:
            got = f"{status} with {len(response.content)} bytes of content"
            raise ContractViolation(clause, expected, got, response)
        held(clause, expected, response, part=case.partition.name)
        return
    allow = response.headers.get("allow", "")
    listed = {m.strip().upper() for m in allow.split(",") if m.strip()}
    if spec.allow is not None:
        expected = f"405 with an Allow header naming {spec.allow}, or 501"
        if status == 501 or (status == 405 and spec.allow in listed):
            held(clause, expected, response, part=case.partition.name)
            return
        got = f"{status} with Allow {allow!r}" if status == 405 else body_text(response)
        raise ContractViolation(clause, expected, got, response)
    expected = f"no 5xx, and {spec.options} among the methods an Allow header lists"
    expect_no_5xx(response, expected)
    if listed and spec.options not in listed:
        raise ContractViolation(clause, expected, f"{status} with Allow {allow!r}", response)
    held(clause, expected, response, part=case.partition.name)


def expect_foreign_kept_out(
    case: Case, response: httpx.Response, own: httpx.Response | None
) -> None:
    """A valid key of another account: a job is not shown to it (OWASP API1: any refusal
    will do), and the balance endpoint answers it as it answers the run key (`own`)."""
    clause = case.clause
    if case.slot == "job":
        expected = "another account's job not shown: a 4xx"
        expect_no_5xx(response, expected)
        if 200 <= response.status_code < 300:
            raise ContractViolation(clause, expected, body_text(response), response)
        held(clause, expected, response, part=case.partition.name)
        return
    assert own is not None, "the balance is compared with the run key's"
    expected = f"the balance answered for any valid key as for the run key ({own.status_code})"
    expect_no_5xx(response, expected)
    if response.status_code != own.status_code:
        raise ContractViolation(clause, expected, body_text(response), response)
    held(clause, expected, response, part=case.partition.name)

"""Checks on credits: the balance endpoint answers a number, and a success costs credits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from tryon_suite.errors import ContractViolation
from tryon_suite.suite.checks.answers import body_text
from tryon_suite.suite.evidence import held, not_checked

__all__ = [
    "balance_figures",
    "expect_balance",
    "expect_balance_kept",
    "expect_numeric_balance",
    "expect_refusal_free",
    "expect_success_costs",
]


def expect_balance(response: httpx.Response) -> Any:
    """GET /v1/credits answers 200 with a JSON balance; returns it. A target without the
    endpoint (404, 405) has no balance to read: not checked."""
    if response.status_code in (404, 405):
        not_checked(
            f"the target has no GET /v1/credits ({response.status_code}): no balance to read",
            scope="optional",
        )
    clause = "tryon.credits.balance_endpoint"
    if response.status_code != 200:
        raise ContractViolation(clause, "200 with the balance", body_text(response), response)
    try:
        return response.json()
    except ValueError:
        raise ContractViolation(
            clause, "a JSON balance", repr(response.text[:200]), response
        ) from None


def _numbers(body: object, path: str = "$") -> dict[str, float]:
    """Every number in the body by its JSON path: the shape of the balance is not documented."""
    if isinstance(body, bool):
        return {}
    if isinstance(body, int | float):
        return {path: float(body)}
    found: dict[str, float] = {}
    if isinstance(body, dict):
        for key, value in body.items():
            found.update(_numbers(value, f"{path}.{key}"))
    return found


def balance_figures(response: httpx.Response | None) -> dict[str, float]:
    """Every number of a balance answer by its JSON path; empty when it is not a 200 with
    JSON (a target without the endpoint, a refusal)."""
    if response is None or response.status_code != 200:
        return {}
    try:
        return _numbers(response.json())
    except ValueError:
        return {}


def expect_numeric_balance(response: httpx.Response, body: object) -> dict[str, float]:
    """The balance `body` holds a number; returns every number by its JSON path. Its shape is
    open, so one without a number is not checked."""
    balances = _numbers(body)
    if not balances:
        not_checked(
            f"no number in the balance {body!r}: its shape is not documented", scope="reading"
        )
    held("tryon.credits.balance_endpoint", "200 with a numeric balance", response)
    return balances


def expect_success_costs(before: Mapping[str, float], readings: Iterable[httpx.Response]) -> None:
    """After a success some figure of the balance `before` went down, whichever it is. Billing
    may lag the answer: `readings` (balances read again) is read lazily up to the first lower."""
    after: dict[str, float] = {}
    last = None
    for last in readings:
        after = _numbers(last.json()) if last.status_code == 200 else {}
        if any(after.get(path, value) < value for path, value in before.items()):
            held("tryon.credits.success_costs", f"balance {dict(before)} -> {after}", last)
            return
    raise ContractViolation(
        "tryon.credits.success_costs",
        f"some figure of {dict(before)} lower after a try-on",
        repr(after),
        last,
    )


def expect_refusal_free(
    before: httpx.Response, after: httpx.Response, refused: httpx.Response, what: str
) -> None:
    """No figure of the balance went down across one refused request (`refused`, the answer
    to `what`), nothing paid in flight: API.md, failed requests do not cost (the exception it
    names, safety moderation, does not judge a request refused before processing)."""
    if not 400 <= refused.status_code < 500 or refused.status_code == 429:
        not_checked(f"{what} got {refused.status_code}, not a refusal", scope="reading")
    expected = f"the balance unchanged by {refused.status_code} to {what}"
    expect_balance_kept(before, after, "tryon.credits.refusal_free", expected)


def expect_balance_kept(
    before: httpx.Response | None, after: httpx.Response, clause: str, expected: str
) -> None:
    """No figure of the balance `after` is below what it was `before`."""
    old, new = balance_figures(before), balance_figures(after)
    common = sorted(set(old) & set(new))
    if not common:
        not_checked("the balance shows no figure to compare", scope="reading")
    fell = {p: (old[p], new[p]) for p in common if new[p] < old[p]}
    if fell:
        shown = ", ".join(f"{p} {a:g} -> {b:g}" for p, (a, b) in fell.items())
        raise ContractViolation(clause, expected, shown, after)
    held(clause, expected, after)

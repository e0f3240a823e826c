"""From what a test did to its outcome: evidence, failures, and what was not the API's fault.

The pytest plugin calls `outcome_of` once per test with the evidence the test gathered, the
exchanges its clients recorded and the exception that ended it. Three rules live here:
- every answer the test received is judged (`checks.judge_answer`), whoever sent it;
- a `ContractViolation` becomes failing evidence for its clause (an `observe` clause is an
  open point: its "violation" is recorded as a reading, never as a failure);
- a test whose answers were only transport errors, or 401s for a key that authenticated in
  preflight, examined nothing: it is "not checked", with that reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import httpx

from tryon_suite.checks import endpoint_of, judge_answer
from tryon_suite.clauses import catalogue
from tryon_suite.client import Exchange, exchange_of
from tryon_suite.errors import ContractViolation
from tryon_suite.evidence import Evidence
from tryon_suite.results import CheckOutcome, Outcome

__all__ = ["KEYS_THAT_AUTHENTICATED", "outcome_of"]

#: Roles of keys that preflight (or the in-process target) showed to authenticate.
KEYS_THAT_AUTHENTICATED = frozenset({"run key", "other key", "no-credits key"})
#: Exchanges a failing test keeps for the report (the decisive one is kept apart).
_KEPT = 12


def _levels() -> dict[str, str]:
    return {c.id: c.level for c in catalogue()}


def nothing_examined(
    exchanges: Sequence[Exchange], still_authenticates: Callable[[str], bool] | None = None
) -> str | None:
    """Why the answers a test got could not have judged the API, or None when they could.

    401s for keys that passed preflight mean the key stopped working, unless the key still
    authenticates now (`still_authenticates`, asked once per key): then the 401 was the
    target's answer to what the test sent (a key without credits answered 401, say)."""
    if not exchanges:
        return None
    blind = [
        e
        for e in exchanges
        if e.status is None or (e.status == 401 and e.key_role in KEYS_THAT_AUTHENTICATED)
    ]
    deliberate = [e for e in exchanges if e.key_role not in KEYS_THAT_AUTHENTICATED]
    if not blind or len(blind) + len(deliberate) != len(exchanges):
        return None
    if all(e.status is None for e in blind):
        return f"the target could not be reached ({blind[-1].note or 'transport error'})"
    roles = {e.key_role for e in blind if e.status == 401}
    if still_authenticates is not None and any(still_authenticates(role) for role in roles):
        return None
    return (
        "every answer was 401 for a key that authenticated in preflight "
        "(revoked during the run, or rate limited as 401?)"
    )


def job_id_evidence(exchange: Exchange, job_ids: dict[str, Exchange]) -> list[Evidence]:
    """tryon.202.job_id_unique, judged across the run: a 202 naming a job an earlier 202 of
    the run named fails it; once two ids are seen, each new distinct one holds it."""
    if endpoint_of(exchange) != "try-on" or exchange.status != 202:
        return []
    try:
        job_id = json.loads(exchange.response_body).get("job_id")
    except (ValueError, AttributeError):
        return []
    if not isinstance(job_id, str | int) or isinstance(job_id, bool):
        return []
    key = str(job_id)
    clause = "tryon.202.job_id_unique"
    first = job_ids.setdefault(key, exchange)
    if first is not exchange:
        expected = "a job_id no earlier 202 of the run gave"
        seen = f"job_id {key!r} again (first {first.method} {first.path})"
        return [Evidence(clause, "failed", expected, seen, exchange)]
    if len(job_ids) < 2:
        return []
    return [
        Evidence(clause, "held", f"job_id {key!r} unlike {len(job_ids) - 1} others", "", exchange)
    ]


def outcome_of(
    nodeid: str,
    clauses: tuple[str, ...],
    pytest_outcome: str,
    message: str,
    gathered: list[Evidence],
    exchanges: list[Exchange],
    error: BaseException | None,
    job_ids: dict[str, Exchange] | None = None,
    still_authenticates: Callable[[str], bool] | None = None,
) -> CheckOutcome:
    """One test's CheckOutcome from what it gathered and how it ended."""
    evidence = list(gathered)
    for exchange in exchanges:
        evidence.extend(judge_answer(exchange))
        if job_ids is not None:
            evidence.extend(job_id_evidence(exchange, job_ids))
    outcome: Outcome = "passed"
    failed_clause = None
    if pytest_outcome == "skipped":
        outcome = "not checked"
    elif pytest_outcome == "failed":
        outcome = "failed"
        if (blind := nothing_examined(exchanges, still_authenticates)) is not None or isinstance(
            error, httpx.TransportError
        ):
            outcome, message = "not checked", blind or f"the target could not be reached: {error}"
            evidence = [e for e in gathered if e.verdict != "failed"]
        elif isinstance(error, ContractViolation):
            response = error.response if isinstance(error.response, httpx.Response) else None
            decisive = exchange_of(response) or (exchanges[-1] if exchanges else None)
            if _levels().get(error.clause) == "observe":
                reading = f"expected {error.expected}, got {error.received}"
                evidence.append(Evidence(error.clause, "observed", "", reading, decisive))
                outcome = "passed"
            else:
                failed_clause = error.clause
                evidence.append(
                    Evidence(error.clause, "failed", error.expected, error.received, decisive)
                )
    kept = exchanges[-_KEPT:]
    leading = {id(e.exchange) for e in evidence if e.verdict == "failed" and e.exchange}
    kept = [e for e in exchanges if id(e) in leading and e not in kept][:_KEPT] + kept
    return CheckOutcome(nodeid, clauses, outcome, message, kept, failed_clause, evidence)

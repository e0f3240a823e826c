"""From what a test did to its outcome: evidence, failures, and what was not the API's fault.

The pytest plugin calls `outcome_of` once per test with the evidence the test gathered, the
exchanges its clients recorded and the exception that ended it. Three rules live here:
- every answer the test received is judged (`checks.judge_answer`), whoever sent it;
- a `ContractViolation` becomes failing evidence for its clause (an `observe` clause is an
  open point: its "violation" is recorded as a reading, never as a failure);
- a test whose answers were only 401s for a key that authenticated in preflight examined
  nothing: it is "not checked", with that reason, and leaves the run INCOMPLETE;
- a request the target failed at the transport level while it still answered others (the
  `Watch` asked it: a result URL that cannot be fetched, an answer cut short, no answer at all)
  fails the clause that request was checking, with the error as evidence. Only a target that
  stopped answering altogether stops the run (`RunStopped`: the rest is "not run").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

import httpx

from tryon_suite.errors import ConfigError, ContractViolation
from tryon_suite.http.client import Exchange, exchange_of
from tryon_suite.spec.clauses import catalogue
from tryon_suite.suite.checks import endpoint_of, judge_answer
from tryon_suite.suite.evidence import Evidence
from tryon_suite.suite.results import CheckOutcome, Outcome

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
        return None  # the target still answered others: the request's own failure
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


def _clause_of_lost_request(clauses: tuple[str, ...], exchanges: Sequence[Exchange]) -> str:
    """The clause a request left without an answer was checking: a result download, the
    result's promise to be fetchable; else the test's first must clause."""
    lost = [e for e in exchanges if e.status is None]
    if lost and endpoint_of(lost[-1]) in (None, "credits"):
        return "tryon.result.valid_one_hour"
    levels = _levels()
    musts = [c for c in clauses if levels.get(c) == "must"]
    return (musts or list(clauses) or ["tryon.result.valid_one_hour"])[0]


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
        if (blind := nothing_examined(exchanges, still_authenticates)) is not None:
            outcome, message = "not checked", blind
            evidence = [e for e in gathered if e.finding != "failed"]
        elif isinstance(error, ConfigError):
            # the suite's own setup, not the target (a replay's cassette lacks the request)
            outcome, message = "not checked", str(error)
            evidence = [e for e in gathered if e.finding != "failed"]
        elif isinstance(error, httpx.TransportError):
            # The target answered others (else the Watch had stopped the run): the request it
            # left without an answer breaks the promise the test was checking.
            failed_clause = _clause_of_lost_request(clauses, exchanges)
            failed = [e for e in exchanges if e.status is None]
            lost = failed[-1] if failed else None
            where = f"{lost.method} {lost.url}: " if lost is not None else ""
            evidence.append(
                Evidence(
                    failed_clause,
                    "failed",
                    "an answer (the target answered the run's other requests)",
                    f"{where}no answer: {type(error).__name__}: {error}",
                    lost,
                )
            )
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
    leading = {id(e.exchange) for e in evidence if e.finding == "failed" and e.exchange}
    kept = [e for e in exchanges if id(e) in leading and e not in kept][:_KEPT] + kept
    return CheckOutcome(nodeid, clauses, outcome, message, kept, failed_clause, evidence)

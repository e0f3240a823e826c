"""Render the run's results with Jinja2 into `reports/compliance.html` and `.json`.

The results hold what came back, raw; this is where they leave the process, so every string
of the report's data is masked here (`secret.mask`, the run's keys carried by its exchanges)
before anything is cut short or rendered.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from tryon_suite.http.client import Exchange
from tryon_suite.http.curl import TRANSPORT_HEADERS
from tryon_suite.http.secret import Secret, mask_data
from tryon_suite.report.index import write_index
from tryon_suite.report.pages import environment
from tryon_suite.suite.evidence import Evidence
from tryon_suite.suite.results import STATUS_ORDER, ClauseResult, RunResults, thumbnail

__all__ = ["render_report", "report_data", "run_secrets", "write_report"]

#: A body longer than this is cut in the report (after masking, so no piece of a key is left).
_TEXT_LIMIT: Final = 4000


def run_secrets(results: RunResults, secrets: Iterable[Secret | str] = ()) -> tuple[Secret, ...]:
    """The keys to mask in what is written of `results`: `secrets` and every key its
    exchanges were sent with."""
    found = {Secret(s) for s in secrets if s}
    for test in results.tests:
        found.update(k for e in test.exchanges for k in e.secrets)
        found.update(k for e in test.evidence if e.exchange for k in e.exchange.secrets)
    return tuple(found)


def _cut(text: str) -> str:
    if len(text) <= _TEXT_LIMIT:
        return text
    return f"{text[:_TEXT_LIMIT]}\u2026 ({len(text):,} characters in all)"


def _exchange(raw: Exchange) -> dict[str, Any]:
    exchange = raw.masked()
    return {
        "method": exchange.method,
        "url": exchange.url,
        # what the client added on its own (host, content-length, ...) hides what was sent
        "request_headers": {
            k: v for k, v in exchange.request_headers.items() if k.lower() not in TRANSPORT_HEADERS
        },
        "request_body": _cut(exchange.request_body),
        "request_images": [
            {"field": name, "bytes": len(data), "thumbnail": thumbnail(data)}
            for name, data in exchange.request_images
        ],
        "status": exchange.status,
        "response_headers": exchange.response_headers,
        "response_body": _cut(exchange.response_body),
        "response_thumbnail": thumbnail(exchange.response_image)
        if exchange.response_image
        else None,
        "elapsed_ms": round(exchange.elapsed * 1000, 1),
        "note": exchange.note,
        "key": exchange.key_role,
        "curl": exchange.curl,
    }


def _summary(exchange: Exchange | None) -> str:
    if exchange is None:
        return ""
    status = exchange.status if exchange.status is not None else "no answer"
    return f"{exchange.method} {exchange.path} -> {status}"


#: Evidence items listed per clause in the JSON (the rest are counted).
_LISTED = 5
#: Exchanges of the failing test shown beside the decisive one (the rest are counted).
_OTHER_EXCHANGES = 10


def _evidence(nodeid: str, evidence: Evidence) -> dict[str, Any]:
    return {
        "test": nodeid,
        "finding": evidence.finding,
        "expected": evidence.expected,
        "received": evidence.received,
        "exchange": _summary(evidence.exchange),
    }


def _clause(result: ClauseResult) -> dict[str, Any]:
    decisive = result.decisive
    leading: list[dict[str, Any]] = []
    if decisive is not None and decisive[1].exchange is not None:
        leading = [_exchange(decisive[1].exchange)]
    failing = next((t for t in result.tests if decisive and t.nodeid == decisive[0]), None)
    rest: list[Exchange] = []
    if result.status == "fails" and failing is not None:
        lead = decisive[1].exchange if decisive else None
        rest = [e for e in failing.exchanges if e is not lead]
    # a stateful test sends hundreds: the last few led up to the failure
    others = [_exchange(e) for e in rest[-_OTHER_EXCHANGES:]]
    items = [(n, e) for n, e in result.evidence if e.finding == "failed"]
    items += [(n, e) for n, e in result.evidence if e.finding != "failed"]
    failing_tests = {n for n, e in result.evidence if e.finding == "failed"}
    return {
        "id": result.clause.id,
        "level": result.clause.level,
        "source": result.clause.source,
        "text": result.clause.text,
        "schemas": list(result.clause.schemas),
        "checkable": result.clause.checkable,
        "status": result.status,
        "reason": result.reason,
        # for a clause not (or partly) checked: in this run's scope or not, and why
        "scope": result.scope_text,
        "credits": result.credits,
        "tests": [
            {"nodeid": t.nodeid, "outcome": t.outcome_for(result.clause.id), "message": t.message}
            for t in result.tests
        ],
        "observations": result.observations,
        # the same readings as data (`evidence.Reading`): what the twin calibrates from
        "readings": result.readings,
        "evidence": [_evidence(n, e) for n, e in items[:_LISTED]],
        "evidence_count": len(items),
        "failing_tests": len(failing_tests),
        "decisive": {
            "test": decisive[0],
            **_evidence(*decisive),
        }
        if decisive
        else None,
        "exchanges": leading + others,
        "exchanges_left_out": len(rest) - len(others),
        #: whether exchanges[0] is the decisive one (a failure may have been seen on no exchange)
        "decisive_exchange": bool(leading),
    }


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


#: Within a status, must clauses before should and observe ones.
_LEVEL_ORDER = {"must": 0, "should": 1, "observe": 2}


def report_data(results: RunResults, secrets: Iterable[Secret | str] = ()) -> dict[str, Any]:
    """The report as plain data, keys masked: what the JSON holds and the template shows."""
    clauses = [_clause(result) for result in results.clause_results()]
    clauses.sort(key=lambda c: (STATUS_ORDER[c["status"]], _LEVEL_ORDER.get(c["level"], 3)))
    totals = results.totals()
    verdict = results.verdict()
    data = {
        "target": results.target,
        "started": _when(results.started),
        "finished": _when(results.finished),
        "duration_s": round(results.finished - results.started, 1),
        "limits": results.limits,
        "requests": results.requests,
        "preflight_requests": results.preflight_requests,
        "probe_requests": results.probe_requests,
        "pace": list(results.pace) if results.pace else None,
        "budget": results.budget,
        "credits": _credits(results),
        "totals": totals,
        # "pass", "fail" or "incomplete": the run's verdict, its reason and what to do
        "verdict": verdict.name.lower(),
        "verdict_reason": verdict.reason,
        "verdict_todo": verdict.todo,
        "exit_code": int(verdict.exit_code),
        "stopped": results.stopped,
        "tests": len(results.tests),
        "clauses": clauses,
        "open_points": [c for c in clauses if c["level"] == "observe"],
        # the input-space model's cases, per clause: exercised, and not exercised with why
        "coverage": results.coverage(),
    }
    return mask_data(data, run_secrets(results, secrets))


def _credits(results: RunResults) -> dict[str, Any] | None:
    spent = results.credits
    if spent is None:
        return None
    return {
        "counted": spent.counted,
        "budget": spent.budget,
        "balance_before": spent.before,
        "balance_after": spent.after,
        "from_balance": spent.from_balance,
        "text": spent.text(),
    }


def _sections(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each clause in one section of the page: open points and clauses that cannot be checked
    from outside apart from the table of judged clauses."""
    clauses = data["clauses"]
    return {
        "judged": [
            c for c in clauses if c["level"] != "observe" and c["status"] != "not checkable"
        ],
        "not_checkable": [
            c for c in clauses if c["level"] != "observe" and c["status"] == "not checkable"
        ],
    }


def write_report(
    results: RunResults,
    folder: Path,
    selftest: dict[str, Any] | None = None,
    secrets: Iterable[Secret | str] = (),
) -> list[Path]:
    """Write compliance.html and compliance.json, with the self-test's kill matrix when one is
    given. Keys are masked in the data (never in the rendered text, which a short key would
    mangle): `secrets` and those the run's exchanges were sent with."""
    data = report_data(results, secrets)
    if selftest is not None:
        data["selftest"] = mask_data(selftest, run_secrets(results, secrets))
    return render_report(data, folder)


def render_report(data: dict[str, Any], folder: Path) -> list[Path]:
    """compliance.html and compliance.json from report data (`report_data`, or a
    compliance.json read back)."""
    folder.mkdir(parents=True, exist_ok=True)
    html = (
        environment()
        .get_template("compliance.html.j2")
        .render(report=data, sections=_sections(data))
    )
    text = json.dumps(data, indent=2)
    html_path, json_path = folder / "compliance.html", folder / "compliance.json"
    html_path.write_text(html, encoding="utf-8")
    json_path.write_text(text, encoding="utf-8")
    write_index(folder)
    return [html_path, json_path]

"""Never stricter than the vendor about 500 (issue 19, part 8): a 500's body is judged no
further than API.md documents it, and a 5xx to a bad-input probe is asked once more before it
fails tryon.robustness.no_5xx_on_bad_input (API.md calls transient 5xx normal)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import QUIET
from tests.test_suite_verdicts import run_contract
from tryon_suite import ContractViolation, TryOnClient, ask_bad_input, expect_error
from tryon_suite.http.client import Exchange
from tryon_suite.http.clock import RealClock
from tryon_suite.mutants._kit import Rewrite, filtered
from tryon_suite.simulator.config import DEMO_KEY
from tryon_suite.simulator.core import SimRequest, SimResponse
from tryon_suite.simulator.server import serving
from tryon_suite.suite.checks import judge_answer
from tryon_suite.suite.evidence import collecting

NO_5XX = "tryon.robustness.no_5xx_on_bad_input"
HTML_500 = SimResponse(500, {"content-type": "text/html"}, b"<h1>Internal Server Error</h1>")
#: the three unparseable bodies of one contract test, each a bad-input probe
UNPARSEABLE = "contract/test_errors.py::test_a_body_that_cannot_be_parsed_is_invalid_request_body"


def _five_hundred(body: str, content_type: str) -> Exchange:
    headers = {"content-type": content_type} if content_type else {}
    url = "http://api.test/v1/try-on"
    return Exchange("POST", url, {}, "", [], 500, headers, body, None, 0.1)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<html><h1>Internal Server Error</h1></html>", "text/html"),
        ("", ""),
        ('{"error": "Internal server error"}', "application/json"),
        ('{"error": "Internal server error", "error_code": 500}', "application/json"),
        ('{"error": "Internal server error", "error_code": null}', "application/json"),
    ],
    ids=["html", "empty", "json-without-error_code", "numeric-error_code", "null-error_code"],
)
def test_a_500_body_the_documentation_leaves_open_fails_no_clause(
    body: str, content_type: str
) -> None:
    found = judge_answer(_five_hundred(body, content_type))
    failed = [(e.clause, e.received) for e in found if e.finding == "failed"]
    assert not failed, f"expected no clause failed by a 500 {body!r}, got {failed}"
    assert found, f"expected the 500 {body!r} recorded as evidence, got none"


def test_a_500_body_that_is_not_json_is_recorded_as_observed() -> None:
    found = judge_answer(_five_hundred("<h1>oops</h1>", "text/html"))
    seen = [(e.clause, e.finding, e.received) for e in found]
    assert seen == [
        ("tryon.500.body", "observed", "a 500 whose body is not JSON: '<h1>oops</h1>'")
    ], f"expected tryon.500.body observed with the body quoted, got {seen}"


def _client(statuses: list[int]) -> TryOnClient:
    """A client whose target answers the given statuses in turn (a 400 once they run out)."""

    def handler(request: httpx.Request) -> httpx.Response:
        status = statuses.pop(0) if statuses else 400
        if status >= 500:
            return httpx.Response(
                status, text="<h1>busy</h1>", headers={"content-type": "text/html"}
            )
        body = {"error": "Invalid body", "error_code": "invalid_request_body"}
        return httpx.Response(status, json=body)

    return TryOnClient("http://api.test", DEMO_KEY, transport=httpx.MockTransport(handler))


def _probe(client: TryOnClient) -> Callable[[], httpx.Response]:
    return lambda: client.send("POST", "/v1/try-on", content=b"{", headers={})


def test_a_5xx_then_a_refusal_is_asked_once_more_and_holds() -> None:
    client = _client([500])
    with collecting() as evidence:
        response = ask_bad_input(_probe(client))
        expect_error(response, 400, {"invalid_request_body"}, "tryon.400.invalid_request_body")
    statuses = [e.status for e in client.exchanges]
    assert statuses == [500, 400], f"expected the probe sent twice (500, 400), got {statuses}"
    note = client.exchanges[0].note
    assert note == "500, asked once more: 400", f"expected the first exchange's note, got {note!r}"
    no_5xx = [(e.finding, e.expected) for e in evidence.items if e.clause == NO_5XX]
    assert no_5xx == [
        ("held", "a 4xx, not a 5xx, for a client's mistake (500 first, asked once more: 400)")
    ], f"expected {NO_5XX} held, saying the probe was repeated, got {no_5xx}"


def test_a_refusal_at_once_is_not_asked_again() -> None:
    client = _client([])
    ask_bad_input(_probe(client))
    statuses = [e.status for e in client.exchanges]
    assert statuses == [400], f"expected the probe sent once, got {statuses}"


def test_a_5xx_asked_once_more_and_5xx_again_fails_with_both_answers() -> None:
    client = _client([500, 503])
    with collecting() as evidence:
        response = ask_bad_input(_probe(client))
        with pytest.raises(ContractViolation) as raised:
            expect_error(response, 400, {"invalid_request_body"}, "tryon.400.invalid_request_body")
    statuses = [e.status for e in client.exchanges]
    assert statuses == [500, 503], f"expected the probe sent twice (500, 503), got {statuses}"
    assert raised.value.clause == NO_5XX, f"expected {NO_5XX} to fail, got {raised.value.clause}"
    received = raised.value.received
    assert received.startswith("500, asked once more: 503"), (
        f"expected the failure to name both answers, got {received!r}"
    )
    first = [e.exchange for e in evidence.items if e.clause == NO_5XX]
    assert first == [client.exchanges[0]], f"expected the first 5xx as evidence too, got {first}"


# -- over HTTP, the contract suite itself: a transient 500 passes, a lasting one fails ------


def _first_refusal_500() -> Rewrite:
    """The first 400 the server gives becomes a 500 (an HTML page); later ones are correct."""
    seen: list[int] = []

    def rewrite(request: SimRequest, response: SimResponse) -> SimResponse:
        if response.status == 400 and not seen:
            seen.append(400)
            return HTML_500
        return response

    return rewrite


def _every_refusal_500(request: SimRequest, response: SimResponse) -> SimResponse:
    return HTML_500 if response.status == 400 else response


def _judged(rewrite: Rewrite, folder: Path) -> tuple[int, dict[str, dict[str, object]]]:
    with serving(simulator=filtered(rewrite)(QUIET, RealClock())) as (url, _):
        code = run_contract(url, folder, UNPARSEABLE)
    report = json.loads((folder / "compliance.json").read_text())
    return code, {c["id"]: c for c in report["clauses"]}


@pytest.mark.slow(8)
def test_a_server_whose_first_refusal_is_a_transient_500_passes(tmp_path: Path) -> None:
    code, clauses = _judged(_first_refusal_500(), tmp_path)
    failing = [cid for cid, c in clauses.items() if c["status"] == "fails"]
    assert not failing, f"expected no clause to fail on a transient 500, got {failing}"
    assert code == 0, f"expected exit 0, got {code}"
    assert clauses[NO_5XX]["status"] == "holds", f"expected {NO_5XX} to hold, got {clauses[NO_5XX]}"
    said = [str(e["expected"]) for e in clauses[NO_5XX]["evidence"]]  # type: ignore[attr-defined]
    assert any("500 first, asked once more: 400" in text for text in said), (
        f"expected {NO_5XX}'s evidence to say the probe was asked once more, got {said}"
    )


@pytest.mark.slow(8)
def test_a_server_that_always_500s_on_bad_input_fails_the_clause(tmp_path: Path) -> None:
    code, clauses = _judged(_every_refusal_500, tmp_path)
    row = clauses[NO_5XX]
    assert row["status"] == "fails", f"expected {NO_5XX} to fail, got {row['status']}"
    assert code == 1, f"expected exit 1, got {code}"
    assert "asked once more: 500" in str(row["reason"]), (
        f"expected the reason to say the probe was asked twice, got {row['reason']!r}"
    )
    statuses = [e["status"] for e in row["exchanges"]]  # type: ignore[attr-defined]
    assert statuses.count(500) >= 2, f"expected both 500s among the evidence, got {statuses}"

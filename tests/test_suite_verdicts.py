"""The contract suite judged against servers we know: it fails on a broken clause and says why,
stays green where only a should-clause breaks, and never writes a key."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import QUIET
from tryon_suite.http.clock import RealClock
from tryon_suite.selftest import run as selftest
from tryon_suite.simulator.config import DEMO_KEY, NO_CREDITS_KEY, OTHER_KEY
from tryon_suite.simulator.core import SimRequest, SimResponse, Simulator
from tryon_suite.simulator.readings import Readings
from tryon_suite.simulator.server import serving

pytestmark = pytest.mark.slow(27)

ROOT = Path(__file__).resolve().parent.parent


class MissingKeyIs403(Simulator):
    """Breaks tryon.401.missing_key (a must clause): no key gets 403, not 401."""

    def _authenticate(self, request: SimRequest) -> str | SimResponse:
        answer = super()._authenticate(request)
        if isinstance(answer, SimResponse) and "x-api-key" not in request.headers:
            body = b'{"error":"no credits","error_code":"insufficient_api_credits"}'
            return SimResponse(403, {"content-type": "application/json"}, body)
        return answer


class PacedRequestsGet429(Simulator):
    """Breaks only tryon.rate_limit.paced_requests_pass (a should clause)."""

    def __init__(self) -> None:
        super().__init__(QUIET, RealClock())
        self.count = 0

    def _throttle(self, key: str) -> SimResponse | None:
        self.count += 1
        if self.count % 5 == 0:  # clients that retry 429 never notice; pacing does not help
            body = b'{"error":"slow down","error_code":"rate_limit_exceeded"}'
            return SimResponse(429, {"content-type": "application/json"}, body)
        return None


#: every permission a live run can be given: the 403 and isolation keys, and a burst
EVERY_PERMISSION = (
    "--tryon-no-credits-key",
    NO_CREDITS_KEY,
    "--tryon-other-key",
    OTHER_KEY,
    "--tryon-allow-burst",
)


def run_contract(
    base_url: str,
    report_dir: Path,
    path: str,
    *options: str,
    key: str = DEMO_KEY,
    rate: int = 200,
) -> int:
    """The suite (or the file `path` of it) over HTTP against `base_url`; the exit code."""
    args = ["--tryon-base-url", base_url, "--tryon-api-key", key, "--tryon-rate", str(rate)]
    return selftest.run_contract([*args, *options], report_dir, paths=[path]).exit_code


@pytest.fixture
def broken() -> Iterator[str]:
    with serving(simulator=MissingKeyIs403(QUIET, RealClock())) as (url, _):
        yield url


def test_a_broken_must_clause_fails_the_run_and_the_report_says_why(
    broken: str, tmp_path: Path
) -> None:
    code = run_contract(broken, tmp_path, "contract/test_auth.py")
    assert code == 1, f"expected exit code 1 for a broken must clause, got {code}"
    report = json.loads((tmp_path / "compliance.json").read_text())
    clause = next(c for c in report["clauses"] if c["id"] == "tryon.401.missing_key")
    assert clause["status"] == "fails", f"expected tryon.401.missing_key to fail, got {clause}"
    assert "expected 401 with error_code invalid_auth_token, got 403" in clause["reason"], (
        f"expected the reason to say what came back, got {clause['reason']!r}"
    )
    sent = clause["exchanges"][-1]
    assert sent["status"] == 403, f"expected the failing exchange in the report, got {sent}"
    assert "insufficient_api_credits" in sent["response_body"], f"got {sent['response_body']}"
    assert report["clauses"][0]["status"] == "fails", "expected failures listed first"
    others = {c["id"]: c["status"] for c in report["clauses"]}
    assert others["tryon.401.wrong_key"] == "holds", f"expected other clauses to hold, got {others}"


def test_a_broken_should_clause_alone_leaves_the_exit_code_zero(tmp_path: Path) -> None:
    with serving(simulator=PacedRequestsGet429()) as (url, _):
        code = run_contract(url, tmp_path, "contract/test_auth.py")
    report = json.loads((tmp_path / "compliance.json").read_text())
    statuses = {c["id"]: c["status"] for c in report["clauses"]}
    assert statuses["tryon.rate_limit.paced_requests_pass"] == "fails", f"got {statuses}"
    assert code == 0, f"expected exit 0 when only a should clause fails, got {code}"
    assert report["verdict"] == "pass", f"expected the verdict pass, got {report['verdict']}"


def test_no_key_is_written_to_the_report(tmp_path: Path) -> None:
    secret = "live-secret-key-7f3a9c2e11d4"
    config = QUIET.__class__(**{**QUIET.__dict__, "accounts": QUIET.accounts})
    simulator = Simulator(config, RealClock())
    simulator.credits[secret] = 10
    with serving(simulator=simulator) as (url, _):
        run_contract(url, tmp_path, "contract/test_auth.py", key=secret)
    for path in tmp_path.iterdir():
        text = path.read_text(errors="replace")
        assert secret not in text, f"expected the key redacted everywhere, found it in {path.name}"
    assert (tmp_path / "compliance.html").exists(), "expected the HTML report to be written"


def test_checks_needing_options_not_given_are_reported_not_checked(tmp_path: Path) -> None:
    with serving(QUIET) as (url, _):
        run_contract(url, tmp_path, "contract/test_auth.py")
    clauses = {
        c["id"]: c for c in json.loads((tmp_path / "compliance.json").read_text())["clauses"]
    }
    for clause_id, needs in (
        ("tryon.403.insufficient_api_credits", "--tryon-no-credits-key"),
        ("tryon.429.rate_limit_exceeded", "--tryon-allow-burst"),
    ):
        got = clauses[clause_id]
        assert got["status"] == "not checked", f"expected {clause_id} not checked, got {got}"
        assert needs in got["reason"], f"expected the reason to name {needs}, got {got['reason']}"


def test_when_the_budget_runs_out_the_rest_is_not_checked_never_passed(tmp_path: Path) -> None:
    done = selftest.run_contract(["--tryon-budget", "40"], tmp_path)
    report = json.loads((tmp_path / "compliance.json").read_text())
    assert report["requests"] == 40, (
        f"expected exactly the 40 requests allowed, got {report['requests']}"
    )
    spent = [c for c in report["clauses"] if "--tryon-budget" in c["reason"]]
    assert spent, "expected clauses reported not checked for the spent budget"
    assert all(c["status"] in ("not checked", "partly checked") for c in spent), [
        c["status"] for c in spent
    ]
    musts = [c["id"] for c in spent if c["level"] == "must"]
    assert musts, "expected must clauses left unchecked by the spent budget"
    # No must failed, but the budget left musts in scope unchecked: INCOMPLETE, never PASS
    assert done.exit_code == 2, f"expected exit 2 (INCOMPLETE), got {done.exit_code}"
    assert report["verdict"] == "incomplete", f"expected incomplete, got {report['verdict']}"
    assert "--tryon-budget" in report["verdict_reason"], (
        f"expected the reason to name the spent budget, got {report['verdict_reason']!r}"
    )


#: A correct server that judges a try-on's body before its rate limit (the order of checks is
#: open): a body refused for itself never counts against the limit, so a burst of such
#: requests meets no 429, whatever the limit.
BODY_BEFORE_LIMIT = replace(
    QUIET,
    rate_limit=5.0,
    readings=Readings(check_order=("auth", "body", "images", "rate_limit", "credits")),
)


def test_a_burst_of_refused_bodies_without_429_is_a_reading_not_a_failure_live(
    tmp_path: Path,
) -> None:
    with serving(simulator=Simulator(BODY_BEFORE_LIMIT, RealClock())) as (url, _):
        code = run_contract(url, tmp_path, "contract/test_auth.py", "--tryon-allow-burst")
    report = json.loads((tmp_path / "compliance.json").read_text())
    clause = next(c for c in report["clauses"] if c["id"] == "tryon.429.rate_limit_exceeded")
    assert clause["status"] == "not checked", (
        f"expected not checked (which calls count is open), got {clause['status']}: "
        f"{clause['reason']}"
    )
    if "reached only" in clause["reason"]:
        # a machine too slow to burst past 20/s proves nothing either way: the run's own limit
        assert code == 2, f"expected INCOMPLETE (exit 2) for a burst too slow, got {code}"
        return
    assert "out of scope" in clause["scope"], f"expected a reading, got {clause['scope']!r}"
    assert code == 0, f"expected exit 0 (PASS) for a correct reading, got {code}"

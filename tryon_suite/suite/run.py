"""One contract run: its options, its target, what each test found, and how it ends.

The pytest plugin (`plugin.py`) holds one `Run` in `config.stash[RUN]` and its hooks call it:
the run collects the tests' clauses, judges each test's report into an outcome
(`outcomes.py`), and at the end builds the results, writes the report and sets the exit code.
A self-test session (`tryon_suite.selftest.plugin`) keeps each mutant's outcomes apart, in
`mutant_outcomes`.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _pytest import junitxml

from tryon_suite.errors import ConfigError, ExitCode, PreflightError
from tryon_suite.http.cassette import Recorder, attributed
from tryon_suite.http.client import BudgetExhausted, Exchange, TryOnClient
from tryon_suite.http.watch import RunStopped
from tryon_suite.spec.clauses import catalogue
from tryon_suite.suite.cost import Cost, credits_spent, paid_exchange, plan_lines
from tryon_suite.suite.evidence import NOT_CHECKED, Collector, NotChecked, Scope
from tryon_suite.suite.options import option, record_folder, target_options
from tryon_suite.suite.outcomes import outcome_of
from tryon_suite.suite.results import CheckOutcome, RunResults
from tryon_suite.suite.targets import Target, TargetOptions

__all__ = ["RUN", "Run", "clause_ids", "mutant_of", "purchases_of"]


@dataclass(repr=False)
class Run:
    """Everything one run holds. On an xdist worker it gathers; the controller writes.

    Its repr is one line: a repr of the whole run (every exchange, every outcome) would take
    seconds to build wherever one is asked for (a signal handler holding the run, a traceback).
    """

    options: TargetOptions
    report_dir: Path
    #: the cassette `--tryon-record` writes (None: not recording)
    recorder: Recorder | None = None
    #: the run's own target, once opened (the self-test opens others too)
    target: Target | None = None
    #: the requests the preflight sent, before the target was opened
    preflight_sent: int = 0
    #: every collected contract test: nodeid -> the clauses it names (for "not run")
    collected: dict[str, tuple[str, ...]] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)
    outcomes: list[CheckOutcome] = field(default_factory=list)
    #: the outcomes of self-test items, by mutant (kept apart from the run's own report)
    mutant_outcomes: dict[str, list[CheckOutcome]] = field(default_factory=dict)
    #: every job id a 202 of the run named, with the exchange that named it first, by mutant
    job_ids: dict[str | None, dict[str, Exchange]] = field(default_factory=dict)
    costs: list[Cost] = field(default_factory=list)
    #: the first clause that failed (why a -x run stopped)
    stopped_by: str | None = None
    #: a test outside the contract (the project's own) failed
    outside_failed: bool = False
    #: set when SIGTERM ended the run (its report says so, not "Ctrl-C")
    terminated: threading.Event = field(default_factory=threading.Event)
    results: RunResults | None = None
    written: list[Path] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"Run(target={self.options.base_url or 'in process'}, {len(self.outcomes)} outcomes)"

    @classmethod
    def configure(cls, config: pytest.Config) -> Run:
        """The run's options, checked, and its report folder, writable: a usage mistake is
        found before the first request (not after the run spent its credits)."""
        options = target_options(config)
        if getattr(config.option, "host", None):
            # Locust's -H/--host reaches pytest through Locust's plugin: here it is ignored
            raise pytest.UsageError(
                "expected --tryon-base-url URL (or TRYON_BASE_URL) to name the target, got "
                "--host: pytest runs the contract suite with --tryon-base-url, --host is Locust's"
            )
        worker = hasattr(config, "workerinput")
        report_dir = Path(option(config, "--tryon-report-dir", "TRYON_REPORT_DIR") or "reports")
        if not worker and not options.plan:
            _writable(report_dir)
            if getattr(config.option, "xmlpath", None) is None:
                config.option.xmlpath = str(report_dir / "junit.xml")
        run = cls(options, report_dir)
        folder = record_folder(config)
        if folder is not None and not worker:
            try:
                run.recorder = Recorder(folder)
            except ConfigError as exc:
                raise pytest.UsageError(f"--tryon-record: {exc}") from None
        return run

    # -- before the first test ---------------------------------------------------------------

    def preflight(self) -> None:
        """A live target answers and every key authenticates, before anything is sent."""
        options = self.options
        if options.base_url is None or options.api_key is None or options.plan:
            return  # in process, or a plan: nothing to preflight
        from tryon_suite.http.preflight import KeyToCheck, preflight

        keys = [KeyToCheck(options.api_key, "--tryon-api-key")]
        if options.other_key:
            keys.append(KeyToCheck(options.other_key, "--tryon-other-key"))
        if options.no_credits_key:
            keys.append(KeyToCheck(options.no_credits_key, "--tryon-no-credits-key", True))
        try:
            self.preflight_sent = preflight(options.base_url, keys, sleep=time.sleep)
        except PreflightError as exc:
            raise pytest.UsageError(f"tryon preflight: {exc}") from None

    def header(self) -> list[str]:
        options = self.options
        budget = options.budget if options.budget is not None else "none"
        extras = [
            name
            for name, on in (
                ("no-credits key", options.no_credits_key),
                ("other key", options.other_key),
                ("burst allowed", options.allow_burst),
            )
            if on
        ]
        return [
            f"tryon: target {options.base_url or 'in-process simulator'}, limits "
            f"{options.limits.name}, budget {budget}, with "
            f"{', '.join(extras) or 'no extra permissions'}"
        ]

    def collect(self, items: list[pytest.Item]) -> None:
        """Every test's clauses known; live, the checks that judge purchases go last."""
        known = {c.id for c in catalogue()}
        for item in items:
            for marker in item.iter_markers("clause"):
                unknown = [cid for cid in marker.args if cid not in known]
                if unknown:
                    raise pytest.UsageError(
                        f"{item.nodeid}: expected clause ids from clauses.yaml, got {unknown}"
                    )
            if (ids := clause_ids(item)) and mutant_of(item) is None:
                # the run's own target (a self-test's mutants keep their outcomes apart)
                self.collected[item.nodeid] = ids
        if self.options.live and not self.options.serial:
            # The purchases are bought from the start, concurrently: the checks that judge
            # them (or need them ended, `quiet`) go last, so the free checks run while the
            # target processes (a stable sort keeps the order within each part). In process
            # nothing waits, and the order stays as written.
            items.sort(key=_after_purchases)

    # -- each test -----------------------------------------------------------------------------

    def judge(
        self,
        item: pytest.Item,
        call: pytest.CallInfo[None],
        report: pytest.TestReport,
        raised: BaseException | None,
    ) -> None:
        """A test's report into its outcome: its evidence, and every answer it got judged.
        What stopped it (a budget, a target that stopped answering) makes it "not checked"."""
        scope: Scope | None = None
        if isinstance(raised, BudgetExhausted | RunStopped):
            scope = "run"
            _skip(report, item, str(raised))
            if isinstance(raised, RunStopped):
                # nothing more can be examined: the tests left are "not run", with this reason
                item.session.shouldstop = raised.reason
        elif isinstance(raised, NotChecked):
            scope = raised.scope
            _skip(report, item, raised.reason)
        ids = clause_ids(item)
        if not ids:
            self.outside_failed |= report.failed
            return
        if not (report.when == "call" or (report.when == "setup" and not report.passed)):
            return
        self.reported.add(item.nodeid)
        message = ""
        if report.skipped:
            message = _skip_reason(report)
        elif report.failed:
            message = _failure_message(call)
        gathered = item.stash[EVIDENCE].items if EVIDENCE in item.stash else []
        own = [e for c in item.stash.get(CLIENTS, []) for e in c.exchanges]
        bought = item.stash.get(BOUGHT, [])
        exchanges = [e for c in dict.fromkeys(bought) for e in c.exchanges] + own
        mutant = mutant_of(item)
        # the target this item ran against (the self-test opens several, one after another)
        target = getattr(item, "funcargs", {}).get("target") or self.target
        outcome = outcome_of(
            item.nodeid,
            ids,
            report.outcome,
            message,
            gathered,
            exchanges,
            raised,
            self.job_ids.setdefault(mutant, {}),
            target.authenticates if target is not None else None,
        )
        outcome.paid = frozenset(id(e) for e in exchanges if paid_exchange(e))
        if outcome.outcome == "not checked":
            # a skip that says nothing of its scope (pytest.skip in a contract test) is the run's
            outcome.scope = scope or "run"
        self.costs.append(
            Cost(item.nodeid, len(own), sum(map(paid_exchange, own)), purchases_of(item))
        )
        if outcome.outcome == "not checked" and report.failed:
            # Not the API's fault (unreachable, a key refused mid-run): a skip, with the reason.
            _skip(report, item, outcome.message)
        if mutant is not None:
            self.mutant_outcomes.setdefault(mutant, []).append(outcome)
            return
        if outcome.failed_clause and self.stopped_by is None:
            self.stopped_by = outcome.failed_clause
        self.outcomes.append(outcome)

    # -- the end -------------------------------------------------------------------------------

    def stopped(self, session: pytest.Session) -> str | None:
        """Why the run ended before its end: the target stopped answering, its deadline, an
        interrupt; None when it went to its end (or stopped at a failure: -x, --maxfail)."""
        watch = self.target.watch if self.target is not None else None
        if watch is not None and watch.stopped:
            return watch.stopped
        if session.exitstatus == pytest.ExitCode.INTERRUPTED and self.terminated.is_set():
            return "terminated by a signal (SIGTERM)"
        if session.exitstatus == pytest.ExitCode.INTERRUPTED:
            return "interrupted by the user (Ctrl-C)"
        if session.shouldstop and not session.shouldfail:
            return str(session.shouldstop)
        return None

    def not_run(self, session: pytest.Session) -> dict[str, str]:
        """Clauses of tests that were collected but never reported, with why."""
        missing = {n: ids for n, ids in self.collected.items() if n not in self.reported}
        if not missing:
            return {}
        if stopped := self.stopped(session):
            why = f"not run: {stopped}"
        elif session.shouldfail and self.stopped_by:
            why = f"not run: the run stopped after {self.stopped_by} failed ({session.shouldfail})"
        elif session.shouldfail or session.shouldstop:
            why = f"not run: the run stopped early ({session.shouldfail or session.shouldstop})"
        else:
            why = "not run: the run was interrupted before this test"
        return {cid: why for ids in missing.values() for cid in ids}

    def finish(self, session: pytest.Session) -> None:
        """The results, the report and the exit code (or the plan), on the controller."""
        if not self.outcomes and not (self.stopped(session) and self.collected):
            return  # no contract test ran (a stopped run still gets its INCOMPLETE report)
        target, options = self.target, self.options
        if target is not None and target.ledger is not None:
            # a run stopped early keeps its fixtures until after this hook: end the purchases
            # and read the balance now, as the last test's teardown does otherwise
            with attributed(purchase="balance"):
                target.ledger.close()
        if options.plan:
            self.plan = plan_lines(options, target, self.costs)
            session.exitstatus = pytest.ExitCode.OK
            return
        results = self.results = RunResults(
            target=target.name if target else (options.base_url or "in-process simulator"),
            started=target.started if target else time.time(),
            finished=time.time(),
            limits=options.limits.name,
            requests=target.budget.sent if target else 0,
            preflight_requests=self.preflight_sent,
            probe_requests=target.watch.probes if target and target.watch else 0,
            pace=(target.pacer.initial_rate, target.pacer.rate) if target else None,
            budget=options.budget,
            tests=self.outcomes,
            not_run=self.not_run(session),
            credits=credits_spent(target) if target else None,
            stopped=self.stopped(session),
        )
        from tryon_suite.suite.report import write_report

        self.written = write_report(results, self.report_dir)
        verdict = results.verdict()
        # The exit code is the verdict's (PASS 0, FAIL 1, INCOMPLETE 2), unless something
        # outside the contract (the project's own tests) failed: pytest's own rule, 1.
        code: int = verdict.exit_code
        if verdict.exit_code == ExitCode.PASS and self.outside_failed:
            code = ExitCode.FAIL
        session.exitstatus = code
        xml = session.config.stash.get(junitxml.xml_key, None)
        if xml is not None:
            xml.add_global_property("tryon_verdict", verdict.name)
            xml.add_global_property("tryon_verdict_reason", verdict.reason)
            xml.add_global_property("tryon_verdict_todo", verdict.todo)


#: the run, in the config's stash
RUN = pytest.StashKey[Run]()
#: per test: its evidence, the clients it made, the clients of the purchases it judged
EVIDENCE = pytest.StashKey[Collector]()
CLIENTS = pytest.StashKey[list[TryOnClient]]()
BOUGHT = pytest.StashKey[list[TryOnClient]]()


def clause_ids(item: pytest.Item) -> tuple[str, ...]:
    return tuple(cid for m in item.iter_markers("clause") for cid in m.args)


def purchases_of(item: pytest.Item) -> tuple[str, ...]:
    return tuple(n for m in item.iter_markers("purchases") for n in m.args)


def mutant_of(item: pytest.Item) -> str | None:
    """The mutant a self-test item runs against, None for the run's own target."""
    callspec = getattr(item, "callspec", None)
    mutant = callspec.params.get("target") if callspec is not None else None
    own = item.config.stash[RUN].options.mutant
    return mutant if isinstance(mutant, str) and mutant != own else None


def _after_purchases(item: pytest.Item) -> bool:
    return bool(purchases_of(item)) or "quiet" in getattr(item, "fixturenames", ())


def _writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".tryon-write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise pytest.UsageError(
            f"expected a report folder the run can write (--tryon-report-dir, "
            f"TRYON_REPORT_DIR), got {str(folder)!r}: {exc.strerror or exc}"
        ) from None


def _skip(report: pytest.TestReport, item: pytest.Item, reason: str) -> None:
    report.outcome = "skipped"
    report.longrepr = (str(item.path), item.location[1] or 0, NOT_CHECKED + reason)


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return text.removeprefix("Skipped: ").removeprefix(NOT_CHECKED)


def _failure_message(call: pytest.CallInfo[None]) -> str:
    if call.excinfo is None:
        return "failed"
    text = str(call.excinfo.value).strip()
    first = text.split("\nassert ", 1)[0].split("\n+  where", 1)[0]
    return first[:2000] or call.excinfo.typename

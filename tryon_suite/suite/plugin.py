"""The pytest plugin orchestrates: options (`options.py`), markers, preflight, the target and
client fixtures, gathering each test's evidence into an outcome (`outcomes.py`), the exit code
and the report. It judges nothing itself.

Loaded by the root conftest.py (`pytest_plugins`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from _pytest import junitxml
from hypothesis import settings

from tryon_suite.errors import ConfigError, ExitCode, PreflightError, SchemaError
from tryon_suite.http.cassette import Recorder, attributed
from tryon_suite.http.cassette.record import stamp
from tryon_suite.http.client import BudgetExhausted, Exchange, TryOnClient, tls_context
from tryon_suite.http.watch import RunStopped
from tryon_suite.spec.clauses import catalogue
from tryon_suite.suite.console import failing_clause_lines
from tryon_suite.suite.cost import Cost, credits_spent, paid_exchange, plan_lines
from tryon_suite.suite.evidence import (
    NOT_CHECKED,
    Collector,
    NotChecked,
    Scope,
    collecting,
    not_checked,
    observed,
)
from tryon_suite.suite.options import (
    MUTANT_OUTCOMES,
    OPTIONS,
    add_options,
    mutant_of,
    option,
    record_folder,
    target_options,
)
from tryon_suite.suite.outcomes import outcome_of
from tryon_suite.suite.purchases import Ledger, Sale
from tryon_suite.suite.results import CheckOutcome, RunResults
from tryon_suite.suite.targets import Target, TargetOptions, open_target

__all__ = ["not_checked"]


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


_MARKERS = {
    "clause(*ids)": "the clause ids of schemas/clauses.yaml that this test checks",
    "live": "a check that sends requests to the target under test",
    "spends_credits": "a check whose requests may cost credits on a live target",
    "purchases(*names)": "the paid exchanges (tryon_suite.suite.purchases.PURCHASES) this check "
    "judges; the run buys each once",
}


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    for name, description in _MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {description}")
    options = target_options(config)
    config.stash[OPTIONS] = options
    if options.live:
        settings.load_profile("live")
    if options.replay is not None:
        # the bodies Hypothesis draws must be the recorded ones: the recorded profile
        settings.load_profile(str(options.replay.header["options"]["hypothesis_profile"]))
    if getattr(config.option, "host", None):
        # Locust's -H/--host reaches pytest through Locust's plugin: here it would be ignored
        raise pytest.UsageError(
            "expected --tryon-base-url URL (or TRYON_BASE_URL) to name the target, got --host: "
            "pytest runs the contract suite with --tryon-base-url, --host is Locust's"
        )
    report_dir = Path(option(config, "--tryon-report-dir", "TRYON_REPORT_DIR") or "reports")
    if not hasattr(config, "workerinput") and not options.plan:
        _writable(report_dir)
    config.stash[_REPORT_DIR] = report_dir
    if (
        getattr(config.option, "xmlpath", None) is None
        and not hasattr(config, "workerinput")
        and not options.plan
    ):
        config.option.xmlpath = str(report_dir / "junit.xml")
    config.stash[_TESTS] = []
    config.stash[_OBSERVED] = {}
    folder = record_folder(config)
    if folder is not None and not hasattr(config, "workerinput"):
        try:
            config.stash[_RECORDER] = Recorder(folder)
        except ConfigError as exc:
            raise pytest.UsageError(f"--tryon-record: {exc}") from None


def _writable(folder: Path) -> None:
    """The report folder can be written, found before the first request (not after the run
    spent its credits)."""
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


_REPORT_DIR = pytest.StashKey[Path]()
#: the cassette `--tryon-record` writes
_RECORDER = pytest.StashKey[Recorder]()
_TESTS = pytest.StashKey[list[CheckOutcome]]()
_OBSERVED = pytest.StashKey[dict[str, list[str]]]()
_TARGET = pytest.StashKey[Target]()
#: every collected contract test: nodeid -> the clauses it names (for "not run")
_COLLECTED = pytest.StashKey[dict[str, tuple[str, ...]]]()
_REPORTED = pytest.StashKey[set[str]]()
_STOPPED_BY = pytest.StashKey[str]()
_EVIDENCE = pytest.StashKey[Collector]()
#: every job id a 202 of the run named, with the exchange that named it first, by mutant
_JOB_IDS = pytest.StashKey[dict[str | None, dict[str, Exchange]]]()


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Against a live target, the project's own tests of its machinery are not collected."""
    options = config.stash.get(OPTIONS, None)
    if options is not None and options.live:
        tests_dir = Path(str(config.rootpath)) / "tests"
        if collection_path == tests_dir or tests_dir in collection_path.parents:
            return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    known = {c.id for c in catalogue()}
    collected = config.stash.setdefault(_COLLECTED, {})
    for item in items:
        for marker in item.iter_markers("clause"):
            unknown = [cid for cid in marker.args if cid not in known]
            if unknown:
                raise pytest.UsageError(
                    f"{item.nodeid}: expected clause ids from clauses.yaml, got {unknown}"
                )
        if (clause_ids := _clause_ids(item)) and mutant_of(item) is None:
            # the run's own target (a self-test's mutants keep their outcomes apart)
            collected[item.nodeid] = clause_ids
    options = config.stash[OPTIONS]
    if options.live and not options.serial:
        # The purchases are bought from the start, concurrently: the checks that judge them (or
        # need them ended, `quiet`) go last, so the free checks run while the target
        # processes (a stable sort keeps the order within each part). In process nothing
        # waits, and the order stays as written.
        items.sort(key=_after_purchases)


def _clause_ids(item: pytest.Item) -> tuple[str, ...]:
    return tuple(cid for m in item.iter_markers("clause") for cid in m.args)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Preflight a live target before anything is collected or sent by a check."""
    config = session.config
    options = config.stash.get(OPTIONS, None)
    if options is None or options.base_url is None or options.api_key is None:
        return  # in process: nothing to preflight
    if config.option.collectonly or hasattr(config, "workerinput") or config.option.help:
        return
    if options.plan:
        return  # a plan sends nothing
    from tryon_suite.http.preflight import KeyToCheck, preflight

    keys = [KeyToCheck(options.api_key, "--tryon-api-key")]
    if options.other_key:
        keys.append(KeyToCheck(options.other_key, "--tryon-other-key"))
    if options.no_credits_key:
        keys.append(KeyToCheck(options.no_credits_key, "--tryon-no-credits-key", True))
    try:
        config.stash[_PREFLIGHT_SENT] = preflight(options.base_url, keys, sleep=time.sleep)
    except PreflightError as exc:
        config.stash[_PREFLIGHT_FAILED] = True
        raise pytest.UsageError(f"tryon preflight: {exc}") from None


_PREFLIGHT_FAILED = pytest.StashKey[bool]()
#: the requests the preflight sent, before the target was opened (none in process or replay)
_PREFLIGHT_SENT = pytest.StashKey[int]()


def pytest_report_header(config: pytest.Config) -> list[str]:
    options = config.stash[OPTIONS]
    target = options.base_url or "in-process simulator"
    limits = options.limits.name
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
        f"tryon: target {target}, limits {limits}, budget {budget}, "
        f"with {', '.join(extras) or 'no extra permissions'}"
    ]


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> Iterator[Target]:
    """The target under test, opened once per run; the self-test parametrizes it with the
    mutant to open instead (`tryon_suite.selftest.plugin`)."""
    options = pytestconfig.stash[OPTIONS]
    mutant = getattr(request, "param", options.mutant)
    with open_target(replace(options, mutant=mutant)) as opened, contextlib.ExitStack() as stack:
        recorder = pytestconfig.stash.get(_RECORDER, None)
        if opened.watch is not None and threading.current_thread() is threading.main_thread():
            opened.watch.on_stop = _wake_main_thread
            previous = signal.signal(signal.SIGUSR1, _interrupted)
            stack.callback(signal.signal, signal.SIGUSR1, previous)
            # a CI job cancelled, a container stopped: SIGTERM ends a live run as Ctrl-C
            # does, with its report (else the process dies with nothing written)
            before = signal.signal(signal.SIGTERM, _terminated)
            stack.callback(signal.signal, signal.SIGTERM, before)
            opened.watch.start()
        if mutant == options.mutant:
            pytestconfig.stash[_TARGET] = opened
            if recorder is not None:
                _record(recorder, opened, options, stack)
        names = {n for item in request.session.items for n in _purchases(item)}
        # Live, the purchases are bought at once, concurrently, while the free checks run; in
        # process (a virtual clock only this thread moves) each is bought at first use.
        concurrent = opened.live and not (options.plan or options.serial)
        with attributed(purchase="balance"):
            opened.ledger = Ledger(
                opened,
                names,
                concurrent=concurrent,
                attributed=lambda name: attributed(purchase=name),
                # a rehearsal of a concurrent run: its jobs polled once a sync answer is in
                poll_again_after=(opened.rehearsal_processing or 0.0) * (not options.serial),
            )
            opened.ledger.start()
        try:
            yield opened
        finally:
            with attributed(purchase="balance"):
                opened.ledger.close()


def _wake_main_thread(reason: str) -> None:
    """The target stopped answering (or the deadline passed), found by another thread: the
    main thread may be waiting on the wire for a sync try-on's whole timeout, so it is
    interrupted now, and the run ends INCOMPLETE with its report (`pytest_sessionfinish`
    tells this from a user's Ctrl-C by the watch's reason)."""
    if threading.current_thread() is not threading.main_thread():
        # SIGUSR1, not SIGINT: a run started in the background ignores SIGINT
        signal.pthread_kill(threading.main_thread().ident or 0, signal.SIGUSR1)


def _interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt("the target stopped answering")


#: set when SIGTERM ended the run (its report says so, not "Ctrl-C")
_SIGTERM = threading.Event()


def _terminated(signum: int, frame: object) -> None:
    _SIGTERM.set()
    raise KeyboardInterrupt("terminated (SIGTERM)")


def _record(
    recorder: Recorder, opened: Target, options: TargetOptions, stack: contextlib.ExitStack
) -> None:
    """Every exchange with `opened` from now on goes through the recorder's transport."""
    keys = {
        "run key": opened.key,
        "other key": opened.other_key,
        "no-credits key": opened.no_credits_key,
    }
    recorder.start(
        stamp(
            target=opened.base_url,
            live=opened.live,
            limits=opened.limits.name,
            options={
                "rate": opened.pacer.rate,
                "allow_burst": opened.allow_burst,
                "budget": opened.budget.limit,
                "credit_budget": opened.wallet.limit,
                "serial": options.serial,
                "mutant": options.mutant,
                "keys": [role for role, key in keys.items() if key],
                # a replay meets the same bodies only if Hypothesis drew them derandomized
                "hypothesis_profile": settings.get_current_profile_name(),
                "derandomize": settings().derandomize,
                # where the run's image URLs pointed: a replay's bodies must name the same
                "image_base_url": opened.image_url("").rstrip("/"),
            },
        ),
        keys,
    )
    stack.callback(recorder.close)
    inner = opened.transport
    if inner is None:
        inner = httpx.HTTPTransport(verify=tls_context())
        stack.callback(inner.close)
    opened.transport = recorder.wrap(inner)


def _after_purchases(item: pytest.Item) -> bool:
    return bool(_purchases(item)) or "quiet" in getattr(item, "fixturenames", ())


def _purchases(item: pytest.Item) -> tuple[str, ...]:
    return tuple(n for m in item.iter_markers("purchases") for n in m.args)


@pytest.fixture
def bought(target: Target, request: pytest.FixtureRequest) -> Callable[[str], Sale]:
    """The sale of a purchase the check declares (`@pytest.mark.purchases`): the same answer
    for every check that names it. What stopped the purchase (a budget, the network) is
    raised here, so the check is "not checked" with that reason."""
    declared = _purchases(request.node)

    def sale(name: str) -> Sale:
        if name not in declared:
            raise SchemaError(
                f"{request.node.nodeid}: expected {name!r} among its @pytest.mark.purchases "
                f"{list(declared)} (the run buys only what checks declare)"
            )
        assert target.ledger is not None
        with attributed(purchase=name):
            bought_sale = target.ledger.sale(name)
        request.node.stash[_BOUGHT] = [*request.node.stash.get(_BOUGHT, []), bought_sale.client]
        if bought_sale.error is not None:
            raise bought_sale.error
        return bought_sale

    return sale


_BOUGHT = pytest.StashKey[list[TryOnClient]]()


@pytest.fixture
def quiet(target: Target) -> None:
    """Nothing paid in flight: every purchase has ended (a check reading the balance around
    its own request needs it; live, such checks run with the purchases' consumers, last)."""
    if target.ledger is not None:
        target.ledger.settle()


@pytest.fixture
def client(target: Target, request: pytest.FixtureRequest) -> Iterator[TryOnClient]:
    """A client for the target; what it sends and receives goes into the report. Its try-ons
    reserve credits only in checks marked `spends_credits` (the others must be refused)."""
    made = target.client(may_spend=request.node.get_closest_marker("spends_credits") is not None)
    request.node.stash[_CLIENTS] = [*request.node.stash.get(_CLIENTS, []), made]
    yield made
    made.close()


_CLIENTS = pytest.StashKey[list[TryOnClient]]()


@pytest.fixture
def observe(pytestconfig: pytest.Config) -> Callable[..., None]:
    """Record what the target answered to an open point (shown in the report, never judged)."""
    observations = pytestconfig.stash[_OBSERVED]
    known = {c.id for c in catalogue()}

    def record(clause_id: str, text: str, response: httpx.Response | None = None) -> None:
        if clause_id not in known:
            raise SchemaError(f"expected a clause id from clauses.yaml, got {clause_id!r}")
        seen = observations.setdefault(clause_id, [])
        if text not in seen:
            seen.append(text)
        observed(clause_id, text, response)

    return record


# -- bookkeeping -----------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """A cassette names the test that sent each exchange (setup and teardown included)."""
    with attributed(test=item.nodeid):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Gather the evidence the test's checks record while it runs."""
    with collecting() as collector:
        item.stash[_EVIDENCE] = collector
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # taken before the inner hooks run: pytest's unittest plugin replaces a SkipTest
    # (BudgetExhausted, RunStopped) in `call.excinfo` with a plain skip
    raised = call.excinfo.value if call.excinfo is not None else None
    report = yield
    scope: Scope | None = None
    if isinstance(raised, BudgetExhausted | RunStopped):
        scope = "run"
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, NOT_CHECKED + str(raised))
        if isinstance(raised, RunStopped):
            # nothing more can be examined: the tests left are "not run", with this reason
            item.session.shouldstop = raised.reason
    elif isinstance(raised, NotChecked):
        scope = raised.scope
        report.longrepr = (str(item.path), item.location[1] or 0, NOT_CHECKED + raised.reason)
    clause_ids = _clause_ids(item)
    if not clause_ids:
        if report.failed:
            item.config.stash[_OUTSIDE_FAILED] = True
        return report
    done = report.when == "call" or (report.when == "setup" and not report.passed)
    if not done:
        return report
    item.config.stash.setdefault(_REPORTED, set()).add(item.nodeid)
    message = ""
    if report.skipped:
        message = _skip_reason(report)
    elif report.failed:
        message = _failure_message(call)
    gathered = item.stash[_EVIDENCE].items if _EVIDENCE in item.stash else []
    own = [e for c in item.stash.get(_CLIENTS, []) for e in c.exchanges]
    bought: list[TryOnClient] = item.stash.get(_BOUGHT, [])
    shared = [e for c in dict.fromkeys(bought) for e in c.exchanges]
    exchanges = shared + own
    error = raised
    mutant = mutant_of(item)
    job_ids = item.config.stash.setdefault(_JOB_IDS, {}).setdefault(mutant, {})
    # the target this item ran against (the self-test opens several, one after another)
    funcargs = getattr(item, "funcargs", {})
    target = funcargs.get("target") or item.config.stash.get(_TARGET, None)
    outcome = outcome_of(
        item.nodeid,
        clause_ids,
        report.outcome,
        message,
        gathered,
        exchanges,
        error,
        job_ids,
        target.authenticates if target is not None else None,
    )
    outcome.paid = frozenset(id(e) for e in exchanges if paid_exchange(e))
    if outcome.outcome == "not checked":
        # a skip that says nothing of its scope (pytest.skip in a contract test) is the run's
        outcome.scope = scope or "run"
    item.config.stash.setdefault(_COSTS, []).append(
        Cost(item.nodeid, len(own), sum(map(paid_exchange, own)), _purchases(item))
    )
    if outcome.outcome == "not checked" and report.failed:
        # Not the API's fault (unreachable, a key refused mid-run): a skip, with the reason.
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1] or 0, NOT_CHECKED + outcome.message)
    if mutant is not None:
        item.config.stash.setdefault(MUTANT_OUTCOMES, {}).setdefault(mutant, []).append(outcome)
        return report
    if outcome.failed_clause and _STOPPED_BY not in item.config.stash:
        item.config.stash[_STOPPED_BY] = outcome.failed_clause
    item.config.stash[_TESTS].append(outcome)
    return report


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    text = text.removeprefix("Skipped: ")
    return text.removeprefix(NOT_CHECKED)


def _failure_message(call: pytest.CallInfo[None]) -> str:
    if call.excinfo is None:
        return "failed"
    text = str(call.excinfo.value).strip()
    first = text.split("\nassert ", 1)[0].split("\n+  where", 1)[0]
    return first[:2000] or call.excinfo.typename


def _not_run(session: pytest.Session) -> dict[str, str]:
    """Clauses of tests that were collected but never reported, with why."""
    config = session.config
    collected = config.stash.get(_COLLECTED, {})
    reported = config.stash.get(_REPORTED, set())
    missing = {nodeid: ids for nodeid, ids in collected.items() if nodeid not in reported}
    if not missing:
        return {}
    stopped_by = config.stash.get(_STOPPED_BY, None)
    if stopped := _stopped(session):
        why = f"not run: {stopped}"
    elif session.shouldfail and stopped_by:
        why = f"not run: the run stopped after {stopped_by} failed ({session.shouldfail})"
    elif session.shouldfail or session.shouldstop:
        why = f"not run: the run stopped early ({session.shouldfail or session.shouldstop})"
    else:
        why = "not run: the run was interrupted before this test"
    return {cid: why for ids in missing.values() for cid in ids}


def _stopped(session: pytest.Session) -> str | None:
    """Why the run ended before its end: the target stopped answering, its deadline, an
    interrupt; None when it went to its end (or stopped at a failure: -x, --maxfail)."""
    target = session.config.stash.get(_TARGET, None)
    if target is not None and target.watch is not None and target.watch.stopped:
        return target.watch.stopped
    if session.exitstatus == pytest.ExitCode.INTERRUPTED and _SIGTERM.is_set():
        return "terminated by a signal (SIGTERM)"
    if session.exitstatus == pytest.ExitCode.INTERRUPTED:
        return "interrupted by the user (Ctrl-C)"
    if session.shouldstop and not session.shouldfail:
        return str(session.shouldstop)
    return None


@pytest.hookimpl(tryfirst=True)  # before JUnit's own, which then carries the verdict
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    tests = config.stash.get(_TESTS, [])
    if hasattr(config, "workerinput"):
        return
    if not tests:
        if _stopped(session) and config.stash.get(_COLLECTED, None):
            tests = []  # stopped before any contract test ended: still a report, INCOMPLETE
        else:
            return
    target = config.stash.get(_TARGET, None)
    options = config.stash[OPTIONS]
    if target is not None and target.ledger is not None:
        # a run stopped early keeps its fixtures until after this hook: end the purchases
        # and read the balance now, as the last test's teardown does otherwise
        with attributed(purchase="balance"):
            target.ledger.close()
    if options.plan:
        config.stash[_PLAN] = plan_lines(options, target, _costs(config))
        session.exitstatus = pytest.ExitCode.OK
        return
    results = RunResults(
        target=target.name if target else (options.base_url or "in-process simulator"),
        started=target.started if target else time.time(),
        finished=time.time(),
        limits=options.limits.name,
        requests=target.budget.sent if target else 0,
        preflight_requests=config.stash.get(_PREFLIGHT_SENT, 0),
        probe_requests=target.watch.probes if target and target.watch else 0,
        pace=(target.pacer.initial_rate, target.pacer.rate) if target else None,
        budget=options.budget,
        tests=tests,
        observations=config.stash[_OBSERVED],
        not_run=_not_run(session),
        credits=credits_spent(target) if target else None,
        stopped=_stopped(session),
    )
    from tryon_suite.suite.report import write_report

    paths = write_report(results, config.stash[_REPORT_DIR])
    config.stash[_WRITTEN] = paths
    config.stash[_RESULTS] = results
    verdict = results.verdict()
    # The exit code is the verdict's (PASS 0, FAIL 1, INCOMPLETE 2), unless something outside
    # the contract (the project's own tests) failed, or a test failed for no clause.
    failed_outside = config.stash.get(_OUTSIDE_FAILED, False)
    unexplained = any(t.outcome == "failed" and not t.failed_clause for t in tests)
    code: int = verdict.exit_code
    if verdict.exit_code == ExitCode.PASS and (failed_outside or unexplained):
        code = ExitCode.FAIL
    session.exitstatus = code
    xml = config.stash.get(junitxml.xml_key, None)
    if xml is not None:
        xml.add_global_property("tryon_verdict", verdict.name)
        xml.add_global_property("tryon_verdict_reason", verdict.reason)
        xml.add_global_property("tryon_verdict_todo", verdict.todo)


_WRITTEN = pytest.StashKey[list[Path]]()
_COSTS = pytest.StashKey[list[Cost]]()


def _costs(config: pytest.Config) -> list[Cost]:
    return config.stash.get(_COSTS, [])


_RESULTS = pytest.StashKey[RunResults]()
_OUTSIDE_FAILED = pytest.StashKey[bool]()


_PLAN = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if plan := config.stash.get(_PLAN, None):
        terminalreporter.write_sep("-", "tryon plan: nothing was sent to the target")
        for line in plan:
            terminalreporter.write_line(line)
        return
    paths = config.stash.get(_WRITTEN, None)
    results = config.stash.get(_RESULTS, None)
    if not paths or results is None:
        return
    target = config.stash.get(_TARGET, None)
    elapsed = time.time() - target.started if target else 0.0
    terminalreporter.write_sep("-", "tryon compliance report")
    for line in failing_clause_lines(results):
        terminalreporter.write_line(line, red=True)
    totals = ", ".join(f"{n} {status}" for status, n in results.totals().items() if n)
    spent = results.credits
    cost = f", {spent.text()}" if spent else ""
    preflight = f" (and {results.preflight_requests} preflight)" * bool(results.preflight_requests)
    preflight += f" (and {results.probe_requests} liveness probes)" * bool(results.probe_requests)
    terminalreporter.write_line(
        f"{len(results.tests)} checks, {results.requests} requests{preflight}{cost} in "
        f"{elapsed:.1f} s; clauses: {totals}"
    )
    covered = results.coverage()
    if covered["selected"]:
        from tryon_suite.spec.model import coverage_line

        missing = covered["exercised"] < covered["cases"]
        terminalreporter.write_line(coverage_line(covered), yellow=missing)
    if results.pace and results.pace[1] < results.pace[0]:
        first, last = results.pace
        terminalreporter.write_line(
            f"paced at {first:g} requests/s; the target refused that pace (429), so the run "
            f"slowed to {last:.2g}/s: its limit lies lower (--tryon-rate sets the pace)",
            yellow=True,
        )
    terminalreporter.write_line(f"report: {paths[0]}")


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """The console's last line is the run's verdict (after pytest's own summary line)."""
    results = config.stash.get(_RESULTS, None)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if results is None or reporter is None:
        return
    verdict = results.verdict()
    colour = {"PASS": "green", "FAIL": "red"}.get(verdict.name, "yellow")
    reporter.write_line(verdict.line(), **{colour: True, "bold": True})


@pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_masked(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """What pytest writes of a test (terminal, JUnit, an xdist controller) leaves the process:
    its traceback, captured output and properties with the run's keys masked (`secret.mask`).
    The outermost wrapper (tryfirst), so it masks the report every other hook has made."""
    from tryon_suite.http.secret import mask

    report = yield
    options = item.config.stash.get(OPTIONS, None)
    if options is None:
        return report
    keys = [k for k in (options.api_key, options.other_key, options.no_credits_key) if k]
    if not keys:
        return report
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):
        path, line, message = longrepr
        report.longrepr = (path, line, mask(message, keys))
    elif longrepr is not None:
        # a traceback is kept as pytest drew it (colours, crash line) unless it held a key
        text = str(longrepr)
        if (masked := mask(text, keys)) != text:
            report.longrepr = masked
    report.sections = [(mask(title, keys), mask(text, keys)) for title, text in report.sections]
    report.user_properties = [
        (name, mask(value, keys) if isinstance(value, str) else value)
        for name, value in report.user_properties
    ]
    if isinstance(reason := getattr(report, "wasxfail", None), str):
        report.wasxfail = mask(reason, keys)
    return report

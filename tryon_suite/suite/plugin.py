"""The pytest plugin: markers, options, the target and client fixtures, and hooks that hand
each moment of the session to the one `Run` (`run.py`) it holds. It judges nothing itself.

Loaded by the root conftest.py (`pytest_plugins`).
"""

from __future__ import annotations

import contextlib
import functools
import signal
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings

from tryon_suite.errors import SchemaError
from tryon_suite.http.cassette import Recorder, attributed
from tryon_suite.http.cassette.record import stamp
from tryon_suite.http.client import TryOnClient, tls_context
from tryon_suite.suite.console import failing_clause_lines
from tryon_suite.suite.evidence import collecting, not_checked
from tryon_suite.suite.ledger import Ledger, Sale
from tryon_suite.suite.options import add_options
from tryon_suite.suite.run import BOUGHT, CLIENTS, EVIDENCE, RUN, Run, purchases_of
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
    run = config.stash[RUN] = Run.configure(config)
    if run.options.live:
        settings.load_profile("live")
    if run.options.replay is not None:
        # the bodies Hypothesis draws must be the recorded ones: the recorded profile
        settings.load_profile(str(run.options.replay.header["options"]["hypothesis_profile"]))


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Against a live target, the project's own tests of its machinery are not collected."""
    run = config.stash.get(RUN, None)
    if run is not None and run.options.live:
        tests_dir = config.rootpath / "tests"
        if collection_path == tests_dir or tests_dir in collection_path.parents:
            return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    config.stash[RUN].collect(items)


def pytest_sessionstart(session: pytest.Session) -> None:
    """Preflight a live target before anything is collected or sent by a check."""
    config = session.config
    if config.option.collectonly or hasattr(config, "workerinput") or config.option.help:
        return
    if (run := config.stash.get(RUN, None)) is not None:
        run.preflight()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return config.stash[RUN].header()


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def target(pytestconfig: pytest.Config, request: pytest.FixtureRequest) -> Iterator[Target]:
    """The target under test, opened once per run; the self-test parametrizes it with the
    mutant to open instead (`tryon_suite.selftest.plugin`)."""
    run = pytestconfig.stash[RUN]
    options = run.options
    mutant = getattr(request, "param", options.mutant)
    with open_target(replace(options, mutant=mutant)) as opened, contextlib.ExitStack() as stack:
        recorder = run.recorder
        if opened.watch is not None and threading.current_thread() is threading.main_thread():
            opened.watch.on_stop = _wake_main_thread
            previous = signal.signal(signal.SIGUSR1, _interrupted)
            stack.callback(signal.signal, signal.SIGUSR1, previous)
            # a CI job cancelled, a container stopped: SIGTERM ends a live run as Ctrl-C
            # does, with its report (else the process dies with nothing written)
            before = signal.signal(signal.SIGTERM, functools.partial(_terminated, run))
            stack.callback(signal.signal, signal.SIGTERM, before)
            opened.watch.start()
        if mutant == options.mutant:
            run.target = opened
            if recorder is not None:
                _record(recorder, opened, options, stack)
        names = {n for item in request.session.items for n in purchases_of(item)}
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


def _terminated(run: Run, signum: int, frame: object) -> None:
    run.terminated.set()
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
                "credit_budget": opened.credits.limit,
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


@pytest.fixture
def bought(target: Target, request: pytest.FixtureRequest) -> Callable[[str], Sale]:
    """The sale of a purchase the check declares (`@pytest.mark.purchases`): the same answer
    for every check that names it. What stopped the purchase (a budget, the network) is
    raised here, so the check is "not checked" with that reason."""
    declared = purchases_of(request.node)

    def sale(name: str) -> Sale:
        if name not in declared:
            raise SchemaError(
                f"{request.node.nodeid}: expected {name!r} among its @pytest.mark.purchases "
                f"{list(declared)} (the run buys only what checks declare)"
            )
        assert target.ledger is not None
        with attributed(purchase=name):
            bought_sale = target.ledger.sale(name)
        request.node.stash[BOUGHT] = [*request.node.stash.get(BOUGHT, []), bought_sale.client]
        if bought_sale.error is not None:
            raise bought_sale.error
        return bought_sale

    return sale


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
    request.node.stash[CLIENTS] = [*request.node.stash.get(CLIENTS, []), made]
    yield made
    made.close()


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
        item.stash[EVIDENCE] = collector
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # taken before the inner hooks run: pytest's unittest plugin replaces a SkipTest
    # (BudgetExhausted, RunStopped) in `call.excinfo` with a plain skip
    raised = call.excinfo.value if call.excinfo is not None else None
    report = yield
    item.config.stash[RUN].judge(item, call, report, raised)
    return report


@pytest.hookimpl(tryfirst=True)  # before JUnit's own, which then carries the verdict
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not hasattr(session.config, "workerinput") and RUN in session.config.stash:
        session.config.stash[RUN].finish(session)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    run = config.stash.get(RUN, None)
    if run is None:
        return
    if plan := run.plan:
        terminalreporter.write_sep("-", "tryon plan: nothing was sent to the target")
        for line in plan:
            terminalreporter.write_line(line)
        return
    paths, results, target = run.written, run.results, run.target
    if not paths or results is None:
        return
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
    run = config.stash.get(RUN, None)
    results = run.results if run is not None else None
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
    run = item.config.stash.get(RUN, None)
    if run is None:
        return report
    options = run.options
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

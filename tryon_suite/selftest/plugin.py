"""The self-test in one pytest session: the contract suite against the correct simulator and
against every mutant, each mutant's run ending at its first kill.

Loaded with `-p tryon_suite.selftest.plugin` (`tryon-suite selftest` does so). The session-scoped
`target` fixture is parametrized with the mutant names, so pytest opens each mutant once and
runs its tests together, in one process: no interpreter start-up, no collection per mutant. A
mutant's tests stop (not run) once it is killed on target (a `must` it breaks failed: the run
would exit 1), or, for a mutant tagged `should_only`, once one of its clauses failed, unless
`--tryon-selftest-full` asks for every test against every mutant.

The mutants' rows of the kill matrix go to the report folder (`selftest-rows.json`, for
`tryon-suite selftest` to complete); a mutant item's failure is the suite doing its job, so
it does not fail the session. The correct simulator's
items are the run's own: they write the compliance report and decide the exit code.
"""

from __future__ import annotations

from collections.abc import Generator
from functools import cache
from pathlib import Path

import pytest

from tryon_suite.mutants import CATALOGUE, Mutant, mutant
from tryon_suite.spec.clauses import catalogue
from tryon_suite.suite.options import option
from tryon_suite.suite.results import CheckOutcome, RunResults
from tryon_suite.suite.run import RUN, mutant_of

__all__ = ["failing_clauses", "is_settled"]

_NAMES = pytest.StashKey[list[str]]()
_KILLED = pytest.StashKey[set[str]]()
_SECONDS = pytest.StashKey[dict[str, float]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tryon")
    group.addoption(
        "--tryon-selftest",
        metavar="MUTANTS",
        default=None,
        help="run the suite against these mutants too (comma-separated, or all)",
    )
    group.addoption(
        "--tryon-selftest-full",
        action="store_true",
        default=False,
        help="every test against every mutant, not only the tests of its clauses until one fails",
    )


def pytest_configure(config: pytest.Config) -> None:
    chosen = config.getoption("--tryon-selftest")
    if not chosen:
        return
    names = [m.name for m in CATALOGUE] if chosen == "all" else chosen.split(",")
    for name in names:
        try:
            mutant(name)
        except Exception as exc:
            raise pytest.UsageError(f"--tryon-selftest: {exc}") from None
    config.stash[_NAMES] = names
    config.stash[_KILLED] = set()
    config.stash[_SECONDS] = {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    names = metafunc.config.stash.get(_NAMES, None)
    if not names or "target" not in metafunc.fixturenames:
        return
    metafunc.parametrize(
        "target", [None, *names], indirect=True, scope="session", ids=["correct", *names]
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The correct simulator's items first, then each mutant's together (pytest opens each
    target once), the tests that name one of its clauses first: they are the likeliest to
    kill it, and a kill ends its run. Any test may still kill it (a check names the clause it
    finds broken, whatever the test's markers say), so the others follow."""
    names = config.stash.get(_NAMES, None)
    if not names:
        return
    rank = {name: index for index, name in enumerate(names)}
    original = {id(item): index for index, item in enumerate(items)}

    def key(item: pytest.Item) -> tuple[int, int, int]:
        name = mutant_of(item)
        if name is None:
            return (-1, 0, original[id(item)])
        named = {cid for m in item.iter_markers("clause") for cid in m.args}
        tier = 0 if named & set(mutant(name).clauses) else 1
        return (rank[name], tier, original[id(item)])

    items.sort(key=key)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """A mutant already killed on one of its clauses runs no further test: the item is passed
    over without a report, and what the item before it left set up for it (its module, say)
    is torn down as its own teardown would have. pytest offers no public way to pass an item
    over; its runner's teardown calls this same `SetupState.teardown_exact(nextitem)`."""
    name = mutant_of(item)
    if name is None or item.config.getoption("--tryon-selftest-full"):
        return None
    if name not in item.config.stash.get(_KILLED, set()):
        return None
    item.session._setupstate.teardown_exact(nextitem)
    return True


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Outermost: the main plugin has recorded the outcome; a killed mutant's failure is kept
    for the matrix and the item passes."""
    report = yield
    name = mutant_of(item)
    if name is None:
        return report
    seconds = item.config.stash[_SECONDS]
    seconds[name] = seconds.get(name, 0.0) + report.duration
    outcomes = item.config.stash[RUN].mutant_outcomes.get(name, [])
    if not outcomes or outcomes[-1].nodeid != item.nodeid:
        return report
    # A clause can fail in a test that passed: every answer is judged (a 202 labelled
    # text/plain, say), whichever test received it.
    if is_settled(mutant(name), failing_clauses(outcomes[-1:])):
        item.config.stash[_KILLED].add(name)
    if report.failed:
        report.outcome = "passed"
        report.longrepr = None
    return report


@cache
def _levels() -> dict[str, str]:
    return {c.id: c.level for c in catalogue()}


def is_settled(m: Mutant, failing: set[str]) -> bool:
    """Whether a mutant's run has shown what its row needs: a must it breaks failed (the run
    would exit 1), or, for a mutant tagged should_only, one of its clauses failed."""
    tagged = failing & set(m.clauses)
    return any(_levels().get(c) == "must" for c in tagged) or (m.should_only and bool(tagged))


def failing_clauses(outcomes: list[CheckOutcome]) -> set[str]:
    """The clauses these outcomes show failing, as the report would say "fails"."""
    results = RunResults(
        target="", started=0.0, finished=0.0, limits="", requests=0, budget=None, tests=outcomes
    )
    return {r.clause.id for r in results.clause_results() if r.status == "fails"}


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    names = config.stash.get(_NAMES, None)
    if not names or hasattr(config, "workerinput"):
        return
    from tryon_suite.selftest.run import ROWS, judged, write_rows

    by_mutant = config.stash[RUN].mutant_outcomes
    seconds = config.stash[_SECONDS]
    known = {c.id for c in catalogue()}
    rows = [
        judged(
            mutant(name),
            "in process",
            sorted(failing_clauses(by_mutant.get(name, [])) & known),
            _failed_tests(by_mutant.get(name, [])),
            seconds.get(name, 0.0),
            levels=_levels(),
        )
        for name in names
    ]
    folder = Path(option(config, "--tryon-report-dir", "TRYON_REPORT_DIR") or "reports")
    write_rows(rows, folder / ROWS)


def _failed_tests(outcomes: list[CheckOutcome]) -> list[str]:
    """The tests that showed a clause failing (a test may pass and still show one)."""
    return sorted({o.nodeid.split("::")[-1] for o in outcomes if failing_clauses([o])})

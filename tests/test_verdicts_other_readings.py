"""The contract suite against servers that read the open points otherwise: correct servers it
must pass, over real HTTP with every option (the three runs share one module fixture, so this
file is one worker's under `--dist loadfile`)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.readings import SERVERS
from tests.test_suite_verdicts import EVERY_PERMISSION, run_contract
from tryon_suite.simulator.server import serving

pytestmark = pytest.mark.slow(31)

READING_SERVERS = SERVERS


@pytest.fixture(scope="module")
def readings_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, Path]]:
    """Each other-readings server judged over HTTP with every option, all three at once: the
    runs mostly wait on their pacing, so overlapping them costs no more than the slowest."""

    def judge(name: str) -> tuple[int, Path]:
        folder = tmp_path_factory.mktemp(name)
        with serving(simulator=READING_SERVERS[name].simulator()) as (url, _):
            code = run_contract(
                url,
                folder,
                "contract",
                *EVERY_PERMISSION,
                rate=8,  # under its 10/s, so pacing is tested too; a burst still meets a 429
            )
        return code, folder

    with ThreadPoolExecutor(max_workers=len(READING_SERVERS)) as pool:
        done = dict(zip(READING_SERVERS, pool.map(judge, READING_SERVERS), strict=True))
    return done


@pytest.mark.parametrize("name", list(READING_SERVERS))
def test_a_server_reading_the_open_points_otherwise_still_passes(
    name: str, readings_runs: dict[str, tuple[int, Path]]
) -> None:
    server = READING_SERVERS[name]
    code, tmp_path = readings_runs[name]
    report = json.loads((tmp_path / "compliance.json").read_text())
    failing = [
        (c["id"], c["level"], c["reason"])
        for c in report["clauses"]
        if c["status"] == "fails" and c["id"] not in server.departures
    ]
    assert not failing, f"expected no clause to fail on other readings, got {failing}"
    assert code == 0, f"expected exit 0, got {code}"
    departed = {c["id"]: (c["level"], c["status"]) for c in report["clauses"]}
    for clause in server.departures:  # a mild departure is reported, as a should
        assert departed[clause] == ("should", "fails"), f"{clause}: got {departed[clause]}"
    observed = {c["id"]: c["observations"] for c in report["clauses"]}
    unseen = {
        clause: (wanted, observed.get(clause))
        for clause, wanted in server.observed.items()
        if not any(wanted in seen for seen in observed.get(clause) or [])
    }
    assert not unseen, f"expected the observations to record each reading, got {unseen}"

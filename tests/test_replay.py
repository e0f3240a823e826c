"""`--tryon-replay DIR`: a recorded run judged again from its cassette, with no network and no
credits, to the same verdict clause by clause; a cassette that cannot be replayed faithfully is
a usage error that says why."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import QUIET
from tests.readings import SERVERS
from tryon_suite.http.clock import RealClock
from tryon_suite.selftest.run import contract_process
from tryon_suite.simulator.config import DEMO_KEY, NO_CREDITS_KEY, OTHER_KEY
from tryon_suite.simulator.core import Simulator
from tryon_suite.simulator.server import serving

pytestmark = pytest.mark.slow(57)


def _verdict(report_dir: Path) -> dict[str, Any]:
    """What a replay must give again: every clause's status and observations, the totals and
    the request count."""
    report = json.loads((report_dir / "compliance.json").read_text(encoding="utf-8"))
    clauses = [*report["clauses"], *report["open_points"]]
    return {
        "totals": report["totals"],
        "requests": report["requests"],
        "statuses": {c["id"]: (c["status"], c["reason"]) for c in clauses},
        "observations": {c["id"]: c["observations"] for c in clauses},
    }


def _differences(recorded: dict[str, Any], replayed: dict[str, Any]) -> list[str]:
    found = [f"{k}: {recorded[k]} -> {replayed[k]}" for k in ("totals", "requests")
             if recorded[k] != replayed[k]]  # fmt: skip
    for part in ("statuses", "observations"):
        for clause, value in recorded[part].items():
            if replayed[part].get(clause) != value:
                found.append(f"{clause}: {value} -> {replayed[part].get(clause)}")
    return found


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two recorded runs: in process, and over HTTP with every option (keys by role, a burst),
    both drawn by a derandomized Hypothesis profile."""
    tmp = tmp_path_factory.mktemp("replay")
    done = contract_process(["--tryon-record", str(tmp / "in-process")], tmp / "r1", "ci")
    assert done.returncode == 0, f"expected the recorded run to pass:\n{done.stdout[-2000:]}"
    config = replace(QUIET, rate_limit=25.0, processing_time=0.3)
    with serving(simulator=Simulator(config, RealClock())) as (url, _):
        args = ["--tryon-base-url", url, "--tryon-api-key", DEMO_KEY, "--tryon-rate", "20"]
        args += ["--tryon-other-key", OTHER_KEY, "--tryon-no-credits-key", NO_CREDITS_KEY]
        done = contract_process([*args, "--tryon-record", str(tmp / "http")], tmp / "r2")
    assert done.returncode == 0, f"expected the recorded live run to pass:\n{done.stdout[-2000:]}"
    # a server that reads every open point otherwise (tests/readings.py), with its own limit
    with serving(simulator=SERVERS["readings1"].simulator()) as (url, _):
        args = ["--tryon-base-url", url, "--tryon-api-key", DEMO_KEY, "--tryon-rate", "8"]
        args += ["--tryon-other-key", OTHER_KEY, "--tryon-allow-burst"]
        contract_process([*args, "--tryon-record", str(tmp / "readings")], tmp / "r3")
    return {
        "in-process": tmp / "in-process",
        "http": tmp / "http",
        "readings": tmp / "readings",
        "root": tmp,
    }


@pytest.mark.parametrize(
    ("name", "report"), [("in-process", "r1"), ("http", "r2"), ("readings", "r3")]
)
def test_a_replay_gives_the_recorded_verdict_clause_by_clause(
    recorded: dict[str, Path], name: str, report: str
) -> None:
    folder = recorded["root"] / f"replayed-{name}"
    done = contract_process(["--tryon-replay", str(recorded[name])], folder)
    assert (folder / "compliance.json").exists(), f"expected a report:\n{done.stdout[-2000:]}"
    verdict = json.loads((recorded["root"] / report / "compliance.json").read_text())["verdict"]
    wanted = {"pass": 0, "fail": 1, "incomplete": 2}[verdict]
    assert done.returncode == wanted, (
        f"expected exit {wanted} as the recorded run's verdict {verdict!r}, got {done.returncode}"
    )
    differences = _differences(_verdict(recorded["root"] / report), _verdict(folder))
    assert not differences, f"expected the recorded verdict again, got {differences[:10]}"
    replayed = json.loads((folder / "compliance.json").read_text())
    assert replayed["target"].startswith("replay of "), f"expected a replay: {replayed['target']!r}"
    spent = replayed["credits"]["text"]
    assert spent.endswith("replayed from its cassette, this run spent none"), (
        f"expected the credits line to say the replay spent none, got {spent!r}"
    )


def test_a_cassette_that_cannot_be_replayed_faithfully_says_why(
    recorded: dict[str, Path], tmp_path: Path
) -> None:
    old = contract_process(
        ["--tryon-replay", str(recorded["in-process"]), "--tryon-replay-max-age", "-1"], tmp_path
    )
    assert old.returncode == 4, f"expected a usage error, got {old.returncode}"
    assert "--tryon-replay-max-age to be a whole number" in old.stdout + old.stderr
    lines = (recorded["in-process"] / "cassette.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    header["options"]["derandomize"] = False
    header["options"]["hypothesis_profile"] = "default"
    drawn = tmp_path / "drawn"
    drawn.mkdir()
    (drawn / "cassette.jsonl").write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    done = contract_process(["--tryon-replay", str(drawn)], tmp_path / "r")
    said = done.stdout + done.stderr
    assert done.returncode == 4, f"expected a usage error for a random draw, got {done.returncode}"
    assert "expected a cassette recorded with a derandomized Hypothesis" in said, said[-800:]
    header["recorded_at"] = "2020-01-01T00:00:00Z"
    (drawn / "cassette.jsonl").write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    done = contract_process(["--tryon-replay", str(drawn)], tmp_path / "r")
    said = done.stdout + done.stderr
    assert "expected a cassette at most 30 days old" in said, f"expected the age named: {said}"
    assert "Traceback" not in said, f"expected one line, not a traceback: {said[-800:]}"


def test_a_request_the_cassette_does_not_hold_leaves_its_clauses_not_checked(
    tmp_path: Path,
) -> None:
    """A replay of more than was recorded: what the cassette cannot answer is "not checked",
    naming the request and the cassette, never passed and never failed."""
    cassette = tmp_path / "auth-only"
    done = contract_process(
        ["--tryon-record", str(cassette)], tmp_path / "r1", "ci", ("contract/test_auth.py",)
    )
    assert done.returncode == 0, f"expected the recorded run to pass:\n{done.stdout[-1500:]}"
    done = contract_process(
        ["--tryon-replay", str(cassette)], tmp_path / "r2", paths=("contract/test_success.py",)
    )
    report = json.loads((tmp_path / "r2" / "compliance.json").read_text())
    assert report["totals"]["fails"] == 0, f"expected nothing failed, got {report['totals']}"
    reasons = [c["reason"] for c in report["clauses"] if c["status"] == "not checked"]
    named = [r for r in reasons if "expected a recorded answer to POST /v1/try-on" in r]
    assert named, f"expected clauses not checked for want of a recorded answer, got {reasons[:3]}"
    assert str(cassette) in named[0], f"expected the cassette named, got {named[0]!r}"

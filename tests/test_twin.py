"""The twin (`tryon-mock --calibrate`): the simulator with the readings a report's observations
give, read from the values the suite records beside its prose. Calibrated from the report of a
server that reads the open points otherwise, it reads them as that server does, judged by the
same contract suite."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.readings import SERVERS
from tests.test_suite_verdicts import EVERY_PERMISSION, run_contract
from tryon_suite.cli.mock import main as tryon_mock
from tryon_suite.errors import ConfigError
from tryon_suite.http.clock import RealClock, VirtualClock
from tryon_suite.simulator.config import DEMO_KEY
from tryon_suite.simulator.core import Simulator
from tryon_suite.simulator.inprocess import InProcessSimulator
from tryon_suite.simulator.readings import BALANCE, OPENING, Readings
from tryon_suite.simulator.server import serving
from tryon_suite.simulator.twin import CALIBRATED, calibration_from, twin

pytestmark = pytest.mark.slow(58)

#: what the suite records of each open point of the first other-readings server, as data
READINGS_SEEN: dict[str, list[dict[str, Any]]] = {
    "tryon.open.location_form": [{"location": "relative"}],
    "tryon.open.retry_after": [{"retry_after": "imf-fixdate"}],
    "tryon.open.unknown_job_id": [{"status": 400, "error_code": "invalid_parameter"}],
    "tryon.open.other_account_job": [{"status": 403, "error_code": "forbidden"}],
    "tryon.open.too_small_image": [{"status": 400, "error_code": "malformed_image"}],
    "tryon.limits.formats": [{"JPEG": True}, {"PNG": True}, {"WEBP": False}],
    "tryon.open.image_formats": [{"GIF": True, "BMP": False, "TIFF": False, "ICO": False}],
    "tryon.open.flat_image": [{"processed": True}],
    "tryon.open.file_size_unit": [{"status": 400, "error_code": "file_size_too_large"}],
    "tryon.open.resolution_per_side": [{"status": 200, "error_code": None}],
    "tryon.open.image_url_unreachable": [{"status": 400, "error_code": "malformed_image"}],
    "tryon.open.extra_response_fields": [{"job_body": ["request_id"]}, {"result_body": []}],
    "tryon.open.credit_endpoint_shape": [
        {"shape": {"total": "number", "remaining": "number", "request_id": "string"}}
    ],
    "tryon.open.form_booleans": [{"True": False, "1": True}],
    "tryon.open.unknown_request_fields": [
        {"files_as_json": "missing_parameter"},
        {"status": 200, "error_code": None},
    ],
    "tryon.open.check_order": [{"garment_mode_vs_image": "malformed_image"}],
    "tryon.open.async_validation": [{"refused_at_once": False, "job_ended": "failed"}],
    "tryon.open.result_after_expiry": [{"status": 403, "content_type": "application/xml"}],
    "tryon.open.job_error_codes": [{"error_code": "moderation_error"}],
}


def _report(readings: dict[str, list[dict[str, Any]]], prose: bool = True) -> dict[str, Any]:
    """A compliance.json holding these readings (and, unless told, a prose line for each)."""
    return {
        "clauses": [],
        "open_points": [
            {"id": k, "observations": [f"seen {k}"] if prose else [], "readings": v}
            for k, v in readings.items()
        ],
    }


def test_the_calibration_reads_each_reading_the_suite_records_as_data() -> None:
    calibration = calibration_from(
        _report(READINGS_SEEN), {"summary": {"modes": {"sync": {"ttr_s": {"p50": 4, "p95": 6}}}}}
    )
    expected = Readings(
        location="relative",
        retry_after="imf-fixdate",
        unknown_job=(400, "invalid_parameter"),
        foreign_job=(403, "forbidden"),
        too_small_code="malformed_image",
        formats=("JPEG", "PNG", "GIF"),
        flat_images="processed",
        megabyte="MB",
        resolution_bound="pixels",
        unreachable_url_code="malformed_image",
        extra_fields='{"request_id": "twin_{n}"}',
        credits_body=f'{{"total": {OPENING}, "remaining": {BALANCE}}}',
        form_flags_any_case=False,
        form_flags_digits=True,
        unknown_field_code=None,
        check_order=("auth", "rate_limit", "body", "images", "garment_mode", "credits"),
        async_validation="fail_job",
        expired_result="access_denied",
        job_error_code="moderation_error",
    )
    got = calibration.served
    differing = {
        name: (getattr(expected, name), getattr(got, name))
        for name in vars(expected)
        if getattr(expected, name) != getattr(got, name)
    }
    assert not differing, f"expected each reading as observed: name -> (expected, got) {differing}"
    timing = (calibration.processing_time, calibration.processing_spread)
    assert timing == (4.0, 0.5), f"expected (4.0, 0.5) from the load run, got {timing}"
    assert not calibration.uncalibrated, (
        f"expected every point read, got {calibration.uncalibrated}"
    )
    assert calibration.readings["tryon.open.flat_image"] == "seen tryon.open.flat_image", (
        f"expected the prose kept for people, got {calibration.readings}"
    )


def test_a_point_the_report_did_not_observe_is_named_not_guessed() -> None:
    calibration = calibration_from(_report({"tryon.open.retry_after": [{"retry_after": "absent"}]}))
    got = calibration.served.retry_after
    assert got == "absent", f"expected absent, got {got}"
    missing = set(calibration.uncalibrated)
    assert missing == set(CALIBRATED) - {"tryon.open.retry_after"}, (
        f"expected every other point named uncalibrated, got {sorted(missing)}"
    )
    assert calibration.served.credits_body is None, (
        f"expected no balance endpoint where none was observed, got {calibration.served}"
    )
    with pytest.raises(ConfigError, match=r"expected a compliance\.json"):
        calibration_from({"summary": {}})


def test_prose_alone_calibrates_nothing() -> None:
    """A report from before observations carried values: its prose is never parsed."""
    report = _report({"tryon.open.location_form": []})
    report["open_points"][0]["observations"] = ["relative, e.g. try-on/job/{job_id}"]
    calibration = calibration_from(report)
    got = (calibration.served.location, calibration.uncalibrated["tryon.open.location_form"])
    expected = ("absolute", "observed in prose only in the report: served the simulator's way")
    assert got == expected, f"expected {expected}, got {got}"


def test_a_reading_the_twin_cannot_serve_is_named() -> None:
    calibration = calibration_from(
        _report({"tryon.open.unknown_job_id": [{"status": 200, "error_code": None}]})
    )
    why = calibration.uncalibrated["tryon.open.unknown_job_id"]
    assert why.startswith("answered 200 None"), f"expected why it is not served, got {why!r}"
    got = calibration.served.unknown_job
    assert got == (404, "job_not_found"), f"expected the simulator's own answer, got {got}"


@pytest.mark.parametrize(
    ("shape", "expected"),
    [(None, 404), ({"shape": {"balance": "number", "plan": "string"}}, 200)],
)
def test_the_twin_serves_the_balance_only_where_the_report_observed_it(
    shape: dict[str, Any] | None, expected: int
) -> None:
    seen = {} if shape is None else {"tryon.open.credit_endpoint_shape": [shape]}
    made = twin(calibration_from(_report(seen)), clock=VirtualClock())
    assert type(made) is Simulator, f"expected the simulator itself, got {type(made)}"
    with InProcessSimulator(simulator=made) as sim, sim.client() as client:
        answer = client.get("/v1/credits", headers={"X-API-KEY": DEMO_KEY})
    assert answer.status_code == expected, f"expected {expected}, got {answer.status_code}"
    if expected == 200:
        body = answer.json()
        assert body == {"balance": 1_000_000, "plan": "twin"}, f"expected the shape, got {body}"


def test_bad_calibration_files_are_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    (tmp_path / "load.json").write_text("{}")
    (tmp_path / "broken.json").write_text("{not json")
    for argv, wanted in (
        (["--calibrate", str(tmp_path / "missing.json")], "expected a readable"),
        (["--calibrate", str(tmp_path / "broken.json")], "expected JSON in"),
        (["--calibrate-load", str(tmp_path / "load.json")], "expected --calibrate REPORT.json"),
    ):
        assert tryon_mock(argv) == 4, f"expected exit 4 (usage) for {argv}"
        err = capsys.readouterr().err
        assert (wanted in err, err.count("\n")) == (True, 1), (
            f"expected one line: {wanted!r}: {err!r}"
        )


def _observed(report: dict[str, Any]) -> dict[str, tuple[list[str], list[Any]]]:
    """The calibrated points' prose (the target's host and port written out) and readings."""
    found = {}
    for clause in [*report["clauses"], *report["open_points"]]:
        if clause["id"] in CALIBRATED:
            texts = [re.sub(r"https?://[^/]+", "<target>", t) for t in clause["observations"]]
            found[clause["id"]] = (texts, clause["readings"])
    return found


def test_a_twin_calibrated_from_another_reading_reads_the_open_points_as_it_does(
    tmp_path: Path,
) -> None:
    server = SERVERS["readings1"]

    def judge(name: str, simulator: Simulator) -> dict[str, Any]:
        with serving(simulator=simulator) as (url, _):
            run_contract(url, tmp_path / name, "contract", *EVERY_PERMISSION, rate=8)
        report: dict[str, Any] = json.loads((tmp_path / name / "compliance.json").read_text())
        return report

    # the original's limits, so the burst and its Retry-After are seen alike
    config = server.config
    with ThreadPoolExecutor(2) as pool:  # each against its own server: side by side
        first = pool.submit(judge, "original", server.simulator())
        ours = pool.submit(
            judge, "ours", Simulator(replace(config, readings=Readings()), RealClock())
        )
        original, plain = first.result(), _observed(ours.result())
    calibration = calibration_from(original)
    made = twin(calibration, config, RealClock())
    wanted, got = _observed(original), _observed(judge("twin", made))
    differing = {k: (wanted.get(k), got.get(k)) for k in CALIBRATED if wanted.get(k) != got.get(k)}
    assert not differing, f"expected the twin to read each point as the original, got {differing}"
    # and the points were read otherwise than our simulator reads them, so this proves something
    same = [k for k in CALIBRATED if k in wanted and plain.get(k) == wanted.get(k)]
    assert len(same) < len(wanted) / 2, (
        f"expected most calibrated points to differ from the simulator's own, same: {same}"
    )

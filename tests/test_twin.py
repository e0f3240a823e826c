"""The twin (`tryon-mock --calibrate`): calibrated from the report of a server that reads the open
points otherwise, it reads them as that server does, judged by the same contract suite."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import QUIET
from tests.readings import OtherReadings
from tests.test_suite_verdicts import run_contract
from tryon_suite.cli.mock import main as tryon_mock
from tryon_suite.errors import ConfigError
from tryon_suite.http.clock import RealClock
from tryon_suite.simulator.config import NO_CREDITS_KEY, OTHER_KEY
from tryon_suite.simulator.server import serving
from tryon_suite.simulator.twin import CALIBRATED, Twin, calibration_from

pytestmark = pytest.mark.slow(50)


def _report(observations: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "clauses": [],
        "open_points": [{"id": k, "observations": v} for k, v in observations.items()],
    }


def test_the_calibration_reads_each_observation_the_suite_writes() -> None:
    calibration = calibration_from(
        _report(
            {
                "tryon.open.location_form": ["relative, e.g. try-on/job/{job_id}"],
                "tryon.open.retry_after": ["Retry-After as an HTTP-date"],
                "tryon.open.unknown_job_id": ["400 invalid_parameter"],
                "tryon.open.other_account_job": ["403 forbidden"],
                "tryon.open.too_small_image": ["400 malformed_image"],
                "tryon.limits.formats": ["JPG: accepted", "PNG: accepted", "WEBP: 400 x"],
                "tryon.open.image_formats": ["GIF: 200, BMP: 400 unsupported_image_format"],
                "tryon.open.flat_image": ["plain.png: processed (200)"],
                "tryon.open.file_size_unit": ["25,607,200 bytes: 400 file_size_too_large"],
                "tryon.open.resolution_per_side": ["192x512 px: 200"],
                "tryon.open.image_url_unreachable": ["a URL answering 404: 400 malformed_image"],
                "tryon.open.extra_response_fields": ["job status body: ['request_id']"],
                "tryon.open.credit_endpoint_shape": [
                    "an object with keys ['remaining', 'request_id', 'total']"
                ],
                "tryon.open.form_booleans": ["'True': 400, '1': 200"],
                "tryon.open.unknown_request_fields": [
                    "image files as JSON fields: 400 missing_parameter",
                    "an extra JSON field: 200",
                ],
                "tryon.open.check_order": [
                    "bad garment_mode with a truncated image: malformed_image"
                ],
                "tryon.open.async_validation": ["accepted (202), then the job ended 'failed'"],
            }
        ),
        {"summary": {"modes": {"sync": {"ttr_s": {"p50": 4.0, "p95": 6.0}}}}},
    )
    got = (
        calibration.location,
        calibration.retry_after,
        calibration.unknown_job,
        calibration.other_account_job,
        calibration.too_small_code,
        calibration.formats,
        calibration.process_flat_images,
        calibration.processing_time,
        calibration.processing_spread,
        calibration.decimal_megabytes,
        calibration.pixel_count_minimum,
        calibration.unreachable_url_code,
        calibration.extra_fields,
        calibration.balance_keys,
        calibration.form_flag_capitals,
        calibration.form_flag_digits,
        calibration.ignore_unknown_json_fields,
        calibration.images_first,
        calibration.late_validation,
    )
    expected = (
        "try-on/job/{job_id}",
        "http-date",
        (400, "invalid_parameter"),
        (403, "forbidden"),
        "malformed_image",
        frozenset({"JPEG", "PNG", "GIF"}),
        True,
        4.0,
        0.5,
        True,
        True,
        "malformed_image",
        ("request_id",),
        ("remaining", "total"),
        False,
        True,
        True,
        True,
        True,
    )
    assert got == expected, f"expected {expected}, got {got}"
    assert not calibration.uncalibrated, f"expected every point read: {calibration.uncalibrated}"


def test_a_point_the_report_did_not_observe_is_named_not_guessed() -> None:
    calibration = calibration_from(_report({"tryon.open.retry_after": ["no Retry-After"]}))
    assert calibration.retry_after == "none", f"expected none, got {calibration.retry_after}"
    missing = set(calibration.uncalibrated)
    assert missing == set(CALIBRATED) - {"tryon.open.retry_after"}, (
        f"expected every other point named uncalibrated, got {sorted(missing)}"
    )
    with pytest.raises(ConfigError, match=r"expected a compliance\.json"):
        calibration_from({"summary": {}})


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


def _readings(report: dict[str, Any]) -> dict[str, list[str]]:
    """The calibrated points' observations, the target's host and ports written out."""
    found = {}
    for clause in [*report["clauses"], *report["open_points"]]:
        if clause["id"] in CALIBRATED:
            texts = [o if isinstance(o, str) else o.get("text", "") for o in clause["observations"]]
            found[clause["id"]] = [re.sub(r"https?://[^/]+", "<target>", t) for t in texts]
    return found


def test_a_twin_calibrated_from_another_reading_reads_the_open_points_as_it_does(
    tmp_path: Path,
) -> None:
    options = ("--tryon-no-credits-key", NO_CREDITS_KEY, "--tryon-other-key", OTHER_KEY)
    burst = "--tryon-allow-burst"

    def judge(name: str, simulator: Any) -> dict[str, Any]:
        with serving(simulator=simulator) as (url, _):
            run_contract(url, tmp_path / name, "contract", *options, burst, rate=8)
        report: dict[str, Any] = json.loads((tmp_path / name / "compliance.json").read_text())
        return report

    # the original's limit, so the burst and its Retry-After are seen alike
    config = replace(QUIET, rate_limit=10.0, burst=3, processing_time=0.2)
    with ThreadPoolExecutor(2) as pool:  # each against its own server: side by side
        first = pool.submit(judge, "original", OtherReadings())
        ours = pool.submit(judge, "ours", Twin(calibration_from(_report({})), config, RealClock()))
        original, plain = first.result(), _readings(ours.result())
    calibration = calibration_from(original)
    twin = judge("twin", Twin(calibration, config, RealClock()))
    wanted, got = _readings(original), _readings(twin)
    differing = {k: (wanted.get(k), got.get(k)) for k in CALIBRATED if wanted.get(k) != got.get(k)}
    assert not differing, f"expected the twin to read each point as the original, got {differing}"
    # and the points were read otherwise than our simulator reads them, so this proves something
    same = [k for k in CALIBRATED if k in wanted and plain.get(k) == wanted.get(k)]
    assert len(same) < len(wanted) / 2, (
        f"expected most calibrated points to differ from the simulator's own, same: {same}"
    )

"""A failing Locust run writes no key: not to its output, its report or its CSV.

(Its own file, so `--dist loadfile` runs this Locust run beside the contract runs.)"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.canaries import (
    ACCOUNTS,
    MAIN,
    leaks,
)

pytestmark = pytest.mark.slow(15)


def test_a_failing_load_run_writes_no_key_anywhere(canary_server, tmp_path: Path) -> None:
    from tests.test_load import locust

    url = canary_server(None)
    done = locust(
        tmp_path,
        "-u",
        "2",
        "-r",
        "2",
        "--host",
        url,
        "--tryon-key",
        MAIN,
        "--tryon-min-goodput",
        "1000000",  # a threshold no run meets: the run fails
        seconds=3,
    )
    assert done.returncode == 1, (
        f"expected the broken threshold to fail the run (exit 1), got {done.returncode}"
    )
    assert not leaks(done, tmp_path), f"expected no key written, found {leaks(done, tmp_path)}"


def test_a_key_the_target_echoes_in_its_refusals_stays_out_of_locusts_failures(
    tmp_path: Path,
) -> None:
    """A target that takes the key in the preflight (its balance), then answers every try-on
    401 "expected a valid API key, got <the key>": Locust lists every failure with its body,
    on the console and in its CSV; the key is masked where it is read."""
    from tests.conftest import QUIET
    from tests.test_load import locust
    from tryon_suite.http.clock import RealClock
    from tryon_suite.simulator.core import SimRequest, SimResponse, Simulator
    from tryon_suite.simulator.messages import error_answer
    from tryon_suite.simulator.server import serving

    class Echoing(Simulator):
        async def handle(self, request: SimRequest) -> SimResponse:
            if request.path == "/v1/credits":
                return await super().handle(request)
            echoed = f"expected a valid API key, got {self.api_key(request)}"
            return error_answer(401, "invalid_auth_token", echoed)

    config = replace(QUIET, accounts=ACCOUNTS)
    with serving(simulator=Echoing(config, RealClock())) as (url, _):
        done = locust(
            tmp_path,
            "-u",
            "1",
            "--host",
            url,
            "--tryon-key",
            MAIN,  # a key this server takes for its balance, then refuses, echoing it
            "--csv",
            str(tmp_path / "locust"),
            "SyncUser",
            seconds=2,
        )
    failures = (tmp_path / "locust_failures.csv").read_text()
    assert "401" in failures, f"expected the 401s listed among Locust's failures, got {failures}"
    assert not leaks(done, tmp_path), f"expected no key written, found {leaks(done, tmp_path)}"

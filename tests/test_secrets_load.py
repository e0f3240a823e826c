"""A failing Locust run writes no key: not to its output, its report or its CSV.

(Its own file, so `--dist loadfile` runs this Locust run beside the contract runs.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.canaries import (
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
    assert done.returncode == 3, (
        f"expected the broken threshold to fail the run, got {done.returncode}"
    )
    assert not leaks(done, tmp_path), f"expected no key written, found {leaks(done, tmp_path)}"

"""Retry policies under load, measured: more users than the rate limit allows meet 429s, and
honouring Retry-After costs no goodput. Its own file, so `--dist loadfile` runs these bounded
Locust runs beside the other load tests rather than after them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.test_load import locust, verdict_matches_exit

pytestmark = pytest.mark.slow(29)


@pytest.mark.parametrize("users", ["SyncUser", "PollingUser"])
def test_more_users_than_the_limit_allows_meet_429s_and_honouring_retry_after_costs_less(
    tmp_path: Path, users: str
) -> None:
    """20 users each trying twice a second (open workload) against 5 requests/s: 429s
    appear, and honouring Retry-After gives no less
    goodput; for sync users it also gives fewer 429s. (Polling users without retries give up
    on a refused submit and then send no polls, so their 429 count is no fair comparison.)"""

    def run(policy: str) -> Any:
        done = locust(
            tmp_path / policy,
            "-u",
            "20",
            "-r",
            "20",
            "--tryon-arrival-rate",
            "2",
            "--tryon-retry",
            policy,
            users,
        )
        return verdict_matches_exit(done, tmp_path / policy)["summary"]

    # The two runs go side by side, each against its own embedded simulator (its own limit):
    # they wait on the simulator's processing time, and meet the same machine at once.
    policies = ("none", "retry-after")
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = dict(zip(policies, pool.map(run, policies), strict=True))
    none, honour = runs["none"], runs["retry-after"]
    limited = {k: sum(v["rate_limited"].values()) for k, v in runs.items()}
    assert limited["none"] > 0, f"expected 429s with 20 users over a 5/s limit, got {limited}"
    if users == "SyncUser":
        assert limited["retry-after"] < limited["none"], (
            f"expected fewer 429s honouring Retry-After, got {limited}"
        )
    assert honour["goodput_per_min"] >= 0.8 * none["goodput_per_min"], (
        f"expected no lower goodput honouring Retry-After, got {honour['goodput_per_min']:.1f} "
        f"vs {none['goodput_per_min']:.1f} results/min"
    )
    assert honour["retry_after_seen"], f"expected Retry-After values recorded, got {honour}"

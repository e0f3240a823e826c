"""Load shapes chosen by --tryon-shape: steady (as -u/-r say), step, or spike."""

from __future__ import annotations

import math
from typing import Any

from load_support import stop_and_collect
from locust import LoadTestShape


class TryOnShape(LoadTestShape):
    """One shape class that reads -u, -r and -t (use_common_options) and --tryon-shape."""

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        options: Any = self.runner.environment.parsed_options  # type: ignore[union-attr]
        users = int(options.num_users or 1)
        rate = float(options.spawn_rate or 1)
        run_time = options.run_time
        now = self.get_run_time()
        if run_time and now > run_time:
            # the run's end: in-flight try-ons finish and workers report before Locust
            # quits them (it does so as soon as this returns None)
            stop_and_collect(self.runner)
            return None
        shape = getattr(options, "tryon_shape", "steady")
        if shape == "steady" or not run_time:
            return users, rate
        if shape == "step":
            # four equal steps up to the full count
            step = min(3, int(now / (run_time / 4)))
            return max(1, math.ceil(users * (step + 1) / 4)), rate
        # spike: a quarter of the users, all of them for the middle fifth, then a quarter again
        if 0.4 * run_time <= now < 0.6 * run_time:
            return users, max(rate, float(users))
        return max(1, users // 4), max(rate, float(users))

"""Load scenarios for the Try-On API: sync users, polling users, or both (the mixed scenario).

    locust -f load/locustfile.py --headless -u 20 -r 5 -t 30s

Without --host, an embedded simulator (tryon-mock: 5 requests/s per key, processing time
2 s +/- 50%, 1% injected 500s) is started on a free loopback port and stopped at the end.
With --host, the key comes from --tryon-key or TRYON_API_KEY. Options: `locust --help`,
group "tryon". The load report goes to reports/load.html at the end of a headless run.
"""

# Locust first: it monkey-patches the standard library for gevent.
import locust  # noqa: F401, I001
from locust import tag, task

import load_support  # noqa: F401  (the options, the embedded simulator and the listeners)
from load_users import TryOnUser
from load_shapes import TryOnShape  # noqa: F401  (Locust picks shape classes from here)

__all__ = ["PollingUser", "SyncUser"]


class SyncUser(TryOnUser):
    """One long request: wait_for_result=true, answered 200 with the result."""

    @tag("sync")
    @task
    def try_on_and_wait(self) -> None:
        self.sync_try_on()


class PollingUser(TryOnUser):
    """A quick 202, then polls the job's Location until it is completed or failed."""

    @tag("polling")
    @task
    def try_on_and_poll(self) -> None:
        self.polling_try_on()

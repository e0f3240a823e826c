"""Root conftest: Hypothesis profiles (CI passes --hypothesis-profile=ci; nothing guesses)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# ci: derandomized, so a CI run is the same run every time; no example database on disk.
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=60,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# dev: random exploration with the local database, for finding new failures on purpose.
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile("dev")

"""The Hypothesis profiles a run picks from: `default`, `ci` (derandomized: CI passes
--hypothesis-profile=ci; nothing guesses), `thorough`, `live` (few examples, no shrinking: each
is a paid request) and `selftest` (one run per mutant). Registered on import."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, settings

settings.register_profile(
    "default", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough", max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck)
)
# Against a live target every example is a paid request: few of them, derandomized, and no
# shrinking (a failure found is reported as found, without the requests a smaller example
# would cost: a failing run costs what a passing one does, give or take the failing example).
settings.register_profile(
    "live",
    max_examples=2,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
# The self-test runs the suite once per mutant: fewer examples, the same every time, and no
# shrinking (a killed mutant needs the first failing example, not the smallest one).
settings.register_profile(
    "selftest",
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
settings.load_profile("default")

"""Mutants that serve callers they should refuse: no key, a wrong key, no credits, or
another account's job; and one that charges nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from tryon_suite.mutants._kit import Build, Mutant, configured, is_job, is_try_on, variant
from tryon_suite.simulator.core import Job, SimRequest, Simulator


def _lenient_auth(
    *, missing: bool = False, wrong: bool = False, where: Callable[[SimRequest], bool]
) -> Build:
    """A missing or a wrong key, on the requests `where` picks, is taken as the first account's."""

    class Lenient(Simulator):
        def api_key(self, request: SimRequest) -> str | None:
            key = super().api_key(request)
            if where(request) and (
                (missing and not key) or (wrong and key and key not in self.credits)
            ):
                return self.config.accounts[0].key
            return key

    return variant(Lenient)


class _SharesJobs(Simulator):
    def owns(self, job: Job, key: str) -> bool:
        return True


class _IgnoresCredits(Simulator):
    def has_credits(self, key: str) -> bool:
        return True


MUTANTS: Final = (
    Mutant(
        "missing_key_accepted_on_try_on",
        "POST /v1/try-on without a key is served",
        ("tryon.401.missing_key", "tryon.auth.api_key_header"),
        _lenient_auth(missing=True, where=is_try_on),
    ),
    Mutant(
        "missing_key_accepted_on_job",
        "GET job without a key is served",
        ("tryon.401.job_missing_key",),
        _lenient_auth(missing=True, where=is_job),
    ),
    Mutant(
        "wrong_key_accepted",
        "an unknown key is served as the first account",
        ("tryon.401.wrong_key", "tryon.401.job_wrong_key"),
        _lenient_auth(wrong=True, where=lambda request: True),
    ),
    Mutant(
        "other_account_sees_jobs",
        "any account can read any job",
        ("tryon.job.other_account_hidden",),
        variant(_SharesJobs),
        ("other_key",),
    ),
    Mutant(
        "no_credits_served",
        "a key without credits is served",
        ("tryon.403.insufficient_api_credits",),
        variant(_IgnoresCredits),
        ("no_credits",),
    ),
    Mutant(
        "success_costs_nothing",
        "a successful try-on costs no credit",
        ("tryon.credits.success_costs",),
        configured(credits_per_try_on=0),
    ),
)

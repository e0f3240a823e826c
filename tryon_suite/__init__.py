"""tryon-suite: contract and load testing for Pixelcut's Try-On API, with a faithful simulator.

The public API is what the contract tests use, `from tryon_suite import X`: the client, the
target, the checks, the strategies and the input-space model. Each name loads its module on
first use, so `import tryon_suite.simulator.core` (the simulator in a Locust run, say) costs that
module's imports only, not the checks, Hypothesis and pytest the contract suite needs. Every
other name lives in its layer (see ARCHITECTURE.md) and is imported from there.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: each public name and the module that defines it
_PUBLIC: dict[str, str] = {
    # the simulator, for a test of one's own client (its transport, its clock, its readings)
    "InProcessSimulator": "tryon_suite.simulator.inprocess",
    "SimulatorConfig": "tryon_suite.simulator.config",
    "Readings": "tryon_suite.simulator.readings",
    "ContractViolation": "tryon_suite.errors",
    "BudgetExhausted": "tryon_suite.http.account",
    "TryOnClient": "tryon_suite.http.client",
    "JobTrace": "tryon_suite.http.polling",
    "location_of": "tryon_suite.http.polling",
    "TryOnRequest": "tryon_suite.http.request",
    "Pacer": "tryon_suite.http.retry",
    "UNSUPPORTED_FORMATS": "tryon_suite.spec.fixture_images",
    "Case": "tryon_suite.spec.model",
    "JSON_FORMS": "tryon_suite.spec.encodings",
    "almost_keys": "tryon_suite.spec.model",
    "encode_form": "tryon_suite.spec.encodings",
    "model_cases": "tryon_suite.spec.model:cases",
    "ERROR_400_CODES": "tryon_suite.spec.schemas",
    "expect_job_accepted": "tryon_suite.suite.checks.accepted",
    "expect_refused_now_or_accepted": "tryon_suite.suite.checks.accepted",
    "expect_result_answer": "tryon_suite.suite.checks.accepted",
    "expect_valid_body_accepted": "tryon_suite.suite.checks.accepted",
    "NO_5XX": "tryon_suite.suite.checks.answers",
    "expect_documented_status": "tryon_suite.suite.checks.answers",
    "expect_no_5xx": "tryon_suite.suite.checks.answers",
    "expect_status": "tryon_suite.suite.checks.answers",
    "FAR_PAST_THE_LIMIT": "tryon_suite.suite.checks.auth",
    "expect_key_found": "tryon_suite.suite.checks.auth",
    "expect_missing_key_refused": "tryon_suite.suite.checks.auth",
    "expect_other_account_not_limited": "tryon_suite.suite.checks.auth",
    "expect_out_of_credits": "tryon_suite.suite.checks.auth",
    "expect_paced_requests_pass": "tryon_suite.suite.checks.auth",
    "expect_rate_limited": "tryon_suite.suite.checks.auth",
    "expect_retry_after": "tryon_suite.suite.checks.auth",
    "expect_retry_after_honest": "tryon_suite.suite.checks.auth",
    "expect_wrong_key_refused": "tryon_suite.suite.checks.auth",
    "expect_balance": "tryon_suite.suite.checks.credits",
    "expect_balance_kept": "tryon_suite.suite.checks.credits",
    "expect_numeric_balance": "tryon_suite.suite.checks.credits",
    "expect_refusal_free": "tryon_suite.suite.checks.credits",
    "expect_success_costs": "tryon_suite.suite.checks.credits",
    "expect_file_too_large": "tryon_suite.suite.checks.images",
    "expect_format_within_limits": "tryon_suite.suite.checks.images",
    "expect_image_refused": "tryon_suite.suite.checks.images",
    "expect_jpeg": "tryon_suite.suite.checks.images",
    "expect_resolution_too_high": "tryon_suite.suite.checks.images",
    "expect_some_format_unsupported": "tryon_suite.suite.checks.images",
    "expect_too_small": "tryon_suite.suite.checks.images",
    "expect_vendor_edge_accepted": "tryon_suite.suite.checks.images",
    "expect_foreign_kept_out": "tryon_suite.suite.checks.model",
    "expect_like_plain": "tryon_suite.suite.checks.model",
    "expect_method": "tryon_suite.suite.checks.model",
    "ask_bad_input": "tryon_suite.suite.checks.refusals",
    "expect_code": "tryon_suite.suite.checks.refusals",
    "expect_content_type_refused": "tryon_suite.suite.checks.refusals",
    "expect_error": "tryon_suite.suite.checks.refusals",
    "expect_garment_mode_refused": "tryon_suite.suite.checks.refusals",
    "expect_missing_image": "tryon_suite.suite.checks.refusals",
    "expect_refusal": "tryon_suite.suite.checks.refusals",
    "expect_violation_refused": "tryon_suite.suite.checks.refusals",
    "held": "tryon_suite.suite.evidence",
    "not_checked": "tryon_suite.suite.evidence",
    "observed": "tryon_suite.suite.evidence",
    "follow": "tryon_suite.suite.follow",
    "judge_job": "tryon_suite.suite.follow",
    "poll_once": "tryon_suite.suite.follow",
    "PURCHASES": "tryon_suite.suite.purchases",
    "Sale": "tryon_suite.suite.ledger",
    "fixture_files": "tryon_suite.suite.purchases",
    "fixture_urls": "tryon_suite.suite.purchases",
    "NOT_AN_IMAGE": "tryon_suite.suite.strategies",
    "Violation": "tryon_suite.suite.strategies",
    "WRONG_TYPE": "tryon_suite.suite.strategies",
    "invalid_try_on_bodies": "tryon_suite.suite.strategies",
    "try_on_bodies": "tryon_suite.suite.strategies",
    "Target": "tryon_suite.suite.targets",
}

__all__ = sorted(_PUBLIC)

if TYPE_CHECKING:
    from tryon_suite.errors import ContractViolation as ContractViolation
    from tryon_suite.http.account import BudgetExhausted as BudgetExhausted
    from tryon_suite.http.client import TryOnClient as TryOnClient
    from tryon_suite.http.polling import JobTrace as JobTrace
    from tryon_suite.http.polling import location_of as location_of
    from tryon_suite.http.request import TryOnRequest as TryOnRequest
    from tryon_suite.http.retry import Pacer as Pacer
    from tryon_suite.simulator.config import SimulatorConfig as SimulatorConfig
    from tryon_suite.simulator.inprocess import InProcessSimulator as InProcessSimulator
    from tryon_suite.simulator.readings import Readings as Readings
    from tryon_suite.spec.encodings import JSON_FORMS as JSON_FORMS
    from tryon_suite.spec.encodings import encode_form as encode_form
    from tryon_suite.spec.fixture_images import UNSUPPORTED_FORMATS as UNSUPPORTED_FORMATS
    from tryon_suite.spec.model import Case as Case
    from tryon_suite.spec.model import almost_keys as almost_keys
    from tryon_suite.spec.model import cases as model_cases  # noqa: F401
    from tryon_suite.spec.schemas import ERROR_400_CODES as ERROR_400_CODES
    from tryon_suite.suite.checks.accepted import expect_job_accepted as expect_job_accepted
    from tryon_suite.suite.checks.accepted import (
        expect_refused_now_or_accepted as expect_refused_now_or_accepted,
    )
    from tryon_suite.suite.checks.accepted import expect_result_answer as expect_result_answer
    from tryon_suite.suite.checks.accepted import (
        expect_valid_body_accepted as expect_valid_body_accepted,
    )
    from tryon_suite.suite.checks.answers import NO_5XX as NO_5XX
    from tryon_suite.suite.checks.answers import (
        expect_documented_status as expect_documented_status,
    )
    from tryon_suite.suite.checks.answers import expect_no_5xx as expect_no_5xx
    from tryon_suite.suite.checks.answers import expect_status as expect_status
    from tryon_suite.suite.checks.auth import FAR_PAST_THE_LIMIT as FAR_PAST_THE_LIMIT
    from tryon_suite.suite.checks.auth import expect_key_found as expect_key_found
    from tryon_suite.suite.checks.auth import (
        expect_missing_key_refused as expect_missing_key_refused,
    )
    from tryon_suite.suite.checks.auth import (
        expect_other_account_not_limited as expect_other_account_not_limited,
    )
    from tryon_suite.suite.checks.auth import expect_out_of_credits as expect_out_of_credits
    from tryon_suite.suite.checks.auth import (
        expect_paced_requests_pass as expect_paced_requests_pass,
    )
    from tryon_suite.suite.checks.auth import expect_rate_limited as expect_rate_limited
    from tryon_suite.suite.checks.auth import expect_retry_after as expect_retry_after
    from tryon_suite.suite.checks.auth import expect_retry_after_honest as expect_retry_after_honest
    from tryon_suite.suite.checks.auth import expect_wrong_key_refused as expect_wrong_key_refused
    from tryon_suite.suite.checks.credits import expect_balance as expect_balance
    from tryon_suite.suite.checks.credits import expect_balance_kept as expect_balance_kept
    from tryon_suite.suite.checks.credits import expect_numeric_balance as expect_numeric_balance
    from tryon_suite.suite.checks.credits import expect_refusal_free as expect_refusal_free
    from tryon_suite.suite.checks.credits import expect_success_costs as expect_success_costs
    from tryon_suite.suite.checks.images import expect_file_too_large as expect_file_too_large
    from tryon_suite.suite.checks.images import (
        expect_format_within_limits as expect_format_within_limits,
    )
    from tryon_suite.suite.checks.images import expect_image_refused as expect_image_refused
    from tryon_suite.suite.checks.images import expect_jpeg as expect_jpeg
    from tryon_suite.suite.checks.images import (
        expect_resolution_too_high as expect_resolution_too_high,
    )
    from tryon_suite.suite.checks.images import (
        expect_some_format_unsupported as expect_some_format_unsupported,
    )
    from tryon_suite.suite.checks.images import expect_too_small as expect_too_small
    from tryon_suite.suite.checks.images import (
        expect_vendor_edge_accepted as expect_vendor_edge_accepted,
    )
    from tryon_suite.suite.checks.model import expect_foreign_kept_out as expect_foreign_kept_out
    from tryon_suite.suite.checks.model import expect_like_plain as expect_like_plain
    from tryon_suite.suite.checks.model import expect_method as expect_method
    from tryon_suite.suite.checks.refusals import ask_bad_input as ask_bad_input
    from tryon_suite.suite.checks.refusals import expect_code as expect_code
    from tryon_suite.suite.checks.refusals import (
        expect_content_type_refused as expect_content_type_refused,
    )
    from tryon_suite.suite.checks.refusals import expect_error as expect_error
    from tryon_suite.suite.checks.refusals import (
        expect_garment_mode_refused as expect_garment_mode_refused,
    )
    from tryon_suite.suite.checks.refusals import expect_missing_image as expect_missing_image
    from tryon_suite.suite.checks.refusals import expect_refusal as expect_refusal
    from tryon_suite.suite.checks.refusals import (
        expect_violation_refused as expect_violation_refused,
    )
    from tryon_suite.suite.evidence import held as held
    from tryon_suite.suite.evidence import not_checked as not_checked
    from tryon_suite.suite.evidence import observed as observed
    from tryon_suite.suite.follow import follow as follow
    from tryon_suite.suite.follow import judge_job as judge_job
    from tryon_suite.suite.follow import poll_once as poll_once
    from tryon_suite.suite.ledger import Sale as Sale
    from tryon_suite.suite.purchases import PURCHASES as PURCHASES
    from tryon_suite.suite.purchases import fixture_files as fixture_files
    from tryon_suite.suite.purchases import fixture_urls as fixture_urls
    from tryon_suite.suite.strategies import NOT_AN_IMAGE as NOT_AN_IMAGE
    from tryon_suite.suite.strategies import WRONG_TYPE as WRONG_TYPE
    from tryon_suite.suite.strategies import Violation as Violation
    from tryon_suite.suite.strategies import invalid_try_on_bodies as invalid_try_on_bodies
    from tryon_suite.suite.strategies import try_on_bodies as try_on_bodies
    from tryon_suite.suite.targets import Target as Target


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'tryon_suite' has no attribute {name!r}")
    module, _, attribute = _PUBLIC[name].partition(":")
    value = getattr(importlib.import_module(module), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*__all__, "__version__"]

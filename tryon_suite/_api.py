"""The public API, gathered: what `from tryon_suite import X` gives. Imported on first use of
one of its names (see `tryon_suite/__init__.py`), never by a process that only needs the
simulator or the client."""

from __future__ import annotations

from tryon_suite.checks.accepted import (
    expect_job_accepted,
    expect_refused_now_or_accepted,
    expect_result_answer,
    expect_valid_body_accepted,
)
from tryon_suite.checks.answers import (
    NO_5XX,
    answer_problem,
    expect_documented,
    expect_documented_status,
    expect_no_5xx,
    expect_status,
    schema_for,
)
from tryon_suite.checks.auth import (
    FAR_PAST_THE_LIMIT,
    expect_key_found,
    expect_missing_key_refused,
    expect_other_account_not_limited,
    expect_out_of_credits,
    expect_paced_requests_pass,
    expect_rate_limited,
    expect_retry_after,
    expect_retry_after_honest,
    expect_wrong_key_refused,
)
from tryon_suite.checks.credits import (
    expect_balance,
    expect_balance_kept,
    expect_numeric_balance,
    expect_refusal_free,
    expect_success_costs,
)
from tryon_suite.checks.images import (
    expect_file_too_large,
    expect_format_within_limits,
    expect_image_refused,
    expect_jpeg,
    expect_resolution_too_high,
    expect_some_format_unsupported,
    expect_too_small,
    expect_vendor_edge_accepted,
)
from tryon_suite.checks.jobs import expect_final_state
from tryon_suite.checks.model import (
    answer_key,
    expect_foreign_kept_out,
    expect_like_plain,
    expect_method,
)
from tryon_suite.checks.refusals import (
    ask_bad_input,
    expect_code,
    expect_content_type_refused,
    expect_error,
    expect_garment_mode_refused,
    expect_missing_image,
    expect_refusal,
    expect_violation_refused,
)
from tryon_suite.clauses import Clause, catalogue
from tryon_suite.client import Budget, BudgetExhausted, TryOnClient, TryOnRequest
from tryon_suite.clock import Clock, RealClock, VirtualClock
from tryon_suite.contract import (
    ERROR_400_CODES,
    RESPONSE_SCHEMAS,
    LimitProfile,
    limit_profile,
    limit_profiles,
    load_schema,
    schema_dir,
    validation_problem,
)
from tryon_suite.errors import ConfigError, ContractViolation, SchemaError, TryonError
from tryon_suite.evidence import held, not_checked
from tryon_suite.fixtures import UNSUPPORTED_FORMATS, FixtureImages
from tryon_suite.images import ImageInfo, ImageProblem, compose_result, inspect_image, render_image
from tryon_suite.imageserver import ImageServer
from tryon_suite.jobs import follow, judge_job, poll_once
from tryon_suite.model import JSON_FORMS, Case, almost_keys, encode_form
from tryon_suite.model import cases as model_cases
from tryon_suite.mutants import CATALOGUE, Mutant
from tryon_suite.polling import JobTrace, location_of
from tryon_suite.purchases import PURCHASES, Sale, fixture_files, fixture_urls
from tryon_suite.redact import redact, redact_headers, scrub
from tryon_suite.retry import Pacer, RetryPolicy, parse_retry_after
from tryon_suite.simulator.config import DEFAULT_ACCOUNTS, Account, SimulatorConfig
from tryon_suite.simulator.core import SimRequest, SimResponse, Simulator
from tryon_suite.simulator.inprocess import InProcessSimulator
from tryon_suite.simulator.server import serving
from tryon_suite.strategies import (
    NOT_AN_IMAGE,
    TOO_SMALL,
    WRONG_TYPE,
    Violation,
    invalid_try_on_bodies,
    try_on_bodies,
)
from tryon_suite.targets import Target

__all__ = [
    "CATALOGUE",
    "DEFAULT_ACCOUNTS",
    "ERROR_400_CODES",
    "FAR_PAST_THE_LIMIT",
    "JSON_FORMS",
    "NOT_AN_IMAGE",
    "NO_5XX",
    "PURCHASES",
    "RESPONSE_SCHEMAS",
    "TOO_SMALL",
    "UNSUPPORTED_FORMATS",
    "WRONG_TYPE",
    "Account",
    "Budget",
    "BudgetExhausted",
    "Case",
    "Clause",
    "Clock",
    "ConfigError",
    "ContractViolation",
    "FixtureImages",
    "ImageInfo",
    "ImageProblem",
    "ImageServer",
    "InProcessSimulator",
    "JobTrace",
    "LimitProfile",
    "Mutant",
    "Pacer",
    "RealClock",
    "RetryPolicy",
    "Sale",
    "SchemaError",
    "SimRequest",
    "SimResponse",
    "Simulator",
    "SimulatorConfig",
    "Target",
    "TryOnClient",
    "TryOnRequest",
    "TryonError",
    "Violation",
    "VirtualClock",
    "almost_keys",
    "answer_key",
    "answer_problem",
    "ask_bad_input",
    "catalogue",
    "compose_result",
    "encode_form",
    "expect_balance",
    "expect_balance_kept",
    "expect_code",
    "expect_content_type_refused",
    "expect_documented",
    "expect_documented_status",
    "expect_error",
    "expect_file_too_large",
    "expect_final_state",
    "expect_foreign_kept_out",
    "expect_format_within_limits",
    "expect_garment_mode_refused",
    "expect_image_refused",
    "expect_job_accepted",
    "expect_jpeg",
    "expect_key_found",
    "expect_like_plain",
    "expect_method",
    "expect_missing_image",
    "expect_missing_key_refused",
    "expect_no_5xx",
    "expect_numeric_balance",
    "expect_other_account_not_limited",
    "expect_out_of_credits",
    "expect_paced_requests_pass",
    "expect_rate_limited",
    "expect_refusal",
    "expect_refusal_free",
    "expect_refused_now_or_accepted",
    "expect_resolution_too_high",
    "expect_result_answer",
    "expect_retry_after",
    "expect_retry_after_honest",
    "expect_some_format_unsupported",
    "expect_status",
    "expect_success_costs",
    "expect_too_small",
    "expect_valid_body_accepted",
    "expect_vendor_edge_accepted",
    "expect_violation_refused",
    "expect_wrong_key_refused",
    "fixture_files",
    "fixture_urls",
    "follow",
    "held",
    "inspect_image",
    "invalid_try_on_bodies",
    "judge_job",
    "limit_profile",
    "limit_profiles",
    "load_schema",
    "location_of",
    "model_cases",
    "not_checked",
    "parse_retry_after",
    "poll_once",
    "redact",
    "redact_headers",
    "render_image",
    "schema_dir",
    "schema_for",
    "scrub",
    "serving",
    "try_on_bodies",
    "validation_problem",
]

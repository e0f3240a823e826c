"""tryon-suite: contract and load testing for Pixelcut's Try-On API, with a faithful simulator."""

from __future__ import annotations

from tryon_suite.checks import answer_problem, schema_for
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
from tryon_suite.fixtures import FixtureImages
from tryon_suite.images import ImageInfo, ImageProblem, compose_result, inspect_image, render_image
from tryon_suite.imageserver import ImageServer
from tryon_suite.mutants import CATALOGUE, Mutant
from tryon_suite.redact import redact, redact_headers, scrub
from tryon_suite.retry import Pacer, RetryPolicy, parse_retry_after
from tryon_suite.simulator.config import DEFAULT_ACCOUNTS, Account, SimulatorConfig
from tryon_suite.simulator.core import SimRequest, SimResponse, Simulator
from tryon_suite.simulator.inprocess import InProcessSimulator
from tryon_suite.simulator.server import serving

__version__ = "0.1.0"

__all__ = [
    "CATALOGUE",
    "DEFAULT_ACCOUNTS",
    "ERROR_400_CODES",
    "RESPONSE_SCHEMAS",
    "Account",
    "Budget",
    "BudgetExhausted",
    "Clause",
    "Clock",
    "ConfigError",
    "ContractViolation",
    "FixtureImages",
    "ImageInfo",
    "ImageProblem",
    "ImageServer",
    "InProcessSimulator",
    "LimitProfile",
    "Mutant",
    "Pacer",
    "RealClock",
    "RetryPolicy",
    "SchemaError",
    "SimRequest",
    "SimResponse",
    "Simulator",
    "SimulatorConfig",
    "TryOnClient",
    "TryOnRequest",
    "TryonError",
    "VirtualClock",
    "__version__",
    "answer_problem",
    "catalogue",
    "compose_result",
    "inspect_image",
    "limit_profile",
    "limit_profiles",
    "load_schema",
    "parse_retry_after",
    "redact",
    "redact_headers",
    "render_image",
    "schema_dir",
    "schema_for",
    "scrub",
    "serving",
    "validation_problem",
]

"""Exceptions of tryon-suite.

TryonError                      every error the suite raises on purpose
├── ConfigError                 a bad option, profile or key spec (the CLI prints it, exits 2)
├── SchemaError                 the schemas/ folder is missing or inconsistent
├── PreflightError              the target or a key cannot be used (exit 4, one line)
└── ContractViolation           (also AssertionError) a target broke a clause of the contract
"""

from __future__ import annotations

__all__ = ["ConfigError", "ContractViolation", "PreflightError", "SchemaError", "TryonError"]


class TryonError(Exception):
    """Base of every error tryon-suite raises on purpose."""


class ConfigError(TryonError, ValueError):
    """A configuration value that cannot be used; the message names it and what was expected."""


class SchemaError(TryonError):
    """The contract files cannot be loaded."""


class PreflightError(TryonError):
    """The run cannot start: the message names the problem and the fix."""


class ContractViolation(TryonError, AssertionError):
    """A target's answer broke a clause: carries what was expected and what came back."""

    def __init__(self, clause: str, expected: str, received: str, response: object = None) -> None:
        self.clause = clause
        self.expected = expected
        self.received = received
        #: the answer that broke the clause (an httpx.Response), so the report can lead with it
        self.response = response
        super().__init__(f"[{clause}] expected {expected}, got {received}")

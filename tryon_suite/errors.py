"""Exceptions of tryon-suite.

TryonError                      every error the suite raises on purpose
├── ConfigError                 a bad option, profile or key spec (one line, exit 4: USAGE)
├── SchemaError                 the schemas/ folder is missing or inconsistent
├── PreflightError              the target or a key cannot be used (exit 4, one line)
└── ContractViolation           (also AssertionError) a target broke a clause of the contract
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from enum import IntEnum
from typing import NoReturn

__all__ = [
    "ConfigError",
    "ContractViolation",
    "ExitCode",
    "PreflightError",
    "SchemaError",
    "TryonError",
]


class ExitCode(IntEnum):
    """The one exit-code table of every tool (pytest run, Locust, limiter, policies, diff,
    selftest): the README's table is this one."""

    #: every must clause (or threshold) in scope held on evidence
    PASS = 0
    #: a must clause failed (a threshold broke, a material drift)
    FAIL = 1
    #: something in scope was not checked because of the target or the run: it stopped
    #: answering, a budget ran out, retries were exhausted, the user interrupted (pytest's
    #: own INTERRUPTED, so Ctrl-C agrees)
    INCOMPLETE = 2
    #: a usage or setup mistake, found before anything was sent: a bad option, an unreachable
    #: base URL, a refused key, an unwritable report folder (pytest's own USAGE_ERROR)
    USAGE = 4


@dataclass(frozen=True)
class Verdict:
    """The one verdict every tool ends with (the contract run, a load run, the limiter, the
    retry-policy lab, diff, the self-test): its name is its exit code's, so the console's last
    line, the report's headline, JUnit and the process agree."""

    code: ExitCode
    #: why, in one sentence
    reason: str
    #: what to do about it ("" for a PASS)
    todo: str = ""

    @property
    def name(self) -> str:
        """PASS, FAIL, INCOMPLETE or USAGE."""
        return self.code.name

    @property
    def exit_code(self) -> ExitCode:
        return self.code

    @property
    def ok(self) -> bool:
        return self.code == ExitCode.PASS

    def line(self, tool: str = "tryon") -> str:
        """`TOOL verdict: NAME (exit code N): reason. todo`, the last line of every tool."""
        todo = f" {self.todo}" if self.todo else ""
        return f"{tool} verdict: {self.name} (exit code {int(self.code)}): {self.reason}.{todo}"


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


class UsageParser(argparse.ArgumentParser):
    """The argument parser of every command: a bad option is a usage mistake, one line and exit
    4 (`ExitCode.USAGE`), no usage block (scripts read the line)."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.USAGE, f"{self.prog}: error: {message}\n")

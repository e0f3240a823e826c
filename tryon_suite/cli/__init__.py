"""`tryon-suite`: the one command for everything that is not pytest or Locust.

Each subcommand is a module of this package with `parser()` and `main(argv) -> int`; every one
exits with the one table of `tryon_suite.errors.ExitCode` (0 pass, 1 fail, 2 incomplete, 4 a
usage mistake). `tryon-mock` is the short name of `tryon-suite mock`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import version

from tryon_suite.errors import UsageParser

#: every subcommand: its module (with `parser()` and `main(argv)`) and one line of help
COMMANDS: dict[str, tuple[str, str]] = {
    "mock": ("tryon_suite.cli.mock", "serve the simulator over HTTP (also `tryon-mock`)"),
    "selftest": ("tryon_suite.cli.selftest", "run the suite against every mutant: the kill matrix"),
    "mutants": ("tryon_suite.cli.mutants", "list the mutant catalogue"),
    "fixtures": ("tryon_suite.cli.fixtures", "write the fixture images to a folder"),
    "policies": ("tryon_suite.cli.policies", "the retry-policy lab: one trace, every policy"),
    "limiter": ("tryon_suite.cli.limiter", "measure a target's rate limit, burst, Retry-After"),
    "diff": ("tryon_suite.cli.diff", "what changed between two compliance.json runs"),
}


def parser() -> UsageParser:
    parser = UsageParser(
        prog="tryon-suite",
        description="Contract and load testing for Pixelcut's Try-On API. The contract suite is "
        "`python -m pytest contract`, load runs are `locust -f load/locustfile.py`; the rest is "
        "here.",
    )
    parser.add_argument(
        "--version", action="version", version=f"tryon-suite {version('tryon-suite')}"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        # each command owns its options: `tryon-suite diff --help` is the command's own help
        commands.add_parser(name, help=help_text, add_help=False)
    return parser


def command(name: str) -> Callable[[Sequence[str]], int]:
    """The `main` of one subcommand."""
    main: Callable[[Sequence[str]], int] = importlib.import_module(COMMANDS[name][0]).main
    return main


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in COMMANDS:
        return command(argv[0])(argv[1:])
    parser().parse_args(argv)  # --version, --help, or a usage error: each exits here
    raise AssertionError("unreachable: argparse exits on a missing or unknown command")


def mock_main() -> int:
    """`tryon-mock`, the short name of `tryon-suite mock`."""
    return command("mock")(sys.argv[1:])


__all__ = ["COMMANDS", "command", "main", "mock_main", "parser"]

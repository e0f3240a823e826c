"""The --tryon-* options: on Locust's command line, in its web UI, and in --tryon-help.

Locust answers --help before it imports a locustfile (locust#2917), so these options cannot
show there; --tryon-help prints the whole help once they are added.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any, NoReturn

from locust import events

from tryon_suite.errors import ExitCode
from tryon_suite.http.retry import POLICY_KINDS
from tryon_suite.load.summary import DEFAULT_THRESHOLDS


def _limit(text: str) -> float | None:
    """A threshold's value: a number >= 0, or `off` to leave it unchecked."""
    if str(text).strip().lower() in ("off", "none"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0 or 'off', got {text!r}")
    return value


#: (flag, type, default, help): the tryon options, on Locust's command line and in its web UI.
_OPTIONS: list[tuple[str, Any, Any, str]] = [
    (
        "--tryon-body",
        str,
        "multipart",
        "body kind: multipart, json or mixed (json needs image URLs)",
    ),
    (
        "--tryon-image-base-url",
        str,
        os.environ.get("TRYON_IMAGE_BASE_URL", ""),
        "where a live target fetches the fixture images (json bodies)",
    ),
    (
        "--tryon-retry",
        str,
        "retry-after",
        "retry policy for 429 and transient 5xx: " + ", ".join(POLICY_KINDS),
    ),
    ("--tryon-max-retries", int, 5, "retries before giving up"),
    ("--tryon-poll", str, "fixed", "polling interval policy: fixed or backoff"),
    ("--tryon-poll-interval", float, 1.0, "first polling interval, seconds"),
    ("--tryon-poll-timeout", float, 120.0, "give up on a job after this many seconds"),
    (
        "--tryon-arrival-rate",
        float,
        0.0,
        "open workload: try-ons per second per user (constant_throughput); 0 = closed workload",
    ),
    ("--tryon-shape", str, "steady", "load shape over -t: steady, step or spike"),
    ("--tryon-processing-time", float, 2.0, "embedded simulator: mean processing time, s"),
    ("--tryon-rate-limit", float, 5.0, "embedded simulator: requests per second per key"),
    ("--tryon-fail-rate", float, 0.01, "embedded simulator: share of injected 500s"),
    (
        "--tryon-min-result-ratio",
        _limit,
        DEFAULT_THRESHOLDS.min_result_ratio,
        "threshold: share of try-ons that got a result; one still waiting at the end counts "
        f"as none (default {DEFAULT_THRESHOLDS.min_result_ratio:g}; 'off' for none)",
    ),
    (
        "--tryon-max-p95-ttr",
        _limit,
        DEFAULT_THRESHOLDS.max_p95_ttr_s,
        f"threshold: p95 time_to_result per mode, s (default {DEFAULT_THRESHOLDS.max_p95_ttr_s:g})",
    ),
    (
        "--tryon-max-429-ratio",
        _limit,
        DEFAULT_THRESHOLDS.max_429_ratio,
        f"threshold: share of answers that are 429 (default {DEFAULT_THRESHOLDS.max_429_ratio:g})",
    ),
    (
        "--tryon-max-error-ratio",
        _limit,
        DEFAULT_THRESHOLDS.max_error_ratio,
        "threshold: share of requests failing other than 429 "
        f"(default {DEFAULT_THRESHOLDS.max_error_ratio:g})",
    ),
    ("--tryon-min-goodput", _limit, None, "threshold: results per minute (default: not set)"),
    (
        "--tryon-grace",
        float,
        30.0,
        "at the end of the run, try-ons in flight get this many seconds to finish (as "
        "--stop-timeout; the larger wins); one still waiting then counts as without result",
    ),
    ("--tryon-report-dir", str, "reports", "where the load report is written"),
]
_CHOICES: dict[str, list[str]] = {
    "--tryon-body": ["multipart", "json", "mixed"],
    "--tryon-retry": list(POLICY_KINDS),
    "--tryon-poll": ["fixed", "backoff"],
    "--tryon-shape": ["steady", "step", "spike"],
}


class _Help(argparse.Action):
    """Prints the parser's full help (Locust's options and ours) and exits."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS)
        super().__init__(option_strings, argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: Any, *_args: Any, **_kwargs: Any) -> None:
        parser.print_help()
        parser.exit()


def _exit_on_usage(parser: Any) -> None:
    """Locust's argparse errors are usage mistakes: one line, exit 4 (ExitCode.USAGE), as every
    tool's. Its `error` (with its "Did you mean" hint) ends in `exit(2, message)`: that is
    where the code changes; `--help` and `--version` exit 0 as before."""
    leave = parser.exit

    def exit(status: int = 0, message: str | None = None) -> NoReturn:
        if status == 0:
            leave(status, message)
        sys.stderr.write("; ".join((message or "").strip().splitlines()) + "\n")
        raise SystemExit(ExitCode.USAGE)

    parser.exit = exit


@events.init_command_line_parser.add_listener
def _options(parser: Any, **_kwargs: Any) -> None:
    # The parser of the whole command line (Locust's own options included) is this one. (The
    # first pass, which only finds -f, runs before the locustfile is imported: a missing
    # locustfile stays Locust's own exit 1.)
    _exit_on_usage(parser)
    # Locust answers --help before it imports a locustfile (locust#2917), so these options
    # cannot show there; --tryon-help prints the whole help once they are added.
    parser.add_argument(
        "--tryon-help",
        action=_Help,
        help="show this help, with the --tryon-* options, and exit",
        include_in_web_ui=False,
    )
    # Never in the web UI: Locust puts every UI option's value in the page's source
    # (default_value), and the default is read from the environment only once the run starts,
    # so no help text or parser default ever holds the key.
    parser.add_argument(
        "--tryon-key",
        default="",
        help="API key for --host (default $TRYON_API_KEY; the embedded simulator takes its "
        "demo key); not shown in the web UI",
        include_in_web_ui=False,
    )
    for flag, kind, default, help_text in _OPTIONS:
        parser.add_argument(
            flag, type=kind, default=default, help=help_text, choices=_CHOICES.get(flag)
        )

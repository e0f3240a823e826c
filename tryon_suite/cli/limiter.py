"""`tryon-suite limiter`: the command line; the key from TRYON_API_KEY, masked."""

from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from tryon_suite.errors import ExitCode, UsageParser, Verdict
from tryon_suite.http.secret import Secret
from tryon_suite.lab.limiter.output import table, write_report
from tryon_suite.lab.limiter.phases import DOCUMENTED_RATE, Settings, judge, measure
from tryon_suite.lab.limiter.probes import Prober

__all__ = ["main", "parser"]


def _positive(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


#: the verdict line's name
TOOL = "tryon-suite limiter"


def parser() -> argparse.ArgumentParser:
    """The command line of `tryon-suite limiter`."""
    d = Settings()
    p = UsageParser(
        prog="tryon-suite limiter",
        description="Measure a Try-On API target's rate limit with free requests (a try-on "
        "without images, a poll of an unknown job): burst, sustained rate, whether Retry-After "
        f"is honest, whether polls count, recovery; against the documented {DOCUMENTED_RATE:g}/s. "
        "The key comes from TRYON_API_KEY. Writes limiter.html and limiter.json. Exit 0: the "
        "rate measured and Retry-After honest, conservative or not sent; 1: Retry-After "
        "dishonest, or the rate not measured; 2: incomplete (the target stopped answering, or "
        "interrupted); 4: bad options, or the target or the key cannot be used. A rate other "
        "than 5/s is reported, not failed (the vendor says 'commonly').",
    )
    p.add_argument("--host", required=True, metavar="URL", help="the API's root, before /v1")
    p.add_argument(
        "--budget",
        type=int,
        metavar="N",
        default=d.budget,
        help=f"most requests to send (default {d.budget}; the preflight's one or two come on top)",
    )
    for flag, metavar, what in (
        ("--probe-rate", "PER_SECOND", "offered rate while timing the sustained rate"),
        ("--window", "SECONDS", "how long the sustained rate is timed"),
        ("--max-wait", "SECONDS", "the longest Retry-After waited out"),
    ):
        default = getattr(d, flag[2:].replace("-", "_"))
        p.add_argument(
            flag,
            type=_positive,
            default=default,
            metavar=metavar,
            help=f"{what} (default {default:g})",
        )
    p.add_argument("--report-dir", default="reports", help="where the report goes (reports)")
    return p


def _usage(message: str) -> int:
    print(f"tryon-suite limiter: error: {message}", file=sys.stderr)
    return ExitCode.USAGE


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM ends the run as Ctrl-C does: incomplete, said so


def main(argv: Sequence[str] | None = None, transport: httpx.BaseTransport | None = None) -> int:
    """Measure the target named by --host; the exit code as --help states it."""
    from tryon_suite.http.preflight import KeyToCheck, preflight_for_tool

    args = parser().parse_args(argv)
    if args.budget < 1:
        return _usage(f"expected --budget >= 1, got {args.budget}")
    key = Secret(os.environ.get("TRYON_API_KEY", ""))
    if not key:
        return _usage("expected the key in TRYON_API_KEY, got none")
    host = args.host.rstrip("/")
    if not preflight_for_tool(
        "tryon-suite limiter", host, [KeyToCheck(key, "TRYON_API_KEY")], transport
    ):
        return ExitCode.USAGE
    settings = Settings(args.budget, args.probe_rate, args.window, max_wait=args.max_wait)
    headers = {"X-API-KEY": key.reveal()}
    previous = signal.signal(signal.SIGTERM, _interrupt)
    with httpx.Client(base_url=host, headers=headers, transport=transport, timeout=10.0) as http:
        prober = Prober(http, time.monotonic, time.sleep, settings.budget)
        try:
            measures = measure(prober, settings)
        except KeyboardInterrupt:
            stopped = Verdict(
                ExitCode.INCOMPLETE,
                f"interrupted after {prober.sent} requests; nothing judged, no report written",
            )
            print(stopped.line(TOOL), flush=True)
            return stopped.code
        finally:
            prober.close()
            signal.signal(signal.SIGTERM, previous)
    write_report(
        Path(args.report_dir),
        target=host,
        settings=settings,
        measures=measures,
        probes=prober.probes,
    )
    print(table(measures))
    print(
        f"{prober.sent} requests of a budget of {settings.budget}; report: "
        f"{Path(args.report_dir) / 'limiter.html'}"
    )
    verdict = judge(measures)
    if not verdict.ok and prober.unanswered:
        # not a verdict on the limiter: the measures it lacks were cut off by the target
        verdict = Verdict(
            ExitCode.INCOMPLETE,
            f"the target stopped answering mid-run ({prober.unanswered} requests got no "
            f"answer): {verdict.reason}",
        )
    print(verdict.line(TOOL))
    return verdict.code

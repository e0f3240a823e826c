"""`tryon-suite policies`: the command line of the retry-policy lab (`tryon_suite.lab.policies`).

One seeded arrival trace through every client retry policy, sync and polling, in process on
virtual time or over HTTP with `--host`; the table, the ranking, `policies.html` and `.json`.
The lab's public names are re-exported here.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx

from tryon_suite.errors import ConfigError, ExitCode, UsageParser, Verdict
from tryon_suite.http.preflight import KeyToCheck, preflight_for_tool
from tryon_suite.http.retry import POLICY_KINDS
from tryon_suite.http.secret import Secret
from tryon_suite.http.watch import RunStopped
from tryon_suite.lab.policies.driver import run_lab
from tryon_suite.lab.policies.outcome import Outcome
from tryon_suite.lab.policies.ranking import TOLERANCE, rank, rankings
from tryon_suite.lab.policies.report import table, verdict, write_report
from tryon_suite.lab.policies.senders import NetworkLatency
from tryon_suite.lab.policies.settings import MODES, LabSettings, Mode, arrival_trace

__all__ = [
    "TOLERANCE",
    "LabSettings",
    "Mode",
    "NetworkLatency",
    "Outcome",
    "arrival_trace",
    "main",
    "rank",
    "rankings",
    "run_lab",
]

# -- the command line ------------------------------------------------------------------------


#: the verdict line's name
TOOL = "tryon-suite policies"


def parser() -> argparse.ArgumentParser:
    p = UsageParser(
        prog="tryon-suite policies",
        description="Run one arrival trace through every client retry policy, sync and "
        "polling, and rank them: goodput, requests and credits per result, 429s, time to "
        "result, give-ups. In process on virtual time by default; --host sends over HTTP. "
        "Exit 0: ranked, report written; 2: incomplete (the target stopped answering, or "
        "interrupted); 4: bad options, or the target or a key cannot be used.",
    )
    d = LabSettings()
    options: list[tuple[str, type, Any, str]] = [
        ("--rate", float, d.rate, f"try-ons per second offered (default {d.rate:g}; limit 5/s)"),
        ("--duration", float, d.duration, f"seconds of arrivals (default {d.duration:g})"),
        ("--seed", int, d.seed, "seed of the arrival trace and the jitter (default 0)"),
        ("--modes", str, ",".join(d.modes), "sync, polling or both (default both)"),
        ("--policies", str, ",".join(d.policies), "a subset of the policies (default all)"),
        ("--max-retries", int, d.max_retries, f"retries per request (default {d.max_retries})"),
        ("--processing-time", float, d.processing_time, "seconds a try-on takes (in process)"),
        ("--rate-limit", float, d.rate_limit, "requests/s per key (in process; default 5)"),
        (
            "--latency-ms",
            float,
            d.latency * 1000,
            "median round trip of a request, log-normal (in process; default "
            f"{d.latency * 1000:g})",
        ),
    ]
    for flag, kind, default, help_text in options:
        p.add_argument(flag, type=kind, default=default, help=help_text)
    p.add_argument(
        "--host", default=None, help="send over HTTP to this base URL (key: TRYON_API_KEY)"
    )
    p.add_argument(
        "--key-env",
        action="append",
        default=[],
        metavar="NAME",
        help="an environment variable holding a key, repeatable: with a key per policy the "
        "policies run at once (default TRYON_API_KEYS, comma-separated, else TRYON_API_KEY)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="processes for the in-process runs (default: one per core; the table is the same)",
    )
    p.add_argument("--report-dir", default="reports", help="where policies.html and .json go")
    return p


def _keys(names: Sequence[str]) -> list[KeyToCheck]:
    """The keys for --host, each with where it came from (what the preflight's line names)."""
    if names:
        missing = [n for n in names if not os.environ.get(n)]
        if missing:
            raise ConfigError(f"expected a key in ${missing[0]} (--key-env), got none")
        return [KeyToCheck(Secret(os.environ[n].strip()), f"--key-env {n}") for n in names]
    many = [k.strip() for k in os.environ.get("TRYON_API_KEYS", "").split(",") if k.strip()]
    if len(many) > 1:
        return [
            KeyToCheck(Secret(k), f"TRYON_API_KEYS (key {n} of {len(many)})")
            for n, k in enumerate(many, 1)
        ]
    if many:
        return [KeyToCheck(Secret(many[0]), "TRYON_API_KEYS")]
    one = os.environ.get("TRYON_API_KEY", "").strip()
    return [KeyToCheck(Secret(one), "TRYON_API_KEY")] if one else []


def _choices(text: str, allowed: Sequence[str], what: str) -> tuple[Any, ...]:
    chosen = tuple(dict.fromkeys(part.strip() for part in text.split(",") if part.strip()))
    unknown = [c for c in chosen if c not in allowed]
    if unknown or not chosen:
        raise ConfigError(
            f"expected {what} among {', '.join(allowed)}, got {unknown[0] if unknown else 'none'!r}"
        )
    return chosen


def settings_from(args: argparse.Namespace) -> LabSettings:
    """The settings the command line asks for; a bad one raises `ConfigError`."""
    return LabSettings(
        rate=args.rate,
        duration=args.duration,
        seed=args.seed,
        modes=_choices(args.modes, MODES, "--modes"),
        policies=_choices(args.policies, POLICY_KINDS, "--policies"),
        max_retries=args.max_retries,
        processing_time=args.processing_time,
        rate_limit=args.rate_limit,
        latency=args.latency_ms / 1000,
        host=args.host,
        keys=tuple(k.key for k in _keys(args.key_env)) if args.host else (),
        jobs=max(1, args.jobs),
    )


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM ends the run as Ctrl-C does: incomplete, said so


def main(argv: Sequence[str] | None = None, transport: httpx.MockTransport | None = None) -> int:
    """Run the lab, print the table and the ranking, write the report; the exit code as
    --help states it (`transport`: the HTTP target's, for tests)."""
    p = parser()
    args = p.parse_args(argv)
    try:
        settings = settings_from(args)
    except ConfigError as exc:
        print(f"{p.prog}: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    if settings.host is not None and not preflight_for_tool(
        p.prog, settings.host, _keys(args.key_env), transport
    ):
        return ExitCode.USAGE
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
    try:
        return _run(settings, Path(args.report_dir), transport)
    except RunStopped as exc:
        stopped = Verdict(ExitCode.INCOMPLETE, f"{exc.reason}; nothing ranked, no report written")
        print(stopped.line(TOOL), flush=True)
    except KeyboardInterrupt:
        stopped = Verdict(ExitCode.INCOMPLETE, "interrupted; nothing ranked, no report written")
        print(stopped.line(TOOL), flush=True)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return ExitCode.INCOMPLETE


def _run(settings: LabSettings, folder: Path, transport: httpx.MockTransport | None) -> int:
    where = settings.host or "the in-process simulator on virtual time"
    print(
        f"{len(settings.policies)} policies x {len(settings.modes)} modes, one trace: "
        f"{settings.rate:g} try-ons/s for {settings.duration:g} s (seed {settings.seed}), "
        f"against {where}",
        flush=True,
    )
    started = time.perf_counter()
    outcomes = run_lab(settings, transport)
    wall = time.perf_counter() - started
    print(table([o.row() for o in outcomes]))
    ranked = rankings(outcomes)
    for mode, order in ranked.items():
        print(f"ranking, {mode}: " + ", ".join(f"{n}. {p}" for n, p in order))
    path = write_report(outcomes, settings, folder, wall)
    ranked_all = Verdict(ExitCode.PASS, f"{verdict(ranked)} ({wall:.1f} s wall); report: {path}")
    print(ranked_all.line(TOOL))
    return ranked_all.code


def with_duration(settings: LabSettings, duration: float) -> LabSettings:
    """The same lab at another duration (a short one over HTTP, say)."""
    return replace(settings, duration=duration)

"""`tryon-mock`: serve the Try-On API simulator over HTTP on loopback."""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from tryon_suite.errors import ConfigError, ExitCode, UsageParser
from tryon_suite.http.redact import redact
from tryon_suite.simulator.config import DEFAULT_ACCOUNTS, SimulatorConfig, parse_account
from tryon_suite.simulator.server import (
    SimulatorServer,
    base_url_of,
    bind,
    uvicorn_config,
)
from tryon_suite.spec.schemas import limit_profile, limit_profiles

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    """The command line of `tryon-mock`."""
    p = UsageParser(
        prog="tryon-mock",
        description="Serve a faithful simulator of Pixelcut's Try-On API over HTTP. Once it "
        "accepts connections it prints 'Listening on <base URL>' and the keys it accepts.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one")
    p.add_argument(
        "--rate-limit",
        type=float,
        default=5.0,
        metavar="PER_SECOND",
        help="requests per second per key before 429 (default 5; 0 turns it off)",
    )
    p.add_argument(
        "--processing-time",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how long a try-on takes (default 2)",
    )
    p.add_argument(
        "--processing-spread",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="vary the processing time uniformly by +/- this share of it (default 0)",
    )
    p.add_argument(
        "--fail-rate",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of try-on requests answered 500 on purpose (default 0)",
    )
    p.add_argument(
        "--job-failure-rate",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of polled jobs that end 'failed' (content filter; default 0)",
    )
    p.add_argument(
        "--latency", type=float, default=0.0, metavar="SECONDS", help="delay added to API answers"
    )
    p.add_argument(
        "--limits",
        default=None,
        metavar="PROFILE",
        help=f"image-limit profile: {', '.join(sorted(limit_profiles()))} (default reference)",
    )
    p.add_argument(
        "--location",
        choices=("absolute", "relative"),
        default="absolute",
        help="how the 202 Location header names the job (default absolute)",
    )
    p.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="KEY[:CREDITS]",
        help="an account's key and credit balance (default 1000); repeatable. Without it: "
        + ", ".join(f"{a.key} ({a.credits} credits)" for a in DEFAULT_ACCOUNTS),
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed for ids and injected faults (default: random, so ids differ between runs)",
    )
    p.add_argument(
        "--serve-fixtures",
        action="store_true",
        help="also serve the fixture images at /fixtures/<name> (for JSON bodies in load runs)",
    )
    p.add_argument(
        "--mutant",
        default=None,
        metavar="NAME",
        help="serve this mutant of the catalogue instead of the correct simulator "
        "(`tryon-suite mutants` names them), e.g. dishonest_retry_after",
    )
    p.add_argument(
        "--calibrate",
        default=None,
        metavar="REPORT.json",
        help="serve a twin: the open points read as this compliance.json observed them on a "
        "real target (Location and Retry-After forms, answers to unknown and foreign jobs, "
        "the too-small code, accepted formats, single-colour images)",
    )
    p.add_argument(
        "--calibrate-load",
        default=None,
        metavar="LOAD.json",
        help="with --calibrate: the processing time from a load run's sync time_to_result",
    )
    return p


def _config(args: argparse.Namespace) -> SimulatorConfig:
    accounts = tuple(parse_account(spec) for spec in args.key) or DEFAULT_ACCOUNTS
    return SimulatorConfig(
        accounts=accounts,
        rate_limit=args.rate_limit,
        processing_time=args.processing_time,
        processing_spread=args.processing_spread,
        fail_rate=args.fail_rate,
        job_failure_rate=args.job_failure_rate,
        latency=args.latency,
        limits=limit_profile(args.limits),
        location=args.location,
        seed=args.seed if args.seed is not None else secrets.randbits(32),
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run until Ctrl-C or SIGTERM; bad options print one line and exit 2."""
    from tryon_suite.http.clock import RealClock
    from tryon_suite.simulator.asgi import SimulatorApp
    from tryon_suite.simulator.core import Simulator

    args = parser().parse_args(argv)
    try:
        config = _config(args)
        # imported here: the catalogue is built on this package's core
        from tryon_suite.mutants import Mutant, mutant

        chosen: Mutant | None = mutant(args.mutant) if args.mutant is not None else None
        calibration = None
        if args.calibrate_load and not args.calibrate:
            raise ConfigError("expected --calibrate REPORT.json with --calibrate-load, got none")
        if args.calibrate:
            if chosen is not None:
                raise ConfigError("expected --calibrate or --mutant, got both")
            from tryon_suite.simulator.twin import load_calibration

            calibration = load_calibration(
                Path(args.calibrate), Path(args.calibrate_load) if args.calibrate_load else None
            )
    except ConfigError as exc:
        print(f"tryon-mock: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    if not 0 <= args.port <= 65535:
        print(
            f"tryon-mock: error: expected --port between 0 and 65535, got {args.port}",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(
            f"tryon-mock: error: expected to listen on {args.host}:{args.port}, "
            f"got: {exc.strerror}",
            file=sys.stderr,
        )
        return ExitCode.USAGE
    base_url = base_url_of(sock)
    user_keys = bool(args.key)

    def announce() -> None:
        lines = [f"Listening on {base_url}"]
        for number, account in enumerate(config.accounts, 1):
            # Default keys are documented fixtures; keys you chose are yours, so never printed,
            # not even in part: told apart by their place among the --key options.
            shown = f"{redact(account.key)} (--key {number}, " if user_keys else f"{account.key} ("
            lines.append(f"Key {shown}{account.credits} credits)")
        lines.append(
            f"Rate limit {config.rate_limit:g}/s per key, processing {config.processing_time:g} s, "
            f"limits {config.limits.name}. Ctrl-C stops."
        )
        if chosen is not None:
            lines.append(f"Mutant {chosen.name}: {chosen.description}")
        if calibration is not None:
            for clause_id, reading in calibration.readings.items():
                lines.append(f"Twin {clause_id}: {reading}")
            for clause_id, why in calibration.uncalibrated.items():
                lines.append(f"Twin {clause_id}: {why}")
        print("\n".join(lines), flush=True)

    simulator: Simulator
    if calibration is not None:
        from tryon_suite.simulator.twin import twin

        simulator = twin(calibration, config, RealClock())
    elif chosen is not None:
        simulator = chosen.build(config, RealClock())
    else:
        simulator = Simulator(config, RealClock())
    fixtures = None
    if args.serve_fixtures:
        from tryon_suite.spec.fixture_images import FixtureImages

        images = FixtureImages(config.limits)
        fixtures = {name: images[name] for name in ("person.jpg", "garment.png", "person.png")}
    app = SimulatorApp(simulator, base_url, fixtures)
    server = SimulatorServer(uvicorn_config(app), announce)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

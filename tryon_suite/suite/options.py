"""The suite's command-line options (each also read from the environment) resolved into
`TargetOptions`.

Keys are parsed straight into a `Secret`: not even pytest's option namespace holds the text.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

import pytest

from tryon_suite.errors import ConfigError
from tryon_suite.http.secret import Secret, key_problem
from tryon_suite.http.watch import Timeouts
from tryon_suite.spec.schemas import limit_profile
from tryon_suite.suite import profiles  # noqa: F401  (registers the Hypothesis profiles)
from tryon_suite.suite.targets import TargetOptions

__all__ = [
    "add_options",
    "option",
    "record_folder",
    "target_options",
]

_OPTIONS: list[tuple[str, str, str, dict[str, Any]]] = [
    (
        "--tryon-base-url",
        "TRYON_BASE_URL",
        "run against this live endpoint (default: the in-process simulator)",
        {"metavar": "URL"},
    ),
    (
        "--tryon-api-key",
        "TRYON_API_KEY",
        "the key for --tryon-base-url (never printed)",
        {"metavar": "KEY"},
    ),
    (
        "--tryon-no-credits-key",
        "TRYON_NO_CREDITS_KEY",
        "a valid key with no credits; enables the 403 checks",
        {"metavar": "KEY"},
    ),
    (
        "--tryon-other-key",
        "TRYON_OTHER_KEY",
        "a second account's key; enables the isolation checks",
        {"metavar": "KEY"},
    ),
    (
        "--tryon-image-base-url",
        "TRYON_IMAGE_BASE_URL",
        "where the target can fetch the fixture "
        "images (default: a loopback server the suite starts)",
        {"metavar": "URL"},
    ),
    (
        "--tryon-budget",
        "TRYON_BUDGET",
        "the most requests the run may send; the rest is reported not checked",
        {"metavar": "N"},
    ),
    (
        "--tryon-credit-budget",
        "TRYON_CREDIT_BUDGET",
        "the most credits the run may spend; a check that would pass it is reported not "
        "checked (credit budget)",
        {"metavar": "N"},
    ),
    (
        "--tryon-limits",
        "TRYON_LIMITS",
        "image-limit profile the target should obey (reference, vendor-2025)",
        {"metavar": "PROFILE"},
    ),
    (
        "--tryon-rate",
        "TRYON_RATE",
        "requests per second the suite paces itself to (default 4 live)",
        {"metavar": "PER_SECOND"},
    ),
    (
        "--tryon-timeout",
        "TRYON_TIMEOUT",
        "seconds each kind of request may take, as KIND=SECONDS pairs separated by commas "
        "(connect 10, sync 180: a try-on waiting for its result, poll 30: every other API call, "
        "download 60: a result image)",
        {"metavar": "KIND=S,..."},
    ),
    (
        "--tryon-deadline",
        "TRYON_DEADLINE",
        "the most seconds a live run may last; past it, the rest is not run and the run is "
        "INCOMPLETE (default 1800)",
        {"metavar": "SECONDS"},
    ),
    (
        "--tryon-report-dir",
        "TRYON_REPORT_DIR",
        "where the compliance report is written (default reports/)",
        {"metavar": "DIR"},
    ),
    (
        "--tryon-record",
        "TRYON_RECORD",
        "write every exchange of the run to a cassette in DIR (cassette.jsonl and images/, "
        "keys and URL signatures scrubbed)",
        {"metavar": "DIR"},
    ),
    (
        "--tryon-replay",
        "TRYON_REPLAY",
        "run the checks against the cassette in DIR (a --tryon-record run): no network, no "
        "credits, the recorded run's options",
        {"metavar": "DIR"},
    ),
    (
        "--tryon-replay-max-age",
        "TRYON_REPLAY_MAX_AGE",
        "the oldest cassette --tryon-replay takes, in days (default 30)",
        {"metavar": "DAYS"},
    ),
    (
        "--tryon-mutant",
        "TRYON_MUTANT",
        "run in process against this mutant of the simulator (tryon-suite selftest uses it)",
        {"metavar": "NAME"},
    ),
]


#: Options whose values are keys: parsed straight into a Secret, so not even pytest's own
#: option namespace holds the text.
_KEY_OPTIONS = ("--tryon-api-key", "--tryon-no-credits-key", "--tryon-other-key")


def add_options(parser: pytest.Parser) -> None:
    """The tryon options, in their own group of `pytest --help`."""
    group = parser.getgroup("tryon", "tryon-suite: the Try-On API contract")
    for flag, env, help_text, extra in _OPTIONS:
        kind = {"type": Secret} if flag in _KEY_OPTIONS else {}
        group.addoption(flag, default=None, help=f"{help_text}; env {env}", **extra, **kind)
    group.addoption(
        "--tryon-allow-burst",
        action="store_true",
        default=None,
        help="allow provoking 429 on purpose (a bounded burst); env TRYON_ALLOW_BURST=1",
    )
    group.addoption(
        "--tryon-serial",
        action="store_true",
        default=None,
        help="live: buy each paid exchange at first use, one after another, instead of all at "
        "once beside the free checks (slower; the benchmark's baseline); env TRYON_SERIAL=1",
    )
    group.addoption(
        "--tryon-plan",
        action="store_true",
        default=None,
        help="print the requests and credits each group of checks will cost, and the totals, "
        "rehearsed on the in-process simulator with this run's options; sends nothing to the "
        "target and exits 0; env TRYON_PLAN=1",
    )


def option(config: pytest.Config, flag: str, env: str) -> str | None:
    """An option's text from the command line, else the environment; None when unset."""
    value = config.getoption(flag)
    if isinstance(value, Secret):
        return None  # keys are read by _key
    if value is None or value == "":
        value = os.environ.get(env) or None
    return value  # type: ignore[no-any-return]


def record_folder(config: pytest.Config) -> Path | None:
    """Where `--tryon-record` writes the cassette (None: not recording); a usage error with
    options it cannot go with."""
    text = option(config, "--tryon-record", "TRYON_RECORD")
    if text is None:
        return None
    if _flag(config, "--tryon-plan", "TRYON_PLAN"):
        raise pytest.UsageError(
            "expected --tryon-record without --tryon-plan (a plan sends nothing)"
        )
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError(
            "expected --tryon-record without -n: one process writes the cassette"
        )
    return Path(text)


def _key(config: pytest.Config, flag: str, env: str) -> Secret | None:
    """A key from its option or the environment, masked from the moment it is read; one that
    cannot travel in a header (non-ASCII, say) is a usage error that does not quote it."""
    given = config.getoption(flag)
    value: Secret | None = given if isinstance(given, Secret) and given else None
    if value is None:
        text = os.environ.get(env)
        value = Secret(text) if text else None
    if value is not None and (problem := key_problem(value.reveal())):
        raise pytest.UsageError(f"{flag} ({env}): {problem}")
    return value


def target_options(config: pytest.Config) -> TargetOptions:
    """The options of this run, checked: a bad value is a usage error naming it."""
    get = {flag: option(config, flag, env) for flag, env, _, _ in _OPTIONS}
    keys = {flag: _key(config, flag, env) for flag, env, _, _ in _OPTIONS if flag in _KEY_OPTIONS}
    base_url = get["--tryon-base-url"]
    api_key = keys["--tryon-api-key"]
    plan = _flag(config, "--tryon-plan", "TRYON_PLAN")
    if base_url and not api_key and not plan:  # a plan sends nothing: it needs no key
        raise pytest.UsageError(
            "expected --tryon-api-key (or TRYON_API_KEY) with --tryon-base-url, got none"
        )
    if base_url and not base_url.startswith(("http://", "https://")):
        raise pytest.UsageError(f"expected an http(s) URL for --tryon-base-url, got {base_url!r}")
    if base_url and getattr(config.option, "numprocesses", None):
        # each xdist worker would pace itself alone and buy every success again
        raise pytest.UsageError(
            "expected no -n with --tryon-base-url: one process keeps the whole run under the "
            "target's rate limit and buys each paid answer once (its waits already overlap)"
        )
    budget = None
    if (text := get["--tryon-budget"]) is not None:
        if not text.isdigit() or int(text) < 1:
            raise pytest.UsageError(
                f"expected --tryon-budget to be a whole number >= 1, got {text!r}"
            )
        budget = int(text)
    credit_budget = None
    if (text := get["--tryon-credit-budget"]) is not None:
        if not text.isdigit():
            raise pytest.UsageError(
                f"expected --tryon-credit-budget to be a whole number >= 0, got {text!r}"
            )
        credit_budget = int(text)
    rate = _positive(get["--tryon-rate"], "--tryon-rate", "a number")
    try:
        limits = limit_profile(get["--tryon-limits"])
    except ConfigError as exc:
        raise pytest.UsageError(f"--tryon-limits: {exc}") from None
    mutant = get["--tryon-mutant"]
    if mutant is not None:
        from tryon_suite.mutants import mutant as find_mutant

        if base_url:
            raise pytest.UsageError("expected --tryon-mutant without --tryon-base-url, got both")
        try:
            find_mutant(mutant)
        except ConfigError as exc:
            raise pytest.UsageError(f"--tryon-mutant: {exc}") from None
    try:
        timeouts = Timeouts.parse(get["--tryon-timeout"])
    except ConfigError as exc:
        raise pytest.UsageError(str(exc)) from None
    deadline = _positive(get["--tryon-deadline"], "--tryon-deadline", "a number of seconds")
    burst = _flag(config, "--tryon-allow-burst", "TRYON_ALLOW_BURST")
    if (folder := get["--tryon-replay"]) is not None:
        return _replay_options(folder, get["--tryon-replay-max-age"], base_url, mutant, plan)
    return TargetOptions(
        base_url=base_url,
        api_key=api_key,
        no_credits_key=keys["--tryon-no-credits-key"],
        other_key=keys["--tryon-other-key"],
        allow_burst=bool(burst),
        image_base_url=get["--tryon-image-base-url"],
        budget=budget,
        credit_budget=credit_budget,
        plan=plan,
        serial=_flag(config, "--tryon-serial", "TRYON_SERIAL"),
        limits=limits,
        rate=rate,
        mutant=mutant,
        timeouts=timeouts,
        deadline=deadline if deadline is not None else LIVE_DEADLINE,
    )


#: how long a live run may last unless --tryon-deadline says otherwise (seconds)
LIVE_DEADLINE: Final = 1800.0


def _positive(text: str | None, flag: str, what: str) -> float | None:
    """An option's number > 0 (None when unset); anything else is a usage error naming it."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise pytest.UsageError(f"expected {flag} to be {what} > 0, got {text!r}")
    return value


#: the keys a replay presents: stand-ins whose role the cassette answers by, never real keys
REPLAY_KEYS: Final = {
    "run key": "replay-run-key",
    "other key": "replay-other-key",
    "no-credits key": "replay-no-credits-key",
}


def _replay_options(
    folder: str, max_age: str | None, base_url: str | None, mutant: str | None, plan: bool
) -> TargetOptions:
    """The recorded run's options, read from its cassette's header (refused when too old,
    recorded against other schemas, or drawn by Hypothesis at random)."""
    import datetime

    from tryon_suite.http.cassette.replay import Cassette

    if base_url or mutant or plan:
        raise pytest.UsageError(
            "expected --tryon-replay alone: not with --tryon-base-url, --tryon-mutant or "
            "--tryon-plan (the cassette is the target)"
        )
    days = 30
    if max_age is not None:
        if not max_age.isdigit():
            raise pytest.UsageError(
                f"expected --tryon-replay-max-age to be a whole number of days, got {max_age!r}"
            )
        days = int(max_age)
    try:
        cassette = Cassette.load(Path(folder), max_age=datetime.timedelta(days=days))
    except ConfigError as exc:
        raise pytest.UsageError(f"--tryon-replay: {exc}") from None
    recorded = cassette.header.get("options", {})
    if not recorded.get("derandomize", False):
        raise pytest.UsageError(
            "--tryon-replay: expected a cassette recorded with a derandomized Hypothesis "
            f"profile (live or ci), got {recorded.get('hypothesis_profile')!r}: its generated "
            "bodies cannot be drawn again; record with --hypothesis-profile=ci"
        )
    roles = set(recorded.get("keys", []))

    def key(role: str) -> Secret | None:
        return Secret(REPLAY_KEYS[role]) if role in roles else None

    return TargetOptions(
        api_key=key("run key"),
        no_credits_key=key("no-credits key"),
        other_key=key("other key"),
        allow_burst=bool(recorded.get("allow_burst")),
        budget=recorded.get("budget"),
        credit_budget=recorded.get("credit_budget"),
        serial=bool(recorded.get("serial")),
        limits=limit_profile(cassette.header.get("limits")),
        rate=recorded.get("rate") or None,
        replay=cassette,
    )


def _flag(config: pytest.Config, flag: str, env: str) -> bool:
    value = config.getoption(flag)
    if value is None:
        return os.environ.get(env, "").lower() in ("1", "true", "yes")
    return bool(value)

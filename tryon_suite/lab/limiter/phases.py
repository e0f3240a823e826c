"""The measures, one phase each, in the order later ones need: burst, rate, Retry-After,
polls, recovery; each is "not measured" with its reason when it cannot be told."""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from tryon_suite.errors import ExitCode, Verdict
from tryon_suite.http.retry import parse_retry_after
from tryon_suite.lab.limiter.probes import BudgetSpent, Probe, Prober, Unexpected

__all__ = ["DOCUMENTED_RATE", "Measure", "Settings", "judge", "measure"]

DOCUMENTED_RATE: Final = 5.0
#: a measured rate this close to the documented one is "as documented"
TOLERANCE: Final = 0.2
DOCUMENTED: Final = f"{DOCUMENTED_RATE:g}/s (commonly)"
#: API.md is silent on the burst, Retry-After, polls and recovery: what is seen is observed
SILENT: Final = "not documented"


@dataclass(frozen=True)
class Settings:
    """How hard and how long to probe; the defaults cover a measurement of a 1-10/s limit."""

    budget: int = 150
    #: the offered rate of the sustained window: above the documented rate, so 429s come
    probe_rate: float = 2 * DOCUMENTED_RATE
    window: float = 4.0
    #: requests sent at once to empty the bucket
    wave: int = 10
    #: the wait before the burst, so the bucket is full (the preflight spent a token or two)
    settle: float = 2.0
    #: the longest Retry-After waited out
    max_wait: float = 30.0
    trials: int = 3


@dataclass(frozen=True)
class Measure:
    """One row of the table: `value` is None when it was not measured."""

    name: str
    measured: str
    documented: str
    verdict: str
    value: float | None = None
    detail: str = ""


def _not_measured(name: str, documented: str, reason: str) -> Measure:
    return Measure(name, f"not measured: {reason}", documented, "not measured")


@dataclass
class _State:
    """What later phases need from earlier ones."""

    burst: int | None = None
    burst_seconds: float = 0.0
    rate: float | None = None
    retry_after: float | None = None
    notes: dict[str, Any] = field(default_factory=dict)


def _drain(p: Prober, size: int) -> Probe:
    """Empty the bucket: one probe, then waves of `size` until one is refused; the last 429."""
    first = p.send("try-on")
    if first.limited:
        return first
    for _ in range(4):
        refused = [q for q in p.wave("try-on", size) if q.limited]
        if refused:
            return max(refused, key=lambda q: q.sent + q.took)
    raise Unexpected(f"no 429 within {1 + 4 * size} requests sent back to back")


def _to_empty(p: Prober, rate: float, offered: float) -> float:
    """Probe at 4x the rate until one is admitted: the bucket then holds less than the token
    share returned, the leftover bound (time between the last two probes times the rate)."""
    period = 1.0 / max(4 * rate, offered)
    last = p.now()
    for _ in range(int(6 + 4 * offered / rate)):
        p.sleep(max(0.0, last + period - p.now()))
        before, last = last, p.now()
        if not p.send("try-on").limited:
            return rate * (p.now() - before)
    raise Unexpected(f"no try-on admitted within {6 + 4 * offered / rate:.0f} paced requests")


def _burst(p: Prober, s: Settings, st: _State) -> Measure:
    p.sleep(s.settle)
    begin = p.now()
    # a third of the budget at most: a target that never refuses leaves some to show it
    for _ in range(max(1, s.budget // 3 // s.wave)):
        if any(q.limited for q in p.wave("try-on", s.wave)):
            break
    else:
        sent = sum(q.phase == "burst" for q in p.probes)
        return _not_measured(
            "burst",
            SILENT,
            f"no 429 in {sent} requests sent back to back: the target does not limit refused "
            "requests, or its burst is larger",
        )
    admitted = sum(not q.limited for q in p.probes if q.phase == "burst")
    st.burst, st.burst_seconds = admitted, p.now() - begin
    return Measure(
        "burst",
        str(admitted),
        SILENT,
        "observed",
        admitted,
        f"{admitted} admitted back to back before the first 429 (waves of {s.wave} at once, "
        f"{st.burst_seconds * 1000:.0f} ms)",
    )


def _rate(p: Prober, s: Settings, st: _State) -> Measure:
    doc = DOCUMENTED
    answers = p.paced("try-on", s.probe_rate, s.window)
    times = sorted(q.mid for q in answers if not q.limited)
    if not any(q.limited for q in answers):
        return _not_measured(
            "sustained rate",
            doc,
            f"all {len(answers)} requests paced at {s.probe_rate:g}/s "
            "were admitted: the rate is at least that (raise --probe-rate)",
        )
    if len(times) < 3:
        return _not_measured(
            "sustained rate",
            doc,
            f"{len(times)} of {len(answers)} requests admitted in "
            f"{s.window:g} s: too few to time (raise --window)",
        )
    # n tokens came between the first and last admission; each admission came at most one
    # offered period after its token, which bounds the rate from both sides
    n, span, period = len(times) - 1, times[-1] - times[0], 1.0 / s.probe_rate
    if span < 2 * period:
        return _not_measured(
            "sustained rate",
            doc,
            f"{len(times)} admissions within {span:.3f} s: too close to time (the clock did "
            "not move as paced)",
        )
    rate = n / span
    low, high = n / (span + period), n / max(span - period, period)
    st.rate = rate
    off = rate / DOCUMENTED_RATE - 1
    verdict = "as documented" if abs(off) <= TOLERANCE else f"differs ({off:+.0%})"
    return Measure(
        "sustained rate",
        f"{rate:.2f}/s ± {(high - low) / 2:.2f}",
        doc,
        verdict,
        round(rate, 3),
        f"{len(times)} of {len(answers)} admitted at {s.probe_rate:g}/s offered over "
        f"{s.window:g} s; between {low:.2f} and {high:.2f}/s",
    )


def _retry_after(p: Prober, s: Settings, st: _State) -> Measure:
    name = "Retry-After honest"
    size = (st.burst or s.wave) + 1
    outcomes: list[bool] = []
    values: set[str] = set()
    conservative = ""
    early_checked = False
    trials = s.trials
    while len(outcomes) < trials:
        refused = _drain(p, size)
        header = refused.retry_after
        wait = parse_retry_after(header, _server_time(refused))
        if header is None:
            return Measure(
                name,
                "not sent",
                SILENT,
                "observed (not sent)",
                None,
                "a 429 came without a Retry-After header",
            )
        if wait is None:
            return Measure(
                name,
                f"unreadable: {header[:40]!r}",
                SILENT,
                "dishonest",
                0.0,
                "RFC 9110 allows seconds or an HTTP date",
            )
        values.add(header)
        if not early_checked and st.rate and wait >= 2 and wait > 1.5 / st.rate + 1:
            # far longer than one token takes: does the limit lift well before it?
            early, early_checked = 1.5 / st.rate, True
            p.sleep(early)
            if not p.send("try-on").limited:
                conservative = f"a request after {early:.2f} s was admitted"
                trials = 1  # waiting it is far past the need: one trial tells
            continue
        if wait > s.max_wait:
            detail = f"Retry-After {wait:g} s is over --max-wait {s.max_wait:g} s"
            if conservative:
                return Measure(
                    name,
                    f"{wait:g} s, not waited",
                    SILENT,
                    "conservative",
                    None,
                    f"{detail}; {conservative}",
                )
            return _not_measured(name, SILENT, detail)
        p.sleep(wait)
        outcomes.append(not p.send("try-on").limited)
        if len(outcomes) == trials == s.trials and outcomes.count(False) == 1:
            trials = 2 * s.trials  # one refusal: more trials, so one unlucky timing is no verdict
    admitted = sum(outcomes)
    refused_n = len(outcomes) - admitted
    detail = (
        f"after waiting Retry-After ({', '.join(sorted(values))}), "
        f"{admitted} of {len(outcomes)} admitted"
    )
    if conservative:
        detail += f"; {conservative}"
    if refused_n >= 2:
        return Measure(
            name, f"no ({refused_n} of {len(outcomes)} refused)", SILENT, "dishonest", 0.0, detail
        )
    if refused_n:
        detail += " (one refusal: an unlucky timing, or another client of the key)"
    verdict = "conservative" if conservative else "honest"
    return Measure(name, f"yes ({admitted} of {len(outcomes)})", SILENT, verdict, 1.0, detail)


def _server_time(probe: Probe) -> datetime | None:
    """The answer's Date, when it has a readable one."""
    try:
        when = email.utils.parsedate_to_datetime(probe.date) if probe.date else None
    except (TypeError, ValueError, IndexError):
        return None
    # HTTP dates are GMT whatever they write (RFC 9110 section 5.6.7)
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


def _polls(p: Prober, s: Settings, st: _State) -> Measure:
    name, doc = "polls count", SILENT
    size = (st.burst or s.wave) + 1
    refused: list[bool] = []
    spends: list[bool] = []
    for _ in range(s.trials):
        if st.rate:
            # one token in the bucket: does a poll take it from the next try-on?
            leftover = _to_empty(p, st.rate, s.probe_rate)
            p.sleep(1.1 / st.rate)
            if not p.send("poll").limited:
                before = p.now()
                limited = p.send("try-on").limited
                if limited or leftover + st.rate * (p.now() - before) < 0.9:
                    spends.append(limited)
        # the bucket empty, a poll at once: is it refused?
        _drain(p, size)
        refused.append(p.send("poll").limited)
    said = []
    verdicts = []
    for label, votes in (
        ("refused when try-ons spent the limit", refused),
        ("each poll spends it", spends),
    ):
        if votes:
            said.append(f"{label}: {sum(votes)} of {len(votes)}")
            verdicts.append(sum(votes) * 2 > len(votes))
    if not verdicts:
        return _not_measured(name, doc, "no trial could tell")
    answer = "yes" if all(verdicts) else "no" if not any(verdicts) else "partly"
    return Measure(name, answer, doc, "observed", float(any(verdicts)), "; ".join(said))


def _recovery(p: Prober, s: Settings, st: _State) -> Measure:
    name, doc = "recovery", SILENT
    if not st.burst or not st.rate:
        return _not_measured(name, doc, "needs the burst and the rate")
    predicted = st.burst / st.rate
    lower = 0.0
    _to_empty(p, st.rate, s.probe_rate)
    for factor in (0.7, 1.15, 2.0, 4.0):
        wait = min(factor * predicted, s.max_wait)
        p.sleep(wait)
        if sum(not q.limited for q in p.wave("try-on", st.burst + 1)) >= st.burst:
            return Measure(
                name,
                f"{lower:.2f}-{wait:.2f} s",
                doc,
                "observed",
                round(wait, 3),
                f"a full burst of {st.burst} was back after {wait:.2f} s, not after "
                f"{lower:.2f} s (burst / rate = {predicted:.2f} s)",
            )
        lower = wait
    return _not_measured(name, doc, f"no full burst of {st.burst} after {lower:.2f} s")


PHASES: Final = (
    ("burst", _burst, SILENT),
    ("sustained rate", _rate, DOCUMENTED),
    ("Retry-After honest", _retry_after, SILENT),
    ("polls count", _polls, SILENT),
    ("recovery", _recovery, SILENT),
)


def measure(p: Prober, settings: Settings) -> list[Measure]:
    """Every measure in turn; a phase that runs out of budget or meets an unexpected answer
    is "not measured" with the reason, and the next one still tries."""
    state = _State()
    measures: list[Measure] = []
    for name, phase, documented in PHASES:
        p.phase = name
        try:
            measures.append(phase(p, settings, state))
        except BudgetSpent:
            measures.append(_not_measured(name, documented, "budget"))
        except Unexpected as exc:
            measures.append(_not_measured(name, documented, str(exc)))
    if state.burst is not None and state.rate is not None:
        # tokens that came in while the waves were out were counted in the burst
        refill = state.rate * state.burst_seconds
        at = [m.name for m in measures].index("burst")
        if refill >= 0.5:
            first = measures[at]
            measures[at] = Measure(
                first.name,
                f"{first.measured} (≥ {state.burst - refill:.1f})",
                first.documented,
                first.verdict,
                first.value,
                f"{first.detail}; up to {refill:.1f} token(s) came in meanwhile",
            )
    return measures


def judge(measures: Sequence[Measure]) -> Verdict:
    """PASS when the rate was measured and Retry-After is not dishonest, else FAIL."""
    by = {m.name: m for m in measures}
    rate, honest = by["sustained rate"], by["Retry-After honest"]
    ok = rate.value is not None and honest.verdict in (
        "honest",
        "conservative",
        "observed (not sent)",
    )
    rate_text = (
        f"rate {rate.measured} ({rate.verdict} against {DOCUMENTED_RATE:g}/s)"
        if rate.value is not None
        else "rate not measured"
    )
    burst = by["burst"]
    burst_text = f"burst {burst.measured}" if burst.value is not None else "burst not measured"
    reason = f"{rate_text}; {burst_text}; Retry-After {honest.verdict}"
    return Verdict(ExitCode.PASS if ok else ExitCode.FAIL, reason)

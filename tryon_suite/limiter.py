"""`tryon-suite limiter`: a target's rate limit measured, against API.md's "commonly 5/s".

Every probe is free: a try-on whose body lacks the images (400 when admitted, 429 when
limited) and a poll of a job that does not exist (404 when admitted). Within a request budget
it finds the burst (back to back from a full bucket), the sustained rate (paced above the
documented rate), whether `Retry-After` is honest (the request sent after waiting it is
admitted), whether polls count against the limit, and the time a full burst takes to come
back. What it could not measure it says, with the reason; it never makes a figure up.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, NoReturn

import httpx

from tryon_suite.client import JOB, TRY_ON
from tryon_suite.preflight import PROBE_BODY
from tryon_suite.retry import parse_retry_after
from tryon_suite.secret import Secret

__all__ = ["Measure", "Probe", "Prober", "Settings", "main", "measure"]

#: API.md: "commonly 5 requests per second per account"
DOCUMENTED_RATE: Final = 5.0
#: a measured rate this close to the documented one is "as documented"
TOLERANCE: Final = 0.2
DOCUMENTED: Final = f"{DOCUMENTED_RATE:g}/s (commonly)"
#: API.md is silent on the burst, Retry-After, polls and recovery: what is seen is observed
SILENT: Final = "not documented"

Kind = Literal["try-on", "poll"]


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
class Probe:
    """One request: when it left (seconds into the run), how long it took, the answer."""

    phase: str
    kind: Kind
    sent: float
    took: float
    status: int
    retry_after: str | None

    @property
    def limited(self) -> bool:
        return self.status == 429

    @property
    def mid(self) -> float:
        """When the target most likely saw it."""
        return self.sent + self.took / 2


@dataclass(frozen=True)
class Measure:
    """One row of the table: `value` is None when it was not measured."""

    name: str
    measured: str
    documented: str
    verdict: str
    value: float | None = None
    detail: str = ""


class BudgetSpent(Exception):
    """The request budget is spent: what remains is not measured."""


class Unexpected(Exception):
    """An answer that is neither admitted nor 429 (401, 5xx, no answer): not measured."""


class Prober:
    """Sends the free probes, counts them against the budget and records each; `workers` 0
    sends one at a time on the caller's thread (the in-process, virtual-clock mode)."""

    def __init__(
        self,
        http: httpx.Client,
        now: Callable[[], float],
        sleep: Callable[[float], None],
        budget: int,
        workers: int = 16,
    ) -> None:
        self.http, self.now, self.sleep, self.budget = http, now, sleep, budget
        self.start = now()
        self.phase = ""
        self.probes: list[Probe] = []
        self._sent = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(workers) if workers > 0 else None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    @property
    def sent(self) -> int:
        return self._sent

    def _reserve(self) -> None:
        with self._lock:
            if self._sent >= self.budget:
                raise BudgetSpent
            self._sent += 1

    def _request(self, kind: Kind, phase: str) -> Probe:
        sent = self.now()
        try:
            if kind == "try-on":
                answer = self.http.post(TRY_ON, json=PROBE_BODY)
            else:
                answer = self.http.get(JOB.format(job_id=uuid.uuid4()))
        except httpx.HTTPError as exc:
            raise Unexpected(f"{kind} got no answer ({type(exc).__name__})") from None
        probe = Probe(
            phase,
            kind,
            round(sent - self.start, 4),
            round(self.now() - sent, 4),
            answer.status_code,
            answer.headers.get("retry-after"),
        )
        with self._lock:
            self.probes.append(probe)
        if answer.status_code == 401 or answer.status_code >= 500:
            raise Unexpected(f"a {kind} probe was answered {answer.status_code}")
        return probe

    def send(self, kind: Kind) -> Probe:
        """One probe, on this thread."""
        self._reserve()
        return self._request(kind, self.phase)

    def _submit(self, kind: Kind) -> Future[Probe]:
        self._reserve()
        if self._pool is not None:
            return self._pool.submit(self._request, kind, self.phase)
        done: Future[Probe] = Future()
        try:
            done.set_result(self._request(kind, self.phase))
        except Unexpected as exc:
            done.set_exception(exc)
        return done

    def _gather(self, futures: list[Future[Probe]]) -> list[Probe]:
        return [f.result() for f in futures]

    def wave(self, kind: Kind, n: int) -> list[Probe]:
        """`n` probes at once (back to back when sequential)."""
        futures: list[Future[Probe]] = []
        try:
            for _ in range(n):
                futures.append(self._submit(kind))
        finally:
            answers = self._gather(futures)
        return answers

    def paced(self, kind: Kind, rate: float, seconds: float) -> list[Probe]:
        """Probes at a fixed offered `rate` for `seconds`, each on its slot of the schedule."""
        futures: list[Future[Probe]] = []
        begin = self.now()
        try:
            for i in range(max(1, int(rate * seconds))):
                self.sleep(max(0.0, begin + i / rate - self.now()))
                futures.append(self._submit(kind))
        finally:
            answers = self._gather(futures)
        return answers


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
    raise Unexpected(f"no 429 within {4 * size} requests sent in waves of {size}")


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
    while True:
        try:
            answers = p.wave("try-on", s.wave)
        except BudgetSpent:
            admitted = sum(not q.limited for q in p.probes if q.phase == "burst")
            return _not_measured(
                "burst",
                SILENT,
                f"budget ({admitted} admitted back to back, no 429: the target may not limit "
                "refused requests, or its burst is larger)",
            )
        if any(q.limited for q in answers):
            break
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
    times = [q.mid for q in answers if not q.limited]
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
        wait = parse_retry_after(header)
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
    admitted = sum(outcomes)
    refused_n = len(outcomes) - admitted
    detail = (
        f"after waiting Retry-After ({', '.join(sorted(values))}), "
        f"{admitted} of {len(outcomes)} admitted"
    )
    if conservative:
        detail += f"; {conservative}"
    if refused_n * 2 > len(outcomes):
        return Measure(
            name, f"no ({refused_n} of {len(outcomes)} refused)", SILENT, "dishonest", 0.0, detail
        )
    if admitted * 2 > len(outcomes):
        verdict = "conservative" if conservative else "honest"
        return Measure(name, f"yes ({admitted} of {len(outcomes)})", SILENT, verdict, 1.0, detail)
    return Measure(name, "inconclusive", SILENT, "inconclusive", None, detail)


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


def judge(measures: Sequence[Measure]) -> tuple[bool, str]:
    """ok (the rate measured, Retry-After not dishonest) and the one-line verdict."""
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
        else f"rate {rate.measured}"
    )
    return ok, f"{rate_text}; burst {by['burst'].measured}; Retry-After {honest.verdict}"


# -- output -------------------------------------------------------------------------------


def table(measures: Sequence[Measure]) -> str:
    """The console table: measure, measured, documented, verdict."""
    rows = [("measure", "measured", "documented", "verdict")]
    rows += [(m.name, m.measured, m.documented, m.verdict) for m in measures]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
        for r in rows
    )


def _timeline(probes: Sequence[Probe]) -> str:
    """Admitted and refused probes per 100 ms, as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = int(max((q.sent for q in probes), default=0) * 10) + 1
    admitted, refused = [0] * bins, [0] * bins
    for q in probes:
        (refused if q.limited else admitted)[int(q.sent * 10)] += 1
    xs = [i / 10 for i in range(bins)]
    figure, axes = plt.subplots(figsize=(9, 3.2), dpi=100)
    axes.bar(xs, admitted, width=0.1, align="edge", color="#12b76a", label="admitted")
    axes.bar(xs, refused, width=0.1, align="edge", bottom=admitted, color="#f04438", label="429")
    axes.set_xlabel("seconds into the probe")
    axes.set_ylabel("requests per 100 ms")
    axes.legend(loc="upper right", fontsize=8)
    axes.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


def write_report(
    folder: Path,
    *,
    target: str,
    settings: Settings,
    measures: Sequence[Measure],
    probes: Sequence[Probe],
) -> dict[str, Any]:
    """reports/limiter.json and limiter.html, then the index; returns the JSON data."""
    from tryon_suite.load.report import write_index
    from tryon_suite.report.render import _environment

    ok, verdict = judge(measures)
    data: dict[str, Any] = {
        "kind": "limiter",
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "verdict": verdict,
        "ok": ok,
        "html": "limiter.html",
        "target": target,
        "documented_rate": DOCUMENTED_RATE,
        "settings": asdict(settings),
        "requests": len(probes),
        "measures": [asdict(m) for m in measures],
        "probes": [{**asdict(q), "limited": q.limited} for q in probes],
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "limiter.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    html = (
        _environment()
        .get_template("limiter.html.j2")
        .render(report=data, chart=_timeline(probes) if probes else None)
    )
    (folder / "limiter.html").write_text(html, encoding="utf-8")
    write_index(folder)
    return data


# -- command line -------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"tryon-suite limiter: error: {message}\n")


def _positive(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    """The command line of `tryon-suite limiter`."""
    d = Settings()
    p = _Parser(
        prog="tryon-suite limiter",
        description="Measure a Try-On API target's rate limit with free requests (a try-on "
        "without images, a poll of an unknown job): burst, sustained rate, whether Retry-After "
        f"is honest, whether polls count, recovery; against the documented {DOCUMENTED_RATE:g}/s. "
        "The key comes from TRYON_API_KEY. Writes limiter.html and limiter.json. Exit 0: the "
        "rate measured and Retry-After honest, conservative or not sent; 1: Retry-After "
        "dishonest, or the rate not measured; 2: bad options; 4: the target or the key cannot "
        "be used. A rate other than 5/s is reported, not failed (the vendor says 'commonly').",
    )
    p.add_argument("--host", required=True, metavar="URL", help="the API's root, before /v1")
    p.add_argument(
        "--budget",
        type=int,
        default=d.budget,
        help=f"most requests to send (default {d.budget}; the preflight's one or two come on top)",
    )
    p.add_argument(
        "--probe-rate",
        type=_positive,
        default=d.probe_rate,
        metavar="PER_SECOND",
        help=f"offered rate while timing the sustained rate (default {d.probe_rate:g})",
    )
    p.add_argument(
        "--window",
        type=_positive,
        default=d.window,
        metavar="SECONDS",
        help=f"how long the sustained rate is timed (default {d.window:g})",
    )
    p.add_argument(
        "--max-wait",
        type=_positive,
        default=d.max_wait,
        metavar="SECONDS",
        help=f"the longest Retry-After waited out (default {d.max_wait:g})",
    )
    p.add_argument("--report-dir", default="reports", help="where the report goes (reports)")
    return p


def main(argv: Sequence[str] | None = None, transport: httpx.BaseTransport | None = None) -> int:
    """Measure the target named by --host; the exit code as --help states it."""
    from tryon_suite.errors import PreflightError
    from tryon_suite.preflight import KeyToCheck, preflight

    args = parser().parse_args(argv)
    if args.budget < 1:
        print(
            f"tryon-suite limiter: error: expected --budget >= 1, got {args.budget}",
            file=sys.stderr,
        )
        return 2
    key = Secret(os.environ.get("TRYON_API_KEY", ""))
    if not key:
        print(
            "tryon-suite limiter: error: expected the key in TRYON_API_KEY, got none",
            file=sys.stderr,
        )
        return 2
    host = args.host.rstrip("/")
    try:
        preflight(host, [KeyToCheck(key, "TRYON_API_KEY")], transport=transport, sleep=time.sleep)
    except PreflightError as exc:
        # preflight speaks of the suite's option; this command's is --host
        message = str(exc).replace("--tryon-base-url", "--host")
        print(f"tryon-suite limiter: {message}", file=sys.stderr)
        return 4
    settings = Settings(args.budget, args.probe_rate, args.window, max_wait=args.max_wait)
    headers = {"X-API-KEY": key.reveal()}
    with httpx.Client(base_url=host, headers=headers, transport=transport, timeout=10.0) as http:
        prober = Prober(http, time.monotonic, time.sleep, settings.budget)
        try:
            measures = measure(prober, settings)
        finally:
            prober.close()
    data = write_report(
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
    print(("ok: " if data["ok"] else "NOT OK: ") + data["verdict"])
    return 0 if data["ok"] else 1

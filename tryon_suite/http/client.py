"""The one client layer: pacing, the retry loop, a request budget, and a record of every
exchange (as it came, keys masked only where shown) for the report. The request bodies and
endpoints are `tryon_suite.http.request`; the budget and the credit account
`tryon_suite.http.account`.

The contract suite and the load scenarios both send through `TryOnClient`; what differs is the
httpx transport under it (the network, the in-process simulator, Locust's client) and the
clock it sleeps on. Following a job is `tryon_suite.http.polling`.
"""

from __future__ import annotations

import functools
import random
import ssl
import time
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any, Final

import httpx

from tryon_suite.http.account import (
    Budget,
    BudgetExhausted,
    CreditBudgetExhausted,
    Credits,
    is_paid,
)
from tryon_suite.http.exchange import Exchange, exchange_of, record_exchange
from tryon_suite.http.request import (
    CREDITS,
    JOB,
    NAME,
    TRY_ON,
    Endpoint,
    TryOnRequest,
    endpoint,
    request_name,
)
from tryon_suite.http.retry import (
    Pacer,
    RetryDecision,
    RetryLoop,
    RetryPolicy,
    RetryState,
    parse_retry_after,
)
from tryon_suite.http.secret import Secret, reveal
from tryon_suite.http.watch import RequestKind, Watch

__all__ = [
    "CREDITS",
    "DEFAULT_KEY",
    "JOB",
    "NAME",
    "TRY_ON",
    "Budget",
    "BudgetExhausted",
    "CreditBudgetExhausted",
    "Credits",
    "Endpoint",
    "Exchange",
    "LocallyThrottled",
    "OnAnswer",
    "TryOnClient",
    "TryOnRequest",
    "endpoint",
    "exchange_of",
    "is_paid",
    "request_name",
    "tls_context",
]

#: Called with every answer and what the retry policy decided about it (None: not retried by
#: request of the caller); load scenarios count 429s, retries and give-ups through it.
OnAnswer = Callable[[httpx.Response, "RetryDecision | None"], None]


class _DefaultKey:
    def __repr__(self) -> str:
        return "DEFAULT_KEY"


#: Send the client's own key (as opposed to None, no key, or another key).
DEFAULT_KEY: Final = _DefaultKey()


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client of the run: loading the CA bundle costs about 50 ms,
    and a contract run makes a client per check."""
    return ssl.create_default_context()


class LocallyThrottled(httpx.TransportError):
    """The client's adaptive throttle refused a request, and its retries, locally: nothing was
    sent. A transport error by kind, so code that handles "no answer" handles it too."""


@functools.lru_cache(maxsize=4096)
def _resolve(base_url: str, path_or_url: str) -> str:
    """`path_or_url` against `base_url` (a URL is taken as it is); parsed once per pair, as a
    load run sends the same few thousand times."""
    if httpx.URL(path_or_url).is_absolute_url:
        return path_or_url
    return base_url + "/" + path_or_url.lstrip("/")


class TryOnClient:
    """Talks to one target: paced, retried (429 and transient 5xx), counted and recorded."""

    def __init__(
        self,
        base_url: str,
        key: Secret | str,
        *,
        other_key: Secret | None = None,
        no_credits_key: Secret | None = None,
        http: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        pacer: Pacer | None = None,
        retry: RetryPolicy | None = None,
        retry_state: RetryState | None = None,
        budget: Budget | None = None,
        wallet: Credits | None = None,
        may_spend: bool = True,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = 0,
        record: bool = True,
        on_answer: OnAnswer | None = None,
        watch: Watch | None = None,
    ) -> None:
        """`transport` (or a ready `http` client) says how requests travel; `now` and `sleep`
        are the clock retries, pacing and polling run on; `record` keeps every exchange for
        the report (a load run turns it off); `seed` None draws backoff jitter unseeded.
        `retry_state` is what the policy remembers across requests (a retry budget, the adaptive
        throttle's counts): by default this client's own, or one shared by several clients.
        `wallet` counts the run's successes; with `may_spend`, each try-on reserves a credit
        before it goes (a check the contract says is refused sends without one)."""
        self.base_url = base_url.rstrip("/")
        self.key = Secret(key)
        self._roles = {
            reveal(k): role
            for k, role in ((no_credits_key, "no-credits key"), (other_key, "other key"))
            if k
        }
        self._roles[self.key.reveal()] = "run key"
        # A sync try-on waits for an image model: tens of seconds are normal.
        self.http = http or httpx.Client(
            timeout=httpx.Timeout(300.0, connect=10.0),
            verify=tls_context(),
            transport=transport,
        )
        #: a transport that needs none of httpx.Client's machinery (its own timeouts, no
        #: cookies; redirects still go through the client): sent to directly, which a load
        #: run's harness time shows
        self._direct: httpx.BaseTransport | None = (
            transport if getattr(transport, "direct", False) else None
        )
        self.pacer = pacer
        self.retry = retry or RetryPolicy("retry-after")
        self.retry_state = retry_state or self.retry.new_state(now)
        self.budget = budget or Budget()
        self.wallet = wallet or Credits()
        self.may_spend = may_spend
        self.now = now
        self.sleep = sleep
        self._rng = random.Random(seed)
        self._record = record
        self._on_answer = on_answer
        #: a live run's timeouts per kind of request, deadline and liveness (None: none)
        self.watch = watch
        self.secrets = tuple(Secret(k) for k in (self.key, other_key, no_credits_key) if k)
        self.exchanges: list[Exchange] = []
        self.retries = 0
        #: attempts the adaptive throttle refused locally (never sent)
        self.locally_throttled = 0

    def also_secret(self, *values: str) -> None:
        """Mask `values` too wherever this client's exchanges are shown: keys a check made
        from the run key (almost right), which the run key's mask would not cover."""
        self.secrets = (*self.secrets, *(Secret(v) for v in values if v))

    # -- the API --------------------------------------------------------------------------

    def try_on(
        self,
        body: TryOnRequest,
        *,
        key: Secret | str | _DefaultKey | None = DEFAULT_KEY,
        retry: bool = True,
        prepaid: bool = False,
    ) -> httpx.Response:
        return self.send("POST", TRY_ON, key=key, retry=retry, body=body, prepaid=prepaid)

    def job(
        self,
        location: str,
        *,
        key: Secret | str | _DefaultKey | None = DEFAULT_KEY,
        retry: bool = True,
    ) -> httpx.Response:
        """GET a job by its Location: a URL or a reference resolved against the try-on URL."""
        return self.send("GET", self.location_url(location), key=key, retry=retry)

    def job_by_id(
        self, job_id: str, *, key: Secret | str | _DefaultKey | None = DEFAULT_KEY
    ) -> httpx.Response:
        """GET /v1/try-on/job/{job_id}: the documented path, for a job known by its id."""
        return self.send("GET", f"{TRY_ON}/job/{job_id}", key=key)

    def credits(self, *, key: Secret | str | _DefaultKey | None = DEFAULT_KEY) -> httpx.Response:
        return self.send("GET", CREDITS, key=key)

    def download(self, url: str) -> httpx.Response:
        """Fetch a result URL without pacing, following redirects (a result URL may fairly
        redirect to signed storage). The key goes only to the API's own origin: a result
        served there may sit behind it, one on a CDN must not receive it."""
        absolute = httpx.URL(self.url(url))
        same_origin = absolute.copy_with(path="/", query=None, fragment=None) == httpx.URL(
            self.base_url
        ).copy_with(path="/", query=None, fragment=None)
        key = DEFAULT_KEY if same_origin else None
        return self.send("GET", str(absolute), key=key, pace=False, follow_redirects=True)

    # -- the machinery --------------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        """Resolve a path (or take a URL) against the target's base URL."""
        return _resolve(self.base_url, path_or_url)

    def location_url(self, location: str) -> str:
        """A 202's Location resolved as RFC 3986 says: against the URL of the request that got
        it (POST {base}/v1/try-on), so `try-on/job/x`, `/v1/try-on/job/x` and an absolute URL
        all name the same job."""
        return str(httpx.URL(self.url(TRY_ON)).join(location.strip()))

    def send(
        self,
        method: str,
        path_or_url: str,
        *,
        key: Secret | str | _DefaultKey | None = DEFAULT_KEY,
        retry: bool = True,
        pace: bool = True,
        body: TryOnRequest | None = None,
        prepaid: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """`prepaid`: the caller reserved this try-on's credit itself (`Credits.reserve`)."""
        headers = {k: reveal(v) for k, v in (kwargs.pop("headers", None) or {}).items()}
        chosen = self.key if isinstance(key, _DefaultKey) else key
        if chosen is not None:
            headers["X-API-KEY"] = reveal(chosen)
        if body is not None:
            kwargs.update(body.httpx_kwargs())
            if body.encoded is not None:
                headers["Content-Type"] = body.encoded[1]
        name = request_name(method, self.url(path_or_url), body)
        paid_call = endpoint(method, self.url(path_or_url)) == "try-on"
        if self.watch is not None:
            kind: RequestKind = "poll"
            if not pace and kwargs.get("follow_redirects"):
                kind = "download"
            elif paid_call and body is not None and body.waits:
                kind = "sync"
            kwargs["extensions"] = {"timeout": self.watch.timeouts.of(kind).as_dict()}
        reserved = paid_call and self.may_spend and not prepaid
        if reserved:
            self.wallet.reserve()
        response = None
        try:
            response = self._send(method, path_or_url, headers, kwargs, body, name, retry, pace)
            return response
        finally:
            if paid_call:
                paid = response is not None and is_paid(response.status_code)
                self.wallet.settle(reserved or prepaid, paid)

    def _send(
        self,
        method: str,
        path_or_url: str,
        headers: dict[str, str],
        kwargs: dict[str, Any],
        body: TryOnRequest | None,
        name: str,
        retry: bool,
        pace: bool,
    ) -> httpx.Response:
        follow_redirects = bool(kwargs.pop("follow_redirects", False))
        loop = RetryLoop(self.retry_state, self._rng)
        alone = False
        asked_again = False
        while True:
            direct = self._direct if not follow_redirects else None
            build = httpx.Request if direct is not None else self.http.build_request
            extensions = {NAME: name, **kwargs.get("extensions", {})}
            sent = {k: v for k, v in kwargs.items() if k != "extensions"}
            request = build(
                method, self.url(path_or_url), headers=headers, extensions=extensions, **sent
            )
            refused = loop.admit()
            if refused is not None:
                self.locally_throttled += 1
                if not retry or refused.delay is None:
                    raise LocallyThrottled(
                        f"expected the adaptive throttle to let {name} go, it refused it "
                        f"locally ({refused.reason}); nothing was sent",
                        request=request,
                    )
                self.retries += 1
                self.sleep(refused.delay)
                continue
            self.budget.spend()
            slot = None
            if pace and self.pacer is not None:
                slot = self.pacer.wait(alone=alone)
            started = time.perf_counter()
            watching = self.watch.sending() if self.watch is not None else nullcontext()
            try:
                with watching:
                    if direct is not None:
                        response = direct.handle_request(request)
                        response.read()
                    elif self.watch is not None:
                        response = self._within_timeout(request, follow_redirects)
                    else:
                        response = self.http.send(request, follow_redirects=follow_redirects)
                        response.read()
                if self.watch is not None:
                    self.watch.answered()
            except httpx.HTTPError as exc:
                loop.failed()
                self._keep(request, body, None, time.perf_counter() - started, repr(exc))
                if self.watch is not None:
                    # the target stopped answering altogether: RunStopped; else the request's
                    # own failure, raised for its check to judge once asked again: a
                    # connection closed or reset as it was reused is the network's, not the
                    # API's (a request that waited its whole timeout is not sent twice)
                    self.watch.failed(exc)
                    if not asked_again and not isinstance(exc, httpx.TimeoutException):
                        asked_again = True
                        if self._record:
                            self.exchanges[
                                -1
                            ].note = f"{exc!r}; the target answered others: asked once more"
                        continue
                raise
            self._keep(request, body, response, time.perf_counter() - started)
            if not retry or (method == "POST" and response.status_code >= 500):
                # A POST that may have started paid work is not sent twice on a 5xx.
                loop.answered(response.status_code, None, retry=False)
                self._answered(response, None)
                self._hold_on_429(response, slot)
                return response
            decision = loop.answered(response.status_code, response.headers.get("retry-after"))
            self._answered(response, decision)
            if decision.gave_up and self._ask_alone(response, slot, alone):
                alone = True
                continue
            if decision.delay is None:
                self._hold_on_429(response, slot)
                return response
            self.retries += 1
            if self._record:
                self.exchanges[
                    -1
                ].note = f"retried after {decision.delay:.2f} s ({decision.reason})"
            if response.status_code == 429 and pace and self.pacer is not None:
                # the whole run waits, not only this request: the pacer holds every sender,
                # and goes slower after (the pace was above the target's limit)
                if slot is not None:
                    self.pacer.slow_down(slot)
                self.pacer.hold(decision.delay)
            else:
                self.sleep(decision.delay)

    def _within_timeout(self, request: httpx.Request, follow_redirects: bool) -> httpx.Response:
        """Send and read the whole answer within the request's read timeout, counted from the
        send: httpx bounds each read, so a body that trickles in a byte at a time would hold
        the run for ever; past the timeout it is a ReadTimeout, as a silent answer is."""
        limit = float(request.extensions.get("timeout", {}).get("read") or 300.0)
        started = self.now()
        response = self.http.send(request, follow_redirects=follow_redirects, stream=True)
        try:
            chunks = []
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                if self.now() - started > limit:
                    raise httpx.ReadTimeout(
                        f"expected the whole answer within {limit:g} s, it was still coming",
                        request=request,
                    )
            response._content = b"".join(chunks)  # what Response.read() does
        finally:
            response.close()
        return response

    def _ask_alone(self, response: httpx.Response, slot: int | None, asked: bool) -> bool:
        """A paced request refused 429 through every retry is asked once more, alone: the whole
        run pauses for the 429's wait, then it goes first. Many threads under one limit can
        starve one request; a request refused even then was refused for itself, and the check
        that keeps that 429 judges an answer the limit alone does not explain."""
        if asked or slot is None or response.status_code != 429 or self.pacer is None:
            return False
        wait = self._hold_on_429(response, slot)
        self.retries += 1
        if self._record:
            self.exchanges[-1].note = (
                f"refused through every retry: asked once more, alone, after the run paused "
                f"{wait:.2f} s"
            )
        return True

    def _hold_on_429(self, response: httpx.Response, slot: int | None) -> float:
        """A 429 the caller keeps (a check provoking it, a policy that gave up) still pauses
        the run's other senders for what it asked: the limit is the account's, not one test's.
        Refusing a paced request, it also slows the pace (a burst's refusals do not). Returns
        the pause (0: none)."""
        if response.status_code != 429 or self.pacer is None:
            return 0.0
        if slot is not None:
            self.pacer.slow_down(slot)
        asked = parse_retry_after(response.headers.get("retry-after"))
        wait = 1.0 if asked is None else min(asked, self.retry.max_delay)
        self.pacer.hold(wait)
        return wait

    def _answered(self, response: httpx.Response, decision: RetryDecision | None) -> None:
        if self._on_answer is not None:
            self._on_answer(response, decision)

    def _keep(
        self,
        request: httpx.Request,
        body: TryOnRequest | None,
        response: httpx.Response | None,
        elapsed: float,
        note: str = "",
    ) -> None:
        if self._record:
            self.exchanges.append(
                record_exchange(
                    request,
                    body,
                    response,
                    elapsed,
                    roles=self._roles,
                    secrets=self.secrets,
                    note=note,
                )
            )

    def close(self) -> None:
        self.http.close()

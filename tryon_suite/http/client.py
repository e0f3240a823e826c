"""The one client layer: `TryOnClient`, the API's calls over a `Stack` of httpx transports.

Each concern is a transport wrapping the next (`handle_request`), told per request through
`request.extensions` (the client sets them). Outermost first, and why in this order:

1. `CreditsTransport`: a try-on's credit is reserved once, whatever its attempts, and settled
   on the answer its caller gets;
2. `RetryTransport`: each attempt below is one the policy let go, so every later layer sees,
   counts, paces and records retries as requests; its local refusals send nothing;
3. `BudgetTransport`: counts each attempt sent, and refuses before the pace is waited for;
4. `PaceTransport`: the wait for a slot of the run's one `Pacer`; the answer says which, so
   the retries above hold the run and slow the pace on a 429;
5. `WatchTransport` (live runs): in flight from after the pace's wait to the answer; on a
   lost answer it probes the target, once the attempt is recorded;
6. `RecordTransport`: times and keeps each attempt as an `Exchange`;
7. `WireTransport`: httpx.Client's machinery (or Locust's session, `direct`), a redirect chain
   followed as one attempt, the answer read whole.

The contract suite and the load scenarios both send through `TryOnClient`; what differs is the
transport under the stack (the network, the in-process simulator, Locust's client) and the
clock it waits on. Following a job is `tryon_suite.http.polling`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Final

import httpx

from tryon_suite.http.account import (
    PREPAID,
    Budget,
    BudgetExhausted,
    BudgetTransport,
    CreditBudgetExhausted,
    Credits,
    CreditsTransport,
    is_paid,
)
from tryon_suite.http.exchange import BODY, KEYS, Exchange, Keys, RecordTransport, exchange_of
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
from tryon_suite.http.retry import Pacer, RetryPolicy, RetryState
from tryon_suite.http.retrying import (
    AGAIN,
    PACE,
    RETRY,
    LocallyThrottled,
    OnAnswer,
    PaceTransport,
    RetryTransport,
)
from tryon_suite.http.secret import Secret, reveal
from tryon_suite.http.watch import KIND, RequestKind, Watch, WatchTransport
from tryon_suite.http.wire import FOLLOW, WireTransport, tls_context

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
    "Stack",
    "TryOnClient",
    "TryOnRequest",
    "endpoint",
    "exchange_of",
    "is_paid",
    "request_name",
    "tls_context",
]


class _DefaultKey:
    def __repr__(self) -> str:
        return "DEFAULT_KEY"


#: Send the client's own key (as opposed to None, no key, or another key).
DEFAULT_KEY: Final = _DefaultKey()


@functools.lru_cache(maxsize=4096)
def _resolve(base_url: str, path_or_url: str) -> str:
    """`path_or_url` against `base_url` (a URL is taken as it is); parsed once per pair, as a
    load run sends the same few thousand times."""
    if httpx.URL(path_or_url).is_absolute_url:
        return path_or_url
    return base_url + "/" + path_or_url.lstrip("/")


class Stack(httpx.BaseTransport):
    """A client's transports composed over `transport` (None: the network), outermost first
    (the module's docstring says why): one per client, as it keeps the client's counts, its
    record and its backoff jitter.

    Each setting goes to its own layer: `credits` and `may_spend` (each try-on reserves a credit
    before it goes) to the credits account; `retry` (a policy, or the state several clients
    share), `seed` (None: jitter unseeded) and `on_answer` to the retries; `budget` to the
    request count; `pacer` to the pace; `watch` (a live run's timeouts and liveness) to the
    watch; `record` keeps every exchange (a load run turns it off). `now` and `sleep` are the
    clock retries and the whole answer's bound run on."""

    def __init__(
        self,
        transport: httpx.BaseTransport | None = None,
        *,
        credits: Credits | None = None,
        may_spend: bool = True,
        retry: RetryPolicy | RetryState | None = None,
        seed: int | None = 0,
        on_answer: OnAnswer | None = None,
        budget: Budget | None = None,
        pacer: Pacer | None = None,
        watch: Watch | None = None,
        record: bool = True,
        now: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.now = now
        self.wire = WireTransport(transport, now=now)
        self.exchanges: list[Exchange] = []
        inner: httpx.BaseTransport = self.wire
        if record:
            inner = RecordTransport(inner, self.exchanges)
        if watch is not None:
            inner = WatchTransport(inner, watch)
        self.pacing = PaceTransport(inner, pacer)
        self.retrying = RetryTransport(
            BudgetTransport(self.pacing, budget or Budget()),
            retry,
            sleep=sleep,
            now=now,
            seed=seed,
            on_answer=on_answer,
            ask_again=watch is not None,
        )
        self._top = CreditsTransport(self.retrying, credits or Credits(), may_spend=may_spend)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._top.handle_request(request)

    def close(self) -> None:
        self._top.close()


class TryOnClient:
    """Talks to one target: paced, retried (429 and transient 5xx), counted and recorded."""

    def __init__(
        self,
        base_url: str,
        key: Secret | str,
        *,
        other_key: Secret | None = None,
        no_credits_key: Secret | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`other_key` and `no_credits_key` are masked wherever an exchange is shown, and named
        by role in it. `transport` is a `Stack`, or what reaches the target (None: the network)
        under a stack with its defaults: unpaced, retried by Retry-After, recorded."""
        self.base_url = base_url.rstrip("/")
        self.key = Secret(key)
        roles = {
            reveal(k): role
            for k, role in ((no_credits_key, "no-credits key"), (other_key, "other key"))
            if k
        }
        roles[self.key.reveal()] = "run key"
        secrets = tuple(Secret(k) for k in (self.key, other_key, no_credits_key) if k)
        self._keys = Keys(roles, secrets)
        self.stack = transport if isinstance(transport, Stack) else Stack(transport)

    @property
    def secrets(self) -> tuple[Secret, ...]:
        return self._keys.secrets

    def also_secret(self, *values: str) -> None:
        """Mask `values` too wherever this client's exchanges are shown: keys a check made
        from the run key (almost right), which the run key's mask would not cover."""
        extra = tuple(Secret(v) for v in values if v)
        self._keys = replace(self._keys, secrets=(*self._keys.secrets, *extra))

    # -- what its layers keep -------------------------------------------------------------

    @property
    def exchanges(self) -> list[Exchange]:
        """Every attempt recorded, in order (none when the stack does not record)."""
        return self.stack.exchanges

    @property
    def retries(self) -> int:
        return self.stack.retrying.retries

    @property
    def locally_throttled(self) -> int:
        """Attempts the adaptive throttle refused locally (never sent)."""
        return self.stack.retrying.locally_throttled

    @property
    def retry(self) -> RetryPolicy:
        return self.stack.retrying.policy

    @property
    def pacer(self) -> Pacer | None:
        return self.stack.pacing.pacer

    @pacer.setter
    def pacer(self, pacer: Pacer | None) -> None:
        self.stack.pacing.pacer = pacer

    @property
    def now(self) -> Callable[[], float]:
        return self.stack.now

    @property
    def sleep(self) -> Callable[[float], None]:
        """What waits, between retries and between polls."""
        return self.stack.retrying.sleep

    @sleep.setter
    def sleep(self, sleep: Callable[[float], None]) -> None:
        self.stack.retrying.sleep = sleep

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
        url = self.url(path_or_url)
        follow_redirects = bool(kwargs.pop("follow_redirects", False))
        kind: RequestKind = "poll"
        if not pace and follow_redirects:
            kind = "download"
        elif endpoint(method, url) == "try-on" and body is not None and body.waits:
            kind = "sync"
        name, keys = request_name(method, url, body), self._keys
        given = kwargs.pop("extensions", {})

        def build() -> httpx.Request:
            """The request, told what each layer needs to know of it; built afresh for each
            attempt, as the retries ask (`AGAIN`)."""
            extensions = {
                NAME: name,
                KIND: kind,
                RETRY: retry,
                PACE: pace,
                PREPAID: prepaid,
                FOLLOW: follow_redirects,
                BODY: body,
                KEYS: keys,
                AGAIN: build,
                **given,
            }
            return self.stack.wire.build(
                method,
                url,
                follow_redirects=follow_redirects,
                headers=headers,
                extensions=extensions,
                **kwargs,
            )

        return self.stack.handle_request(build())

    def close(self) -> None:
        self.stack.close()

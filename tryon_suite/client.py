"""The one client layer: request builders, pacing, retries, a request budget, and a record of
every exchange (keys redacted) for the report. Contract tests and load scenarios both use it."""

from __future__ import annotations

import functools
import random
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import httpx

from tryon_suite.curl import curl_command
from tryon_suite.errors import TryonError
from tryon_suite.redact import redact_headers, scrub
from tryon_suite.retry import Pacer, RetryPolicy
from tryon_suite.secret import Secret, reveal

__all__ = [
    "DEFAULT_KEY",
    "Budget",
    "BudgetExhausted",
    "Exchange",
    "TryOnClient",
    "TryOnRequest",
    "exchange_of",
]

TRY_ON: Final = "/v1/try-on"
CREDITS: Final = "/v1/credits"


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


class BudgetExhausted(TryonError):
    """The run's request budget is spent: what remains is not checked, never passed."""


class Budget:
    """The most requests a run may send (None: no limit); counts what was sent."""

    def __init__(self, limit: int | None = None) -> None:
        self.limit = limit
        self.sent = 0

    def spend(self) -> None:
        if self.limit is not None and self.sent >= self.limit:
            raise BudgetExhausted(
                f"expected at most {self.limit} requests (--tryon-budget), all are spent"
            )
        self.sent += 1

    @property
    def left(self) -> int | None:
        return None if self.limit is None else self.limit - self.sent


@dataclass(frozen=True)
class TryOnRequest:
    """A try-on body, JSON or multipart, that knows how to send and describe itself."""

    kind: Literal["json", "multipart"]
    fields: Mapping[str, Any]
    files: Mapping[str, tuple[str, bytes, str]] = field(default_factory=dict)

    @classmethod
    def json(cls, **fields: Any) -> TryOnRequest:
        return cls("json", fields)

    @classmethod
    def multipart(
        cls, files: Mapping[str, tuple[str, bytes, str]] | None = None, **fields: Any
    ) -> TryOnRequest:
        """Flags may be given as booleans; they travel as the text true or false."""
        text = {
            k: (("true" if v else "false") if isinstance(v, bool) else v) for k, v in fields.items()
        }
        return cls("multipart", text, dict(files or {}))

    def httpx_kwargs(self) -> dict[str, Any]:
        if self.kind == "json":
            return {"json": dict(self.fields)}
        # Text fields go in as parts without a filename, so the body is multipart even when
        # no file is sent (httpx would otherwise fall back to a urlencoded form).
        parts: list[tuple[str, Any]] = [(k, (None, str(v))) for k, v in self.fields.items()]
        parts += list(self.files.items())
        return {"files": parts}

    def encode(self) -> tuple[bytes, dict[str, str]]:
        """The body bytes and Content-Type, for clients other than httpx (Locust's, say)."""
        request = httpx.Request("POST", "http://encode.invalid/", **self.httpx_kwargs())
        return request.read(), {"Content-Type": request.headers["content-type"]}

    def with_fields(self, **changes: Any) -> TryOnRequest:
        merged = {**self.fields, **changes}
        return TryOnRequest(
            self.kind, {k: v for k, v in merged.items() if v is not None}, self.files
        )

    @property
    def waits(self) -> bool:
        value = self.fields.get("wait_for_result", True)
        return value is True or (isinstance(value, str) and value.lower() == "true")


@dataclass
class Exchange:
    """One request and its answer, as the report shows them: keys redacted, bodies summarised."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    request_images: list[tuple[str, bytes]]
    status: int | None
    response_headers: dict[str, str]
    response_body: str
    response_image: bytes | None
    elapsed: float
    note: str = ""
    #: whose key went with the request: "run key", "other key", "no-credits key", "no key",
    #: or "another value" (a deliberately wrong key)
    key_role: str = "run key"
    #: a command that sends the same request, the key as $TRYON_API_KEY
    curl: str = ""

    @property
    def path(self) -> str:
        return httpx.URL(self.url).path


#: Where a response keeps the Exchange that recorded it (a check's evidence points at it).
_EXCHANGE: Final = "tryon_suite.exchange"


def exchange_of(response: httpx.Response | None) -> Exchange | None:
    """The recorded exchange behind a response from TryOnClient, if any."""
    if response is None:
        return None
    found = response.extensions.get(_EXCHANGE)
    return found if isinstance(found, Exchange) else None


def _describe_request(
    request: httpx.Request, sent: TryOnRequest | None
) -> tuple[str, list[tuple[str, bytes]]]:
    if sent is not None and sent.kind == "multipart":
        parts = [f"{name} = {value!r}" for name, value in sent.fields.items()]
        images = []
        for name, (filename, data, mime) in sent.files.items():
            parts.append(f"{name} = file {filename!r} ({mime}, {len(data):,} bytes)")
            images.append((name, data))
        return "multipart/form-data parts:\n" + "\n".join(parts), images
    content = request.content
    if len(content) > 4000:
        return f"<{len(content):,} bytes>", []
    return content.decode("utf-8", "replace"), []


def _curl(request: httpx.Request, sent: TryOnRequest | None, role: str) -> str:
    headers = dict(request.headers.items())
    url = str(request.url)
    if sent is not None and sent.kind == "multipart":
        files = {name: (f, len(data), mime) for name, (f, data, mime) in sent.files.items()}
        return curl_command(request.method, url, headers, role, form=dict(sent.fields), files=files)
    if sent is not None:
        return curl_command(request.method, url, headers, role, json_text=request.content.decode())
    raw = request.content if request.method != "GET" else None
    return curl_command(request.method, url, headers, role, raw=raw)


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
        pacer: Pacer | None = None,
        retry: RetryPolicy | None = None,
        budget: Budget | None = None,
        sleep: Callable[[float], None] = time.sleep,
        seed: int = 0,
    ) -> None:
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
            timeout=httpx.Timeout(300.0, connect=10.0), verify=tls_context()
        )
        self.pacer = pacer
        self.retry = retry or RetryPolicy("retry-after")
        self.budget = budget or Budget()
        self._sleep = sleep
        self._rng = random.Random(seed)
        self.secrets = tuple(Secret(k) for k in (self.key, other_key, no_credits_key) if k)
        self.exchanges: list[Exchange] = []
        self.retries = 0

    # -- the API --------------------------------------------------------------------------

    def try_on(
        self,
        body: TryOnRequest,
        *,
        key: Secret | str | _DefaultKey | None = DEFAULT_KEY,
        retry: bool = True,
    ) -> httpx.Response:
        return self.send("POST", TRY_ON, key=key, retry=retry, body=body)

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

    def credits(self) -> httpx.Response:
        return self.send("GET", CREDITS)

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
        if httpx.URL(path_or_url).is_absolute_url:
            return path_or_url
        return self.base_url + "/" + path_or_url.lstrip("/")

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
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {k: reveal(v) for k, v in (kwargs.pop("headers", None) or {}).items()}
        follow_redirects = bool(kwargs.pop("follow_redirects", False))
        chosen = self.key if isinstance(key, _DefaultKey) else key
        if chosen is not None:
            headers["X-API-KEY"] = reveal(chosen)
        if body is not None:
            kwargs.update(body.httpx_kwargs())
        attempt = 0
        while True:
            request = self.http.build_request(
                method, self.url(path_or_url), headers=headers, **kwargs
            )
            self.budget.spend()
            if pace and self.pacer is not None:
                self.pacer.wait()
            started = time.perf_counter()
            try:
                response = self.http.send(request, follow_redirects=follow_redirects)
                response.read()
                self._mask_echoes(response)
            except httpx.HTTPError as exc:
                self._record(request, body, None, time.perf_counter() - started, note=repr(exc))
                raise
            self._record(request, body, response, time.perf_counter() - started)
            if not retry or (method == "POST" and response.status_code >= 500):
                # A POST that may have started paid work is not sent twice on a 5xx.
                return response
            decision = self.retry.decide(
                attempt, response.status_code, response.headers.get("retry-after"), self._rng
            )
            if decision.delay is None:
                return response
            attempt += 1
            self.retries += 1
            self.exchanges[-1].note = f"retried after {decision.delay:.2f} s ({decision.reason})"
            self._sleep(decision.delay)

    def _mask_echoes(self, response: httpx.Response) -> None:
        """A key the target echoes back ("invalid key sk_..."), masked where it is read: no
        assertion message, traceback or report built from the answer can carry it."""
        if response.headers.get("content-type", "").startswith("image/"):
            return
        encoding = response.encoding or "utf-8"
        text = response.content.decode(encoding, "replace")
        masked = scrub(text, self.secrets)
        if masked != text:
            response._content = masked.encode(encoding, "replace")

    def _record(
        self,
        request: httpx.Request,
        body: TryOnRequest | None,
        response: httpx.Response | None,
        elapsed: float,
        note: str = "",
    ) -> None:
        request_text, images = _describe_request(request, body)
        sent_key = next(
            (v for k, v in request.headers.items() if k.lower() in ("x-api-key",)), None
        )
        role = "no key" if sent_key is None else self._roles.get(sent_key, "another value")
        curl = _curl(request, body, role)
        status, headers, text, image = None, {}, "", None
        if response is not None:
            status = response.status_code
            headers = redact_headers(response.headers.items())
            kind = response.headers.get("content-type", "")
            if kind.startswith("image/"):
                image = response.content
                text = f"<{kind}, {len(response.content):,} bytes>"
            else:
                text = response.text[:4000]
        self.exchanges.append(
            Exchange(
                method=request.method,
                url=scrub(str(request.url), self.secrets),
                request_headers=redact_headers(request.headers.items()),
                request_body=scrub(request_text, self.secrets),
                request_images=images,
                status=status,
                response_headers={k: scrub(v, self.secrets) for k, v in headers.items()},
                response_body=scrub(text, self.secrets),
                response_image=image,
                elapsed=elapsed,
                note=scrub(note, self.secrets),
                key_role=role,
                curl=scrub(curl, self.secrets),
            )
        )
        if response is not None:
            response.extensions[_EXCHANGE] = self.exchanges[-1]

    def close(self) -> None:
        self.http.close()

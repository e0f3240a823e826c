"""The one client layer: request builders, pacing, retries, a request budget, and a record of
every exchange (keys redacted) for the report. Contract tests and load scenarios both use it."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import httpx

from tryon_suite.errors import TryonError
from tryon_suite.redact import redact_headers, scrub
from tryon_suite.retry import Pacer, RetryPolicy

__all__ = [
    "DEFAULT_KEY",
    "Budget",
    "BudgetExhausted",
    "Exchange",
    "TryOnClient",
    "TryOnRequest",
]

TRY_ON: Final = "/v1/try-on"


class _DefaultKey:
    def __repr__(self) -> str:
        return "DEFAULT_KEY"


#: Send the client's own key (as opposed to None, no key, or another key).
DEFAULT_KEY: Final = _DefaultKey()


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


class TryOnClient:
    """Talks to one target: paced, retried (429 and transient 5xx), counted and recorded."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        http: httpx.Client | None = None,
        pacer: Pacer | None = None,
        retry: RetryPolicy | None = None,
        budget: Budget | None = None,
        sleep: Callable[[float], None] = time.sleep,
        secrets: tuple[str, ...] = (),
        seed: int = 0,
        server_errors: list[tuple[int, str]] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self.http = http or httpx.Client(timeout=httpx.Timeout(120.0, connect=10.0))
        self.pacer = pacer
        self.retry = retry or RetryPolicy("retry-after")
        self.budget = budget or Budget()
        self._sleep = sleep
        self._rng = random.Random(seed)
        self.secrets = tuple(s for s in (key, *secrets) if s)
        self.exchanges: list[Exchange] = []
        self.retries = 0
        #: every 5xx answer seen, as (status, body text): the run judges the 500 clause on them
        self.server_errors: list[tuple[int, str]] = (
            server_errors if server_errors is not None else []
        )

    # -- the API --------------------------------------------------------------------------

    def try_on(
        self, body: TryOnRequest, *, key: str | _DefaultKey | None = DEFAULT_KEY, retry: bool = True
    ) -> httpx.Response:
        return self.send("POST", TRY_ON, key=key, retry=retry, body=body)

    def job(
        self, location: str, *, key: str | _DefaultKey | None = DEFAULT_KEY, retry: bool = True
    ) -> httpx.Response:
        """GET a job by its Location (absolute or relative) or by its id."""
        if not location.startswith(("http://", "https://", "/")):
            location = f"{TRY_ON}/job/{location}"
        return self.send("GET", location, key=key, retry=retry)

    def credits(self) -> httpx.Response:
        return self.send("GET", "/v1/credits")

    def download(self, url: str) -> httpx.Response:
        """Fetch a result URL: no key is sent (it may be on a CDN), and no pacing applies."""
        return self.send("GET", url, key=None, pace=False)

    # -- the machinery --------------------------------------------------------------------

    def url(self, path_or_url: str) -> str:
        """Resolve a relative reference (a Location, say) against the target's base URL."""
        return str(httpx.URL(self.base_url + "/").join(path_or_url))

    def send(
        self,
        method: str,
        path_or_url: str,
        *,
        key: str | _DefaultKey | None = DEFAULT_KEY,
        retry: bool = True,
        pace: bool = True,
        body: TryOnRequest | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", None) or {})
        chosen = self.key if isinstance(key, _DefaultKey) else key
        if chosen is not None:
            headers["X-API-KEY"] = chosen
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
                response = self.http.send(request)
                response.read()
            except httpx.HTTPError as exc:
                self._record(request, body, None, time.perf_counter() - started, note=repr(exc))
                raise
            self._record(request, body, response, time.perf_counter() - started)
            if response.status_code >= 500:
                self.server_errors.append((response.status_code, response.text[:2000]))
            if not retry:
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

    def _record(
        self,
        request: httpx.Request,
        body: TryOnRequest | None,
        response: httpx.Response | None,
        elapsed: float,
        note: str = "",
    ) -> None:
        request_text, images = _describe_request(request, body)
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
            )
        )

    def close(self) -> None:
        self.http.close()


def json_or_none(response: httpx.Response) -> Any:
    """The JSON body, or None when there is none to parse."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None

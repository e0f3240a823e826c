"""A recorded request and its answer, raw as the checks judge it; masked where it is shown.

The client's `RecordTransport` records one `Exchange` per attempt (answered, or a transport
error) and hangs it on the response, so a check's evidence can point at the exact answer it
judged. What came back is kept as it
came (URL, headers, body, transport error): a key's value must not change a verdict. Only the
request's key headers are replaced, by name (no check judges them; `key_role` says whose key
went). The run's keys travel with the exchange, so its `repr` and `masked()` copy, what
output is made of, show none (`secret.mask`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Final

import httpx

from tryon_suite.http.curl import curl_command
from tryon_suite.http.redact import redact_headers
from tryon_suite.http.request import TryOnRequest
from tryon_suite.http.secret import Secret, mask, mask_data

__all__ = ["BODY", "KEYS", "Exchange", "Keys", "RecordTransport", "exchange_of", "record_exchange"]

#: Where a response (and, for a transport error, the request) keeps the Exchange that
#: recorded it.
_EXCHANGE: Final = "tryon_suite.http.exchange"
#: Per request: the `TryOnRequest` it was built from, described by its parts (None: none).
BODY: Final = "tryon_suite.body"
#: Per request: the sender's `Keys`.
KEYS: Final = "tryon_suite.keys"
#: A request body longer than this is described by its size.
_TEXT_LIMIT: Final = 4000


@dataclass
class Exchange:
    """One request and its answer as they were (key headers aside); images summarised."""

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
    #: the run's keys, for `masked()` and the repr; never shown, never compared
    secrets: tuple[Secret, ...] = field(default=(), repr=False, compare=False)

    @property
    def path(self) -> str:
        return httpx.URL(self.url).path

    def masked(self) -> Exchange:
        """A copy fit for output: every text with the run's keys masked (`secret.mask`)."""
        keys = self.secrets
        return replace(
            self,
            url=mask(self.url, keys),
            request_headers=mask_data(self.request_headers, keys),
            request_body=mask(self.request_body, keys),
            response_headers=mask_data(self.response_headers, keys),
            response_body=mask(self.response_body, keys),
            note=mask(self.note, keys),
            curl=mask(self.curl, keys),
        )

    def __repr__(self) -> str:
        # a traceback's locals, a Hypothesis example or an Evidence repr may print an exchange
        shown = self.masked()
        parts = (f"{f.name}={getattr(shown, f.name)!r}" for f in fields(self) if f.repr)
        return f"Exchange({', '.join(parts)})"


@dataclass(frozen=True)
class Keys:
    """A sender's keys, as its exchanges name and mask them: whose each value is (`roles`: the
    value to "run key", "other key" or "no-credits key") and every key to mask (`secrets`)."""

    roles: Mapping[str, str] = field(default_factory=dict, repr=False)
    secrets: tuple[Secret, ...] = ()


def exchange_of(message: httpx.Response | httpx.Request | None) -> Exchange | None:
    """The recorded exchange behind a response from TryOnClient, if any; or behind an attempt
    that got none (its request)."""
    if message is None:
        return None
    found = message.extensions.get(_EXCHANGE)
    return found if isinstance(found, Exchange) else None


def record_exchange(
    request: httpx.Request,
    body: TryOnRequest | None,
    response: httpx.Response | None,
    elapsed: float,
    *,
    roles: Mapping[str, str],
    secrets: Sequence[Secret],
    note: str = "",
) -> Exchange:
    """The exchange of `request` (sent as `body`) and `response` (None: a transport error, told
    by `note`), as it was; it is hung on the response (else the request) for `exchange_of`."""
    request_text, images = _describe_request(readable(request), body)
    sent_key = next((v for k, v in request.headers.items() if k.lower() == "x-api-key"), None)
    role = "no key" if sent_key is None else roles.get(sent_key, "another value")
    status, headers, text, image = None, {}, "", None
    if response is not None:
        status = response.status_code
        headers = dict(response.headers.items())
        kind = response.headers.get("content-type", "")
        if kind.startswith("image/"):
            image = response.content
            text = f"<{kind}, {len(response.content):,} bytes>"
        else:
            text = response.text
    exchange = Exchange(
        method=request.method,
        url=str(request.url),
        request_headers=redact_headers(request.headers.items()),
        request_body=request_text,
        request_images=images,
        status=status,
        response_headers=headers,
        response_body=text,
        response_image=image,
        elapsed=elapsed,
        note=note,
        key_role=role,
        curl=_curl(request, body, role),
        secrets=tuple(secrets),
    )
    (request if response is None else response).extensions[_EXCHANGE] = exchange
    return exchange


def readable(request: httpx.Request) -> httpx.Request:
    """`request` with its content readable: a body sent in chunks from a list (encodings.Chunks)
    is read again, which a list allows."""
    try:
        request.content  # noqa: B018
    except httpx.RequestNotRead:
        request.read()
    return request


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
    if len(content) > _TEXT_LIMIT:
        return f"<{len(content):,} bytes>", []
    return content.decode("utf-8", "replace"), []


def _curl(request: httpx.Request, sent: TryOnRequest | None, role: str) -> str:
    # the key itself becomes its variable (curl.py); other secret headers go masked
    headers = {**redact_headers(request.headers.items()), **_key_header(request)}
    url = str(request.url)
    if sent is not None and sent.kind == "multipart":
        files = {name: (f, len(data), mime) for name, (f, data, mime) in sent.files.items()}
        return curl_command(request.method, url, headers, role, form=dict(sent.fields), files=files)
    if sent is not None:
        return curl_command(request.method, url, headers, role, json_text=request.content.decode())
    raw = request.content if request.method != "GET" else None
    return curl_command(request.method, url, headers, role, raw=raw)


def _key_header(request: httpx.Request) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k.lower() == "x-api-key"}


class RecordTransport(httpx.BaseTransport):
    """Keeps each attempt that passes through as an `Exchange`, in `exchanges` and on its
    answer: the request as sent, described by the `BODY` it was built from; the answer as it
    came (read whole below), or the transport error; and the time it took from here down.
    The sender's `KEYS` say whose key went and what to mask where the record is shown."""

    def __init__(self, inner: httpx.BaseTransport, exchanges: list[Exchange] | None = None) -> None:
        self.inner = inner
        self.exchanges: list[Exchange] = [] if exchanges is None else exchanges

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = self.inner.handle_request(request)
        except httpx.HTTPError as exc:
            self._keep(request, None, time.perf_counter() - started, repr(exc))
            raise
        self._keep(request, response, time.perf_counter() - started)
        return response

    def _keep(
        self,
        request: httpx.Request,
        response: httpx.Response | None,
        elapsed: float,
        note: str = "",
    ) -> None:
        keys = request.extensions.get(KEYS) or Keys()
        body = request.extensions.get(BODY)
        self.exchanges.append(
            record_exchange(
                request,
                body,
                response,
                elapsed,
                roles=keys.roles,
                secrets=keys.secrets,
                note=note,
            )
        )

    def close(self) -> None:
        self.inner.close()

"""Reading a cassette back: its stamp checked, and a transport that answers from it."""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx

from tryon_suite.errors import ConfigError
from tryon_suite.http.cassette.layout import (
    CASSETTE_FILE,
    FORMAT_VERSION,
    IMAGES_DIR,
    KIND,
    body_value,
    fingerprint,
    role_of,
    schemas_sha256,
    sender,
    sent_by,
)
from tryon_suite.http.secret import Secret, reveal

__all__ = ["DEFAULT_MAX_AGE", "Cassette", "NotInCassette", "ReplayTransport"]

DEFAULT_MAX_AGE: Final = datetime.timedelta(days=30)
#: Answer headers a replay leaves out: the body it gives is already decoded and whole.
_TRANSFER_HEADERS: Final = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class NotInCassette(ConfigError, httpx.TransportError):
    """A replayed run sent a request the cassette holds no (more) answer for. To the checks it
    is a request that got no answer: what it would have examined is "not checked", with this
    message as the reason, never passed and never failed."""


@dataclass(frozen=True)
class Cassette:
    """A recorded run: its header and its exchanges in `seq` order."""

    folder: Path
    header: dict[str, Any]
    exchanges: list[dict[str, Any]]

    @classmethod
    def load(
        cls,
        folder: Path,
        *,
        max_age: datetime.timedelta = DEFAULT_MAX_AGE,
        now: datetime.datetime | None = None,
        schemas: str | None = None,
    ) -> Cassette:
        """The cassette in `folder`, refused (ConfigError) when older than `max_age` or
        recorded against other schemas than `schemas` (default: the suite's own)."""
        path = folder / CASSETTE_FILE
        try:
            lines = path.read_text(encoding="utf-8").split("\n")
        except OSError as exc:
            raise ConfigError(
                f"expected a cassette at {str(path)!r}, got none ({exc.strerror or exc})"
            ) from None
        try:
            records = [json.loads(line) for line in lines if line.strip()]
        except json.JSONDecodeError as exc:
            raise ConfigError(f"expected JSON Lines in {str(path)!r}, got {exc}") from None
        if not records or not isinstance(records[0], dict):
            raise ConfigError(f"expected a cassette header in {str(path)!r}, got nothing")
        header = records[0]
        if header.get("kind") != KIND or header.get("version") != FORMAT_VERSION:
            raise ConfigError(
                f"expected a {KIND} version {FORMAT_VERSION} header in {str(path)!r}, got "
                f"kind {header.get('kind')!r} version {header.get('version')!r}"
            )
        cls._check_age(header, path, max_age, now)
        wanted = schemas if schemas is not None else schemas_sha256()
        if header.get("schemas_sha256") != wanted:
            raise ConfigError(
                f"expected a cassette recorded against these schemas (sha256 {wanted[:12]}), "
                f"got one recorded against sha256 {str(header.get('schemas_sha256'))[:12]} "
                f"in {str(path)!r}: record it again"
            )
        exchanges = sorted(records[1:], key=lambda line: int(line["seq"]))
        return cls(folder, header, exchanges)

    @staticmethod
    def _check_age(
        header: Mapping[str, Any],
        path: Path,
        max_age: datetime.timedelta,
        now: datetime.datetime | None,
    ) -> None:
        try:
            recorded = datetime.datetime.strptime(
                str(header.get("recorded_at")), "%Y-%m-%dT%H:%M:%SZ"
            ).replace(tzinfo=datetime.UTC)
        except ValueError:
            raise ConfigError(
                f"expected recorded_at as YYYY-MM-DDTHH:MM:SSZ in {str(path)!r}, "
                f"got {header.get('recorded_at')!r}"
            ) from None
        age = (now or datetime.datetime.now(datetime.UTC)) - recorded
        if age > max_age:
            raise ConfigError(
                f"expected a cassette at most {max_age.days} days old, got one recorded "
                f"{header['recorded_at']} ({age.days} days ago) in {str(path)!r}: record it again"
            )

    @property
    def base_url(self) -> str:
        return str(self.header["target"])

    def image(self, digest: str) -> bytes:
        """The bytes stored under `digest`."""
        found = sorted((self.folder / IMAGES_DIR).glob(f"{digest}.*"))
        if not found:
            raise ConfigError(f"expected {IMAGES_DIR}/{digest}.* in {str(self.folder)!r}, got none")
        data = found[0].read_bytes()
        return gzip.decompress(data) if found[0].suffix == ".gz" else data

    def fingerprint_of(self, exchange: Mapping[str, Any]) -> tuple[str, str, str, str]:
        sent = exchange["request"]
        return fingerprint(
            sent["method"], sent["url"], self.base_url, exchange["key_role"], sent["body"]
        )


class ReplayTransport(httpx.BaseTransport):
    """Answers each request with the next recorded answer to the same fingerprint (method,
    path under the base URL, key role, body hash) that the same sender got (`sent_by`: test,
    purchase), else the next one anyone got; a request the cassette does not hold is a
    `NotInCassette` naming it.

    By sender because a live run's purchase threads send at once: two purchases that post the
    same body get their jobs in whichever order the threads reach the target, which a replay
    need not repeat, and a job handed to the other purchase is one whose polls and downloads
    the cassette holds under another sender's path."""

    def __init__(
        self, cassette: Cassette, base_url: str, keys: Mapping[str, Secret | None]
    ) -> None:
        """`base_url`: where the replaying run sends; `keys` by role, as `Recorder.start`."""
        self.cassette = cassette
        self.base_url = base_url.rstrip("/")
        self._secrets = tuple(k for k in keys.values() if k)
        self._roles = {reveal(k): role for role, k in keys.items() if k}
        self._queues: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
        for exchange in cassette.exchanges:
            key = cassette.fingerprint_of(exchange)
            self._queues.setdefault(key, []).append(exchange)
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        body = body_value(
            request.content, request.headers.get("content-type", ""), self._secrets, _hash_only
        )
        role = role_of(request.headers, self._roles)
        key = fingerprint(request.method, str(request.url), self.base_url, role, body)
        exchange = self._next(key, request.method, role)
        answer = exchange["response"]
        if answer is None:
            raise httpx.ConnectError(
                f"recorded: {exchange.get('error', 'no answer')}", request=request
            )
        headers = [
            (k, v) for k, v in answer["headers"].items() if k.lower() not in _TRANSFER_HEADERS
        ]
        return httpx.Response(
            answer["status"],
            headers=headers,
            content=self._content(answer["body"]),
            request=request,
        )

    def _next(self, key: tuple[str, str, str, str], method: str, role: str) -> dict[str, Any]:
        """The recorded exchange that answers `key` now, taken out of its queue."""
        fields = sender()
        me = (fields.get("test"), fields.get("purchase"))
        with self._lock:
            queue = self._queues.get(key)
            if not queue:
                told = "no more answers" if queue is not None else "no answer"
                raise NotInCassette(
                    f"expected a recorded answer to {method} {key[1]} ({role}, body "
                    f"{key[3][:12]}), got {told} in {str(self.cassette.folder)!r}"
                )
            mine = next((i for i, e in enumerate(queue) if sent_by(e) == me), 0)
            return queue.pop(mine)

    def _content(self, body: str | dict[str, Any] | None) -> bytes:
        if body is None:
            return b""
        if isinstance(body, str):
            return body.encode("utf-8")
        if "image" in body:
            return self.cassette.image(str(body["image"]))
        raise ConfigError(f"expected a text or image answer body in the cassette, got {body!r}")


def _hash_only(data: bytes, media_type: str) -> str:
    """A store that keeps nothing: replay only needs the hash a recording gave the bytes."""
    return hashlib.sha256(data).hexdigest()

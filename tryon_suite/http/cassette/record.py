"""Writing a cassette: a transport that records every exchange as it completes, from any thread.

Recording sits where replay will answer: at the transport, under the client's retries and
pacing, so each attempt the run's request budget counts is one line, and nothing extra is sent.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import importlib.metadata
import json
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import httpx

from tryon_suite.errors import ConfigError
from tryon_suite.http.cassette.layout import (
    CASSETTE_FILE,
    FORMAT_VERSION,
    IMAGES_DIR,
    KIND,
    body_value,
    extension,
    role_of,
    schemas_sha256,
    scrub_headers,
    scrub_text,
    scrub_url,
    sender,
)
from tryon_suite.http.exchange import readable
from tryon_suite.http.secret import Secret, reveal

__all__ = ["Recorder", "RecordingTransport", "stamp"]

_JOB_PATH = "/v1/try-on/job/"
#: Blobs above this size are stored gzipped when that halves them at least.
_PACK_ABOVE = 64 << 10


def stamp(
    *,
    target: str,
    live: bool,
    limits: str,
    options: Mapping[str, Any],
    now: datetime.datetime | None = None,
) -> dict[str, Any]:
    """The header line: what a replay must match (schemas) or may judge stale (date)."""
    when = now or datetime.datetime.now(datetime.UTC)
    return {
        "kind": KIND,
        "version": FORMAT_VERSION,
        "recorded_at": when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "target": scrub_url(target.rstrip("/")),
        "live": live,
        "limits": limits,
        "suite_version": _version(),
        "schemas_sha256": schemas_sha256(),
        "options": dict(options),
    }


def _version() -> str:
    """The installed suite's version (its package metadata, as a wheel carries it)."""
    try:
        return importlib.metadata.version("tryon-suite")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class Recorder:
    """One cassette being written: its folder and the run's keys (to scrub and to name roles);
    each exchange names who sent it (`layout.attributed`)."""

    def __init__(self, folder: Path) -> None:
        """Checks now that `folder` can be written (a ConfigError naming it if not)."""
        self.folder = folder
        try:
            (folder / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
            probe = folder / ".tryon-write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"expected a folder --tryon-record can write, got {str(folder)!r} "
                f"({exc.strerror or exc})"
            ) from None
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        self._secrets: tuple[Secret, ...] = ()
        self._roles: dict[str, str] = {}
        self._seq = 0
        self._stored: set[str] = set()
        #: job id -> (seq of the 202 that named it, polls recorded so far)
        self._jobs: dict[str, tuple[int, int]] = {}

    @property
    def exchanges(self) -> int:
        return self._seq

    def start(self, header: Mapping[str, Any], keys: Mapping[str, Secret | None]) -> None:
        """Write the header; `keys` by role ("run key", "other key", "no-credits key")."""
        self._secrets = tuple(k for k in keys.values() if k)
        self._roles = {reveal(k): role for role, k in keys.items() if k}
        self._file = (self.folder / CASSETTE_FILE).open("w", encoding="utf-8")
        self._write(dict(header))

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def wrap(self, inner: httpx.BaseTransport) -> RecordingTransport:
        """A transport that sends through `inner` and records each exchange here."""
        return RecordingTransport(inner, self)

    def record(
        self,
        request: httpx.Request,
        response: httpx.Response | None,
        elapsed: float,
        error: str = "",
    ) -> None:
        """One exchange, scrubbed, numbered when it is complete and appended."""
        line: dict[str, Any] = {"seq": 0}
        fields = sender()
        line["test"] = fields.get("test")
        thread = threading.current_thread()
        if thread is not threading.main_thread():
            line["thread"] = thread.name
        if fields.get("purchase"):
            line["purchase"] = fields["purchase"]
        line["key_role"] = role_of(request.headers, self._roles)
        line["request"] = {
            "method": request.method,
            "url": scrub_text(str(request.url), self._secrets),
            "headers": scrub_headers(request.headers.items(), self._secrets),
            "body": self._body(request),
        }
        line["response"] = None
        if response is not None:
            line["response"] = {
                "status": response.status_code,
                "headers": scrub_headers(response.headers.items(), self._secrets),
                "body": self._body(response),
            }
        if error:
            line["error"] = scrub_text(error, self._secrets)
        line["elapsed_ms"] = round(elapsed * 1000, 3)
        with self._lock:
            self._seq += 1
            line["seq"] = self._seq
            self._link_job(line, request, response)
            self._write(line)

    def _body(self, message: httpx.Request | httpx.Response) -> str | dict[str, Any] | None:
        kind = message.headers.get("content-type", "")
        if isinstance(message, httpx.Request):
            message = readable(message)
        return body_value(message.content, kind, self._secrets, self._store)

    def _link_job(
        self, line: dict[str, Any], request: httpx.Request, response: httpx.Response | None
    ) -> None:
        path = request.url.path
        if request.method == "GET" and _JOB_PATH in path:
            job = path.rsplit("/", 1)[-1]
            line["job"] = job
            created, polls = self._jobs.get(job, (None, 0))
            if created is not None:
                self._jobs[job] = (created, polls + 1)
                line["after"], line["poll"] = created, polls + 1
            else:
                line["after"] = None
        elif request.method == "POST" and response is not None and response.status_code == 202:
            try:
                job = str(json.loads(response.content)["job_id"])
            except (ValueError, KeyError, TypeError):
                return
            line["job"] = job
            self._jobs.setdefault(job, (line["seq"], 0))

    def _store(self, data: bytes, media_type: str) -> str:
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            if digest not in self._stored:
                name = f"{digest}.{extension(media_type)}"
                packed = gzip.compress(data, mtime=0) if len(data) > _PACK_ABOVE else data
                if len(packed) * 2 <= len(data):
                    # an over-limit upload is mostly padding: 25 MB in, 28 kB stored
                    (self.folder / IMAGES_DIR / f"{name}.gz").write_bytes(packed)
                else:
                    (self.folder / IMAGES_DIR / name).write_bytes(data)
                self._stored.add(digest)
        return digest

    def _write(self, line: Mapping[str, Any]) -> None:
        if self._file is None:
            raise ConfigError("expected Recorder.start before an exchange, got none")
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._file.flush()


class RecordingTransport(httpx.BaseTransport):
    """Sends through another transport, recording each exchange (or transport error)."""

    def __init__(self, inner: httpx.BaseTransport, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        started = time.perf_counter()
        try:
            response = self.inner.handle_request(request)
            response.read()
        except httpx.HTTPError as exc:
            self.recorder.record(request, None, time.perf_counter() - started, repr(exc))
            raise
        self.recorder.record(request, response, time.perf_counter() - started)
        return response

    def close(self) -> None:
        """Nothing: every client of the run shares this transport; its owner closes `inner`."""

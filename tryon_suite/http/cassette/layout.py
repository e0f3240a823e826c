"""The cassette's data layout, shared by recording and replay: scrubbing, bodies as cassette
values, and the fingerprint a replayed request is found by (see the package docstring)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import httpx

from tryon_suite.http.redact import SECRET_HEADERS
from tryon_suite.http.secret import MASK, Secret, mask
from tryon_suite.spec.schemas import schema_dir

__all__ = [
    "CASSETTE_FILE",
    "FORMAT_VERSION",
    "IMAGES_DIR",
    "KIND",
    "attributed",
    "body_value",
    "fingerprint",
    "role_of",
    "schemas_sha256",
    "scrub_headers",
    "scrub_text",
    "scrub_url",
    "sender",
    "sent_by",
]

KIND: Final = "tryon-cassette"
FORMAT_VERSION: Final = 1
CASSETTE_FILE: Final = "cassette.jsonl"
IMAGES_DIR: Final = "images"

#: Headers never written: keys (by name, as redact.py knows them) and cookies set by the target.
_DROPPED_HEADERS: Final = SECRET_HEADERS | {"set-cookie"}
#: Query parameters that sign or authorise a URL (S3, GCS, CloudFront, Azure SAS, generic):
#: their values are masked; the rest of the URL stays readable.
_SIGNING: Final = re.compile(
    r"(?i)^(x-amz-(signature|credential|security-token|date|expires)"
    r"|x-goog-(signature|credential|date|expires)|signature|sig|token|access_token|auth"
    r"|expires|policy|key-pair-id|se|sp|sv|st|skoid|sktid|api_key|apikey|key|x-api-key)$"
)
_URL_IN_TEXT: Final = re.compile(r"https?://[^\s\"'<>\\]+")
#: A text body longer than this, or not UTF-8, is stored as a blob.
_TEXT_LIMIT: Final = 256 << 10
_EXTENSIONS: Final = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "image/gif": "gif",
}

#: Stores bytes under their hash (with their media type); gives the hash.
Store = Callable[[bytes, str], str]

#: Who is sending on each thread: the test, the purchase ("test" and "purchase" fields).
_SENDER = threading.local()


@contextlib.contextmanager
def attributed(**fields: str | None) -> Iterator[None]:
    """While open, what this thread sends is sent by `fields` (test, purchase): a recording
    writes them beside each exchange, and a replay gives each sender its own recorded answers
    to requests several senders made alike, in whatever order the threads now send them."""
    before = sender()
    _SENDER.fields = {**before, **fields}
    try:
        yield
    finally:
        _SENDER.fields = before


def sender() -> dict[str, str | None]:
    """The fields `attributed` gave this thread (none outside it)."""
    return dict(getattr(_SENDER, "fields", {}))


def sent_by(exchange: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The (test, purchase) a recorded exchange was sent by."""
    return exchange.get("test"), exchange.get("purchase")


def extension(media_type: str) -> str:
    """The file extension a blob of `media_type` is stored with."""
    return _EXTENSIONS.get(media_type.split(";")[0].strip().lower(), "bin")


def scrub_url(url: str) -> str:
    """`url` without userinfo, each signing query parameter's value masked."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SIGNING.match(name) for name, _ in pairs):
            query = "&".join(
                f"{quote(name, safe='')}={MASK if _SIGNING.match(name) else quote(value, safe='')}"
                for name, value in pairs
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub_text(text: str, secrets: Iterable[Secret]) -> str:
    """`text` with every key masked (`secret.mask`: a short key only where it is a whole value)
    and every URL in it scrubbed (`scrub_url`)."""
    return _URL_IN_TEXT.sub(lambda m: scrub_url(m.group(0)), mask(text, secrets))


def scrub_headers(headers: Iterable[tuple[str, str]], secrets: Iterable[Secret]) -> dict[str, str]:
    """Headers as written: key headers dropped, every value scrubbed (`scrub_text`)."""
    kept = tuple(secrets)
    return {
        name.lower(): scrub_text(value, kept)
        for name, value in headers
        if name.lower() not in _DROPPED_HEADERS
    }


def role_of(headers: httpx.Headers, roles: Mapping[str, str]) -> str:
    """Whose key went with a request, named as the report names it (exchange.py)."""
    sent = headers.get("x-api-key")
    return "no key" if sent is None else roles.get(sent, "another value")


def body_value(
    content: bytes, media_type: str, secrets: Iterable[Secret], store: Store
) -> str | dict[str, Any] | None:
    """A body as the cassette holds it: None, scrubbed text, an image by hash, or parts."""
    if not content:
        return None
    kind = media_type.split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        parts = _multipart(content, media_type)
        if parts is not None:
            return {"multipart": [_part(p, secrets, store) for p in parts]}
    if not kind.startswith("image/") and len(content) <= _TEXT_LIMIT:
        try:
            return scrub_text(content.decode("utf-8"), secrets)
        except UnicodeDecodeError:
            pass
    return {"image": store(content, kind), "type": kind, "bytes": len(content)}


def _part(
    part: tuple[str, str | None, str, bytes], secrets: Iterable[Secret], store: Store
) -> dict[str, Any]:
    name, filename, kind, data = part
    if filename is None:
        return {"name": name, "text": scrub_text(data.decode("utf-8", "replace"), secrets)}
    return {"name": name, "filename": filename, "type": kind, "image": store(data, kind)}


_DISPOSITION: Final = re.compile(r'(?i)\b(name|filename)="([^"]*)"')


def _multipart(content: bytes, media_type: str) -> list[tuple[str, str | None, str, bytes]] | None:
    """The parts of a well-formed multipart body (name, filename, type, bytes); None if it is
    not one (a deliberately broken body is then stored whole)."""
    found = re.search(r'boundary="?([^";]+)"?', media_type)
    if found is None:
        return None
    delimiter = b"--" + found.group(1).encode("latin-1")
    chunks = content.split(delimiter)
    if len(chunks) < 3 or chunks[0].strip() or not chunks[-1].startswith(b"--"):
        return None
    parts = []
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            return None
        head, sep, data = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep:
            return None
        headers = dict(
            (k.strip().lower(), v.strip())
            for k, _, v in (line.partition(":") for line in head.decode("latin-1").split("\r\n"))
        )
        names = dict(
            (k.lower(), v) for k, v in _DISPOSITION.findall(headers.get("content-disposition", ""))
        )
        if "name" not in names:
            return None
        parts.append((names["name"], names.get("filename"), headers.get("content-type", ""), data))
    return parts


def body_hash(body: str | dict[str, Any] | None) -> str:
    """The hash of a body as the cassette holds it: the same for the same content, whatever
    multipart boundary carried it."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(
    method: str, url: str, base_url: str, key_role: str, body: str | dict[str, Any] | None
) -> tuple[str, str, str, str]:
    """What a replayed request is found by: method, path (under `base_url` when there, else
    the whole URL without its query), key role and body hash."""
    base = base_url.rstrip("/")
    without_query = url.split("?", 1)[0].split("#", 1)[0]
    path = without_query[len(base) :] if without_query.startswith(base + "/") else without_query
    return method.upper(), path or "/", key_role, body_hash(body)


def schemas_sha256(folder: Path | None = None) -> str:
    """The hash of `schemas/` (default: the one the suite loads): every file's relative path
    and bytes, in sorted order."""
    root = folder if folder is not None else schema_dir()
    digest = hashlib.sha256()
    files = sorted(
        (p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts),
        key=lambda p: p.relative_to(root).as_posix(),
    )
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()

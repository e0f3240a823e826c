"""Requests written another way: the same try-on body as a real client might write it (RFC 7578
multipart with a quoted boundary, parts out of order, no Content-Type, chunked; RFC 8259 JSON
pretty-printed, escaped, with a charset). The model's `form` partitions name these forms
(`model.py`); a case sends its body through `encode_form`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from tryon_suite.errors import ConfigError

__all__ = ["JSON_FORMS", "Chunks", "RawRequest", "encode_form", "multipart_body"]


class Chunks(list[bytes]):
    """A body in pieces, which httpx sends with Transfer-Encoding: chunked; `whole` is what the
    record shows (a streamed request's content is not kept by httpx)."""

    @property
    def whole(self) -> bytes:
        return b"".join(self)


@dataclass(frozen=True)
class RawRequest:
    """A try-on written byte by byte: what `encode_form` makes of a plain body."""

    content: bytes | Chunks
    headers: Mapping[str, str]
    path: str = "/v1/try-on"


Part = tuple[str, str | None, str | None, bytes, Mapping[str, str]]


def multipart_body(
    parts: Sequence[Part],
    boundary: str = "tryonsuiteboundary7MA4YWxkTrZu0gW",
    *,
    preamble: bytes = b"",
    epilogue: bytes = b"",
    quote_boundary: bool = False,
) -> tuple[bytes, str]:
    """An RFC 7578 body from (name, filename, content type, data, more headers) parts; returns
    the bytes and the Content-Type."""
    out = [preamble] if preamble else []
    for name, filename, ctype, data, more in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        lines = [f"--{boundary}", f"Content-Disposition: {disposition}"]
        if ctype is not None:
            lines.append(f"Content-Type: {ctype}")
        lines += [f"{k}: {v}" for k, v in more.items()]
        out.append(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + data + b"\r\n")
    out.append(f"--{boundary}--\r\n".encode() + epilogue)
    shown = f'"{boundary}"' if quote_boundary else boundary
    return b"".join(out), f"multipart/form-data; boundary={shown}"


def _chunks(content: bytes) -> Chunks:
    step = max(1, len(content) // 3)
    return Chunks(content[i : i + step] for i in range(0, len(content), step))


def encode_form(
    form: str,
    fields: Mapping[str, Any],
    files: Mapping[str, tuple[str, bytes, str]],
) -> RawRequest:
    """The plain body (`fields` as JSON when `files` is empty, else multipart) written the way
    `form` names; a ConfigError for a form the model names but this does not know."""
    if not files:
        text = json.dumps(dict(fields))
        plain = "application/json"
        if form == "json_plain":
            return RawRequest(text.encode(), {"content-type": plain})
        if form == "json_charset":
            return RawRequest(text.encode(), {"content-type": "application/json; charset=utf-8"})
        if form == "json_upper_media_type":
            return RawRequest(text.encode(), {"content-type": "Application/JSON"})
        if form == "json_tight_parameter":
            return RawRequest(text.encode(), {"content-type": "application/json;charset=UTF-8"})
        if form == "json_pretty":
            pretty = json.dumps(dict(fields), indent="\t", separators=(" ,\n", " : "))
            return RawRequest(f"\n {pretty}\n".encode(), {"content-type": plain})
        if form == "json_escaped":
            return RawRequest(_escape_strings(dict(fields)).encode(), {"content-type": plain})
        if form == "json_chunked":
            return RawRequest(_chunks(text.encode()), {"content-type": plain})
        if form == "query_string":
            return RawRequest(
                text.encode(), {"content-type": plain}, "/v1/try-on?source=tryon-suite&x=%C3%A9"
            )
        raise ConfigError(f"model form {form!r}: expected a JSON form this module knows")
    text_parts: list[Part] = [(k, None, None, str(v).encode(), {}) for k, v in fields.items()]
    file_parts: list[Part] = [(k, n, c, d, {}) for k, (n, d, c) in files.items()]
    labels: dict[str, Callable[[Part], Part]] = {
        "part_octet_stream": lambda p: (p[0], p[1], "application/octet-stream", p[3], {}),
        "part_image_jpg": lambda p: (p[0], p[1], "image/jpg", p[3], {}),
        "part_untyped": lambda p: (p[0], p[1], None, p[3], {}),
        "filename_bare": lambda p: (p[0], (p[1] or "").rsplit(".", 1)[0], p[2], p[3], {}),
        "filename_upper": lambda p: (p[0], (p[1] or "").upper(), p[2], p[3], {}),
        "filename_unicode": lambda p: (
            p[0],
            "photo-été-写真." + (p[1] or "").rsplit(".", 1)[-1],
            p[2],
            p[3],
            {},
        ),
    }
    if form in labels:
        file_parts = [labels[form](p) for p in file_parts]
    if form == "text_part_charset":
        text_parts = [(k, f, "text/plain; charset=UTF-8", d, m) for k, f, _, d, m in text_parts]
    parts = file_parts + text_parts if form == "files_first" else text_parts + file_parts
    options: dict[str, Any] = {}
    if form == "boundary_quoted":
        options = {"boundary": "tryon-suite-boundary-1", "quote_boundary": True}
    elif form == "boundary_punctuation":  # characters outside a token: quoted (RFC 2046 5.1.1)
        options = {"boundary": "----=_Part_0_(tryon)+suite.1:2", "quote_boundary": True}
    elif form == "preamble":
        options = {"preamble": b"This is a preamble (RFC 2046).\r\n", "epilogue": b"\r\nepilogue"}
    known = {
        *labels,
        "text_part_charset",
        "files_first",
        "boundary_quoted",
        "boundary_punctuation",
        "preamble",
        "multipart_chunked",
        "multipart_plain",
    }
    if form not in known:
        raise ConfigError(f"model form {form!r}: expected a multipart form this module knows")
    content, ctype = multipart_body(parts, **options)
    body: bytes | Chunks = _chunks(content) if form == "multipart_chunked" else content
    return RawRequest(body, {"content-type": ctype})


def _escape_strings(value: Any) -> str:
    """JSON with every letter inside its strings (keys too) written as a \\uXXXX escape."""
    if isinstance(value, str):
        return (
            '"'
            + "".join(f"\\u{ord(c):04x}" if c.isalpha() else json.dumps(c)[1:-1] for c in value)
            + '"'
        )
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{_escape_strings(k)}:{_escape_strings(v)}" for k, v in value.items())
            + "}"
        )
    return json.dumps(value)


#: The forms written as JSON (the rest are multipart).
JSON_FORMS: Final = frozenset(
    {
        "json_charset",
        "json_upper_media_type",
        "json_tight_parameter",
        "json_pretty",
        "json_escaped",
        "json_chunked",
        "query_string",
    }
)

"""Reading try-on bodies from a stream without ever holding more than the limits allow."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Final

from python_multipart.multipart import MultipartParser, parse_options_header

# python-multipart logs every malformed body it meets; each one is answered 400 here instead.
logging.getLogger("python_multipart").setLevel(logging.CRITICAL)

__all__ = ["BodyProblem", "Form", "media_type", "read_json", "read_multipart"]

#: A JSON try-on body holds two URLs and four flags; anything near this is not one.
MAX_JSON_BYTES: Final = 1 << 20
MAX_TEXT_FIELD_BYTES: Final = 64 << 10
MAX_PARTS: Final = 32
FILE_FIELDS: Final = frozenset({"person_image", "garment_image"})


@dataclass(frozen=True)
class BodyProblem:
    """A body that cannot be read: a documented 400 code and a sentence on why."""

    error_code: str
    message: str


@dataclass
class Form:
    """The parts of a multipart body: text fields decoded, file fields as bytes."""

    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    #: names of file parts that are not image fields (their bytes are not kept)
    stray_files: list[str] = field(default_factory=list)


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """`multipart/form-data; boundary=x` -> ('multipart/form-data', {'boundary': 'x'})."""
    if not content_type:
        return "", {}
    kind, params = parse_options_header(content_type)
    return kind.decode("latin-1").strip().lower(), {
        k.decode("latin-1").lower(): v.decode("latin-1") for k, v in params.items()
    }


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Read and drop the rest, so an HTTP client still sees the answer; nothing is kept."""
    async for _ in chunks:
        pass


async def read_json(chunks: AsyncIterator[bytes]) -> object | BodyProblem:
    """The parsed JSON value, or why there is none."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) > MAX_JSON_BYTES:
            await _drain(chunks)
            return BodyProblem(
                "invalid_request_body",
                f"expected a JSON body of at most {MAX_JSON_BYTES} bytes, got more",
            )
    if not buffer.strip():
        return BodyProblem("invalid_request_body", "expected a JSON object, got an empty body")
    try:
        parsed: object = json.loads(bytes(buffer))
    except json.JSONDecodeError as exc:
        return BodyProblem(
            "invalid_request_body",
            f"expected valid JSON, got {exc.msg.lower()} at line {exc.lineno} column {exc.colno}",
        )
    except (ValueError, RecursionError):
        return BodyProblem(
            "invalid_request_body", "expected valid JSON, got a number or nesting too large to read"
        )
    return parsed


class _PartCollector:
    """Callbacks for python-multipart's streaming parser, capping every part as it arrives."""

    def __init__(self, max_file_bytes: int) -> None:
        self.form = Form()
        self.problem: BodyProblem | None = None
        self._max_file_bytes = max_file_bytes
        self._parts = 0
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._disposition: bytes | None = None
        self._data = bytearray()
        self._cap = 0
        self._name = ""
        self._is_file = False
        self._skip = False
        self.ended = False

    def _fail(self, code: str, message: str) -> None:
        if self.problem is None:
            self.problem = BodyProblem(code, message)

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        self._parts += 1
        self._disposition = None
        self._data = bytearray()
        self._header_field.clear()
        self._header_value.clear()
        self._skip = self.problem is not None
        if self._parts > MAX_PARTS:
            self._fail("invalid_request_body", f"expected at most {MAX_PARTS} parts, got more")

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if bytes(self._header_field).lower() == b"content-disposition":
            self._disposition = bytes(self._header_value)
        self._header_field.clear()
        self._header_value.clear()

    def on_headers_finished(self) -> None:
        if self._disposition is None:
            self._fail("invalid_request_body", "expected a Content-Disposition on every part")
            self._skip = True
            return
        _, params = parse_options_header(self._disposition)
        self._name = params.get(b"name", b"").decode("utf-8", "replace")
        self._is_file = self._name in FILE_FIELDS or b"filename" in params
        self._cap = self._max_file_bytes if self._is_file else MAX_TEXT_FIELD_BYTES

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._skip or self.problem is not None:
            return
        self._data += data[start:end]
        if len(self._data) > self._cap:
            self._data = bytearray()
            self._skip = True
            if self._is_file:
                self._fail(
                    "file_size_too_large",
                    f"{self._name}: expected at most {self._max_file_bytes} bytes, got more",
                )
            else:
                self._fail(
                    "invalid_parameter",
                    f"{self._name}: expected a text field of at most "
                    f"{MAX_TEXT_FIELD_BYTES} bytes, got more",
                )

    def on_part_end(self) -> None:
        if self._skip or self.problem is not None:
            return
        name, data = self._name, bytes(self._data)
        if self._name in FILE_FIELDS:
            self.form.files.setdefault(name, data)
        elif self._is_file:
            self.form.stray_files.append(name)
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                self._fail("invalid_parameter", f"{name}: expected UTF-8 text, got other bytes")
                return
            self.form.fields.setdefault(name, text)


async def read_multipart(
    chunks: AsyncIterator[bytes], boundary: str | None, max_file_bytes: int
) -> Form | BodyProblem:
    """The form's parts, each capped while streaming: a file past the cap is never buffered."""
    if not boundary:
        await _drain(chunks)
        return BodyProblem(
            "invalid_request_body", "expected a boundary in the multipart Content-Type, got none"
        )
    collector = _PartCollector(max_file_bytes)
    callbacks = {
        name: getattr(collector, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_end",
        )
    }
    try:
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        async for chunk in chunks:
            parser.write(chunk)
            if collector.problem is not None:
                break
        if collector.problem is None:
            parser.finalize()
    except Exception as exc:  # python-multipart raises several types on malformed bodies
        await _drain(chunks)
        return BodyProblem("invalid_request_body", f"expected a valid multipart body, got: {exc}")
    await _drain(chunks)
    if collector.problem is not None:
        return collector.problem
    if not collector.ended:
        return BodyProblem(
            "invalid_request_body", "expected a multipart body ending in its closing boundary"
        )
    if collector._parts == 0:
        return BodyProblem("invalid_request_body", "expected a multipart body with parts, got none")
    return collector.form

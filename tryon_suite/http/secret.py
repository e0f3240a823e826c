"""API keys as values that cannot be printed, and the one rule that masks them in output.

A `Secret` is what the options, the target and the client hold. Its `repr` and `str` are the
mask, so no dataclass repr, traceback argument dump, Hypothesis "Falsifying example", log
record or JUnit property can show the key (as pydantic's `SecretStr`). The one way to the
value is `reveal()`, called where the key goes on the wire.

What came back is judged raw: a key's value never changes a verdict. `mask` is applied only
where bytes leave the process (the report, the console, pytest's output, the cassette), by
exact value, always as `****` (never a prefix), and without corrupting the text around it:

- a key of at least 8 characters is masked wherever it occurs, raw, JSON-escaped,
  HTML-escaped or percent-encoded, and so is a piece of one (4 characters or more) that a
  truncation left at the end of a text or line (before `...`) or at its start;
- a shorter key (`v1`, `json`, `px`) would corrupt free text (`/v1/try-on`,
  `application/json`), so it is masked only where a whole value equals it: the whole text (a
  header value, a body), a quoted string value (`{"key": "v1"}`, `['v1']`, `name = 'v1'`), a
  query or form parameter (`?key=v1`), a header line (`X-Echo: v1`) or a multipart text part;
  never inside a path or a word.
"""

from __future__ import annotations

import functools
import html
import json
import re
from collections.abc import Callable, Iterable
from typing import Any, Final, TypeVar
from urllib.parse import quote, quote_plus

__all__ = ["MASK", "Secret", "key_problem", "mask", "mask_data", "reveal"]

MASK: Final = "****"

#: Keys at least this long are masked wherever they occur; shorter ones only as a whole value.
ANYWHERE: Final = 8
#: The shortest piece of a long key, cut by a truncation, that is still masked.
_PIECE: Final = 4

_T = TypeVar("_T")


class Secret:
    """A key whose `repr` and `str` are masked; `reveal()` gives the value for the wire."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        self._value: str = value.reveal() if isinstance(value, Secret) else value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        raise TypeError("a Secret is not pickled: it would leave the process unmasked")


def key_problem(value: str) -> str | None:
    """Why `value` cannot be sent as an API key (an HTTP header value), or None when it can.
    The reason never quotes the key."""
    if not value.strip():
        return "expected a non-empty key, got an empty one"
    if value != value.strip():
        return "expected a key without leading or trailing spaces, got one with them"
    if not value.isascii():
        return (
            "expected an ASCII key (it travels in the X-API-KEY header), got one with a "
            "non-ASCII character"
        )
    if not value.isprintable():
        return "expected a key of printable characters, got one with a control character"
    return None


def reveal(value: Secret | str) -> str:
    """The value of a Secret (or of a plain string, for values that are not secrets)."""
    return value.reveal() if isinstance(value, Secret) else value


def mask(text: str, secrets: Iterable[Secret | str]) -> str:
    """`text` as it may leave the process: each key masked by the rule of the module docstring."""
    for value in sorted({reveal(s) for s in secrets if s}, key=len, reverse=True):
        if not text:
            break
        if len(value) >= ANYWHERE:
            for form in _encodings(value):
                text = text.replace(form, MASK)
            for piece in _pieces(value):
                text = piece.sub(MASK, text)
        elif text.strip() == value:
            text = text.replace(value, MASK)
        elif value in text or any(form in text for form in _encodings(value)):
            for pattern in _whole_values(value):
                text = pattern.sub(lambda m: m.group(0)[: m.end(1) - m.start()] + MASK, text)
    return text


def mask_data(data: _T, secrets: Iterable[Secret | str]) -> _T:
    """`data` (dicts, lists, tuples of plain values) with every string masked (`mask`); dict
    keys, which name fields, are kept."""
    kept = tuple(secrets)
    return _mask_data(data, kept)  # type: ignore[no-any-return]


def _mask_data(data: Any, secrets: tuple[Secret | str, ...]) -> Any:
    if isinstance(data, str):
        return mask(data, secrets)
    if isinstance(data, dict):
        return {k: _mask_data(v, secrets) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return type(data)(_mask_data(v, secrets) for v in data)
    return data


@functools.lru_cache(maxsize=64)
def _encodings(value: str) -> tuple[str, ...]:
    """The ways `value` may be written: raw, JSON-escaped, HTML-escaped, percent-encoded, and
    one of these inside another; longest first, so a longer form is masked whole."""
    coders: tuple[Callable[[str], str], ...] = (
        lambda v: json.dumps(v)[1:-1],
        lambda v: json.dumps(v)[1:-1].replace("/", "\\/"),
        lambda v: html.escape(v, quote=True),
        lambda v: html.escape(v, quote=True).replace("&#x27;", "&#39;"),
        lambda v: quote(v, safe=""),
        lambda v: quote(v, safe="/"),
        lambda v: quote_plus(v),
        lambda v: re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), quote(v, safe="")),
    )
    forms = {value}
    for _ in range(2):
        forms |= {code(form) for form in forms for code in coders}
    return tuple(sorted(forms, key=len, reverse=True))


@functools.lru_cache(maxsize=64)
def _pieces(value: str) -> tuple[re.Pattern[str], ...]:
    """A long key cut by a truncation: its head at the end of a text (or of a line, before
    `...`), its tail at the start of one."""
    heads = "|".join(re.escape(value[:n]) for n in range(len(value) - 1, _PIECE - 1, -1))
    tails = "|".join(re.escape(value[-n:]) for n in range(len(value) - 1, _PIECE - 1, -1))
    return (
        re.compile(rf"(?:{heads})(?=(?:\.\.\.|\u2026)[ \t]*$|[\"']?\s*\Z)", re.MULTILINE),
        re.compile(rf"(?:\A|(?<=\.\.\.)|(?<=\u2026))(?:{tails})"),
    )


@functools.lru_cache(maxsize=64)
def _whole_values(value: str) -> tuple[re.Pattern[str], ...]:
    """Where a short key stands as a whole value. Group 1 is the context kept before the mask;
    the match ends where the key does."""
    key = re.escape(value)
    in_json = re.escape(json.dumps(value)[1:-1])
    in_repr = re.escape(repr(value)[1:-1])
    encoded = "|".join(
        dict.fromkeys(re.escape(f) for f in (value, quote(value, safe=""), quote_plus(value)))
    )
    after = r"\s*(?:[,\]})]|$)"
    return (
        # a quoted string value: JSON, a Python repr, `name = 'v1'`
        re.compile(rf'([:\[,=(]\s*"){in_json}(?="{after})', re.MULTILINE),
        re.compile(rf"([:\[,=(]\s*'){in_repr}(?='{after})", re.MULTILINE),
        # a query or form parameter (a curl `--form-string 'name=v1'` too)
        re.compile(rf"((?:[?&']|\A)[^=&#\s'\"?]+=)(?:{encoded})(?=[&#'\"\s<>]|\Z)"),
        # a header line, a multipart text part
        re.compile(rf"((?:^|')[A-Za-z0-9-]+:[ \t]*){key}(?=[ \t]*(?:\r?$|'))", re.MULTILINE),
        re.compile(rf"(\r\n\r\n){key}(?=\r\n)"),
    )

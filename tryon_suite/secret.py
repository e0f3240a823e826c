"""API keys as values that cannot be printed: masked from the moment they are read.

A `Secret` is what the options, the target and the client hold. Its `repr` and `str` are the
mask, so no dataclass repr, traceback argument dump, Hypothesis "Falsifying example", log
record or JUnit property can show the key (as pydantic's `SecretStr`). The one way to the
value is `reveal()`, called where the key goes on the wire.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = ["MASK", "Secret", "key_problem", "reveal", "scrub_secrets"]

MASK: Final = "****"

#: Characters a key is made of: an occurrence of a short key inside a longer run of them is
#: part of another word (`httpx`, `14px`), not the key.
_KEY_CHARS: Final = r"A-Za-z0-9_\-"
#: Keys at least this long are masked wherever they occur; shorter ones only as a whole token.
_ANYWHERE: Final = 12


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


def scrub_secrets(text: str, secrets: Iterable[Secret | str]) -> str:
    """`text` with each secret masked where it occurs as data (an echoed key, say).

    Long keys are masked wherever they appear; a short key only where it stands as a whole
    token, so a one-letter key does not rewrite every word that contains its letter.
    """
    for value in sorted({reveal(s) for s in secrets if s}, key=len, reverse=True):
        if len(value) >= _ANYWHERE:
            text = text.replace(value, MASK)
        else:
            pattern = rf"(?<![{_KEY_CHARS}]){re.escape(value)}(?![{_KEY_CHARS}])"
            text = re.sub(pattern, MASK, text)
    return text

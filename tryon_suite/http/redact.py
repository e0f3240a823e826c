"""Keeping API keys out of everything the suite prints, reports or logs (`secret.mask`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from tryon_suite.http.secret import MASK, Secret, mask

__all__ = ["SECRET_HEADERS", "redact", "redact_headers", "scrub"]

#: Header names (lower-case) whose values are secrets.
SECRET_HEADERS: Final = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie"})


def redact(secret: Secret | str) -> str:
    """The stand-in for a key: always the mask, so no part of any key is written."""
    return MASK


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A copy of the headers with secret values (by header name) replaced by the mask."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {name: MASK if name.lower() in SECRET_HEADERS else value for name, value in items}


def scrub(text: str, secrets: Iterable[Secret | str]) -> str:
    """`text` with each secret masked by the one rule (`secret.mask`), where it leaves."""
    return mask(text, secrets)

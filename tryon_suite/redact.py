"""Keeping API keys out of everything the suite prints, reports or logs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from tryon_suite.secret import Secret, reveal, scrub_secrets

__all__ = ["SECRET_HEADERS", "redact", "redact_headers", "scrub"]

#: Header names (lower-case) whose values are secrets.
SECRET_HEADERS: Final = frozenset({"x-api-key", "authorization", "proxy-authorization", "cookie"})


def redact(secret: Secret | str) -> str:
    """A recognisable stand-in: the first 4 characters of long keys, then asterisks."""
    secret = reveal(secret)
    if len(secret) < 12:
        return "****"
    return f"{secret[:4]}****"


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A copy of the headers with secret values redacted."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {
        name: redact(value) if name.lower() in SECRET_HEADERS else value for name, value in items
    }


def scrub(text: str, secrets: Iterable[Secret | str]) -> str:
    """`text` (recorded data, never rendered output) with each secret masked."""
    return scrub_secrets(text, secrets)

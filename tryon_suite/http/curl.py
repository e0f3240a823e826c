"""A `curl` command that reproduces a recorded request, the key left to the environment."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["KEY_VARIABLES", "curl_command"]

#: Which environment variable stands for which key in a reproduction (never the key itself).
KEY_VARIABLES: Final = {
    "run key": "$TRYON_API_KEY",
    "other key": "$TRYON_OTHER_KEY",
    "no-credits key": "$TRYON_NO_CREDITS_KEY",
    "another value": "not-a-key-the-target-knows",
}
#: Headers the HTTP client adds on its own: noise in a reproduction.
TRANSPORT_HEADERS: Final = frozenset(
    {"host", "content-length", "accept-encoding", "connection", "user-agent", "accept"}
)


def curl_command(
    method: str,
    url: str,
    headers: Mapping[str, str],
    key_role: str,
    *,
    json_text: str | None = None,
    form: Mapping[str, Any] | None = None,
    files: Mapping[str, tuple[str, int, str]] | None = None,
    raw: bytes | None = None,
) -> str:
    """The command line; file parts name the fixture file (`tryon-suite fixtures DIR`
    writes them), the key is `$TRYON_API_KEY` (or the variable of the key used)."""
    parts = ["curl", "-sS", "-i"]
    if method != "GET":
        parts += ["-X", method]
    parts.append(shlex.quote(url))
    for name, value in headers.items():
        lower = name.lower()
        if lower in TRANSPORT_HEADERS or (form is not None and lower == "content-type"):
            continue
        if lower == "x-api-key":
            variable = KEY_VARIABLES.get(key_role, "$TRYON_API_KEY")
            # double quotes, so the shell expands the variable: the key never appears
            header = f"{name}: {variable}"
            parts += ["-H", f'"{header}"' if variable.startswith("$") else shlex.quote(header)]
        else:
            parts += ["-H", shlex.quote(f"{name}: {value}")]
    if json_text is not None:
        parts += ["--data-raw", shlex.quote(json_text)]
    for name, value in (form or {}).items():
        parts += ["--form-string", shlex.quote(f"{name}={value}")]
    for name, (filename, _size, mime) in (files or {}).items():
        parts += ["-F", shlex.quote(f"{name}=@{filename};type={mime}")]
    if raw is not None and json_text is None and form is None:
        if raw:
            shown = raw.decode("utf-8", "replace") if len(raw) <= 2000 else None
            parts += ["--data-binary", shlex.quote(shown) if shown is not None else "@body.bin"]
        else:
            parts += ["--data-binary", "''"]
    return " ".join(parts)

"""Bodies the contract checks share."""

from __future__ import annotations

import httpx

from tryon_suite import (
    Target,
    TryOnClient,
    TryOnRequest,
    expect_jpeg,
    fixture_files,
    fixture_urls,
    not_checked,
)

#: Multipart parts and JSON URLs of the fixture images (JPEG unless told).
files = fixture_files
urls = fixture_urls


#: Seconds a live run waits before fetching a result again: an hour is too long to wait, but
#: a result that is gone after a few seconds is caught.
LIVE_RECHECK = 5.0


def expect_still_valid(
    client: TryOnClient, target: Target, url: str, seen_at: float | None = None
) -> None:
    """tryon.result.valid_one_hour on any path: where the suite moves the target's clock, the
    result still downloads 10 s before its hour is up (counted from `seen_at`, when an answer
    first carried it, else from now); live, it still does a few seconds after it came (which
    can fail the clause, never show it holds; a result bought early has waited already)."""
    if not target.live:
        elapsed = 0.0 if seen_at is None else target.now() - seen_at
        if elapsed > 3590:
            not_checked(
                f"the target's clock moved {elapsed:.0f} s since the result came", scope="run"
            )
        target.advance(3590 - elapsed)
        expect_jpeg(client.download(url), clause="tryon.result.valid_one_hour")
        return
    waited = 0.0 if seen_at is None else target.now() - seen_at
    if waited < LIVE_RECHECK:
        target.sleep(LIVE_RECHECK - waited)
    expect_jpeg(client.download(url), clause="tryon.result.valid_one_hour", record=False)


def answer_text(response: httpx.Response) -> str:
    """`status error_code` for an observation (the code when the body is a JSON error)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("error_code", "") if isinstance(body, dict) else ""
    return f"{response.status_code} {code if response.status_code >= 400 else ''}".strip()


def answer_value(response: httpx.Response) -> dict[str, object]:
    """The same answer as data, for an observation's value: its status, and its error_code
    (None for a success, or where the body names none)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("error_code") if isinstance(body, dict) else None
    return {
        "status": response.status_code,
        "error_code": code if response.status_code >= 400 else None,
    }


def polling_body(target: Target, kind: str = "multipart") -> TryOnRequest:
    if kind == "json":
        return TryOnRequest.json(**urls(target), wait_for_result=False)
    return TryOnRequest.multipart(files(target), wait_for_result=False)

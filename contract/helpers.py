"""Bodies the contract checks share."""

from __future__ import annotations

from typing import Any

import httpx

from tryon_suite import Target, TryOnClient, TryOnRequest, expect_jpeg


# JPEG is the one format every reading of the contract accepts (the results are JPEGs); which
# others are taken is an open point (tryon.limits.formats).
def files(
    target: Target, person: str = "person.jpg", garment: str = "garment.jpg"
) -> dict[str, Any]:
    images = target.images
    return {
        "person_image": (person, images[person], images.mime_type(person)),
        "garment_image": (garment, images[garment], images.mime_type(garment)),
    }


def urls(
    target: Target, person: str = "person.jpg", garment: str = "garment.jpg"
) -> dict[str, str]:
    return {
        "person_image_url": target.image_url(person),
        "garment_image_url": target.image_url(garment),
    }


#: Seconds a live run waits before fetching a result again: an hour is too long to wait, but
#: a result that is gone after a few seconds is caught.
LIVE_RECHECK = 5.0


def expect_still_valid(client: TryOnClient, target: Target, url: str) -> None:
    """tryon.result.valid_one_hour on any path: where the suite moves the target's clock, the
    result still downloads 10 s before its hour is up; live, it still does a few seconds on
    (which can fail the clause, never show it holds)."""
    if not target.live:
        target.advance(3590)
        expect_jpeg(client.download(url), clause="tryon.result.valid_one_hour")
        return
    target.sleep(LIVE_RECHECK)
    expect_jpeg(client.download(url), clause="tryon.result.valid_one_hour", record=False)


def answer_text(response: httpx.Response) -> str:
    """`status error_code` for an observation (the code when the body is a JSON error)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    code = body.get("error_code", "") if isinstance(body, dict) else ""
    return f"{response.status_code} {code if response.status_code >= 400 else ''}".strip()


def polling_body(target: Target, kind: str = "multipart") -> TryOnRequest:
    if kind == "json":
        return TryOnRequest.json(**urls(target), wait_for_result=False)
    return TryOnRequest.multipart(files(target), wait_for_result=False)

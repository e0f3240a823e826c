"""Bodies the contract checks share."""

from __future__ import annotations

from typing import Any

from tryon_suite.client import TryOnRequest
from tryon_suite.targets import Target


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


def polling_body(target: Target, kind: str = "multipart") -> TryOnRequest:
    if kind == "json":
        return TryOnRequest.json(**urls(target), wait_for_result=False)
    return TryOnRequest.multipart(files(target), wait_for_result=False)

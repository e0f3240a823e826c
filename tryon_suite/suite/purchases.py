"""The paid exchanges a run may need, as a catalogue: the successes a run needs, and nothing
more.

A success costs credits and, against an image model, a processing time; a refusal costs
neither. So the checks that need a success do not each send one: they declare which
`Purchase` they judge (`@pytest.mark.purchases(...)`), the run buys each named purchase once
(`ledger.py`), and every check that names it judges the same answer. One purchase folds in
everything the contract lets one request carry: a garment mode, one value of each flag, images
at the resolution limits, a URL a file must win over.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from tryon_suite.http.client import Credits, TryOnClient, TryOnRequest
from tryon_suite.http.polling import PollPolicy
from tryon_suite.http.retry import RetryPolicy
from tryon_suite.http.secret import Secret
from tryon_suite.http.watch import Watch
from tryon_suite.spec.fixture_images import UNSUPPORTED_FORMATS, FixtureImages


class Shop(Protocol):
    """What buying needs of a target (`targets.Target` is one): its fixture images and where
    it fetches them, its keys, clock, polling and credits, and a client."""

    @property
    def images(self) -> FixtureImages: ...
    @property
    def image_url(self) -> Callable[[str], str]: ...
    @property
    def other_key(self) -> Secret | None: ...
    @property
    def watch(self) -> Watch | None: ...
    @property
    def credits(self) -> Credits: ...
    @property
    def now(self) -> Callable[[], float]: ...
    @property
    def poll(self) -> PollPolicy: ...

    def client(
        self, retry: RetryPolicy | None = None, *, may_spend: bool = True
    ) -> TryOnClient: ...


__all__ = ["PURCHASES", "Purchase", "Shop", "fixture_files", "fixture_urls"]


def fixture_files(
    target: Shop, person: str = "person.jpg", garment: str = "garment.jpg"
) -> dict[str, Any]:
    """Multipart image parts from the fixtures (`files` of the contract checks). JPEG is the
    one format every reading accepts (the results are JPEGs); which others are taken is open."""
    images = target.images
    return {
        "person_image": (person, images[person], images.mime_type(person)),
        "garment_image": (garment, images[garment], images.mime_type(garment)),
    }


def fixture_urls(
    target: Shop, person: str = "person.jpg", garment: str = "garment.jpg"
) -> dict[str, str]:
    return {
        "person_image_url": target.image_url(person),
        "garment_image_url": target.image_url(garment),
    }


@dataclass(frozen=True)
class Purchase:
    """One paid exchange: a sync try-on (then its result downloaded) or a polled job (followed
    to its end, then its result downloaded)."""

    name: str
    kind: Literal["sync", "job"]
    build: Callable[[Shop], TryOnRequest]
    #: what it folds in, for the plan
    serves: str
    #: a job followed to its end (else only accepted: whoever judges it polls it)
    follow: bool = True


def _multipart_auto(t: Shop) -> TryOnRequest:
    return TryOnRequest.multipart(
        fixture_files(t, "edge-min.jpg", "edge-max.jpg"),
        garment_mode="auto",
        preprocess_garment=True,
        remove_background=False,
        wait_for_result=True,
    )


def _multipart_full(t: Shop) -> TryOnRequest:
    decoys = {
        "person_image_url": t.image_url("random.bin"),
        "garment_image_url": t.image_url("random.bin"),
    }
    return TryOnRequest.multipart(
        fixture_files(t, "edge-max.jpg", "edge-min.jpg"),
        **decoys,
        garment_mode="full",
        preprocess_garment=False,
        remove_background=True,
        wait_for_result=True,
    )


def _json(
    mode: str, preprocess: bool, remove: bool, **more: bool
) -> Callable[[Shop], TryOnRequest]:
    """A JSON try-on of the fixture URLs in garment `mode`, with both flags given."""

    def build(t: Shop) -> TryOnRequest:
        return TryOnRequest.json(
            **fixture_urls(t),
            garment_mode=mode,
            preprocess_garment=preprocess,
            remove_background=remove,
            **more,
        )

    return build


def _json_job(t: Shop) -> TryOnRequest:
    """The JSON job's body: bought twice, the very same."""
    return TryOnRequest.json(**fixture_urls(t), wait_for_result=False)


def _person(fixture: str, serves: str) -> Purchase:
    """A waiting multipart try-on whose person image is the fixture `fixture`."""

    def build(t: Shop) -> TryOnRequest:
        return TryOnRequest.multipart(
            fixture_files(t, fixture, "garment.jpg"), wait_for_result=True
        )

    return Purchase(f"person-{fixture}", "sync", build, serves)


def _job_with_truncated_person(t: Shop) -> TryOnRequest:
    person = ("truncated.jpg", t.images["truncated.jpg"], "image/jpeg")
    return TryOnRequest.multipart(
        {**fixture_files(t), "person_image": person}, wait_for_result=False
    )


def _form_wait(spelling: str) -> Purchase:
    def build(t: Shop) -> TryOnRequest:
        return TryOnRequest.multipart(fixture_files(t), wait_for_result=spelling)

    return Purchase(
        f"form-wait-{spelling}",
        "sync",
        build,
        f"wait_for_result spelled {spelling!r} in a form: is it taken?",
    )


#: The catalogue, in the order a credit budget buys them (most clauses per credit first).
PURCHASES: dict[str, Purchase] = {
    p.name: p
    for p in (
        Purchase(
            "multipart-defaults",
            "sync",
            lambda t: TryOnRequest.multipart(fixture_files(t)),
            "multipart with no optional field: the defaults, the credit cost, the hour",
        ),
        Purchase(
            "multipart-auto",
            "sync",
            _multipart_auto,
            "multipart, auto, preprocess true, remove false; person at the minimum "
            "resolution, garment at the maximum",
        ),
        Purchase(
            "json-upper",
            "sync",
            _json("upper", True, True),
            "JSON, upper, both flags true, wait_for_result left to its default",
        ),
        Purchase(
            "job-json",
            "job",
            _json_job,
            "a JSON job polled to its end: the lifecycle, the 401s and isolation on its job",
        ),
        Purchase(
            "multipart-full",
            "sync",
            _multipart_full,
            "multipart, full, preprocess false, remove true; person at the maximum, garment "
            "at the minimum; URLs to non-images the files must win over",
        ),
        Purchase(
            "json-lower",
            "sync",
            _json("lower", False, False, wait_for_result=True),
            "JSON, lower, both flags false",
        ),
        Purchase(
            "job-json-again",
            "job",
            _json_job,
            "the JSON job's very body again: its 202 must name a job of its own",
            follow=False,
        ),
        Purchase(
            "job-multipart",
            "job",
            lambda t: TryOnRequest.multipart(fixture_files(t), wait_for_result=False),
            "a multipart job polled to its end",
        ),
        Purchase(
            "png-and-webp",
            "sync",
            lambda t: TryOnRequest.multipart(fixture_files(t, "person.png", "garment.webp")),
            "a PNG person and a WebP garment: both formats at once (split only if refused)",
        ),
        # Open points a target may answer with a success (then they cost, and take a
        # processing time) or a refusal: bought with the rest, so a target that takes them
        # does not make the run wait for each in turn.
        _person("between.jpg", "a person file between 25,000,000 and 26,214,400 bytes"),
        *(_form_wait(spelling) for spelling in ("True", "1")),
        *(
            _person(f"plain.{ext}", "a single-colour person: processed or unknown_foreground")
            for ext in ("png", "jpg")
        ),
        *(
            _person(f"photo.{fmt.lower()}", f"a {fmt} person: taken or unsupported_image_format")
            for fmt in UNSUPPORTED_FORMATS
        ),
        _person("narrow.png", "a person narrower than the minimum with pixels enough"),
        Purchase(
            "json-unknown-field",
            "sync",
            lambda t: TryOnRequest.json(**fixture_urls(t), style="casual", wait_for_result=True),
            "a JSON body with a field the API does not know",
        ),
        Purchase(
            "job-truncated-person",
            "job",
            _job_with_truncated_person,
            "a polled job whose person image is cut short: refused at once, or failed later",
        ),
    )
}

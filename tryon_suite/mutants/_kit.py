"""What every mutant module builds with: the `Mutant` record and the ways to make a variant.

A variant is the simulator's own core with hooks overridden (`Simulator.HOOKS`, nothing else) or
with one config value changed, never a copy of it; most rewrite answers on their way out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from tryon_suite.http.clock import Clock
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.core import SimRequest, SimResponse, Simulator
from tryon_suite.simulator.fetch import ImageFetcher
from tryon_suite.spec.images import render_image

Need = Literal["burst", "no_credits", "other_key"]
Rewrite = Callable[[SimRequest, SimResponse], SimResponse]


class Build(Protocol):
    """Makes a mutant's simulator; without a fetcher, image URLs are fetched over the network."""

    def __call__(
        self, config: SimulatorConfig, clock: Clock, fetcher: ImageFetcher | None = None
    ) -> Simulator: ...


@dataclass(frozen=True)
class Mutant:
    """One deviation: what it breaks, what seeing it needs, and how to build it."""

    name: str
    description: str
    clauses: tuple[str, ...]
    build: Build
    needs: tuple[Need, ...] = ()
    #: every clause it breaks is a `should`: a run against it exits 0 (the contract does not
    #: require what it breaks), so the self-test asks that a should see it, not that it fail
    should_only: bool = False


def variant(cls: type[Simulator]) -> Build:
    """A mutant that is a subclass overriding hooks."""

    def build(
        config: SimulatorConfig, clock: Clock, fetcher: ImageFetcher | None = None
    ) -> Simulator:
        return cls(config, clock, fetcher)

    return build


def configured(**changes: Any) -> Build:
    """A mutant that is only a different configuration."""

    def build(
        config: SimulatorConfig, clock: Clock, fetcher: ImageFetcher | None = None
    ) -> Simulator:
        return Simulator(replace(config, **changes), clock, fetcher)

    return build


def filtered(rewrite: Rewrite) -> Build:
    """A mutant that rewrites answers on their way out (the `answer` hook)."""

    class Filtered(Simulator):
        def answer(self, request: SimRequest, response: SimResponse) -> SimResponse:
            return rewrite(request, response)

    return variant(Filtered)


def body(response: SimResponse) -> Any:
    """The answer's JSON, or None where it is not JSON."""
    try:
        return json.loads(response.body)
    except ValueError:
        return None


def with_body(response: SimResponse, payload: Any, status: int | None = None) -> SimResponse:
    """The answer with another JSON body, and another status if given."""
    return SimResponse(status or response.status, response.headers, json.dumps(payload).encode())


def crashed(response: SimResponse) -> SimResponse:
    """The 500 a server answers when it fails on the request: no error_code."""
    return with_body(response, {"error": "Internal server error"}, 500)


def is_try_on(request: SimRequest) -> bool:
    return request.path == "/v1/try-on" and request.method.upper() == "POST"


def is_job(request: SimRequest) -> bool:
    return request.path.startswith("/v1/try-on/job/")


def is_json_body(request: SimRequest) -> bool:
    return request.headers.get("content-type", "").lower().startswith("application/json")


def is_multipart_body(request: SimRequest) -> bool:
    return request.headers.get("content-type", "").lower().startswith("multipart/form-data")


def error_code_renamed(code: str, new_code: str, status: int | None = None) -> Build:
    """Every error with `code` says `new_code` instead (answered with `status`, if given)."""

    def rewrite(request: SimRequest, response: SimResponse) -> SimResponse:
        payload = body(response)
        if isinstance(payload, dict) and payload.get("error_code") == code:
            return with_body(response, {**payload, "error_code": new_code}, status)
        return response

    return filtered(rewrite)


def relabelled(content_type: str, where: Callable[[SimRequest, SimResponse], bool]) -> Build:
    """Answers `where` picks keep their bytes under another Content-Type."""

    def rewrite(request: SimRequest, response: SimResponse) -> SimResponse:
        if where(request, response):
            return SimResponse(
                response.status, {**response.headers, "content-type": content_type}, response.body
            )
        return response

    return filtered(rewrite)


def without_location(request: SimRequest, response: SimResponse) -> SimResponse:
    """A try-on's 202 without its Location header."""
    if is_try_on(request) and response.status == 202:
        headers = {k: v for k, v in response.headers.items() if k != "location"}
        return SimResponse(202, headers, response.body)
    return response


class StandInResults(Simulator):
    """A mutant that lets bad images through still answers with a JPEG: bytes that do not
    decode are composed from a stand-in image instead."""

    def compose(self, person: bytes, garment: bytes) -> bytes:
        try:
            return super().compose(person, garment)
        except Exception:  # the bytes let past a check may not decode
            stand_in = render_image(300, 300, "JPEG")
            return super().compose(stand_in, stand_in)

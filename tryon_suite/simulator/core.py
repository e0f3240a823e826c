"""The simulator's one core: every face (respx in process, ASGI over HTTP, mutants) calls `handle`.

It answers as API.md describes. Where the documentation is silent it picks one reading and
says so in a comment; the contract suite accepts every reasonable reading.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import re
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from tryon_suite.clock import Clock
from tryon_suite.images import ImageInfo, ImageProblem, compose_result, inspect_image
from tryon_suite.simulator import bodies, params
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.fetch import FetchProblem, HttpFetcher, ImageFetcher
from tryon_suite.simulator.ratelimit import TokenBucket

__all__ = ["Disconnected", "Job", "SimRequest", "SimResponse", "Simulator"]

_JOB_PATH: Final = re.compile(r"^/v1/try-on/job/(?P<job_id>[^/]+)$")
_RESULT_PATH: Final = re.compile(r"^/results/(?P<result_id>[0-9a-f]{32})\.jpg$")
_COMPOSE_CACHE_SIZE: Final = 64
_log = logging.getLogger("tryon_suite.simulator")


class Disconnected(Exception):
    """The client went away mid-body; a face raises it from the body stream, and it passes."""


async def _no_body() -> AsyncIterator[bytes]:
    return
    yield b""  # pragma: no cover - makes this an async generator


@dataclass(frozen=True)
class SimRequest:
    """A request as every face hands it over: header names lower-case, the body as a stream."""

    method: str
    path: str
    headers: Mapping[str, str]
    base_url: str
    body: AsyncIterator[bytes] = field(default_factory=_no_body)


@dataclass(frozen=True)
class SimResponse:
    """An answer: status, headers and body bytes."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def _json(status: int, payload: object, headers: Mapping[str, str] | None = None) -> SimResponse:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return SimResponse(status, {"content-type": "application/json", **(headers or {})}, body)


def _error(status: int, code: str, message: str, **headers: str) -> SimResponse:
    """API.md: errors are `{"error": "<description>", "error_code": "<code>"}`."""
    return _json(status, {"error": message, "error_code": code}, headers)


@dataclass
class Job:
    """A polled try-on; its status is a function of the clock, so it can never go back."""

    job_id: str
    owner: str
    started: float
    running_at: float
    done_at: float
    outcome: Literal["completed", "failed"]
    result: bytes | None
    result_id: str | None = None

    def status(self, now: float) -> str:
        if now < self.running_at:
            return "pending"
        if now < self.done_at:
            return "running"
        return self.outcome


@dataclass
class _Result:
    expires: float
    jpeg: bytes


class Simulator:
    """A stateful Try-On API: accounts, credits, rate limits, image checks, jobs and results."""

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        clock: Clock | None = None,
        fetcher: ImageFetcher | None = None,
    ) -> None:
        from tryon_suite.clock import RealClock

        self.config = config or SimulatorConfig()
        self.clock: Clock = clock or RealClock()
        self.fetcher: ImageFetcher = fetcher or HttpFetcher(self.config.fetch_timeout)
        self.credits: dict[str, int] = {a.key: a.credits for a in self.config.accounts}
        self._buckets: dict[str, TokenBucket] = {}
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._results: OrderedDict[str, _Result] = OrderedDict()
        self._composed: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._random = random.Random(self.config.seed)

    # -- the one entry point -------------------------------------------------------------

    async def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request; bad input gets a documented 4xx, never an exception."""
        try:
            return self.answer(request, await self._route(request))
        except Disconnected:
            raise
        except Exception as exc:
            # A bug of ours, not the client's: answer as a server would, and log it for us.
            _log.exception("simulator error on %s %s", request.method, request.path[:200])
            return _error(500, "internal_server_error", f"simulator error: {type(exc).__name__}")

    # -- hooks: a mutant (tryon_suite.mutants) overrides one of these to break one clause ------

    def answer(self, request: SimRequest, response: SimResponse) -> SimResponse:
        """The last word on every answer; the correct simulator changes nothing."""
        return response

    def inspect(self, data: bytes, field: str) -> ImageInfo | ImageProblem:
        """Check one image as the API does (images.inspect_image under the config's limits)."""
        return inspect_image(data, self.config.limits, field)

    def inspect_input(
        self, data: bytes, field: str, source: Literal["file", "url"]
    ) -> ImageInfo | ImageProblem:
        """Check one input image as it arrived (a file part or a fetched URL): the same rules
        on every path (API.md), so the correct simulator ignores `source`."""
        return self.inspect(data, field)

    def stream_cap(self) -> int:
        """The most bytes read of one image while it streams in (a file part or a URL); the
        size rule itself is judged again by `inspect`."""
        return self.config.limits.max_file_bytes_high

    def owns(self, job: Job, key: str) -> bool:
        """Whether `key` may see `job`: only its own account."""
        return job.owner == key

    def has_credits(self, key: str) -> bool:
        return self.credits[key] >= self.config.credits_per_try_on

    async def _route(self, request: SimRequest) -> SimResponse:
        method = request.method.upper()
        path = request.path
        self._prune()
        if path == "/v1/try-on":
            if method != "POST":
                return await self._drained(request, self._not_allowed("POST"))
            return await self._try_on(request)
        if match := _JOB_PATH.match(path):
            if method != "GET":
                return await self._drained(request, self._not_allowed("GET"))
            return await self._job(request, match["job_id"])
        if path == "/v1/credits":
            if method != "GET":
                return await self._drained(request, self._not_allowed("GET"))
            return await self._credits(request)
        if (match := _RESULT_PATH.match(path)) and method in ("GET", "HEAD"):
            return self._result(match["result_id"], head=method == "HEAD")
        return await self._drained(request, _error(404, "not_found", f"no route for {path}"))

    # -- gates shared by every API call --------------------------------------------------

    def _authenticate(self, request: SimRequest) -> str | SimResponse:
        # API.md: the key travels in X-API-KEY; header names are case-insensitive, and every
        # face hands headers over with lower-case names.
        key = request.headers.get("x-api-key")
        if not key:
            return _error(401, "invalid_auth_token", "expected an X-API-KEY header, got none")
        if key not in self.credits:
            return _error(401, "invalid_auth_token", "expected a valid API key, got an unknown one")
        return key

    def _throttle(self, key: str) -> SimResponse | None:
        config = self.config
        if config.rate_limit <= 0:
            return None
        now = self.clock.now()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket.full(
                config.rate_limit, config.bucket_size, now
            )
        wait = bucket.take(now)
        if wait <= 0:
            return None
        # Retry-After is not documented (API.md); we send whole seconds, as RFC 9110 has it.
        return _error(
            429,
            "rate_limit_exceeded",
            f"expected at most {config.rate_limit:g} requests per second per key, got more",
            **{"retry-after": str(max(1, math.ceil(wait)))},
        )

    async def _gate(self, request: SimRequest) -> str | SimResponse:
        """Auth, then the rate limit, then the injected latency: the key, or the answer."""
        key = self._authenticate(request)
        if isinstance(key, SimResponse):
            return key
        if (limited := self._throttle(key)) is not None:
            return limited
        if self.config.latency > 0:
            await self.clock.sleep(self.config.latency)
        return key

    # -- POST /v1/try-on -----------------------------------------------------------------

    async def _try_on(self, request: SimRequest) -> SimResponse:
        key = await self._gate(request)
        if isinstance(key, SimResponse):
            return await self._drained(request, key)
        config = self.config
        if not self.has_credits(key):
            return await self._drained(
                request,
                _error(
                    403,
                    "insufficient_api_credits",
                    f"expected at least {config.credits_per_try_on} credit, "
                    f"got a balance of {self.credits[key]}",
                ),
            )
        if config.fail_rate > 0 and self._random.random() < config.fail_rate:
            return await self._drained(
                request, _error(500, "internal_server_error", "injected failure")
            )
        parsed = await self._read_params(request)
        if isinstance(parsed, SimResponse):
            return parsed
        images = await self._images(parsed)
        if isinstance(images, SimResponse):
            return images
        person, garment = images
        duration = self._processing_time()
        if parsed.wait_for_result:
            await self.clock.sleep(duration)
            self.credits[key] -= config.credits_per_try_on
            result_id = self._store_result(self._compose(person, garment))
            return _json(200, {"result_url": f"{request.base_url}/results/{result_id}.jpg"})
        return self._submit(request, key, person, garment, duration)

    async def _read_params(self, request: SimRequest) -> params.TryOnParams | SimResponse:
        kind, options = bodies.media_type(request.headers.get("content-type"))
        body: object
        if kind == "application/json":
            body = await bodies.read_json(request.body)
            if isinstance(body, bodies.BodyProblem):
                return _error(400, body.error_code, body.message)
            parsed = params.from_json(body)
        elif kind == "multipart/form-data":
            form = await bodies.read_multipart(
                request.body, options.get("boundary"), self.stream_cap()
            )
            if isinstance(form, bodies.BodyProblem):
                return _error(400, form.error_code, form.message)
            parsed = params.from_form(form)
        else:
            shown = kind or "none"
            return await self._drained(
                request,
                _error(
                    400,
                    "unsupported_content_type",
                    f"expected application/json or multipart/form-data, got {shown[:80]}",
                ),
            )
        if isinstance(parsed, params.ParamProblem):
            return _error(400, parsed.error_code, parsed.message)
        return parsed

    async def _images(self, parsed: params.TryOnParams) -> tuple[bytes, bytes] | SimResponse:
        """Both images as checked bytes: the file wins over the URL (API.md)."""
        out: list[bytes] = []
        for name, data, url in (
            ("person_image", parsed.person_image, parsed.person_image_url),
            ("garment_image", parsed.garment_image, parsed.garment_image_url),
        ):
            source: Literal["file", "url"] = "file"
            if data is None:
                assert url is not None  # params guarantees one of the two
                fetched = await self.fetcher.fetch(url, self.stream_cap())
                if isinstance(fetched, FetchProblem):
                    return _error(400, fetched.error_code, f"{name}_url: {fetched.message}")
                data, source = fetched, "url"
            checked = self.inspect_input(data, name, source)
            if not isinstance(checked, ImageInfo):
                return _error(400, checked.error_code, checked.message)
            out.append(data)
        return out[0], out[1]

    def _processing_time(self) -> float:
        base, spread = self.config.processing_time, self.config.processing_spread
        if spread <= 0 or base <= 0:
            return base
        return base * (1.0 + spread * (2.0 * self._random.random() - 1.0))

    def _submit(
        self, request: SimRequest, key: str, person: bytes, garment: bytes, duration: float
    ) -> SimResponse:
        config = self.config
        now = self.clock.now()
        failed = config.job_failure_rate > 0 and self._random.random() < config.job_failure_rate
        job_id = str(uuid.UUID(int=self._random.getrandbits(128), version=4))
        job = Job(
            job_id=job_id,
            owner=key,
            started=now,
            running_at=now + duration * config.queue_share,
            done_at=now + duration,
            outcome="failed" if failed else "completed",
            result=None if failed else self._compose(person, garment),
        )
        # Credits are taken when a job is accepted and given back if it fails (API.md: failed
        # requests usually cost nothing).
        self.credits[key] -= config.credits_per_try_on
        if failed:
            self.credits[key] += config.credits_per_try_on
        self._jobs[job_id] = job
        while len(self._jobs) > config.max_jobs:
            self._jobs.popitem(last=False)
        path = f"/v1/try-on/job/{job_id}"
        location = path if config.location == "relative" else f"{request.base_url}{path}"
        return _json(202, {"job_id": job_id}, {"location": location})

    # -- GET /v1/try-on/job/{job_id} -----------------------------------------------------

    async def _job(self, request: SimRequest, job_id: str) -> SimResponse:
        key = await self._gate(request)
        if isinstance(key, SimResponse):
            return key
        job = self._jobs.get(job_id)
        if job is None or not self.owns(job, key):
            # Not documented (API.md, open points); another account's job looks unknown too.
            return _error(404, "job_not_found", "expected the id of one of your jobs, got another")
        now = self.clock.now()
        status = job.status(now)
        payload: dict[str, object] = {"job_id": job.job_id, "status": status}
        if status == "completed":
            if job.result_id is None or job.result_id not in self._results:
                assert job.result is not None
                job.result_id = self._store_result(job.result, expires=job.done_at)
            payload["result_url"] = f"{request.base_url}/results/{job.result_id}.jpg"
        elif status == "failed":
            payload["error"] = {
                "message": "the images were blocked by the content filter",
                "error_code": "content_filter_error",
            }
        return _json(200, payload)

    # -- GET /v1/credits and result images -----------------------------------------------

    async def _credits(self, request: SimRequest) -> SimResponse:
        key = await self._gate(request)
        if isinstance(key, SimResponse):
            return key
        return _json(200, {"credits": self.credits[key]})

    def _result(self, result_id: str, *, head: bool) -> SimResponse:
        stored = self._results.get(result_id)
        if stored is None or stored.expires <= self.clock.now():
            return _error(404, "not_found", "expected a result URL less than an hour old")
        headers = {
            "content-type": "image/jpeg",
            "cache-control": "private, max-age=3600",
        }
        if head:
            return SimResponse(200, {**headers, "content-length": str(len(stored.jpeg))}, b"")
        return SimResponse(200, headers, stored.jpeg)

    # -- state kept bounded --------------------------------------------------------------

    def _compose(self, person: bytes, garment: bytes) -> bytes:
        """The result JPEG, cached by content: repeated inputs (load runs) cost nothing."""
        digest = (hashlib.sha1(person).hexdigest(), hashlib.sha1(garment).hexdigest())
        cached = self._composed.get(digest)
        if cached is None:
            cached = self._composed[digest] = compose_result(person, garment)
            while len(self._composed) > _COMPOSE_CACHE_SIZE:
                self._composed.popitem(last=False)
        else:
            self._composed.move_to_end(digest)
        return cached

    def _store_result(self, jpeg: bytes, expires: float | None = None) -> str:
        result_id = uuid.UUID(int=self._random.getrandbits(128)).hex
        start = self.clock.now() if expires is None else expires
        self._results[result_id] = _Result(start + self.config.result_ttl, jpeg)
        while len(self._results) > self.config.max_results:
            self._results.popitem(last=False)
        return result_id

    def _prune(self) -> None:
        """Forget expired results and jobs, oldest first."""
        now = self.clock.now()
        while self._results:
            oldest = next(iter(self._results.values()))
            if oldest.expires > now:
                break
            self._results.popitem(last=False)
        while self._jobs:
            oldest_job = next(iter(self._jobs.values()))
            if oldest_job.done_at + self.config.job_ttl > now:
                break
            self._jobs.popitem(last=False)

    @property
    def stored(self) -> tuple[int, int]:
        """How many jobs and results are held now (for memory-bound tests)."""
        return len(self._jobs), len(self._results)

    @staticmethod
    def _not_allowed(allowed: str) -> SimResponse:
        return _error(
            405, "method_not_allowed", f"expected method {allowed}, got another", allow=allowed
        )

    @staticmethod
    async def _drained(request: SimRequest, response: SimResponse) -> SimResponse:
        """Read and drop the body before answering early, so clients see the answer."""
        async for _ in request.body:
            pass
        return response

    async def aclose(self) -> None:
        await self.fetcher.aclose()

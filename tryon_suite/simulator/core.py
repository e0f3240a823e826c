"""The simulator's one core: every face (respx in process, ASGI over HTTP, mutants) calls `handle`.

It answers as API.md describes. Where the documentation is silent it picks one reading and
says so in a comment; the contract suite accepts every reasonable reading.
"""

from __future__ import annotations

import logging
import math
import random
import re
import uuid
from typing import Final, Literal

from tryon_suite.http.clock import Clock
from tryon_suite.simulator import bodies, params
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.fetch import FetchProblem, HttpFetcher, ImageFetcher
from tryon_suite.simulator.hooks import Hooks
from tryon_suite.simulator.messages import (
    Disconnected,
    SimRequest,
    SimResponse,
    error_answer,
    json_answer,
)
from tryon_suite.simulator.ratelimit import TokenBucket
from tryon_suite.simulator.store import Job, Jobs, Results
from tryon_suite.spec.images import ImageInfo

__all__ = ["Disconnected", "Job", "SimRequest", "SimResponse", "Simulator"]

_JOB_PATH: Final = re.compile(r"^/v1/try-on/job/(?P<job_id>[^/]+)$")
_RESULT_PATH: Final = re.compile(r"^/results/(?P<result_id>[0-9a-f]{32})\.jpg$")
_log = logging.getLogger("tryon_suite.simulator")


class Simulator(Hooks):
    """A stateful Try-On API: accounts, credits, rate limits, image checks, jobs and results;
    the decisions a variant may change are its hooks (`hooks.Hooks`)."""

    def __init__(
        self,
        config: SimulatorConfig | None = None,
        clock: Clock | None = None,
        fetcher: ImageFetcher | None = None,
    ) -> None:
        from tryon_suite.http.clock import RealClock

        self.config = config or SimulatorConfig()
        self.clock: Clock = clock or RealClock()
        self.fetcher: ImageFetcher = fetcher or HttpFetcher(self.config.fetch_timeout)
        self.credits: dict[str, int] = {a.key: a.credits for a in self.config.accounts}
        self._buckets: dict[str, TokenBucket] = {}
        self._jobs = Jobs(self.config.max_jobs, self.config.job_ttl)
        self._results = Results(self.config.max_results)
        self._random = random.Random(self.config.seed)

    # -- the one entry point -------------------------------------------------------------

    async def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request; bad input gets a documented 4xx, never an exception."""
        try:
            return _headless(self.answer(request, await self._route(request)), request.method)
        except Disconnected:
            raise
        except Exception as exc:
            # A bug of ours, not the client's: answer as a server would, and log it for us.
            _log.exception("simulator error on %s %s", request.method, request.path[:200])
            return error_answer(
                500, "internal_server_error", f"simulator error: {type(exc).__name__}"
            )

    async def _route(self, request: SimRequest) -> SimResponse:
        method = request.method.upper()
        path = request.path
        self._prune()
        if path == "/v1/try-on":
            if method != "POST":
                return await self._drained(request, self._not_allowed("POST"))
            return await self._try_on(request)
        if match := _JOB_PATH.match(path):
            if method not in ("GET", "HEAD"):
                return await self._drained(request, self._not_allowed("GET, HEAD"))
            return await self._job(request, match["job_id"])
        if path == "/v1/credits":
            if method not in ("GET", "HEAD"):
                return await self._drained(request, self._not_allowed("GET, HEAD"))
            return await self._credits(request)
        if (match := _RESULT_PATH.match(path)) and method in ("GET", "HEAD"):
            return self._result(match["result_id"], head=method == "HEAD")
        return await self._drained(request, error_answer(404, "not_found", f"no route for {path}"))

    # -- gates shared by every API call --------------------------------------------------

    def _authenticate(self, request: SimRequest) -> str | SimResponse:
        key = self.api_key(request)
        if not key:
            return error_answer(401, "invalid_auth_token", "expected an X-API-KEY header, got none")
        if key not in self.credits:
            return error_answer(
                401, "invalid_auth_token", "expected a valid API key, got an unknown one"
            )
        return key

    def _throttle(self, key: str) -> SimResponse | None:
        config = self.config
        if config.rate_limit <= 0:
            return None
        now = self.clock.now()
        key = self.rate_bucket(key)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket.full(
                config.rate_limit, config.bucket_size, now
            )
        wait = bucket.take(now)
        if wait <= 0:
            return None
        # Retry-After is not documented (API.md); we send whole seconds, as RFC 9110 has it.
        return error_answer(
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
        if config.fail_rate > 0 and self._random.random() < config.fail_rate:
            return await self._drained(
                request, error_answer(500, "internal_server_error", "injected failure")
            )
        parsed = await self._read_params(request)
        if isinstance(parsed, SimResponse):
            return parsed
        images = await self._images(parsed)
        if isinstance(images, SimResponse):
            return images
        # The balance is judged once the request is known to be valid (the order is open:
        # API.md); a request refused for its body says why whatever the balance.
        if not self.has_credits(key):
            return error_answer(
                403,
                "insufficient_api_credits",
                f"expected at least {config.credits_per_try_on} credit, "
                f"got a balance of {self.credits[key]}",
            )
        person, garment = images
        if self.waits(parsed):
            await self.clock.sleep(self.processing_time(polled=False))
            self.credits[key] -= config.credits_per_try_on
            jpeg = self.compose(person, garment)
            result_id = self._store_result(jpeg, self.clock.now(), polled=False)
            return json_answer(200, {"result_url": f"{request.base_url}/results/{result_id}.jpg"})
        return self._submit(request, key, person, garment, self.processing_time(polled=True))

    async def _read_params(self, request: SimRequest) -> params.TryOnParams | SimResponse:
        kind, options = bodies.media_type(self.content_type(request))
        body: object
        if kind == "application/json":
            body = await bodies.read_json(request.body)
            if isinstance(body, bodies.BodyProblem):
                return error_answer(400, body.error_code, body.message)
            parsed = params.from_json(body)
        elif kind == "multipart/form-data":
            form = await bodies.read_multipart(
                request.body, options.get("boundary"), self.stream_cap()
            )
            if isinstance(form, bodies.BodyProblem):
                return error_answer(400, form.error_code, form.message)
            parsed = params.from_form(form)
        else:
            shown = kind or "none"
            return await self._drained(
                request,
                error_answer(
                    400,
                    "unsupported_content_type",
                    f"expected application/json or multipart/form-data, got {shown[:80]}",
                ),
            )
        if isinstance(parsed, params.ParamProblem):
            return error_answer(400, parsed.error_code, parsed.message)
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
                    return error_answer(400, fetched.error_code, f"{name}_url: {fetched.message}")
                data, source = fetched, "url"
            checked = self.inspect_input(data, name, source)
            if not isinstance(checked, ImageInfo):
                return error_answer(400, checked.error_code, checked.message)
            out.append(data)
        return out[0], out[1]

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
            result=None if failed else self.compose(person, garment),
        )
        # Credits are taken when a job is accepted and given back if it fails (API.md: failed
        # requests usually cost nothing).
        self.credits[key] -= config.credits_per_try_on
        if failed:
            self.credits[key] += config.credits_per_try_on
        self._jobs.add(job)
        path = f"/v1/try-on/job/{job_id}"
        location = path if config.location == "relative" else f"{request.base_url}{path}"
        return json_answer(202, {"job_id": job_id}, {"location": location})

    # -- GET /v1/try-on/job/{job_id} -----------------------------------------------------

    async def _job(self, request: SimRequest, job_id: str) -> SimResponse:
        key = await self._gate(request)
        if isinstance(key, SimResponse):
            return key
        job = self._jobs.get(job_id)
        if job is None or not self.owns(job, key):
            # Not documented (API.md, open points); another account's job looks unknown too.
            return error_answer(
                404, "job_not_found", "expected the id of one of your jobs, got another"
            )
        now = self.clock.now()
        status = job.status(now)
        payload: dict[str, object] = {"job_id": job.job_id, "status": status}
        if status == "completed":
            if job.result_id is None or job.result_id not in self._results:
                assert job.result is not None
                job.result_id = self._store_result(job.result, job.done_at, polled=True)
            payload["result_url"] = f"{request.base_url}/results/{job.result_id}.jpg"
        elif status == "failed":
            payload["error"] = {
                "message": "the images were blocked by the content filter",
                "error_code": "content_filter_error",
            }
        return json_answer(200, payload)

    # -- GET /v1/credits and result images -----------------------------------------------

    async def _credits(self, request: SimRequest) -> SimResponse:
        key = await self._gate(request)
        if isinstance(key, SimResponse):
            return key
        return json_answer(200, {"credits": self.credits[key]})

    def _result(self, result_id: str, *, head: bool) -> SimResponse:
        jpeg = self._results.get(result_id, self.clock.now())
        if jpeg is None:
            return error_answer(404, "not_found", "expected a result URL less than an hour old")
        headers = {
            "content-type": "image/jpeg",
            "cache-control": "private, max-age=3600",
        }
        if head:
            return SimResponse(200, {**headers, "content-length": str(len(jpeg))}, b"")
        return SimResponse(200, headers, jpeg)

    # -- state kept bounded --------------------------------------------------------------

    def _store_result(self, jpeg: bytes, since: float, *, polled: bool) -> str:
        """Keep a result under a fresh id, its URL valid for `result_ttl` from `since`."""
        result_id = uuid.UUID(int=self._random.getrandbits(128)).hex
        self._results.keep(result_id, jpeg, since + self.result_ttl(polled=polled))
        return result_id

    def _prune(self) -> None:
        """Forget expired results and jobs, oldest first."""
        now = self.clock.now()
        self._results.prune(now)
        self._jobs.prune(now)

    @property
    def stored(self) -> tuple[int, int]:
        """How many jobs and results are held now (for memory-bound tests)."""
        return len(self._jobs), len(self._results)

    @staticmethod
    def _not_allowed(allowed: str) -> SimResponse:
        return error_answer(
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


def _headless(response: SimResponse, method: str) -> SimResponse:
    """RFC 9110 9.3.2: HEAD is answered as GET is, without the content."""
    if method.upper() != "HEAD" or not response.body:
        return response
    length = {"content-length": str(len(response.body))}
    return SimResponse(response.status, {**response.headers, **length}, b"")

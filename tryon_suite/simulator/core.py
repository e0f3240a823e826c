"""The simulator's one core: every face (respx in process, ASGI over HTTP, mutants) calls `handle`.

It answers as API.md describes. Where the documentation is silent it answers as its readings
say (`readings.Readings`, set in the config); the contract suite accepts every reasonable one.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
import re
import uuid
from typing import Final, Literal

from tryon_suite.http.clock import Clock
from tryon_suite.simulator import params
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.fetch import FetchProblem, HttpFetcher, ImageFetcher
from tryon_suite.simulator.hooks import Hooks
from tryon_suite.simulator.messages import (
    Disconnected,
    SimRequest,
    SimResponse,
    dressed,
    error_answer,
    headless,
    json_answer,
    result_answer,
)
from tryon_suite.simulator.ratelimit import TokenBucket
from tryon_suite.simulator.store import Job, Jobs, Results
from tryon_suite.spec.images import ImageInfo, ImageProblem

__all__ = ["Disconnected", "Job", "SimRequest", "SimResponse", "Simulator"]

_JOB_PATH: Final = re.compile(r"^/v1/try-on/job/(?P<job_id>[^/]+)$")
_RESULT_PATH: Final = re.compile(r"^/results/(?P<result_id>[0-9a-f]{32})\.jpg$")
#: a result's short link, where the readings have result URLs redirect
_SHORT_PATH: Final = re.compile(r"^/r/(?P<result_id>[0-9a-f]{32})\.jpg$")
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
        self.readings = self.config.served_readings
        self.limits = self.readings.limits(self.config.limits)
        #: fresh numbers for opaque job ids, extra fields and signatures, as readings ask
        self._numbers = itertools.count(1)

    # -- the one entry point -------------------------------------------------------------

    async def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request; bad input gets a documented 4xx, never an exception."""
        try:
            answer = dressed(await self._route(request), self.readings, self._numbers)
            return headless(self.answer(request, answer), request.method)
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
        if path == "/v1/credits" and self.readings.credits_body is not None:
            if method not in ("GET", "HEAD"):
                return await self._drained(request, self._not_allowed("GET, HEAD"))
            return await self._credits(request)
        if method in ("GET", "HEAD"):
            if match := _RESULT_PATH.match(path):
                return self._result(match["result_id"], head=method == "HEAD")
            if self.readings.result_redirect and (match := _SHORT_PATH.match(path)):
                where = f"/results/{match['result_id']}.jpg"
                return SimResponse(302, {"location": where, "content-length": "0"}, b"")
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
        # Retry-After is not documented (API.md): whole seconds, a date, or none, as read.
        header = self.readings.retry_after_of(wait)
        return error_answer(
            429,
            "rate_limit_exceeded",
            f"expected at most {config.rate_limit:g} requests per second per key, got more",
            **({} if header is None else {"retry-after": header}),
        )

    def _limited(self, request: SimRequest, key: str | None) -> SimResponse | None:
        """The rate limit on the key presented, judged or not yet (the readings may judge the
        limit before the key): a key that is no account's never counts."""
        presented = key if key is not None else self.api_key(request)
        return self._throttle(presented) if presented in self.credits else None

    async def _gate(self, request: SimRequest) -> str | SimResponse:
        """A poll's or a balance read's key and rate, in the readings' order (its rate only
        where the readings count reads toward the limit), then the latency: the key, or the
        answer."""
        key: str | None = None
        for stage in self.readings.check_order:
            if stage == "auth":
                checked = self._authenticate(request)
                if isinstance(checked, SimResponse):
                    return checked
                key = checked
            elif stage == "rate_limit" and self.readings.limit_reads:
                limited = self._limited(request, key)
                if limited is not None:
                    return limited
        if self.config.latency > 0:
            await self.clock.sleep(self.config.latency)
        assert key is not None
        return key

    # -- POST /v1/try-on -----------------------------------------------------------------

    async def _try_on(self, request: SimRequest) -> SimResponse:
        """The checks in the readings' order (by default the key, its rate, the body, the
        images, the balance); the first that refuses answers."""
        config = self.config
        order = self.readings.check_order
        # once the key and its rate have both passed: the latency, then an injected failure
        admitted_at = max(order.index("auth"), order.index("rate_limit"))
        key: str | None = None
        parsed: params.TryOnParams | None = None
        images: tuple[bytes, bytes] | None = None
        read = False
        for index, stage in enumerate(order):
            refused: SimResponse | None = None
            if stage == "auth":
                judged = self._authenticate(request)
                if isinstance(judged, SimResponse):
                    refused = judged
                else:
                    key = judged
            elif stage == "rate_limit":
                refused = self._limited(request, key)
            elif stage == "body":
                got = await params.read(
                    request.body, self.content_type(request), self.stream_cap(), self.readings
                )
                if isinstance(got, params.ParamProblem):
                    return error_answer(got.status, got.error_code, got.message)
                parsed, read = got, True
            elif stage == "garment_mode":
                assert parsed is not None
                if isinstance(parsed, params.HeldBack) and (held := parsed.problem) is not None:
                    refused = error_answer(400, held.error_code, held.message)
            elif stage == "images":
                assert parsed is not None
                checked = await self._images(parsed)
                if isinstance(checked, ImageProblem):
                    if self.readings.async_validation == "fail_job" and not self.waits(parsed):
                        assert key is not None
                        return self._submit(request, key, None, checked)
                    return error_answer(400, checked.error_code, checked.message)
                images = checked
            else:  # credits
                assert key is not None
                if not self.has_credits(key):
                    refused = error_answer(
                        403,
                        "insufficient_api_credits",
                        f"expected at least {config.credits_per_try_on} credit, "
                        f"got a balance of {self.credits[key]}",
                    )
            if refused is None and index == admitted_at:
                if config.latency > 0:
                    await self.clock.sleep(config.latency)
                if config.fail_rate > 0 and self._random.random() < config.fail_rate:
                    refused = error_answer(500, "internal_server_error", "injected failure")
            if refused is not None:
                return refused if read else await self._drained(request, refused)
        assert parsed is not None
        assert images is not None
        assert key is not None
        if self.waits(parsed):
            await self.clock.sleep(self.processing_time(polled=False))
            self.credits[key] -= config.credits_per_try_on
            jpeg = self.compose(*images)
            result_id = self._store_result(jpeg, self.clock.now(), polled=False)
            return json_answer(200, {"result_url": self._result_url(request, result_id)})
        return self._submit(request, key, images)

    async def _images(self, parsed: params.TryOnParams) -> tuple[bytes, bytes] | ImageProblem:
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
                    code = fetched.error_code
                    if code == "invalid_parameter":  # no image came: as the readings say
                        code = self.readings.unreachable_url_code
                    return ImageProblem(code, f"{name}_url: {fetched.message}")
                data, source = fetched, "url"
            checked = self.inspect_input(data, name, source)
            if not isinstance(checked, ImageInfo):
                return checked
            out.append(data)
        return out[0], out[1]

    def _submit(
        self,
        request: SimRequest,
        key: str,
        images: tuple[bytes, bytes] | None,
        problem: ImageProblem | None = None,
    ) -> SimResponse:
        """A job of checked images, or (`problem`, images judged in the job as the readings
        have it) one that fails with the refusal's code, at no cost."""
        config = self.config
        now = self.clock.now()
        duration = self.processing_time(polled=True)
        failed = problem is not None or (
            config.job_failure_rate > 0 and self._random.random() < config.job_failure_rate
        )
        job = Job(
            job_id=self._job_id(),
            owner=key,
            started=now,
            running_at=now + duration * config.queue_share,
            done_at=now + duration,
            outcome="failed" if failed else "completed",
            result=None if failed or images is None else self.compose(*images),
            error=None if problem is None else _job_error(problem),
        )
        # Credits are taken when a job is accepted and given back if it fails (API.md: failed
        # requests usually cost nothing).
        if problem is None:
            self.credits[key] -= config.credits_per_try_on
            if failed:
                self.credits[key] += config.credits_per_try_on
        self._jobs.add(job)
        readings = self.readings
        location = readings.location_of(job.job_id, request.base_url)
        body = readings.accepted(job.job_id, next(self._numbers))
        return json_answer(202, body, {"location": location})

    def _job_id(self) -> str:
        if self.readings.job_ids == "opaque":
            return f"tj_{next(self._numbers):012x}"
        return str(uuid.UUID(int=self._random.getrandbits(128), version=4))

    # -- GET /v1/try-on/job/{job_id} -----------------------------------------------------

    async def _job(self, request: SimRequest, job_id: str) -> SimResponse:
        key = await self._gate(request)
        if isinstance(key, SimResponse):
            return key
        job = self._jobs.get(job_id)
        if job is None or not self.owns(job, key):
            # Not documented (API.md, open points): as the readings answer each
            refusal = self.readings.unknown_job if job is None else self.readings.foreign_job
            return error_answer(*refusal, "expected the id of one of your jobs, got another")
        now = self.clock.now()
        status = job.status(now)
        payload: dict[str, object] = {"job_id": job.job_id, "status": status}
        if status == "completed":
            if job.result_id is None or job.result_id not in self._results:
                assert job.result is not None
                job.result_id = self._store_result(job.result, job.done_at, polled=True)
            payload["result_url"] = self._result_url(request, job.result_id)
        elif status == "failed":
            payload["error"] = job.error or {
                "message": "the images were blocked by the content filter",
                "error_code": self.readings.job_error_code,
            }
        return json_answer(200, payload)

    # -- GET /v1/credits and result images -----------------------------------------------

    async def _credits(self, request: SimRequest) -> SimResponse:
        key = await self._gate(request)
        if isinstance(key, SimResponse):
            return key
        opening = next(a.credits for a in self.config.accounts if a.key == key)
        return json_answer(200, self.readings.credits(self.credits[key], opening))

    def _result_url(self, request: SimRequest, result_id: str) -> str:
        """Where a result downloads: signed, or behind a short link, as the readings have it."""
        readings = self.readings
        folder = "/r/" if readings.result_redirect else "/results/"
        url = f"{request.base_url}{folder}{result_id}.jpg"
        if readings.signed_result_urls:
            expires = math.ceil(self.clock.now() + self.config.result_ttl)
            url += f"?expires={expires}&signature={next(self._numbers):016x}"
        return url

    def _result(self, result_id: str, *, head: bool) -> SimResponse:
        jpeg = self._results.get(result_id, self.clock.now())
        return result_answer(jpeg, self.readings, head=head)

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


def _job_error(problem: ImageProblem) -> dict[str, str]:
    return {"message": problem.message, "error_code": problem.error_code}

"""Mutants whose polled jobs go back, never end, or report the wrong job or result."""

from __future__ import annotations

from typing import Final

from tryon_suite.http.clock import Clock
from tryon_suite.mutants._kit import Mutant, body, filtered, is_job, variant, with_body
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.core import SimRequest, SimResponse, Simulator
from tryon_suite.simulator.fetch import ImageFetcher


def _state_goes_back(
    config: SimulatorConfig, clock: Clock, fetcher: ImageFetcher | None = None
) -> Simulator:
    """Every second poll of a completed job reads running; the count is this simulator's."""
    polls: dict[str, int] = {}

    def rewrite(request: SimRequest, response: SimResponse) -> SimResponse:
        payload = body(response)
        if is_job(request) and response.status == 200 and payload.get("status") == "completed":
            seen = polls[payload["job_id"]] = polls.get(payload["job_id"], 0) + 1
            if seen % 2 == 0:
                return with_body(response, {"job_id": payload["job_id"], "status": "running"})
        return response

    return filtered(rewrite)(config, clock, fetcher)


def _completed_without_url(request: SimRequest, response: SimResponse) -> SimResponse:
    payload = body(response)
    if is_job(request) and response.status == 200 and payload.get("status") == "completed":
        return with_body(response, {"job_id": payload["job_id"], "status": "completed"})
    return response


def _url_too_early(request: SimRequest, response: SimResponse) -> SimResponse:
    payload = body(response)
    if (
        is_job(request)
        and response.status == 200
        and payload.get("status") in ("pending", "running")
    ):
        return with_body(response, {**payload, "result_url": "https://cdn.example.test/later.jpg"})
    return response


def _other_job_id(request: SimRequest, response: SimResponse) -> SimResponse:
    payload = body(response)
    if is_job(request) and response.status == 200 and isinstance(payload, dict):
        return with_body(response, {**payload, "job_id": payload["job_id"][::-1]})
    return response


class _NeverFinishes(Simulator):
    def processing_time(self, *, polled: bool) -> float:
        drawn = super().processing_time(polled=polled)
        return 500_000.0 if polled else drawn


MUTANTS: Final = (
    Mutant(
        "state_goes_back",
        "a completed job reads running again",
        ("tryon.job.forward_only", "tryon.job.final_states"),
        _state_goes_back,
    ),
    Mutant(
        "completed_without_result_url",
        "a completed job has no result_url",
        ("tryon.job.result_url_when_completed",),
        filtered(_completed_without_url),
    ),
    Mutant(
        "result_url_before_completion",
        "a running job already has a result_url",
        ("tryon.job.result_url_when_completed",),
        filtered(_url_too_early),
    ),
    Mutant(
        "status_names_another_job",
        "the job status names another job",
        ("tryon.job.same_job_id",),
        filtered(_other_job_id),
    ),
    Mutant(
        "job_never_finishes",
        "polled jobs stay pending for days (sync answers as usual)",
        ("tryon.job.reaches_a_final_state", "tryon.job.valid_input_completes"),
        variant(_NeverFinishes),
    ),
)

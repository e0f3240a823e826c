"""The job lifecycle as a state machine: submit, poll, let time pass, download, peek as another
account; states never go back, result_url exactly when completed, jobs stay private."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from contract.helpers import polling_body
from tryon_suite import (
    BudgetExhausted,
    JobTrace,
    Target,
    TryOnClient,
    expect_jpeg,
    expect_refusal,
    expect_status,
    location_of,
    poll_once,
)

pytestmark = [pytest.mark.live, pytest.mark.spends_credits]


@pytest.mark.clause(
    "tryon.job.forward_only",
    "tryon.job.final_states",
    "tryon.job.result_url_when_completed",
    "tryon.job.error_when_failed",
    "tryon.job.other_account_hidden",
    "tryon.job.same_job_id",
    "tryon.job.status_values",
    "tryon.result.jpeg",
    "tryon.202.job_id_unique",
)
@pytest.mark.purchases("job-json", "job-multipart", "job-json-again")
def test_jobs_behave_under_any_sequence_of_submits_polls_and_waits(
    client: TryOnClient, target: Target, bought
) -> None:
    """Live, every job is paid for: the machine explores the run's three bought jobs (polls,
    waits, downloads, peeks cost requests, not credits) and submits none of its own. Two of
    them have one body: each 202 must still name a job of its own."""
    bought_jobs = {}
    refused = None
    if target.live:
        for name in ("job-json", "job-multipart", "job-json-again"):
            try:
                accepted = bought(name).response
            except BudgetExhausted as exc:  # explore what was bought
                refused = exc
                continue
            body = expect_status(accepted, {202}, "tryon.202.when_not_waiting", "tryon.202.job_id")
            bought_jobs[name] = JobTrace(str(body["job_id"]), location_of(accepted))
        if not bought_jobs and refused is not None:
            raise refused
    kinds = sorted(bought_jobs) or ["json", "multipart"]

    class Jobs(RuleBasedStateMachine):
        jobs = Bundle("jobs")

        # Every example starts with one job submitted (or bought) and polled, so even a live
        # run's few examples examine a status; the rules then explore from there.
        @initialize(target=jobs, kind=st.sampled_from(kinds))
        def start(self, kind: str) -> JobTrace:
            self.traces: list[JobTrace] = []
            if kind in bought_jobs:
                trace = JobTrace(bought_jobs[kind].job_id, bought_jobs[kind].location)
                self.traces.append(trace)
            else:
                trace = self.submit(kind)
            poll_once(client, trace)
            return trace

        @precondition(lambda self: not bought_jobs)
        @rule(target=jobs, kind=st.sampled_from(["json", "multipart"]))
        def submit(self, kind: str) -> JobTrace:
            response = client.try_on(polling_body(target, kind))
            body = expect_status(response, {202}, "tryon.202.when_not_waiting", "tryon.202.job_id")
            trace = JobTrace(body["job_id"], location_of(response))
            self.traces.append(trace)
            return trace

        @rule(trace=jobs)
        def poll(self, trace: JobTrace) -> None:
            poll_once(client, trace)

        @rule(seconds=st.sampled_from([0.2, 0.5, 1.0, 2.0]))
        def wait(self, seconds: float) -> None:
            target.sleep(seconds)

        @rule(trace=jobs)
        def download(self, trace: JobTrace) -> None:
            if trace.final == "completed":
                expect_jpeg(client.download(trace.last["result_url"]))

        @precondition(lambda self: target.other_key is not None)
        @rule(trace=jobs)
        def peek_as_another_account(self, trace: JobTrace) -> None:
            response = client.job(trace.location, key=target.other_key)
            expect_refusal(response, "tryon.job.other_account_hidden", "another account's job")

    base = settings()
    run_state_machine_as_test(
        Jobs,
        settings=settings(
            base,
            # live: one sequence (the model and the polling checks cover each step alone)
            max_examples=1 if target.live else max(3, base.max_examples // 10),
            stateful_step_count=6 if target.live else 25,
            suppress_health_check=list(HealthCheck),
            deadline=None,
        ),
    )

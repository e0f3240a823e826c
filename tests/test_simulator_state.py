"""Behaviour over time, on the in-process face's virtual clock: jobs, limits, expiry, memory."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.test_simulator_faces import conforming, expect, files
from tryon_suite.http.clock import VirtualClock
from tryon_suite.simulator.config import DEMO_KEY, SimulatorConfig
from tryon_suite.simulator.imageserver import ImageServer
from tryon_suite.simulator.inprocess import InProcessSimulator

SimFactory = Callable[..., InProcessSimulator]


def _client(sim: InProcessSimulator, key: str = DEMO_KEY) -> httpx.Client:
    return sim.client(headers={"X-API-KEY": key})


def _clock(sim: InProcessSimulator) -> VirtualClock:
    assert isinstance(sim.clock, VirtualClock), f"expected a virtual clock, got {sim.clock!r}"
    return sim.clock


def _submit(client: httpx.Client, person: bytes, garment: bytes) -> httpx.Response:
    return client.post(
        "/v1/try-on", files=files(person, garment), data={"wait_for_result": "false"}
    )


def test_a_sync_answer_takes_the_processing_time_on_the_clock(
    simulator_factory: SimFactory, person_jpeg: bytes, garment_png: bytes
) -> None:
    sim = simulator_factory(processing_time=7.5)
    before = _clock(sim).now()
    expect(_client(sim).post("/v1/try-on", files=files(person_jpeg, garment_png)), 200)
    waited = _clock(sim).now() - before
    assert waited == pytest.approx(7.5), f"expected 7.5 s to pass, got {waited}"


def test_a_job_moves_pending_running_completed_and_never_back(
    simulator_factory: SimFactory, person_jpeg: bytes, garment_png: bytes
) -> None:
    sim = simulator_factory(processing_time=10.0, queue_share=0.2)
    client = _client(sim)
    where = _submit(client, person_jpeg, garment_png).headers["location"]
    seen = []
    for _ in range(30):
        status = expect(conforming(client.get(where), "job"), 200)["status"]
        seen.append(status)
        _clock(sim).advance(0.5)
    order = ["pending", "running", "completed"]
    assert [order.index(s) for s in seen] == sorted(order.index(s) for s in seen), (
        f"expected states only to move forward, got {seen}"
    )
    assert set(seen) == set(order), f"expected all three states along the way, got {set(seen)}"
    changes = (seen.index("running"), seen.index("completed"))
    assert changes == (4, 20), f"expected running at 2 s and completed at 10 s, got {seen}"


def test_a_failed_job_carries_an_error_and_refunds_its_credit(
    simulator_factory: SimFactory, person_jpeg: bytes, garment_png: bytes
) -> None:
    sim = simulator_factory(job_failure_rate=1.0, processing_time=1.0)
    client = _client(sim)
    before = client.get("/v1/credits").json()["credits"]
    where = _submit(client, person_jpeg, garment_png).headers["location"]
    _clock(sim).advance(1.0)
    body = expect(conforming(client.get(where), "job"), 200)
    assert body["status"] == "failed", f"expected failed, got {body}"
    assert body["error"]["error_code"] == "content_filter_error", f"got {body}"
    after = client.get("/v1/credits").json()["credits"]
    assert after == before, f"expected the credit back after a failed job, {before} -> {after}"


def test_after_a_429_waiting_retry_after_seconds_is_enough(simulator_factory: SimFactory) -> None:
    sim = simulator_factory(rate_limit=5.0)
    client = _client(sim)
    statuses = [client.post("/v1/try-on", json={}).status_code for _ in range(6)]
    assert statuses == [400] * 5 + [429], f"expected a bucket of 5 then 429, got {statuses}"
    refused = client.post("/v1/try-on", json={})
    wait = int(refused.headers["retry-after"])
    _clock(sim).advance(wait)
    expect(client.post("/v1/try-on", json={}), 400, "missing_parameter")


def test_the_bucket_refills_at_the_configured_rate(simulator_factory: SimFactory) -> None:
    sim = simulator_factory(rate_limit=5.0)
    client = _client(sim)
    accepted = 0
    for _ in range(100):  # 10 s of 10 requests per second
        accepted += client.post("/v1/try-on", json={}).status_code != 429
        _clock(sim).advance(0.1)
    # a full bucket of 5, then 5 per second for the 10 s that pass
    assert 54 <= accepted <= 56, f"expected about 5 + 5 * 10 accepted, got {accepted}"


def test_a_result_url_works_for_an_hour_and_then_expires(
    simulator_factory: SimFactory, person_jpeg: bytes, garment_png: bytes
) -> None:
    sim = simulator_factory()
    client = _client(sim)
    url = expect(client.post("/v1/try-on", files=files(person_jpeg, garment_png)), 200)[
        "result_url"
    ]
    _clock(sim).advance(3599)
    assert client.get(url).status_code == 200, "expected the result 59:59 after, got an error"
    _clock(sim).advance(1)
    gone = client.get(url)
    assert gone.status_code == 404, f"expected 404 an hour after, got {gone.status_code}"


def test_a_polled_result_is_valid_for_an_hour_from_completion(
    simulator_factory: SimFactory, person_jpeg: bytes, garment_png: bytes
) -> None:
    sim = simulator_factory(processing_time=100.0)
    client = _client(sim)
    where = _submit(client, person_jpeg, garment_png).headers["location"]
    _clock(sim).advance(100 + 3000)
    url = expect(client.get(where), 200)["result_url"]
    assert client.get(url).status_code == 200, "expected the result 50 min after completion"
    _clock(sim).advance(600)
    assert client.get(url).status_code == 404, "expected the result gone 60 min after completion"


def test_jobs_and_results_are_forgotten_so_memory_stays_bounded(
    simulator_factory: SimFactory, person_jpeg: bytes, garment_png: bytes
) -> None:
    sim = simulator_factory(max_jobs=5, max_results=3)
    client = _client(sim)
    for _ in range(8):
        _submit(client, person_jpeg, garment_png)
        client.post("/v1/try-on", files=files(person_jpeg, garment_png))
    jobs, results = sim.simulator.stored
    assert (jobs, results) == (5, 3), (
        f"expected at most 5 jobs and 3 results, got {(jobs, results)}"
    )
    _clock(sim).advance(3601)
    client.get("/v1/credits")
    assert sim.simulator.stored == (0, 0), f"expected all expired, got {sim.simulator.stored}"


def test_latency_is_added_to_every_api_answer(simulator_factory: SimFactory) -> None:
    sim = simulator_factory(latency=0.25)
    before = _clock(sim).now()
    _client(sim).get("/v1/credits")
    assert _clock(sim).now() - before == pytest.approx(0.25)


def test_processing_times_vary_within_the_spread(
    simulator_factory: SimFactory, person_jpeg: bytes, garment_png: bytes
) -> None:
    sim = simulator_factory(processing_time=10.0, processing_spread=0.5)
    client = _client(sim)
    waits = []
    for _ in range(20):
        before = _clock(sim).now()
        client.post("/v1/try-on", files=files(person_jpeg, garment_png))
        waits.append(_clock(sim).now() - before)
    assert all(5.0 <= w <= 15.0 for w in waits), f"expected 5..15 s, got {waits}"
    assert len({round(w, 6) for w in waits}) > 10, f"expected varied times, got {waits}"


def test_the_same_seed_gives_the_same_ids(person_jpeg: bytes, garment_png: bytes) -> None:
    ids = []
    for _ in range(2):
        with InProcessSimulator(SimulatorConfig(rate_limit=0, processing_time=0)) as sim:
            ids.append(_submit(_client(sim), person_jpeg, garment_png).json()["job_id"])
    assert ids[0] == ids[1], f"expected one id for one seed, got {ids}"


def test_an_open_simulator_patches_nothing_other_clients_use(
    simulator_factory: SimFactory, image_server: ImageServer
) -> None:
    sim = simulator_factory()
    response = httpx.get(f"{image_server.base_url}/person.jpg")
    assert response.status_code == 200, f"expected the image server to answer, got {response}"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{sim.base_url}/v1/credits", headers={"X-API-KEY": DEMO_KEY})


def test_its_transport_reaches_no_host_but_the_simulator(
    simulator_factory: SimFactory, image_server: ImageServer
) -> None:
    client = _client(simulator_factory())
    with pytest.raises(httpx.ConnectError, match="expected a request to https://tryon-simul"):
        client.get(f"{image_server.base_url}/person.jpg")


def test_a_closed_simulator_answers_nothing() -> None:
    with InProcessSimulator(SimulatorConfig(rate_limit=0)) as sim:
        client = _client(sim)
    with pytest.raises(RuntimeError, match="expected the simulator to be open"):
        client.get("/v1/credits")


def test_two_simulators_open_at_once_answer_each_from_its_own_config(
    simulator_factory: SimFactory, person_jpeg: bytes, garment_png: bytes
) -> None:
    """Nothing global is patched: each client reaches the simulator whose transport it holds,
    even when both answer at the same base URL."""
    slow = simulator_factory(processing_time=7.5)
    failing = simulator_factory(fail_rate=1.0)
    assert slow.base_url == failing.base_url, "expected both at the default base URL"
    expect(
        _client(failing).post("/v1/try-on", files=files(person_jpeg, garment_png)),
        500,
        "internal_server_error",
    )
    expect(_client(slow).post("/v1/try-on", files=files(person_jpeg, garment_png)), 200)
    expect(
        _client(failing).post("/v1/try-on", files=files(person_jpeg, garment_png)),
        500,
        "internal_server_error",
    )
    waited = {name: _clock(sim).now() for name, sim in (("slow", slow), ("failing", failing))}
    expected = {"slow": 7.5, "failing": 0.0}
    assert waited == pytest.approx(expected), f"expected {expected}, got {waited}"


def test_it_works_for_async_clients_too(
    simulator_factory: SimFactory, person_jpeg: bytes, garment_png: bytes
) -> None:
    import anyio

    sim = simulator_factory()

    async def go() -> int:
        async with httpx.AsyncClient(
            transport=sim.transport, base_url=sim.base_url, headers={"X-API-KEY": DEMO_KEY}
        ) as client:
            response = await client.post("/v1/try-on", files=files(person_jpeg, garment_png))
            return response.status_code

    assert anyio.run(go) == 200

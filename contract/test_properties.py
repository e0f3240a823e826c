"""Properties over generated bodies: valid ones are accepted, each broken rule gets its code,
and nothing at all gets a 5xx."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tryon_suite import (
    NO_5XX,
    Target,
    TryOnClient,
    Violation,
    ask_bad_input,
    expect_documented_status,
    expect_no_5xx,
    expect_valid_body_accepted,
    expect_violation_refused,
    invalid_try_on_bodies,
    try_on_bodies,
)

pytestmark = [pytest.mark.live]
#: Generated valid bodies a live run pays for.
LIVE_PAID_EXAMPLES = 1
# The client fixture is a thin recorder; sharing it across examples is intended.
FIXTURES_OK = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.spends_credits
@pytest.mark.clause(
    "tryon.limits.within_limits_accepted",
    "tryon.request.wait_for_result",
    "tryon.200.when_waiting",
    "tryon.202.when_not_waiting",
)
def test_a_valid_body_is_accepted_and_answered_per_schema(
    client: TryOnClient, target: Target
) -> None:
    """Every example is a success, so a paid one: live, only LIVE_PAID_EXAMPLES of them, and
    not waited for (a 202 at once; the purchases cover the waiting path, every field and
    edge; these add what the generator draws)."""
    examples = LIVE_PAID_EXAMPLES if target.live else settings().max_examples
    bodies = try_on_bodies(
        target.images, target.image_url, target.publish, waiting=False if target.live else None
    )

    @settings(max_examples=examples)
    @given(data=st.data())
    def a_valid_body(data: st.DataObject) -> None:
        body = data.draw(bodies, "body")
        expect_valid_body_accepted(client.try_on(body), body.waits)

    a_valid_body()


@pytest.mark.clause("tryon.400.body", "tryon.robustness.documented_error_on_bad_input")
@FIXTURES_OK
@given(data=st.data())
def test_a_body_with_one_broken_rule_gets_the_code_that_rule_calls_for(
    client: TryOnClient, target: Target, data: st.DataObject
) -> None:
    violation: Violation = data.draw(
        invalid_try_on_bodies(target.images, target.image_url), "violation"
    )
    if violation.body is not None:
        body = violation.body
        response = ask_bad_input(lambda: client.try_on(body))
    else:
        headers = {"content-type": violation.content_type} if violation.content_type else {}
        content = violation.content
        response = ask_bad_input(
            lambda: client.send("POST", "/v1/try-on", content=content, headers=headers)
        )
    expect_violation_refused(response, violation)


junk_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=10,
)


@pytest.mark.clause(NO_5XX, "tryon.error.documented_statuses")
@FIXTURES_OK
@given(
    content=st.one_of(
        st.binary(max_size=600), junk_json.map(lambda v: __import__("json").dumps(v).encode())
    ),
    content_type=st.sampled_from(
        [
            "application/json",
            "multipart/form-data; boundary=x",
            "multipart/form-data",
            "text/plain",
            "application/octet-stream",
        ]
    ),
)
def test_no_input_gets_a_5xx(client: TryOnClient, content: bytes, content_type: str) -> None:
    headers = {"content-type": content_type}
    response = ask_bad_input(
        lambda: client.send("POST", "/v1/try-on", content=content, headers=headers)
    )
    expect_no_5xx(response, "a 4xx for bad input", held_as="a 4xx for junk")
    expect_documented_status(response)

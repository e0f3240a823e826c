"""Every partition of the input-space model (`schemas/model.yaml`), varied alone.

The cases are derived, not written: one per partition and place. A variation that must be
answered as its plain form rides on a refusal for one other documented reason, so it costs no
credit: a key without credits where the target judges the body before the balance (two probes
say so), else a bad garment_mode (for how a body is written) or the other image past the
maximum (for an image).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from contract.helpers import files, urls
from tryon_suite import (
    JSON_FORMS,
    Case,
    ContractViolation,
    Target,
    TryOnClient,
    TryOnRequest,
    almost_keys,
    ask_bad_input,
    encode_form,
    expect_error,
    expect_foreign_kept_out,
    expect_like_plain,
    expect_method,
    expect_resolution_too_high,
    expect_too_small,
    follow,
    held,
    location_of,
    model_cases,
    not_checked,
    observed,
)

pytestmark = [pytest.mark.live]
TRY_ON = "/v1/try-on"
CREDITS = "/v1/credits"
BAD_MODE = "sideways"
FLAGS = ("preprocess_garment", "remove_background", "wait_for_result")
#: The waited-on purchase of a single-colour person: a target that processes it would process
#: the job too (a reading), so the polled case is not sent (a credit saved)
FLAT_SYNC = "person-plain.jpg"
URL_FIELD = {"person": "person_image_url", "garment": "garment_image_url"}
FILE_FIELD = {"person": "person_image", "garment": "garment_image"}


#: The clauses an image past a limit also shows, with the parts of their claim it covers.
LIMIT_CLAUSES = {
    "resolution_too_high": ("tryon.400.resolution_too_high", "tryon.limits.max_resolution"),
    "TOO_SMALL": ("tryon.limits.min_resolution", "tryon.open.too_small_image"),
}


def _first_image(client: TryOnClient, target: Target, memo: Memo) -> str:
    """Which image the target judges first (one probe: a person that cannot be decoded and a
    garment past the maximum): the one whose refusal comes back."""
    both = TryOnRequest.multipart(
        files(target, "truncated.jpg", "too-high.jpg"), wait_for_result=True
    )
    answer = _once(memo, "probe: image order", lambda: client.try_on(both))
    body = answer.json() if "json" in answer.headers.get("content-type", "") else {}
    code = body.get("error_code") if isinstance(body, dict) else None
    return "garment" if code == "resolution_too_high" else "person"


def _limit(case: Case) -> str:
    """Which limit an image case crosses: resolution_too_high, TOO_SMALL, or '' (none)."""
    expect = case.partition.expect
    if case.partition.kind != "image" or expect.kind != "refused":
        return ""
    return "resolution_too_high" if expect.codes == {"resolution_too_high"} else "TOO_SMALL"


def _marks(case: Case) -> list[pytest.MarkDecorator]:
    also = LIMIT_CLAUSES.get(_limit(case), ())
    if also:
        also = (*also, "tryon.limits.both_images")
    if case.partition.spec.get("field") in FLAGS:
        also = (f"tryon.request.{case.partition.spec['field']}",)
    marks = [pytest.mark.clause(case.clause, *also)]
    if case.partition.spec.get("completed_ok"):
        marks.append(pytest.mark.clause("tryon.400.unknown_foreground", "tryon.open.flat_image"))
        marks.append(pytest.mark.purchases(FLAT_SYNC))
    if case.needs_job:
        marks.append(pytest.mark.purchases("job-json"))
    return marks


CASES = [pytest.param(c, id=c.id, marks=_marks(c)) for c in model_cases()]


@dataclass
class Memo:
    """What the cases of one target share: the riders the probes chose, the plain answers."""

    target: Target
    forms_ride_on_credits: bool | None = None
    images_ride_on_credits: bool | None = None
    answers: dict[str, httpx.Response] | None = None


@pytest.fixture(scope="session")
def memo(target: Target) -> Memo:
    """One per target: the self-test's mutants each get their own (`target` is parametrized)."""
    return Memo(target, answers={})


def _once(memo: Memo, name: str, send: Callable[[], httpx.Response]) -> httpx.Response:
    assert memo.answers is not None
    if name not in memo.answers:
        memo.answers[name] = ask_bad_input(send)
    return memo.answers[name]


def _rides_on_credits(client: TryOnClient, target: Target, memo: Memo) -> tuple[bool, bool]:
    """Whether a key without credits is refused only after the body (a bad garment_mode) and
    the images (one that cannot be decoded) are judged: then a variation riding on it is
    examined before the 403. A target that judges the images first has judged the body: one
    probe then says both."""
    if target.no_credits_key is None:
        return False, False
    if memo.forms_ride_on_credits is None:
        key = target.no_credits_key
        bad_image = TryOnRequest.multipart(files(target, "truncated.jpg"))
        first = _once(memo, "probe: image", lambda: client.try_on(bad_image, key=key))
        memo.images_ride_on_credits = first.status_code == 400
        memo.forms_ride_on_credits = memo.images_ride_on_credits
        if not memo.images_ride_on_credits:
            bad_mode = TryOnRequest.json(**urls(target), garment_mode=BAD_MODE)
            second = _once(memo, "probe: mode", lambda: client.try_on(bad_mode, key=key))
            memo.forms_ride_on_credits = second.status_code == 400
    return bool(memo.forms_ride_on_credits), bool(memo.images_ride_on_credits)


def _image_request(
    target: Target, image: str, source: str, fixture: str, other: str | None, suffix: str = ""
):
    """A waiting try-on with `fixture` as `image` from `source` (its URL ending in `suffix`),
    the other image plain (or `other`, the rider)."""
    names = {"person": "person.jpg", "garment": "garment.jpg"}
    names[image] = fixture
    if other is not None:
        names["garment" if image == "person" else "person"] = other
    if source == "file":
        return TryOnRequest.multipart(
            files(target, names["person"], names["garment"]), wait_for_result=True
        )
    found = urls(target, names["person"], names["garment"])
    found[URL_FIELD[image]] += suffix
    return TryOnRequest.json(**found, wait_for_result=True)


def _check_image(case: Case, client: TryOnClient, target: Target, memo: Memo, bought) -> None:
    spec, expect = case.partition.spec, case.partition.expect
    image, source = case.image, case.source
    if expect.kind == "refused_or_job_failed":
        _check_polled_limit(case, client, target, bought)
        return
    if expect.kind == "refused":
        body = _image_request(target, image, source, spec["fixture"], None)
        response = ask_bad_input(lambda: client.try_on(body))
        if _limit(case) == "resolution_too_high":
            expect_resolution_too_high(response, image, source)
        else:
            code = expect_too_small(response, image, source)
            observed(
                "tryon.open.too_small_image",
                f"400 {code}",
                value={"status": 400, "error_code": code},
            )
        held(case.clause, f"{case.partition.id}: refused", response)
        return
    _, on_credits = _rides_on_credits(client, target, memo)
    if not on_credits and image != (first := _first_image(client, target, memo)):
        # riding on the other image's refusal, a variation is seen only on the image the
        # target judges first: it goes there (the same variation, the other image)
        image = first
    plain_name = expect.plain or "person.jpg"
    image_plain, source_plain = (image, source) if expect.plain else ("person", "file")
    other = None if on_credits else "too-high.jpg"
    send_key = target.no_credits_key if on_credits else target.key

    def send(
        fixture: str, image: str = image, source: str = source
    ) -> Callable[[], httpx.Response]:
        body = _image_request(target, image, source, fixture, other)
        return lambda: client.try_on(body, key=send_key)

    # One plain form per format and rider: any valid JPEG in any place is answered alike.
    rider = "no credits" if on_credits else "other image too high"
    plain = _once(
        memo,
        f"plain {image_plain} {source_plain} {plain_name} ({rider})",
        send(plain_name, image_plain, source_plain),
    )
    if plain.status_code < 400:
        not_checked(
            f"the plain form was not refused ({plain.status_code}): nothing rides on it",
            scope="reading",
        )
    if "url_suffix" in spec:
        body = _image_request(target, image, source, spec["fixture"], other, spec["url_suffix"])
        variant = ask_bad_input(lambda: client.try_on(body, key=send_key))
    else:
        variant = ask_bad_input(send(spec["fixture"]))
    expect_like_plain(case, variant, plain)


def _check_polled_limit(case: Case, client: TryOnClient, target: Target, bought) -> None:
    """Not waiting, an image past a limit is refused at once or its job ends failed (whether
    polling validates at once is open); a job that completes has skipped the limit."""
    spec, expect = case.partition.spec, case.partition.expect
    if spec.get("completed_ok") and bought is not None:
        waited = bought(FLAT_SYNC).response
        if waited is not None and waited.status_code == 200:
            not_checked("the target processes it when waited on (a fair reading)", scope="reading")
    body = TryOnRequest.multipart(files(target, spec["fixture"]), wait_for_result=False)
    response = ask_bad_input(lambda: client.try_on(body))
    if response.status_code != 202 and spec.get("completed_ok"):
        expect_error(response, 400, expect.codes, "tryon.400.unknown_foreground")
        not_checked("refused at once (a fair reading): no job failed", scope="reading")
    if response.status_code != 202:
        expect_error(response, 400, expect.codes, case.clause)
        return
    trace = follow(client, target.poll, str(response.json().get("job_id")), location_of(response))
    expected = f"{case.partition.id}: refused at once, or a job that ends failed"
    if trace.final == "completed" and spec.get("completed_ok"):
        not_checked("the target processed it (a fair reading): no job failed", scope="reading")
    if trace.final == "completed":
        raise ContractViolation(
            case.clause, expected, f"a completed job {trace.statuses}", response
        )
    if trace.final != "failed":
        not_checked(f"the job did not end within {target.poll.timeout:g} s", scope="run")
    held(case.clause, expected, response)


def _check_form(case: Case, client: TryOnClient, target: Target, memo: Memo) -> None:
    form = case.partition.spec["form"]
    on_credits, _ = _rides_on_credits(client, target, memo)
    extra = {} if on_credits else {"garment_mode": BAD_MODE}
    key = target.no_credits_key if on_credits else target.key
    if form in JSON_FORMS:
        fields: dict[str, Any] = {**urls(target), "wait_for_result": True, **extra}
        parts: dict[str, Any] = {}
        plain_form = "json_plain"
    else:
        fields = {"wait_for_result": "true", "remove_background": "false", **extra}
        parts = files(target)
        plain_form = "multipart_plain"

    def send(name: str) -> Callable[[], httpx.Response]:
        raw = encode_form(name, fields, parts)
        return lambda: client.send(
            "POST", raw.path, key=key, content=raw.content, headers=dict(raw.headers)
        )

    plain = _once(memo, f"plain {plain_form} ({on_credits})", send(plain_form))
    if plain.status_code < 400:
        not_checked(
            f"the plain form was not refused ({plain.status_code}): nothing rides on it",
            scope="reading",
        )
    expect_like_plain(case, ask_bad_input(send(form)), plain)


def _check_json(case: Case, client: TryOnClient, target: Target) -> None:
    spec, expect = case.partition.spec, case.partition.expect
    if "field" in spec:
        body: Any = {**urls(target), "wait_for_result": True}
        text = json.dumps(spec["value"]).replace(
            '"URL"', json.dumps(target.image_url("person.jpg"))
        )
        body[spec["field"]] = json.loads(text)
    else:
        body = spec["body"]
    content = json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    response = ask_bad_input(lambda: client.send("POST", TRY_ON, content=content, headers=headers))
    expect_error(response, expect.status or 400, expect.codes, case.clause)
    if spec.get("field") in FLAGS:
        held(f"tryon.request.{spec['field']}", "a value that is not a boolean refused", response)


def _balance(client: TryOnClient, memo: Memo) -> httpx.Response:
    return _once(memo, "balance", lambda: client.send("GET", CREDITS))


def _check_key(case: Case, client: TryOnClient, target: Target, memo: Memo, bought) -> None:
    spec, expect = case.partition.spec, case.partition.expect
    state = spec["key"]
    keys: dict[str, Any] = {
        "none": None,
        "other": target.other_key,
        "no_credits": target.no_credits_key,
    }
    almost = almost_keys(target.key.reveal())
    if state in ("other", "no_credits") and keys[state] is None:
        flag = "--tryon-other-key" if state == "other" else "--tryon-no-credits-key"
        not_checked(f"needs {flag}", scope="option")
    if state not in keys and state not in almost:
        not_checked(f"the run key has no {state.replace('_', ' ')} form", scope="reading")
    key = keys[state] if state in keys else almost[state]
    client.also_secret(*almost.values())
    own = None
    if case.slot == "try-on":
        body = TryOnRequest.multipart(files(target))
        response = ask_bad_input(lambda: client.try_on(body, key=key))
    elif case.slot == "job":
        location = location_of(bought("job-json").response)
        response = client.job(location, key=key)
    else:
        own = _balance(client, memo)
        if own.status_code != 200:
            not_checked(f"GET /v1/credits answered the run key {own.status_code}", scope="optional")
        response = client.send("GET", CREDITS, key=key)
    if expect.kind == "foreign":
        expect_foreign_kept_out(case, response, own)
        return
    endpoint = "job" if case.slot == "job" else "try-on"
    expect_error(response, 401, expect.codes, case.clause, endpoint=endpoint)


def _check_method(case: Case, client: TryOnClient, memo: Memo, bought) -> None:
    spec = case.partition.spec
    where = spec["endpoint"]
    get = None
    if where == "job":
        path = client.location_url(location_of(bought("job-json").response))
    elif where == "credits":
        path = CREDITS
    else:
        path = TRY_ON
    if spec["method"] == "HEAD":
        # the job is the run key's and exists: its GET is a 200 (judged by the polling checks)
        get = httpx.Response(200) if where == "job" else _balance(client, memo)
        if where == "credits" and get.status_code == 404:
            not_checked("GET /v1/credits is not served here", scope="optional")
    response = client.send(spec["method"], path, retry=True)
    expect_method(case, response, get)


@pytest.mark.parametrize("case", CASES)
def test_each_partition_of_the_model_gets_its_answer(
    case: Case,
    client: TryOnClient,
    target: Target,
    memo: Memo,
    request: pytest.FixtureRequest,
) -> None:
    kind = case.partition.kind
    needs_bought = case.needs_job or case.partition.spec.get("completed_ok")
    bought = request.getfixturevalue("bought") if needs_bought else None
    if kind == "image":
        _check_image(case, client, target, memo, bought)
    elif kind == "form":
        _check_form(case, client, target, memo)
    elif kind == "json":
        _check_json(case, client, target)
    elif kind == "key":
        _check_key(case, client, target, memo, bought)
    else:
        _check_method(case, client, memo, bought)

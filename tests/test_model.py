"""The input-space model (schemas/model.yaml) and the cases derived from it."""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections import Counter

import pytest

from tryon_suite.errors import ConfigError
from tryon_suite.spec.clauses import catalogue
from tryon_suite.spec.encodings import JSON_FORMS, Chunks, encode_form
from tryon_suite.spec.fixture_images import FixtureImages
from tryon_suite.spec.model import almost_keys, case_of, cases, coverage, load_partitions
from tryon_suite.spec.schemas import limit_profile

SLOTS = {
    "image": {"person file", "person url", "garment file", "garment url"},
    "key": {"try-on", "job", "credits"},
}
FIELDS = {"person_image_url": "https://img.test/p.jpg", "wait_for_result": True}
PARTS = {
    "person_image": ("person.jpg", b"\xff\xd8person\xff\xd9", "image/jpeg"),
    "garment_image": ("garment.jpg", b"\xff\xd8garment\xff\xd9", "image/jpeg"),
}


def test_every_partition_yields_a_case_at_a_place_of_its_kind() -> None:
    partitions = load_partitions()
    derived = Counter(c.partition.name for c in cases())
    empty = [p.name for p in partitions if derived[p.name] == 0]
    assert not empty, (
        f"expected every partition of model.yaml to yield a case, got none for {empty}"
    )
    wrong = [
        (c.id, c.slot)
        for c in cases()
        if c.partition.kind in SLOTS and c.slot not in SLOTS[c.partition.kind]
    ]
    assert not wrong, f"expected each case at a place its kind has ({SLOTS}), got {wrong}"
    ids = Counter(c.id for c in cases())
    assert max(ids.values()) == 1, (
        f"expected case ids unique, got {[i for i, n in ids.items() if n > 1]}"
    )


def test_every_partition_names_a_clause_and_a_fixture_that_exist() -> None:
    known = {c.id for c in catalogue()}
    images = FixtureImages(limit_profile(None))
    for p in load_partitions():
        assert p.clause in known, (
            f"expected {p.name} to name a clause of clauses.yaml, got {p.clause}"
        )
        for name in (p.spec.get("fixture"), p.expect.plain):
            if name is not None:
                assert name in images.names, f"expected fixture {name!r} ({p.name}) to exist"


@pytest.mark.parametrize(
    "form", sorted({p.spec["form"] for p in load_partitions() if "form" in p.spec})
)
def test_each_form_is_a_valid_body_carrying_the_plain_form_s_content(form: str) -> None:
    """Written another way, the body still says what the plain one says (RFC 7578, 8259)."""
    if form in JSON_FORMS:
        raw = encode_form(form, FIELDS, {})
        content = raw.content.whole if isinstance(raw.content, Chunks) else raw.content
        assert json.loads(content) == FIELDS, f"expected {form} to carry {FIELDS}, got {content!r}"
        assert "json" in raw.headers["content-type"].lower(), (
            f"expected a JSON type, got {raw.headers}"
        )
        return
    raw = encode_form(form, {"wait_for_result": "true"}, PARTS)
    content = raw.content.whole if isinstance(raw.content, Chunks) else raw.content
    head = f"Content-Type: {raw.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + content)
    parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
    assert set(parts) == {"wait_for_result", *PARTS}, (
        f"expected every part in {form}, got {set(parts)}"
    )
    for name, (_, data, _) in PARTS.items():
        got = parts[name].get_payload(decode=True)
        assert got == data, f"expected {name}'s bytes intact in {form}, got {got!r}"
    assert parts["wait_for_result"].get_payload(decode=True) == b"true", (
        f"expected the flag in {form}"
    )


def test_an_unknown_form_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="sideways_form"):
        encode_form("sideways_form", {}, PARTS)


def test_almost_right_keys_are_each_another_key() -> None:
    key = "px-Live-0123456789abcdefABCDEF"
    almost = almost_keys(key)
    assert key not in almost.values(), (
        f"expected no almost-right key equal to the key, got {almost}"
    )
    assert {"empty", "last_changed", "shortened", "lengthened", "swapped_case"} <= set(almost)
    assert "swapped_case" not in almost_keys("0123456789"), "expected no case change for digits"


def test_coverage_lists_what_was_not_exercised_with_why() -> None:
    first, second = cases()[:2]
    node = "contract/test_model.py::test_each_partition_of_the_model_gets_its_answer[{}]"
    assert case_of(node.format(first.id)) == first.id
    outcomes = [
        (node.format(first.id), "passed", "", None),
        (node.format(second.id), "not checked", "not checked: needs --tryon-other-key", "option"),
    ]
    summary = coverage(outcomes)
    assert summary["exercised"] == 1, f"expected 1 case exercised, got {summary['exercised']}"
    assert summary["cases"] == len(cases()), f"expected every case counted, got {summary['cases']}"
    missing = {
        m["case"].split(": ", 1)[1]: m["why"]
        for row in summary["by_clause"].values()
        for m in row["not_exercised"]
    }
    assert missing[second.id] == "needs --tryon-other-key", f"got {missing.get(second.id)}"
    assert all(w == "not selected in this run" for c, w in missing.items() if c != second.id)

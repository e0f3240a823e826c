"""`--tryon-record DIR`: a contract run written as a cassette, scrubbed at the source, that a
`ReplayTransport` answers from."""

from __future__ import annotations

import datetime
import json
import re
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.canaries import ALL_KEYS, CANARIES, leaks, pytest_contract
from tryon_suite.errors import ConfigError
from tryon_suite.http.cassette import (
    CASSETTE_FILE,
    IMAGES_DIR,
    Cassette,
    Recorder,
    ReplayTransport,
    attributed,
)
from tryon_suite.http.cassette.record import stamp
from tryon_suite.http.secret import Secret
from tryon_suite.selftest.run import contract_process
from tryon_suite.simulator.config import DEFAULT_ACCOUNTS
from tryon_suite.spec.model import MODEL_TEST

pytestmark = pytest.mark.slow(15)

#: a cassette of a full run stays under this
MAX_BYTES = 3 << 20


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An in-process contract run recorded: (its cassette folder, its report folder)."""
    tmp = tmp_path_factory.mktemp("recorded")
    done = contract_process(["--tryon-record", str(tmp / "c")], tmp / "r")
    assert done.returncode == 0, (
        f"expected the recorded run to pass, got exit {done.returncode}:\n{done.stdout[-2000:]}"
        f"{done.stderr[-2000:]}"
    )
    return tmp / "c", tmp / "r"


def _lines(folder: Path) -> list[dict[str, Any]]:
    text = (folder / CASSETTE_FILE).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n") if line]


def test_the_cassette_starts_with_a_stamped_header(recorded: tuple[Path, Path]) -> None:
    header = _lines(recorded[0])[0]
    expected = {
        "kind": "tryon-cassette",
        "version": 1,
        "target": "https://tryon-simulator.test",
        "live": False,
        "limits": "reference",
        "suite_version": "0.1.0",
    }
    got = {k: header.get(k) for k in expected}
    assert got == expected, f"expected the header to hold {expected}, got {got}"
    assert len(header["schemas_sha256"]) == 64, (
        f"expected the sha256 of schemas/, got {header.get('schemas_sha256')!r}"
    )
    recorded_at = datetime.datetime.strptime(header["recorded_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert recorded_at.year >= 2025, f"expected a UTC date, got {header['recorded_at']!r}"
    options = header["options"]
    assert options["keys"] == ["run key", "other key", "no-credits key"], (
        f"expected the roles of the keys given, got {options['keys']}"
    )
    assert {"rate", "allow_burst", "hypothesis_profile", "derandomize"} <= set(options), (
        f"expected rate, allow_burst and the Hypothesis profile, got {sorted(options)}"
    )


def test_every_request_of_the_report_is_one_exchange_with_its_answer(
    recorded: tuple[Path, Path],
) -> None:
    exchanges = _lines(recorded[0])[1:]
    report = json.loads((recorded[1] / "compliance.json").read_text(encoding="utf-8"))
    assert len(exchanges) == report["requests"], (
        f"expected {report['requests']} exchanges (the report's requests), got {len(exchanges)}"
    )
    seqs = [e["seq"] for e in exchanges]
    assert seqs == list(range(1, len(exchanges) + 1)), (
        f"expected seq 1..{len(exchanges)} in file order, got {seqs[:10]}..."
    )
    incomplete = [e["seq"] for e in exchanges if not e["request"] or not e["response"]]
    assert not incomplete, f"expected a request and an answer in each exchange, got {incomplete}"
    untested = [e["seq"] for e in exchanges if not e["test"]]
    assert not untested, f"expected each exchange to name the test that sent it, got {untested}"


def test_polls_follow_the_202_that_created_their_job_in_order(
    recorded: tuple[Path, Path],
) -> None:
    exchanges = {e["seq"]: e for e in _lines(recorded[0])[1:]}
    ranks: dict[str, list[int]] = {}
    for seq, line in sorted(exchanges.items()):
        if line.get("after") is None:
            continue
        created = exchanges[line["after"]]
        assert line["after"] < seq, f"expected poll {seq} after its 202, got {line['after']}"
        assert created["response"]["status"] == 202, (
            f"expected poll {seq} after a 202, got {created['response']['status']}"
        )
        assert created["job"] == line["job"], (
            f"expected poll {seq} of job {line['job']}, its 202 named {created['job']}"
        )
        ranks.setdefault(line["job"], []).append(line["poll"])
    assert ranks, "expected polled jobs in a full run, got none"
    unordered = {job: r for job, r in ranks.items() if r != list(range(1, len(r) + 1))}
    assert not unordered, f"expected each job's polls ranked 1, 2, ..., got {unordered}"


def test_images_are_stored_once_each_and_the_cassette_stays_small(
    recorded: tuple[Path, Path],
) -> None:
    folder = recorded[0]
    text = (folder / CASSETTE_FILE).read_text(encoding="utf-8")
    referenced = set(re.findall(r'"image": ?"([0-9a-f]{64})"', text))
    stored = Counter(p.name.split(".")[0] for p in (folder / IMAGES_DIR).iterdir())
    twice = [h for h, n in stored.items() if n > 1]
    assert not twice, f"expected each image once, got these more than once: {twice}"
    assert referenced == set(stored), (
        f"expected the stored images to be those referenced, got {len(set(stored) - referenced)} "
        f"unreferenced and {len(referenced - set(stored))} missing"
    )
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    print(f"cassette of a full run: {size:,} bytes, {len(stored)} images")
    assert size < MAX_BYTES, f"expected a cassette under {MAX_BYTES:,} bytes, got {size:,}"


def _request_of(cassette: Cassette, line: dict[str, Any], keys: dict[str, Secret]) -> httpx.Request:
    """The recorded request, sent again: its key by role, its body rebuilt (a new boundary)."""
    sent = line["request"]
    headers = {
        k: v
        for k, v in sent["headers"].items()
        if k not in ("host", "content-length", "content-type")
    }
    role = line["key_role"]
    if role in keys:
        headers["x-api-key"] = keys[role].reveal()
    elif role == "another value":
        headers["x-api-key"] = "not-a-key-of-this-run"
    body = sent["body"]
    kind = sent["headers"].get("content-type")
    if isinstance(body, dict) and "multipart" in body:
        files = [
            (p["name"], (None, p["text"]))
            if "text" in p
            else (p["name"], (p["filename"], cassette.image(p["image"]), p["type"]))
            for p in body["multipart"]
        ]
        return httpx.Request(sent["method"], sent["url"], headers=headers, files=files)
    if kind:
        headers["content-type"] = kind
    content = b""
    if isinstance(body, str):
        content = body.encode()
    elif isinstance(body, dict):
        content = cassette.image(body["image"])
    return httpx.Request(sent["method"], sent["url"], headers=headers, content=content)


def test_a_replay_transport_answers_the_recorded_requests_as_they_were_answered(
    recorded: tuple[Path, Path],
) -> None:
    cassette = Cassette.load(recorded[0])
    keys = {
        "run key": Secret(DEFAULT_ACCOUNTS[0].key),
        "other key": Secret(DEFAULT_ACCOUNTS[1].key),
        "no-credits key": Secret(next(a.key for a in DEFAULT_ACCOUNTS if a.credits == 0)),
    }
    # The model's cases write bodies byte by byte, in forms httpx's encoder (which rebuilds the
    # requests here) does not write: they are left out (test_replay replays them within a
    # whole run), and so are their answers, from the queues the others are answered from.
    model = [line for line in cassette.exchanges if MODEL_TEST in str(line.get("test"))]
    for line in model:
        cassette.exchanges.remove(line)
    transport = ReplayTransport(cassette, cassette.base_url, dict(keys))
    differ = []
    for line in cassette.exchanges:
        answer = transport.handle_request(_request_of(cassette, line, keys))
        recorded_answer = line["response"]
        body = recorded_answer["body"]
        expected = (
            cassette.image(body["image"]) if isinstance(body, dict) else (body or "").encode()
        )
        if answer.status_code != recorded_answer["status"] or answer.content != expected:
            differ.append((line["seq"], recorded_answer["status"], answer.status_code))
    assert not differ, f"expected the recorded answers, got others at (seq, recorded, got) {differ}"
    with pytest.raises(ConfigError, match=r"expected a recorded answer to GET /nowhere"):
        transport.handle_request(httpx.Request("GET", cassette.base_url + "/nowhere"))


def test_a_replay_gives_each_sender_its_own_answers_whatever_order_they_now_send_in(
    tmp_path: Path,
) -> None:
    """Two purchase threads post the same body: recorded, the first to arrive got job 1; on
    replay the other may arrive first, and must still get job 2, the job its own polls and
    downloads were recorded against."""
    jobs = iter(("job-1", "job-2"))

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(202, json={"job_id": next(jobs), "status": "queued"})
        return httpx.Response(404, json={"error": "nothing else"})

    key = Secret("canary-main-3f9a1c7e5b2d4086")
    recorder = Recorder(tmp_path)
    header = stamp(target="https://api.example.test", live=True, limits="reference", options={})
    recorder.start(header, {"run key": key})
    body = {"person_image_url": "https://img.example.test/p.jpg"}
    with httpx.Client(transport=recorder.wrap(httpx.MockTransport(answer))) as http:
        for purchase in ("job-json", "job-json-again"):
            with attributed(purchase=purchase):
                http.post(
                    "https://api.example.test/v1/try-on",
                    json=body,
                    headers={"X-API-KEY": key.reveal()},
                )
    recorder.close()
    cassette = Cassette.load(tmp_path)
    replayed = {}
    with httpx.Client(
        transport=ReplayTransport(cassette, cassette.base_url, {"run key": key})
    ) as http:
        for purchase in ("job-json-again", "job-json"):
            with attributed(purchase=purchase):
                sent = http.post(
                    "https://api.example.test/v1/try-on",
                    json=body,
                    headers={"X-API-KEY": key.reveal()},
                )
            replayed[purchase] = sent.json()["job_id"]
    assert replayed == {"job-json": "job-1", "job-json-again": "job-2"}, (
        f"expected each purchase its recorded job in the other order, got {replayed}"
    )


def test_a_cassette_too_old_or_of_other_schemas_is_refused(recorded: tuple[Path, Path]) -> None:
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=31)
    with pytest.raises(ConfigError, match=r"expected a cassette at most 30 days old, got one"):
        Cassette.load(recorded[0], now=later)
    with pytest.raises(ConfigError, match=r"against these schemas \(sha256 000000000000\)"):
        Cassette.load(recorded[0], schemas="0" * 64)


def test_a_run_over_http_with_canary_keys_writes_no_key_into_its_cassette(
    canary_server: Any, tmp_path: Path
) -> None:
    url = canary_server(None)
    done = pytest_contract(
        "--tryon-base-url",
        url,
        *ALL_KEYS,
        "--tryon-record",
        str(tmp_path / "c"),
        report_dir=tmp_path / "r",
        paths=("contract/test_auth.py", "contract/test_polling.py", "contract/test_success.py"),
    )
    lines = _lines(tmp_path / "c")
    assert len(lines) > 20, f"expected a recorded live run, got {len(lines)} lines:\n{done.stdout}"
    assert {"other key", "no-credits key", "no key"} <= {e.get("key_role") for e in lines[1:]}, (
        f"expected every role in the cassette, got { ({e.get('key_role') for e in lines[1:]}) }"
    )
    report = json.loads((tmp_path / "r" / "compliance.json").read_text(encoding="utf-8"))
    assert len(lines) - 1 == report["requests"], (
        f"expected {report['requests']} exchanges (the live report's requests, purchase "
        f"threads included), got {len(lines) - 1}"
    )
    untagged = [
        (e["seq"], e["thread"])
        for e in lines[1:]
        if e.get("thread", "").startswith("tryon-purchase") and not e.get("purchase")
    ]
    threaded = [e for e in lines[1:] if e.get("thread", "").startswith("tryon-purchase")]
    assert threaded, f"expected purchases bought in their own threads, got none:\n{done.stdout}"
    assert not untagged, (
        f"expected every exchange of a purchase thread ({len(threaded)}) to name its purchase, "
        f"got these (seq, thread) without one: {untagged}"
    )
    found = leaks(done, tmp_path / "c", keys=CANARIES)
    assert not found, f"expected no canary key in the cassette, found {found}"


def test_a_signed_result_url_is_recorded_with_its_signature_masked(tmp_path: Path) -> None:
    signed = (
        "https://cdn.example.test/r.png?width=512&X-Amz-Signature=c0ffee5ec12e7&"
        "X-Amz-Credential=AKIDEXAMPLE&Expires=1700000000&sig=abc123sig"
    )

    def answer(request: httpx.Request) -> httpx.Response:
        body = {"job_id": "j1", "status": "completed", "result_url": signed}
        return httpx.Response(200, json=body, headers={"location": signed})

    recorder = Recorder(tmp_path)
    header = stamp(target="https://u:p@api.example.test", live=True, limits="reference", options={})
    recorder.start(header, {"run key": Secret("canary-main-3f9a1c7e5b2d4086")})
    transport = recorder.wrap(httpx.MockTransport(answer))
    with httpx.Client(transport=transport) as http:
        http.get(signed, headers={"X-API-KEY": "canary-main-3f9a1c7e5b2d4086"})
    recorder.close()
    text = (tmp_path / CASSETTE_FILE).read_text(encoding="utf-8")
    for secret in (
        "c0ffee5ec12e7",
        "AKIDEXAMPLE",
        "1700000000",
        "abc123sig",
        "canary-main",
        "u:p@",
    ):
        assert secret not in text, f"expected {secret!r} scrubbed from the cassette, found it"
    masked = "https://cdn.example.test/r.png?width=512&X-Amz-Signature=****"
    assert text.count(masked) == 3, (
        f"expected the URL masked in the request, the Location and the body, got:\n{text}"
    )


def test_a_record_folder_that_cannot_be_written_is_one_usage_error(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    done: subprocess.CompletedProcess[str] = contract_process(
        ["--tryon-record", str(blocked / "c")], tmp_path / "r", paths=("contract/test_auth.py",)
    )
    said = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert done.returncode == 4, f"expected exit 4 (usage error), got {done.returncode}: {said}"
    assert len(said) == 1, f"expected one line, got {said}"
    expected = (
        f"ERROR: --tryon-record: expected a folder --tryon-record can write, got '{blocked / 'c'}'"
    )
    assert said[0].startswith(expected), f"expected {expected!r}..., got {said[0]!r}"

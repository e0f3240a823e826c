"""Cassettes: every exchange of a contract run, written as it happens, read back for replay.

`--tryon-record DIR` (env `TRYON_RECORD`) wraps the target's transport in a `Recorder`'s, so
in-process and live runs are recorded alike, purchase threads included, with no extra request.

Layout of DIR (JSON Lines: one JSON object a line, ASCII with `\\u` escapes, so no
character of a recorded body can break a line)::

    DIR/cassette.jsonl   line 1: the header, then one line per exchange, in `seq` order
    DIR/images/<sha256>.<ext>   every image (or other binary body), stored once by content hash
                                (`.<ext>.gz` when over 64 KiB and gzip halves it: an
                                over-limit upload is mostly padding)

The header::

    {"kind": "tryon-cassette", "version": 1,
     "recorded_at": "2026-11-26T23:14:21Z",        # UTC, ISO 8601
     "target": "https://api.example.com",          # base URL, userinfo removed
     "live": true, "limits": "reference",          # the image-limit profile
     "suite_version": "0.1.0",
     "schemas_sha256": "...",                      # over schemas/: each file's path and bytes
     "options": {"rate": 4.0, "allow_burst": false, "budget": null, "credit_budget": null,
                 "serial": false, "mutant": null,
                 "keys": ["run key", "other key"],  # roles given, never the keys
                 "hypothesis_profile": "ci", "derandomize": true}}

An exchange (`seq` is taken when the answer is complete, from any thread)::

    {"seq": 17, "test": "contract/test_jobs.py::test_x" | null,
     "thread": "tryon-purchase_0",                 # only when not sent from the main thread
     "purchase": "json-job",                       # only when the ledger sent it ("balance":
                                                   #   its balance reads)
     "key_role": "run key" | "other key" | "no-credits key" | "no key" | "another value",
     "request": {"method": "POST", "url": "...", "headers": {...}, "body": BODY},
     "response": {"status": 202, "headers": {...}, "body": BODY} | null,
     "error": "ConnectError(...)",                 # only when no answer came (response null)
     "elapsed_ms": 12.3,
     "job": "job_abc",                             # a 202 naming a job, or a poll of one
     "after": 16, "poll": 1}                       # a poll: the 202's seq, its rank (from 1)

BODY is null (no body), a string (text, scrubbed), {"image": sha256, "type": media type,
"bytes": n} (binary, in images/), or {"multipart": [PART, ...]} where PART is
{"name": n, "text": v} or {"name": n, "filename": f, "type": t, "image": sha256}.

Scrubbed at the source: key headers (X-API-KEY, Authorization, Cookie...) are dropped (the
role says whose key went), every key of the run is masked wherever it occurs, userinfo is
removed from URLs, and query parameters that sign a URL (X-Amz-Signature, Signature, sig,
token, Expires, ...) have their values replaced by `****`, in URLs, headers and text bodies.

`Cassette.load(DIR)` reads one back, refusing one too old or recorded against other schemas;
`ReplayTransport` answers requests from it by fingerprint (method, path under the recorded
base, key role, body hash), in recorded order for identical requests, each sender (test,
purchase) first given the answers it got: purchase threads that send alike may now arrive in
another order.
"""

from __future__ import annotations

from tryon_suite.http.cassette.layout import (
    CASSETTE_FILE,
    IMAGES_DIR,
    attributed,
    fingerprint,
    schemas_sha256,
    scrub_url,
)
from tryon_suite.http.cassette.record import Recorder, RecordingTransport
from tryon_suite.http.cassette.replay import Cassette, NotInCassette, ReplayTransport

__all__ = [
    "CASSETTE_FILE",
    "IMAGES_DIR",
    "Cassette",
    "NotInCassette",
    "Recorder",
    "RecordingTransport",
    "ReplayTransport",
    "attributed",
    "fingerprint",
    "schemas_sha256",
    "scrub_url",
]

#!/usr/bin/env python3
"""An independent Try-On API server for judging tryon-suite, written from the docs only
(/work/shared/API.md and the vendor reference page). Loopback only.

    python server.py --variant NAME --port-file F [--status-file S] [--key K[:CREDITS]] ...

Variants are described in FAULTS.md (kept from the developers until the end).
"""

from __future__ import annotations

import argparse
import email.utils
import io
import json
import math
import os
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image, ImageOps

Image.MAX_IMAGE_PIXELS = 200_000_000  # we judge dimensions ourselves

# ---------------------------------------------------------------------------------------------
# variant settings
# ---------------------------------------------------------------------------------------------

BASE = dict(
    processing=2.0,  # seconds a try-on takes
    spread=0.0,  # +/- share
    rate=5.0,  # tokens per second per key
    burst=5,  # bucket size
    limit_polls=True,  # polls and balance reads count toward the limit
    limit_all_posts=True,  # every authenticated POST counts (else only accepted ones)
    retry_after="seconds",  # seconds | date | none
    location="absolute",  # absolute | path | relative
    extra_fields=False,
    balance_shape="credits",  # credits | balance_total | nested
    max_bytes=26_214_400,
    formats=("JPEG", "PNG", "WEBP"),
    min_side=256,
    min_rule="side",  # side | pixels
    max_side=1920,
    too_small_code="invalid_parameter",
    flat_is_unknown_foreground=True,
    unknown_fields="ignore",  # ignore | reject
    credits_before_images=True,
    late_validation=False,  # async: validate images in the job, fail the job
    unknown_job_status=404,
    # faults
    die_after_requests=0,
    hang_after_requests=0,
    result_refused=False,
    result_truncated=False,
    sync_cut_short=False,
    error_content_type="application/json",
    enforce_min=True,
    echo_key=False,
)

VARIANTS: dict[str, dict] = {
    "correct": {},
    "alt_readings_a": dict(
        processing=0.6,
        location="path",
        retry_after="date",
        extra_fields=True,
        balance_shape="balance_total",
        max_bytes=25_000_000,
        formats=("JPEG", "PNG", "WEBP", "GIF"),
        flat_is_unknown_foreground=False,
        unknown_fields="reject",
        credits_before_images=False,
        unknown_job_status=404,
        burst=8,
    ),
    "alt_readings_b": dict(
        processing=4.0,
        spread=0.4,
        location="relative",
        retry_after="none",
        limit_polls=False,
        limit_all_posts=False,
        balance_shape="nested",
        formats=("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"),
        min_rule="pixels",
        late_validation=True,
        unknown_job_status=404,
    ),
    "die_after_requests": dict(die_after_requests=60),
    "hang_after_requests": dict(hang_after_requests=70),
    "budget_runs_out": {},  # the runner gives a small --tryon-budget
    "interrupted": {},  # the runner sends SIGINT mid-run
    "result_url_refused": dict(result_refused=True),
    "result_truncated": dict(result_truncated=True),
    "sync_answer_cut_short": dict(sync_cut_short=True),
    "errors_text_plain": dict(error_content_type="text/plain; charset=utf-8"),
    "min_resolution_unenforced": dict(enforce_min=False),
    "key_echo": dict(echo_key=True),
}

# ---------------------------------------------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


class Account:
    def __init__(self, key: str, credits: int):
        self.key = key
        self.credits = credits
        self.tokens = 0.0
        self.stamp = 0.0
        self.lock = threading.Lock()


class State:
    def __init__(self, cfg: dict, accounts: dict[str, Account], status_file: str | None):
        self.cfg = cfg
        self.accounts = accounts
        self.jobs: dict[str, dict] = {}
        self.results: dict[str, tuple[float, bytes]] = {}
        self.lock = threading.Lock()
        self.count = 0
        self.status_file = status_file
        self.hung_at: float | None = None
        self.base_url = ""
        self.result_base = ""
        self.started = time.time()
        for a in accounts.values():
            a.tokens = float(cfg["burst"])
            a.stamp = time.monotonic()

    def write_status(self, **extra) -> None:
        if not self.status_file:
            return
        data = {"count": self.count, "hung_at": self.hung_at, "pid": os.getpid(), **extra}
        tmp = self.status_file + ".tmp"
        with open(tmp, "w") as f:
            json.dump(data, f)
        os.replace(tmp, self.status_file)


S: State  # set in main


def take_token(acc: Account) -> float:
    """0 when admitted, else seconds until a token is there."""
    cfg = S.cfg
    with acc.lock:
        now = time.monotonic()
        acc.tokens = min(float(cfg["burst"]), acc.tokens + (now - acc.stamp) * cfg["rate"])
        acc.stamp = now
        if acc.tokens >= 1.0:
            acc.tokens -= 1.0
            return 0.0
        return (1.0 - acc.tokens) / cfg["rate"]


def refund_token(acc: Account) -> None:
    with acc.lock:
        acc.tokens = min(float(S.cfg["burst"]), acc.tokens + 1.0)


def parse_bool_form(v: str) -> bool:
    s = v.strip().lower()
    if s in ("true", "1"):
        return True
    if s in ("false", "0"):
        return False
    raise ApiError(400, "invalid_parameter", "boolean expected")


def parse_multipart(body: bytes, boundary: str) -> tuple[dict[str, str], dict[str, bytes]]:
    fields: dict[str, str] = {}
    files: dict[str, bytes] = {}
    delim = b"--" + boundary.encode("latin-1")
    if not body.startswith(delim):
        # a preamble is allowed: find the first delimiter at a line start
        idx = body.find(b"\r\n" + delim)
        if idx < 0:
            raise ApiError(400, "invalid_request_body", "malformed multipart body")
        body = body[idx + 2 :]
    pos = len(delim)
    closed = False
    for _ in range(1000):
        if body[pos : pos + 2] == b"--":
            closed = True
            break
        # skip transport padding to CRLF
        eol = body.find(b"\r\n", pos)
        if eol < 0:
            break
        start = eol + 2
        nxt = body.find(b"\r\n" + delim, start)
        if nxt < 0:
            break
        part = body[start:nxt]
        hdr_end = part.find(b"\r\n\r\n")
        if hdr_end < 0:
            raise ApiError(400, "invalid_request_body", "malformed multipart part")
        raw_headers = part[:hdr_end].decode("latin-1")
        content = part[hdr_end + 4 :]
        name = filename = None
        for line in raw_headers.split("\r\n"):
            if ":" not in line:
                continue
            hname, hval = line.split(":", 1)
            if hname.strip().lower() == "content-disposition":
                params = parse_params(hval)
                name = params.get("name")
                filename = params.get("filename")
        if name is None:
            raise ApiError(400, "invalid_request_body", "multipart part without a name")
        if filename is not None or name in ("person_image", "garment_image"):
            files[name] = content
        else:
            fields[name] = content.decode("utf-8", "replace")
        pos = nxt + 2 + len(delim)
    if not closed:
        raise ApiError(400, "invalid_request_body", "multipart body not terminated")
    return fields, files


def parse_params(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    parts = []
    cur, q = "", False
    for ch in value:
        if ch == '"':
            q = not q
        if ch == ";" and not q:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            v = v.strip()
            if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                v = v[1:-1]
            out[k.strip().lower()] = v
    return out


def fetch_image(url: str) -> bytes:
    cap = S.cfg["max_bytes"] + 1
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "judge-tryon/1"})
        with urllib.request.urlopen(req, timeout=20) as r:
            data = r.read(cap)
    except urllib.error.HTTPError as e:
        raise ApiError(400, "invalid_parameter", f"image URL answered {e.code}") from None
    except Exception:
        raise ApiError(400, "invalid_parameter", "image URL could not be fetched") from None
    return data


def check_image(data: bytes, what: str) -> Image.Image:
    cfg = S.cfg
    if len(data) > cfg["max_bytes"]:
        raise ApiError(400, "file_size_too_large", f"{what}: file size too large")
    if not data:
        raise ApiError(400, "malformed_image", f"{what}: empty image")
    try:
        img = Image.open(io.BytesIO(data))
        fmt = img.format
    except Exception:
        raise ApiError(400, "malformed_image", f"{what}: the image could not be decoded") from None
    if fmt not in cfg["formats"]:
        raise ApiError(400, "unsupported_image_format", f"{what}: format {fmt} not supported")
    w, h = img.size
    if w > cfg["max_side"] or h > cfg["max_side"]:
        raise ApiError(400, "resolution_too_high", f"{what}: resolution too high")
    if cfg["enforce_min"]:
        m = cfg["min_side"]
        small = (w < m or h < m) if cfg["min_rule"] == "side" else (w * h < m * m)
        if small:
            raise ApiError(400, cfg["too_small_code"], f"{what}: resolution too low")
    try:
        img.load()
    except Exception:
        raise ApiError(400, "malformed_image", f"{what}: the image could not be decoded") from None
    if cfg["flat_is_unknown_foreground"]:
        rgb = img.convert("RGB")
        ext = rgb.getextrema()
        if all(lo == hi for lo, hi in ext):
            raise ApiError(400, "unknown_foreground", f"{what}: no foreground detected")
    return img


def compose(person: Image.Image, garment: Image.Image) -> bytes:
    p = ImageOps.exif_transpose(person).convert("RGB")
    g = garment.convert("RGBA")
    tw = max(1, p.width // 2)
    th = max(1, int(g.height * tw / max(1, g.width)))
    th = min(th, max(1, p.height // 2))
    g = g.resize((tw, th))
    p.paste(g, (p.width // 4, p.height // 4), g)
    out = io.BytesIO()
    p.save(out, "JPEG", quality=85)
    return out.getvalue()


def processing_time() -> float:
    cfg = S.cfg
    t = cfg["processing"]
    if cfg["spread"]:
        import random

        t *= 1 + random.uniform(-cfg["spread"], cfg["spread"])
    return max(0.05, t)


def store_result(data: bytes) -> str:
    rid = uuid.uuid4().hex
    with S.lock:
        S.results[rid] = (time.time(), data)
        if len(S.results) > 2000:
            oldest = sorted(S.results.items(), key=lambda kv: kv[1][0])[:500]
            for k, _ in oldest:
                del S.results[k]
    return f"{S.result_base}/results/{rid}.jpg"


# ---------------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "JudgeTryOn/1.0"

    def log_message(self, fmt, *args):  # quiet
        pass

    # -- plumbing ------------------------------------------------------------------------------
    def _count(self) -> None:
        cfg = S.cfg
        with S.lock:
            S.count += 1
            n = S.count
        S.write_status()
        if cfg["die_after_requests"] and n >= cfg["die_after_requests"]:
            S.write_status(died_at=time.time())
            os._exit(3)
        if cfg["hang_after_requests"] and n >= cfg["hang_after_requests"]:
            if S.hung_at is None:
                S.hung_at = time.time()
                S.write_status()
            # never answer: hold the connection, bounded
            deadline = time.time() + 420
            while time.time() < deadline:
                time.sleep(1)
            os._exit(4)

    def _read_body(self) -> bytes:
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        limit = 80 * 1024 * 1024
        if "chunked" in te:
            chunks = []
            total = 0
            for _ in range(10_000_000):
                line = self.rfile.readline(1024)
                if not line:
                    break
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # trailers
                    for _ in range(100):
                        t = self.rfile.readline(8192)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                total += size
                if total > limit:
                    self.close_connection = True
                    raise ApiError(400, "file_size_too_large", "request too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(8)
            return b"".join(chunks)
        n = int(self.headers.get("Content-Length") or 0)
        if n > limit:
            self.close_connection = True
            raise ApiError(400, "file_size_too_large", "request too large")
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None,
              cut: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if cut:
            self.wfile.write(body[: max(1, len(body) // 3)])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(body)

    def _json(self, status: int, obj: dict, headers: dict | None = None, cut: bool = False):
        if S.cfg["extra_fields"]:
            obj = {**obj, "request_id": uuid.uuid4().hex}
        self._send(status, json.dumps(obj).encode(), "application/json", headers, cut)

    def _error(self, e: ApiError, key: str | None) -> None:
        msg = e.message
        if S.cfg["echo_key"] and key:
            msg = f"{msg} (account key {key})"
        obj = {"error": msg, "error_code": e.code}
        if S.cfg["extra_fields"]:
            obj["request_id"] = uuid.uuid4().hex
        body = json.dumps(obj).encode()
        self._send(e.status, body, S.cfg["error_content_type"], e.headers)

    def _auth(self) -> Account:
        key = self.headers.get("X-API-KEY")
        acc = S.accounts.get(key or "")
        if acc is None:
            raise ApiError(401, "invalid_auth_token", "API Token not found")
        return acc

    def _limit(self, acc: Account) -> None:
        wait = take_token(acc)
        if wait > 0:
            hdrs = {}
            ra = S.cfg["retry_after"]
            if ra == "seconds":
                hdrs["Retry-After"] = str(max(1, math.ceil(wait)))
            elif ra == "date":
                # whole seconds only: round up, plus one so the date is never early
                hdrs["Retry-After"] = email.utils.formatdate(
                    math.ceil(time.time() + wait) + 1, usegmt=True
                )
            raise ApiError(429, "rate_limit_exceeded", "Too many requests", hdrs)

    # -- dispatch ------------------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        self._count()
        key = self.headers.get("X-API-KEY")
        path = urllib.parse.urlsplit(self.path).path
        try:
            body = self._read_body() if method == "POST" else b""
            if path.startswith("/results/"):
                return self._result(path)
            if path == "/v1/try-on":
                if method != "POST":
                    raise ApiError(405, "method_not_allowed", "use POST")
                return self._tryon(body)
            if path.startswith("/v1/try-on/job/"):
                if method not in ("GET", "HEAD"):
                    raise ApiError(405, "method_not_allowed", "use GET")
                return self._job(path[len("/v1/try-on/job/") :])
            if path == "/v1/credits":
                if method not in ("GET", "HEAD"):
                    raise ApiError(405, "method_not_allowed", "use GET")
                return self._credits()
            raise ApiError(404, "not_found", "no such endpoint")
        except ApiError as e:
            self._error(e, key)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as e:  # noqa: BLE001
            sys.stderr.write(f"internal error: {e!r}\n")
            try:
                self._error(ApiError(500, "internal_error", "Internal service error"), None)
            except Exception:
                self.close_connection = True

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    def do_PATCH(self):
        self._dispatch("PATCH")

    # -- endpoints -----------------------------------------------------------------------------
    def _result(self, path: str) -> None:
        rid = path[len("/results/") :].removesuffix(".jpg")
        with S.lock:
            entry = S.results.get(rid)
        if entry is None or time.time() - entry[0] > 3600:
            raise ApiError(404, "not_found", "no such result")
        data = entry[1]
        self._send(200, data, "image/jpeg", {"Cache-Control": "private, max-age=3600"},
                   cut=S.cfg["result_truncated"])

    def _credits(self) -> None:
        acc = self._auth()
        if S.cfg["limit_polls"]:
            self._limit(acc)
        shape = S.cfg["balance_shape"]
        with acc.lock:
            n = acc.credits
        if shape == "credits":
            obj = {"credits": n}
        elif shape == "balance_total":
            obj = {"balance": n, "total": 1000}
        else:
            obj = {"account": {"plan": "judge", "credits_remaining": n}}
        self._json(200, obj)

    def _job(self, job_id: str) -> None:
        acc = self._auth()
        if S.cfg["limit_polls"]:
            self._limit(acc)
        with S.lock:
            job = S.jobs.get(job_id)
        if job is None or job["owner"] != acc.key:
            raise ApiError(S.cfg["unknown_job_status"], "job_not_found", "Job not found")
        self._json(200, job_view(job))

    def _tryon(self, body: bytes) -> None:
        cfg = S.cfg
        acc = self._auth()
        self._limit(acc)
        try:
            self._tryon_inner(acc, body)
        except ApiError as e:
            if not cfg["limit_all_posts"] and e.status == 400:
                refund_token(acc)
            raise

    def _tryon_inner(self, acc: Account, body: bytes) -> None:
        cfg = S.cfg
        ctype = self.headers.get("Content-Type")
        media = (ctype or "").split(";")[0].strip().lower()
        if ctype is None and not body:
            raise ApiError(400, "invalid_request_body", "The request body was empty")
        if media not in ("application/json", "multipart/form-data"):
            raise ApiError(400, "unsupported_content_type", "unsupported content type")
        if not body:
            raise ApiError(400, "invalid_request_body", "The request body was empty")
        files: dict[str, bytes] = {}
        known = {
            "person_image_url", "garment_image_url", "garment_mode", "preprocess_garment",
            "remove_background", "wait_for_result",
        }
        if media == "application/json":
            try:
                data = json.loads(body.decode("utf-8"))
            except Exception:
                raise ApiError(400, "invalid_request_body", "body is not valid JSON") from None
            if not isinstance(data, dict):
                raise ApiError(400, "invalid_request_body", "body must be a JSON object")
            flags = {}
            for f in ("preprocess_garment", "remove_background", "wait_for_result"):
                if f in data:
                    if not isinstance(data[f], bool):
                        raise ApiError(400, "invalid_parameter", f"{f} must be a boolean")
                    flags[f] = data[f]
            params = data
        else:
            boundary = parse_params(ctype or "").get("boundary")
            if not boundary:
                raise ApiError(400, "invalid_request_body", "multipart without boundary")
            fields, files = parse_multipart(body, boundary)
            files = {k: v for k, v in files.items() if v}
            flags = {}
            for f in ("preprocess_garment", "remove_background", "wait_for_result"):
                if f in fields:
                    flags[f] = parse_bool_form(fields[f])
            params = dict(fields)
            known |= {"person_image", "garment_image"}
            for k in files:
                params.setdefault(k, "")
        if cfg["unknown_fields"] == "reject":
            extra = set(params) - known
            if extra:
                raise ApiError(400, "invalid_parameter", f"unknown field {sorted(extra)[0]}")
        mode = params.get("garment_mode", "auto")
        if mode not in ("auto", "full", "upper", "lower"):
            raise ApiError(400, "invalid_parameter", "garment_mode must be auto|full|upper|lower")
        sources = {}
        for which in ("person", "garment"):
            if which + "_image" in files:
                sources[which] = ("file", files[which + "_image"])
                continue
            url = params.get(which + "_image_url")
            if url is None or (isinstance(url, str) and url == "" and media != "application/json"):
                raise ApiError(400, "missing_parameter", f"{which}_image_url is required")
            if not isinstance(url, str):
                raise ApiError(400, "invalid_parameter", f"{which}_image_url must be a URL")
            u = urllib.parse.urlsplit(url)
            if u.scheme not in ("http", "https") or not u.netloc:
                raise ApiError(400, "invalid_parameter", f"{which}_image_url must be a URL")
            sources[which] = ("url", url)
        wait = flags.get("wait_for_result", True)

        def need_credits():
            with acc.lock:
                if acc.credits < 1:
                    raise ApiError(403, "insufficient_api_credits",
                                   "Insufficient credits available")

        if cfg["credits_before_images"]:
            need_credits()

        def load_images():
            imgs = {}
            for which in ("person", "garment"):
                kind, v = sources[which]
                data = v if kind == "file" else fetch_image(v)
                imgs[which] = check_image(data, which)
            return imgs

        if not wait and cfg["late_validation"]:
            need_credits()
            return self._accept_job(acc, load_images)
        imgs = load_images()
        if not cfg["credits_before_images"]:
            need_credits()
        if not wait:
            return self._accept_job(acc, lambda: imgs)
        # sync: charge, process, answer
        with acc.lock:
            if acc.credits < 1:
                raise ApiError(403, "insufficient_api_credits", "Insufficient credits available")
            acc.credits -= 1
        try:
            result = compose(imgs["person"], imgs["garment"])
            time.sleep(processing_time())
            url = store_result(result)
        except Exception:
            with acc.lock:
                acc.credits += 1
            raise
        self._json(200, {"result_url": url}, cut=cfg["sync_cut_short"])

    def _accept_job(self, acc: Account, load_images) -> None:
        cfg = S.cfg
        with acc.lock:
            if acc.credits < 1:
                raise ApiError(403, "insufficient_api_credits", "Insufficient credits available")
            acc.credits -= 1
        jid = str(uuid.uuid4())
        job = {
            "id": jid, "owner": acc.key, "created": time.time(), "duration": processing_time(),
            "status": "pending", "result_url": None, "error": None,
        }
        with S.lock:
            S.jobs[jid] = job
            if len(S.jobs) > 5000:
                for k in list(S.jobs)[:1000]:
                    del S.jobs[k]

        def work():
            time.sleep(min(0.4, job["duration"] * 0.25))
            job["status"] = "running"
            try:
                imgs = load_images()
                result = compose(imgs["person"], imgs["garment"])
            except ApiError as e:
                job["error"] = {"message": e.message, "error_code": e.code}
                job["status"] = "failed"
                with acc.lock:
                    acc.credits += 1
                return
            rest = job["created"] + job["duration"] - time.time()
            if rest > 0:
                time.sleep(rest)
            job["result_url"] = store_result(result)
            job["status"] = "completed"

        threading.Thread(target=work, daemon=True).start()
        loc = cfg["location"]
        if loc == "absolute":
            location = f"{S.base_url}/v1/try-on/job/{jid}"
        elif loc == "path":
            location = f"/v1/try-on/job/{jid}"
        else:
            location = f"try-on/job/{jid}"  # relative to /v1/try-on
        self._json(202, {"job_id": jid}, {"Location": location})


def job_view(job: dict) -> dict:
    out = {"job_id": job["id"], "status": job["status"]}
    if job["status"] == "completed":
        out["result_url"] = job["result_url"]
    if job["status"] == "failed":
        out["error"] = job["error"]
    if S.cfg["extra_fields"]:
        out["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(job["created"]))
    return out


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", required=True, choices=sorted(VARIANTS))
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--status-file")
    ap.add_argument("--key", action="append", default=[], help="KEY[:CREDITS]")
    ap.add_argument("--max-seconds", type=float, default=900, help="exit after this long")
    a = ap.parse_args()
    cfg = {**BASE, **VARIANTS[a.variant]}
    accounts = {}
    for k in a.key:
        key, _, cr = k.rpartition(":") if ":" in k else (k, "", "1000")
        accounts[key] = Account(key, int(cr))
    global S
    S = State(cfg, accounts, a.status_file)
    httpd = Server(("127.0.0.1", a.port), Handler)
    port = httpd.server_address[1]
    S.base_url = f"http://127.0.0.1:{port}"
    S.result_base = S.base_url
    if cfg["result_refused"]:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
        s.close()  # nothing listens there: connection refused
        S.result_base = f"http://127.0.0.1:{dead}"
    S.write_status()
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write(str(port))
        os.replace(a.port_file + ".tmp", a.port_file)
    print(f"Listening on {S.base_url}", flush=True)
    threading.Timer(a.max_seconds, lambda: os._exit(0)).start()
    httpd.serve_forever(poll_interval=0.5)


if __name__ == "__main__":
    main()

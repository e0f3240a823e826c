#!/usr/bin/env python3
"""Judge 2's Try-On API server, written from /work/shared/API.md and the reference page only.

A correct implementation plus variants (--variant NAME). Raw asyncio HTTP/1.1 so that the
transport can be bent on purpose. Loopback only; the process exits by itself after --max-life
seconds; every hang is bounded (HANG_MAX seconds).
"""
from __future__ import annotations

import argparse
import asyncio
import email.utils
import gzip
import io
import json
import math
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

from PIL import Image, ImageFile, ImageOps

HANG_MAX = 600.0
Image.MAX_IMAGE_PIXELS = None  # dimensions are judged from the header before any decode
MiB = 1024 * 1024

VARIANTS: dict[str, dict] = {
    "correct": {},
    # latency grows with every API request (capped, well under any timeout); after the 3rd job
    # poll every job poll is accepted and never answered; everything else keeps answering
    "slowpoll": {"latency_ramp": 0.015, "latency_max": 1.2, "hang_polls_after": 3},
    # result URLs: connection accepted, request read, never answered
    "result_hang": {"hang_results": True},
    # every 2nd sync 200 and every 2nd completed poll: JSON followed by trailing garbage
    "nonjson": {"nonjson_every": 2},
    # multipart uploads (a file part): body read, then the connection is reset (RST)
    "mp_reset": {"reset_multipart": True},
    # correct; the judge SIGKILLs it 12 s after the first valid try-on (mid-run) and restarts it
    # on the same port 4 s later with fresh state (run.py does both)
    "kill_restart": {},
    # right after the preflight (first valid try-on): every request gets a status line, then
    # nothing (headers never finish), on every path
    "stall": {"stall_at_valid": 1},
    # 25 requests after the first valid try-on: 503 JSON with Retry-After to everything
    "all_503": {"fail503_after": 25},
    # legal: chunked everywhere (tiny chunks), Connection: close after every answer, 0.35 s to
    # the first byte, extra headers
    "wire1": {"chunked": True, "close_each": True, "first_byte_delay": 0.35, "extra_headers": True},
    # legal: gzip JSON, GET answers delimited by close (no length), Location relative without a
    # leading slash and with a query, Retry-After as HTTP-date, burst 1 at 5/s sustained,
    # results on a second port with a query string, extra fields and headers
    "wire2": {"gzip": True, "close_delimited_gets": True, "location": "relative-query",
              "retry_after": "date", "burst": 1, "result_port2": True, "extra_fields": True,
              "extra_headers": True},
    # legal: the open points read otherwise
    "readings": {"readings": True},
    # GET /v1/credits hangs (accept, never answer) from the first valid try-on on; rest answers
    "credits_hang": {"hang_credits_at_valid": 1},
    # sync 200 answers trickle one byte every 3 s (about 12 minutes per answer); rest answers
    "trickle": {"trickle_sync": 3.0},
}


def now() -> float:
    return time.time()


def fault(desc: str) -> None:
    print(f"FAULT {now():.3f} {desc}", flush=True)


class Bucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.t = burst, time.monotonic()
        self.lock = threading.Lock()

    def take(self) -> float:
        """0.0 when allowed, else seconds until a token is there."""
        with self.lock:
            t = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (t - self.t) * self.rate)
            self.t = t
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return 0.0
            return (1.0 - self.tokens) / self.rate


class Account:
    def __init__(self, name: str, credits: int, rate: float, burst: float) -> None:
        self.name, self.credits, self.total = name, credits, credits
        self.bucket = Bucket(rate, burst)
        self.lock = threading.Lock()

    def reserve(self) -> bool:
        with self.lock:
            if self.credits < 1:
                return False
            self.credits -= 1
            return True

    def refund(self) -> None:
        with self.lock:
            self.credits += 1


class ApiError(Exception):
    def __init__(self, status: int, code: str, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


class Req:
    def __init__(self, method, target, version, headers, body):
        self.method, self.target, self.version = method, target, version
        self.headers = headers  # list of (lower-name, value)
        self.body = body
        p = urllib.parse.urlsplit(target)
        self.path, self.query = p.path, p.query

    def h(self, name: str, default=None):
        for k, v in self.headers:
            if k == name:
                return v
        return default


class Resp:
    def __init__(self, status: int, body: bytes = b"", ctype: str | None = "application/json",
                 headers: list | None = None, action: str | None = None):
        self.status, self.body, self.ctype = status, body, ctype
        self.headers = headers or []
        self.action = action  # None | 'hang' | 'reset' | 'stall' | 'trickle' | 'nonjson'


REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 429: "Too Many Requests",
           500: "Internal Server Error", 503: "Service Unavailable"}


class App:
    def __init__(self, args) -> None:
        self.args = args
        self.cfg = dict(VARIANTS[args.variant])
        if args.no_trigger:
            for k in list(self.cfg):
                if k.endswith("_at_valid"):
                    del self.cfg[k]
        self.rd = bool(self.cfg.get("readings"))
        burst = float(self.cfg.get("burst", 5))
        self.accounts: dict[str, Account] = {}
        for i, spec in enumerate(args.key):
            key, _, cred = spec.rpartition(":")
            self.accounts[key] = Account(f"acct{i}", int(cred), 5.0, burst)
        self.jobs: dict[str, dict] = {}
        self.results: dict[str, tuple[bytes, float]] = {}
        self.pool = ThreadPoolExecutor(max_workers=8)
        self.n_api = 0
        self.n_polls = 0
        self.n_valid = 0
        self.valid_at_req = None
        self.n_sync_ok = 0
        self.n_poll_done = 0
        self.stalled = False
        self.failing = False
        self.credits_hung = False
        self.faulted: set[str] = set()
        self.base = f"http://127.0.0.1:{args.port}"
        self.base2 = None
        self.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self.max_bytes = 25_000_000 if self.rd else 25 * MiB
        self.formats = {"JPEG", "PNG", "GIF"} if self.rd else {"JPEG", "PNG", "WEBP"}

    def once(self, what: str) -> None:
        if what not in self.faulted:
            self.faulted.add(what)
            fault(what)

    # ---------------------------------------------------------------- helpers
    def jresp(self, status: int, obj: dict, headers: list | None = None) -> Resp:
        if self.cfg.get("extra_fields") and isinstance(obj, dict):
            obj = dict(obj)
            obj.setdefault("request_id", uuid.uuid4().hex)
            obj.setdefault("api_version", "2025-01")
        return Resp(status, json.dumps(obj).encode(), headers=headers)

    def err(self, e: ApiError) -> Resp:
        return self.jresp(e.status, {"error": e.msg, "error_code": e.code})

    def auth(self, req: Req) -> Account:
        key = req.h("x-api-key")
        acct = self.accounts.get(key) if key is not None else None
        if acct is None:
            raise ApiError(401, "invalid_auth_token", "API Token not found")
        return acct

    def limit(self, acct: Account) -> None:
        wait = acct.bucket.take()
        if wait > 0:
            e = ApiError(429, "rate_limit_exceeded", "Too many requests")
            e.wait = wait  # type: ignore[attr-defined]
            raise e

    def rl_resp(self, e: ApiError) -> Resp:
        wait = getattr(e, "wait", 1.0)
        r = self.err(e)
        if self.rd:
            return r  # reading: no Retry-After at all
        if self.cfg.get("retry_after") == "date":
            r.headers.append(("Retry-After", email.utils.formatdate(math.ceil(now() + wait) + 1, usegmt=True)))
        else:
            r.headers.append(("Retry-After", str(max(1, math.ceil(wait)))))
        return r

    # ---------------------------------------------------------------- routing
    async def dispatch(self, req: Req, port2: bool = False) -> Resp:
        path = req.path
        if path.startswith("/results/"):
            if self.failing:
                return self.r503()
            if self.stalled:
                return Resp(200, action="stall")
            if self.cfg.get("hang_results"):
                self.once("result URL hangs")
                return Resp(200, action="hang")
            return self.serve_result(req)
        if port2:
            return self.jresp(404, {"error": "Not found", "error_code": "not_found"})
        self.n_api += 1
        if self.stalled:
            return Resp(200, action="stall")
        if self.failing:
            return self.r503()
        fa = self.cfg.get("fail503_after")
        if fa and self.valid_at_req is not None and self.n_api > self.valid_at_req + fa:
            self.failing = True
            self.once("503 to everything")
            return self.r503()
        ramp = self.cfg.get("latency_ramp")
        if ramp:
            await asyncio.sleep(min(self.cfg["latency_max"], ramp * self.n_api))
        try:
            if path == "/v1/try-on":
                if req.method != "POST":
                    return self.jresp(405, {"error": "Method not allowed", "error_code": "method_not_allowed"},
                                      headers=[("Allow", "POST")])
                return await self.tryon(req)
            if path.startswith("/v1/try-on/job/"):
                if req.method != "GET":
                    return self.jresp(405, {"error": "Method not allowed", "error_code": "method_not_allowed"},
                                      headers=[("Allow", "GET")])
                self.n_polls += 1
                hp = self.cfg.get("hang_polls_after")
                if hp is not None and self.n_polls > hp:
                    self.once("job polls hang")
                    return Resp(200, action="hang")
                return self.poll(req, path[len("/v1/try-on/job/"):])
            if path == "/v1/credits":
                if self.credits_hung:
                    return Resp(200, action="hang")
                if req.method != "GET":
                    return self.jresp(405, {"error": "Method not allowed", "error_code": "method_not_allowed"},
                                      headers=[("Allow", "GET")])
                acct = self.auth(req)
                self.limit(acct)
                if self.rd:
                    return self.jresp(200, {"remaining": acct.credits, "total": acct.total})
                return self.jresp(200, {"credits": acct.credits})
            return self.jresp(404, {"error": "Not found", "error_code": "not_found"})
        except ApiError as e:
            if e.status == 429:
                return self.rl_resp(e)
            return self.err(e)
        except Exception as e:  # noqa: BLE001
            print(f"internal error: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
            return self.jresp(500, {"error": "Internal service error", "error_code": "internal_error"})

    def r503(self) -> Resp:
        r = self.jresp(503, {"error": "Service temporarily unavailable", "error_code": "service_unavailable"})
        r.headers.append(("Retry-After", "2"))
        return r

    def serve_result(self, req: Req) -> Resp:
        m = re.fullmatch(r"/results/([0-9a-f]{32})\.jpg", req.path)
        item = self.results.get(m.group(1)) if m else None
        if not item or item[1] < now():
            return self.jresp(404, {"error": "Result not found or expired", "error_code": "not_found"})
        if req.method not in ("GET", "HEAD"):
            return self.jresp(405, {"error": "Method not allowed", "error_code": "method_not_allowed"})
        return Resp(200, item[0], ctype="image/jpeg", headers=[("Cache-Control", "private, max-age=3600")])

    # ---------------------------------------------------------------- try-on
    def note_valid(self) -> None:
        self.n_valid += 1
        if self.n_valid == 1:
            print(f"EVENT {now():.3f} first-valid-tryon", flush=True)
        if self.valid_at_req is None:
            self.valid_at_req = self.n_api
        if self.cfg.get("stall_at_valid") and self.n_valid >= self.cfg["stall_at_valid"] and not self.stalled:
            self.stalled = True
            self.once("stall: status line then nothing, everywhere")
        if self.cfg.get("hang_credits_at_valid") and self.n_valid >= self.cfg["hang_credits_at_valid"]:
            if not self.credits_hung:
                self.credits_hung = True
                self.once("GET /v1/credits hangs")
        if self.cfg.get("kill_at_valid") and self.n_valid == self.cfg["kill_at_valid"]:
            self.once("KILLME")

    async def tryon(self, req: Req) -> Resp:
        acct = self.auth(req)
        if not self.rd:
            self.limit(acct)
            if acct.credits < 1:
                raise ApiError(403, "insufficient_api_credits", "Insufficient credits available")
        fields, files = self.parse_body(req)
        if self.rd:
            return await self.tryon_readings(req, acct, fields, files)
        opts = self.params(fields, files)
        if opts["_upload"] and self.cfg.get("reset_multipart"):
            self.once("multipart upload reset")
            return Resp(0, action="reset")
        self.note_valid()
        if self.stalled:
            return Resp(200, action="stall")
        if not acct.reserve():
            raise ApiError(403, "insufficient_api_credits", "Insufficient credits available")
        try:
            person, garment = await self.load_images(opts)
        except BaseException:
            acct.refund()
            raise
        if opts["wait_for_result"]:
            try:
                await asyncio.sleep(self.args.processing)
                rid = await asyncio.get_running_loop().run_in_executor(self.pool, self.compose, person, garment, opts)
            except BaseException:
                acct.refund()
                raise
            return self.sync_ok(rid)
        return self.new_job(acct, opts, person, garment)

    def sync_ok(self, rid: str) -> Resp:
        r = self.jresp(200, {"result_url": self.result_url(rid)})
        self.n_sync_ok += 1
        ne = self.cfg.get("nonjson_every")
        if ne and self.n_sync_ok % ne == 0:
            self.once("non-JSON 200 body")
            r.body += b"\n<!-- edge-cache: HIT -->\n"
        if self.cfg.get("trickle_sync"):
            self.once("sync 200 trickles")
            r.body = r.body[:-1] + b" " * 250 + b"}"
            r.action = "trickle"
        return r

    def new_job(self, acct: Account, opts: dict, person, garment, late: bool = False) -> Resp:
        jid = str(uuid.uuid4())
        job = {"id": jid, "owner": acct.name, "status": "pending", "created": now(), "result": None,
               "error": None}
        self.jobs[jid] = job
        asyncio.get_running_loop().create_task(self.run_job(job, acct, opts, person, garment, late))
        loc_mode = self.cfg.get("location", "absolute")
        if loc_mode == "relative-query":
            loc = f"try-on/job/{jid}?via=location"
        elif self.rd:
            loc = f"/v1/try-on/job/{jid}"
        else:
            loc = f"{self.base}/v1/try-on/job/{jid}"
        return self.jresp(202, {"job_id": jid}, headers=[("Location", loc)])

    async def run_job(self, job, acct, opts, person, garment, late) -> None:
        loop = asyncio.get_running_loop()
        await asyncio.sleep(0.2)
        job["status"] = "running"
        try:
            if late:
                person, garment = await self.load_images(opts)
            await asyncio.sleep(max(0.0, self.args.processing - 0.2))
            rid = await loop.run_in_executor(self.pool, self.compose, person, garment, opts)
            job["result"] = rid
            job["status"] = "completed"
        except ApiError as e:
            acct.refund()
            job["error"] = {"message": e.msg, "error_code": e.code}
            job["status"] = "failed"
        except Exception as e:  # noqa: BLE001
            acct.refund()
            job["error"] = {"message": f"processing failed ({type(e).__name__})", "error_code": "internal_error"}
            job["status"] = "failed"

    def poll(self, req: Req, jid: str) -> Resp:
        acct = self.auth(req)
        if not self.rd:
            self.limit(acct)
        job = self.jobs.get(jid)
        if job is None or job["owner"] != acct.name:
            if self.rd:
                raise ApiError(404, "not_found", "No such job")
            raise ApiError(404, "job_not_found", "Job not found")
        body = {"job_id": job["id"], "status": job["status"]}
        if self.rd:
            body["created_at"] = int(job["created"])
        if job["status"] == "completed":
            body["result_url"] = self.result_url(job["result"])
        if job["status"] == "failed":
            body["error"] = job["error"]
        r = self.jresp(200, body)
        if job["status"] == "completed":
            self.n_poll_done += 1
            ne = self.cfg.get("nonjson_every")
            if ne and self.n_poll_done % ne == 0:
                self.once("non-JSON 200 body")
                r.body += b"\n<!-- edge-cache: HIT -->\n"
        return r

    def result_url(self, rid: str) -> str:
        if self.base2:
            return f"{self.base2}/results/{rid}.jpg?sig={uuid.uuid4().hex[:16]}&expires={int(now()) + 3600}"
        return f"{self.base}/results/{rid}.jpg"

    # ---------------------------------------------------------------- bodies
    def parse_body(self, req: Req):
        ctype_raw = req.h("content-type")
        body = req.body
        if ctype_raw is None:
            if not body:
                raise ApiError(400, "invalid_request_body", "The request body was empty")
            raise ApiError(400, "unsupported_content_type", "Content type must be application/json or multipart/form-data")
        mtype, params = parse_ctype(ctype_raw)
        if mtype == "application/json":
            if not body:
                raise ApiError(400, "invalid_request_body", "The request body was empty")
            try:
                obj = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise ApiError(400, "invalid_request_body", "The request body is not valid JSON") from None
            if not isinstance(obj, dict):
                raise ApiError(400, "invalid_request_body", "The request body must be a JSON object")
            return ("json", obj), {}
        if mtype == "multipart/form-data":
            if not body:
                raise ApiError(400, "invalid_request_body", "The request body was empty")
            boundary = params.get("boundary")
            if not boundary:
                raise ApiError(400, "invalid_request_body", "multipart body without a boundary")
            try:
                parts = parse_multipart(body, boundary.encode("latin-1"))
            except ValueError:
                raise ApiError(400, "invalid_request_body", "The multipart body could not be parsed") from None
            fields: dict = {}
            files: dict = {}
            for name, filename, content in parts:
                if name is None:
                    continue
                if filename is not None:
                    if filename == "" and not content:
                        continue
                    files.setdefault(name, content)
                else:
                    if name in ("person_image", "garment_image"):
                        files.setdefault(name, content)
                        continue
                    try:
                        fields.setdefault(name, content.decode("utf-8"))
                    except UnicodeDecodeError:
                        raise ApiError(400, "invalid_parameter", f"{name} is not valid text") from None
            return ("form", fields), files
        raise ApiError(400, "unsupported_content_type", "Content type must be application/json or multipart/form-data")

    def params(self, fields, files, check_presence_only: bool = False) -> dict:
        kind, f = fields
        known = {"person_image_url", "garment_image_url", "garment_mode", "preprocess_garment",
                 "remove_background", "wait_for_result"}
        if kind == "form":
            known |= {"person_image", "garment_image"}
        if not self.rd:
            for k in list(f) + list(files):
                if k not in known:
                    raise ApiError(400, "invalid_parameter", f"Unknown parameter: {k}")
        out: dict = {"_upload": bool(files)}
        for which in ("person", "garment"):
            data = files.get(f"{which}_image")
            url = f.get(f"{which}_image_url")
            if data is not None:
                out[which] = ("bytes", data)
                continue
            if url is None or (kind == "form" and url == ""):
                raise ApiError(400, "missing_parameter", f"{which}_image_url is required")
            if not isinstance(url, str) or not valid_url(url):
                raise ApiError(400, "invalid_parameter", f"{which}_image_url must be an http(s) URL")
            out[which] = ("url", url)
        if check_presence_only:
            return out
        mode = f.get("garment_mode", "auto")
        if mode not in ("auto", "full", "upper", "lower"):
            raise ApiError(400, "invalid_parameter", "garment_mode must be auto, full, upper or lower")
        out["garment_mode"] = mode
        for flag, default in (("preprocess_garment", True), ("remove_background", False), ("wait_for_result", True)):
            v = f.get(flag, default)
            if kind == "json":
                if type(v) is not bool:
                    raise ApiError(400, "invalid_parameter", f"{flag} must be a boolean")
            elif isinstance(v, str):
                lv = v.strip().lower() if self.rd else v
                if lv in ("true",) or (self.rd and lv in ("1", "yes", "on")):
                    v = True
                elif lv in ("false",) or (self.rd and lv in ("0", "no", "off")):
                    v = False
                else:
                    raise ApiError(400, "invalid_parameter", f"{flag} must be true or false")
            out[flag] = v
        return out

    async def load_images(self, opts):
        loop = asyncio.get_running_loop()
        out = []
        for which in ("person", "garment"):
            kind, v = opts[which]
            if kind == "url":
                data = await loop.run_in_executor(self.pool, self.fetch, v, which)
            else:
                data = v
            im = await loop.run_in_executor(self.pool, self.check_image, data, which)
            out.append(im)
        return out

    def fetch(self, url: str, which: str) -> bytes:
        try:
            with self.opener.open(urllib.request.Request(url, headers={"User-Agent": "judge2-fetch"}), timeout=15) as r:
                data = r.read(self.max_bytes + 1)
                if len(data) > self.max_bytes:
                    raise ApiError(400, "file_size_too_large", f"{which} image is larger than 25 MB")
                return data
        except ApiError:
            raise
        except urllib.error.HTTPError as e:
            code = "malformed_image" if self.rd else "invalid_parameter"
            raise ApiError(400, code, f"{which}_image_url answered {e.code}") from None
        except Exception:  # noqa: BLE001
            code = "malformed_image" if self.rd else "invalid_parameter"
            raise ApiError(400, code, f"{which}_image_url could not be fetched") from None

    def check_image(self, data: bytes, which: str):
        if len(data) > self.max_bytes:
            raise ApiError(400, "file_size_too_large", f"{which} image is larger than 25 MB")
        if not data:
            raise ApiError(400, "malformed_image", f"{which} image is empty")
        try:
            im = Image.open(io.BytesIO(data))
            fmt = im.format
        except Exception:  # noqa: BLE001
            raise ApiError(400, "malformed_image", f"{which} image could not be decoded") from None
        if fmt == "MPO":
            fmt = "JPEG"
        if fmt not in self.formats:
            raise ApiError(400, "unsupported_image_format", f"{which} image format {fmt} is not supported")
        w, h = im.size
        if w > 1920 or h > 1920:
            raise ApiError(400, "resolution_too_high", f"{which} image is larger than 1920x1920")
        small = (w * h < 256 * 256) if self.rd else (w < 256 or h < 256)
        if small:
            raise ApiError(400, "invalid_parameter", f"{which} image is smaller than 256x256")
        try:
            if self.rd:
                ImageFile.LOAD_TRUNCATED_IMAGES = True
            im.load()
            rgb = im.convert("RGB")
        except Exception:  # noqa: BLE001
            raise ApiError(400, "malformed_image", f"{which} image could not be decoded") from None
        if not self.rd:
            ext = rgb.getextrema()
            if all(lo == hi for lo, hi in ext):
                raise ApiError(400, "unknown_foreground", f"no foreground found in the {which} image")
        return rgb

    def compose(self, person, garment, opts) -> str:
        out = person.copy()
        gw = max(1, out.width // 2)
        g = ImageOps.contain(garment, (gw, max(1, out.height // 2)))
        out.paste(g, ((out.width - g.width) // 2, out.height // 4))
        buf = io.BytesIO()
        out.save(buf, "JPEG", quality=85)
        rid = uuid.uuid4().hex
        self.results[rid] = (buf.getvalue(), now() + 3600)
        return rid

    # ---------------------------------------------------------------- readings variant
    async def tryon_readings(self, req, acct, fields, files) -> Resp:
        # order: body, presence, images (sync) / params (job: images judged late), then credits,
        # then the rate limit, which counts only what is accepted
        pres = self.params(fields, files, check_presence_only=True)
        opts_full = None
        wait = fields[1].get("wait_for_result", True)
        if isinstance(wait, str):
            wait = wait.strip().lower() not in ("false", "0", "no", "off")
        if wait is False:
            opts_full = self.params(fields, files)
            if not opts_full["wait_for_result"]:
                self.note_valid()
                if not acct.reserve():
                    raise ApiError(403, "insufficient_api_credits", "Insufficient credits available")
                try:
                    self.limit(acct)
                except ApiError:
                    acct.refund()
                    raise
                return self.new_job(acct, opts_full, None, None, late=True)
        person, garment = await self.load_images(pres)
        opts = self.params(fields, files)
        self.note_valid()
        if not acct.reserve():
            raise ApiError(403, "insufficient_api_credits", "Insufficient credits available")
        try:
            self.limit(acct)
        except ApiError:
            acct.refund()
            raise
        if not opts["wait_for_result"]:
            return self.new_job(acct, opts, person, garment)
        try:
            await asyncio.sleep(self.args.processing)
            rid = await asyncio.get_running_loop().run_in_executor(self.pool, self.compose, person, garment, opts)
        except BaseException:
            acct.refund()
            raise
        return self.sync_ok(rid)


def valid_url(u: str) -> bool:
    try:
        p = urllib.parse.urlsplit(u)
    except ValueError:
        return False
    return p.scheme in ("http", "https") and bool(p.netloc) and not any(c.isspace() for c in u)


def parse_ctype(v: str):
    parts = v.split(";")
    mtype = parts[0].strip().lower()
    params = {}
    for p in parts[1:]:
        if "=" in p:
            k, _, val = p.partition("=")
            val = val.strip()
            if len(val) >= 2 and val[0] == '"' and val[-1] == '"':
                val = val[1:-1]
            params[k.strip().lower()] = val
    return mtype, params


CD_PARAM = re.compile(r';\s*([A-Za-z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


def parse_multipart(body: bytes, boundary: bytes):
    delim = b"--" + boundary
    if body.startswith(delim):
        body = b"\r\n" + body
    segs = body.split(b"\r\n" + delim)
    if len(segs) < 2:
        raise ValueError("no boundary")
    parts = []
    ended = False
    for seg in segs[1:]:
        if seg.startswith(b"--"):
            ended = True
            break
        nl = seg.find(b"\r\n")
        if nl < 0:
            raise ValueError("bad part")
        seg = seg[nl + 2:]
        he = seg.find(b"\r\n\r\n")
        if he < 0:
            if seg.startswith(b"\r\n"):
                hdr, content = b"", seg[2:]
            else:
                raise ValueError("bad part headers")
        else:
            hdr, content = seg[:he], seg[he + 4:]
        name = filename = None
        for line in hdr.split(b"\r\n"):
            k, _, v = line.decode("utf-8", "replace").partition(":")
            if k.strip().lower() == "content-disposition":
                for pk, pv in CD_PARAM.findall(";" + v.split(";", 1)[1] if ";" in v else ""):
                    if pv.startswith('"'):
                        pv = pv[1:-1].replace('\\"', '"')
                    if pk.lower() == "name":
                        name = pv
                    elif pk.lower() == "filename":
                        filename = pv
        parts.append((name, filename, content))
    if not ended:
        raise ValueError("no closing boundary")
    return parts


# -------------------------------------------------------------------- HTTP layer
class BadRequest(Exception):
    pass


async def read_request(reader: asyncio.StreamReader):
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if not e.partial.strip():
            return None
        raise BadRequest("incomplete head") from None
    except asyncio.LimitOverrunError:
        raise BadRequest("head too large") from None
    lines = head.decode("latin-1").split("\r\n")
    while lines and lines[0] == "":
        lines.pop(0)
    try:
        method, target, version = lines[0].split(" ", 2)
    except (ValueError, IndexError):
        raise BadRequest("bad request line") from None
    headers = []
    for ln in lines[1:]:
        if not ln:
            continue
        k, sep, v = ln.partition(":")
        if not sep:
            raise BadRequest("bad header")
        headers.append((k.strip().lower(), v.strip()))
    hd = dict(headers)
    body = b""
    if "chunked" in hd.get("transfer-encoding", "").lower():
        chunks = []
        total = 0
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                break
            total += size
            if total > 64 * MiB:
                raise BadRequest("too large")
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(chunks)
    elif "content-length" in hd:
        n = int(hd["content-length"])
        if n > 64 * MiB:
            raise BadRequest("too large")
        if hd.get("expect", "").lower() == "100-continue":
            pass  # handled by caller
        body = await reader.readexactly(n)
    return Req(method, target, version, headers, body)


class Server:
    def __init__(self, app: App, args) -> None:
        self.app, self.args = app, args
        self.writers: set = set()

    async def handle(self, reader, writer, port2: bool = False) -> None:
        self.writers.add(writer)
        try:
            while True:
                try:
                    req = await read_request(reader)
                except BadRequest:
                    await self.write(writer, None, self.app.jresp(400, {"error": "Bad request", "error_code": "invalid_request_body"}), close=True)
                    break
                if req is None:
                    break
                resp = await self.app.dispatch(req, port2=port2)
                print(f"{now():.3f} {req.method} {req.path} {'multipart ' if 'multipart' in (req.h('content-type') or '') else ''}"
                      f"-> {resp.status} {resp.action or ''}", file=sys.stderr, flush=True)
                if resp.action == "hang":
                    await asyncio.sleep(HANG_MAX)
                    break
                if resp.action == "stall":
                    writer.write(b"HTTP/1.1 200 OK\r\n")
                    await writer.drain()
                    await asyncio.sleep(HANG_MAX)
                    break
                if resp.action == "reset":
                    sock = writer.get_extra_info("socket")
                    try:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    except OSError:
                        pass
                    writer.transport.abort()
                    break
                close = (self.app.cfg.get("close_each") or req.version == "HTTP/1.0"
                         or (req.h("connection") or "").lower() == "close")
                keep = await self.write(writer, req, resp, close=close)
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, OSError, ValueError):
            pass
        finally:
            self.writers.discard(writer)
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    async def write(self, writer, req, resp: Resp, close: bool) -> bool:
        cfg = self.app.cfg
        body = resp.body
        headers = [("Date", email.utils.formatdate(usegmt=True))]
        if resp.ctype:
            headers.append(("Content-Type", resp.ctype))
        if cfg.get("extra_headers"):
            headers += [("Server", "judge2/1.0"), ("X-Request-Id", uuid.uuid4().hex),
                        ("Cache-Control", "no-store"), ("Via", "1.1 edge-proxy"),
                        ("X-RateLimit-Limit", "5"), ("Strict-Transport-Security", "max-age=0"),
                        ("Set-Cookie", "edge_session=abc123; Path=/; HttpOnly")]
        headers += resp.headers
        if (cfg.get("gzip") and req is not None and resp.ctype == "application/json"
                and "gzip" in (req.h("accept-encoding") or "").lower()):
            body = gzip.compress(body)
            headers += [("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")]
        head_only = req is not None and req.method == "HEAD"
        mode = "length"
        if cfg.get("chunked"):
            mode = "chunked"
        elif cfg.get("close_delimited_gets") and req is not None and req.method == "GET":
            mode = "close"
            close = True
        if mode == "length":
            headers.append(("Content-Length", str(len(body))))
        elif mode == "chunked":
            headers.append(("Transfer-Encoding", "chunked"))
        if close:
            headers.append(("Connection", "close"))
        status_line = f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Status')}\r\n"
        head = status_line + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
        fbd = cfg.get("first_byte_delay")
        if fbd:
            await asyncio.sleep(fbd)
        writer.write(head.encode("latin-1"))
        if head_only:
            pass
        elif resp.action == "trickle":
            await writer.drain()
            step = float(cfg["trickle_sync"])
            for i in range(len(body)):
                writer.write(body[i:i + 1])
                await writer.drain()
                await asyncio.sleep(step)
        elif mode == "chunked":
            size = 7 if resp.ctype == "application/json" else 65536
            for i in range(0, len(body), size):
                c = body[i:i + size]
                writer.write(b"%x\r\n" % len(c) + c + b"\r\n")
                await writer.drain()
            writer.write(b"0\r\n\r\n")
        else:
            writer.write(body)
        await writer.drain()
        if close:
            return False
        return True


async def main_async(args) -> None:
    app = App(args)
    srv = Server(app, args)
    server = await asyncio.start_server(srv.handle, "127.0.0.1", args.port, limit=1 * MiB,
                                        reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    app.base = f"http://127.0.0.1:{port}"
    server2 = None
    if app.cfg.get("result_port2"):
        server2 = await asyncio.start_server(lambda r, w: srv.handle(r, w, port2=True), "127.0.0.1", 0, limit=1 * MiB)
        app.base2 = f"http://127.0.0.1:{server2.sockets[0].getsockname()[1]}"
    print(f"Listening on {app.base} variant={args.variant}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), timeout=args.max_life)
    except asyncio.TimeoutError:
        pass
    server.close()
    if server2:
        server2.close()
    for w in list(srv.writers):
        try:
            w.transport.abort()
        except Exception:  # noqa: BLE001
            pass
    app.pool.shutdown(wait=False, cancel_futures=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variant", default="correct", choices=sorted(VARIANTS))
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--key", action="append", default=[], help="KEY:CREDITS, repeatable")
    ap.add_argument("--processing", type=float, default=0.8)
    ap.add_argument("--max-life", type=float, default=1200.0)
    ap.add_argument("--no-trigger", action="store_true", help="restarted instance: fire no trigger")
    args = ap.parse_args()
    if not args.key:
        args.key = ["judge-demo-key:1000", "judge-other-key:1000", "judge-zero-key:0"]
    asyncio.run(main_async(args))
    os._exit(0)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Independent Try-On API server (judge3). Raw ASGI app served by uvicorn.

Usage: python server.py --port P --variant NAME --keys main=KEY:1000,other=KEY:1000,zero=KEY:0
       [--stats-file F] [--admin-token T]
"""
import argparse, asyncio, email.utils, hashlib, hmac, io, json, os, secrets, sys, time, uuid
import urllib.parse

import httpx
from PIL import Image, ImageFile, ImageOps, ImageDraw

Image.MAX_IMAGE_PIXELS = None

V = "correct"
ACCOUNTS = {}      # name -> {"balance": int, "reserved": int}
KEYS = {}          # key -> account name
JOBS = {}          # job_id -> dict
RESULTS = {}       # token -> (bytes, ctype, expires)
BUCKETS = {}       # bucket key -> [tokens, last]
LOCKOUT = {}       # account -> until
CACHE = {}         # path -> (until, body)
STATS = {"requests": 0, "credits_charged": 0, "by_path": {}}
SECRET = secrets.token_bytes(16)
ADMIN = None
STATS_FILE = None
LAST_ACCOUNT = [None]
HTTP = None

COST = 1
MODES = ("auto", "full", "upper", "lower")
MIN_RES, MAX_RES = 256, 1920


def cfg(name):
    """Per-variant open-point choices (correct variants) and defaults."""
    alt_a = V == "alt_a"
    alt_b = V == "alt_b"
    return {
        "size_limit": 25_000_000 if alt_a else 25 * 1024 * 1024,
        "formats": ({"JPEG", "PNG", "WEBP", "GIF"} if alt_a else
                    {"JPEG", "PNG"} if alt_b else {"JPEG", "PNG", "WEBP"}),
        "too_small_code": "resolution_too_high" if alt_a else "invalid_parameter",
        "flat_processed": alt_a,
        "flat_refused_early": alt_b,
        "lenient_truncated": alt_a,
        "rate_only_accepted": alt_a,
        "credits_first": alt_b,
        "extra_fields": alt_a,
        "mode_ci": alt_a,
        "trailing_slash_ok": alt_a,
        "pending_s": 1.2 if alt_b else 0.5,
        "running_s": 2.0 if alt_b else 0.9,
        "sync_s": 1.2 if alt_b else 0.35,
    }[name]


class ApiError(Exception):
    def __init__(self, status, code, msg, headers=None):
        self.status, self.code, self.msg, self.headers = status, code, msg, headers or {}


# ---------------------------------------------------------------- responses
def json_resp(status, obj, headers=None, ctype="application/json"):
    body = json.dumps(obj).encode()
    h = {"content-type": ctype}
    if V == "alt_a":
        h["content-type"] = "application/json; charset=utf-8"
        h["x-request-id"] = uuid.uuid4().hex
    h.update(headers or {})
    return status, h, body


def err_resp(status, code, msg, headers=None, req=None):
    obj = {"error": msg, "error_code": code}
    if cfg("extra_fields"):
        obj["request_id"] = uuid.uuid4().hex
    if V == "key_leak_debug" and status == 400 and req is not None:
        obj["debug"] = {"path": req["path"], "headers": dict(req["headers_dict"])}
    if V == "proxy_429_html" and status == 429:
        html = b"<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
        return 429, {"content-type": "text/html", **(headers or {})}, html
    if V == "err401_text_plain" and status == 401:
        return 401, {"content-type": "text/plain"}, json.dumps(obj).encode()
    return json_resp(status, obj, headers)


# ---------------------------------------------------------------- header parsing
def parse_params(value):
    """Parse 'type/sub; a=b; c="d;e"' -> (type lower, {param lower: value})."""
    parts, cur, q, esc = [], "", False, False
    for ch in value:
        if esc:
            cur += ch; esc = False; continue
        if q and ch == "\\":
            cur += ch; esc = True; continue
        if ch == '"':
            q = not q
        if ch == ";" and not q:
            parts.append(cur); cur = ""; continue
        cur += ch
    parts.append(cur)
    main = parts[0].strip().lower()
    params = {}
    for p in parts[1:]:
        if "=" not in p:
            continue
        k, v = p.split("=", 1)
        k, v = k.strip().lower(), v.strip()
        if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
            v = v[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        params[k] = v
    return main, params


def parse_multipart(body, boundary):
    if not boundary or len(boundary) > 200:
        raise ApiError(400, "invalid_request_body", "Missing or invalid multipart boundary")
    delim = b"--" + boundary.encode("latin-1")
    pos = body.find(delim)
    if pos < 0 or (pos > 0 and body[pos - 2:pos] != b"\r\n" and body[pos - 1:pos] != b"\n"):
        if pos != 0:
            raise ApiError(400, "invalid_request_body", "Malformed multipart body")
    parts = []
    pos += len(delim)
    while True:
        if body[pos:pos + 2] == b"--":
            return parts
        # skip transport padding and CRLF
        eol = body.find(b"\n", pos)
        if eol < 0:
            raise ApiError(400, "invalid_request_body", "Malformed multipart body")
        start = eol + 1
        nxt = body.find(b"\r\n" + delim, start)
        if nxt < 0:
            raise ApiError(400, "invalid_request_body", "Multipart body is not terminated")
        raw = body[start:nxt]
        if raw.startswith(b"\r\n"):
            hdr_blob, content = b"", raw[2:]
        else:
            sep = raw.find(b"\r\n\r\n")
            if sep < 0:
                raise ApiError(400, "invalid_request_body", "Malformed multipart part")
            hdr_blob, content = raw[:sep], raw[sep + 4:]
        headers = {}
        for line in hdr_blob.decode("utf-8", "replace").split("\r\n"):
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        cd = headers.get("content-disposition")
        if cd:
            kind, params = parse_params(cd)
            if kind == "form-data" and "name" in params:
                fname = params.get("filename")
                if "filename*" in params:
                    fv = params["filename*"]
                    if "''" in fv:
                        fname = urllib.parse.unquote(fv.split("''", 1)[1])
                parts.append({"name": params["name"], "filename": fname,
                              "ctype": headers.get("content-type"), "data": content})
        pos = nxt + 2 + len(delim)


# ---------------------------------------------------------------- auth & rate
def authenticate(req):
    vals = req["key_values"]
    if not vals:
        raise ApiError(401, "invalid_auth_token", "API Token not found")
    keyset = set(v.strip() for v in vals)
    if len(keyset) != 1:
        raise ApiError(401, "invalid_auth_token", "API Token not found")
    key = keyset.pop()
    if not key:
        raise ApiError(401, "invalid_auth_token", "API Token not found")
    if V == "key_case_insensitive":
        for k, a in KEYS.items():
            if k.lower() == key.lower():
                return a
    elif V == "key_truncated32":
        for k, a in KEYS.items():
            if k[:32] == key[:32]:
                return a
    else:
        for k, a in KEYS.items():
            if hmac.compare_digest(k.encode(), key.encode()):
                return a
    if V == "unknown_key_403" and req["path"] == "/v1/try-on":
        raise ApiError(403, "insufficient_api_credits", "Insufficient credits available")
    raise ApiError(401, "invalid_auth_token", "API Token not found")


def rate_check(account):
    now = time.monotonic()
    if V == "penalty_lockout" and LOCKOUT.get(account, 0) > now:
        raise ApiError(429, "rate_limit_exceeded", "Too many requests", retry_headers(1))
    bkey = "global" if V == "ratelimit_global" else account
    b = BUCKETS.setdefault(bkey, [5.0, now])
    b[0] = min(5.0, b[0] + (now - b[1]) * 5.0)
    b[1] = now
    if b[0] < 1.0:
        if V == "penalty_lockout":
            LOCKOUT[account] = now + 45
        wait = (1.0 - b[0]) / 5.0
        raise ApiError(429, "rate_limit_exceeded", "Too many requests", retry_headers(wait))
    b[0] -= 1.0


def rate_refund(account):
    b = BUCKETS.get(account)
    if b:
        b[0] = min(5.0, b[0] + 1.0)


def retry_headers(wait):
    if V == "alt_a":
        return {"retry-after": email.utils.formatdate(time.time() + 1 + wait, usegmt=True)}
    if V == "alt_b":
        return {}
    if V == "retry_after_float":
        return {"retry-after": "%.1f" % max(0.2, wait)}
    return {"retry-after": str(max(1, int(wait + 0.999)))}


# ---------------------------------------------------------------- credits
def charge(account, n=COST):
    ACCOUNTS[account]["balance"] -= n
    STATS["credits_charged"] += n


def available(account):
    a = ACCOUNTS[account]
    return a["balance"] - a["reserved"]


# ---------------------------------------------------------------- images
async def fetch_image(url, which):
    limit = cfg("size_limit")
    try:
        async with HTTP.stream("GET", url) as r:
            if r.status_code != 200:
                raise ApiError(400, "invalid_parameter", f"Could not download {which}: HTTP {r.status_code}")
            cl = r.headers.get("content-length")
            check_size = not (V == "limits_person_only" and which == "garment_image_url")
            if check_size and cl and cl.isdigit() and int(cl) > limit and not V == "size_limit_inclusive":
                raise ApiError(400, "file_size_too_large", "File size too large")
            buf = bytearray()
            async for chunk in r.aiter_bytes():
                buf += chunk
                if check_size and len(buf) > limit + 1 and V != "size_limit_inclusive":
                    raise ApiError(400, "file_size_too_large", "File size too large")
                if len(buf) > 120 * 1024 * 1024:
                    raise ApiError(400, "file_size_too_large", "File size too large")
            return bytes(buf)
    except ApiError:
        raise
    except Exception as e:
        raise ApiError(400, "invalid_parameter", f"Could not download {which}")


def has_image_data(data, fmt):
    if fmt == "JPEG":
        return b"\xff\xda" in data
    if fmt == "PNG":
        return b"IDAT" in data
    return True


def decode_image(data, which, check_limits=True, from_file=False):
    """Return a decoded PIL image (first frame) or raise ApiError."""
    limit = cfg("size_limit")
    if check_limits and not (V == "multipart_size_unchecked" and from_file):
        too_big = len(data) >= 25_000_000 if V == "size_limit_inclusive" else len(data) > limit
        if too_big:
            raise ApiError(400, "file_size_too_large", "File size too large")
    if not data:
        raise ApiError(400, "malformed_image", f"The {which} could not be decoded")
    try:
        img = Image.open(io.BytesIO(data))
        fmt = img.format
    except Exception:
        raise ApiError(400, "malformed_image", f"The {which} could not be decoded")
    if fmt not in cfg("formats"):
        raise ApiError(400, "unsupported_image_format", f"The {which} format ({fmt}) is not supported")
    if V == "cmyk_refused" and img.mode == "CMYK":
        raise ApiError(400, "unsupported_image_format", f"The {which} format is not supported")
    if V == "progressive_refused" and fmt == "JPEG" and (img.info.get("progressive") or img.info.get("progression")):
        raise ApiError(400, "unsupported_image_format", f"The {which} format is not supported")
    w, h = img.size
    if check_limits:
        if V == "res_width_only":
            high, low = w > MAX_RES, w < MIN_RES
        elif V == "max_res_offbyone":
            high, low = (w >= MAX_RES or h >= MAX_RES), (w < MIN_RES or h < MIN_RES)
        else:
            high, low = (w > MAX_RES or h > MAX_RES), (w < MIN_RES or h < MIN_RES)
        if high:
            raise ApiError(400, "resolution_too_high", "The image resolution is too high")
        if low:
            raise ApiError(400, cfg("too_small_code"), f"The {which} resolution is too low (minimum {MIN_RES}x{MIN_RES})")
    try:
        if cfg("lenient_truncated"):
            if not has_image_data(data, fmt):
                raise ValueError("no image data")
            ImageFile.LOAD_TRUNCATED_IMAGES = True
        img.load()
    except Exception:
        raise ApiError(400, "malformed_image", f"The {which} could not be decoded")
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = False
    return img


def is_flat(img):
    try:
        g = img.convert("L")
        g.thumbnail((64, 64))
        lo, hi = g.getextrema()
        return hi - lo < 4
    except Exception:
        return False


def render_result(person, garment, src_format):
    """Produce result bytes (JPEG) from decoded images."""
    if V == "animated_500" and getattr(person, "is_animated", False):
        raise RuntimeError("cannot process multi-frame image")
    if V == "rgba_500":
        p = person if person.mode in ("RGB", "RGBA", "LA", "L") else person.convert("RGB")
    else:
        p = ImageOps.exif_transpose(person)
        if p.mode in ("RGBA", "LA", "PA") or (p.mode == "P" and "transparency" in p.info):
            p = p.convert("RGBA")
            bg = Image.new("RGB", p.size, (255, 255, 255))
            bg.paste(p, mask=p.split()[-1])
            p = bg
        else:
            p = p.convert("RGB")
    g = ImageOps.exif_transpose(garment).convert("RGB") if V != "rgba_500" else garment.convert("RGB")
    g.thumbnail((max(1, p.size[0] // 2), max(1, p.size[1] // 2)))
    p = p.copy()
    p.paste(g, ((p.size[0] - g.size[0]) // 2, (p.size[1] - g.size[1]) // 3))
    ImageDraw.Draw(p).rectangle([0, 0, 3, 3], fill=(200, 30, 30))
    out = io.BytesIO()
    if V == "result_png_passthrough" and src_format == "PNG":
        p.save(out, "PNG")
        return out.getvalue(), "image/png", "png"
    p.save(out, "JPEG", quality=85)
    return out.getvalue(), "image/jpeg", "jpg"


def store_result(host, data, ctype, ext, token=None):
    token = token or uuid.uuid4().hex
    exp = int(time.time()) + 3600
    RESULTS[token] = (data, ctype, exp)
    return result_url(host, token, exp, ext)


def result_url(host, token, exp, ext="jpg"):
    sig = hmac.new(SECRET, f"{token}.{exp}".encode(), hashlib.sha256).hexdigest()[:20]
    return f"http://{host}/results/{token}.{ext}?expires={exp}&sig={sig}"


# ---------------------------------------------------------------- try-on
def parse_bool(v, name, default, multipart):
    if v is None:
        return default
    if multipart and V == "multipart_bool_truthy" and isinstance(v, str):
        return bool(v)
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "1"):
            return True
        if s in ("false", "0"):
            return False
    raise ApiError(400, "invalid_parameter", f"{name} must be true or false")


async def read_request_fields(req):
    ctype_raw = req["headers_dict"].get("content-type", "")
    body = req["body"]
    if V == "charset_refused":
        if ctype_raw.strip() == "application/json":
            main, params = "application/json", {}
        elif ctype_raw.strip().lower().startswith("multipart/form-data"):
            main, params = parse_params(ctype_raw)
        else:
            main, params = "", {}
    else:
        main, params = parse_params(ctype_raw) if ctype_raw else ("", {})
    if V == "quoted_boundary" and main == "multipart/form-data":
        m = ctype_raw.lower().find("boundary=")
        params["boundary"] = ctype_raw[m + 9:].split(";")[0].strip() if m >= 0 else ""
    if main not in ("application/json", "multipart/form-data"):
        if not ctype_raw and not body:
            raise ApiError(400, "invalid_request_body", "The request body was empty or invalid")
        raise ApiError(400, "unsupported_content_type", "Content type must be application/json or multipart/form-data")
    if not body:
        if V == "empty_body_500":
            raise RuntimeError("Expecting value: line 1 column 1 (char 0)")
        raise ApiError(400, "invalid_request_body", "The request body was empty or invalid")
    fields, files = {}, {}
    if main == "application/json":
        if V == "json_leading_ws" and not body.startswith(b"{"):
            raise ApiError(400, "invalid_request_body", "The request body was empty or invalid")
        try:
            text = body.decode("utf-8-sig")
            obj = json.loads(text)
        except Exception:
            raise ApiError(400, "invalid_request_body", "The request body was empty or invalid")
        if not isinstance(obj, dict):
            raise ApiError(400, "invalid_request_body", "The request body must be a JSON object")
        fields = obj
        multipart = False
    else:
        multipart = True
        parts = parse_multipart(body, params.get("boundary", ""))
        for p in parts:
            name = p["name"]
            if name in ("person_image", "garment_image"):
                if p["filename"] == "" and not p["data"]:
                    continue  # empty file input (RFC 7578 4.2)
                if V == "octet_stream_part_ignored" and not (p["ctype"] or "").lower().startswith("image/"):
                    continue
                files.setdefault(name, p["data"])
            else:
                if name in fields:
                    continue
                try:
                    fields[name] = p["data"].decode("utf-8")
                except UnicodeDecodeError:
                    raise ApiError(400, "invalid_parameter", f"{name} is not valid text")
    return fields, files, multipart


async def prepare(req, account):
    fields, files, multipart = await read_request_fields(req)
    mode = fields.get("garment_mode")
    if mode is None or mode == "" and multipart:
        mode = "auto"
    if not (multipart and V == "multipart_garment_mode_unchecked"):
        m = mode.lower() if (cfg("mode_ci") and isinstance(mode, str)) else mode
        if not isinstance(m, str) or m not in MODES:
            raise ApiError(400, "invalid_parameter", "garment_mode must be one of auto, full, upper, lower")
        mode = m
    opts = {
        "garment_mode": mode,
        "preprocess_garment": parse_bool(fields.get("preprocess_garment"), "preprocess_garment", True, multipart),
        "remove_background": parse_bool(fields.get("remove_background"), "remove_background", False, multipart),
        "wait_for_result": parse_bool(fields.get("wait_for_result"), "wait_for_result", True, multipart),
    }
    sources = {}
    for which in ("person_image", "garment_image"):
        url = fields.get(which + "_url")
        if url is not None and not isinstance(url, str):
            raise ApiError(400, "invalid_parameter", f"{which}_url must be a string")
        if isinstance(url, str) and url.strip() == "":
            url = None
        f = files.get(which)
        if V == "url_wins_over_file" and url:
            f = None
        if f is not None:
            sources[which] = ("file", f)
        elif url is not None:
            u = urllib.parse.urlsplit(url.strip())
            if u.scheme.lower() not in ("http", "https") or not u.netloc:
                raise ApiError(400, "invalid_parameter", f"{which}_url must be an http(s) URL")
            sources[which] = ("url", url.strip())
        else:
            raise ApiError(400, "missing_parameter", f"{which}_url or {which} is required")
    return opts, sources, multipart


def need_credits(account):
    if available(account) < COST:
        code = "insufficient_credits" if V == "wrong_403_code" else "insufficient_api_credits"
        raise ApiError(403, code, "Insufficient credits available")


async def load_images(sources, check_limits):
    imgs = {}
    for which in ("person_image", "garment_image"):
        kind, val = sources[which]
        data = val if kind == "file" else await fetch_image(val, which + "_url")
        cl = check_limits and not (V == "limits_person_only" and which == "garment_image")
        imgs[which] = decode_image(data, which, cl, from_file=(kind == "file"))
    return imgs


def job_key(sources, opts):
    h = hashlib.sha256()
    for w in ("person_image", "garment_image"):
        k, v = sources[w]
        h.update(v if isinstance(v, bytes) else v.encode())
    h.update(json.dumps(opts, sort_keys=True).encode())
    return str(uuid.UUID(h.hexdigest()[:32]))


async def handle_tryon(req, account):
    if cfg("credits_first"):
        need_credits(account)
    opts, sources, multipart = await prepare(req, account)
    wait = opts["wait_for_result"]
    if not (V == "zero_credit_async" and not wait):
        need_credits(account)
    if V == "charge_on_image_refusal":
        charge(account)
    check_limits = not (V == "async_skips_limits" and not wait)
    imgs = await load_images(sources, check_limits)
    if cfg("flat_refused_early") and is_flat(imgs["person_image"]):
        raise ApiError(400, "unknown_foreground", "The foreground subject of the image could not be detected")
    host = req["host"]
    if wait:
        await asyncio.sleep(cfg("sync_s"))
        if not cfg("flat_processed") and is_flat(imgs["person_image"]):
            raise ApiError(400, "unknown_foreground", "The foreground subject of the image could not be detected")
        try:
            data, ctype, ext = await asyncio.to_thread(render_result, imgs["person_image"], imgs["garment_image"], imgs["person_image"].format)
        except Exception:
            return err_resp(500, "internal_error", "Internal service error")
        url = store_result(host, data, ctype, ext)
        if V != "charge_on_image_refusal":
            charge(account)
        obj = {"result_url": url}
        if cfg("extra_fields"):
            obj.update({"credits_used": COST, "garment_mode": opts["garment_mode"]})
        return json_resp(200, obj)
    # async
    job_id = job_key(sources, opts) if V == "job_id_not_unique" else str(uuid.uuid4())
    token = uuid.uuid4().hex
    job = {"job_id": job_id, "account": account, "status": "pending", "created": time.time(),
           "token": token, "host": host, "result_url": None, "error": None}
    JOBS[job_id] = job
    if V != "charge_on_image_refusal":
        ACCOUNTS[account]["reserved"] += COST
    if V == "async_double_charge":
        charge(account)
    if not (V == "multipart_async_stuck_pending" and multipart):
        asyncio.get_running_loop().create_task(run_job(job, imgs, opts))
    if V == "alt_a":
        loc = f"/v1/try-on/job/{job_id}"
    elif V == "alt_b":
        loc = f"try-on/job/{job_id}"
    elif V == "location_plural":
        loc = f"http://{host}/v1/try-on/jobs/{job_id}"
    else:
        loc = f"http://{host}/v1/try-on/job/{job_id}"
    obj = {"job_id": job_id}
    if cfg("extra_fields"):
        obj["status"] = "pending"
    return json_resp(202, obj, {"location": loc})


async def run_job(job, imgs, opts):
    acct = job["account"]
    try:
        await asyncio.sleep(cfg("pending_s"))
        job["status"] = "running"
        await asyncio.sleep(cfg("running_s"))
        if not cfg("flat_processed") and is_flat(imgs["person_image"]):
            job["status"] = "failed"
            job["error"] = {"message": "The foreground subject of the image could not be detected",
                            "error_code": "unknown_foreground"}
            return
        try:
            data, ctype, ext = await asyncio.to_thread(render_result, imgs["person_image"], imgs["garment_image"], imgs["person_image"].format)
        except Exception:
            job["status"] = "failed"
            job["error"] = {"message": "Internal processing error", "error_code": "internal_error"}
            return
        job["result_url"] = store_result(job["host"], data, ctype, ext, token=job["token"])
        job["status"] = "completed"
        if V == "async_charge_wrong_account" and LAST_ACCOUNT[0]:
            charge(LAST_ACCOUNT[0])
        elif V != "charge_on_image_refusal":
            charge(acct)
    finally:
        if V != "charge_on_image_refusal":
            ACCOUNTS[acct]["reserved"] -= COST


def handle_job(req, account, job_id):
    job = JOBS.get(job_id)
    if V == "alt_b":
        try:
            uuid.UUID(job_id)
        except ValueError:
            raise ApiError(400, "invalid_parameter", "job_id is not a valid job identifier")
    if job is None or (job["account"] != account and V != "job_cross_account"):
        raise ApiError(404, "job_not_found", "Job not found")
    obj = {"job_id": job["job_id"], "status": job["status"]}
    if job["status"] == "completed":
        obj["result_url"] = job["result_url"]
    elif V == "result_url_while_running" and job["status"] in ("pending", "running"):
        exp = int(job["created"]) + 3600
        obj["result_url"] = result_url(job["host"], job["token"], exp)
    if job["status"] == "failed" and V != "failed_job_no_error":
        obj["error"] = job["error"]
    if cfg("extra_fields"):
        obj["created_at"] = int(job["created"])
    return json_resp(200, obj)


def handle_credits(req, account):
    if V == "credits_cache_shared":
        c = CACHE.get("/v1/credits")
        if c and c[0] > time.monotonic():
            return json_resp(200, c[1])
    bal = ACCOUNTS[account]["balance"] if account else 0
    if V == "alt_a":
        obj = {"balance": bal, "account": "acct_" + hashlib.sha1(account.encode()).hexdigest()[:8]}
    elif V == "alt_b":
        obj = {"credits_remaining": bal}
    else:
        obj = {"credits": bal}
    if V == "credits_cache_shared":
        CACHE["/v1/credits"] = (time.monotonic() + 4.0, obj)
    return json_resp(200, obj)


def handle_result(req, name):
    token, _, ext = name.partition(".")
    q = urllib.parse.parse_qs(req["query"])
    r = RESULTS.get(token)
    exp = q.get("expires", [""])[0]
    sig = q.get("sig", [""])[0]
    if r is None:
        return err_resp(404, "not_found", "Not found")
    good = hmac.new(SECRET, f"{token}.{exp}".encode(), hashlib.sha256).hexdigest()[:20]
    if not hmac.compare_digest(good, sig) or not exp.isdigit():
        return err_resp(403, "access_denied", "Signature does not match")
    if time.time() > int(exp) or time.time() > r[2]:
        return err_resp(403, "expired", "Request has expired")
    return 200, {"content-type": r[1], "cache-control": "private, max-age=3600"}, r[0]


# ---------------------------------------------------------------- routing
def route(path):
    """Return (name, allowed methods, arg)."""
    p = path
    if cfg("trailing_slash_ok") and len(p) > 1 and p.endswith("/"):
        p = p[:-1]
    if p == "/v1/try-on":
        return "tryon", ("POST",), None
    if p == "/v1/credits":
        return "credits", ("GET", "HEAD"), None
    if p.startswith("/v1/try-on/job/") and p.count("/") == 4 and len(p) > len("/v1/try-on/job/"):
        return "job", ("GET", "HEAD"), urllib.parse.unquote(p[len("/v1/try-on/job/"):])
    if p.startswith("/results/") and p.count("/") == 2:
        return "result", ("GET", "HEAD"), p[len("/results/"):]
    return None, (), None


async def dispatch(req):
    method = req["method"]
    name, allowed, arg = route(req["path"])
    if name is None:
        return err_resp(404, "not_found", "Not found")
    if V == "head_405" and method == "HEAD":
        return err_resp(405, "method_not_allowed", "Method not allowed", {"allow": ", ".join(a for a in allowed if a != "HEAD")})
    if method == "OPTIONS":
        return 204, {"allow": ", ".join(allowed + ("OPTIONS",))}, b""
    if method not in allowed:
        if V == "wrong_method_404":
            return err_resp(404, "not_found", "Not found")
        return err_resp(405, "method_not_allowed", "Method not allowed", {"allow": ", ".join(allowed + ("OPTIONS",))})
    if name == "result":
        return handle_result(req, arg)
    # API calls: auth
    account = None
    try:
        account = authenticate(req)
    except ApiError as e:
        if V == "credits_noauth" and name == "credits":
            return json_resp(200, {"credits": 0})
        raise
    LAST_ACCOUNT[0] = account
    if not cfg("rate_only_accepted"):
        rate_check(account)
    else:
        rate_check(account) if name == "tryon" else None
    try:
        if name == "tryon":
            res = await handle_tryon(req, account)
        elif name == "job":
            res = handle_job(req, account, arg)
        else:
            res = handle_credits(req, account)
    except ApiError:
        if cfg("rate_only_accepted") and name == "tryon":
            rate_refund(account)
        raise
    if cfg("rate_only_accepted") and name == "tryon" and res[0] >= 400:
        rate_refund(account)
    return res


async def read_body(receive, headers):
    chunks = []
    while True:
        msg = await receive()
        if msg["type"] == "http.request":
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        elif msg["type"] == "http.disconnect":
            break
    body = b"".join(chunks)
    if V == "chunked_body_ignored" and "content-length" not in headers:
        return b""
    return body


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                write_stats()
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    headers = {}
    key_values = []
    for k, v in scope["headers"]:
        k = k.decode("latin-1").lower()
        v = v.decode("latin-1")
        if k == "x-api-key":
            key_values.append(v)
        headers[k] = headers[k] + ", " + v if k in headers else v
    path = scope["path"]
    if path.startswith("/__judge/"):
        if headers.get("x-admin-token") == ADMIN:
            body = json.dumps({**STATS, "balances": {a: v["balance"] for a, v in ACCOUNTS.items()}}).encode()
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body": body})
        else:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
        return
    STATS["requests"] += 1
    body = await read_body(receive, headers)
    req = {"method": scope["method"], "path": path, "query": scope.get("query_string", b"").decode("latin-1"),
           "headers_dict": headers, "key_values": key_values, "body": body,
           "host": headers.get("host", "127.0.0.1")}
    try:
        status, h, out = await dispatch(req)
    except ApiError as e:
        status, h, out = err_resp(e.status, e.code, e.msg, e.headers, req)
    except Exception as e:
        status, h, out = err_resp(500, "internal_error", "Internal service error")
    hl = [(k.encode(), str(v).encode()) for k, v in h.items()]
    hl.append((b"content-length", str(len(out)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": hl})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else out})


def write_stats():
    if STATS_FILE:
        with open(STATS_FILE, "w") as f:
            json.dump({**STATS, "balances": {a: v["balance"] for a, v in ACCOUNTS.items()}}, f)


def main():
    global V, ADMIN, STATS_FILE, HTTP
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--variant", default="correct")
    ap.add_argument("--keys", default=os.environ.get("JUDGE_KEYS", ""))
    ap.add_argument("--stats-file")
    ap.add_argument("--admin-token", default=os.environ.get("JUDGE_ADMIN", secrets.token_hex(16)))
    a = ap.parse_args()
    V, ADMIN, STATS_FILE = a.variant, a.admin_token, a.stats_file
    for spec in a.keys.split(","):
        if not spec:
            continue
        name, rest = spec.split("=", 1)
        key, bal = rest.rsplit(":", 1)
        ACCOUNTS[name] = {"balance": int(bal), "reserved": 0}
        KEYS[key] = name
    HTTP = httpx.AsyncClient(timeout=20.0, follow_redirects=True)
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=a.port, log_level="warning", access_log=False, lifespan="on")
    write_stats()


if __name__ == "__main__":
    main()

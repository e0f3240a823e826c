"""A twin: the simulator reading the open points the way a report observed a real target read them.

`tryon-mock --calibrate REPORT.json` serves it, so a client team develops against a mock that
answers where the documentation is silent as the service it will meet does. A reading is taken
from the report's own observation text (the contract suite writes them: `contract/`); a reading
the report did not observe, or one this twin cannot vary, is served the simulator's way and
named as such (`Calibration.uncalibrated`), never guessed.

Calibrated: the Location form, the Retry-After form, the answers to an unknown job id and to
another account's job, the code for a too-small image, which image formats are accepted, whether
a single-colour image is processed, the unit of "25 MB", whether the minimum resolution is per
side, the code for an image URL answering 404, and (from a load run's JSON) the processing time.
"""

from __future__ import annotations

import email.utils
import json
import math
import re
import time
import uuid
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import Any, Final

from tryon_suite.errors import ConfigError
from tryon_suite.http.clock import Clock
from tryon_suite.simulator import bodies, params
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.core import SimRequest, SimResponse, Simulator
from tryon_suite.simulator.fetch import FetchProblem, ImageFetcher
from tryon_suite.simulator.messages import error_answer, json_answer
from tryon_suite.simulator.store import Job
from tryon_suite.spec.images import ImageInfo, ImageProblem

__all__ = ["CALIBRATED", "Calibration", "Twin", "calibration_from", "load_calibration"]

#: the open points a twin reads from a report, and what it does with each
CALIBRATED: Final = {
    "tryon.open.location_form": "the 202's Location, in the observed form",
    "tryon.open.retry_after": "a 429's Retry-After: seconds, an HTTP-date, or none",
    "tryon.open.unknown_job_id": "the answer to a poll of an unknown job id",
    "tryon.open.other_account_job": "the answer to a poll of another account's job",
    "tryon.open.too_small_image": "the error code for an image under the minimum",
    "tryon.limits.formats": "whether JPEG, PNG and WEBP are accepted",
    "tryon.open.image_formats": "whether GIF, BMP, TIFF and ICO are accepted",
    "tryon.open.flat_image": "whether a single-colour image is processed",
    "tryon.open.file_size_unit": "25 MB read as 25,000,000 bytes or as 25 MiB",
    "tryon.open.resolution_per_side": "the minimum per side, or as a pixel count",
    "tryon.open.image_url_unreachable": "the error code for an image URL answering 404",
    "tryon.open.extra_response_fields": "fields beyond the documented ones in JSON bodies",
    "tryon.open.credit_endpoint_shape": "the balance's keys (credits, or remaining and total)",
    "tryon.open.form_booleans": "which spellings of a form flag are taken (True, 1)",
    "tryon.open.unknown_request_fields": "whether a JSON field beyond the documented is ignored",
    "tryon.open.check_order": "whether the images are judged before a bad garment_mode",
    "tryon.open.async_validation": "a polled try-on with a bad image: 400 at once, or a failed job",
}
#: the keys of a balance body the twin can give: the balance under its name, the opening one
_BALANCE_KEYS: Final = frozenset({"credits", "remaining", "balance"})
#: how the report names a format, as the simulator's limits do
_FORMAT_NAMES: Final = {"JPG": "JPEG", "JPEG": "JPEG", "PNG": "PNG", "WEBP": "WEBP", "GIF": "GIF"}
_FORMAT_NAMES_MORE: Final = {"BMP": "BMP", "TIFF": "TIFF", "ICO": "ICO"}
_ANSWER: Final = re.compile(r"^(?P<status>\d{3})(?:\s+(?P<code>[a-z_]+))?")
_TOO_SMALL: Final = "expected at least"


@dataclass(frozen=True)
class Calibration:
    """The readings a twin serves; None: the simulator's own."""

    #: the Location template, `{job_id}` standing for the id (an absolute one is re-hosted)
    location: str | None = None
    retry_after: str | None = None  # "seconds", "http-date" or "none"
    unknown_job: tuple[int, str] | None = None
    other_account_job: tuple[int, str] | None = None
    too_small_code: str | None = None
    #: formats accepted, by the simulator's names; None: the limit profile's
    formats: frozenset[str] | None = None
    process_flat_images: bool | None = None
    #: refuse an image between 25,000,000 bytes and 25 MiB (25 MB read as decimal)
    decimal_megabytes: bool | None = None
    #: the minimum resolution bounds the pixel count, not each side
    pixel_count_minimum: bool | None = None
    unreachable_url_code: str | None = None
    #: fields added to every JSON object answered, with a fresh value each time
    extra_fields: tuple[str, ...] = ()
    #: the balance body's keys: one holding the balance, "total" the opening balance
    balance_keys: tuple[str, ...] | None = None
    #: a form flag spelled with capitals ("True") is taken; None: the simulator's way (taken)
    form_flag_capitals: bool | None = None
    #: a form flag spelled 1 or 0 is taken; None: the simulator's way (refused)
    form_flag_digits: bool | None = None
    #: a JSON body's fields beyond the documented ones are ignored (else refused)
    ignore_unknown_json_fields: bool | None = None
    #: the images are judged before the other parameters (a bad garment_mode after them)
    images_first: bool | None = None
    #: a polled try-on's images are judged in the job: 202, then the job fails
    late_validation: bool | None = None
    processing_time: float | None = None
    processing_spread: float | None = None
    #: clause id -> the reading taken from the report, as observed
    readings: dict[str, str] = field(default_factory=dict)
    #: clause id -> why it is served the simulator's way
    uncalibrated: dict[str, str] = field(default_factory=dict)


def _answer(text: str) -> tuple[int, str] | None:
    found = _ANSWER.match(text.strip())
    if found is None:
        return None
    return int(found["status"]), found["code"] or ""


def _accepted(verdict: str) -> bool | None:
    text = verdict.strip()
    if text.startswith(("accepted", "200", "202")):
        return True
    if text.startswith("4"):
        return False
    return None


def calibration_from(report: dict[str, Any], load: dict[str, Any] | None = None) -> Calibration:
    """The readings of a compliance.json (and the processing time of a load.json)."""
    if not isinstance(report.get("clauses"), list):
        raise ConfigError("expected a compliance.json (an object with a list of clauses)")
    observed: dict[str, list[str]] = {}
    for clause in [*report.get("clauses", []), *report.get("open_points", [])]:
        texts = [
            o if isinstance(o, str) else str(o.get("text", ""))
            for o in clause.get("observations", [])
        ]
        if texts:
            observed.setdefault(str(clause.get("id")), []).extend(texts)
    values: dict[str, Any] = {}
    readings: dict[str, str] = {}
    uncalibrated: dict[str, str] = {}
    for clause_id in CALIBRATED:
        seen = observed.get(clause_id)
        if not seen:
            uncalibrated[clause_id] = "not observed in the report: served the simulator's way"
            continue
        readings[clause_id] = "; ".join(seen)
    location = observed.get("tryon.open.location_form", [""])[0]
    if ", e.g. " in location:
        values["location"] = location.split(", e.g. ", 1)[1].strip()
    retry_after = " ".join(observed.get("tryon.open.retry_after", []))
    if "HTTP-date" in retry_after:
        values["retry_after"] = "http-date"
    elif "no Retry-After" in retry_after:
        values["retry_after"] = "none"
    elif "seconds" in retry_after:
        values["retry_after"] = "seconds"
    for clause_id, name in (
        ("tryon.open.unknown_job_id", "unknown_job"),
        ("tryon.open.other_account_job", "other_account_job"),
    ):
        if answers := observed.get(clause_id):
            values[name] = _answer(answers[0])
    if small := observed.get("tryon.open.too_small_image"):
        found = _answer(small[0])
        if found is not None and found[1]:
            values["too_small_code"] = found[1]
    formats: dict[str, bool] = {}
    for clause_id, names in (
        ("tryon.limits.formats", _FORMAT_NAMES),
        ("tryon.open.image_formats", {**_FORMAT_NAMES, **_FORMAT_NAMES_MORE}),
    ):
        for text in observed.get(clause_id, []):
            for part in text.split(", "):
                name, _, verdict = part.partition(": ")
                accepted = _accepted(verdict)
                if name.strip().upper() in names and accepted is not None:
                    formats[names[name.strip().upper()]] = accepted
    if formats:
        values["formats"] = frozenset(f for f, ok in formats.items() if ok)
    if flat := observed.get("tryon.open.flat_image"):
        values["process_flat_images"] = any("processed" in t for t in flat)
    for clause_id, name in (
        ("tryon.open.file_size_unit", "decimal_megabytes"),
        ("tryon.open.resolution_per_side", "pixel_count_minimum"),
    ):
        if seen_here := observed.get(clause_id):
            accepted = _accepted(seen_here[0].rsplit(": ", 1)[-1])
            if accepted is not None:
                # a size past 25e6 refused: decimal; an image under the per-side minimum
                # accepted: the minimum is a pixel count
                values[name] = not accepted if name == "decimal_megabytes" else accepted
    extra: set[str] = set()
    for text in observed.get("tryon.open.extra_response_fields", []):
        for listed in re.findall(r"\[([^\]]*)\]", text):
            extra |= {name.strip(" '\"") for name in listed.split(",") if name.strip(" '\"")}
    if extra:
        values["extra_fields"] = tuple(sorted(extra))
    shape = " ".join(observed.get("tryon.open.credit_endpoint_shape", []))
    if listed_keys := re.findall(r"\[([^\]]*)\]", shape):
        keys = {k.strip(" '\"") for k in listed_keys[0].split(",") if k.strip(" '\"")} - extra
        if (
            keys != {"credits"}
            and len(keys & _BALANCE_KEYS) == 1
            and keys <= {*_BALANCE_KEYS, "total"}
        ):
            values["balance_keys"] = tuple(sorted(keys))
        elif keys != {"credits"}:
            uncalibrated["tryon.open.credit_endpoint_shape"] = (
                f"keys {sorted(keys)}: the twin knows no meaning for them, served as credits"
            )
    for text in observed.get("tryon.open.form_booleans", []):
        for spelling, status in re.findall(r"'(True|1)': (\d{3})", text):
            name = "form_flag_capitals" if spelling == "True" else "form_flag_digits"
            values[name] = status.startswith("2")
    for text in observed.get("tryon.open.unknown_request_fields", []):
        for part in text.split("; "):
            if part.startswith("an extra JSON field: "):
                taken = _accepted(part.removeprefix("an extra JSON field: "))
                if taken is not None:
                    values["ignore_unknown_json_fields"] = taken
    for text in observed.get("tryon.open.async_validation", []):
        if text.startswith("accepted"):
            values["late_validation"] = True
        elif text.startswith("refused at once"):
            values["late_validation"] = False
    for text in observed.get("tryon.open.check_order", []):
        code = text.rsplit(": ", 1)[-1].strip()
        if re.fullmatch(r"[a-z_]+", code):
            values["images_first"] = code != "invalid_parameter"
    if unreachable := observed.get("tryon.open.image_url_unreachable"):
        found = _answer(unreachable[0].rsplit(": ", 1)[-1])
        if found is not None and found[1]:
            values["unreachable_url_code"] = found[1]
    if load is not None:
        ttr = load.get("summary", {}).get("modes", {}).get("sync", {}).get("ttr_s", {})
        if ttr.get("p50"):
            values["processing_time"] = float(ttr["p50"])
            spread = (float(ttr.get("p95", ttr["p50"])) - float(ttr["p50"])) / float(ttr["p50"])
            values["processing_spread"] = min(1.0, max(0.0, spread))
    return Calibration(
        **{k: v for k, v in values.items() if v is not None},
        readings=readings,
        uncalibrated=uncalibrated,
    )


def load_calibration(report_path: Path, load_path: Path | None = None) -> Calibration:
    """Read the files; a missing or unreadable one is a ConfigError naming it."""

    def read(path: Path) -> dict[str, Any]:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"expected a readable {path}, got: {exc.strerror}") from None
        except ValueError as exc:
            raise ConfigError(f"expected JSON in {path}, got: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"expected a JSON object in {path}, got {type(data).__name__}")
        return data

    return calibration_from(read(report_path), read(load_path) if load_path else None)


class Twin(Simulator):
    """The simulator with the readings of a `Calibration`."""

    def __init__(
        self,
        calibration: Calibration,
        config: SimulatorConfig | None = None,
        clock: Clock | None = None,
        fetcher: ImageFetcher | None = None,
    ) -> None:
        config = config or SimulatorConfig()
        if calibration.formats is not None:
            formats = tuple(sorted(calibration.formats))
            config = replace(config, limits=replace(config.limits, formats=formats))
        if calibration.decimal_megabytes:
            limits = config.limits
            config = replace(
                config, limits=replace(limits, max_file_bytes_high=limits.max_file_bytes_low)
            )
        if calibration.processing_time is not None:
            config = replace(
                config,
                processing_time=calibration.processing_time,
                processing_spread=calibration.processing_spread or 0.0,
            )
        super().__init__(config, clock, fetcher)
        self.calibration = calibration
        self._extra_count = 0
        if calibration.unreachable_url_code:
            self.fetcher = _Recoded(self.fetcher, calibration.unreachable_url_code)

    def answer(self, request: SimRequest, response: SimResponse) -> SimResponse:
        c = self.calibration
        headers = dict(response.headers)
        body = response.body
        if headers.get("content-type", "").startswith("application/json") and (
            c.extra_fields or c.balance_keys
        ):
            body = self._reshaped(request, body)
        if response.status == 202 and c.location is not None and "location" in headers:
            job_id = json.loads(response.body).get("job_id", "")
            location = c.location.replace("{job_id}", str(job_id))
            if re.match(r"^https?://", location):  # the observed host is the target's, not ours
                path = re.sub(r"^https?://[^/]+", "", location)
                location = request.base_url.rstrip("/") + path
            headers["location"] = location
        if response.status == 429 and c.retry_after is not None and "retry-after" in headers:
            seconds = int(headers["retry-after"])
            if c.retry_after == "none":
                del headers["retry-after"]
            elif c.retry_after == "http-date":
                headers["retry-after"] = email.utils.formatdate(
                    math.ceil(time.time() + seconds), usegmt=True
                )
        return SimResponse(response.status, headers, body)

    def _reshaped(self, request: SimRequest, body: bytes) -> bytes:
        """The balance in the observed shape, and the observed extra fields, in a JSON body."""
        c = self.calibration
        data = json.loads(body)
        if not isinstance(data, dict):
            return body
        if c.balance_keys and request.path == "/v1/credits" and "credits" in data:
            key = self.api_key(request) or ""
            opening = next((a.credits for a in self.config.accounts if a.key == key), 0)
            balance = data.pop("credits")
            for name in c.balance_keys:
                data[name] = opening if name == "total" else balance
        for name in c.extra_fields:
            self._extra_count += 1
            data.setdefault(name, f"twin_{self._extra_count:08x}")
        return json.dumps(data).encode()

    def inspect(self, data: bytes, field: str) -> ImageInfo | ImageProblem:
        checked = super().inspect(data, field)
        if not isinstance(checked, ImageProblem):
            return checked
        c = self.calibration
        if checked.error_code == "unknown_foreground" and c.process_flat_images:
            return _info(data)
        too_small = checked.error_code == "invalid_parameter" and _TOO_SMALL in checked.message
        if too_small and c.pixel_count_minimum:
            info = _info(data)
            if info.width * info.height >= self.config.limits.min_dimension**2:
                return info
        if too_small and c.too_small_code:
            return ImageProblem(c.too_small_code, checked.message)
        return checked

    async def _read_params(self, request: SimRequest) -> params.TryOnParams | SimResponse:
        """A JSON body's unknown fields ignored, a form's flags taken in the spellings, and a
        bad garment_mode judged after the images, as calibrated; the rest as ever."""
        c = self.calibration
        kind, options = bodies.media_type(self.content_type(request))
        flags = c.form_flag_capitals is not None or c.form_flag_digits is not None
        later = c.images_first or c.late_validation
        own_json = kind == "application/json" and (c.ignore_unknown_json_fields or later)
        own_form = kind == "multipart/form-data" and (flags or later)
        if not (own_json or own_form):
            return await super()._read_params(request)
        bad_mode: str | None = None
        read: params.TryOnParams | params.ParamProblem
        if own_json:
            body = await bodies.read_json(request.body)
            if isinstance(body, bodies.BodyProblem):
                return error_answer(400, body.error_code, body.message)
            if isinstance(body, dict):
                if c.ignore_unknown_json_fields:
                    body = {k: v for k, v in body.items() if k in params.JSON_FIELDS}
                if c.images_first:
                    body, bad_mode = _without_bad_mode(body)
            read = params.from_json(body)
        else:
            form = await bodies.read_multipart(
                request.body, options.get("boundary"), self.stream_cap()
            )
            if isinstance(form, bodies.BodyProblem):
                return error_answer(400, form.error_code, form.message)
            fields = dict(form.fields)
            for flag in params.FLAG_DEFAULTS:
                text = fields.get(flag)
                if text is None:
                    continue
                if c.form_flag_digits and text.strip() in ("1", "0"):
                    fields[flag] = "true" if text.strip() == "1" else "false"
                elif c.form_flag_capitals is False and text.strip() not in ("true", "false"):
                    return error_answer(
                        400,
                        "invalid_parameter",
                        f"{flag}: expected true or false, got {text[:20]!r}",
                    )
            if c.images_first:
                fields, bad_mode = _without_bad_mode(fields)
            read = params.from_form(replace(form, fields=fields))
        if isinstance(read, params.ParamProblem):
            return error_answer(400, read.error_code, read.message)
        if bad_mode is not None or c.late_validation:
            values = {f.name: getattr(read, f.name) for f in dataclass_fields(read)}
            owner = self.api_key(request) or ""
            return _Deferred(**values, bad_mode=bad_mode, owner=owner, base_url=request.base_url)
        return read

    async def _images(self, parsed: params.TryOnParams) -> tuple[bytes, bytes] | SimResponse:
        """The images judged first; a garment_mode held back (another check order) after."""
        got = await super()._images(parsed)
        if not isinstance(parsed, _Deferred):
            return got
        if isinstance(got, SimResponse):
            late = self.calibration.late_validation and not parsed.wait_for_result
            return self._failed_job(parsed) if late and got.status == 400 else got
        if parsed.bad_mode is None:
            return got
        return error_answer(
            400,
            "invalid_parameter",
            f"garment_mode: expected one of {', '.join(params.GARMENT_MODES)}, "
            f"got {parsed.bad_mode[:40]!r}",
        )

    def _failed_job(self, parsed: _Deferred) -> SimResponse:
        """Accepted, and failed in the job: images judged late, as the target did; it costs
        nothing (a failed job refunds its credit)."""
        now = self.clock.now()
        duration = self.processing_time(polled=True)
        job_id = str(uuid.UUID(int=self._random.getrandbits(128), version=4))
        self._jobs.add(
            Job(
                job_id=job_id,
                owner=parsed.owner,
                started=now,
                running_at=now + duration * self.config.queue_share,
                done_at=now + duration,
                outcome="failed",
                result=None,
            )
        )
        path = f"/v1/try-on/job/{job_id}"
        relative = self.config.location == "relative"
        location = path if relative else f"{parsed.base_url}{path}"
        return json_answer(202, {"job_id": job_id}, {"location": location})

    async def _job(self, request: SimRequest, job_id: str) -> SimResponse:
        known = self._jobs.get(job_id)
        answer = await super()._job(request, job_id)
        if answer.status != 404 or b"job_not_found" not in answer.body:
            return answer
        calibrated = (
            self.calibration.unknown_job if known is None else (self.calibration.other_account_job)
        )
        if calibrated is None or calibrated[0] < 400:
            return answer
        status, code = calibrated
        return error_answer(
            status, code or "invalid_parameter", "expected the id of one of your jobs, got another"
        )


@dataclass(frozen=True)
class _Deferred(params.TryOnParams):
    """The parameters, with what is judged after the images: a bad garment_mode held back,
    and who sent it where, for a job that fails on them."""

    bad_mode: str | None = None
    #: the key that sent it and where, for a job made after the images (late validation)
    owner: str = ""
    base_url: str = ""


def _without_bad_mode(values: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """`values` without a garment_mode outside the documented ones, and that mode."""
    mode = values.get("garment_mode")
    if mode is None or mode in params.GARMENT_MODES:
        return values, None
    return {k: v for k, v in values.items() if k != "garment_mode"}, str(mode)


class _Recoded:
    """A fetcher whose "the URL did not answer 200" carries another error code."""

    def __init__(self, inner: ImageFetcher, code: str) -> None:
        self._inner, self._code = inner, code

    async def fetch(self, url: str, max_bytes: int) -> bytes | FetchProblem:
        fetched = await self._inner.fetch(url, max_bytes)
        if isinstance(fetched, FetchProblem) and "answer 200" in fetched.message:
            return FetchProblem(self._code, fetched.message)
        return fetched

    async def aclose(self) -> None:
        await self._inner.aclose()


def _info(data: bytes) -> ImageInfo:
    """What a processed single-colour image is, read from its header."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return ImageInfo(image.format or "PNG", image.size[0], image.size[1])

"""A twin: the simulator reading the open points the way a report observed a real target read them.

`tryon-mock --calibrate REPORT.json` serves it, so a client team develops against a mock that
answers where the documentation is silent as the service it will meet does. A twin is no
subclass: it is `Simulator` with the `Readings` a report's observations give, read from the
values the contract suite records beside its prose (compliance.json's "readings", see
`tryon_suite.suite.evidence.observed`), never from the prose. A point the report did not
observe, or one observed in a way the simulator cannot serve, is served the simulator's way and
named as such (`Calibration.uncalibrated`), never guessed; the balance endpoint is served only
where the report observed one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from tryon_suite.errors import ConfigError
from tryon_suite.http.clock import Clock
from tryon_suite.simulator.config import SimulatorConfig
from tryon_suite.simulator.core import Simulator
from tryon_suite.simulator.fetch import ImageFetcher
from tryon_suite.simulator.readings import BALANCE, COUNTER, OPENING, Readings
from tryon_suite.spec.images import RECOGNISED_FORMATS
from tryon_suite.spec.schemas import limit_profile

__all__ = ["CALIBRATED", "Calibration", "calibration_from", "load_calibration", "twin"]

#: the open points a twin reads from a report, and what it does with each
CALIBRATED: Final = {
    "tryon.open.location_form": "the 202's Location: an absolute URL, path, or relative",
    "tryon.open.retry_after": "a 429's Retry-After: seconds, an HTTP-date form, or none",
    "tryon.open.unknown_job_id": "the answer to a poll of an unknown job id",
    "tryon.open.other_account_job": "the answer to a poll of another account's job",
    "tryon.open.too_small_image": "the error code for an image under the minimum",
    "tryon.limits.formats": "whether JPEG, PNG and WEBP are accepted",
    "tryon.open.image_formats": "whether GIF, BMP, TIFF and ICO are accepted",
    "tryon.open.flat_image": "whether a single-colour image is processed",
    "tryon.open.file_size_unit": "25 MB read as 25,000,000 bytes or as 25 MiB (and 413)",
    "tryon.open.resolution_per_side": "the minimum per side, or as a pixel count",
    "tryon.open.image_url_unreachable": "the error code for an image URL answering 404",
    "tryon.open.extra_response_fields": "fields beyond the documented ones in JSON bodies",
    "tryon.open.credit_endpoint_shape": "whether GET /v1/credits is served, and its shape",
    "tryon.open.form_booleans": "which spellings of a form flag are taken (True, 1)",
    "tryon.open.unknown_request_fields": "whether a JSON field beyond the documented is ignored",
    "tryon.open.check_order": "whether the images are judged before a bad garment_mode",
    "tryon.open.async_validation": "a polled try-on with a bad image: 400 at once, or a failed job",
    "tryon.open.result_after_expiry": "an expired result: 404, or a CDN's 403 in XML",
    "tryon.open.job_error_codes": "the error_code of a job that fails in processing",
}
_FORMATS: Final = ("tryon.limits.formats", "tryon.open.image_formats")
#: a check order with the images judged before a bad garment_mode
_IMAGES_FIRST: Final = ("auth", "rate_limit", "body", "images", "garment_mode", "credits")


@dataclass(frozen=True)
class Calibration:
    """What a report calibrates: the readings a twin serves, and where each came from."""

    served: Readings = field(default_factory=Readings)
    #: from a load run's JSON: the sync time to result (median) and its spread
    processing_time: float | None = None
    processing_spread: float | None = None
    #: clause id -> the reading taken from the report, as observed (its prose, for people)
    readings: dict[str, str] = field(default_factory=dict)
    #: clause id -> why it is served the simulator's way
    uncalibrated: dict[str, str] = field(default_factory=dict)

    def configured(self, config: SimulatorConfig | None = None) -> SimulatorConfig:
        """`config` serving these readings (the report decides the Location form, whatever
        --location says) and, where a load run gave it, this processing time."""
        config = replace(config or SimulatorConfig(), readings=self.served, location=None)
        if self.processing_time is None:
            return config
        spread = self.processing_spread or 0.0
        return replace(config, processing_time=self.processing_time, processing_spread=spread)


def twin(
    calibration: Calibration,
    config: SimulatorConfig | None = None,
    clock: Clock | None = None,
    fetcher: ImageFetcher | None = None,
) -> Simulator:
    """The simulator with a calibration's readings: a twin of the target the report judged."""
    return Simulator(calibration.configured(config), clock, fetcher)


# -- from a clause's readings (its values merged, the first seen winning) to Readings fields --

Changes = dict[str, Any]
Reader = Callable[[Mapping[str, Any]], Changes | str]


def _one_of(name: str, allowed: tuple[str, ...], field_name: str) -> Reader:
    def read(seen: Mapping[str, Any]) -> Changes | str:
        value = seen.get(name)
        if value not in allowed:
            return f"{name} {value!r}: the twin serves only {', '.join(allowed)}"
        return {field_name: value}

    return read


def _refusal(field_name: str) -> Reader:
    """A poll's answer (status and error_code) as the twin gives it."""

    def read(seen: Mapping[str, Any]) -> Changes | str:
        status, code = seen.get("status"), seen.get("error_code")
        if not isinstance(status, int) or status < 400 or not isinstance(code, str):
            return f"answered {status} {code}: the twin refuses with a status and an error_code"
        return {field_name: (status, code)}

    return read


def _code(field_name: str) -> Reader:
    def read(seen: Mapping[str, Any]) -> Changes | str:
        code = seen.get("error_code")
        if seen.get("status") != 400 or not isinstance(code, str):
            return f"answered {seen.get('status')}: the twin refuses it with a 400"
        return {field_name: code}

    return read


def _taken(seen: Mapping[str, Any]) -> bool:
    status = seen.get("status")
    return isinstance(status, int) and status < 400


def _file_size(seen: Mapping[str, Any]) -> Changes:
    if _taken(seen):
        return {"megabyte": "MiB"}
    return {"megabyte": "MB", "upload_too_large_status": 413 if seen.get("status") == 413 else 400}


def _extra_fields(seen: Mapping[str, Any]) -> Changes:
    names = sorted({str(n) for listed in seen.values() if isinstance(listed, list) for n in listed})
    if not names:
        return {}
    return {"extra_fields": json.dumps({name: f"twin_{COUNTER}" for name in names})}


def _form_booleans(seen: Mapping[str, Any]) -> Changes:
    changes: Changes = {}
    for spelling, name in (("True", "form_flags_any_case"), ("1", "form_flags_digits")):
        if isinstance(seen.get(spelling), bool):
            changes[name] = seen[spelling]
    return changes


def _unknown_fields(seen: Mapping[str, Any]) -> Changes | str:
    if "status" not in seen:
        return "only image files sent as JSON fields were observed"
    return {"unknown_field_code": None if _taken(seen) else seen.get("error_code")}


def _check_order(seen: Mapping[str, Any]) -> Changes | str:
    code = seen.get("garment_mode_vs_image")
    if not isinstance(code, str):
        return "no request breaking two rules was observed"
    mode_first = code in ("invalid_parameter", "invalid_request_body")
    return {} if mode_first else {"check_order": _IMAGES_FIRST}


def _async(seen: Mapping[str, Any]) -> Changes | str:
    if seen.get("refused_at_once") is True:
        return {"async_validation": "refuse"}
    if seen.get("job_ended") == "failed":
        return {"async_validation": "fail_job"}
    return f"accepted, and the job ended {seen.get('job_ended')!r}: the twin fails it"


def _expired(seen: Mapping[str, Any]) -> Changes | str:
    status, kind = seen.get("status"), str(seen.get("content_type", ""))
    if status == 403 and "xml" in kind:
        return {"expired_result": "access_denied"}
    if status == 404:
        return {"expired_result": "not_found"}
    return f"answered {status} {kind}: the twin answers 404, or 403 in XML"


_READERS: Final[dict[str, Reader]] = {
    "tryon.open.location_form": _one_of("location", ("absolute", "path", "relative"), "location"),
    "tryon.open.retry_after": _one_of(
        "retry_after", ("seconds", "imf-fixdate", "rfc850", "asctime", "absent"), "retry_after"
    ),
    "tryon.open.unknown_job_id": _refusal("unknown_job"),
    "tryon.open.other_account_job": _refusal("foreign_job"),
    "tryon.open.too_small_image": _code("too_small_code"),
    "tryon.open.flat_image": lambda seen: {
        "flat_images": "processed" if seen.get("processed") else "refused"
    },
    "tryon.open.file_size_unit": _file_size,
    "tryon.open.resolution_per_side": lambda seen: {
        "resolution_bound": "pixels" if _taken(seen) else "side"
    },
    "tryon.open.image_url_unreachable": _code("unreachable_url_code"),
    "tryon.open.extra_response_fields": _extra_fields,
    "tryon.open.form_booleans": _form_booleans,
    "tryon.open.unknown_request_fields": _unknown_fields,
    "tryon.open.check_order": _check_order,
    "tryon.open.async_validation": _async,
    "tryon.open.result_after_expiry": _expired,
    "tryon.open.job_error_codes": lambda seen: (
        {"job_error_code": seen["error_code"]}
        if isinstance(seen.get("error_code"), str)
        else "a failed job without an error_code"
    ),
}


def _formats(seen: Mapping[str, Any]) -> Changes:
    """The formats taken: those observed accepted, and the limit profile's where unobserved."""
    ours = limit_profile().formats
    taken = tuple(f for f in RECOGNISED_FORMATS if seen.get(f, f in ours) is True)
    return {} if taken == ours else {"formats": taken}


def _balance(shape: object, extra: frozenset[str]) -> str | None:
    """A balance body of the observed shape, as JSON with BALANCE where a figure was seen (the
    opening balance under "total"), without the extra fields added to every answer; None where
    the shape holds no figure to serve the balance in."""

    def template(node: object, key: str = "") -> object:
        if isinstance(node, dict):
            return {k: template(v, k) for k, v in node.items() if k not in extra}
        if isinstance(node, list):
            return [template(v) for v in node]
        if node == "number":
            return OPENING if key == "total" else BALANCE
        return {"string": "twin", "boolean": True}.get(str(node))

    text = json.dumps(template(shape))
    if f'"{BALANCE}"' not in text:
        return None
    return text.replace(f'"{BALANCE}"', BALANCE).replace(f'"{OPENING}"', OPENING)


def calibration_from(report: dict[str, Any], load: dict[str, Any] | None = None) -> Calibration:
    """The readings of a compliance.json (and the processing time of a load.json)."""
    if not isinstance(report.get("clauses"), list):
        raise ConfigError("expected a compliance.json (an object with a list of clauses)")
    seen: dict[str, dict[str, Any]] = {}
    prose: dict[str, list[str]] = {}
    for clause in [*report.get("clauses", []), *report.get("open_points", [])]:
        clause_id = str(clause.get("id"))
        for value in clause.get("readings") or []:
            if isinstance(value, dict):
                merged = seen.setdefault(clause_id, {})
                for name, reading in value.items():
                    merged.setdefault(name, reading)
        texts = [str(t) for t in clause.get("observations") or []]
        prose[clause_id] = list(dict.fromkeys([*prose.get(clause_id, []), *texts]))
    changes: Changes = {}
    readings: dict[str, str] = {}
    uncalibrated: dict[str, str] = {}
    for clause_id in CALIBRATED:
        if clause_id not in seen:
            # a report from before observations carried values has their prose only
            how = "observed in prose only" if prose.get(clause_id) else "not observed"
            uncalibrated[clause_id] = f"{how} in the report: served the simulator's way"
            continue
        readings[clause_id] = "; ".join(prose[clause_id]) or json.dumps(seen[clause_id])
        if clause_id in _READERS:
            got = _READERS[clause_id](seen[clause_id])
            if isinstance(got, str):
                uncalibrated[clause_id] = f"{got}: served the simulator's way"
            else:
                changes.update(got)
    if any(c in seen for c in _FORMATS):
        changes.update(_formats({k: v for c in _FORMATS for k, v in seen.get(c, {}).items()}))
    changes["credits_body"] = _credits(seen, changes, uncalibrated)
    calibration = Calibration(Readings(**changes), None, None, readings, uncalibrated)
    ttr = (load or {}).get("summary", {}).get("modes", {}).get("sync", {}).get("ttr_s", {})
    if not ttr.get("p50"):
        return calibration
    p50 = float(ttr["p50"])
    spread = min(1.0, max(0.0, (float(ttr.get("p95", p50)) - p50) / p50))
    return replace(calibration, processing_time=p50, processing_spread=spread)


def _credits(seen: dict[str, dict[str, Any]], changes: Changes, why: dict[str, str]) -> str | None:
    """The balance body the twin serves: none where the report observed no balance endpoint."""
    clause_id = "tryon.open.credit_endpoint_shape"
    if clause_id not in seen:
        why[clause_id] = "not observed in the report: no balance endpoint served"
        return None
    extra = frozenset(json.loads(changes.get("extra_fields") or "{}"))
    body = _balance(seen[clause_id].get("shape"), extra)
    if body is None:
        why[clause_id] = "a shape with no figure in it: served as {credits}"
        return Readings().credits_body
    return body


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

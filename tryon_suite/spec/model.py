"""The contract's input space as data (`schemas/model.yaml`), and the cases derived from it.

Each partition of each dimension becomes one case per place it applies to (`over`: an image
and its path, an endpoint), the rest of the request held valid, so no dimension hides behind
another. What a case sends is built here from its partition alone; what it must get is the
partition's `expect`, judged by `checks.model`. Adding a partition adds its case.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import yaml

from tryon_suite.errors import ConfigError
from tryon_suite.spec.schemas import schema_dir

__all__ = [
    "CODE_SETS",
    "Case",
    "Expect",
    "Partition",
    "almost_keys",
    "cases",
    "load_partitions",
]

ExpectKind = Literal["refused", "like_plain", "method", "foreign", "refused_or_job_failed"]
#: A value of the wrong type: invalid_parameter by the letter of API.md; a server validating
#: the body as a whole may fairly say invalid_request_body.
WRONG_TYPE: Final = frozenset({"invalid_parameter", "invalid_request_body"})
#: The codes a reasonable server could give an image below the minimum (there is no
#: resolution_too_low): a bad parameter, an image it cannot use or take, a resolution out of
#: range. Not these: a missing parameter, a content type, a body, a file size.
TOO_SMALL: Final = frozenset(
    {
        "invalid_parameter",
        "malformed_image",
        "resolution_too_high",
        "unknown_foreground",
        "unsupported_image_format",
    }
)
#: Named sets of codes the documentation leaves to the server's reading (the Hypothesis
#: strategies use the same two).
CODE_SETS: Final[Mapping[str, frozenset[str]]] = {"WRONG_TYPE": WRONG_TYPE, "TOO_SMALL": TOO_SMALL}
_KINDS: Final = ("image", "form", "json", "key", "method")


@dataclass(frozen=True)
class Expect:
    """What a partition must be answered."""

    kind: ExpectKind
    status: int | None = None
    codes: frozenset[str] = frozenset()
    #: like_plain: the fixture the plain form sends, and codes a reasonable server may give
    plain: str | None = None
    or_codes: frozenset[str] = frozenset()
    #: method: the method a 405's Allow must name; HEAD answered as GET; OPTIONS
    allow: str | None = None
    head: bool = False
    options: str | None = None


@dataclass(frozen=True)
class Partition:
    dimension: str
    id: str
    clause: str
    kind: str
    expect: Expect
    over: tuple[str, ...]
    spec: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.dimension}: {self.id}"


@dataclass(frozen=True)
class Case:
    """One partition at one place (`slot`: 'person file', 'job', ...; '' where it has none)."""

    partition: Partition
    slot: str = ""

    @property
    def id(self) -> str:
        where = f" [{self.slot}]" if self.slot else ""
        return f"{self.partition.id}{where}"

    @property
    def clause(self) -> str:
        return self.partition.clause

    @property
    def needs_job(self) -> bool:
        """Whether the case asks about a job of the run key's (a purchase's)."""
        return "job" in (self.slot, self.partition.spec.get("endpoint"))

    @property
    def image(self) -> str:
        return self.slot.split()[0]

    @property
    def source(self) -> str:
        return self.slot.split()[1]


def _codes(value: object, where: str) -> frozenset[str]:
    if isinstance(value, str):
        if value not in CODE_SETS:
            raise ConfigError(
                f"{where}: expected codes or one of {sorted(CODE_SETS)}, got {value!r}"
            )
        return CODE_SETS[value]
    if isinstance(value, list) and all(isinstance(c, str) for c in value):
        return frozenset(value)
    raise ConfigError(f"{where}: expected a list of error codes, got {value!r}")


def _expect(raw: object, where: str) -> Expect:
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ConfigError(f"{where}: expected one of refused, like_plain, method, foreign")
    ((kind, spec),) = raw.items()
    spec = spec or {}
    if kind == "refused":
        return Expect("refused", int(spec["status"]), _codes(spec["codes"], where))
    if kind == "like_plain":
        return Expect(
            "like_plain", plain=spec.get("plain"), or_codes=_codes(spec.get("or_codes", []), where)
        )
    if kind == "method":
        return Expect(
            "method",
            allow=spec.get("allow"),
            head=bool(spec.get("head")),
            options=spec.get("options"),
        )
    if kind == "foreign":
        return Expect("foreign")
    if kind == "refused_or_job_failed":
        return Expect("refused_or_job_failed", 400, _codes(spec["codes"], where))
    raise ConfigError(f"{where}: expected refused, like_plain, method or foreign, got {kind!r}")


@functools.cache
def load_partitions() -> tuple[Partition, ...]:
    """Every partition of `schemas/model.yaml`, in its order; a malformed entry is a
    ConfigError naming it."""
    raw = yaml.safe_load((schema_dir() / "model.yaml").read_text(encoding="utf-8"))
    found: list[Partition] = []
    for dim in raw["dimensions"]:
        if dim.get("kind") not in _KINDS:
            raise ConfigError(f"model {dim.get('id')}: expected a kind among {_KINDS}")
        spread = int(dim.get("spread", 0))
        over = tuple(dim.get("over", ()))
        for n, part in enumerate(dim["partitions"]):
            where = f"model {dim['id']}: {part.get('id')}"
            mine = tuple(part.get("over", over))
            if spread and "over" not in part:
                mine = tuple(over[(n * spread + i) % len(over)] for i in range(spread))
            spec = {k: v for k, v in part.items() if k not in ("id", "clause", "expect", "over")}
            found.append(
                Partition(
                    dim["id"],
                    part["id"],
                    part["clause"],
                    dim["kind"],
                    _expect(part.get("expect"), where),
                    mine,
                    spec,
                )
            )
    return tuple(found)


def cases(partitions: Sequence[Partition] | None = None) -> list[Case]:
    """Each partition at each place it applies to."""
    chosen = load_partitions() if partitions is None else partitions
    return [Case(p, slot) for p in chosen for slot in (p.over or ("",))]


# -- keys that are almost right ----------------------------------------------------------------


def almost_keys(key: str) -> dict[str, str]:
    """The run key changed the ways a client gets one wrong: each is another key, so each must
    be refused. Empty where the change gives the key back (a key without letters has no other
    case)."""
    last = key[-1:]
    changed = key[:-1] + ("b" if last == "a" else "a") if key else "a"
    found = {
        "empty": "",
        "last_changed": changed,
        "shortened": key[:-1],
        "lengthened": key + "0",
        "swapped_case": key.swapcase(),
        "unknown": "tryon-suite-unknown-key-00000000",
    }
    return {k: v for k, v in found.items() if v != key}


# -- coverage: which partitions a run exercised -------------------------------------------------

#: The test that sends the model's cases, by its pytest name.
MODEL_TEST: Final = "test_each_partition_of_the_model_gets_its_answer"


def case_of(nodeid: str) -> str | None:
    """The case id a test's nodeid carries (None for another test)."""
    head = f"{MODEL_TEST}["
    if head not in nodeid or not nodeid.endswith("]"):
        return None
    return nodeid.split(head, 1)[1][:-1]


def coverage(outcomes: Sequence[tuple[str, str, str, str | None]]) -> dict[str, Any]:
    """Per clause, the model's cases this run exercised (an answer was judged: the test passed
    or failed) and those it did not, with why and its scope (`evidence.SCOPES`); `outcomes`
    are (nodeid, outcome, message, scope)."""
    seen = {
        cid: (outcome, message, scope)
        for nodeid, outcome, message, scope in outcomes
        if (cid := case_of(nodeid)) is not None
    }
    by_clause: dict[str, dict[str, list[Any]]] = {}
    exercised = 0
    for case in cases():
        row = by_clause.setdefault(case.clause, {"exercised": [], "not_exercised": []})
        outcome, message, scope = seen.get(case.id, ("not run", "not selected in this run", None))
        name = f"{case.partition.dimension}: {case.id}"
        if outcome in ("passed", "failed"):
            exercised += 1
            row["exercised"].append(name)
        else:
            why = message.removeprefix("not checked: ") or outcome
            row["not_exercised"].append({"case": name, "why": why, "scope": scope})
    return {
        "cases": len(cases()),
        "selected": len(seen),
        "exercised": exercised,
        "by_clause": by_clause,
    }


def coverage_line(summary: Mapping[str, Any]) -> str:
    """One console line: how much of the model the run exercised, and what it did not."""
    missing = [n for row in summary["by_clause"].values() for n in row["not_exercised"]]
    line = f"model: {summary['exercised']} of {summary['cases']} cases exercised"
    if missing:
        shown = "; ".join(f"{m['case']} ({m['why']})" for m in missing[:3])
        more = f"; and {len(missing) - 3} more in the report" if len(missing) > 3 else ""
        line += f"; not exercised: {shown}{more}"
    return line

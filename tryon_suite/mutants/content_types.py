"""Mutants that read request bodies, or label answers, as the wrong media type."""

from __future__ import annotations

from typing import Final

from tryon_suite.mutants._kit import Mutant, relabelled, variant
from tryon_suite.simulator.core import SimRequest, Simulator


class _GuessesJson(Simulator):
    def content_type(self, request: SimRequest) -> str | None:
        declared = super().content_type(request) or ""
        if not declared.startswith(("application/json", "multipart/form-data")):
            return "application/json"
        return declared


class _RefusesMultipart(Simulator):
    def content_type(self, request: SimRequest) -> str | None:
        declared = super().content_type(request)
        if declared is not None and declared.startswith("multipart/"):
            return "application/x-multipart"
        return declared


MUTANTS: Final = (
    Mutant(
        "guesses_content_type",
        "any content type is read as JSON",
        ("tryon.400.unsupported_content_type", "tryon.content_type.others_refused"),
        variant(_GuessesJson),
    ),
    Mutant(
        "answers_text_plain",
        "JSON answers labelled text/plain",
        ("tryon.content_type.json_answers",),
        relabelled(
            "text/plain",
            lambda request, response: response.headers.get("content-type") == "application/json",
        ),
    ),
    Mutant(
        "refuses_multipart",
        "multipart bodies are unsupported",
        ("tryon.content_type.multipart",),
        variant(_RefusesMultipart),
    ),
)

"""The Jinja environment of every report page (compliance, load, limiter, policies, diff,
self-test, the dashboard): templates from `report/templates/`, autoescaped."""

from __future__ import annotations

from jinja2 import Environment, PackageLoader, select_autoescape


def environment() -> Environment:
    return Environment(
        loader=PackageLoader("tryon_suite.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )

"""Root conftest: loads the tryon pytest plugin (options, markers, Hypothesis profiles)."""

from __future__ import annotations

pytest_plugins = ["tryon_suite.suite.plugin"]

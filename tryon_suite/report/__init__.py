"""The compliance report: one self-contained HTML page and the same data as JSON."""

from __future__ import annotations

from tryon_suite.report.render import render_report, report_data, write_report

__all__ = ["render_report", "report_data", "write_report"]

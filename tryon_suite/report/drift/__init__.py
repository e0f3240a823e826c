"""`tryon-suite diff OLD.json NEW.json`: what changed between two contract runs.

Clauses whose status moved, open points whose reading moved (volatile parts such as seconds,
ids, hosts and times set aside), status codes and response headers first or no longer seen in
the recorded exchanges, and, given two load.json files, time-to-result percentiles that moved
beyond a tolerance. A known-deviations file turns an accepted failure amber until its expiry.
The reports it reads were key-masked when written; it prints no request header at all.
"""

from __future__ import annotations

from tryon_suite.report.drift.compare import Change, ReportError, normalize_reading, path_template
from tryon_suite.report.drift.known import Deviation, read_known

__all__ = [
    "Change",
    "Deviation",
    "ReportError",
    "normalize_reading",
    "path_template",
    "read_known",
]

"""`tryon-suite limiter`: a target's rate limit measured, against API.md's "commonly 5/s".

Every probe is free: a try-on whose body lacks the images (400 when admitted, 429 when
limited) and a poll of a job that does not exist (404 when admitted). Within a request budget
it finds the burst (back to back from a full bucket), the sustained rate (paced above the
documented rate), whether `Retry-After` is honest (the request sent after waiting it is
admitted), whether polls count against the limit, and the time a full burst takes to come
back. What it could not measure it says, with the reason; it never makes a figure up.
"""

from __future__ import annotations

from tryon_suite.lab.limiter.phases import Measure, Settings, measure
from tryon_suite.lab.limiter.probes import Probe, Prober

__all__ = ["Measure", "Probe", "Prober", "Settings", "measure"]

"""Charts as the reports embed them: matplotlib without a display, each figure a PNG data URI,
so every report stays one self-contained file."""

from __future__ import annotations

import base64
import io
from typing import Any

__all__ = ["data_uri", "pyplot"]


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed), imported on first use: a
    run that draws nothing never pays for it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def data_uri(figure: Any) -> str:
    """The figure laid out, as a `data:image/png;base64,...` URI; the figure is closed."""
    plt = pyplot()
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()

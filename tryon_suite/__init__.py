"""tryon-suite: contract and load testing for Pixelcut's Try-On API, with a faithful simulator.

The public API (`__all__`, listed in `_api.py`) loads on first use: `import tryon_suite.X` for
one submodule (the simulator in a Locust run, say) costs that submodule's imports only, not
the checks, Hypothesis and pytest that the contract suite needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tryon_suite._api import *  # noqa: F403
    from tryon_suite._api import __all__ as __all__

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    api = importlib.import_module("tryon_suite._api")
    if name == "__all__" or name in api.__all__:
        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tryon_suite' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*importlib.import_module("tryon_suite._api").__all__, "__version__"])

"""The public names: everything in `__all__` exists and says where it lives."""

from __future__ import annotations

import tryon_suite


def test_all_exports_exist_and_are_sorted_by_kind() -> None:
    missing = [name for name in tryon_suite.__all__ if not hasattr(tryon_suite, name)]
    assert not missing, f"expected every name in __all__ importable, missing {missing}"
    assert len(set(tryon_suite.__all__)) == len(tryon_suite.__all__), "expected no duplicates"


def test_exported_members_come_from_the_package() -> None:
    foreign = [
        name
        for name in tryon_suite.__all__
        if not name.startswith("__")
        and hasattr(getattr(tryon_suite, name), "__module__")
        and not getattr(tryon_suite, name).__module__.startswith("tryon_suite")
    ]
    assert not foreign, f"expected only tryon_suite's own members, got {foreign}"

"""Lazy re-exports: a package names its public API without importing heavy modules up front."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Return the ``__getattr__`` and ``__dir__`` of a package that re-exports ``names``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    names : mapping
        Public name -> the module defining it; imported on first access, then cached in the
        package namespace.
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module protocol's name
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__

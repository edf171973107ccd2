"""Running a recipe end to end: stages, product cache, provenance manifest, progress."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "build": "geomap.pipeline.runner",
    "run_stages": "geomap.pipeline.runner",
    "write_outputs": "geomap.pipeline.runner",
    "BuildResult": "geomap.pipeline.runner",
    "build_packet": "geomap.pipeline.packet",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'geomap.pipeline' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

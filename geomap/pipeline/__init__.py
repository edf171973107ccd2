"""Running a recipe end to end: stages, product cache, provenance manifest, progress."""

from __future__ import annotations

from geomap._lazy import lazy_exports

_LAZY = {
    "build": "geomap.pipeline.runner",
    "run_stages": "geomap.pipeline.runner",
    "write_outputs": "geomap.pipeline.runner",
    "BuildResult": "geomap.pipeline.runner",
    "build_packet": "geomap.pipeline.packet",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

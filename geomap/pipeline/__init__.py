"""Running a recipe end to end: stages, study area, model stage, product cache, manifest, progress.

:func:`build` runs every stage and writes the output folder; :func:`model_region` is the model
stage as a plain call (study area, cell table, validation, prediction: a
:class:`ModelResult`); :func:`country_mask` is the study area of a region.
"""

from __future__ import annotations

from geomap._lazy import lazy_exports

_LAZY = {
    "build": "geomap.pipeline.runner",
    "BuildSettings": "geomap.pipeline.settings",
    "run_stages": "geomap.pipeline.runner",
    "write_outputs": "geomap.pipeline.runner",
    "BuildResult": "geomap.pipeline.runner",
    "build_packet": "geomap.pipeline.packet",
    "ModelResult": "geomap.pipeline.model_stage",
    "model_region": "geomap.pipeline.model_stage",
    "country_mask": "geomap.pipeline.study_area",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

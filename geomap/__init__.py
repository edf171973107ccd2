"""geomap: prospectivity maps for rare earth elements and other critical minerals.

The public API is importable from the top level; heavy dependencies are imported
only when the name is first used, so ``import geomap`` stays fast.

>>> import geomap
>>> geomap.load_catalog().dataset("natural-earth").license.spdx
'CC0-1.0'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geomap._lazy import lazy_exports
from geomap._version import __version__ as __version__

# public name -> module that defines it
_LAZY = {
    "load_catalog": "geomap.catalog",
    "fetch": "geomap.fetching",
    "verify": "geomap.fetching",
    "GeomapError": "geomap.errors",
    "read": "geomap.io",
    "to_region": "geomap.harmonize.crs",
    "read_occurrences": "geomap.io.occurrences",
    "select_targets": "geomap.targets",
    "WeightsOfEvidence": "geomap.models.wofe",
    "FuzzyOverlay": "geomap.models.fuzzy",
    "WeightedIndexOverlay": "geomap.models.fuzzy",
    "LogisticProspectivity": "geomap.models.ml",
    "RandomForestProspectivity": "geomap.models.ml",
    "GradientBoostingProspectivity": "geomap.models.ml",
    "cell_table": "geomap.models.raster",
    "predict_raster": "geomap.models.raster",
    "make_model": "geomap.models.registry",
    "model_region": "geomap.pipeline.model_stage",
    "spatial_cross_validate": "geomap.models.validate",
    "region_held_out": "geomap.models.validate",
    "ValidationReport": "geomap.models.validation_report",
    "region_grid": "geomap.grid",
    "rasterize": "geomap.grid",
    "reproject_to": "geomap.grid",
    "check_same_grid": "geomap.grid",
    "load_recipe": "geomap.recipes",
    "build_evidence": "geomap.recipes",
    "training_occurrences": "geomap.recipes",
    "MapBuilder": "geomap.render.maps",
    "MapPanel": "geomap.render.maps",
    "prospectivity_map": "geomap.render.maps",
    "joint_map": "geomap.render.maps",
    "save_map": "geomap.render.maps",
    "explore": "geomap.render.explore",
    "plot_prospectivity": "geomap.render.figures",
    "plot_validation_curves": "geomap.render.figures",
    "write_cog": "geomap.export.cog",
    "write_geopackage": "geomap.export.gpkg",
    "export_geopackage": "geomap.export.gpkg",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # re-exports for type checkers; resolved lazily at run time
    from geomap.catalog import load_catalog  # noqa: F401
    from geomap.errors import GeomapError  # noqa: F401
    from geomap.export.cog import write_cog  # noqa: F401
    from geomap.export.gpkg import export_geopackage, write_geopackage  # noqa: F401
    from geomap.fetching import fetch, verify  # noqa: F401
    from geomap.grid import (  # type: ignore[no-redef]  # noqa: F401
        check_same_grid,
        rasterize,
        region_grid,
        reproject_to,
    )
    from geomap.harmonize.crs import to_region  # noqa: F401
    from geomap.io import read  # noqa: F401
    from geomap.io.occurrences import read_occurrences  # noqa: F401
    from geomap.models.fuzzy import FuzzyOverlay, WeightedIndexOverlay  # noqa: F401
    from geomap.models.ml import (  # noqa: F401
        GradientBoostingProspectivity,
        LogisticProspectivity,
        RandomForestProspectivity,
    )
    from geomap.models.raster import cell_table, predict_raster  # noqa: F401
    from geomap.models.registry import make_model  # noqa: F401
    from geomap.models.validate import region_held_out, spatial_cross_validate  # noqa: F401
    from geomap.models.validation_report import ValidationReport  # noqa: F401
    from geomap.models.wofe import WeightsOfEvidence  # noqa: F401
    from geomap.pipeline.model_stage import model_region  # noqa: F401
    from geomap.recipes import build_evidence, load_recipe, training_occurrences  # noqa: F401
    from geomap.render.explore import explore  # noqa: F401
    from geomap.render.figures import plot_prospectivity, plot_validation_curves  # noqa: F401
    from geomap.render.maps import (  # noqa: F401
        MapBuilder,
        MapPanel,
        joint_map,
        prospectivity_map,
        save_map,
    )
    from geomap.targets import select_targets  # noqa: F401

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

"""geomap: prospectivity maps for rare earth elements and other critical minerals.

The public API is importable from the top level; heavy dependencies are imported
only when the name is first used, so ``import geomap`` stays fast.  The names are listed
once, in the ``TYPE_CHECKING`` block below (read by type checkers, and parsed into the lazy
table at run time by :func:`geomap._lazy.lazy_exports_from_stub_block`).

>>> import geomap
>>> geomap.load_catalog().dataset("natural-earth").license.spdx
'CC0-1.0'
>>> "build" in geomap.__all__ and geomap.build is geomap.pipeline.build
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from geomap._lazy import lazy_exports_from_stub_block
from geomap._version import __version__ as __version__

# The one list of top-level names, in the order of the flow.
if TYPE_CHECKING:
    from geomap.catalog import load_catalog as load_catalog
    from geomap.core.report import IngestReport as IngestReport
    from geomap.errors import GeomapError as GeomapError
    from geomap.evidence.geochem import sample_scores as sample_scores
    from geomap.export.cog import write_cog as write_cog
    from geomap.export.gpkg import export_geopackage as export_geopackage
    from geomap.export.gpkg import read_provenance as read_provenance
    from geomap.export.gpkg import write_geopackage as write_geopackage
    from geomap.fetching import fetch as fetch
    from geomap.fetching import file_sha256 as file_sha256
    from geomap.fetching import verify as verify
    from geomap.grid import check_same_grid as check_same_grid
    from geomap.grid import rasterize as rasterize  # type: ignore[no-redef]
    from geomap.grid import region_grid as region_grid
    from geomap.grid import reproject_to as reproject_to
    from geomap.harmonize.commodities import commodity_name as commodity_name
    from geomap.harmonize.commodities import expand_selector as expand_selector
    from geomap.harmonize.commodities import normalize_commodity as normalize_commodity
    from geomap.harmonize.crs import to_region as to_region
    from geomap.harmonize.occurrences import select_commodities as select_commodities
    from geomap.harmonize.occurrences import summarize_occurrences as summarize_occurrences
    from geomap.io import read as read
    from geomap.io.occurrences import read_occurrences as read_occurrences
    from geomap.models.fuzzy import FuzzyOverlay as FuzzyOverlay
    from geomap.models.fuzzy import WeightedIndexOverlay as WeightedIndexOverlay
    from geomap.models.ml import GradientBoostingProspectivity as GradientBoostingProspectivity
    from geomap.models.ml import LogisticProspectivity as LogisticProspectivity
    from geomap.models.ml import RandomForestProspectivity as RandomForestProspectivity
    from geomap.models.raster import cell_table as cell_table
    from geomap.models.raster import predict_raster as predict_raster
    from geomap.models.registry import make_model as make_model
    from geomap.models.validate import region_held_out as region_held_out
    from geomap.models.validate import spatial_cross_validate as spatial_cross_validate
    from geomap.models.validation_report import ValidationReport as ValidationReport
    from geomap.models.wofe import WeightsOfEvidence as WeightsOfEvidence
    from geomap.pipeline.model_stage import ModelResult as ModelResult
    from geomap.pipeline.model_stage import model_region as model_region
    from geomap.pipeline.packet import build_packet as build_packet
    from geomap.pipeline.runner import BuildResult as BuildResult
    from geomap.pipeline.runner import build as build
    from geomap.pipeline.settings import BuildSettings as BuildSettings
    from geomap.recipes import build_evidence as build_evidence
    from geomap.recipes import load_recipe as load_recipe
    from geomap.recipes import resolve_sources as resolve_sources
    from geomap.recipes import training_occurrences as training_occurrences
    from geomap.recipes import with_user_data as with_user_data
    from geomap.render.explore import explore as explore
    from geomap.render.figures import plot_prospectivity as plot_prospectivity
    from geomap.render.figures import plot_validation_curves as plot_validation_curves
    from geomap.render.maps import MapBuilder as MapBuilder
    from geomap.render.maps import MapPanel as MapPanel
    from geomap.render.maps import joint_map as joint_map
    from geomap.render.maps import prospectivity_map as prospectivity_map
    from geomap.render.maps import save_map as save_map
    from geomap.sources import format_overview as format_overview
    from geomap.sources import source_overview as source_overview
    from geomap.targets import select_targets as select_targets
    from geomap.training import audit_summary as audit_summary
    from geomap.training import training_audit as training_audit

__getattr__, __dir__ = lazy_exports_from_stub_block(__name__, __file__)

"""Harmonization: the common occurrence schema, vocabularies and CRS rules.

Names are resolved lazily so importing one vocabulary does not import the others.
"""

from __future__ import annotations

from geomap._lazy import lazy_exports

# public name -> defining module (each module owns one concern)
_LAZY: dict[str, str] = {
    "to_region": "geomap.harmonize.crs",
    "require_crs": "geomap.harmonize.crs",
    "require_same_crs": "geomap.harmonize.crs",
    "check_coordinates": "geomap.harmonize.crs",
    "region_polygon": "geomap.harmonize.crs",
    "CRSAccuracyWarning": "geomap.harmonize.crs",
    "clean_geometries": "geomap.harmonize.geometry",
    "classify_text": "geomap.harmonize.lithology",
    "lithology_classes": "geomap.harmonize.lithology",
    "lithology_code": "geomap.harmonize.lithology",
    "glim_to_lithology": "geomap.harmonize.lithology",
    "normalize_faults": "geomap.harmonize.faults",
    "normalize_commodity": "geomap.harmonize.commodities",
    "expand_selector": "geomap.harmonize.commodities",
    "supply_chains": "geomap.harmonize.commodities",
    "load_vocabulary": "geomap.harmonize.commodities",
    "validate_occurrences": "geomap.harmonize.occurrences",
    "select_commodities": "geomap.harmonize.occurrences",
    "summarize_occurrences": "geomap.harmonize.occurrences",
    "merge_duplicates": "geomap.harmonize.dedup",
    "link_duplicates": "geomap.harmonize.dedup",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)

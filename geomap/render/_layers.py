"""The layer specification shared by :class:`~geomap.render.maps.MapBuilder` and its renderer.

Plain data: the layer-control groups, the default look of each raster kind, the popup fields
of occurrences and faults, one collected layer (:class:`_Layer`) and one region's results
(:class:`MapPanel`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GROUPS", "MapPanel"]

GROUPS = {
    "model": "Model results",
    "evidence": "Evidence layers",
    "occurrences": "Known occurrences",
    "geology": "Geology and structure",
    "reference": "Boundaries and reference",
}
"""Layer-control groups of the HTML map: key -> heading."""

# raster kind -> (branca colormap, opacity, shown on opening, group, categorical)
_RASTER_KINDS: dict[str, tuple[str, float, bool, str, bool]] = {
    "prospectivity": ("viridis", 0.8, True, "model", False),
    "uncertainty": ("YlOrBr_09", 0.8, False, "model", False),
    "coverage": ("PuBu_09", 0.7, False, "model", True),
    "evidence": ("viridis", 0.75, False, "evidence", False),
}
_OCCURRENCE_FIELDS = (
    ("commodities", "Commodities"),
    ("deposit_type", "Deposit type"),
    ("deposit_class", "Deposit class"),
    ("deposit_class_rule", "Type rule (confidence)"),
    ("reason", "Training audit"),
    ("dataset_id", "Source dataset"),
    ("record_id", "Record id"),
    ("location", "Location"),
)
_FAULT_FIELDS = (
    "name",
    "fz_name",
    "slip_type",
    "slip_class",
    "average_dip",
    "average_rake",
    "net_slip_rate",
    "activity_confidence",
    "catalog_name",
    "reference",
    "dataset_id",
    "record_id",
)
_NAME_COLUMNS = ("name", "site_name", "nam", "NAME", "name_en", "fz_name", "label", "title")
_CLASS_COLUMNS = ("lithology_class", "lithology", "litho_class", "class", "unit", "map_unit")
_MAX_POPUP_FIELDS = 14
_MAX_LEGEND_CLASSES = 24


@dataclass
class _Layer:
    kind: str  # "raster" | "occurrences" | "vector"
    name: str
    group: str
    show: bool
    data: Any
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class MapPanel:
    """One region's results for :func:`joint_map` (each in its own analysis CRS).

    Parameters
    ----------
    label : str
        Shown in layer names and the zoom buttons, e.g. ``"United States"``.
    region : Region or str, optional
        Catalog region (or id): drawn as an outline; the map can zoom to it.
    prospectivity, uncertainty, coverage : DataArray, optional
        Model rasters.
    occurrences, faults, geology, targets : GeoDataFrame, optional
        Vector layers.
    boundaries : GeoDataFrame or mapping of name to GeoDataFrame, optional
        Extra boundary layers.
    evidence : mapping of str to DataArray, optional
        Evidence layers (hidden on opening; their values answer a click).
    """

    label: str
    region: Any = None
    prospectivity: Any = None
    uncertainty: Any = None
    coverage: Any = None
    occurrences: Any = None
    faults: Any = None
    geology: Any = None
    boundaries: Any = None
    targets: Any = None
    evidence: Any = None


def _named(value: Any, default: str) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [(str(k), v) for k, v in value.items() if v is not None]
    return [(default, value)]


def _first_column(frame: Any, candidates: Sequence[str]) -> str | None:
    columns = set(frame.columns)
    return next((c for c in candidates if c in columns), None)


def _evidence_name(name: str, data: Any) -> str:
    """Return an evidence layer's short name: its ``long_name``, or its name without ``_``.

    A ``long_name`` that still holds an identifier (``distance to carbonatite_distance``) or is
    too long for the layer list gives way to the humanized layer name.
    """
    long_name = str(getattr(data, "attrs", {}).get("long_name") or "")
    if long_name and len(long_name) <= 40 and "_" not in long_name:
        return long_name
    return name.replace("_", " ").capitalize()

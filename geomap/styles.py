"""Display styles shared by the HTML map, the figures and the GeoPackage's QGIS styles.

Pure data and small pure functions (no folium, no matplotlib), so writers such as
:mod:`geomap.export.gpkg` can style their layers exactly like the map.  These are display
conventions only: which colour a commodity group gets, not which commodities matter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = [
    "COLUMN_LABELS",
    "COMMODITY_GROUPS",
    "COMMODITY_GROUP_SHORT",
    "LAYER_STYLES",
    "OTHER_GROUP",
    "PROSPECTIVITY_CLASS_COLORS",
    "UNKNOWN_GROUP",
    "colormap_stops",
    "column_label",
    "commodity_group",
    "commodity_group_color",
    "human_number",
    "qualitative_color",
]

# display group -> (colour, commodity codes).  First matching group wins, in this order, so a
# site listing copper and rare earths is drawn as a rare-earth site: the critical minerals the
# maps are about come first.
COMMODITY_GROUPS: dict[str, tuple[str, frozenset[str]]] = {
    "Rare earth elements": (
        "#c00000",
        frozenset(
            "REE LREE HREE REO La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Y Sc".upper().split()
        ),
    ),
    "Niobium–tantalum": ("#c020c0", frozenset({"NB", "TA", "NB2O5", "TA2O5"})),
    "Lithium": ("#0000e0", frozenset({"LI", "LI2O", "LCE"})),
    "Battery metals (Co, Ni, Mn, graphite)": (
        "#004000",
        frozenset({"CO", "NI", "MN", "GRAPHITE", "GR", "C"}),
    ),
    "Tin–tungsten": ("#c08000", frozenset({"SN", "W", "WO3", "SNO2"})),
    "Uranium–thorium": ("#800040", frozenset({"U", "TH", "U3O8"})),
    "Platinum-group metals": ("#000080", frozenset({"PGE", "PGM", "PT", "PD", "RH", "IR", "RU"})),
    "Copper–molybdenum": ("#e080c0", frozenset({"CU", "MO"})),
    "Zinc–lead": ("#804020", frozenset({"ZN", "PB"})),
    "Gold–silver": ("#e0e080", frozenset({"AU", "AG"})),
    "Other critical minerals": (
        "#00e000",
        frozenset({"GA", "GE", "IN", "SB", "BI", "TE", "BE", "V", "CR", "TI", "ZR", "HF", "F"}),
    ),
}
OTHER_GROUP = ("Other commodities", "#0060e0")
"""Display group (name, colour) of sites whose commodities fall in no listed group."""
UNKNOWN_GROUP = ("Commodity not recorded", "#808040")
"""Display group (name, colour) of sites without a recorded commodity."""

# Short names of the commodity groups for layer names and legends (``"REE"``, ``"Cu–Mo"``).
COMMODITY_GROUP_SHORT: dict[str, str] = {
    "Rare earth elements": "REE",
    "Niobium–tantalum": "Nb–Ta",
    "Lithium": "Li",
    "Battery metals (Co, Ni, Mn, graphite)": "Co–Ni–Mn–graphite",
    "Tin–tungsten": "Sn–W",
    "Uranium–thorium": "U–Th",
    "Platinum-group metals": "PGM",
    "Copper–molybdenum": "Cu–Mo",
    "Zinc–lead": "Zn–Pb",
    "Gold–silver": "Au–Ag",
    "Other critical minerals": "Other critical",
    "Other commodities": "Other",
    "Commodity not recorded": "Not recorded",
}

# Prospectivity classes by share of the study area (geomap.classes): top 1 % ... rest.
# Viridis steps for the five top classes (colour-blind safe, light = most prospective) and a
# warm light grey for the rest: darker than the map's background, so it does not read as
# "no data", and quiet, so the eye goes to the top of the ranking.
PROSPECTIVITY_CLASS_COLORS: tuple[str, ...] = (
    "#fde725",
    "#7ad151",
    "#22a884",
    "#2a788e",
    "#414487",
    "#c8c8bc",
)
# sequential ramps of the other model rasters (branca names), distinct from the classes
UNCERTAINTY_COLORMAP = "YlOrBr_09"
COVERAGE_COLORMAP = "PuBu_09"
EVIDENCE_COLORMAP = "viridis"
TRAINING_SITE_COLOR = "#ffffff"

# layer kind -> stroke/fill style used by the map and the GeoPackage's QGIS styles.  Kinds are
# told apart by colour and by symbol: targets are black outlines, faults grey lines,
# occurrences filled circles, training sites white rings; the region outline is dashed.
LAYER_STYLES: dict[str, dict[str, object]] = {
    "fault": {"color": "#7f7f7f", "weight": 1.3, "opacity": 0.9},
    "boundary": {"color": "#444444", "weight": 1.0, "opacity": 0.8, "fill": False},
    "region": {
        "color": "#000000",
        "weight": 2.0,
        "opacity": 0.9,
        "fill": False,
        "dashArray": "6 4",
        # outlines of whole regions and countries do not catch clicks: a click inside them
        # reads the layers' values at that point instead of opening the outline's popup
        "interactive": False,
    },
    "coastline": {"color": "#5b7fa6", "weight": 0.8, "opacity": 0.9},
    "country": {
        "color": "#888888",
        "weight": 0.8,
        "opacity": 0.9,
        "fill": False,
        "interactive": False,
    },
    "target": {
        "color": "#111111",
        "weight": 2.5,
        "opacity": 1.0,
        "fillColor": "#111111",
        "fillOpacity": 0.05,
    },
    "training": {
        "color": "#111111",
        "weight": 1.5,
        "opacity": 1.0,
        "fillColor": TRAINING_SITE_COLOR,
        "fillOpacity": 1.0,
    },
    "geology": {"color": "#666666", "weight": 0.3, "opacity": 0.6, "fillOpacity": 0.45},
    "sample": {
        "color": "#3f007d",
        "weight": 1.0,
        "opacity": 0.9,
        "fillColor": "#9e9ac8",
        "fillOpacity": 0.85,
    },
}

# a qualitative palette (Tableau-like 20) for categorical layers such as lithology classes
_QUALITATIVE = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#a0cbe8",
    "#ffbe7d",
    "#ff9d9a",
    "#86bcb6",
    "#8cd17d",
    "#f1ce63",
    "#d4a6c8",
    "#fabfd2",
    "#d7b5a6",
    "#79706e",
]


def _codes(commodities: object) -> list[str]:
    if commodities is None or (isinstance(commodities, float) and math.isnan(commodities)):
        return []
    if isinstance(commodities, str):
        parts: Iterable[object] = commodities.replace(",", ";").split(";")
    elif isinstance(commodities, Iterable):
        parts = commodities
    else:
        parts = [commodities]
    return [str(p).strip().upper() for p in parts if str(p).strip()]


def commodity_group(commodities: object) -> str:
    """Return the display group of a site from its commodity codes.

    Parameters
    ----------
    commodities : str or sequence of str
        Codes joined by ``;`` (the common occurrence schema) or a list of codes.

    Returns
    -------
    str
        A key of :data:`COMMODITY_GROUPS`, or the names of :data:`OTHER_GROUP` /
        :data:`UNKNOWN_GROUP`.

    Examples
    --------
    >>> commodity_group("Cu;Nd;Au")
    'Rare earth elements'
    >>> commodity_group("Zn;Pb")
    'Zinc–lead'
    >>> commodity_group("")
    'Commodity not recorded'
    """
    codes = _codes(commodities)
    if not codes:
        return UNKNOWN_GROUP[0]
    present = set(codes)
    for name, (_colour, members) in COMMODITY_GROUPS.items():
        if present & members:
            return name
    return OTHER_GROUP[0]


def commodity_group_color(group: str) -> str:
    """Return the colour of a commodity display group."""
    if group in COMMODITY_GROUPS:
        return COMMODITY_GROUPS[group][0]
    if group == UNKNOWN_GROUP[0]:
        return UNKNOWN_GROUP[1]
    return OTHER_GROUP[1]


def qualitative_color(index: int) -> str:
    """Return the ``index``-th colour of a 20-colour qualitative palette (cycling)."""
    return _QUALITATIVE[index % len(_QUALITATIVE)]


def colormap_stops(name: str, n: int = 256) -> list[tuple[int, int, int]]:
    """Return ``n`` RGB colours sampled evenly from a branca linear colormap.

    Parameters
    ----------
    name : str
        A colormap of ``branca.colormap.linear`` (e.g. ``"viridis"``, ``"YlOrRd_09"``).
    n : int, default 256
        How many colours.

    Returns
    -------
    list of (int, int, int)
    """
    from branca.colormap import linear

    cmap = getattr(linear, name)
    out = []
    for i in range(n):
        r, g, b, _a = cmap.rgba_floats_tuple(cmap.vmin + (cmap.vmax - cmap.vmin) * i / (n - 1))
        out.append((round(r * 255), round(g * 255), round(b * 255)))
    return out


def categorical_colors(values: Sequence[object]) -> dict[str, str]:
    """Map each distinct value (sorted as text) to a qualitative colour."""
    names = sorted({str(v) for v in values})
    return {name: qualitative_color(i) for i, name in enumerate(names)}


# column -> human label (with units) for popups, tables and the packet
COLUMN_LABELS: dict[str, str] = {
    "target_id": "Target",
    "rank": "Rank",
    "area_km2": "Area (km²)",
    "mean_prospectivity": "Mean prospectivity",
    "max_prospectivity": "Highest prospectivity",
    "mean_uncertainty": "Mean uncertainty (±)",
    "mean_coverage": "Evidence layers with data (mean)",
    "coverage_fraction": "Share of cells with full evidence",
    "n_occurrences": "Known occurrences inside",
    "occurrences": "Occurrences inside",
    "nearest_occurrence": "Nearest occurrence",
    "nearest_occurrence_km": "Distance to nearest occurrence (km)",
    "commodities": "Commodities",
    "supply_chains": "Supply chains",
    "country": "Country",
    "state": "State / prefecture",
    "centroid_lon": "Centroid longitude",
    "centroid_lat": "Centroid latitude",
    "region": "Region id",
    "region_name": "Region",
    "recipe": "Recipe",
    "mineral_system": "Mineral system",
    "model": "Model",
    "resolution_km": "Cell size (km)",
    "held_out_auc": "Held-out AUC",
    "n_training_occurrences": "Training occurrences",
    "n_targets": "Targets",
    "target_area_km2": "Target area (km²)",
    "top_targets": "Top targets",
    "prov_name": "Province",
    "prov_type": "Province type",
    "crust_type": "Crust type",
    "lithology": "Dominant lithology",
    "lithology_label": "Dominant lithology",
    "area": "Area (km²)",
    "deposit_type": "Deposit type",
    "deposit_class": "Deposit class",
    "dataset_id": "Source dataset",
    "record_id": "Record id",
    "training": "Used to train the model",
}


def column_label(column: str) -> str:
    """Return a human label for a column name (``"area_km2"`` -> ``"Area (km²)"``).

    Examples
    --------
    >>> column_label("mean_coverage"), column_label("slip_type")
    ('Evidence layers with data (mean)', 'Slip type')
    """
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    text = column.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def human_number(value: float, *, digits: int = 3) -> str:
    """Format a number as people write it: ``28,700``, ``4.5``, ``0.0432`` (never ``2.87e+04``).

    Examples
    --------
    >>> human_number(28700.0), human_number(0.7774297363707986), human_number(1234567.8)
    ('28,700', '0.777', '1,234,568')
    >>> human_number(0.000271), human_number(12.0)
    ('0.000271', '12')
    """
    value = float(value)
    if not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 10 ** (digits - 1):
        return f"{value:,.0f}"
    if magnitude < 1e-6:
        return f"{value:.{digits - 1}e}"
    rounded = float(f"{value:.{digits}g}")
    text = f"{rounded:.10f}".rstrip("0").rstrip(".")
    return text


MAX_DISPLAY_TEXT = 400
"""Longest text shown in a popup or a field file; longer text is cut with an ellipsis."""


def display_text(value: Any) -> str | None:
    """Return a value as popup text: ``None`` for missing, numbers to 4 significant digits.

    Examples
    --------
    >>> display_text(3.14159265), display_text(float("nan")), display_text(["Cu", "Au"])
    ('3.142', None, 'Cu; Au')
    """
    import datetime as _dt

    import numpy as np

    if value is None:
        return None
    if isinstance(value, float | np.floating):
        if not math.isfinite(float(value)):
            return None
        return human_number(float(value), digits=4)
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}" if abs(int(value)) >= 10_000 else str(int(value))
    if isinstance(value, list | tuple | np.ndarray):
        parts = [display_text(v) for v in value]
        return "; ".join(p for p in parts if p) or None
    if isinstance(value, _dt.date | np.datetime64):
        return str(value)
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    text = str(value).strip()
    if not text:
        return None
    return text if len(text) <= MAX_DISPLAY_TEXT else text[: MAX_DISPLAY_TEXT - 1] + "…"

"""Display styles shared by the HTML map, the figures and the GeoPackage's QGIS styles.

Pure data and small pure functions (no folium, no matplotlib), so writers such as
:mod:`geomap.export.gpkg` can style their layers exactly like the map.  These are display
conventions only: which colour a commodity group gets, not which commodities matter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = [
    "COMMODITY_GROUPS",
    "LAYER_STYLES",
    "OTHER_GROUP",
    "UNKNOWN_GROUP",
    "colormap_stops",
    "commodity_group",
    "commodity_group_color",
    "qualitative_color",
]

# display group -> (colour, commodity codes).  First matching group wins, in this order, so a
# site listing copper and rare earths is drawn as a rare-earth site: the critical minerals the
# maps are about come first.
COMMODITY_GROUPS: dict[str, tuple[str, frozenset[str]]] = {
    "Rare earth elements": (
        "#d62728",
        frozenset(
            "REE LREE HREE REO La Ce Pr Nd Pm Sm Eu Gd Tb Dy Ho Er Tm Yb Lu Y Sc".upper().split()
        ),
    ),
    "Niobium–tantalum": ("#9467bd", frozenset({"NB", "TA", "NB2O5", "TA2O5"})),
    "Lithium": ("#17becf", frozenset({"LI", "LI2O", "LCE"})),
    "Battery metals (Co, Ni, Mn, graphite)": (
        "#2ca02c",
        frozenset({"CO", "NI", "MN", "GRAPHITE", "GR", "C"}),
    ),
    "Tin–tungsten": ("#8c564b", frozenset({"SN", "W", "WO3", "SNO2"})),
    "Uranium–thorium": ("#bcbd22", frozenset({"U", "TH", "U3O8"})),
    "Platinum-group metals": ("#7f7f7f", frozenset({"PGE", "PGM", "PT", "PD", "RH", "IR", "RU"})),
    "Copper–molybdenum": ("#ff7f0e", frozenset({"CU", "MO"})),
    "Zinc–lead": ("#1f77b4", frozenset({"ZN", "PB"})),
    "Gold–silver": ("#e6ab02", frozenset({"AU", "AG"})),
    "Other critical minerals": (
        "#e377c2",
        frozenset({"GA", "GE", "IN", "SB", "BI", "TE", "BE", "V", "CR", "TI", "ZR", "HF", "F"}),
    ),
}
OTHER_GROUP = ("Other commodities", "#555555")
"""Display group (name, colour) of sites whose commodities fall in no listed group."""
UNKNOWN_GROUP = ("Commodity not recorded", "#aaaaaa")
"""Display group (name, colour) of sites without a recorded commodity."""

# layer kind -> stroke/fill style used by the map and the GeoPackage's QGIS styles
LAYER_STYLES: dict[str, dict[str, object]] = {
    "fault": {"color": "#b2182b", "weight": 1.4, "opacity": 0.9},
    "boundary": {"color": "#444444", "weight": 1.0, "opacity": 0.8, "fill": False},
    "region": {
        "color": "#000000",
        "weight": 2.0,
        "opacity": 0.9,
        "fill": False,
        "dashArray": "6 4",
    },
    "coastline": {"color": "#5b7fa6", "weight": 0.8, "opacity": 0.9},
    "country": {"color": "#888888", "weight": 0.8, "opacity": 0.9, "fill": False},
    "target": {
        "color": "#d7191c",
        "weight": 2.0,
        "opacity": 1.0,
        "fillColor": "#fdae61",
        "fillOpacity": 0.35,
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

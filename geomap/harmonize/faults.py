"""Normalize fault attributes: slip-type vocabulary and numeric tuples.

The GEM Global Active Faults database stores slip type as free text
(``"Dextral-reverse"``, ``"Strike Slip"``, ``"Reverse strike-slip"``, ...) and
dips, rakes, slip rates and ages as strings of tuples ``"(preferred,min,max)"``
with any element possibly empty (``"(,,90)"``), or as a bare number (``"85.0"``).

:func:`normalize_faults` adds

* ``slip_type``: a controlled term, dominant sense first (``normal``,
  ``reverse``, ``thrust``, ``dextral``, ``sinistral``, ``strike_slip``,
  ``dextral_normal``, ``normal_dextral``, ``reverse_strike_slip``, ...,
  ``anticline``, ``syncline``, ``unknown``), with the source text kept in
  ``slip_type_source``;
* ``slip_class``: ``normal``, ``reverse``, ``strike_slip``, ``oblique``,
  ``fold`` or ``unknown`` (dominant kinematics, for evidence layers);
* for each tuple field ``F``: float columns ``F`` (preferred), ``F_min`` and
  ``F_max``; a minimum larger than the maximum is swapped (counted);
* ``dip_dir_deg`` and ``downthrown_side_deg``: compass words or degrees as
  azimuths 0–360 (``VERTICAL`` -> NaN, counted).

Every value that cannot be parsed becomes NaN and is counted in the report,
with examples.

>>> from geomap.harmonize.faults import parse_tuple, normalize_slip_type
>>> parse_tuple("(50,35,70)"), parse_tuple("(,,90)"), parse_tuple("85.0")
((50.0, 35.0, 70.0), (nan, nan, 90.0), (85.0, nan, nan))
>>> normalize_slip_type("Strike Slip"), normalize_slip_type("Dextral-reverse")
('strike_slip', 'dextral_reverse')
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import geopandas as gpd

    from geomap.core.report import IngestReport

__all__ = [
    "COMPASS",
    "SLIP_CLASSES",
    "TUPLE_FIELDS",
    "compass_to_degrees",
    "normalize_faults",
    "normalize_slip_type",
    "parse_tuple",
    "slip_class",
]

TUPLE_FIELDS = (
    "average_dip",
    "average_rake",
    "net_slip_rate",
    "vert_slip_rate",
    "shortening_rate",
    "strike_slip_rate",
    "last_movement",
)
"""GEM attributes stored as ``"(preferred,min,max)"`` strings."""

COMPASS = {
    name: 22.5 * i
    for i, name in enumerate(
        "N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW".split()  # noqa: SIM905
    )
}
"""Compass words to azimuth degrees."""

_SENSES = {
    "normal": "normal",
    "reverse": "reverse",
    "thrust": "thrust",
    "blind thrust": "thrust",
    "dextral": "dextral",
    "sinistral": "sinistral",
    "strike slip": "strike_slip",
    "strikeslip": "strike_slip",
    "anticline": "anticline",
    "syncline": "syncline",
}
_FOLDS = {"anticline", "syncline"}
_HORIZONTAL = {"dextral", "sinistral", "strike_slip"}
_VERTICAL = {"normal", "reverse", "thrust"}

SLIP_CLASSES = ("normal", "reverse", "strike_slip", "oblique", "fold", "unknown")
"""Coarse kinematic classes of :func:`slip_class`."""

_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def parse_tuple(value: Any) -> tuple[float, float, float] | None:
    """Parse ``"(preferred,min,max)"`` (elements may be empty) or a bare number.

    Returns
    -------
    tuple of 3 floats (NaN where empty), or None when the text is not such a tuple.
    """
    nan = math.nan
    if _missing(value):
        return (nan, nan, nan)
    if isinstance(value, int | float):
        return (float(value), nan, nan)
    text = str(value).strip()
    if not text:
        return (nan, nan, nan)
    inner = text.lstrip("(").rstrip(")")
    parts = [p.strip() for p in inner.split(",")]
    if len(parts) == 1:
        parts += ["", ""]
    if len(parts) != 3 or not all(p == "" or _NUMBER.match(p) for p in parts):
        return None
    preferred, low, high = (float(p) if p else nan for p in parts)
    return (preferred, low, high)


def normalize_slip_type(value: Any) -> str:
    """Map GEM slip-type text to the controlled vocabulary (dominant sense first)."""
    if _missing(value):
        return "unknown"
    text = re.sub(r"[\s_]+", " ", str(value).strip().lower())
    if not text:
        return "unknown"
    text = text.replace("strike-slip", "strike slip").replace("strike slip", "strike_slip")
    tokens = [t for t in re.split(r"[-\s]+", text) if t]
    senses: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "blind" and i + 1 < len(tokens) and tokens[i + 1] == "thrust":
            senses.append("thrust")
            i += 2
            continue
        sense = _SENSES.get(token.replace("_", " "))
        if sense is None:
            return "unknown"
        if sense not in senses:
            senses.append(sense)
        i += 1
    if not senses or len(senses) > 2:
        return "unknown"
    return "_".join(senses)


def slip_class(slip_type: str) -> str:
    """Coarse kinematic class of a controlled slip type (``oblique`` for two senses)."""
    if not slip_type or slip_type == "unknown":
        return "unknown"
    if slip_type in _FOLDS:
        return "fold"
    senses = _split_senses(slip_type)
    if len(senses) > 1:
        return "oblique"
    if senses[0] in _HORIZONTAL:
        return "strike_slip"
    return "normal" if senses[0] == "normal" else "reverse"


def _split_senses(slip_type: str) -> list[str]:
    out = []
    rest = slip_type
    while rest:
        if rest.startswith("strike_slip"):
            out.append("strike_slip")
            rest = rest[len("strike_slip") :].lstrip("_")
            continue
        head, _, rest = rest.partition("_")
        out.append(head)
    return out


def compass_to_degrees(value: Any) -> float | None:
    """Return an azimuth in degrees from a compass word or a number.

    NaN for ``VERTICAL`` or empty values, None when the text cannot be parsed.
    """
    if _missing(value):
        return math.nan
    text = str(value).strip().upper()
    if not text or text == "VERTICAL":
        return math.nan
    if text in COMPASS:
        return COMPASS[text]
    if _NUMBER.match(text):
        return float(text) % 360.0
    return None


def normalize_faults(gdf: gpd.GeoDataFrame, report: IngestReport) -> gpd.GeoDataFrame:
    """Return a copy of a GEM fault layer with normalized, typed attributes.

    Parameters
    ----------
    gdf : GeoDataFrame
        GEM fault traces with their source attributes.
    report : IngestReport
        Receives counts of normalized, swapped and unparsable values, and the
        slip-type texts that map to ``unknown`` (``report.unmapped``).

    Returns
    -------
    GeoDataFrame
        With the columns described in the module docstring; source text
        columns for tuple fields are replaced by their numeric columns.
    """
    out = gdf.copy()
    if "slip_type" in out.columns:
        source = out["slip_type"]
        normalized = [normalize_slip_type(v) for v in source]
        present = [not _missing(raw) and bool(str(raw).strip()) for raw in source]
        for raw, norm, has in zip(source, normalized, present, strict=True):
            if norm == "unknown" and has:
                report.unmapped[str(raw)] += 1
        out["slip_type_source"] = source.astype("string")
        out["slip_type"] = normalized
        out["slip_class"] = [slip_class(v) for v in normalized]
        changed = sum(
            1 for raw, n, has in zip(source, normalized, present, strict=True) if has and raw != n
        )
        report.normalize("slip_type text mapped to the controlled vocabulary", changed)
    for name in TUPLE_FIELDS:
        if name not in out.columns:
            continue
        values = out[name].to_list()
        parsed = np.full((len(values), 3), np.nan)
        bad: list[str] = []
        for i, value in enumerate(values):
            triple = parse_tuple(value)
            if triple is None:
                bad.append(str(value))
                continue
            parsed[i] = triple
        swapped = parsed[:, 1] > parsed[:, 2]
        if swapped.any():
            parsed[swapped, 1], parsed[swapped, 2] = parsed[swapped, 2], parsed[swapped, 1].copy()
            report.normalize(f"{name}: min > max swapped", int(swapped.sum()))
        outside = (parsed[:, 0] < parsed[:, 1]) | (parsed[:, 0] > parsed[:, 2])
        if outside.any():
            report.notes.append(
                f"{name}: {int(outside.sum())} preferred values lie outside their [min, max] "
                "(kept as given)"
            )
        if bad:
            report.drop(f"{name}: unparsable value set to NaN", len(bad))
            report.notes.append(f"{name} unparsable examples: {sorted(set(bad))[:5]}")
        parsed_count = int(np.isfinite(parsed).any(axis=1).sum())
        report.normalize(f"{name}: tuple text parsed to numbers", parsed_count)
        out[name] = parsed[:, 0]
        out[f"{name}_min"] = parsed[:, 1]
        out[f"{name}_max"] = parsed[:, 2]
    for name, target in (
        ("dip_dir", "dip_dir_deg"),
        ("downthrown_side_dir", "downthrown_side_deg"),
    ):
        if name not in out.columns:
            continue
        degrees = []
        unparsable = []
        vertical = 0
        for value in out[name]:
            deg = compass_to_degrees(value)
            if deg is None:
                unparsable.append(str(value))
                deg = math.nan
            elif not _missing(value) and str(value).strip().upper() == "VERTICAL":
                vertical += 1
            degrees.append(deg)
        out[target] = np.asarray(degrees, dtype="float64")
        if vertical:
            report.normalize(f"{name}: 'VERTICAL' recorded as NaN azimuth", vertical)
        if unparsable:
            report.drop(f"{name}: unparsable value set to NaN", len(unparsable))
            report.notes.append(f"{name} unparsable examples: {sorted(set(unparsable))[:5]}")
    for name in ("accuracy", "activity_confidence", "epistemic_quality", "exposure_quality"):
        if name in out.columns:
            numbers = [parse_tuple(v) for v in out[name]]
            bad_count = sum(1 for t in numbers if t is None)
            if bad_count:
                report.drop(f"{name}: unparsable value set to NaN", bad_count)
            out[name] = np.array(
                [t[0] if t is not None else math.nan for t in numbers], dtype="float64"
            )
    return out

"""Vectors for web maps: lon/lat for Leaflet, generalised for display, values as display text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from geomap.errors import CRSError, DataError
from geomap.styles import display_text

__all__ = ["display_text", "feature_collection", "to_display_lonlat"]

DISPLAY_CRS = "OGC:CRS84"  # lon/lat axis order, as GeoJSON and Leaflet's GeoJSON layer expect


def to_display_lonlat(
    frame: Any,
    *,
    what: str,
    notes: list[str],
    shift_east: bool = False,
    tolerance: float | None = None,
    precision: int = 4,
) -> Any:
    """Return ``frame`` in lon/lat with valid, simplified, rounded geometries for display.

    Null and empty geometries are dropped and counted in ``notes``.  With ``shift_east``,
    longitudes west of 0 are moved by +360 so features near the antimeridian stay continuous.
    """
    import shapely

    if getattr(frame, "crs", None) is None:
        raise CRSError(
            f"the {what} layer has no CRS; set it with .set_crs() (geomap never assumes EPSG:4326)"
        )
    geometry = frame.geometry
    missing = geometry.isna() | geometry.is_empty
    if missing.any():
        notes.append(f"{what}: {int(missing.sum())} feature(s) without geometry not drawn")
        frame = frame[~missing.to_numpy()]
    out = frame.to_crs(DISPLAY_CRS)
    geoms = out.geometry.to_numpy()
    coords = shapely.get_coordinates(geoms)
    if len(coords) and not np.isfinite(coords).all():
        raise CRSError(
            f"the {what} layer has coordinates that do not transform to lon/lat "
            f"(CRS {frame.crs.to_string()}); check its CRS"
        )
    polygonal = shapely.get_type_id(geoms) >= 3
    if polygonal.any():
        invalid = polygonal & ~shapely.is_valid(geoms)
        if invalid.any():
            geoms = geoms.copy()
            geoms[invalid] = shapely.make_valid(geoms[invalid])
    if shift_east:
        geoms = shapely.transform(
            geoms,
            lambda xy: np.column_stack(
                [np.where(xy[:, 0] < 0, xy[:, 0] + 360, xy[:, 0]), xy[:, 1]]
            ),
        )
    if tolerance:
        geoms = shapely.simplify(geoms, tolerance, preserve_topology=True)
    factor = 10.0**precision
    geoms = shapely.transform(geoms, lambda xy: np.round(xy * factor) / factor)
    keep = ~(shapely.is_empty(geoms) | shapely.is_missing(geoms))
    out = out.set_geometry(geoms, crs=DISPLAY_CRS)
    return out[keep]


def feature_collection(
    frame: Any, fields: Sequence[str], *, extra: dict[str, Sequence[Any]] | None = None
) -> dict[str, Any]:
    """Return a GeoJSON FeatureCollection with ``fields`` (and ``extra``) as display text."""
    import shapely

    if frame.crs is None or frame.crs.to_string() not in (DISPLAY_CRS, "EPSG:4326"):
        raise DataError("feature_collection needs a lon/lat frame from to_display_lonlat()")
    columns = {f: [display_text(v) for v in frame[f].tolist()] for f in fields}
    if extra:
        columns.update({k: list(v) for k, v in extra.items()})
    geometries = shapely.to_geojson(frame.geometry.to_numpy())
    import json

    features = []
    for i, geometry in enumerate(geometries):
        if geometry is None:
            continue
        properties = {k: v[i] for k, v in columns.items() if v[i] is not None}
        features.append(
            {"type": "Feature", "geometry": json.loads(geometry), "properties": properties}
        )
    return {"type": "FeatureCollection", "features": features}


def lonlat_bounds(frame: Any) -> tuple[float, float, float, float] | None:
    """``(west, south, east, north)`` of a lon/lat frame, or ``None`` when empty."""
    if not len(frame):
        return None
    west, south, east, north = (float(v) for v in frame.total_bounds)
    return west, south, east, north

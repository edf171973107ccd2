"""Regions and the antimeridian: a region's box in a continuous longitude frame.

Longitudes are expressed in the 360-degree window centred on the region, so boxes
and geometries that cross the antimeridian (Alaska, the Pacific) stay continuous
instead of spanning the globe.  Used by :func:`geomap.harmonize.to_region`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pyproj
import shapely

if TYPE_CHECKING:
    from geomap.catalog import Region

__all__ = ["region_polygon"]


def _resolve_region(region: Region | str, catalog: Any = None) -> Region:
    if isinstance(region, str):
        from geomap.catalog import load_catalog

        return (catalog or load_catalog()).region(region)
    return region


def _frame(region: Region) -> tuple[float, float, float, float, float]:
    """Region box in a continuous longitude frame: (west, south, east, north, frame_west).

    ``east`` may exceed 180 (Alaska: 172..231); ``frame_west`` is the start of the
    360° window centred on the region, in which every longitude is expressed.
    """
    west, south, east, north = region.bbox
    if east < west:
        east += 360.0
    centre = (west + east) / 2.0
    return west, south, east, north, centre - 180.0


def _wrap(lon: np.ndarray, frame_west: float) -> np.ndarray:
    return (np.asarray(lon, dtype="float64") - frame_west) % 360.0 + frame_west


def region_polygon(
    region: Region | str, *, crs: Any = None, densify: int = 64, catalog: Any = None
) -> shapely.Polygon:
    """Return the region's bounding box as a densified polygon in ``crs`` (default: the region's).

    Longitudes are continuous across the antimeridian, so the Alaska box is one
    polygon (not two, not one around the world).
    """
    region = _resolve_region(region, catalog)
    west, south, east, north, _ = _frame(region)
    xs = np.concatenate(
        [
            np.linspace(west, east, densify),
            np.full(densify, east),
            np.linspace(east, west, densify),
            np.full(densify, west),
        ]
    )
    ys = np.concatenate(
        [
            np.full(densify, south),
            np.linspace(south, north, densify),
            np.full(densify, north),
            np.linspace(north, south, densify),
        ]
    )
    target = pyproj.CRS.from_user_input(crs) if crs is not None else region.pyproj_crs
    if target.is_geographic:
        return shapely.Polygon(np.column_stack([xs, ys]))
    transformer = pyproj.Transformer.from_crs("EPSG:4326", target, always_xy=True)
    px, py = transformer.transform(xs, ys)
    return shapely.Polygon(np.column_stack([px, py]))


def _unwrap_ring(coords: np.ndarray) -> np.ndarray | None:
    """Make a ring's longitudes continuous; None if it encircles a pole (cannot be unwrapped)."""
    lon = np.unwrap(coords[:, 0], period=360.0)
    closed = coords.shape[0] > 1 and np.isclose(coords[0, 0], coords[-1, 0])
    if closed and not np.isclose(lon[0], lon[-1]):
        return None
    out = coords.copy()
    out[:, 0] = lon
    return out


def _shift_part(part: shapely.Geometry, frame_west: float, counts: dict[str, int]) -> Any:
    """Unwrap a part that crosses the antimeridian, then shift it into the region's frame."""
    xmin, _, xmax, _ = part.bounds
    if xmax - xmin > 180.0:
        geom_type = shapely.get_type_id(part)
        if geom_type == 3:  # Polygon
            rings = [part.exterior, *part.interiors]
            unwrapped = [_unwrap_ring(np.asarray(r.coords)) for r in rings]
            if any(u is None for u in unwrapped):
                counts["polar geometries left as they are"] += 1
            else:
                part = shapely.Polygon(unwrapped[0], unwrapped[1:])
                counts["antimeridian-crossing geometries made continuous"] += 1
        elif geom_type == 1:  # LineString
            coords = np.asarray(part.coords)
            coords[:, 0] = np.unwrap(coords[:, 0], period=360.0)
            part = shapely.LineString(coords)
            counts["antimeridian-crossing geometries made continuous"] += 1
        xmin, _, xmax, _ = part.bounds
    mid = (xmin + xmax) / 2.0
    shift = -360.0 * math.floor((mid - frame_west) / 360.0)
    return shapely.transform(part, lambda xy: xy + np.array([shift, 0.0])) if shift else part


def _into_frame(geoms: np.ndarray, frame_west: float, counts: dict[str, int]) -> np.ndarray:
    """Express geographic geometries in the region's longitude frame, part by part."""
    out = geoms.copy()
    bounds = shapely.bounds(geoms)
    valid = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
    points = valid & (shapely.get_type_id(geoms) == 0)
    if points.any():
        xy = shapely.get_coordinates(geoms[points])
        xy[:, 0] = _wrap(xy[:, 0], frame_west)
        out[points] = shapely.points(xy)
    simple = (
        valid
        & ~points
        & (bounds[:, 0] >= frame_west)
        & (bounds[:, 2] < frame_west + 360.0)
        & (bounds[:, 2] - bounds[:, 0] <= 180.0)
    )
    for i in np.flatnonzero(valid & ~points & ~simple):
        geom = geoms[i]
        parts = shapely.get_parts(geom)
        shifted = [_shift_part(p, frame_west, counts) for p in parts]
        if len(shifted) == 1 and shapely.get_type_id(geom) in (0, 1, 3):
            out[i] = shifted[0]
        else:
            out[i] = (
                type(geom)(shifted)
                if shapely.get_type_id(geom) != 7
                else (shapely.GeometryCollection(shifted))
            )
    return out


def _keep_dimension(clipped: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """Drop lower-dimensional slivers (points/lines from clipping polygons at edges)."""
    out = clipped.copy()
    mixed = shapely.get_type_id(clipped) == 7
    for i in np.flatnonzero(mixed):
        parts = [p for p in shapely.get_parts(clipped[i]) if shapely.get_dimensions(p) == dims[i]]
        out[i] = shapely.union_all(parts) if parts else shapely.Polygon()
    return out

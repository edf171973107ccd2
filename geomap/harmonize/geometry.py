"""Geometry repair and validation, with every change counted in the ingest report.

:func:`clean_geometries` is what every vector reader calls before returning:

* null and empty geometries are dropped and counted;
* invalid geometries (bow-ties, self-intersections, unclosed or spiky rings)
  are repaired with :func:`shapely.make_valid` and counted; parts of a lower
  dimension that the repair produces (a bow-tie's touching point, a collapsed
  ring's line) are dropped from the repaired geometry so a polygon layer stays
  polygonal;
* layers mixing geometry families (points with polygons, ...) are refused
  unless asked to keep them or split them, because evidence functions treat
  each family differently.

>>> import geopandas as gpd
>>> from shapely.geometry import Polygon
>>> from geomap.core.report import IngestReport
>>> bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
>>> report = IngestReport("demo")
>>> out = clean_geometries(gpd.GeoDataFrame(geometry=[bowtie], crs="EPSG:4326"), report)
>>> bool(out.is_valid.all()), report.repaired["invalid geometry made valid (make_valid)"]
(True, 1)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import shapely

from geomap.errors import DataError

if TYPE_CHECKING:
    import geopandas as gpd

    from geomap.core.report import IngestReport

__all__ = ["FAMILIES", "clean_geometries", "geometry_family", "repair_invalid"]

FAMILIES = {0: "point", 1: "line", 2: "polygon"}
"""Geometry families by topological dimension."""

MixedPolicy = Literal["error", "keep", "dominant"]


def geometry_family(gdf: gpd.GeoDataFrame) -> str:
    """Return ``"point"``, ``"line"``, ``"polygon"``, ``"empty"`` or ``"mixed"``."""
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    present = geoms[~(shapely.is_missing(geoms) | shapely.is_empty(geoms))]
    if present.size == 0:
        return "empty"
    if (shapely.get_type_id(present) == 7).any():
        return "mixed"
    dims = set(np.unique(shapely.get_dimensions(present)).tolist())
    return FAMILIES[dims.pop()] if len(dims) == 1 else "mixed"


def _drop_lower_dimensions(geom: shapely.Geometry, dim: int) -> shapely.Geometry:
    """Keep only the parts of ``geom`` with topological dimension ``dim``."""
    parts = [p for p in shapely.get_parts(geom) if shapely.get_dimensions(p) == dim]
    if not parts:
        return shapely.GeometryCollection()
    if len(parts) == 1:
        return parts[0]
    return (
        shapely.union_all(parts)
        if dim == 2
        else shapely.multilinestrings(parts)
        if dim == 1
        else (shapely.multipoints(parts))
    )


def repair_invalid(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Repair invalid geometries with :func:`shapely.make_valid`, keeping their dimension.

    Parameters
    ----------
    geoms : array of shapely geometries
        Geometries known to be invalid.

    Returns
    -------
    (fixed, collapsed)
        The repaired geometries, and a mask of those that collapsed to a lower
        dimension (e.g. a zero-area polygon that became a line) or to nothing.
    """
    original_dims = shapely.get_dimensions(geoms)
    repaired = shapely.make_valid(geoms)
    fixed = np.array(
        [
            _drop_lower_dimensions(g, d) if shapely.get_type_id(g) == 7 else g
            for g, d in zip(repaired, original_dims, strict=True)
        ],
        dtype=object,
    )
    collapsed = shapely.is_empty(fixed) | (shapely.get_dimensions(fixed) < original_dims)
    return fixed, collapsed


def clean_geometries(
    gdf: gpd.GeoDataFrame,
    report: IngestReport,
    *,
    mixed: MixedPolicy = "error",
    what: str | None = None,
) -> gpd.GeoDataFrame:
    """Drop null/empty geometries, repair invalid ones, and check the geometry family.

    Parameters
    ----------
    gdf : GeoDataFrame
        The layer as read.
    report : IngestReport
        Receives the counts (``dropped``, ``repaired``, ``normalized``).
    mixed : {"error", "keep", "dominant"}, default "error"
        What to do with a layer that mixes points, lines and polygons:
        raise, keep everything, or keep only the most common family (the
        others are dropped and counted).
    what : str, optional
        Name of the layer for messages.

    Returns
    -------
    GeoDataFrame
        A copy with valid, non-empty geometries of one family (unless
        ``mixed="keep"``).

    Raises
    ------
    DataError
        A layer with mixed geometry families and ``mixed="error"``, or a layer
        none of whose features has a usable geometry.
    """
    name = what or report.dataset_id
    geoms = np.asarray(gdf.geometry.array, dtype=object).copy()
    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    report.drop("null geometry", int(missing.sum()))
    report.drop("empty geometry", int(empty.sum()))
    keep = ~(missing | empty)
    # NaN or Infinity in a coordinate (GeoJSON allows them through GDAL): no geometry
    # operation is defined on them, so the feature is dropped and counted
    coords, owner = shapely.get_coordinates(geoms[keep], include_z=True, return_index=True)
    nonfinite_rows = np.unique(owner[~np.isfinite(coords[:, :2]).all(axis=1)])
    nonfinite = np.flatnonzero(keep)[nonfinite_rows]
    report.drop("non-finite coordinate (NaN or Infinity)", len(nonfinite))
    keep[nonfinite] = False

    invalid = keep & ~shapely.is_valid(geoms)
    if invalid.any():
        fixed, collapsed = repair_invalid(geoms[invalid])
        geoms[invalid] = fixed
        report.repair("invalid geometry made valid (make_valid)", int((~collapsed).sum()))
        report.drop(
            "invalid geometry collapsed to a lower dimension when repaired", int(collapsed.sum())
        )
        keep[np.flatnonzero(invalid)[collapsed]] = False

    dims = np.full(geoms.shape, -1)
    dims[keep] = shapely.get_dimensions(geoms[keep])
    families = sorted({int(d) for d in dims[keep]})
    if len(families) > 1:
        counts = {FAMILIES[d]: int((dims == d).sum()) for d in families}
        if mixed == "error":
            raise DataError(
                f"{name} mixes geometry families {counts}; evidence layers need one family: "
                "read one family at a time (e.g. gdf[gdf.geom_type == 'Polygon']) or pass "
                "mixed='dominant' (keep the most common, count the rest) or mixed='keep'"
            )
        if mixed == "dominant":
            dominant = max(counts, key=lambda k: counts[k])
            for family, count in counts.items():
                if family != dominant:
                    report.drop(f"{family} geometry in a {dominant} layer", count)
            keep &= dims == next(d for d, f in FAMILIES.items() if f == dominant)
        elif mixed != "keep":
            raise ValueError(f"mixed={mixed!r}; use 'error', 'keep' or 'dominant'")
        else:
            report.notes.append(f"layer keeps mixed geometry families {counts}")

    if len(gdf) and not keep.any():
        lost = {**report.dropped}
        raise DataError(
            f"{name}: none of its {len(gdf)} features has a usable geometry ({lost}); "
            "nothing is left to ingest: check that this is the catalogued file and layer, "
            "or replace the file"
        )

    import geopandas as gpd

    out = gdf.loc[keep].copy()
    out[gdf.geometry.name] = gpd.GeoSeries(geoms[keep], index=out.index, crs=gdf.crs)
    out = out.set_geometry(gdf.geometry.name, crs=gdf.crs)
    out.attrs = dict(gdf.attrs)
    return out

"""Vectors into a region's analysis CRS (the vector half of :func:`geomap.harmonize.to_region`).

Coordinates are checked, geographic geometries are put in the region's longitude
frame and clipped to its box, then transformed with the recorded operation;
geometries made invalid by the move are repaired and everything is counted in the
ingest report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyproj
import shapely

from geomap.errors import CRSError
from geomap.harmonize.crs import (
    _bump,
    _name_records,
    _report_dict,
    check_coordinates,
    require_crs,
    require_same_crs,
    transformer_for,
)
from geomap.harmonize.region_frame import (
    _frame,
    _into_frame,
    _keep_dimension,
    _wrap,
    region_polygon,
)

if TYPE_CHECKING:
    import geopandas as gpd

    from geomap.catalog import Region

__all__: list[str] = []


def _vector_to_region(
    gdf: gpd.GeoDataFrame,
    region: Region,
    *,
    clip: bool,
    strict: bool | None,
    max_error_m: float,
    margin_deg: float,
) -> gpd.GeoDataFrame:
    import geopandas as gpd

    source = require_crs(gdf, "the GeoDataFrame")
    other = [
        name
        for name in gdf.columns
        if name != gdf.geometry.name and isinstance(gdf[name], gpd.GeoSeries)
    ]
    if other:
        require_same_crs(gdf.geometry, *(gdf[n] for n in other), names=[gdf.geometry.name, *other])
    target = region.pyproj_crs
    report = _report_dict(gdf)
    counts: dict[str, int] = {
        "antimeridian-crossing geometries made continuous": 0,
        "polar geometries left as they are": 0,
    }
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        _bump(report["dropped"], "no geometry (null or empty)", int(missing.sum()))
    keep = ~missing
    labels = list(gdf.index)
    xy, owner = shapely.get_coordinates(geoms[keep], return_index=True)
    kept_labels = [labels[i] for i in np.flatnonzero(keep)]
    check_coordinates(
        xy[:, 0],
        xy[:, 1],
        source,
        labels=[kept_labels[i] for i in owner],
        what=f"to_region({region.id!r})",
        margin_deg=margin_deg,
    )
    west, south, east, north, frame_west = _frame(region)
    work = geoms.copy()
    if source.is_geographic:
        if clip:  # geometries outside the region's latitude band need no longitude work
            lat_bounds = shapely.bounds(geoms)
            band = (lat_bounds[:, 3] >= south) & (lat_bounds[:, 1] <= north)
            outside_band = keep & ~band
            work[outside_band] = None
            keep_frame = keep & band
        else:
            keep_frame = keep
        work[keep_frame] = _into_frame(geoms[keep_frame], frame_west, counts)
        if clip:
            box = shapely.box(west, south, east, north)
            work = _clip(work, keep, box)
    transformer, info = transformer_for(
        source, target, area=region.bbox, strict=strict, max_error_m=max_error_m
    )
    alive = ~(shapely.is_missing(work) | shapely.is_empty(work))
    if (keep & ~alive).any():
        _bump(report["dropped"], f"outside region {region.id!r}", int((keep & ~alive).sum()))
        _maybe_swapped(gdf, keep, alive, source, region)
    moved = work.copy()
    if alive.any():
        moved[alive] = shapely.transform(
            work[alive],
            lambda pts: np.column_stack(transformer.transform(pts[:, 0], pts[:, 1])),
        )
        out_xy, out_owner = shapely.get_coordinates(moved[alive], return_index=True)
        finite = np.isfinite(out_xy).all(axis=1)
        if not finite.all():
            alive_labels = [labels[i] for i in np.flatnonzero(alive)]
            bad_rows = np.zeros(len(alive_labels), dtype=bool)
            bad_rows[out_owner[~finite]] = True
            raise CRSError(
                f"to_region({region.id!r}): {_name_records(alive_labels, bad_rows)} became "
                f"infinite when transformed {info.source_crs} -> {info.target_crs}; they lie "
                "outside the projection's domain: fix their coordinates or their CRS"
            )
    if clip and not source.is_geographic and alive.any():
        moved = _clip(moved, alive, region_polygon(region))
        still = ~(shapely.is_missing(moved) | shapely.is_empty(moved))
        _bump(report["dropped"], f"outside region {region.id!r}", int((alive & ~still).sum()))
        alive = still
    invalid = alive & ~shapely.is_valid(moved)
    if invalid.any():
        from geomap.harmonize.geometry import repair_invalid

        fixed, collapsed = repair_invalid(moved[invalid])
        moved[invalid] = fixed
        _bump(
            report["repaired"],
            "geometry invalid after reprojection/clipping made valid",
            int((~collapsed).sum()),
        )
        _bump(
            report["dropped"],
            "geometry collapsed when reprojected/clipped (slivers)",
            int(collapsed.sum()),
        )
        alive[np.flatnonzero(invalid)[collapsed]] = False
    for key, count in counts.items():
        _bump(report["normalized"], key, count)
    out = gpd.GeoDataFrame(
        gdf.drop(columns=[gdf.geometry.name]).loc[alive],
        geometry=gpd.GeoSeries(moved[alive], index=gdf.index[alive], crs=target),
        crs=target,
    )
    out = out.rename_geometry(gdf.geometry.name) if gdf.geometry.name != "geometry" else out
    report["records_out"] = len(out)
    report["notes"] = [
        *report.get("notes", []),
        f"reprojected to region {region.id!r} ({info.target_crs}) with {info.operation!r}"
        + (f", accuracy {info.accuracy_m:g} m" if info.accuracy_m is not None else ""),
    ]
    out.attrs = {
        **dict(gdf.attrs),
        "geomap_report": report,
        "geomap_crs_operation": info.to_dict(),
        "geomap_region": region.id,
    }
    return out


def _clip(geoms: np.ndarray, mask: np.ndarray, box: shapely.Geometry) -> np.ndarray:
    out = geoms.copy()
    selected = geoms[mask]
    dims = shapely.get_dimensions(selected)
    shapely.prepare(box)
    inside = shapely.contains_properly(box, selected)
    clipped = selected.copy()
    cut = ~inside
    if cut.any():
        clipped[cut] = shapely.intersection(selected[cut], box)
        clipped[cut] = _keep_dimension(clipped[cut], dims[cut])
    out[mask] = clipped
    return out


def _maybe_swapped(
    gdf: gpd.GeoDataFrame, keep: np.ndarray, alive: np.ndarray, source: pyproj.CRS, region: Region
) -> None:
    """Refuse points that fall outside the region only because lat/lon are swapped."""
    if not source.is_geographic:
        return
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    is_point = shapely.get_type_id(geoms) == 0
    lost = keep & ~alive & is_point
    if lost.sum() < max(1, 0.5 * (keep & is_point).sum()):
        return
    xy = shapely.get_coordinates(geoms[lost])
    west, south, east, north, frame_west = _frame(region)
    lon_if_swapped = _wrap(xy[:, 1], frame_west)
    inside = (
        (lon_if_swapped >= west)
        & (lon_if_swapped <= east)
        & (xy[:, 0] >= south)
        & (xy[:, 0] <= north)
    )
    if inside.mean() > 0.9:
        raise CRSError(
            f"to_region({region.id!r}): {_name_records(list(gdf.index[lost]), inside)} fall "
            "outside the region but inside it with latitude and longitude swapped; swap the "
            "coordinate columns (x = longitude, y = latitude)"
        )

"""Burning vector features onto the analysis grid."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyproj
import xarray as xr
from odc.geo.geobox import GeoBox

from geomap.errors import CRSError, DataError, ParameterError
from geomap.grid._core import (
    Chunks,
    block_slices,
    grid_crs,
    grid_to_dataarray,
    resolve_chunks,
    sub_grid,
)

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["features_in_grid_crs", "prepare_shapes", "rasterize"]


def features_in_grid_crs(features: Any, grid: GeoBox, *, what: str) -> gpd.GeoSeries:
    """Return the features' geometries in the grid CRS (reprojected if needed)."""
    import geopandas as gpd

    if isinstance(features, gpd.GeoDataFrame):
        geoms = features.geometry
    elif isinstance(features, gpd.GeoSeries):
        geoms = features
    else:
        raise DataError(
            f"{what}: expected a GeoDataFrame or GeoSeries, got {type(features).__name__}"
        )
    if geoms.crs is None:
        raise CRSError(
            f"{what}: the features have no CRS; set it with .set_crs() "
            "(geomap never assumes EPSG:4326)"
        )
    target = grid_crs(grid)
    if not pyproj.CRS.from_user_input(geoms.crs).equals(target):
        geoms = geoms.to_crs(target)
    return geoms


def _finite_or_raise(geoms: gpd.GeoSeries, *, what: str) -> None:
    import shapely

    coords, index = shapely.get_coordinates(geoms.values, return_index=True)
    bad = ~np.isfinite(coords).all(axis=1)
    if bad.any():
        records = list(dict.fromkeys(geoms.index[index[bad]].tolist()))
        raise CRSError(
            f"{what}: {len(records)} feature(s) have non-finite coordinates in the grid CRS "
            f"(e.g. after a failed transformation), index {records[:10]}; "
            "fix or drop them before rasterizing"
        )


def prepare_shapes(
    features: Any,
    grid: GeoBox,
    values: str | float | None,
    *,
    margin_cells: int,
    what: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Reproject, check, clip to the grid (plus a margin) and pair geometries with values.

    Huge coordinates are clipped to the grid's extent rather than handed to GDAL,
    which would silently burn nothing for them.
    """
    import shapely

    geoms = features_in_grid_crs(features, grid, what=what)
    if values is None:
        vals = np.ones(len(geoms), dtype="float64")
    elif isinstance(values, str):
        if not hasattr(features, "columns") or values not in features.columns:
            known = [c for c in getattr(features, "columns", []) if c != "geometry"]
            raise DataError(f"{what}: no column {values!r}; available: {known}")
        vals = np.asarray(features[values], dtype="float64")
    else:
        vals = np.full(len(geoms), float(values))
    missing = geoms.isna().to_numpy() | geoms.is_empty.to_numpy()
    nan_values = ~np.isfinite(vals) & ~missing
    if missing.any() or nan_values.any():
        warnings.warn(
            f"{what}: skipped {int(missing.sum())} null/empty geometries and "
            f"{int(nan_values.sum())} features without a value (of {len(geoms)})",
            UserWarning,
            stacklevel=3,
        )
    keep = ~missing & ~nan_values
    geoms, vals = geoms[keep], vals[keep]
    _finite_or_raise(geoms, what=what)
    a = grid.affine
    pad = margin_cells * a.a
    left, top = a.c - pad, a.f + pad
    right = a.c + grid.shape.x * a.a + pad
    bottom = a.f + grid.shape.y * a.e - pad
    clipped = shapely.clip_by_rect(geoms.values, left, bottom, right, top)
    inside = ~shapely.is_empty(clipped)
    return np.asarray(clipped)[inside], vals[inside]


def _burn(
    shapes: np.ndarray,
    vals: np.ndarray,
    grid: GeoBox,
    *,
    fill: float,
    dtype: np.dtype,
    all_touched: bool,
    merge: str,
) -> np.ndarray:
    from rasterio.enums import MergeAlg
    from rasterio.features import rasterize as rio_rasterize

    if len(shapes) == 0:
        return np.full(tuple(grid.shape), fill, dtype=dtype)
    return rio_rasterize(
        zip(shapes, vals, strict=True),
        out_shape=tuple(grid.shape),
        transform=grid.affine,
        fill=fill,
        all_touched=all_touched,
        merge_alg=MergeAlg.add if merge == "add" else MergeAlg.replace,
        dtype=dtype,
    )


def rasterize(
    features: gpd.GeoDataFrame | gpd.GeoSeries,
    grid: GeoBox,
    *,
    values: str | float | None = None,
    fill: float = 0,
    dtype: Any = None,
    all_touched: bool = False,
    merge: Literal["replace", "add"] = "replace",
    chunks: Chunks = None,
    name: str | None = None,
) -> xr.DataArray:
    """Burn vector features onto the grid.

    Parameters
    ----------
    features : GeoDataFrame or GeoSeries
        With a CRS; reprojected to the grid CRS when it differs.
    grid : GeoBox
        The analysis grid.
    values : str or float, optional
        A column to burn, a constant, or ``None`` for presence (1).
    fill : float, default 0
        Value of cells no feature touches.
    dtype : dtype, optional
        ``uint8`` for presence, ``float32`` for values by default.
    all_touched : bool, default False
        Burn every cell a feature touches, not only cells whose centre it covers.
    merge : {"replace", "add"}
        ``"add"`` sums overlapping features (counts of points per cell).
    chunks : None, "auto", int or (int, int)
        Dask-backed result computed block by block (equal to the in-memory one).
    name : str, optional
        Name of the result.

    Returns
    -------
    xarray.DataArray
        On the grid, nodata undeclared (every cell has a value: ``fill`` or a burn).

    Raises
    ------
    CRSError
        Features without a CRS, or with non-finite coordinates in the grid CRS.
    DataError
        ``values`` names a missing column.

    Notes
    -----
    Geometries are first clipped to the grid extent (plus one cell), so huge
    coordinates are cut back to the grid instead of overflowing GDAL's pixel
    arithmetic and burning nothing.  Null and empty geometries and features with
    a missing value are skipped with a warning that counts them.
    """
    if merge not in ("replace", "add"):
        raise ParameterError(f"merge={merge!r}: use 'replace' or 'add'")
    out_dtype = np.dtype(dtype or ("uint8" if values is None else "float32"))
    shapes, vals = prepare_shapes(features, grid, values, margin_cells=1, what="rasterize")
    block = resolve_chunks(chunks, tuple(grid.shape))
    opts = {"fill": fill, "dtype": out_dtype, "all_touched": all_touched, "merge": merge}
    if block is None:
        data: Any = _burn(shapes, vals, grid, **opts)  # type: ignore[arg-type]
    else:
        data = _lazy_burn(shapes, vals, grid, block, opts)
    return grid_to_dataarray(data, grid, name=name, nodata=None)


def _lazy_burn(
    shapes: np.ndarray,
    vals: np.ndarray,
    grid: GeoBox,
    block: tuple[int, int],
    opts: dict[str, Any],
) -> Any:
    import dask
    import dask.array as dsa
    import shapely

    tree = shapely.STRtree(shapes)
    rows = []
    for row in block_slices(tuple(grid.shape), block):
        blocks = []
        for rs, cs in row:
            sub = sub_grid(grid, rs, cs)
            a = sub.affine
            box = shapely.box(
                a.c - a.a, a.f + sub.shape.y * a.e + a.e, a.c + (sub.shape.x + 1) * a.a, a.f - a.e
            )
            hits = np.sort(tree.query(box))  # keep the input order (burn order matters)
            part = dask.delayed(_burn, pure=True)(shapes[hits], vals[hits], sub, **opts)
            blocks.append(dsa.from_delayed(part, shape=tuple(sub.shape), dtype=opts["dtype"]))
        rows.append(blocks)
    return dsa.block(rows)

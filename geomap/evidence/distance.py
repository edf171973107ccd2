"""Distance to features (lines, polygons, points) in metres on the projected grid."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox

from geomap.errors import DataError
from geomap.evidence._common import finish, padded_chunks, padded_grid, provenance_source
from geomap.grid import Chunks, block_slices, positive_length, rasterize, resolve_chunks
from geomap.grid.rasterize import features_in_grid_crs

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["distance_to", "distance_to_cells"]

_POINT_TYPE_IDS = (0, 4)  # shapely type ids of Point and MultiPoint
_STRIP_CELLS = 2**22


def distance_to(
    features: gpd.GeoDataFrame | gpd.GeoSeries,
    grid: GeoBox,
    *,
    cap_m: float | None = None,
    chunks: Chunks = None,
    name: str = "distance",
    source: str | Sequence[str] | None = None,
) -> xr.DataArray:
    """Euclidean distance in metres from each cell centre to the nearest feature.

    Parameters
    ----------
    features : GeoDataFrame or GeoSeries
        Points, lines and/or polygons with a CRS (reprojected to the grid's).
    grid : GeoBox
        The analysis grid (projected CRS in metres).
    cap_m : float, optional
        Distances beyond ``cap_m`` are set to ``cap_m``.  Features outside the
        grid but within ``cap_m`` of it count.  Needed for chunked lines and
        polygons to stay local (the halo of each block is ``cap_m``).
    chunks : None, "auto", int or (int, int)
        Dask-backed result computed block by block (equal to the in-memory one).
    name : str, default "distance"
        Layer name.
    source : str or list of str, optional
        Dataset ids for the provenance (default: read from the features' attrs).

    Returns
    -------
    xarray.DataArray
        float32 metres, ``geomap_kind = "continuous"``.

    Raises
    ------
    DataError
        No features (an empty selection), or no feature near the grid while
        ``cap_m`` is not given.
    ParameterError
        ``cap_m`` is zero or negative.

    Warns
    -----
    UserWarning
        No feature lies inside the grid (the layer is then all at ``cap_m`` unless
        features outside lie within ``cap_m`` of it).

    Notes
    -----
    *Points*: the exact distance from each cell centre to the nearest point
    (a k-d tree, :class:`scipy.spatial.cKDTree`), so a cell containing a point
    has a distance of at most half the cell diagonal.

    *Lines and polygons* are rasterized (every cell they touch) and the exact
    Euclidean distance transform (:func:`scipy.ndimage.distance_transform_edt`)
    gives the distance between cell centres: 0 on and inside features, otherwise
    within half a cell diagonal of the true distance.  On Dask with ``cap_m``,
    each block is transformed with a halo of ``cap_m`` (a nearer feature is always
    inside the halo, so the values equal the whole-grid transform); without
    ``cap_m``, the feature cells' centres feed a k-d tree that every block queries.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> from geomap.grid import region_grid
    >>> grid = region_grid("japan", 50_000)
    >>> pt = gpd.GeoSeries([Point(0, 0)], crs=grid.crs.to_wkt())
    >>> d = distance_to(pt, grid, cap_m=200_000)
    >>> float(d.min()) < 50_000, float(d.max())
    (True, 200000.0)
    """
    cap = positive_length("cap_m", cap_m) if cap_m is not None else None
    geoms = features_in_grid_crs(features, grid, what="distance_to")
    geoms = geoms[~(geoms.isna() | geoms.is_empty)]
    if len(geoms) == 0:
        raise DataError(
            f"distance_to {name!r}: the feature set is empty (0 geometries); "
            "check the dataset and the selection that produced it"
        )
    block = resolve_chunks(chunks, tuple(grid.shape))
    import shapely

    is_point = np.isin(shapely.get_type_id(geoms.values), _POINT_TYPE_IDS)
    _warn_if_outside(geoms, grid, name)
    parts = []
    if is_point.any():
        parts.append(_point_distance(geoms[is_point], grid, cap, block))
    if (~is_point).any():
        parts.append(_shape_distance(geoms[~is_point], grid, cap, block, name))
    data = parts[0] if len(parts) == 1 else _minimum(parts[0], parts[1])
    params = {"cap_m": cap, "n_features": len(geoms)}
    return finish(
        data,
        grid,
        name=name,
        kind="continuous",
        function="distance",
        params=params,
        source=provenance_source(features, source),
        units="m",
        long_name=f"distance to {name}",
    )


def _minimum(a: Any, b: Any) -> Any:
    if hasattr(a, "dask") or hasattr(b, "dask"):
        import dask.array as dsa

        return dsa.minimum(a, b)
    return np.minimum(a, b)


def _warn_if_outside(geoms: gpd.GeoSeries, grid: GeoBox, name: str) -> None:
    import shapely

    a = grid.affine
    box = shapely.box(a.c, a.f + grid.shape.y * a.e, a.c + grid.shape.x * a.a, a.f)
    if not shapely.intersects(geoms.values, box).any():
        warnings.warn(
            f"distance_to {name!r}: none of the {len(geoms)} features lies inside the grid; "
            "distances are to features outside it (all at the cap when farther than cap_m)",
            UserWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------- points


def _cell_centres(grid: GeoBox, rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray]:
    a = grid.affine
    ys = a.f + (np.arange(rows.start, rows.stop) + 0.5) * a.e
    xs = a.c + (np.arange(cols.start, cols.stop) + 0.5) * a.a
    return ys, xs


def _query_block(
    tree: Any, grid: GeoBox, rows: slice, cols: slice, cap: float | None
) -> np.ndarray:
    ys, xs = _cell_centres(grid, rows, cols)
    out = np.empty((len(ys), len(xs)), dtype="float32")
    strip = max(1, _STRIP_CELLS // max(len(xs), 1))
    bound = np.inf if cap is None else cap * (1 + 1e-9)
    for start in range(0, len(ys), strip):
        yy, xx = np.meshgrid(ys[start : start + strip], xs, indexing="ij")
        dist, _ = tree.query(np.column_stack([xx.ravel(), yy.ravel()]), distance_upper_bound=bound)
        if cap is not None:
            dist = np.minimum(dist, cap)
        out[start : start + strip] = dist.reshape(yy.shape)
    return out


def _point_distance(
    geoms: gpd.GeoSeries, grid: GeoBox, cap: float | None, block: tuple[int, int] | None
) -> Any:
    import shapely
    from scipy.spatial import cKDTree

    coords = shapely.get_coordinates(geoms.values)
    tree = cKDTree(coords)
    ny, nx = grid.shape
    if block is None:
        return _query_block(tree, grid, slice(0, ny), slice(0, nx), cap)
    return _tree_blocks(tree, grid, block, cap)


def _tree_blocks(tree: Any, grid: GeoBox, block: tuple[int, int], cap: float | None) -> Any:
    """Build a Dask array whose blocks query one shared k-d tree."""
    import dask
    import dask.array as dsa

    shared = dask.delayed(tree, pure=False)
    out_rows = []
    for row in block_slices(tuple(grid.shape), block):
        parts = []
        for rs, cs in row:
            part = dask.delayed(_query_block, pure=True)(shared, grid, rs, cs, cap)
            shape = (rs.stop - rs.start, cs.stop - cs.start)
            parts.append(dsa.from_delayed(part, shape=shape, dtype="float32"))
        out_rows.append(parts)
    return dsa.block(out_rows)


# --------------------------------------------------------------------------- lines, polygons


def _edt_block(mask: np.ndarray, sampling: tuple[float, float], cap: float | None) -> np.ndarray:
    """Distance from each cell to the nearest True cell of ``mask`` (capped)."""
    from scipy.ndimage import distance_transform_edt

    if not mask.any():
        return np.full(mask.shape, np.inf if cap is None else cap, dtype="float32")
    dist = distance_transform_edt(~mask, sampling=sampling)
    if cap is not None:
        np.minimum(dist, cap, out=dist)
    return dist.astype("float32")


def _shape_distance(
    geoms: gpd.GeoSeries,
    grid: GeoBox,
    cap: float | None,
    block: tuple[int, int] | None,
    name: str,
) -> Any:
    res_y, res_x = abs(grid.affine.e), abs(grid.affine.a)
    sampling = (res_y, res_x)
    pad = 0 if cap is None else math.ceil(cap / min(res_x, res_y)) + 1
    big = padded_grid(grid, pad)
    ny, nx = grid.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # skipped geometries were counted above
        if block is None:
            mask = rasterize(geoms, big, all_touched=True).to_numpy().astype(bool)
            if not mask.any():
                return _no_features(grid, cap, name)
            return _edt_block(mask, sampling, cap)[pad : pad + ny, pad : pad + nx]
        mask_da = rasterize(geoms, big, all_touched=True, chunks=block).data.astype(bool)
    mask_da = mask_da.rechunk(padded_chunks((ny, nx), block, pad))
    if cap is not None:
        dist = mask_da.map_overlap(
            _edt_block,
            depth=pad,
            boundary="none",
            trim=True,
            dtype="float32",
            sampling=sampling,
            cap=cap,
        )
        # a block with no feature within its halo is all at the cap: also when none at all
        return dist[pad : pad + ny, pad : pad + nx]
    return _kdtree_distance(mask_da, grid, block, name)


def _no_features(grid: GeoBox, cap: float | None, name: str) -> np.ndarray:
    if cap is None:
        raise DataError(
            f"distance_to {name!r}: no feature falls on the grid; pass cap_m=... to get a "
            "layer at the cap, or check the features' region"
        )
    return np.full(tuple(grid.shape), cap, dtype="float32")


def _edge_cells(mask: np.ndarray) -> np.ndarray:
    """Feature cells with at least one non-feature 4-neighbour (the only possible nearest)."""
    inner = mask.copy()
    inner[1:, :] &= mask[:-1, :]
    inner[:-1, :] &= mask[1:, :]
    inner[:, 1:] &= mask[:, :-1]
    inner[:, :-1] &= mask[:, 1:]
    return mask & ~inner


def _kdtree_distance(mask: Any, grid: GeoBox, block: tuple[int, int], name: str) -> Any:
    """Uncapped distance on Dask: a k-d tree of the feature cells' centres."""
    import dask
    import dask.array as dsa
    from scipy.spatial import cKDTree

    edges = mask.map_overlap(_edge_cells, depth=1, boundary="none", trim=True, dtype=bool)
    rows, cols = (np.asarray(v) for v in dask.compute(*dsa.nonzero(edges)))
    if len(rows) == 0:
        _no_features(grid, None, name)
    a = grid.affine
    xy = np.column_stack([a.c + (cols + 0.5) * a.a, a.f + (rows + 0.5) * a.e])
    # interior feature cells are not in the tree: they are at distance 0
    return dsa.where(mask, np.float32(0), _tree_blocks(cKDTree(xy), grid, block, None))


def distance_to_cells(
    mask: xr.DataArray,
    *,
    cap_m: float | None = None,
    name: str | None = None,
) -> xr.DataArray:
    """Euclidean distance in metres from each cell centre to the nearest marked cell.

    For features that are already on the grid, e.g. the cells of a lithology
    class (``layer == code``): marked cells (non-zero, not NaN) are at distance
    0; the exact distance transform between cell centres gives the rest.

    Parameters
    ----------
    mask : xarray.DataArray
        A layer on the analysis grid; cells with a non-zero value are features.
        NumPy- or Dask-backed (the result follows).
    cap_m : float, optional
        Distances beyond ``cap_m`` are set to ``cap_m`` (on Dask, the halo of each
        block).  Without it, Dask blocks query a k-d tree of the marked cells.
    name : str, optional
        Layer name (default: ``distance_to_<mask name>``).

    Raises
    ------
    DataError
        No cell is marked and ``cap_m`` is not given.

    Warns
    -----
    UserWarning
        No cell is marked (the layer is all at ``cap_m``).
    """
    from geomap.evidence._common import is_dask
    from geomap.grid import grid_of

    cap = positive_length("cap_m", cap_m) if cap_m is not None else None
    grid = grid_of(mask)
    label = name or f"distance_to_{mask.name}"
    data = mask.data
    marked = (data != 0) & ~np.isnan(data) if np.issubdtype(data.dtype, np.floating) else data != 0
    res_y, res_x = abs(grid.affine.e), abs(grid.affine.a)
    if not is_dask(marked):
        marked = np.asarray(marked)
        if not marked.any():
            warnings.warn(
                f"distance_to_cells {label!r}: no cell is marked; the layer is all at the cap",
                UserWarning,
                stacklevel=2,
            )
            values: Any = _no_features(grid, cap, label)
        else:
            values = _edt_block(marked, (res_y, res_x), cap)
    elif cap is not None:
        depth = math.ceil(cap / min(res_x, res_y)) + 1
        values = marked.map_overlap(
            _edt_block,
            depth=depth,
            boundary="none",
            trim=True,
            dtype="float32",
            sampling=(res_y, res_x),
            cap=cap,
        )
    else:
        block = (marked.chunksize[0], marked.chunksize[1])
        values = _kdtree_distance(marked.rechunk(block), grid, block, label)
    return finish(
        values,
        grid,
        name=label,
        kind="continuous",
        function="distance",
        params={"cap_m": cap, **_mask_params(mask)},
        source=str(mask.attrs.get("geomap_source", "")),
        units="m",
        long_name=f"distance to {mask.attrs.get('long_name', mask.name)}",
    )


def _mask_params(mask: xr.DataArray) -> dict[str, Any]:
    import json

    try:
        return {"of": json.loads(mask.attrs.get("geomap_params", "{}"))}
    except ValueError:
        return {}

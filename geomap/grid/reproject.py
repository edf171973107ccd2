"""Bringing rasters onto the analysis grid, cell by cell, the same in memory and in blocks.

Each grid cell centre (or, when the grid is coarser than the source, each of
``k x k`` sub-cell points) is mapped into the source raster through the exact PROJ
transformation, evaluated on a lattice of nodes at most 20 km apart (and at most
64 cells) and interpolated bilinearly between them; the lattice is anchored to the
grid, so a cell gets the same source position whether the grid is processed whole
or block by block.  The source is then sampled:

* ``bilinear``: the four nearest source cell centres, weights renormalized over
  those with data (a cell next to a gap keeps a value from its valid neighbours);
* ``nearest``: the source cell containing the point;
* ``average``: the mean of the bilinear samples at ``k x k`` points per cell;
* ``mode``: the most frequent class among the nearest samples at ``k x k`` points
  per cell (ties go to the smaller code).

Points outside the source extent get nodata.  A global geographic source wraps in
longitude (grids that cross the antimeridian, e.g. Alaska, are sampled across it).
A source already on the grid (same shape, transform and CRS) is returned as it is,
so a layer put on the grid twice is resampled once.  This is the one route of a
raster onto a region's grid: :func:`geomap.harmonize.to_region` and
``geomap.read(raster, region=...)`` window the source and call :func:`reproject_to`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyproj
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox

from geomap.errors import CRSError, DataError, ParameterError
from geomap.grid._core import (
    Chunks,
    block_slices,
    grid_crs,
    grid_to_dataarray,
    resolve_chunks,
    transform_of,
    transformer,
)

__all__ = ["RESAMPLING", "reproject_to", "resampling_for"]

RESAMPLING = ("bilinear", "nearest", "average", "mode")
"""Resampling methods understood by :func:`reproject_to`."""

_LATTICE_SPACING_M = 20_000.0
_MAX_LATTICE_STEP = 64
_MAX_SUPERSAMPLE = 8
_STRIP_POINTS = 2**18  # points per strip: bounds the temporaries of one call


@dataclass(frozen=True)
class _Plan:
    """Everything a block needs to sample the source (small and picklable)."""

    grid_affine: Affine
    grid_crs_wkt: str
    src_transform: Affine
    src_shape: tuple[int, int]
    src_crs_wkt: str
    geographic: bool
    periodic: bool
    lon_ref: float
    step: int
    k: int
    method: str
    nodata: float | int
    dtype: str


def reproject_to(
    source: xr.DataArray,
    grid: GeoBox,
    *,
    kind: Literal["continuous", "categorical"] = "continuous",
    resampling: str | None = None,
    chunks: Chunks = None,
    name: str | None = None,
) -> xr.DataArray:
    """Bring a raster onto the analysis grid.

    Parameters
    ----------
    source : xarray.DataArray
        A single-band raster with a CRS (rioxarray) and, where it has gaps, a
        declared nodata.  NumPy- or Dask-backed.
    grid : GeoBox
        The analysis grid.
    kind : {"continuous", "categorical"}
        ``"continuous"``: float32 result with NaN as nodata; ``bilinear`` by
        default, ``average`` when the grid is coarser than the source.
        ``"categorical"``: integer class codes keep their dtype and the source's
        nodata (the dtype's minimum when none is declared); ``nearest`` by
        default, ``mode`` when the grid is coarser than the source.
    resampling : {"bilinear", "nearest", "average", "mode"}, optional
        Override the default.
    chunks : None, "auto", int or (int, int)
        Return a Dask-backed result computed block by block.  A Dask-backed
        source gives a Dask-backed result (``"auto"`` blocks) by default.
    name : str, optional
        Name of the result (default: the source's name).

    Returns
    -------
    xarray.DataArray
        On the grid.  Cells the source does not cover are nodata, never zero.

    Raises
    ------
    CRSError
        The source has no CRS.
    DataError
        The source is not a single 2-D band, is rotated, or (categorical) is not integer.
    ParameterError
        Unknown ``kind`` or ``resampling``, or a resampling that does not suit the kind.

    Examples
    --------
    >>> import numpy as np, xarray as xr, rioxarray
    >>> from geomap.grid import region_grid, reproject_to
    >>> src = xr.DataArray(np.arange(12.0).reshape(3, 4), dims=("y", "x"),
    ...                    coords={"y": [36.5, 35.5, 34.5], "x": [136.5, 137.5, 138.5, 139.5]})
    >>> src = src.rio.write_crs("EPSG:4326")
    >>> out = reproject_to(src, region_grid("japan", 50_000))
    >>> bool(np.isnan(out).any()), float(out.max()) <= 11.0  # outside the source: NaN
    (True, True)
    """
    if kind not in ("continuous", "categorical"):
        raise ParameterError(f"kind={kind!r}: use 'continuous' or 'categorical'")
    if resampling is not None and resampling not in RESAMPLING:
        raise ParameterError(f"resampling={resampling!r}: use one of {', '.join(RESAMPLING)}")
    if kind == "categorical" and resampling in ("bilinear", "average"):
        raise ParameterError(
            f"resampling={resampling!r} would blend class codes; use 'nearest' or 'mode' "
            "for categorical rasters"
        )
    src_crs = source.rio.crs
    if src_crs is None:
        raise CRSError(
            f"raster {source.name!r} has no CRS; set one with .rio.write_crs() "
            "(geomap never assumes EPSG:4326)"
        )
    source = _north_up(source)
    src_transform = transform_of(source)
    if src_transform.b != 0 or src_transform.d != 0:
        raise DataError(
            f"raster {source.name!r} has a rotated transform {tuple(src_transform)[:6]}; "
            "warp it to a north-up grid first (gdalwarp)"
        )
    values, nodata, dtype = _prepared_values(source, kind)
    src_crs_p = pyproj.CRS.from_wkt(src_crs.to_wkt())
    method, k = _method(grid, src_transform, src_crs_p, kind, resampling)
    is_dask = hasattr(values, "dask")
    block = resolve_chunks(chunks if chunks is not None or not is_dask else "auto", grid.shape)
    data: Any
    if _on_grid(src_transform, tuple(values.shape), src_crs_p, grid):
        # already on the grid: every method samples each cell at its own centre
        data = _as_blocks(values.astype(dtype, copy=False), block)
    else:
        plan = _plan(grid, src_transform, tuple(values.shape), src_crs_p, method, k, nodata, dtype)
        if block is None:
            data = _sample(np.asarray(values), (0, 0), plan, (0, grid.shape.y, 0, grid.shape.x))
        else:
            data = _lazy_sample(values, plan, grid, block)
    attrs = {k: v for k, v in source.attrs.items() if k in ("units", "long_name")}
    return grid_to_dataarray(
        data, grid, name=name if name is not None else source.name, nodata=nodata, attrs=attrs
    )


def resampling_for(
    source: xr.DataArray,
    grid: GeoBox,
    *,
    kind: Literal["continuous", "categorical"] = "continuous",
    resampling: str | None = None,
) -> str:
    """Return the resampling :func:`reproject_to` uses for ``source`` onto ``grid``.

    ``resampling`` when given, else ``bilinear`` / ``nearest`` (continuous /
    categorical), or ``average`` / ``mode`` when the grid's cells are more than 1.5
    times the source's.

    Raises
    ------
    CRSError
        The source has no CRS.
    """
    src_crs = source.rio.crs
    if src_crs is None:
        raise CRSError(
            f"raster {source.name!r} has no CRS; set one with .rio.write_crs() "
            "(geomap never assumes EPSG:4326)"
        )
    src_transform = transform_of(_north_up(source))
    src_crs_p = pyproj.CRS.from_wkt(src_crs.to_wkt())
    return _method(grid, src_transform, src_crs_p, kind, resampling)[0]


# --------------------------------------------------------------------------- set-up


def _method(
    grid: GeoBox, src_transform: Affine, src_crs: pyproj.CRS, kind: str, resampling: str | None
) -> tuple[str, int]:
    """Return the resampling method and the sub-cell points per side it samples."""
    k = _supersampling(grid, src_transform, src_crs)
    method = (
        resampling
        or {
            ("continuous", False): "bilinear",
            ("continuous", True): "average",
            ("categorical", False): "nearest",
            ("categorical", True): "mode",
        }[(kind, k > 1)]
    )
    return method, (1 if method in ("bilinear", "nearest") else k)


def _on_grid(
    src_transform: Affine, src_shape: tuple[int, ...], src_crs: pyproj.CRS, grid: GeoBox
) -> bool:
    """Whether the source's cells are the grid's (same shape, transform and CRS)."""
    if tuple(src_shape) != tuple(grid.shape):
        return False
    tolerance = 1e-6 * abs(grid.affine.a)
    same_transform = all(
        abs(a - b) <= tolerance
        for a, b in zip(tuple(src_transform)[:6], tuple(grid.affine)[:6], strict=True)
    )
    return same_transform and src_crs.equals(grid_crs(grid), ignore_axis_order=True)


def _as_blocks(values: Any, block: tuple[int, int] | None) -> Any:
    """``values`` in memory (``block`` None) or as a Dask array of ``block``-sized chunks."""
    if block is None:
        return np.asarray(values)
    import dask.array as dsa

    if hasattr(values, "dask"):
        return values.rechunk(block)
    return dsa.from_array(values, chunks=block)


def _north_up(source: xr.DataArray) -> xr.DataArray:
    """Return ``source`` as a 2-D (y, x) array with y descending and x ascending."""
    if source.ndim != 2:
        squeezed = source.squeeze(drop=True)
        if squeezed.ndim != 2:
            raise DataError(
                f"raster {source.name!r} has dims {source.dims}; reproject_to needs a "
                "single 2-D band: select one with .isel() or .sel()"
            )
        source = squeezed
    ydim, xdim = source.rio.y_dim, source.rio.x_dim
    source = source.transpose(ydim, xdim)
    if source.sizes[ydim] > 1 and source[ydim].values[1] > source[ydim].values[0]:
        source = source.isel({ydim: slice(None, None, -1)})
    if source.sizes[xdim] > 1 and source[xdim].values[1] < source[xdim].values[0]:
        source = source.isel({xdim: slice(None, None, -1)})
    return source


def _prepared_values(source: xr.DataArray, kind: str) -> tuple[Any, float | int, str]:
    values: Any = source.data
    nodata = source.rio.nodata
    if nodata is None:
        nodata = source.rio.encoded_nodata
    if kind == "continuous":
        if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
            raise DataError(f"raster {source.name!r} has dtype {values.dtype}, not numbers")
        values = values.astype("float64" if values.dtype == np.float64 else "float32")
        if nodata is not None and not np.isnan(nodata):
            values = _where(values == nodata, np.nan, values)
        return values, math.nan, "float32"
    if not np.issubdtype(values.dtype, np.integer):
        raise DataError(
            f"categorical raster {source.name!r} has dtype {values.dtype}; class codes "
            "must be integers (convert with .astype() after checking the codes)"
        )
    if nodata is None or (isinstance(nodata, float) and math.isnan(nodata)):
        nodata = int(np.iinfo(values.dtype).min)
    return values, int(nodata), str(values.dtype)


def _where(cond: Any, a: Any, b: Any) -> Any:
    if hasattr(b, "dask"):
        import dask.array as dsa

        return dsa.where(cond, a, b)
    return np.where(cond, a, b).astype(b.dtype)


def _source_cell_m(src_transform: Affine, src_crs: pyproj.CRS, lat: float) -> float:
    dx, dy = abs(src_transform.a), abs(src_transform.e)
    if src_crs.is_geographic:
        return min(dx * 111_320.0 * max(math.cos(math.radians(lat)), 0.05), dy * 110_574.0)
    factor = src_crs.axis_info[0].unit_conversion_factor if src_crs.axis_info else 1.0
    return min(dx, dy) * factor


def _supersampling(grid: GeoBox, src_transform: Affine, src_crs: pyproj.CRS) -> int:
    """Sub-cell points per side so that a coarse cell averages the source cells it covers."""
    a = grid.affine
    cx, cy = a.c + a.a * grid.shape.x / 2, a.f + a.e * grid.shape.y / 2
    to_geo = transformer(grid_crs(grid), "EPSG:4326")
    _, lat = to_geo.transform(cx, cy)
    src_m = _source_cell_m(src_transform, src_crs, lat if math.isfinite(lat) else 0.0)
    ratio = abs(a.a) / src_m if src_m > 0 else 1.0
    return 1 if ratio <= 1.5 else min(math.ceil(ratio), _MAX_SUPERSAMPLE)


def _plan(
    grid: GeoBox,
    src_transform: Affine,
    src_shape: tuple[int, ...],
    src_crs: pyproj.CRS,
    method: str,
    k: int,
    nodata: float | int,
    dtype: str,
) -> _Plan:
    res = abs(grid.affine.a)
    step = int(min(max(math.floor(_LATTICE_SPACING_M / res), 1), _MAX_LATTICE_STEP))
    geographic = bool(src_crs.is_geographic)
    width_deg = abs(src_transform.a) * src_shape[1]
    periodic = geographic and abs(width_deg - 360.0) < 1e-6 * 360.0
    lon_ref = 0.0
    if geographic:
        a = grid.affine
        cx, cy = a.c + a.a * grid.shape.x / 2, a.f + a.e * grid.shape.y / 2
        to_src = transformer(grid_crs(grid), src_crs)
        lon_ref, _ = to_src.transform(cx, cy)
        lon_ref = float(lon_ref) if math.isfinite(lon_ref) else 0.0
    return _Plan(
        grid_affine=grid.affine,
        grid_crs_wkt=grid_crs(grid).to_wkt(),
        src_transform=src_transform,
        src_shape=(int(src_shape[0]), int(src_shape[1])),
        src_crs_wkt=src_crs.to_wkt(),
        geographic=geographic,
        periodic=periodic,
        lon_ref=lon_ref,
        step=step,
        k=k,
        method=method,
        nodata=nodata,
        dtype=dtype,
    )


# --------------------------------------------------------------------------- sampling


def _source_positions(plan: _Plan, vs: np.ndarray, us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return source (column, row) edge-based pixel coordinates of grid points (vs, us).

    ``vs``/``us`` are continuous row/column positions on the grid (cell centre of
    cell ``i`` at ``i + 0.5``); the result has shape ``(len(vs), len(us))``.
    """
    s = plan.step
    a = plan.grid_affine
    # lattice nodes sit on the centres of every s-th cell (q = v - 0.5 is the cell index), so
    # with s = 1 every cell centre is a node and its position is exact
    qv, qu = vs - 0.5, us - 0.5
    n0, n1 = math.floor(qv.min() / s), math.floor(qv.max() / s) + 1
    m0, m1 = math.floor(qu.min() / s), math.floor(qu.max() / s) + 1
    node_v = np.arange(n0, n1 + 1) * float(s) + 0.5
    node_u = np.arange(m0, m1 + 1) * float(s) + 0.5
    wx = a.c + node_u * a.a
    wy = a.f + node_v * a.e
    gx, gy = np.meshgrid(wx, wy)
    to_src = _transformer(plan.grid_crs_wkt, plan.src_crs_wkt)
    sx, sy = to_src.transform(gx, gy)
    sx, sy = np.asarray(sx, dtype="float64"), np.asarray(sy, dtype="float64")
    bad = ~(np.isfinite(sx) & np.isfinite(sy))
    if plan.geographic:
        sx = plan.lon_ref + (sx - plan.lon_ref + 180.0) % 360.0 - 180.0
    sx[bad] = np.nan
    sy[bad] = np.nan
    fv = qv / s - n0
    fu = qu / s - m0
    iv = np.minimum(np.floor(fv).astype(np.intp), len(node_v) - 2)
    iu = np.minimum(np.floor(fu).astype(np.intp), len(node_u) - 2)
    tv = (fv - iv)[:, None]
    tu = (fu - iu)[None, :]

    def interp(z: np.ndarray) -> np.ndarray:
        # separable: along each lattice row first, then between rows
        along = z[:, iu] * (1.0 - tu) + z[:, iu + 1] * tu
        out = along[iv]
        out *= 1.0 - tv
        upper = along[iv + 1]
        upper *= tv
        out += upper
        return out

    # in place, the same operations (and so the same bits) as the plain expressions
    px, py = interp(sx), interp(sy)
    st = plan.src_transform
    if plan.geographic:
        west = st.c
        px -= west
        with np.errstate(invalid="ignore"):
            # x % 360 == x on [0, 360): skip the (slow) remainder when nothing wraps
            wraps = not (px.size == 0 or (px.min() >= 0.0 and px.max() < 360.0))
        if wraps:
            np.remainder(px, 360.0, out=px)
        px += west
    px -= st.c
    px /= st.a
    py -= st.f
    py /= st.e
    return px, py


def _transformer(src: str, dst: str) -> pyproj.Transformer:
    return transformer(src, dst)


def _sample(
    src: np.ndarray, offset: tuple[int, int], plan: _Plan, box: tuple[int, int, int, int]
) -> np.ndarray:
    """Sample the rows ``box[0]:box[1]`` and columns ``box[2]:box[3]`` of the grid.

    ``src`` is the source array or a window of it whose first cell is source cell
    ``offset`` (row, column).
    """
    r0, r1, c0, c1 = box
    out = np.empty((r1 - r0, c1 - c0), dtype=plan.dtype)
    k = plan.k
    sub = (np.arange(k) + 0.5) / k
    us = (np.arange(c0, c1)[:, None] + sub[None, :]).ravel()
    strip = max(1, _STRIP_POINTS // max(len(us) * k, 1))
    for start in range(r0, r1, strip):
        stop = min(start + strip, r1)
        vs = (np.arange(start, stop)[:, None] + sub[None, :]).ravel()
        col, row = _source_positions(plan, vs, us)
        if plan.method in ("bilinear", "average"):
            vals = _bilinear(src, offset, plan, col, row)
        else:
            vals = _nearest(src, offset, plan, col, row)
        if k > 1:
            vals = vals.reshape(stop - start, k, c1 - c0, k).transpose(0, 2, 1, 3)
            vals = vals.reshape(stop - start, c1 - c0, k * k)
            vals = _mean(vals) if plan.method == "average" else _mode(vals, plan.nodata)
        out[start - r0 : stop - r0] = vals
    return out


def _in_columns(plan: _Plan, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    nx = plan.src_shape[1]
    if plan.periodic:
        return j % nx, np.ones(j.shape, dtype=bool)
    return j, (j >= 0) & (j < nx)


def _gather(
    src: np.ndarray, offset: tuple[int, int], i: np.ndarray, j: np.ndarray, ok: np.ndarray
) -> np.ndarray:
    """``src[i - offset, j - offset]`` where ``ok``; arbitrary (in-range) values elsewhere."""
    h, w = src.shape
    ii = np.clip(i - offset[0], 0, h - 1)
    jj = np.clip(j - offset[1], 0, w - 1)
    return src.reshape(-1).take(np.where(ok, ii * w + jj, 0))


def _nearest(
    src: np.ndarray, offset: tuple[int, int], plan: _Plan, col: np.ndarray, row: np.ndarray
) -> np.ndarray:
    ny, nx = plan.src_shape
    h, w = src.shape
    col, row, finite = _finite_positions(col, row)
    i = np.floor(row).astype(np.intp)
    j = np.floor(col).astype(np.intp)
    ok = (i >= 0) & (i < ny)
    if finite is not None:
        ok &= finite
    if plan.periodic:
        np.remainder(j, nx, out=j)
    else:
        ok &= (j >= 0) & (j < nx)
    # flat index into the window, clipped where ``ok`` is False (those cells get nodata)
    i -= offset[0]
    np.clip(i, 0, h - 1, out=i)
    j -= offset[1]
    np.clip(j, 0, w - 1, out=j)
    i *= w
    i += j
    vals = src.reshape(-1).take(i)
    return np.where(ok, vals, plan.nodata).astype(plan.dtype, copy=False)


def _finite_positions(
    col: np.ndarray, row: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Return ``col``, ``row`` with non-finite positions set to -10 (outside), and the mask.

    The mask of finite positions is None when all are finite.
    """
    finite = np.isfinite(col)
    finite &= np.isfinite(row)
    if finite.all():
        return col, row, None
    return np.where(finite, col, -10.0), np.where(finite, row, -10.0), finite


def _bilinear(
    src: np.ndarray, offset: tuple[int, int], plan: _Plan, col: np.ndarray, row: np.ndarray
) -> np.ndarray:
    """Bilinear samples, weights renormalized over the corners with data.

    Fast path: plain bilinear interpolation (along columns, then rows; float64), with
    corners outside the source folded onto the edge (the same as renormalizing over
    the corners inside).  A point that comes out non-finite had a
    corner without data, and only those points go through the renormalizing
    :func:`_bilinear_renormalized`.
    """
    ny, nx = plan.src_shape
    h, w = src.shape
    wrap = plan.periodic and w == nx
    if h < 2 or (w < 2 and not wrap):
        return _bilinear_renormalized(src, offset, plan, col, row)
    col, row, finite = _finite_positions(col, row)
    inside = row >= 0
    inside &= row <= ny
    if finite is not None:
        inside &= finite
    if not plan.periodic:
        inside &= col >= 0
        inside &= col <= nx
    # rows (window coordinates): upper corner row clipped to [0, h - 2], the fraction to
    # [0, 1]; a point beyond the first/last row centre then takes that row (weight 1)
    rc = row - 0.5
    i0 = _window_index(rc, offset[0], h)
    fr = _fraction(rc, i0, offset[0])
    del rc
    cc = col - 0.5
    flat = src.reshape(-1)
    base = i0
    base *= w
    if wrap:
        j0 = np.floor(cc).astype(np.intp)
        fc = np.subtract(cc, j0)
        np.remainder(j0, nx, out=j0)
        j1 = j0 + 1
        j1[j1 == nx] = 0
        idx = base + j0
        v00 = flat.take(idx)
        np.add(base, j1, out=idx)
        v01 = flat.take(idx)
        base += w
        np.add(base, j0, out=idx)
        v10 = flat.take(idx)
        np.add(base, j1, out=idx)
        v11 = flat.take(idx)
        del j0, j1
    else:
        j0 = _window_index(cc, offset[1], w)
        fc = _fraction(cc, j0, offset[1])
        idx = base
        idx += j0
        v00 = flat.take(idx)
        idx += 1
        v01 = flat.take(idx)
        idx += w
        v11 = flat.take(idx)
        idx -= 1
        v10 = flat.take(idx)
        del j0
    del idx, base, cc
    # (1 - t) a + t b in float64, exact at t = 0 and t = 1 (cell centres, edges folded
    # onto a row); the corner values are read in the source's precision
    fc_c, fr_c = np.subtract(1.0, fc), np.subtract(1.0, fr)
    with np.errstate(invalid="ignore", over="ignore"):
        top = np.multiply(v00, fc_c)  # top: v00 (1 - fc) + v01 fc
        part = np.multiply(v01, fc)
        np.add(top, part, out=top)
        low = np.multiply(v10, fc_c)  # bottom: v10 (1 - fc) + v11 fc
        np.multiply(v11, fc, out=part)
        np.add(low, part, out=low)
        np.multiply(top, fr_c, out=top)  # top (1 - fr) + bottom fr
        np.multiply(low, fr, out=low)
        np.add(top, low, out=top)
    vals: np.ndarray = top
    del v00, v01, v10, v11, fc_c, fr_c, part, low
    redo = ~np.isfinite(vals)
    redo &= inside
    if redo.any():
        pick = np.flatnonzero(redo)
        vals.reshape(-1)[pick] = _bilinear_renormalized(
            src, offset, plan, col.reshape(-1)[pick], row.reshape(-1)[pick]
        )
    vals[~inside] = np.nan
    return vals.astype(plan.dtype, copy=False)


def _window_index(c: np.ndarray, offset: int, n: int) -> np.ndarray:
    """``floor(c) - offset`` clipped to ``[0, n - 2]`` (first of two neighbouring cells)."""
    i = c.astype(np.intp)  # truncation: equals floor wherever the clip keeps the value
    if offset:
        i -= offset
    np.clip(i, 0, n - 2, out=i)
    return i


def _fraction(c: np.ndarray, i: np.ndarray, offset: int) -> np.ndarray:
    """``c - floor(c)`` (the same bits), or 0 / 1 where ``i`` was clipped below / above."""
    f = np.subtract(c, i + offset if offset else i)
    np.clip(f, 0.0, 1.0, out=f)
    return f


def _bilinear_renormalized(
    src: np.ndarray, offset: tuple[int, int], plan: _Plan, col: np.ndarray, row: np.ndarray
) -> np.ndarray:
    ny, nx = plan.src_shape
    finite = np.isfinite(col) & np.isfinite(row)
    col = np.where(finite, col, -10.0)
    row = np.where(finite, row, -10.0)
    inside = finite & (row >= 0) & (row <= ny)
    if not plan.periodic:
        inside &= (col >= 0) & (col <= nx)
    rc, cc = row - 0.5, col - 0.5
    i0 = np.floor(rc).astype(np.intp)
    j0 = np.floor(cc).astype(np.intp)
    fr, fc = rc - i0, cc - j0
    total = np.zeros(col.shape, dtype="float64")
    weight = np.zeros(col.shape, dtype="float64")
    for di, dj, w in (
        (0, 0, (1 - fr) * (1 - fc)),
        (0, 1, (1 - fr) * fc),
        (1, 0, fr * (1 - fc)),
        (1, 1, fr * fc),
    ):
        i = i0 + di
        j, ok = _in_columns(plan, j0 + dj)
        ok &= inside & (i >= 0) & (i < ny)
        v = _gather(src, offset, i, j, ok)
        good = ok & np.isfinite(v) & (w > 0)
        total += np.where(good, w * v, 0.0)
        weight += np.where(good, w, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        vals = np.where(weight > 0, total / np.where(weight > 0, weight, 1.0), np.nan)
    return vals.astype(plan.dtype, copy=False)


def _mean(vals: np.ndarray) -> np.ndarray:
    good = np.isfinite(vals)
    count = good.sum(axis=-1)
    total = np.where(good, vals, 0.0).sum(axis=-1, dtype="float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan).astype(vals.dtype)


def _mode(vals: np.ndarray, nodata: float | int) -> np.ndarray:
    """Most frequent value along the last axis, ignoring ``nodata`` (ties: smaller value)."""
    s = np.sort(vals, axis=-1)
    m = s.shape[-1]
    change = np.ones(s.shape, dtype=bool)
    change[..., 1:] = s[..., 1:] != s[..., :-1]
    idx = np.broadcast_to(np.arange(m), s.shape)
    start = np.maximum.accumulate(np.where(change, idx, 0), axis=-1)
    run = idx - start + 1
    run = np.where(s == nodata, 0, run)
    best = np.argmax(run, axis=-1)
    mode = np.take_along_axis(s, best[..., None], axis=-1)[..., 0]
    none = np.take_along_axis(run, best[..., None], axis=-1)[..., 0] == 0
    return np.where(none, nodata, mode).astype(vals.dtype)


# --------------------------------------------------------------------------- blocks


def _window(plan: _Plan, box: tuple[int, int, int, int]) -> tuple[slice, slice] | None:
    """Source rows/columns a grid block reads (padded); None when it reads none."""
    r0, r1, c0, c1 = box
    s = plan.step
    # bilinear interpolation between lattice nodes (cell centres of every s-th cell) peaks
    # at the nodes or at the block edges
    vs = np.unique(np.concatenate([[r0, r1], np.arange(-(-r0 // s) * s, r1, s) + 0.5]))
    us = np.unique(np.concatenate([[c0, c1], np.arange(-(-c0 // s) * s, c1, s) + 0.5]))
    vs, us = np.clip(vs, r0, r1), np.clip(us, c0, c1)
    col, row = _source_positions(plan, vs.astype("float64"), us.astype("float64"))
    ny, nx = plan.src_shape
    ok = np.isfinite(col) & np.isfinite(row)
    if not ok.any():
        return None
    pad = 2 + plan.k
    rmin, rmax = math.floor(row[ok].min()) - pad, math.ceil(row[ok].max()) + pad
    if rmax < 0 or rmin >= ny:
        return None
    rows = slice(max(rmin, 0), min(rmax + 1, ny))
    if not ok.all():
        return rows, slice(0, nx)
    cmin, cmax = math.floor(col.min()) - pad, math.ceil(col.max()) + pad
    if plan.periodic and (cmin < 0 or cmax >= nx):
        return rows, slice(0, nx)
    if cmax < 0 or cmin >= nx:
        return None
    return rows, slice(max(cmin, 0), min(cmax + 1, nx))


def _lazy_sample(values: Any, plan: _Plan, grid: GeoBox, block: tuple[int, int]) -> Any:
    import dask
    import dask.array as dsa

    windowed = hasattr(values, "dask")
    shared = None if windowed else dask.delayed(np.asarray(values), pure=True)
    rows = []
    for row in block_slices(tuple(grid.shape), block):
        blocks = []
        for rs, cs in row:
            box = (rs.start, rs.stop, cs.start, cs.stop)
            shape = (rs.stop - rs.start, cs.stop - cs.start)
            if windowed:
                window = _window(plan, box)
                if window is None:
                    blocks.append(dsa.full(shape, plan.nodata, dtype=plan.dtype, chunks=shape))
                    continue
                src: Any = values[window]
                offset = (window[0].start, window[1].start)
            else:
                src, offset = shared, (0, 0)
            part = dask.delayed(_sample, pure=True)(src, offset, plan, box)
            blocks.append(dsa.from_delayed(part, shape=shape, dtype=plan.dtype))
        rows.append(blocks)
    return dsa.block(rows)

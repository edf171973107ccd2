"""Kernel density of points (e.g. occurrences of chosen commodities), per km²."""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox

from geomap.errors import DataError, ParameterError
from geomap.evidence._common import finish, padded_chunks, padded_grid, provenance_source
from geomap.grid import Chunks, positive_length, resolve_chunks
from geomap.grid.rasterize import features_in_grid_crs

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["KERNELS", "density_kernel", "point_density"]

KERNELS = ("gaussian", "quartic")
"""Kernel shapes understood by :func:`point_density`."""

_GAUSSIAN_TRUNCATE = 4.0


def density_kernel(bandwidth_m: float, resolution_m: float, kernel: str = "gaussian") -> np.ndarray:
    """Return the discrete kernel (odd square array summing to 1) on cells of ``resolution_m``.

    ``gaussian``: ``exp(-r² / 2h²)`` with ``h = bandwidth_m``, truncated at ``4h``
    (the 0.03 % of the mass beyond is dropped, the rest renormalized).
    ``quartic`` (biweight): ``(1 - r²/h²)²`` for ``r < h``, zero beyond.
    Each cell takes the kernel at its centre's distance from the centre cell.
    """
    h = positive_length("bandwidth_m", bandwidth_m)
    res = positive_length("resolution_m", resolution_m)
    if kernel not in KERNELS:
        raise ParameterError(f"kernel={kernel!r}: use one of {', '.join(KERNELS)}")
    reach = _GAUSSIAN_TRUNCATE * h if kernel == "gaussian" else h
    radius = max(math.ceil(reach / res), 0)
    offsets = np.arange(-radius, radius + 1) * res
    r2 = offsets[:, None] ** 2 + offsets[None, :] ** 2
    if kernel == "gaussian":
        k = np.exp(-r2 / (2.0 * h * h))
        k[r2 > reach * reach] = 0.0
    else:
        k = np.clip(1.0 - r2 / (h * h), 0.0, None) ** 2
    if k.sum() == 0:  # bandwidth below half a cell: all mass in the centre cell
        k[radius, radius] = 1.0
    return k / k.sum()


def point_density(
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    grid: GeoBox,
    *,
    bandwidth_m: float,
    kernel: Literal["gaussian", "quartic"] = "gaussian",
    weights: str | None = None,
    chunks: Chunks = None,
    name: str = "density",
    source: str | Sequence[str] | None = None,
) -> xr.DataArray:
    """Kernel density of points in points per km² (or weight per km²).

    Points are counted per cell (on the grid grown by the kernel radius, so points
    just outside the region still contribute) and the counts are convolved (FFT)
    with the normalized kernel divided by the cell area in km².  One point
    therefore contributes a total of exactly 1 over the cells its kernel covers
    (``sum(density) * cell_area_km2 == 1``).

    Parameters
    ----------
    points : GeoDataFrame or GeoSeries
        Point (or multipoint) features with a CRS.
    grid : GeoBox
        The analysis grid (projected, metres; equal-area, so km² are true km²).
    bandwidth_m : float
        Kernel bandwidth in metres (Gaussian standard deviation, or the quartic
        kernel's radius); must be greater than zero.
    kernel : {"gaussian", "quartic"}
        Kernel shape (see :func:`density_kernel`).
    weights : str, optional
        A numeric column weighting each point (e.g. tonnage); rows with a
        missing weight are skipped with a warning.
    chunks : None, "auto", int or (int, int)
        Dask-backed result; each block is convolved with a halo of the kernel
        radius, so values equal the whole-grid result (to floating-point rounding).
    name : str, default "density"
        Layer name.
    source : str or list of str, optional
        Dataset ids for the provenance (default: read from the points' attrs).

    Returns
    -------
    xarray.DataArray
        float32 points per km², ``geomap_kind = "continuous"``.

    Raises
    ------
    ParameterError
        ``bandwidth_m`` zero or negative, unknown ``kernel``.
    DataError
        No points, non-point geometries, or a missing ``weights`` column.

    Notes
    -----
    A point's position is rounded to its cell's centre (at most half a cell
    diagonal), which is negligible when the bandwidth spans several cells; a
    warning is given when it does not.  Values below ``1e-9`` of one point's
    peak density are FFT round-off and are set to 0.
    """
    k = density_kernel(bandwidth_m, abs(grid.affine.a), kernel)
    if abs(grid.affine.a) > bandwidth_m:
        warnings.warn(
            f"point_density {name!r}: bandwidth_m={bandwidth_m} is smaller than a cell "
            f"({abs(grid.affine.a):g} m); the density is close to counts per cell",
            UserWarning,
            stacklevel=2,
        )
    geoms = features_in_grid_crs(points, grid, what="point_density")
    keep = ~(geoms.isna() | geoms.is_empty).to_numpy()
    if weights is not None:
        if weights not in getattr(points, "columns", []):
            raise DataError(f"point_density {name!r}: no weights column {weights!r}")
        w = np.asarray(points[weights], dtype="float64")
        bad = keep & ~np.isfinite(w)
        if bad.any():
            warnings.warn(
                f"point_density {name!r}: skipped {int(bad.sum())} points without a weight",
                UserWarning,
                stacklevel=2,
            )
        keep &= np.isfinite(w)
    else:
        w = np.ones(len(geoms))
    geoms, w = geoms[keep], w[keep]
    if len(geoms) == 0:
        raise DataError(
            f"point_density {name!r}: no points (empty selection); check the commodity or "
            "deposit-type selector and the region"
        )
    import shapely

    type_ids = np.unique(shapely.get_type_id(geoms.values))
    if not set(type_ids.tolist()) <= {0, 4}:  # Point, MultiPoint
        names = sorted({shapely.GeometryType(int(i)).name for i in type_ids})
        raise DataError(
            f"point_density {name!r}: needs points, got {names}; use "
            "distance_to for lines and polygons or take centroids first"
        )

    xy, index = shapely.get_coordinates(geoms.values, return_index=True)
    w = w[index]
    radius = k.shape[0] // 2
    cell_km2 = abs(grid.affine.a * grid.affine.e) / 1e6
    big = padded_grid(grid, radius)
    rows, cols, w = _cells(xy, w, big)
    block = resolve_chunks(chunks, tuple(grid.shape))
    floor = 1e-9 * float(k.max()) / cell_km2
    ny, nx = grid.shape
    if block is None:
        counts = np.zeros(tuple(big.shape), dtype="float64")
        np.add.at(counts, (rows, cols), w)
        data: Any = _convolve(counts, k, cell_km2, floor)[
            radius : radius + ny, radius : radius + nx
        ]
    else:
        counts_da = _lazy_counts(
            rows, cols, w, tuple(big.shape), padded_chunks((ny, nx), block, radius)
        )
        dens = counts_da.map_overlap(
            _convolve,
            depth=radius,
            boundary="none",
            trim=True,
            dtype="float32",
            kernel=k,
            cell_km2=cell_km2,
            floor=floor,
        )
        data = dens[radius : radius + ny, radius : radius + nx]
    params = {"bandwidth_m": float(bandwidth_m), "kernel": kernel, "weights": weights}
    params["n_points"] = len(geoms)
    return finish(
        data,
        grid,
        name=name,
        kind="continuous",
        function="density",
        params=params,
        source=provenance_source(points, source),
        units="weight per km2" if weights else "points per km2",
        long_name=f"kernel density of {name}",
    )


def _cells(
    xy: np.ndarray, w: np.ndarray, grid: GeoBox
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = grid.affine
    cols = np.floor((xy[:, 0] - a.c) / a.a)
    rows = np.floor((xy[:, 1] - a.f) / a.e)
    ok = (rows >= 0) & (rows < grid.shape.y) & (cols >= 0) & (cols < grid.shape.x)
    return rows[ok].astype(np.intp), cols[ok].astype(np.intp), w[ok]


def _count_block(
    rows: np.ndarray, cols: np.ndarray, w: np.ndarray, rs: slice, cs: slice
) -> np.ndarray:
    out = np.zeros((rs.stop - rs.start, cs.stop - cs.start), dtype="float64")
    sel = (rows >= rs.start) & (rows < rs.stop) & (cols >= cs.start) & (cols < cs.stop)
    np.add.at(out, (rows[sel] - rs.start, cols[sel] - cs.start), w[sel])
    return out


def _lazy_counts(
    rows: np.ndarray,
    cols: np.ndarray,
    w: np.ndarray,
    shape: tuple[int, ...],
    chunks: tuple[tuple[int, ...], tuple[int, ...]],
) -> Any:
    import dask
    import dask.array as dsa

    row_edges = np.cumsum((0, *chunks[0]))
    col_edges = np.cumsum((0, *chunks[1]))
    out = []
    for r0, r1 in itertools.pairwise(row_edges):
        parts = []
        for c0, c1 in itertools.pairwise(col_edges):
            rs, cs = slice(int(r0), int(r1)), slice(int(c0), int(c1))
            sel = (rows >= r0) & (rows < r1) & (cols >= c0) & (cols < c1)
            if sel.any():
                part = dask.delayed(_count_block, pure=True)(rows[sel], cols[sel], w[sel], rs, cs)
                parts.append(dsa.from_delayed(part, shape=(r1 - r0, c1 - c0), dtype="float64"))
            else:
                parts.append(
                    dsa.zeros((r1 - r0, c1 - c0), dtype="float64", chunks=(r1 - r0, c1 - c0))
                )
        out.append(parts)
    return dsa.block(out)


def _convolve(counts: np.ndarray, kernel: np.ndarray, cell_km2: float, floor: float) -> np.ndarray:
    from scipy.signal import fftconvolve

    if not counts.any():
        return np.zeros(counts.shape, dtype="float32")
    dens = fftconvolve(counts, kernel, mode="same") / cell_km2
    dens[dens < floor] = 0.0
    return dens.astype("float32")

"""Continuous evidence: reprojected grids and geochemical surfaces from sample points."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox

from geomap.errors import DataError, ParameterError
from geomap.evidence._common import finish, provenance_source
from geomap.grid import Chunks, block_slices, positive_length, reproject_to, resolve_chunks
from geomap.grid.rasterize import features_in_grid_crs

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = ["continuous", "geochem_surface", "interpolate_points", "sample_values"]

_STRIP_CELLS = 2**20


def continuous(
    raster: xr.DataArray,
    grid: GeoBox,
    *,
    resampling: str | None = None,
    chunks: Chunks = None,
    name: str | None = None,
    units: str | None = None,
    source: str | Sequence[str] | None = None,
) -> xr.DataArray:
    """Bring a geophysical or topographic grid onto the analysis grid as evidence.

    Bilinear (``average`` when the grid is coarser than the source); cells the
    source does not cover, or covers with nodata, are NaN.  See
    :func:`geomap.grid.reproject_to`.

    Parameters
    ----------
    raster : xarray.DataArray
        Single band with a CRS and declared nodata; NumPy- or Dask-backed.
    grid : GeoBox
        The analysis grid.
    resampling : {"bilinear", "nearest", "average"}, optional
        Override the default.
    chunks : None, "auto", int or (int, int)
        Dask-backed result.
    name, units : str, optional
        Layer name and units (default: the raster's).
    source : str or list of str, optional
        Dataset ids for the provenance.
    """
    out = reproject_to(raster, grid, resampling=resampling, chunks=chunks)
    label = name or str(raster.name or "continuous")
    return finish(
        out.data,
        grid,
        name=label,
        kind="continuous",
        function="continuous",
        params={"resampling": resampling or "auto"},
        source=provenance_source(raster, source),
        units=units if units is not None else str(raster.attrs.get("units", "")),
        long_name=str(raster.attrs.get("long_name", label)),
    )


def sample_values(
    samples: Any,
    *,
    elements: Sequence[str],
    ratio_to: Sequence[str] | None = None,
    log: bool = False,
) -> tuple[np.ndarray, int]:
    """Combine element columns per sample: ``sum(elements) [/ sum(ratio_to)]``, then log10.

    A sample with a missing, zero or negative concentration in any of the columns
    used (below detection, not analysed) gets NaN: censored values are not
    invented.  Returns the values and how many samples were left without one.

    Raises
    ------
    DataError
        A column that the samples do not have.
    """
    columns = list(elements) + list(ratio_to or [])
    if not elements:
        raise ParameterError("elements must name at least one column, e.g. ['La', 'Ce', 'Nd']")
    missing = [c for c in columns if c not in samples.columns]
    if missing:
        known = [c for c in samples.columns if c != "geometry"]
        raise DataError(f"no column(s) {missing} in the samples; available: {known}")
    table = samples[columns].apply(lambda s: np.asarray(s, dtype="float64")).to_numpy()
    valid = np.isfinite(table).all(axis=1) & (table > 0).all(axis=1)
    top = table[:, : len(elements)].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = top / table[:, len(elements) :].sum(axis=1) if ratio_to else top
        if log:
            value = np.log10(value)
    value = np.where(valid & np.isfinite(value), value, np.nan)
    return value, int((~np.isfinite(value)).sum())


def geochem_surface(
    samples: gpd.GeoDataFrame,
    grid: GeoBox,
    *,
    elements: Sequence[str],
    ratio_to: Sequence[str] | None = None,
    log: bool = False,
    search_radius_m: float,
    power: float = 2.0,
    min_samples: int = 3,
    max_samples: int = 12,
    chunks: Chunks = None,
    name: str = "geochem",
    source: str | Sequence[str] | None = None,
) -> xr.DataArray:
    """Inverse-distance-weighted surface of a geochemical value, masked far from samples.

    The value of each sample is ``sum(elements)`` (e.g. La+Ce+Nd), optionally
    divided by ``sum(ratio_to)`` and log10-transformed (a log-ratio); see
    :func:`sample_values`.  Each cell takes the IDW mean (weights ``1/d**power``)
    of its ``max_samples`` nearest samples within ``search_radius_m``; a cell
    with fewer than ``min_samples`` samples within ``search_radius_m`` is NaN.
    That is the sample-density mask: the surface exists only where the sampling
    supports it.  A cell centre on a sample takes that sample's value.

    Parameters
    ----------
    samples : GeoDataFrame
        Sample points with a CRS and the element columns.
    grid : GeoBox
        The analysis grid.
    elements : list of str
        Columns summed into the value (ppm).
    ratio_to : list of str, optional
        Columns summed into the denominator.
    log : bool, default False
        Take log10 of the value.
    search_radius_m : float
        Radius in metres of the samples considered (and of the mask).
    power : float, default 2
        IDW power.
    min_samples, max_samples : int
        Fewest samples a cell needs within the radius; most samples used.
    chunks : None, "auto", int or (int, int)
        Dask-backed result (each cell is computed independently: equal values).
    name : str, default "geochem"
        Layer name.
    source : str or list of str, optional
        Dataset ids for the provenance.

    Raises
    ------
    ParameterError
        Non-positive radius or power, or ``min_samples`` > ``max_samples``.
    DataError
        Missing columns, or no sample with a usable value.
    """
    radius = positive_length("search_radius_m", search_radius_m)
    if not (isinstance(power, int | float) and math.isfinite(power) and power > 0):
        raise ParameterError(f"power={power!r} must be a number greater than 0 (e.g. 2)")
    if not (1 <= int(min_samples) <= int(max_samples)):
        raise ParameterError(
            f"min_samples={min_samples!r}, max_samples={max_samples!r}: need "
            "1 <= min_samples <= max_samples"
        )
    geoms = features_in_grid_crs(samples, grid, what="geochem_surface")
    values, n_missing = sample_values(samples, elements=elements, ratio_to=ratio_to, log=log)
    ok = np.isfinite(values) & ~(geoms.isna() | geoms.is_empty).to_numpy()
    if not ok.any():
        raise DataError(
            f"geochem_surface {name!r}: none of the {len(values)} samples has a usable "
            f"value of {list(elements)}; check the columns and below-detection codes"
        )
    if n_missing:
        warnings.warn(
            f"geochem_surface {name!r}: {n_missing} of {len(values)} samples have no usable "
            f"value (missing, zero or negative) and are left out",
            UserWarning,
            stacklevel=2,
        )
    xy = np.column_stack([geoms.x.to_numpy()[ok], geoms.y.to_numpy()[ok]])
    data = interpolate_points(
        xy,
        values[ok],
        grid,
        radius=radius,
        power=float(power),
        min_samples=int(min_samples),
        max_samples=int(max_samples),
        chunks=chunks,
    )
    params = {
        "elements": list(elements),
        "ratio_to": list(ratio_to) if ratio_to else None,
        "log": log,
        "search_radius_m": radius,
        "power": float(power),
        "min_samples": int(min_samples),
        "max_samples": int(max_samples),
        "n_samples": int(ok.sum()),
        "n_samples_without_value": n_missing,
    }
    label = "+".join(elements) + (f"/({'+'.join(ratio_to)})" if ratio_to else "")
    return finish(
        data,
        grid,
        name=name,
        kind="continuous",
        function="geochem",
        params=params,
        source=provenance_source(samples, source),
        units=("log10 " if log else "") + ("ratio" if ratio_to else "ppm"),
        long_name=f"{'log10 ' if log else ''}{label} (IDW, masked beyond {radius:g} m)",
    )


def interpolate_points(
    xy: np.ndarray,
    values: np.ndarray,
    grid: GeoBox,
    *,
    radius: float,
    power: float = 2.0,
    min_samples: int = 1,
    max_samples: int = 12,
    chunks: Chunks = None,
) -> Any:
    """IDW of point values onto ``grid`` cell centres, NaN where the sampling is too sparse.

    Each cell takes the inverse-distance mean (weights ``1/d**power``) of its
    ``max_samples`` nearest points within ``radius``; fewer than ``min_samples``
    points within ``radius`` gives NaN (the sample-density mask); a cell centre on
    a point takes that point's value.  ``xy`` are in the grid's CRS.  Returns a
    float32 NumPy array, or a Dask array in ``chunks`` blocks with the same values.
    """
    from scipy.spatial import cKDTree

    tree = cKDTree(xy)
    opts: dict[str, Any] = {
        "values": np.asarray(values, dtype="float64"),
        "radius": float(radius),
        "power": float(power),
        "min_samples": int(min_samples),
        "max_samples": int(max_samples),
    }
    block = resolve_chunks(chunks, tuple(grid.shape))
    ny, nx = grid.shape
    if block is None:
        return _idw_block(tree, grid, slice(0, ny), slice(0, nx), **opts)
    import dask
    import dask.array as dsa

    shared = dask.delayed(tree, pure=False)
    shared_values = dask.delayed(opts.pop("values"), pure=True)
    rows = []
    for row in block_slices((ny, nx), block):
        parts = []
        for rs, cs in row:
            part = dask.delayed(_idw_block, pure=True)(
                shared, grid, rs, cs, values=shared_values, **opts
            )
            shape = (rs.stop - rs.start, cs.stop - cs.start)
            parts.append(dsa.from_delayed(part, shape=shape, dtype="float32"))
        rows.append(parts)
    return dsa.block(rows)


def _idw_block(
    tree: Any,
    grid: GeoBox,
    rows: slice,
    cols: slice,
    *,
    values: np.ndarray,
    radius: float,
    power: float,
    min_samples: int,
    max_samples: int,
) -> np.ndarray:
    a = grid.affine
    ys = a.f + (np.arange(rows.start, rows.stop) + 0.5) * a.e
    xs = a.c + (np.arange(cols.start, cols.stop) + 0.5) * a.a
    out = np.empty((len(ys), len(xs)), dtype="float32")
    k = min(max_samples, len(values))
    strip = max(1, _STRIP_CELLS // max(len(xs) * k, 1))
    for start in range(0, len(ys), strip):
        yy, xx = np.meshgrid(ys[start : start + strip], xs, indexing="ij")
        dist, idx = tree.query(
            np.column_stack([xx.ravel(), yy.ravel()]), k=k, distance_upper_bound=radius
        )
        dist, idx = dist.reshape(len(dist), k), idx.reshape(len(idx), k)
        found = np.isfinite(dist)
        enough = found.sum(axis=1) >= min_samples
        vals = np.where(found, values[np.minimum(idx, len(values) - 1)], 0.0)
        exact = found & (dist == 0)
        with np.errstate(divide="ignore"):
            w = np.where(found & ~exact, 1.0 / np.maximum(dist, 1e-300) ** power, 0.0)
        has_exact = exact.any(axis=1)
        w = np.where(has_exact[:, None], exact.astype("float64"), w)
        total = (w * vals).sum(axis=1)
        weight = w.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            surface = np.where(enough & (weight > 0), total / weight, np.nan)
        out[start : start + strip] = surface.reshape(yy.shape)
    return out

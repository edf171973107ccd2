"""Derived continuous evidence: gravity disturbance, gradients, tilt derivative, slope, relief.

Each function takes a source raster and the analysis grid.  The derivative is
computed on a *work grid*: the analysis grid itself, or, with
``at_resolution_m``, a coarser grid in the same CRS (cell edges on multiples of
that resolution) whose result is then interpolated bilinearly onto the analysis
grid.  Use it when the source is much coarser than the analysis grid (EMAG2 at
1°, the 10' gravity and topography): a derivative taken at 1 km of a surface
interpolated from 20-100 km data measures the interpolation, not the geology.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyproj
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox

from geomap.errors import DataError, ParameterError
from geomap.evidence._common import apply_local, finish, is_dask, provenance_source
from geomap.grid import (
    Chunks,
    check_same_grid,
    grid_crs,
    grid_of,
    grid_to_dataarray,
    positive_length,
    reproject_to,
    resolve_chunks,
    transformer,
)

__all__ = [
    "WGS84_NORMAL_GRAVITY",
    "coarse_grid",
    "gravity_disturbance",
    "horizontal_gradient",
    "normal_gravity",
    "relief",
    "slope",
    "tilt_derivative",
    "vertical_derivative",
]

WGS84_NORMAL_GRAVITY = {
    "a": 6378137.0,  # semi-major axis, m
    "f": 1 / 298.257223563,  # flattening
    "gm": 3.986004418e14,  # geocentric gravitational constant, m³/s²
    "omega": 7.292115e-5,  # angular velocity, rad/s
    "gamma_a": 9.7803253359,  # normal gravity at the equator, m/s²
    "gamma_b": 9.8321849378,  # normal gravity at the poles, m/s²
}
"""Defining and derived constants of the WGS84 ellipsoid (NIMA TR8350.2, 2000)."""


# --------------------------------------------------------------------------- work grid


def coarse_grid(grid: GeoBox, resolution_m: float) -> GeoBox:
    """Return a grid of ``resolution_m`` cells in ``grid``'s CRS covering its whole extent.

    Cell edges fall on multiples of ``resolution_m`` (like :func:`region_grid`).
    """
    res = positive_length("at_resolution_m", resolution_m)
    a = grid.affine
    left, top = a.c, a.f
    right, bottom = a.c + grid.shape.x * a.a, a.f + grid.shape.y * a.e
    x0, x1 = math.floor(left / res) * res, math.ceil(right / res) * res
    y0, y1 = math.floor(bottom / res) * res, math.ceil(top / res) * res
    shape = (max(round((y1 - y0) / res), 1), max(round((x1 - x0) / res), 1))
    return GeoBox(shape, Affine(res, 0.0, x0, 0.0, -res, y1), grid.crs)


def _same_grid(layer: xr.DataArray, grid: GeoBox) -> bool:
    try:
        check_same_grid(grid, grid_of(layer))
    except Exception:
        return False
    return True


def _derive(
    source: xr.DataArray,
    grid: GeoBox,
    operation: Callable[[Any, GeoBox], Any],
    *,
    at_resolution_m: float | None,
    chunks: Chunks,
) -> Any:
    """Run ``operation(values, work_grid)`` on the work grid and return values on ``grid``."""
    if not grid_crs(grid).is_projected:
        raise DataError("derived layers need a projected grid in metres; use region_grid()")
    if at_resolution_m is None:
        on = source if _same_grid(source, grid) else reproject_to(source, grid, chunks=chunks)
        values = on.data
        block = resolve_chunks(chunks, tuple(grid.shape))
        if block is not None and not is_dask(values):
            import dask.array as dsa

            values = dsa.from_array(np.asarray(values), chunks=block)
        return operation(values, grid)
    work_grid = coarse_grid(grid, at_resolution_m)
    on = reproject_to(source, work_grid)
    derived = grid_to_dataarray(np.asarray(operation(on.data, work_grid)), work_grid)
    return reproject_to(derived, grid, resampling="bilinear", chunks=chunks).data


def _cell_sizes(grid: GeoBox) -> tuple[float, float]:
    return abs(grid.affine.e), abs(grid.affine.a)


# --------------------------------------------------------------------------- gravity


def normal_gravity(latitude_deg: Any, height_m: Any) -> Any:
    """Return WGS84 normal gravity (mGal) at a geodetic latitude and ellipsoidal height.

    On the ellipsoid, Somigliana's closed formula::

        γ0(φ) = (a·γa·cos²φ + b·γb·sin²φ) / sqrt(a²·cos²φ + b²·sin²φ)

    and above it the second-order expansion in height (Heiskanen & Moritz 1967,
    *Physical Geodesy*, eq. 2-215)::

        γ(φ, h) = γ0(φ) · [1 − 2/a · (1 + f + m − 2f·sin²φ) · h + 3/a² · h²],
        m = ω²·a²·b / GM

    with the WGS84 constants in :data:`WGS84_NORMAL_GRAVITY`.  At h = 10 km the
    neglected third-order term is about (h/a)³·γ ≈ 4e-3 mGal.

    Parameters
    ----------
    latitude_deg : array-like
        Geodetic latitude in degrees.
    height_m : array-like
        Height above the ellipsoid in metres.

    Returns
    -------
    array-like
        Normal gravity in mGal (1 mGal = 1e-5 m/s²).

    Examples
    --------
    >>> round(float(normal_gravity(0.0, 0.0)), 4), round(float(normal_gravity(90.0, 0.0)), 4)
    (978032.5336, 983218.4938)
    """
    c = WGS84_NORMAL_GRAVITY
    a, f = c["a"], c["f"]
    b = a * (1 - f)
    m = c["omega"] ** 2 * a**2 * b / c["gm"]
    phi = np.radians(latitude_deg)
    sin2, cos2 = np.sin(phi) ** 2, np.cos(phi) ** 2
    gamma0 = (a * c["gamma_a"] * cos2 + b * c["gamma_b"] * sin2) / np.sqrt(
        a**2 * cos2 + b**2 * sin2
    )
    h = height_m
    factor = 1 - 2 / a * (1 + f + m - 2 * f * sin2) * h + 3 / a**2 * h**2
    return gamma0 * factor * 1e5


def _source_latitudes(source: xr.DataArray) -> Any:
    crs = source.rio.crs
    xdim, ydim = source.rio.x_dim, source.rio.y_dim
    x, y = source[xdim].values, source[ydim].values
    pcrs = pyproj.CRS.from_wkt(crs.to_wkt())
    if pcrs.is_geographic:
        return xr.DataArray(y, dims=(ydim,), coords={ydim: y})
    xx, yy = np.meshgrid(x, y)
    to_geo = transformer(pcrs, pcrs.geodetic_crs)
    _, lat = to_geo.transform(xx, yy)
    return xr.DataArray(lat, dims=(ydim, xdim), coords={ydim: y, xdim: x})


def gravity_disturbance(
    total_gravity: xr.DataArray,
    grid: GeoBox,
    *,
    height_m: float | None = None,
    at_resolution_m: float | None = None,
    chunks: Chunks = None,
    name: str = "gravity_disturbance",
    source: str | Sequence[str] | None = None,
) -> xr.DataArray:
    """Gravity disturbance: total gravity minus WGS84 normal gravity at the same point, mGal.

    The subtraction is done on the source grid, where each node's geodetic
    latitude and height are known, with :func:`normal_gravity`; the result is
    then interpolated onto the analysis grid.  For the Fatiando 10' EIGEN-6C4
    grid (total gravity at 10 km above the ellipsoid) this gives the gravity
    disturbance at 10 km, the field free of the ellipsoid's latitude trend.

    Parameters
    ----------
    total_gravity : xarray.DataArray
        Magnitude of gravity in mGal, with a CRS.  Its computation height is
        taken from ``attrs["geomap_height"]`` or a ``height`` coordinate (m above
        the ellipsoid) when present.
    grid : GeoBox
        The analysis grid.
    height_m : float, optional
        Height of the grid above the ellipsoid, when the data has no ``height``.
    at_resolution_m : float, optional
        Not needed (no derivative is taken); accepted for a uniform interface.
    chunks : None, "auto", int or (int, int)
        Dask-backed result.
    name : str
        Layer name.
    source : str or list of str, optional
        Dataset ids for the provenance.

    Raises
    ------
    ParameterError
        No height known, or ``height_m`` contradicts the data's ``height``.
    DataError
        Values that are not total gravity (median below 900,000 mGal).
    """
    height = _gravity_height(total_gravity, height_m)
    lat = _source_latitudes(total_gravity)
    disturbance = total_gravity - normal_gravity(lat, height)
    disturbance = disturbance.rio.write_crs(total_gravity.rio.crs)
    nodata = total_gravity.rio.nodata
    if nodata is not None and not np.isnan(nodata):
        disturbance = disturbance.where(total_gravity != nodata)
    disturbance = disturbance.rio.write_nodata(np.nan, encoded=False)
    disturbance.name = name
    work_grid = grid if at_resolution_m is None else coarse_grid(grid, at_resolution_m)
    on = reproject_to(disturbance, work_grid, chunks=chunks if work_grid is grid else None)
    if work_grid is not grid:
        on = reproject_to(on, grid, resampling="bilinear", chunks=chunks)
    params = {"height_m": height if np.ndim(height) == 0 else "from data", "formula": "WGS84"}
    params["at_resolution_m"] = at_resolution_m
    return finish(
        on.data,
        grid,
        name=name,
        kind="continuous",
        function="gravity_disturbance",
        params=params,
        source=provenance_source(total_gravity, source),
        units="mGal",
        long_name="gravity disturbance (total gravity minus WGS84 normal gravity)",
    )


def _gravity_height(total_gravity: xr.DataArray, height_m: float | None) -> Any:
    median = float(np.nanmedian(np.asarray(total_gravity.data[::10, ::10])))
    if not median > 900_000:
        raise DataError(
            f"gravity_disturbance: values have a median of {median:.1f}, not total gravity "
            "in mGal (about 978,000-983,000); pass the total-gravity grid, not an anomaly"
        )
    data_height: Any = None
    if "geomap_height" in total_gravity.attrs:  # set by geomap's netCDF grid reader
        data_height = float(total_gravity.attrs["geomap_height"])
    elif "height" in total_gravity.coords:
        h = np.asarray(total_gravity.coords["height"].values, dtype="float64")
        data_height = float(h.flat[0]) if np.allclose(h, h.flat[0]) else h
    if data_height is None and height_m is None:
        raise ParameterError(
            "gravity_disturbance: the grid's height above the ellipsoid is unknown; "
            "pass height_m=... (10000 for the Fatiando 10' EIGEN-6C4 grid)"
        )
    if (data_height is not None and height_m is not None) and (
        np.ndim(data_height) or not math.isclose(data_height, height_m, abs_tol=0.5)
    ):
        raise ParameterError(
            f"gravity_disturbance: height_m={height_m} contradicts the data's height "
            f"coordinate ({np.min(data_height):g}-{np.max(data_height):g} m); drop height_m"
        )
    return data_height if data_height is not None else float(height_m)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- derivatives


def _gradients(values: np.ndarray, grid: GeoBox) -> tuple[np.ndarray, np.ndarray]:
    dy_m, dx_m = _cell_sizes(grid)
    v = np.asarray(values, dtype="float64")
    if v.shape[0] < 2 or v.shape[1] < 2:
        return np.full(v.shape, np.nan), np.full(v.shape, np.nan)
    # rows run north to south: d/dy(north) = -d/drow
    d_row, d_col = np.gradient(v, dy_m, dx_m)
    return d_col, -d_row


def horizontal_gradient(
    raster: xr.DataArray,
    grid: GeoBox,
    *,
    at_resolution_m: float | None = None,
    chunks: Chunks = None,
    name: str = "horizontal_gradient",
    source: str | Sequence[str] | None = None,
) -> xr.DataArray:
    """Magnitude of the horizontal gradient, ``sqrt((∂f/∂x)² + (∂f/∂y)²)``, per km.

    Central differences (one-sided at the grid edge) on the work grid; a cell next
    to a gap is NaN.  Units: the source's units per km.
    """

    def op(values: Any, work: GeoBox) -> Any:
        def func(v: np.ndarray) -> np.ndarray:
            gx, gy = _gradients(v, work)
            return (np.hypot(gx, gy) * 1000.0).astype("float32")

        return apply_local(values, func, depth=1)

    data = _derive(raster, grid, op, at_resolution_m=at_resolution_m, chunks=chunks)
    units = str(raster.attrs.get("units", ""))
    return finish(
        data,
        grid,
        name=name,
        kind="continuous",
        function="horizontal_gradient",
        params={"at_resolution_m": at_resolution_m},
        source=provenance_source(raster, source),
        units=f"{units}/km" if units else "per km",
        long_name=f"horizontal gradient magnitude of {raster.name}",
    )


def vertical_derivative(values: np.ndarray, grid: GeoBox) -> np.ndarray:
    """First vertical derivative (z positive down) of a potential field by FFT, per metre.

    ``F[∂f/∂z] = |k| · F[f]`` with ``|k| = 2π·sqrt(u² + v²)`` (u, v in cycles per
    metre).  Gaps are filled with the mean before the transform (and are NaN in
    the result); the mean is removed and the grid is mirrored on every side to
    avoid the wrap-around edge of the FFT.
    """
    v = np.asarray(values, dtype="float64")
    valid = np.isfinite(v)
    if not valid.any():
        return np.full(v.shape, np.nan)
    filled = np.where(valid, v, np.nanmean(v)) - np.nanmean(v)
    ny, nx = filled.shape
    padded = np.pad(filled, ((ny // 2, ny // 2), (nx // 2, nx // 2)), mode="symmetric")
    dy_m, dx_m = _cell_sizes(grid)
    ky = np.fft.fftfreq(padded.shape[0], d=dy_m)
    kx = np.fft.rfftfreq(padded.shape[1], d=dx_m)
    k = 2 * np.pi * np.hypot(ky[:, None], kx[None, :])
    dz = np.fft.irfft2(np.fft.rfft2(padded) * k, s=padded.shape)
    out = dz[ny // 2 : ny // 2 + ny, nx // 2 : nx // 2 + nx]
    return np.where(valid, out, np.nan)


def tilt_angle(values: np.ndarray, grid: GeoBox) -> np.ndarray:
    """Tilt angle ``arctan(∂f/∂z / |∇h f|)`` in radians (Miller & Singh 1994)."""
    dz = vertical_derivative(values, grid)
    gx, gy = _gradients(values, grid)
    return np.arctan2(dz, np.hypot(gx, gy)).astype("float32")


def tilt_derivative(
    raster: xr.DataArray,
    grid: GeoBox,
    *,
    at_resolution_m: float | None = None,
    chunks: Chunks = None,
    name: str = "tilt_derivative",
    source: str | Sequence[str] | None = None,
) -> xr.DataArray:
    """Tilt derivative of a magnetic (or gravity) anomaly, radians in [-π/2, π/2].

    ``TDR = arctan(VDR / THDR)``: the vertical derivative by FFT
    (:func:`vertical_derivative`) over the total horizontal derivative (central
    differences).  It normalizes anomalies of different amplitudes; its zero
    contour tracks the edges of magnetized bodies (Miller & Singh 1994, Journal
    of Applied Geophysics 32, 213-217).

    The FFT needs the whole work grid at once: on Dask the work grid is one
    block (its memory is one layer of the work grid), so use ``at_resolution_m``
    for large grids; the result is equal to the in-memory one.
    """

    def op(values: Any, work: GeoBox) -> Any:
        if is_dask(values):
            whole = values.rechunk(values.shape)
            out = whole.map_blocks(tilt_angle, work, dtype="float32")
            return out.rechunk(values.chunks)
        return tilt_angle(values, work)

    data = _derive(raster, grid, op, at_resolution_m=at_resolution_m, chunks=chunks)
    return finish(
        data,
        grid,
        name=name,
        kind="continuous",
        function="tilt_derivative",
        params={"at_resolution_m": at_resolution_m},
        source=provenance_source(raster, source),
        units="rad",
        long_name=f"tilt derivative of {raster.name}",
    )


def slope(
    dem: xr.DataArray,
    grid: GeoBox,
    *,
    at_resolution_m: float | None = None,
    chunks: Chunks = None,
    name: str = "slope",
    source: str | Sequence[str] | None = None,
) -> xr.DataArray:
    """Terrain slope in degrees, ``arctan(|∇z|)``, from elevations in metres."""

    def op(values: Any, work: GeoBox) -> Any:
        def func(v: np.ndarray) -> np.ndarray:
            gx, gy = _gradients(v, work)
            return np.degrees(np.arctan(np.hypot(gx, gy))).astype("float32")

        return apply_local(values, func, depth=1)

    data = _derive(dem, grid, op, at_resolution_m=at_resolution_m, chunks=chunks)
    return finish(
        data,
        grid,
        name=name,
        kind="continuous",
        function="slope",
        params={"at_resolution_m": at_resolution_m},
        source=provenance_source(dem, source),
        units="degree",
        long_name="terrain slope",
    )


def relief(
    dem: xr.DataArray,
    grid: GeoBox,
    *,
    radius_m: float,
    at_resolution_m: float | None = None,
    chunks: Chunks = None,
    name: str = "relief",
    source: str | Sequence[str] | None = None,
) -> xr.DataArray:
    """Local relief: highest minus lowest elevation within ``radius_m`` of each cell, metres.

    The window is the disc of cells whose centres lie within ``radius_m``; cells
    without data (and the area outside the grid) are ignored; a cell without
    data stays NaN.

    Raises
    ------
    ParameterError
        ``radius_m`` zero or negative.
    """
    radius = positive_length("radius_m", radius_m)

    def op(values: Any, work: GeoBox) -> Any:
        dy_m, dx_m = _cell_sizes(work)
        ry, rx = math.floor(radius / dy_m), math.floor(radius / dx_m)
        oy, ox = np.ogrid[-ry : ry + 1, -rx : rx + 1]
        footprint = (oy * dy_m) ** 2 + (ox * dx_m) ** 2 <= radius**2

        def func(v: np.ndarray) -> np.ndarray:
            from scipy.ndimage import maximum_filter, minimum_filter

            v = np.asarray(v, dtype="float64")
            good = np.isfinite(v)
            hi = maximum_filter(
                np.where(good, v, -np.inf), footprint=footprint, mode="constant", cval=-np.inf
            )
            lo = minimum_filter(
                np.where(good, v, np.inf), footprint=footprint, mode="constant", cval=np.inf
            )
            return np.where(good, hi - lo, np.nan).astype("float32")

        return apply_local(values, func, depth=max(ry, rx))

    data = _derive(dem, grid, op, at_resolution_m=at_resolution_m, chunks=chunks)
    return finish(
        data,
        grid,
        name=name,
        kind="continuous",
        function="relief",
        params={"radius_m": radius, "at_resolution_m": at_resolution_m},
        source=provenance_source(dem, source),
        units="m",
        long_name=f"local relief within {radius:g} m",
    )

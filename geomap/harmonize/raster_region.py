"""Rasters into a region's analysis grid (the raster half of :func:`geomap.harmonize.to_region`).

One route, one resampling: the raster is checked (CRS, coordinates, a declared nodata
for class rasters), cut to the region's window in its own CRS without resampling
(continuous across the antimeridian for geographic rasters), and put on the region's
analysis grid (:func:`geomap.grid.region_grid`, or the ``geobox`` given) by
:func:`geomap.grid.reproject_to`, the same sampler recipes use.  Inside the region's
box the result equals ``reproject_to(raster, grid)`` cell for cell (cells whose centre lies
outside the box are nodata), and putting it on the same grid again changes nothing.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyproj

from geomap.errors import DataError
from geomap.harmonize.crs import _report_dict, check_coordinates, require_crs, transformer_for
from geomap.harmonize.region_frame import _frame, _wrap, region_polygon

if TYPE_CHECKING:
    import xarray as xr

    from geomap.catalog import Region

__all__: list[str] = []


def _raster_to_region(
    da: xr.DataArray,
    region: Region,
    *,
    strict: bool | None,
    max_error_m: float,
    resolution: float | None,
    resampling: str | None,
    geobox: Any,
    margin_deg: float,
) -> xr.DataArray:
    from geomap.grid import region_grid, reproject_to, resampling_for

    source = require_crs(da, "the raster")
    if da.dims != ("y", "x"):
        raise DataError(f"raster dims are {da.dims}; expected ('y', 'x') (use .transpose)")
    report = _report_dict(da)
    xs, ys = da["x"].to_numpy(), da["y"].to_numpy()
    if xs.size < 2 or ys.size < 2:
        raise DataError(f"raster of shape {da.shape} is too small to reproject (need 2 x 2)")
    gx, gy = np.meshgrid(xs[[0, xs.size // 2, -1]], ys[[0, ys.size // 2, -1]])
    check_coordinates(
        gx.ravel(), gy.ravel(), source, what="raster corner/centre cells", margin_deg=1e9
    )
    west, south, east, north, frame_west = _frame(region)
    kind: Literal["continuous", "categorical"] = "continuous"
    if da.dtype.kind in "iub":
        kind = "categorical"
        nodata = da.rio.nodata if da.rio.nodata is not None else da.rio.encoded_nodata
        if nodata is None:
            raise DataError(
                "integer raster without a declared nodata value; declare one with "
                ".rio.write_nodata(value) so cells outside the data stay nodata"
            )
        if da.dtype.kind == "b":  # class codes 0/1 (and the declared nodata)
            da = da.astype("uint8").rio.write_nodata(int(nodata), encoded=False)
    dx = float(abs(xs[1] - xs[0]))
    dy = float(abs(ys[1] - ys[0]))
    if source.is_geographic:
        native_res = 0.5 * (
            dx * 111_320.0 * math.cos(math.radians((south + north) / 2)) + dy * 110_574.0
        )
    else:
        native_res = float(np.mean(np.abs(da.rio.resolution())))
    if geobox is None:
        res = float(resolution) if resolution is not None else _nice(native_res)
        geobox = region_grid(region, res)
    # the window reaches one target cell (and two source cells) past the region's box, so
    # cells at the box's edge sample (or average over) the same source cells as inside it
    reach_m = abs(float(geobox.affine.a))
    if source.is_geographic:
        widest = math.cos(math.radians(min(max(abs(south), abs(north)), 89.0)))
        reach_x, reach_y = reach_m / (111_320.0 * widest), reach_m / 110_574.0
        da = _geographic_window(
            da,
            west - 2 * dx - reach_x,
            east + 2 * dx + reach_x,
            south - 2 * dy - reach_y,
            north + 2 * dy + reach_y,
            frame_west,
            source,
        )
    else:
        bounds = region_polygon(region, crs=source).bounds
        pad = 2 * native_res + reach_m / _metres_per_unit(source)
        da = da.rio.clip_box(bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad)
    _, info = transformer_for(
        source, region.pyproj_crs, area=region.bbox, strict=strict, max_error_m=max_error_m
    )
    method = resampling_for(da, geobox, kind=kind, resampling=resampling)
    out = reproject_to(da, geobox, kind=kind, resampling=method)
    out = _clip_to_box(out, region_polygon(region), out.attrs.get("_FillValue"))
    report["records_out"] = int(np.prod(out.shape))
    report["notes"] = [
        *report.get("notes", []),
        f"reprojected to region {region.id!r} ({info.target_crs}) on a "
        f"{out.sizes['y']} x {out.sizes['x']} grid of {reach_m:g} m "
        f"with {method} resampling; operation {info.operation!r}",
    ]
    kept = {k: v for k, v in da.attrs.items() if k not in _ENCODING_ATTRS}
    out.attrs = {
        **kept,
        **out.attrs,
        "geomap_report": report,
        "geomap_crs_operation": info.to_dict(),
        "geomap_region": region.id,
        "geomap_resampling": method,
    }
    return out


def _clip_to_box(out: xr.DataArray, box: Any, nodata: Any) -> xr.DataArray:
    """Set the cells whose centre lies outside the region's box (in the grid's CRS) to nodata."""
    import shapely

    xs, ys = out["x"].to_numpy(), out["y"].to_numpy()
    shapely.prepare(box)
    fill = np.nan if nodata is None else nodata

    def clip(block: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
        xx, yy = np.meshgrid(xs[cols], ys[rows])
        inside = shapely.contains_xy(box, xx, yy)
        return np.where(inside, block, np.asarray(fill, dtype=block.dtype))

    values: Any = out.data
    if hasattr(values, "dask"):

        def clip_block(block: np.ndarray, block_info: Any = None) -> np.ndarray:
            (r0, r1), (c0, c1) = block_info[0]["array-location"]
            return clip(block, slice(r0, r1), slice(c0, c1))

        clipped = values.map_blocks(clip_block, dtype=values.dtype)
    else:
        clipped = clip(np.asarray(values), slice(None), slice(None))
    return out.copy(data=clipped)


_ENCODING_ATTRS = ("_FillValue", "missing_value", "scale_factor", "add_offset")
"""Source attributes that describe the source's encoding, not the reprojected layer's."""


def _metres_per_unit(crs: pyproj.CRS) -> float:
    """Metres in one unit of a projected CRS's x axis (1 when unknown)."""
    factor = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return float(factor) if factor and math.isfinite(factor) else 1.0


def _nice(value: float) -> float:
    """Round a cell size to two significant digits (14,837 m -> 15,000 m)."""
    if value <= 0 or not math.isfinite(value):
        raise DataError(f"cannot derive an output resolution from {value!r}; pass resolution=")
    exponent = math.floor(math.log10(value)) - 1
    return round(value / 10**exponent) * 10**exponent


def _geographic_window(
    da: xr.DataArray,
    west: float,
    east: float,
    south: float,
    north: float,
    frame_west: float,
    source: pyproj.CRS,
) -> xr.DataArray:
    """Cut the region's window from a geographic raster, continuous across the antimeridian."""
    import xarray as xr

    lon = _wrap(da["x"].to_numpy(), frame_west)
    lat = da["y"].to_numpy()
    cols = np.flatnonzero((lon >= west) & (lon <= east))
    rows = np.flatnonzero((lat >= south) & (lat <= north))
    if cols.size < 2 or rows.size < 2:
        raise DataError(
            f"the raster does not cover the region box {west:g}..{east:g}E, "
            f"{south:g}..{north:g}N; choose a raster that covers the region"
        )
    order = cols[np.argsort(lon[cols], kind="stable")]
    new_lon = lon[order]
    keep = np.concatenate([[True], np.diff(new_lon) > 1e-9])  # duplicate seam column
    order, new_lon = order[keep], new_lon[keep]
    steps = np.diff(new_lon)
    if steps.size and not np.allclose(steps, steps[0], rtol=1e-6, atol=1e-9):
        raise DataError(
            "the raster's longitudes are not regularly spaced inside the region window; "
            "resample it to a regular grid first"
        )
    window = da.isel(x=xr.DataArray(order, dims="x"), y=rows).assign_coords(x=new_lon)
    crs_text = source.to_wkt()
    if new_lon.min() < -180.0 or new_lon.max() > 180.0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # geographic CRS: PROJ string is exact
            proj4 = source.to_proj4()
        # PROJ's lon_wrap keeps longitudes continuous around the region's centre meridian
        crs_text = f"{proj4} +lon_wrap={frame_west + 180.0:g}"
    window = window.rio.write_crs(crs_text)
    window = window.rio.write_transform(window.rio.transform(recalc=True))
    return window

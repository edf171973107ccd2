"""Rasters into a region's analysis CRS (the raster half of :func:`geomap.harmonize.to_region`)."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING, Any

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
    import xarray as xr
    from odc.geo.geobox import GeoBox
    from odc.geo.xr import xr_reproject

    source = require_crs(da, "the raster")
    if da.dims != ("y", "x"):
        raise DataError(f"raster dims are {da.dims}; expected ('y', 'x') (use .transpose)")
    target = region.pyproj_crs
    report = _report_dict(da)
    xs, ys = da["x"].to_numpy(), da["y"].to_numpy()
    if xs.size < 2 or ys.size < 2:
        raise DataError(f"raster of shape {da.shape} is too small to reproject (need 2 x 2)")
    gx, gy = np.meshgrid(xs[[0, xs.size // 2, -1]], ys[[0, ys.size // 2, -1]])
    check_coordinates(
        gx.ravel(), gy.ravel(), source, what="raster corner/centre cells", margin_deg=1e9
    )
    west, south, east, north, frame_west = _frame(region)
    if resampling is None:
        resampling = "nearest" if da.dtype.kind in "iub" else "bilinear"
    if da.dtype.kind in "iub":
        nodata = da.rio.nodata if da.rio.nodata is not None else da.rio.encoded_nodata
        if nodata is None:
            raise DataError(
                "integer raster without a declared nodata value; declare one with "
                ".rio.write_nodata(value) so cells outside the data stay nodata"
            )
        dst_nodata: Any = nodata
    else:
        da = da.astype("float32") if da.dtype != np.float64 else da
        nodata = da.rio.nodata
        if nodata is not None and not np.isnan(nodata):
            da = da.where(da != nodata)
        da = da.rio.write_nodata(np.nan, encoded=False)
        dst_nodata = np.nan
    if source.is_geographic:
        dx = float(abs(xs[1] - xs[0]))
        dy = float(abs(ys[1] - ys[0]))
        da = _geographic_window(
            da, west - 2 * dx, east + 2 * dx, south - 2 * dy, north + 2 * dy, frame_west, source
        )
        native_res = 0.5 * (
            dx * 111_320.0 * math.cos(math.radians((south + north) / 2)) + dy * 110_574.0
        )
    else:
        native_res = float(np.mean(np.abs(da.rio.resolution())))
        bounds = region_polygon(region, crs=source).bounds
        pad = 2 * native_res
        da = da.rio.clip_box(bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad)
    transformer, info = transformer_for(
        source, target, area=region.bbox, strict=strict, max_error_m=max_error_m
    )
    del transformer
    if geobox is None:
        res = float(resolution) if resolution is not None else _nice(native_res)
        box = region_polygon(region).bounds
        geobox = GeoBox.from_bbox(box, crs=target.to_wkt(), resolution=res)
    attrs = dict(da.attrs)
    out = xr_reproject(da, geobox, resampling=resampling, dst_nodata=dst_nodata)
    if "spatial_ref" not in out.coords:
        out = out.rio.write_crs(target)
    out = out.rio.write_crs(target).rio.write_nodata(dst_nodata, encoded=False)
    out = out.rio.write_transform(out.rio.transform(recalc=True))
    total = int(np.prod(out.shape))
    report["records_out"] = total
    report["notes"] = [
        *report.get("notes", []),
        f"reprojected to region {region.id!r} ({info.target_crs}) on a "
        f"{out.sizes['y']} x {out.sizes['x']} grid of {abs(out.rio.resolution()[0]):g} m "
        f"with {resampling} resampling; operation {info.operation!r}",
    ]
    attrs.update(
        geomap_report=report,
        geomap_crs_operation=info.to_dict(),
        geomap_region=region.id,
        geomap_resampling=resampling,
    )
    out.attrs = attrs
    out.name = da.name
    if not isinstance(out, xr.DataArray):  # pragma: no cover - xr_reproject contract
        raise DataError("reprojection did not return a DataArray")
    return out


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

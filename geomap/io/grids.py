"""Readers for gridded data: ``netcdf-grid``, ``glim-grid``, ``gmt-grid`` and ``geotiff``.

Every raster comes back as an :class:`xarray.DataArray` with dims ``("y", "x")``,
``y`` descending (north up), cell-centre coordinates, the CRS and a transform
written with rioxarray, and nodata declared: NaN for continuous (float32)
grids, the source's fill value for class grids.  Pass ``chunks`` (e.g.
``{"y": 512, "x": 512}``) to get a Dask-backed array.

No-data is never guessed silently.  Values declared by the file (``_FillValue``,
``missing_value``, a GeoTIFF's nodata) are masked; values given with the
reader option ``nodata`` are masked too; and a grid whose remaining values
contain a typical sentinel (−9999, −99999, 9999999, ±1e20, ±3.4e38, ...)
without any declaration is refused with an error that names the value, its
count and the fix (``nodata=<value>`` to mask it, ``nodata="none"`` to keep
it as data).

Format specifics:

``netcdf-grid``
    CF grids (Fatiando gravity, geoid, topography).  ``layer`` picks the file
    (``reader_options.layers`` maps names to files; default each file's stem).
    Packed integers (``scale_factor``/``add_offset``) are decoded to float32.
    A longitude column duplicated at +180° (gridline registration) is dropped.
``glim-grid``
    GLiM class codes 1–16.  The file's rows run south to north whatever its
    GDAL ``GeoTransform`` attribute says; the ``lat`` variable is trusted and
    the rows are flipped north-up.
``gmt-grid``
    Old GMT native netCDF (EMAG2): a flat ``z`` vector with ``x_range``,
    ``y_range``, ``spacing``, ``dimension`` and ``node_offset`` (0 = gridline,
    1 = pixel registration); the first row is the north.
``geotiff``
    GeoTIFF/COG, opened with GDAL's GTiff driver only (a VRT renamed ``.tif``
    is refused); rotated transforms are refused.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyproj

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.errors import DataError
from geomap.io._crs_checks import resolve_crs
from geomap.io._formats import require_format
from geomap.io._gdal import open_raster
from geomap.io._reader_entry import attach_report, local_file, pick_layer, reject_unknown_options
from geomap.io.registry import reader

__all__ = [
    "SENTINELS",
    "read_geotiff",
    "read_geotiff_path",
    "read_glim_grid",
    "read_gmt_grid",
    "read_netcdf_grid",
]

SENTINELS = (
    -9999.0,
    -9999.99,
    -99999.0,
    -999999.0,
    9999.0,
    99999.0,
    999999.0,
    9999999.0,
    -32768.0,
    32767.0,
    65535.0,
    1e20,
    -1e20,
    1e30,
    -1e30,
    float(np.finfo("float32").max),
    float(-np.finfo("float32").max),
)
"""Values that, when present but undeclared, are taken as a sign of undeclared no-data."""


class _Unset:
    def __repr__(self) -> str:
        return "<from the file>"


_UNSET: Any = _Unset()


def _open_netcdf(path: Path, *, mask_and_scale: bool, chunks: Any) -> Any:
    import xarray as xr

    require_format(path, "netcdf", what="netCDF grid")
    try:
        return xr.open_dataset(
            path,
            engine="netcdf4",
            mask_and_scale=mask_and_scale,
            decode_times=False,
            chunks=chunks,
        )
    except (OSError, ValueError, RuntimeError) as exc:
        raise DataError(
            f"{path} cannot be read as netCDF ({exc}); it is truncated or corrupted: "
            "delete it and fetch it again"
        ) from None


def _is_lat(name: str, attrs: dict[str, Any]) -> bool:
    return (
        attrs.get("standard_name") == "latitude"
        or str(attrs.get("units", "")).lower() in ("degrees_north", "degree_north")
        or name.lower() in ("lat", "latitude")
    )


def _is_lon(name: str, attrs: dict[str, Any]) -> bool:
    return (
        attrs.get("standard_name") == "longitude"
        or str(attrs.get("units", "")).lower() in ("degrees_east", "degree_east")
        or name.lower() in ("lon", "long", "longitude")
    )


def _pick_variable(ds: Any, variable: str | None, path: Path) -> Any:
    candidates = [  # grids with extra dimensions too: _select_steps then asks for a step
        name for name, var in ds.data_vars.items() if var.ndim >= 2 and var.dtype.kind in "iuf"
    ]
    if variable is not None:
        if variable not in ds.data_vars:
            raise DataError(f"{path} has no variable {variable!r}; it has {list(ds.data_vars)}")
        return ds[variable]
    if len(candidates) != 1:
        raise DataError(
            f"{path} holds {len(candidates)} gridded data variables ({candidates}); "
            "choose one with the reader option variable="
        )
    return ds[candidates[0]]


def _file_crs(ds: Any, var: Any) -> Any:
    """Return the CRS a CF file declares: grid_mapping WKT, else a 'crs' attribute, else None."""
    mapping = var.attrs.get("grid_mapping") or var.encoding.get("grid_mapping")
    if mapping and mapping in ds.variables:
        attrs = ds[mapping].attrs
        for key in ("crs_wkt", "spatial_ref"):
            if attrs.get(key):
                return attrs[key]
        if attrs.get("grid_mapping_name") == "latitude_longitude":
            return "EPSG:4326"
    for attrs in (var.attrs, ds.attrs):
        text = attrs.get("crs")
        if isinstance(text, str) and text.strip():
            try:
                return pyproj.CRS.from_user_input(text.strip()).to_wkt()
            except pyproj.exceptions.CRSError:
                raise DataError(
                    f"the grid's 'crs' attribute {text!r} is not a CRS PROJ understands; "
                    "declare the CRS in the catalog entry"
                ) from None
    return None


def _check_undeclared(values: Any, nodata: Any, *, name: str, report: IngestReport) -> None:
    """Refuse sentinel values that were not declared as nodata (see module docstring)."""
    if isinstance(nodata, str) and nodata.lower() == "none":
        report.notes.append("nodata='none': sentinel-looking values kept as data")
        return
    data = values.data if hasattr(values, "data") else values
    lib: Any = np
    if hasattr(data, "compute"):
        import dask.array as lib
    sentinels = np.asarray(SENTINELS, dtype=data.dtype if data.dtype.kind == "f" else "float64")
    hits = lib.isin(data, sentinels)
    count = int(hits.sum().compute() if hasattr(hits, "compute") else hits.sum())
    if count:
        present = lib.unique(lib.where(hits, data, np.nan))
        present = np.asarray(present.compute() if hasattr(present, "compute") else present)
        found = sorted({float(v) for v in present if np.isfinite(v)})
        raise DataError(
            f"{name}: {count} cells hold {found}, a typical no-data sentinel, but the file "
            "declares no nodata for it; pass the reader option nodata="
            f"{found[0]:g} to mask it (or nodata='none' if these are real values)"
        )


def _to_float(da: Any, nodata: Any, report: IngestReport) -> Any:
    """Float32 with NaN as nodata; an explicit numeric ``nodata`` is masked and counted."""
    out = da.astype("float32")
    if nodata is not _UNSET and not (isinstance(nodata, str) and nodata.lower() == "none"):
        value = float(nodata)
        hit = out == np.float32(value)
        count = int(hit.sum())
        out = out.where(~hit)
        report.normalize(f"cells equal to nodata {value:g} set to NaN", count)
    return out


def _mask_range(da: Any, valid_range: Any, report: IngestReport) -> Any:
    """Mask values outside ``valid_range`` (min, max), counting them."""
    if valid_range is None:
        return da
    try:
        low, high = (float(v) for v in valid_range)
    except (TypeError, ValueError):
        raise DataError(f"valid_range={valid_range!r} must be two numbers [min, max]") from None
    outside = (da < low) | (da > high)
    count = int(outside.sum())
    report.normalize(f"cells outside the valid range [{low:g}, {high:g}] set to NaN", count)
    return da.where(~outside)


def _north_up(
    da: Any, *, lat_name: str, lon_name: str, report: IngestReport, drop_seam: bool = True
) -> Any:
    """Rename to (y, x), sort north-up, check regular spacing, drop a duplicated 180° column."""
    da = da.rename({lat_name: "y", lon_name: "x"}).transpose("y", "x")
    x = np.asarray(da["x"].values, dtype="float64")
    y = np.asarray(da["y"].values, dtype="float64")
    if y.size > 1 and y[1] > y[0]:
        da = da.isel(y=slice(None, None, -1))
        report.normalize("rows reordered north-up (latitude ascending in the file)", int(y.size))
        y = y[::-1]
    for axis, values in (("x", x), ("y", y)):
        steps = np.diff(values)
        if steps.size and not np.allclose(steps, steps[0], rtol=1e-6, atol=1e-9):
            raise DataError(
                f"grid {axis} coordinates are not evenly spaced "
                f"(steps {steps.min():g}..{steps.max():g}); a regular grid is required"
            )
    if drop_seam and x.size > 2 and np.isclose(x[-1] - x[0], 360.0):
        first, last = da.isel(x=0), da.isel(x=-1)
        both = np.isfinite(first) & np.isfinite(last) if da.dtype.kind == "f" else True
        differ = int(((first != last) & both).sum())
        da = da.isel(x=slice(0, -1))
        report.normalize("duplicate 180° longitude column dropped (gridline registration)", 1)
        if differ:
            report.notes.append(f"the dropped 180° column differed from -180° in {differ} rows")
    return da


def _finish(
    da: Any,
    *,
    source: str,
    crs: pyproj.CRS,
    nodata: Any,
    name: str,
    attrs: dict[str, Any],
    report: IngestReport,
    dataset_id: str,
    layer: str | None,
) -> Any:
    import rioxarray  # noqa: F401  (registers the .rio accessor)

    da = da.drop_vars([c for c in da.coords if c not in ("x", "y")])
    da.name = name
    da.attrs = {}
    da.encoding = {}
    da = da.rio.write_crs(crs.to_wkt())
    da = da.rio.write_nodata(nodata, encoded=False)
    da = da.rio.write_transform(da.rio.transform(recalc=True))
    da.attrs.update({k: v for k, v in attrs.items() if v is not None})
    if not hasattr(da.data, "dask"):
        valid = np.isfinite(da.values) if da.dtype.kind == "f" else da.values != nodata
        if not valid.any():
            raise DataError(
                f"{source} ({name}): every cell is nodata ({nodata}); the grid holds no data: "
                "check the file, and remove a wrong nodata declaration from its catalog entry"
            )
    report.records_out = int(np.prod(da.shape))
    extra = {"geomap_layer": layer} if layer is not None else {}
    return attach_report(da, report, geomap_source=dataset_id, **extra)


def _layers(dataset: Dataset, declared: dict[str, str] | None) -> dict[str, str]:
    netcdfs = [f for f in dataset.files if f.format in ("netcdf", "gmt-netcdf", "geotiff")]
    if declared:
        out = {}
        for layer, filename in declared.items():
            match = [f.path for f in netcdfs if PurePosixPath(f.path).name == filename]
            if not match:
                raise DataError(
                    f"dataset {dataset.id!r}: layer {layer!r} names {filename!r}, which is not "
                    "one of its grid files; fix reader_options.layers in the catalog"
                )
            out[layer] = match[0]
        return out
    return {PurePosixPath(f.path).stem: f.path for f in netcdfs}


def _select_steps(var: Any, keep: tuple[str, str], select: dict[str, Any], path: Path) -> Any:
    """Reduce ``var`` to its two horizontal dims: one-step dims dropped, others selected."""
    if not isinstance(select, dict):
        raise DataError(f"select={select!r} must map dimension names to steps, e.g. {{time: 0}}")
    unknown = sorted(set(select) - set(var.dims))
    if unknown:
        raise DataError(
            f"{path}: select names {unknown}, not dimensions of {var.name!r} {var.dims}; "
            "use one of those dimension names"
        )
    for dim in [d for d in var.dims if d not in keep]:
        size = int(var.sizes[dim])
        if dim in select:
            step = select[dim]
            if isinstance(step, bool) or not isinstance(step, int) or not -size <= step < size:
                raise DataError(
                    f"{path}: select {dim}={step!r} is not a step of {dim!r} (0..{size - 1}); "
                    f"pass a whole number, e.g. --option select='{{{dim}: 0}}'"
                )
            var = var.isel({dim: step})
        elif size == 1:
            var = var.isel({dim: 0})
        else:
            raise DataError(
                f"{path}: variable {var.name!r} has a dimension {dim!r} of {size} steps besides "
                f"latitude and longitude; select one step, e.g. --option select='{{{dim}: 0}}' "
                f"(reader_options select: {{{dim}: 0}} in the catalog)"
            )
    return var


@reader("netcdf-grid")
def read_netcdf_grid(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    layers: dict[str, str] | None = None,
    variable: str | None = None,
    nodata: Any = _UNSET,
    valid_range: Any = None,
    chunks: Any = None,
    select: dict[str, int] | None = None,
    **options: Any,
) -> Any:
    """Read one CF netCDF grid as a float32 DataArray.

    Parameters
    ----------
    layer : str, optional
        Layer name (``reader_options.layers``), default the first.
    variable : str, optional
        The data variable when the file holds several.
    nodata : float or "none", optional
        Extra value to mask, or ``"none"`` to accept sentinel-looking values.
    valid_range : (float, float), optional
        Values outside are masked and counted.
    chunks : dict, optional
        Dask chunks; default reads into memory.
    select : dict, optional
        Step to read along each dimension besides latitude and longitude, e.g.
        ``{"time": 0}``.  A dimension of more than one step must be selected: it is never
        silently read at its first step.
    """
    reject_unknown_options(
        "netcdf-grid",
        options,
        ["layers", "variable", "nodata", "valid_range", "chunks", "select"],
    )
    available = _layers(dataset, layers)
    chosen = pick_layer(dataset.id, layer, available)
    entry = dataset.file(available[chosen])
    path = paths[entry.path]
    report = IngestReport(dataset.id)
    with _open_netcdf(path, mask_and_scale=True, chunks=chunks) as ds:
        var = _pick_variable(ds, variable, path)
        lat = next((d for d in var.dims if _is_lat(d, ds[d].attrs)), None)
        lon = next((d for d in var.dims if _is_lon(d, ds[d].attrs)), None)
        if lat is None or lon is None:
            raise DataError(
                f"{path}: cannot tell latitude and longitude apart in dims {var.dims} "
                "(no standard_name/units); the grid is not CF-compliant"
            )
        var = _select_steps(var, (lat, lon), select or {}, path)
        crs = resolve_crs(_file_crs(ds, var), entry.crs, source=str(path))
        attrs = {
            "long_name": var.attrs.get("long_name"),
            "units": var.attrs.get("units"),
            "geomap_registration": "gridline",
        }
        for coord_name, coord in var.coords.items():
            if coord_name not in (lat, lon) and coord.ndim > 0:
                values = np.unique(np.asarray(coord.values))
                if values.size == 1:
                    attrs[f"geomap_{coord_name}"] = float(values[0])
        report.records_in = int(np.prod(var.shape))
        da = _mask_range(_to_float(var, nodata, report), valid_range, report)
        if chunks is None:
            da = da.load()
        da = _north_up(da, lat_name=lat, lon_name=lon, report=report)
    if nodata is _UNSET or isinstance(nodata, str):
        _check_undeclared(da, nodata, name=str(path), report=report)
    return _finish(
        da,
        source=str(path),
        crs=crs,
        nodata=np.nan,
        name=var.name,
        attrs=attrs,
        report=report,
        dataset_id=dataset.id,
        layer=chosen,
    )


@reader("glim-grid")
def read_glim_grid(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    chunks: Any = None,
    **options: Any,
) -> Any:
    """Read the GLiM 0.5° lithology class grid (int16 codes 1–16, nodata −9999).

    The ``lat`` variable decides the row order (south to north in the file);
    the contradicting GDAL ``GeoTransform`` attribute is ignored and reported.
    Use :func:`geomap.harmonize.lithology.glim_to_lithology` for geomap classes.
    """
    from geomap.harmonize.lithology import load_lithology_vocabulary

    reject_unknown_options("glim-grid", options, ["chunks"])
    pick_layer(dataset.id, layer, {"lithology": None})
    entry = next(f for f in dataset.files if f.format == "netcdf")
    path = paths[entry.path]
    report = IngestReport(dataset.id)
    with _open_netcdf(path, mask_and_scale=False, chunks=chunks) as ds:
        var = _pick_variable(ds, None, path)
        lat = next((d for d in var.dims if _is_lat(d, ds[d].attrs)), None)
        lon = next((d for d in var.dims if _is_lon(d, ds[d].attrs)), None)
        if lat is None or lon is None:
            raise DataError(f"{path}: no latitude/longitude dimensions in {var.dims}")
        fill = var.attrs.get("_FillValue", var.encoding.get("_FillValue"))
        if fill is None:
            raise DataError(
                f"{path}: the class grid declares no _FillValue; cells without a class cannot "
                "be told apart: fix the file or declare nodata"
            )
        crs = resolve_crs(_file_crs(ds, var), entry.crs, source=str(path))
        mapping = var.attrs.get("grid_mapping")
        geotransform = ds[mapping].attrs.get("GeoTransform") if mapping in ds.variables else None
        report.records_in = int(np.prod(var.shape))
        da = var.astype("int16")
        if chunks is None:
            da = da.load()
        y = np.asarray(ds[lat].values)
        da = _north_up(da, lat_name=lat, lon_name=lon, report=report, drop_seam=False)
    if geotransform is not None and y.size > 1 and y[1] > y[0]:
        report.notes.append(
            f"GeoTransform attribute {geotransform.strip()!r} claims north-up rows but the lat "
            "variable ascends; trusted lat"
        )
    vocab = load_lithology_vocabulary()
    values = da.data
    codes = np.unique(values.compute() if hasattr(values, "compute") else values)
    bad = sorted(int(c) for c in codes if c != fill and int(c) not in vocab.glim)
    if bad:
        raise DataError(f"{path}: class codes {bad} are not GLiM codes 1-16; check the file")
    return _finish(
        da,
        source=str(path),
        crs=crs,
        nodata=int(fill),
        name="glim_class",
        attrs={
            "long_name": "GLiM lithology class (Hartmann & Moosdorf 2012)",
            "units": "1",
            "flag_values": sorted(vocab.glim),
            "flag_meanings": " ".join(
                vocab.glim_names[c].replace(" ", "_") for c in sorted(vocab.glim)
            ),
        },
        report=report,
        dataset_id=dataset.id,
        layer="lithology",
    )


@reader("gmt-grid")
def read_gmt_grid(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    nodata: Any = _UNSET,
    valid_range: Any = None,
    units: str | None = None,
    name: str | None = None,
    **options: Any,
) -> Any:
    """Read an old-style GMT native netCDF grid (flat ``z``) as a float32 DataArray.

    Parameters
    ----------
    nodata : float or "none"
        The sentinel the grid uses (EMAG2: −99999); undeclared sentinels are refused.
    valid_range : (float, float), optional
        Values outside are masked and counted (EMAG2's 1° resampling left
        −99722.15 in 722 cells next to the −99999 gaps).
    units, name : str, optional
        Units and variable name (the old format records neither reliably).
    """
    import xarray as xr

    reject_unknown_options("gmt-grid", options, ["nodata", "valid_range", "units", "name"])
    pick_layer(dataset.id, layer, {"grid": None})
    entry = next(f for f in dataset.files if f.format == "gmt-netcdf")
    path = paths[entry.path]
    report = IngestReport(dataset.id)
    with _open_netcdf(path, mask_and_scale=False, chunks=None) as ds:
        needed = {"x_range", "y_range", "spacing", "dimension", "z"}
        if needed - set(ds.variables):
            raise DataError(
                f"{path} is not an old-style GMT grid "
                f"(missing {sorted(needed - set(ds.variables))})"
            )
        x_range = np.asarray(ds["x_range"].values, dtype="float64")
        y_range = np.asarray(ds["y_range"].values, dtype="float64")
        nx, ny = (int(v) for v in np.asarray(ds["dimension"].values))
        registration = int(ds["z"].attrs.get("node_offset", 0))
        z = np.asarray(ds["z"].values, dtype="float32")
        z_units = ds["z"].attrs.get("units") or ds["z_range"].attrs.get("units")
    if z.size != nx * ny:
        raise DataError(
            f"{path}: z holds {z.size} values but dimension says {nx} x {ny}; the file is "
            "truncated or corrupted"
        )
    offset = 0.5 if registration == 1 else 0.0
    divisor_x = nx if registration == 1 else nx - 1
    divisor_y = ny if registration == 1 else ny - 1
    dx = (x_range[1] - x_range[0]) / divisor_x
    dy = (y_range[1] - y_range[0]) / divisor_y
    x = x_range[0] + (np.arange(nx) + offset) * dx
    y = y_range[1] - (np.arange(ny) + offset) * dy
    report.records_in = int(z.size)
    da = xr.DataArray(z.reshape(ny, nx), dims=("lat", "lon"), coords={"lat": y, "lon": x})
    da = da.where(np.isfinite(da))
    da = _to_float(da, nodata, report)
    da = _mask_range(da, valid_range, report)
    da = _north_up(da, lat_name="lat", lon_name="lon", report=report, drop_seam=registration == 0)
    if nodata is _UNSET or isinstance(nodata, str):
        _check_undeclared(da, nodata, name=str(path), report=report)
    crs = resolve_crs(None, entry.crs, source=str(path))
    return _finish(
        da,
        source=str(path),
        crs=crs,
        nodata=np.nan,
        name=name or "z",
        attrs={
            "long_name": name,
            "units": units or z_units,
            "geomap_registration": "pixel" if registration == 1 else "gridline",
        },
        report=report,
        dataset_id=dataset.id,
        layer="grid",
    )


def read_geotiff_path(
    path: Path,
    *,
    band: int = 1,
    declared_crs: str | None = None,
    nodata: Any = _UNSET,
    report: IngestReport | None = None,
    dataset_id: str = "(file)",
) -> Any:
    """Read one band of a GeoTIFF/COG with the GTiff driver only.

    Raises
    ------
    DataError
        Not a TIFF (e.g. a VRT renamed ``.tif``), truncated, rotated transform,
        or undeclared sentinel values.
    CRSError
        No CRS in the file and none declared.
    """
    import xarray as xr

    report = report or IngestReport(dataset_id)
    require_format(path, "geotiff", what="GeoTIFF")
    with open_raster(path, drivers=("GTiff",)) as src:
        if not 1 <= band <= src.count:
            raise DataError(f"{path} has {src.count} band(s); band={band} does not exist")
        transform = src.transform
        if transform.b != 0 or transform.d != 0:
            raise DataError(
                f"{path} has a rotated/sheared transform {tuple(transform)[:6]}; warp it to a "
                "north-up grid first (gdalwarp)"
            )
        try:
            values = src.read(band)
        except Exception as exc:  # rasterio raises several error types for truncated data
            raise DataError(
                f"{path}: reading band {band} failed ({exc}); the file is truncated or "
                "corrupted: fetch it again"
            ) from None
        file_nodata = src.nodata
        crs = resolve_crs(src.crs.to_wkt() if src.crs else None, declared_crs, source=str(path))
        height, width = src.height, src.width
    report.records_in += int(values.size)
    cols = transform.c + (np.arange(width) + 0.5) * transform.a
    rows = transform.f + (np.arange(height) + 0.5) * transform.e
    da = xr.DataArray(values, dims=("lat", "lon"), coords={"lat": rows, "lon": cols})
    if values.dtype.kind in "iub":
        if file_nodata is None and nodata is _UNSET:
            _check_undeclared(da, nodata, name=str(path), report=report)
        fill = file_nodata if nodata is _UNSET or isinstance(nodata, str) else nodata
        da = _north_up(da, lat_name="lat", lon_name="lon", report=report, drop_seam=False)
        return _finish(
            da,
            source=str(path),
            crs=crs,
            nodata=fill,
            name=path.stem,
            attrs={},
            report=report,
            dataset_id=dataset_id,
            layer=None,
        )
    if file_nodata is not None and np.isfinite(file_nodata):
        da = da.where(da != file_nodata)
    da = _to_float(da, nodata, report)
    if file_nodata is None and (nodata is _UNSET or isinstance(nodata, str)):
        _check_undeclared(da, nodata, name=str(path), report=report)
    da = _north_up(da, lat_name="lat", lon_name="lon", report=report, drop_seam=False)
    return _finish(
        da,
        source=str(path),
        crs=crs,
        nodata=np.nan,
        name=path.stem,
        attrs={},
        report=report,
        dataset_id=dataset_id,
        layer=None,
    )


@reader("geotiff")
def read_geotiff(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    layers: dict[str, str] | None = None,
    band: int = 1,
    nodata: Any = _UNSET,
    **options: Any,
) -> Any:
    """Read one GeoTIFF/COG layer of a catalog dataset (see :func:`read_geotiff_path`)."""
    reject_unknown_options("geotiff", options, ["layers", "band", "nodata"])
    available = _layers(dataset, layers)
    chosen = pick_layer(dataset.id, layer, available)
    relpath, path = local_file(dataset, paths, PurePosixPath(available[chosen]).name)
    da = read_geotiff_path(
        path,
        band=band,
        declared_crs=dataset.file(relpath).crs,
        nodata=nodata,
        report=IngestReport(dataset.id),
        dataset_id=dataset.id,
    )
    da.attrs["geomap_layer"] = chosen
    return da

"""Raster tables of a geomap GeoPackage: float values, class codes and RGBA renderings.

Helpers of :func:`geomap.export.gpkg.write_geopackage` (moved here to keep that module small):

* float values through GDAL's *2D gridded coverage* extension (TIFF tiles, NoData
  :data:`RASTER_NODATA` declared in ``data_null`` by the caller);
* prospectivity classes as integer codes (16-bit PNG tiles of the same extension, 0 = no
  data), the cells of ``prospectivity_classes.tif``;
* optional RGBA PNG tile tables ``<name>_rendered`` coloured like the map.

Every writer reads Dask-backed rasters in row blocks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from geomap.errors import CRSError, DataError, ExportError

GPKG_VERSION = "1.2"  # the most widely read version (GDAL >= 2.2, QGIS 3)
_ROWS_PER_BLOCK = 1024  # raster rows written per step (Dask-backed rasters are read in blocks)

# raster-name fragment -> branca colormap (same as the HTML map)
_RASTER_COLORMAPS = (
    ("uncertainty", "YlOrBr_09"),
    ("coverage", "PuBu_09"),
    ("prospectivity", "viridis"),
)
# NoData of the float gridded-coverage tables, declared in
# gpkg_2d_gridded_coverage_ancillary.data_null (NaN cannot be stored there: SQLite makes it NULL)
RASTER_NODATA = -3.4028234663852886e38


def _raster_colormap(name: str) -> str:
    for fragment, cmap in _RASTER_COLORMAPS:
        if fragment in name:
            return cmap
    return "plasma"


def _raster_blocks(data: Any) -> Iterable[tuple[int, np.ndarray]]:
    rows = int(data.sizes["y"])
    for start in range(0, rows, _ROWS_PER_BLOCK):
        block = data.isel(y=slice(start, start + _ROWS_PER_BLOCK))
        yield start, np.asarray(block.values, dtype="float32")


def _check_raster(data: Any, name: str) -> Any:
    if getattr(data, "dims", None) != ("y", "x"):
        raise DataError(
            f"raster {name!r} has dims {getattr(data, 'dims', None)}; give dims ('y', 'x')"
        )
    if data.rio.crs is None:
        raise CRSError(f"raster {name!r} has no CRS; set one with .rio.write_crs()")
    return data


def _write_raster(path: Path, name: str, data: Any, *, first: bool) -> dict[str, float]:
    """Write float values (gridded coverage, TIFF tiles); return the finite value range.

    GDAL failures while writing (a full disk, a read-only folder) surface from rasterio as
    ``RasterioError`` or, when rasterio fails to format GDAL's message, as ``TypeError``;
    both become an :class:`ExportError` naming the table.
    """
    with _table_errors(path, name):
        return _write_raster_table(path, name, data, first=first)


@contextmanager
def _table_errors(path: Path, name: str) -> Iterator[None]:
    """Turn GDAL's failures while writing table ``name`` into one :class:`ExportError`."""
    import rasterio

    try:
        yield
    except (rasterio.errors.RasterioError, TypeError) as exc:
        raise ExportError(
            f"writing raster table {name!r} to {path.name} failed ({exc}); "
            "free disk space or pick another, writable folder"
        ) from exc


def _open_table(path: Path, name: str, data: Any, *, count: int, dtype: str, **options: Any) -> Any:
    """Open a new raster table ``name`` of the GeoPackage at ``path`` on ``data``'s grid."""
    import rasterio

    return rasterio.open(
        path,
        "w",
        driver="GPKG",
        width=int(data.sizes["x"]),
        height=int(data.sizes["y"]),
        count=count,
        dtype=dtype,
        crs=data.rio.crs,
        transform=data.rio.transform(recalc=True),
        RASTER_TABLE=name,
        RASTER_IDENTIFIER=name,  # gpkg_contents.identifier is UNIQUE: the table name is
        **options,
    )


def _declared_nodata(data: Any) -> Any:
    """Return ``data``'s declared NoData value, or None when it has none or it is NaN."""
    nodata = data.rio.nodata
    if nodata is None or (isinstance(nodata, float) and math.isnan(nodata)):
        return None
    return nodata


def _write_raster_table(path: Path, name: str, data: Any, *, first: bool) -> dict[str, float]:
    from rasterio.windows import Window

    nodata = _declared_nodata(data)
    options = {
        "RASTER_DESCRIPTION": str(
            data.attrs.get("long_name") or data.attrs.get("description") or ""
        ),
        "TILE_FORMAT": "TIFF",
        "FIELD_NAME": name[:60],
        "QUANTITY_DEFINITION": str(data.attrs.get("long_name") or name),
        "GRID_CELL_ENCODING": "grid-value-is-area",
    }
    if data.attrs.get("units"):
        options["UOM"] = str(data.attrs["units"])
    if first:
        options["VERSION"] = GPKG_VERSION
    else:
        options["APPEND_SUBDATASET"] = "YES"
    lo, hi = math.inf, -math.inf
    with _open_table(
        path, name, data, count=1, dtype="float32", nodata=RASTER_NODATA, **options
    ) as dst:
        for start, block in _raster_blocks(data):
            if nodata is not None:
                block = np.where(block == nodata, np.nan, block)
            finite = block[np.isfinite(block)]
            if finite.size:
                lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
            block = np.where(np.isfinite(block), block, RASTER_NODATA).astype("float32")
            dst.write(block, 1, window=Window(0, start, block.shape[1], block.shape[0]))
        dst.update_tags(**_raster_tags(data))
    return {"min": lo, "max": hi}


def _class_table_name(name: str) -> str | None:
    """Return the class table written beside raster ``name``, or None (not prospectivity)."""
    if "prospectivity" in name and not name.endswith("_classes"):
        return f"{name}_classes"
    return None


def _write_class_table(path: Path, name: str, codes: Any, data: Any) -> None:
    """Write class codes (0 = no data) as an integer gridded-coverage table (PNG tiles).

    ``codes`` is the :meth:`geomap.classes.AreaClasses.classify` array of ``data`` (the whole
    grid: the tie rule reads cell positions).  The GeoPackage 2D gridded coverage extension
    stores integers losslessly in 16-bit PNG tiles; GDAL reads them back unchanged.
    """
    from rasterio.windows import Window

    with (
        _table_errors(path, name),
        _open_table(
            path,
            name,
            data,
            count=1,
            dtype="uint16",
            RASTER_DESCRIPTION="Prospectivity class by share of the study area "
            "(1 = top 1 %, 2 = top 5 %, 3 = top 10 %, 4 = top 20 %, 5 = top 50 %, 6 = rest; "
            "0 = no data)",
            TILE_FORMAT="PNG",
            FIELD_NAME="class",
            QUANTITY_DEFINITION="Prospectivity class (share of the study area)",
            GRID_CELL_ENCODING="grid-value-is-area",
            APPEND_SUBDATASET="YES",
        ) as dst,
    ):
        rows = int(data.sizes["y"])
        for start in range(0, rows, _ROWS_PER_BLOCK):
            block = np.asarray(codes[start : start + _ROWS_PER_BLOCK], dtype="uint16")
            dst.write(block, 1, window=Window(0, start, block.shape[1], block.shape[0]))
        dst.update_tags(
            LONG_NAME="Prospectivity class (share of the study area)",
            GEOMAP_ROLE="classes",
        )


def _raster_tags(data: Any) -> dict[str, str]:
    tags = {}
    for key in ("long_name", "units", "geomap_source", "geomap_params", "geomap_role"):
        value = data.attrs.get(key)
        if value is not None:
            tags[key.upper()] = value if isinstance(value, str) else json.dumps(value, default=str)
    return tags


def _write_rendered(
    path: Path,
    name: str,
    data: Any,
    colors: Sequence[tuple[int, int, int]],
    lo: float,
    hi: float,
    classes: Any = None,
) -> None:
    """Write an RGBA PNG tile table coloured like the HTML map (no data = transparent).

    With ``classes`` (:class:`geomap.classes.AreaClasses`), one colour per class (``colors``
    highest class first), as on the map.
    """
    from rasterio.windows import Window

    n = len(colors)
    lut = np.array([(*c, 255) for c in colors], dtype=np.uint8)
    span = hi - lo if hi > lo else 1.0
    codes = None
    if classes is not None:  # on the whole grid: the tie rule needs cell positions
        import xarray as xr

        codes = xr.DataArray(classes.classify(data), dims=("y", "x"))
    with _open_table(
        path,
        name,
        data,
        count=4,
        dtype="uint8",
        RASTER_DESCRIPTION=f"{data.attrs.get('long_name') or name}, rendered as RGBA",
        TILE_FORMAT="PNG",
        APPEND_SUBDATASET="YES",
    ) as dst:
        nodata = _declared_nodata(data)
        for start, block in _raster_blocks(data):
            valid = np.isfinite(block)
            if nodata is not None:
                valid &= block != nodata
            if codes is not None:
                rows = slice(start, start + block.shape[0])
                idx = np.asarray(codes.isel(y=rows).values).astype(int) - 1
                valid &= idx >= 0
                idx = np.clip(idx, 0, n - 1)
            else:
                idx = np.clip(((np.where(valid, block, lo) - lo) / span * n).astype(int), 0, n - 1)
            rgba = lut[idx]
            rgba[~valid] = 0
            window = Window(0, start, block.shape[1], block.shape[0])
            dst.write(np.moveaxis(rgba, -1, 0), window=window)

"""Reader ``emag2v3``: the Earth Magnetic Anomaly Grid, 2 arc-minutes, version 3 (EMAG2v3).

Source
    Meyer, Saltus and Chulliat (2017), NOAA NCEI, doi:10.7289/V5H70CVX.  U.S. Government
    work, public domain; credit "EMAG2v3, NOAA NCEI (Meyer et al. 2017)" (the catalog
    attribution).

Layout (``EMAG2_V3_20170530.zip``)
    * ``EMAG2_V3_20170530_UpCont.tif``: the anomaly (nT) upward-continued to 4 km above
      the geoid, land and sea;
    * ``EMAG2_V3_20170530_Sealevel.tif``: the anomaly at sea level, **no data over land**;
    * ``EMAG2_V3_20170530.csv``: headerless, one row per cell: ``i, j, lon, lat,
      sealevel, upcont, code, error`` with longitude 0–360 and 99999 for no data.

Layers: ``"upcont"`` (default; the only one complete on land), ``"sealevel"`` and
``"sealevel_filled"`` (sea level where it exists, the upward-continued value on land,
with the filled cells counted in the report: the two are at different heights, so use
it for display rather than quantitative work).

Only the cells inside ``bbox`` (plus a two-cell margin) are read, lazily: the result is a
Dask-backed array whose every chunk is a rasterio window read of the GeoTIFF, done when
that chunk is computed (so an evidence layer on a large region holds one chunk at a time).
The headerless CSV cannot be read by window: it is scanned once in chunks of rows keeping
only the rows in the box (a streamed read; the region, not the file, is then held), and
that region is chunked.  ``chunks=None`` reads eagerly.  A box across
the antimeridian is read as two windows joined into one grid with continuous
longitudes (e.g. 172° to 231°).
"""

from __future__ import annotations

import math
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
import pyproj

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.errors import DataError, ParameterError
from geomap.io._formats import require_format
from geomap.io._gdal import open_raster
from geomap.io._reader_entry import reject_unknown_options
from geomap.io._windows import BBox, check_bbox
from geomap.io.archives import layout_error, list_files, unpack_zip
from geomap.io.registry import reader

__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_CHUNKS",
    "EMAG2_NODATA",
    "read_emag2v3",
    "read_emag2v3_path",
]

CSV_COLUMNS = ("i", "j", "lon", "lat", "sealevel", "upcont", "code", "error")
"""Columns of the headerless CSV, in order."""

EMAG2_NODATA = 99999.0
"""No-data value of the CSV (and of GeoTIFFs that declare none)."""

_LAYERS = ("upcont", "sealevel", "sealevel_filled")
_LAYOUT = (
    "EMAG2_V3_20170530_UpCont.tif, EMAG2_V3_20170530_Sealevel.tif and/or EMAG2_V3_20170530.csv"
)
_MARGIN_CELLS = 2

DEFAULT_CHUNKS = 512
"""Cells per side of a Dask chunk (512 x 512 float64 = 2 MiB; about 17 x 17 degrees)."""


def _files(source: Path) -> tuple[dict[str, Path], Path]:
    source = Path(source)
    if source.is_file() and source.suffix.lower() in (".tif", ".tiff", ".csv"):
        folder = source.parent
        names = [source.name]
    else:
        folder = source if source.is_dir() else unpack_zip(source)
        names = list_files(folder)
    out: dict[str, Path] = {}
    for name in names:
        lower = PurePosixPath(name).name.lower()
        if lower.endswith(("_upcont.tif", "_upcont.tiff")):
            out["upcont_tif"] = folder / name
        elif lower.endswith(("_sealevel.tif", "_sealevel.tiff")):
            out["sealevel_tif"] = folder / name
        elif lower.endswith(".csv") and lower.startswith("emag2"):
            out["csv"] = folder / name
    if not out:
        raise layout_error(folder, source, ["the EMAG2v3 grids"], _LAYOUT)
    return out, source


def _read_block(path: str, row: int, col: int, height: int, width: int, nodata: float) -> Any:
    """Read one block of band 1 (float64, no data -> NaN); the only place pixels are read."""
    from rasterio.windows import Window

    with open_raster(Path(path), drivers=("GTiff",)) as src:
        values = src.read(1, window=Window(col, row, width, height)).astype("float64")
    values[values == nodata] = np.nan
    return values


def _lazy_block_grid(
    path: Path, row: int, col: int, height: int, width: int, nodata: float, chunks: int
) -> Any:
    """Build a Dask array over a window whose every chunk is its own windowed read."""
    import dask
    import dask.array as dsa

    read = dask.delayed(_read_block, pure=True)
    grid = []
    for r in range(0, height, chunks):
        line = []
        for c in range(0, width, chunks):
            shape = (min(chunks, height - r), min(chunks, width - c))
            block = read(str(path), row + r, col + c, shape[0], shape[1], nodata)
            line.append(dsa.from_delayed(block, shape, dtype="float64"))
        grid.append(line)
    return dsa.block(grid)


def _tif_window(
    path: Path, bbox: BBox | None, report: IngestReport, chunks: int | None = None
) -> tuple[Any, np.ndarray, np.ndarray]:
    """Values (float64, NaN = no data), cell-centre lon and lat for the window.

    With ``chunks`` the values are a Dask array of ``chunks`` x ``chunks`` blocks, each read
    from the file by its own window only when computed; without, the window is read now.
    """
    require_format(path, "geotiff", what="EMAG2v3 GeoTIFF")
    with open_raster(path, drivers=("GTiff",)) as src:
        if src.crs is None or not pyproj.CRS.from_user_input(src.crs.to_wkt()).is_geographic:
            raise DataError(
                f"{path}: expected a geographic CRS (EMAG2v3 is WGS 84 lon/lat), got {src.crs}"
            )
        t = src.transform
        if t.b or t.d:
            raise DataError(f"{path}: rotated transform; not the EMAG2v3 layout")
        nodata = float(src.nodata if src.nodata is not None else EMAG2_NODATA)
        full = f"{src.height}x{src.width}"
        step = abs(t.a)
        windows = [
            (w, shift, src.window_transform(w))
            for w, shift in _tif_windows(src, bbox, _MARGIN_CELLS * step)
        ]
    parts = []
    for window, shift, wt in windows:
        where = (int(window.row_off), int(window.col_off), int(window.height), int(window.width))
        if chunks is None:
            values = _read_block(str(path), *where, nodata)
        else:
            values = _lazy_block_grid(path, *where, nodata, chunks)
        lon = wt.c + (np.arange(where[3]) + 0.5) * wt.a + shift
        lat = wt.f + (np.arange(where[2]) + 0.5) * wt.e
        parts.append((values, lon, lat))
        how = "" if chunks is None else f", lazily in {chunks}-cell chunks"
        report.notes.append(f"{path.name}: read window {where[2]}x{where[3]} of {full} cells{how}")
    if chunks is None:
        values = np.concatenate([p[0] for p in parts], axis=1)
    else:
        import dask.array as dsa

        values = dsa.concatenate([p[0] for p in parts], axis=1)
    lon = np.concatenate([p[1] for p in parts])
    lon = lon - 360.0 * np.floor((lon[0] + 180.0) / 360.0)  # first column in [-180, 180)
    return values, lon, parts[0][2]


def _tif_windows(src: Any, bbox: BBox | None, margin: float) -> list[tuple[Any, float]]:
    """Windows (and the longitude shift of each) covering ``bbox`` in the grid's own frame.

    The grid may run from -180° or from 0° (0-360); a box is moved into that frame and
    split where it passes the frame's edge, the second part shifted by 360° so the
    longitudes stay continuous.
    """
    from rasterio.windows import Window, from_bounds

    full = Window(0, 0, src.width, src.height)
    if bbox is None:
        return [(full, 0.0)]
    left = src.bounds.left
    w, s, e, n = bbox
    width = (e - w) % 360.0 or 360.0
    start = left + (w - margin - left) % 360.0
    stop = start + width + 2 * margin
    spans = [(start, min(stop, left + 360.0), 0.0)]
    if stop > left + 360.0:
        spans.append((left, stop - 360.0, 360.0))
    out = []
    for west, east, shift in spans:
        window = from_bounds(west, s - margin, east, n + margin, transform=src.transform)
        col0, row0 = math.floor(window.col_off + 1e-9), math.floor(window.row_off + 1e-9)
        col1 = math.ceil(window.col_off + window.width - 1e-9)
        row1 = math.ceil(window.row_off + window.height - 1e-9)
        window = Window(col0, row0, col1 - col0, row1 - row0).intersection(full)
        out.append((window, shift))
    return out


def _csv_window(
    path: Path, layer: str, bbox: BBox | None, report: IngestReport
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    require_format(path, "text", what="EMAG2v3 CSV")
    kept = []
    total = 0
    box: BBox | None = None
    try:
        chunks = pd.read_csv(
            path,
            header=None,
            names=list(CSV_COLUMNS),
            chunksize=500_000,
            usecols=["lon", "lat", "sealevel", "upcont"],
            dtype="float64",
        )
        for chunk in chunks:
            total += len(chunk)
            if bbox is not None and box is None:
                steps = np.diff(np.unique(chunk["lon"].to_numpy()[:5000]))
                margin = _MARGIN_CELLS * (float(steps.min()) if steps.size else 2 / 60)
                w, s, e, n = bbox
                box = ((w - margin) % 360, s - margin, (e + margin) % 360, n + margin)
            if box is not None:
                w, s, e, n = box
                lon, lat = chunk["lon"].to_numpy(), chunk["lat"].to_numpy()
                in_lon = (lon >= w) & (lon <= e) if w <= e else (lon >= w) | (lon <= e)
                chunk = chunk.loc[in_lon & (lat >= s) & (lat <= n)]
            kept.append(chunk)
    except (ValueError, pd.errors.ParserError) as exc:
        raise DataError(
            f"{path} is not the EMAG2v3 CSV (headerless numeric columns {', '.join(CSV_COLUMNS)}): "
            f"{exc}"
        ) from None
    frame = pd.concat(kept, ignore_index=True)
    report.notes.append(f"{path.name}: kept {len(frame):,} of {total:,} rows inside the window")
    if frame.empty:
        raise DataError(f"{path}: no cells inside the window {bbox}; choose a region on Earth")
    lon = frame["lon"].to_numpy()
    if bbox is not None and bbox[0] <= bbox[2] and bbox[2] <= 180:
        lon = np.where(lon > 180, lon - 360, lon)  # 0-360 -> -180..180 for a box west of 180
    elif bbox is None:
        lon = np.where(lon > 180, lon - 360, lon)
    xs = np.unique(np.round(lon, 6))
    ys = np.unique(np.round(frame["lat"].to_numpy(), 6))[::-1]
    for axis, values in (("longitude", xs), ("latitude", ys)):
        steps = np.abs(np.diff(values))
        if steps.size and not np.allclose(steps, steps[0], rtol=1e-4):
            raise DataError(
                f"{path}: the {axis}s in the window are not evenly spaced; not the EMAG2v3 grid"
            )
    grid = np.full((ys.size, xs.size), np.nan)
    col = np.searchsorted(xs, np.round(lon, 6))
    row = ys.size - 1 - np.searchsorted(ys[::-1], np.round(frame["lat"].to_numpy(), 6))
    values = frame[layer if layer != "sealevel_filled" else "sealevel"].to_numpy()
    values = np.where(values == EMAG2_NODATA, np.nan, values)
    grid[row, col] = values
    if layer == "sealevel_filled":
        up = np.where(
            frame["upcont"].to_numpy() == EMAG2_NODATA, np.nan, frame["upcont"].to_numpy()
        )
        filled = np.full_like(grid, np.nan)
        filled[row, col] = up
        missing = np.isnan(grid) & np.isfinite(filled)
        report.normalize(
            "land cells (no sea-level value) filled with the upward-continued value",
            int(missing.sum()),
        )
        grid = np.where(missing, filled, grid)
    return grid, xs, ys


def read_emag2v3_path(
    source: Path,
    *,
    layer: str = "upcont",
    bbox: BBox | None = None,
    prefer: str = "tif",
    chunks: int | None = DEFAULT_CHUNKS,
    dataset_id: str = "emag2-v3",
) -> Any:
    """Read one EMAG2v3 layer inside ``bbox`` (see the module docstring).

    Parameters
    ----------
    source : Path
        The zip, its unpacked folder, or one of its GeoTIFFs / the CSV.
    layer : {"upcont", "sealevel", "sealevel_filled"}
    bbox : (west, south, east, north), optional
        Degrees; a two-cell margin is added.  ``None`` reads the whole grid (large).
    prefer : {"tif", "csv"}
        Which form to read when the archive has both.
    chunks : int or None
        Cells per side of the Dask chunks (default :data:`DEFAULT_CHUNKS`): the result is
        Dask-backed and each chunk of a GeoTIFF is its own windowed read, done only when
        that chunk is computed.  The CSV has no index to seek in: it is scanned once,
        streaming, keeping only the rows in the box, and that region is then chunked.
        ``None`` reads the window into memory now.

    Returns
    -------
    xarray.DataArray
        float32 nT, NaN = no data, EPSG:4326, dims (y, x) north-up.
    """
    from geomap.io.grids import _finish

    if layer not in _LAYERS:
        raise ParameterError(f"layer={layer!r} is unknown; use one of {list(_LAYERS)}")
    if prefer not in ("tif", "csv"):
        raise ParameterError(f"prefer={prefer!r}; use 'tif' or 'csv'")
    if chunks is not None and (not isinstance(chunks, int) or chunks < 1):
        raise ParameterError(f"chunks={chunks!r}; give cells per chunk side (e.g. 512) or None")
    bbox = check_bbox(bbox)
    files, origin = _files(source)
    report = IngestReport(dataset_id)
    use_csv = "csv" in files and (prefer == "csv" or not any(k.endswith("_tif") for k in files))
    if use_csv:
        values, lon, lat = _csv_window(files["csv"], layer, bbox, report)
        if chunks is not None:
            import dask.array as dsa

            values = dsa.from_array(values, chunks=chunks)
    else:
        name = "upcont_tif" if layer == "upcont" else "sealevel_tif"
        if name not in files:
            raise layout_error(
                files[next(iter(files))].parent, origin, [name.replace("_tif", ".tif")], _LAYOUT
            )
        values, lon, lat = _tif_window(files[name], bbox, report, chunks)
        if layer == "sealevel_filled":
            if "upcont_tif" not in files:
                raise layout_error(files[name].parent, origin, ["the _UpCont.tif"], _LAYOUT)
            up, _, _ = _tif_window(files["upcont_tif"], bbox, report, chunks)
            missing = np.isnan(values) & np.isfinite(up)
            report.normalize(  # lazily: counted chunk by chunk, never the region at once
                "land cells (no sea-level value) filled with the upward-continued value",
                int(missing.sum()),
            )
            values = np.where(missing, up, values)
    import xarray as xr

    report.records_in += int(values.size)
    da = xr.DataArray(values.astype("float32"), dims=("y", "x"), coords={"y": lat, "x": lon})
    if not math.isclose(float(np.diff(lon).std()) if lon.size > 2 else 0.0, 0.0, abs_tol=1e-6):
        raise DataError(f"{origin}: window longitudes are not evenly spaced; report this file")
    return _finish(
        da,
        source=str(origin),
        crs=pyproj.CRS.from_epsg(4326),
        nodata=np.nan,
        name=f"emag2v3_{layer}",
        attrs={
            "units": "nT",
            "long_name": f"EMAG2v3 magnetic anomaly ({layer})",
            "geomap_window": str(bbox),
        },
        report=report,
        dataset_id=dataset_id,
        layer=layer,
    )


@reader("emag2v3")
def read_emag2v3(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    bbox: BBox | None = None,
    prefer: str = "tif",
    chunks: int | None = None,
    **options: Any,
) -> Any:
    """Read a layer of the EMAG2v3 catalog dataset (see :func:`read_emag2v3_path`)."""
    reject_unknown_options("emag2v3", options, ["bbox", "prefer", "chunks"])
    (path,) = paths.values()
    return read_emag2v3_path(
        path,
        layer=layer or "upcont",
        bbox=bbox,
        prefer=prefer,
        chunks=chunks if chunks is not None else DEFAULT_CHUNKS,
        dataset_id=dataset.id,
    )


read_emag2v3.geomap_windowed = True  # type: ignore[attr-defined]

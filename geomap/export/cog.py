"""Cloud-Optimized GeoTIFF writer: tiled, compressed, with overviews, nodata and provenance.

The raster is first streamed block by block into a tiled GeoTIFF (Dask-backed arrays are
computed chunk by chunk, never whole), then GDAL's COG driver copies it into the final layout
(overviews, tiles in order, ghost header), so memory stays bounded on large grids.  Both steps
happen under a temporary name: the final file appears only when complete.  Every file written
passes ``rio_cogeo.cogeo.cog_validate``.
"""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from geomap.errors import CRSError, DataError, ExportError
from geomap.grid.blocks import is_lazy

__all__ = ["cog_overview_count", "validate_cog", "write_cog"]

_PREDICTOR_CODECS = {"DEFLATE", "LZW", "ZSTD"}
_MIN_OVERVIEW_SIZE = 128  # the smallest overview is at most this many cells across
_PROVENANCE_ATTRS = (
    "long_name",
    "units",
    "description",
    "geomap_source",
    "geomap_params",
    "geomap_role",
    "geomap_kind",
    "geomap_classes",
    "geomap_class_ties",
)


def cog_overview_count(width: int, height: int) -> int:
    """Return how many overview levels (halvings) a raster gets: at least one.

    Examples
    --------
    >>> cog_overview_count(248, 247), cog_overview_count(5000, 3000)
    (1, 6)
    """
    largest = max(int(width), int(height), 1)
    return max(1, math.ceil(math.log2(max(largest / _MIN_OVERVIEW_SIZE, 1.0))))


def _nodata(data: xr.DataArray, path: str) -> float | int:
    nodata = data.rio.nodata
    if np.issubdtype(data.dtype, np.floating):
        return float("nan") if nodata is None else float(nodata)
    if np.issubdtype(data.dtype, np.bool_):
        raise DataError(
            f"cannot write {path!r}: boolean rasters have no nodata value; cast to uint8 "
            "and declare nodata with .rio.write_nodata()"
        )
    if nodata is not None:
        return int(nodata)
    info = np.iinfo(data.dtype)
    candidate = int(info.max)
    present = bool((data == candidate).any())  # one pass over Dask arrays, no full load
    if present:
        raise DataError(
            f"cannot write {path!r}: the integer raster declares no nodata and uses every "
            f"candidate value (its dtype maximum {candidate} occurs); declare one with "
            ".rio.write_nodata()"
        )
    return candidate


def _tags(data: xr.DataArray, extra: dict[str, Any] | None, catalog: Any) -> dict[str, str]:
    from geomap._version import __version__
    from geomap.core.provenance import source_ids

    tags: dict[str, str] = {"geomap_version": __version__}
    for key in _PROVENANCE_ATTRS:
        value = data.attrs.get(key)
        if value is not None:
            tags[key] = value if isinstance(value, str) else json.dumps(value, default=str)
    sources = source_ids(data)
    if sources:
        if catalog is None:
            from geomap.catalog import load_catalog

            catalog = load_catalog()
        known = []
        for dataset_id in sources:
            try:
                catalog.dataset(dataset_id)
            except KeyError:
                continue
            known.append(dataset_id)
        if known:
            tags["geomap_attribution"] = str(catalog.attribution(known))
            tags["geomap_licenses"] = "; ".join(
                f"{d}: {catalog.dataset(d).license.spdx}" for d in known
            )
    for key, value in (extra or {}).items():
        tags[str(key)] = value if isinstance(value, str) else json.dumps(value, default=str)
    return tags


def write_cog(
    data: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    compress: str = "DEFLATE",
    blocksize: int = 256,
    overview_resampling: str | None = None,
    tags: dict[str, Any] | None = None,
    catalog: Any = None,
    progress: str | None = None,
    colormap: dict[int, tuple[int, int, int, int]] | None = None,
) -> Path:
    """Write a single-band raster as a Cloud-Optimized GeoTIFF with overviews, atomically.

    Parameters
    ----------
    data : xarray.DataArray
        Dims ``("y", "x")`` with a CRS (rioxarray).  NumPy- or Dask-backed; Dask arrays are
        computed a few chunks at a time on the active scheduler (threads or a distributed
        cluster) and written by this process, never held whole.
    path : path-like
        Output file; appears only when complete.
    compress : str, default "DEFLATE"
        GDAL compression.
    blocksize : int, default 256
        Internal tile size (a power of two, 64 to 4096).
    overview_resampling : str, optional
        ``"nearest"`` for classes, ``"average"`` for continuous data; chosen from the dtype
        (and ``attrs["geomap_kind"]``) when not given.
    tags : dict, optional
        Extra GeoTIFF metadata (e.g. run parameters).  Provenance is always written:
        ``long_name``, ``units``, ``geomap_source``, ``geomap_params`` from ``attrs``, the
        geomap version, and the licences and credit lines of the source datasets.
    catalog : Catalog, optional
        For the licences; defaults to the project catalog.
    progress : str, optional
        Label of a progress bar over the blocks written (Dask-backed rasters).
    colormap : dict of int to (r, g, b, a), optional
        A colour table (palette) for an 8-bit class raster, e.g. the prospectivity classes
        of :func:`geomap.classes.area_share_classes`; GIS software then shows the classes in
        the map's colours.

    Returns
    -------
    Path

    Raises
    ------
    CRSError
        The array has no CRS.
    DataError
        Not 2-D ``(y, x)``, an integer raster without a usable nodata value, or a bad
        ``blocksize``.
    ExportError
        The file cannot be written, or GDAL's result is not a valid COG.
    """
    import rasterio
    import rasterio.shutil

    name = os.fspath(path)
    if data.dims != ("y", "x"):
        raise DataError(f"cannot write {name!r}: dims are {data.dims}, expected ('y', 'x')")
    if data.rio.crs is None:
        raise CRSError(
            f"cannot write {name!r}: the raster has no CRS; set one with .rio.write_crs()"
        )
    if blocksize < 64 or blocksize > 4096 or blocksize & (blocksize - 1):
        raise DataError(f"blocksize={blocksize} must be a power of two between 64 and 4096")
    if overview_resampling is None:
        classes = data.attrs.get("geomap_kind") in ("categorical", "binary")
        integer = np.issubdtype(data.dtype, np.integer)
        overview_resampling = "nearest" if classes or integer else "average"
    nodata = _nodata(data, name)
    out = data.copy(deep=False)  # no second copy of the cells; attrs are replaced below
    out.attrs = {}
    out.encoding = {}
    out = out.rio.write_nodata(nodata, encoded=False)
    metadata = _tags(data, tags, catalog)
    from geomap.core.atomic import atomic_path

    final = Path(path)
    with atomic_path(final) as tmp:
        staging = tmp.with_name(tmp.name + ".stage.tif")
        try:
            staging_options = {
                "driver": "GTiff",
                "tiled": True,
                "blockxsize": blocksize,
                "blockysize": blocksize,
                "compress": "NONE",  # a scratch copy: the COG below is the compressed one
                "BIGTIFF": "IF_SAFER",
            }
            if is_lazy(out):
                _stage_blocks(out, staging, nodata, staging_options, progress)
            else:
                out.rio.to_raster(staging, windowed=True, lock=threading.Lock(), **staging_options)
            with rasterio.open(staging, "r+") as dst:
                dst.update_tags(**metadata)
                if data.attrs.get("long_name"):
                    dst.set_band_description(1, str(data.attrs["long_name"]))
                if data.attrs.get("units"):
                    dst.set_band_unit(1, str(data.attrs["units"]))
                if colormap is not None:
                    if np.dtype(dst.dtypes[0]) != np.uint8:
                        raise DataError(
                            f"cannot write {name!r} with a colour table: it needs uint8 "
                            f"classes, not {dst.dtypes[0]}"
                        )
                    dst.write_colormap(1, colormap)
            rasterio.shutil.copy(
                staging,
                tmp,
                driver="COG",
                COMPRESS=compress,
                BLOCKSIZE=blocksize,
                OVERVIEWS="IGNORE_EXISTING",
                OVERVIEW_COUNT=cog_overview_count(data.sizes["x"], data.sizes["y"]),
                OVERVIEW_RESAMPLING=overview_resampling.upper(),
                RESAMPLING=overview_resampling.upper(),
                BIGTIFF="IF_SAFER",
                NUM_THREADS="2",
                # horizontal differencing (floating-point or integer): smooth fields such as
                # resampled geophysics compress about twice as well
                **({"PREDICTOR": "YES"} if compress.upper() in _PREDICTOR_CODECS else {}),
            )
        finally:
            for leftover in (staging, staging.with_name(staging.name + ".aux.xml")):
                if leftover.exists():
                    leftover.unlink()
        valid, errors, _warnings = validate_cog(tmp)
        if not valid:
            raise ExportError(f"GDAL wrote an invalid COG for {name!r}: {errors}")
    return final


def _stage_blocks(
    data: xr.DataArray,
    path: Path,
    nodata: float | int,
    options: dict[str, Any],
    progress: str | None,
) -> None:
    """Write a Dask-backed raster into a tiled GeoTIFF from this process, block by block.

    The blocks are computed a few at a time on the active Dask scheduler (threads or a
    cluster) and written here, so workers never need the output folder and memory holds only
    the blocks in flight.
    """
    import rasterio
    from rasterio.windows import Window

    from geomap.grid.blocks import iter_blocks

    profile = {
        **options,
        "width": int(data.sizes["x"]),
        "height": int(data.sizes["y"]),
        "count": 1,
        "dtype": data.dtype.name,
        "crs": data.rio.crs,
        "transform": data.rio.transform(recalc=True),
        "nodata": nodata,
    }
    with rasterio.open(path, "w", **profile) as dst:
        for block in iter_blocks([data], progress=progress):
            height, width = block.shape
            window = Window(block.cols.start, block.rows.start, width, height)
            dst.write(block.values[0].astype(data.dtype, copy=False), 1, window=window)


def validate_cog(path: str | os.PathLike[str]) -> tuple[bool, list[str], list[str]]:
    """Validate a file with rio-cogeo: ``(is_valid, errors, warnings)``."""
    from rio_cogeo.cogeo import cog_validate

    valid, errors, warnings = cog_validate(os.fspath(path), quiet=True)
    return bool(valid), list(errors), list(warnings)

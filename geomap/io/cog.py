"""Cloud-Optimized GeoTIFF writer."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import xarray as xr

from geomap.errors import CRSError, DataError
from geomap.io.atomic import atomic_path

__all__ = ["write_cog"]


def write_cog(
    data: xr.DataArray,
    path: str | os.PathLike[str],
    *,
    compress: str = "DEFLATE",
    blocksize: int = 256,
    overview_resampling: str | None = None,
    tags: dict[str, Any] | None = None,
) -> None:
    """Write a single-band raster as a Cloud-Optimized GeoTIFF with overviews, atomically.

    Parameters
    ----------
    data : xarray.DataArray
        Dims ``("y", "x")`` with a CRS (rioxarray).  NumPy- or Dask-backed; Dask
        arrays are written block by block by GDAL's COG driver after computing.
    path : path-like
        Output file; appears only when complete.
    compress : str, default "DEFLATE"
        GDAL compression.
    blocksize : int, default 256
        Internal tile size.
    overview_resampling : str, optional
        ``"nearest"`` for classes, ``"average"`` for continuous data; chosen from
        the dtype when not given.
    tags : dict, optional
        GeoTIFF metadata tags (provenance); the DataArray's ``attrs`` are added.

    Raises
    ------
    CRSError
        The array has no CRS.
    DataError
        The array is not 2-D ``(y, x)``.
    """
    if data.rio.crs is None:
        raise CRSError(
            f"cannot write {os.fspath(path)!r}: the raster has no CRS; "
            "set one with .rio.write_crs()"
        )
    if data.dims != ("y", "x"):
        raise DataError(
            f"cannot write {os.fspath(path)!r}: dims are {data.dims}, expected ('y', 'x')"
        )
    if overview_resampling is None:
        overview_resampling = "nearest" if np.issubdtype(data.dtype, np.integer) else "average"
    meta = {k: str(v) for k, v in data.attrs.items() if isinstance(v, str | int | float)}
    meta.update({k: str(v) for k, v in (tags or {}).items()})
    out = data.copy()
    out.attrs = meta
    with atomic_path(path) as tmp:
        out.rio.to_raster(
            tmp,
            driver="COG",
            compress=compress,
            blocksize=blocksize,
            overview_resampling=overview_resampling,
            BIGTIFF="IF_SAFER",
        )

"""Reprojection benchmark: :func:`geomap.grid.reproject_to` against ``rasterio.warp.reproject``.

The source is real: the 10 arc-minute global gravity grid (Fatiando Earth grids, lon/lat,
2160 x 1081 cells), brought onto ``region_grid("conus", res)`` (NAD83 / Conus Albers) with
the resolution chosen for about 1, 4 and 16 million cells, bilinear.  geomap computes the
exact PROJ position of every cell centre and interpolates there (nodata outside the source,
a georeferenced DataArray); the baseline is GDAL's warper through rasterio on the same arrays
and grids (its approximate transformer, default error threshold of 0.125 cells).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from benchmarks.harness import Case

_CONUS_CELLS_AT_1KM = 3169 * 5951
_SIZES = {"1M": 1_000_000, "4M": 4_000_000, "16M": 16_000_000}


def _case(size: str) -> Case:
    def setup():
        import geomap
        from geomap.grid import region_grid, reproject_to

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            source = geomap.read("fatiando-earth-grids-10arcmin", layer="gravity")
        res = 1000.0 * math.sqrt(_CONUS_CELLS_AT_1KM / _SIZES[size])
        grid = region_grid("conus", round(res))
        values = np.asarray(source.values, dtype="float32")
        src_transform = source.rio.transform(recalc=True)
        src_crs = source.rio.crs

        def run():
            return reproject_to(source, grid, kind="continuous", resampling="bilinear")

        def baseline():
            from rasterio.enums import Resampling
            from rasterio.warp import reproject

            out = np.full(tuple(grid.shape), np.nan, dtype="float32")
            reproject(
                values,
                out,
                src_transform=src_transform,
                src_crs=src_crs,
                src_nodata=np.nan,
                dst_transform=grid.affine,
                dst_crs=grid.crs.to_wkt(),
                dst_nodata=np.nan,
                resampling=Resampling.bilinear,
            )
            return out

        return run, baseline

    return Case("reproject", size, _SIZES[size], "cells", setup, repeat=3)


def cases(quick: bool) -> list[Case]:
    """Benchmark cases: 1M cells in quick mode, 1M, 4M and 16M otherwise."""
    return [_case(size) for size in (["1M"] if quick else ["1M", "4M", "16M"])]

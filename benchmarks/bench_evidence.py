"""Evidence benchmarks: rasterization, distance to features and point density.

Each geomap call is timed against the bare library calls it is built on, on the same inputs
(already in the grid's CRS) in the same process:

* ``rasterize``: :func:`geomap.grid.rasterize` (CRS check, clipping to the grid, NaN/null
  handling, a georeferenced DataArray) against :func:`rasterio.features.rasterize`.
* ``distance_to``: :func:`geomap.evidence.distance_to` with a 50 km cap (features rasterized on
  the grid grown by the cap, then the exact EDT) against ``rasterio.features.rasterize`` +
  :func:`scipy.ndimage.distance_transform_edt` on the grid itself.
* ``point_density``: :func:`geomap.evidence.point_density` (Gaussian, 10 km bandwidth, counts
  on the grid grown by the kernel radius) against ``np.add.at`` counts +
  :func:`scipy.signal.fftconvolve` on the grid itself.

Inputs are real: the GEM active faults and the MinMod/USMIN occurrences of the conterminous
US, on ``region_grid("conus", res)`` with the resolution chosen for about 1, 16 and 64 million
cells (quick mode: 1 million only).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from benchmarks.harness import Case

_CONUS_CELLS_AT_1KM = 3169 * 5951
_SIZES = {"1M": 1_000_000, "16M": 16_000_000, "64M": 64_000_000}


def _grid(cells: int):
    from geomap.grid import region_grid

    res = 1000.0 * math.sqrt(_CONUS_CELLS_AT_1KM / cells)
    return region_grid("conus", round(res))


def _faults(grid):
    import geomap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        faults = geomap.read("gem-global-active-faults-2017", region="conus")
    faults = faults[~(faults.geometry.isna() | faults.geometry.is_empty)]
    return faults.to_crs(grid.crs.to_wkt())


def _points(grid):
    from geomap.io.occurrences import read_occurrences

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        points = read_occurrences(region="conus")
    return points.to_crs(grid.crs.to_wkt())


def _rasterize_case(size: str) -> Case:
    def setup():
        from rasterio.features import rasterize as rio_rasterize

        from geomap.grid import rasterize

        grid = _grid(_SIZES[size])
        faults = _faults(grid)
        geoms = list(faults.geometry.values)

        def run():
            return rasterize(faults, grid)

        def baseline():
            return rio_rasterize(
                ((g, 1) for g in geoms),
                out_shape=tuple(grid.shape),
                transform=grid.affine,
                fill=0,
                dtype="uint8",
            )

        return run, baseline

    return Case("rasterize", size, _SIZES[size], "cells", setup, repeat=3)


def _distance_case(size: str) -> Case:
    def setup():
        from rasterio.features import rasterize as rio_rasterize
        from scipy.ndimage import distance_transform_edt

        from geomap.evidence import distance_to

        grid = _grid(_SIZES[size])
        faults = _faults(grid)
        geoms = list(faults.geometry.values)
        res = abs(grid.affine.a)
        cap = 50_000.0

        def run():
            return distance_to(faults, grid, cap_m=cap)

        def baseline():
            mask = rio_rasterize(
                ((g, 1) for g in geoms),
                out_shape=tuple(grid.shape),
                transform=grid.affine,
                fill=0,
                all_touched=True,
                dtype="uint8",
            )
            dist = distance_transform_edt(mask == 0, sampling=(res, res))
            return np.minimum(dist, cap)

        return run, baseline

    return Case("distance_to", size, _SIZES[size], "cells", setup, repeat=3)


def _density_case(size: str) -> Case:
    def setup():
        import shapely
        from scipy.signal import fftconvolve

        from geomap.evidence import density_kernel, point_density

        grid = _grid(_SIZES[size])
        points = _points(grid)
        xy = shapely.get_coordinates(points.geometry.values)
        a = grid.affine
        res = abs(a.a)
        bandwidth = 10_000.0
        kernel = density_kernel(bandwidth, res, "gaussian")

        def run():
            return point_density(points, grid, bandwidth_m=bandwidth)

        def baseline():
            cols = np.floor((xy[:, 0] - a.c) / a.a).astype(np.intp)
            rows = np.floor((xy[:, 1] - a.f) / a.e).astype(np.intp)
            ok = (rows >= 0) & (rows < grid.shape.y) & (cols >= 0) & (cols < grid.shape.x)
            counts = np.zeros(tuple(grid.shape))
            np.add.at(counts, (rows[ok], cols[ok]), 1.0)
            return fftconvolve(counts, kernel, mode="same") / (res * res / 1e6)

        return run, baseline

    return Case("point_density", size, _SIZES[size], "cells", setup, repeat=3)


def cases(quick: bool) -> list[Case]:
    """Benchmark cases: 1M cells in quick mode, 1M, 16M and 64M otherwise."""
    sizes = ["1M"] if quick else ["1M", "16M", "64M"]
    out: list[Case] = []
    for size in sizes:
        out += [_rasterize_case(size), _distance_case(size), _density_case(size)]
    return out

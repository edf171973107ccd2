"""The analysis grid: one :class:`~odc.geo.geobox.GeoBox` per region and resolution.

Every evidence layer of a study lives on one grid: a shape, an affine transform and
the region's projected, equal-area CRS from the catalog.  This package builds that
grid (:func:`region_grid`), puts vectors on it (:func:`rasterize`), brings rasters
onto it (:func:`reproject_to`) and refuses to combine layers from different grids
(:func:`check_same_grid`).

Rasters follow the project convention: ``xarray.DataArray`` with dims
``("y", "x")``, cell-centre coordinates (``y`` descending), the CRS and transform
written with rioxarray and nodata declared (NaN for float layers).  Pass
``chunks`` to get a Dask-backed result computed block by block; its values equal
the in-memory result.

>>> from geomap.grid import region_grid
>>> grid = region_grid("japan", 10_000)
>>> grid.resolution.x, grid.shape.y > 100
(10000.0, True)
"""

from __future__ import annotations

from geomap.grid._core import (
    AUTO_CHUNK,
    Chunks,
    block_slices,
    check_same_grid,
    grid_crs,
    grid_of,
    grid_to_dataarray,
    positive_length,
    region_grid,
    resolve_chunks,
    sub_grid,
    transform_of,
    transformer,
)
from geomap.grid.rasterize import rasterize
from geomap.grid.reproject import RESAMPLING, reproject_to, resampling_for

__all__ = [
    "AUTO_CHUNK",
    "RESAMPLING",
    "Chunks",
    "block_slices",
    "check_same_grid",
    "grid_crs",
    "grid_of",
    "grid_to_dataarray",
    "positive_length",
    "rasterize",
    "region_grid",
    "reproject_to",
    "resampling_for",
    "resolve_chunks",
    "sub_grid",
    "transform_of",
    "transformer",
]

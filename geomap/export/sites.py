"""Which point sites fall on cells of a raster that hold data (the study area).

A region's occurrences are read in its bounding box, which reaches beyond the study area
(southern Canada and northern Mexico lie in the box of the conterminous United States); a
model leaves sites on cells without data out.  Figures and exports mark those sites with
:func:`on_data_cells` instead of drawing them as if they had trained the model.

Examples
--------
>>> import numpy as np, geopandas as gpd, xarray as xr, rioxarray  # noqa: F401
>>> from shapely.geometry import Point
>>> grid = xr.DataArray(
...     np.array([[1.0, np.nan], [2.0, 3.0]]), dims=("y", "x"),
...     coords={"y": [15.0, 5.0], "x": [5.0, 15.0]},
... ).rio.write_crs("EPSG:3857")
>>> sites = gpd.GeoDataFrame(
...     geometry=[Point(4, 14), Point(14, 14), Point(40, 40)], crs="EPSG:3857"
... )
>>> on_data_cells(sites, grid).tolist()
[True, False, False]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from geomap.errors import CRSError

__all__ = ["on_data_cells"]


def on_data_cells(sites: Any, raster: Any) -> np.ndarray:
    """Return, per site, whether it lies on a cell of ``raster`` that holds a finite value.

    Parameters
    ----------
    sites : GeoDataFrame
        Points (other geometries use a point inside them), with a CRS.
    raster : xarray.DataArray
        Dims ``("y", "x")`` with a CRS (NumPy or Dask: only the sites' cells are read).

    Returns
    -------
    numpy.ndarray of bool
        False for sites off the grid (or beyond the raster CRS's reach), on a no-data cell,
        or without a geometry.

    Raises
    ------
    CRSError
        ``sites`` or ``raster`` has no CRS.
    """
    import xarray as xr

    if sites.crs is None or raster.rio.crs is None:
        raise CRSError(
            "on_data_cells needs a CRS on the sites and the raster; set it with .set_crs() / "
            ".rio.write_crs()"
        )
    out = np.zeros(len(sites), dtype=bool)
    if not len(sites):
        return out
    geometry = sites.geometry.to_crs(raster.rio.crs)
    present = ~(geometry.isna() | geometry.is_empty).to_numpy()
    points = geometry[present].representative_point()
    inverse = ~raster.rio.transform(recalc=True)
    cols_f, rows_f = inverse * (points.x.to_numpy(), points.y.to_numpy())
    # a site far outside the raster's projection may not transform (inf): off the grid
    finite = np.isfinite(cols_f) & np.isfinite(rows_f)
    cols = np.floor(np.where(finite, cols_f, -1)).astype(int)
    rows = np.floor(np.where(finite, rows_f, -1)).astype(int)
    inside = (cols >= 0) & (rows >= 0) & (cols < raster.sizes["x"]) & (rows < raster.sizes["y"])
    values = np.asarray(
        raster.isel(y=xr.DataArray(rows[inside]), x=xr.DataArray(cols[inside])).values,
        dtype="float64",
    )
    nodata = raster.rio.nodata
    valid = np.isfinite(values)
    if nodata is not None and not np.isnan(nodata):
        valid &= values != nodata
    flags = np.zeros(len(points), dtype=bool)
    flags[inside] = valid
    out[present] = flags
    return out

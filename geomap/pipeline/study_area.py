"""The study area of a region: the cells of its countries, from Natural Earth 1:50m.

A region's bounding box holds sea and neighbouring countries; the model stage restricts the
study area to the region's countries (:func:`country_mask`) where the evidence has data.
Reading the country polygons makes this orchestration (catalog and readers), so it lives in
the pipeline, not in :mod:`geomap.models`.
"""

from __future__ import annotations

from typing import Any

import xarray as xr

from geomap.core.provenance import source_ids
from geomap.errors import DataError

__all__ = ["country_mask"]


def country_mask(
    stack: xr.Dataset,
    countries: list[str],
    *,
    catalog: Any = None,
    all_touched: bool = True,
) -> xr.DataArray:
    """Cells of the stack's grid inside the given countries (Natural Earth 1:50m).

    A region's bounding box holds sea and neighbouring countries; counting their cells as
    study area would make every model look better than it is (open sea is easy to rank
    low).  Use the result as ``study_area`` of :func:`~geomap.models.raster.cell_table`
    and :func:`~geomap.models.raster.predict_raster`.

    Parameters
    ----------
    stack : xarray.Dataset
        The evidence stack (its grid and CRS are used).
    countries : list of str
        ISO 3166 alpha-3 codes (``ADM0_A3`` of Natural Earth), e.g. a region's ``countries``.
    catalog : Catalog, optional
        Defaults to the project catalog.
    all_touched : bool, default True
        Keep every cell a country polygon touches (coastal cells stay in).

    Returns
    -------
    xarray.DataArray
        uint8, 1 inside, on the stack's grid; Dask-backed (in the stack's blocks) when the
        stack is.
    """
    from geomap.grid import grid_of, rasterize
    from geomap.io import read

    frame = read("natural-earth", layer="50m_admin_0_countries", catalog=catalog)
    codes = frame["ADM0_A3"].astype(str).str.upper()
    wanted = [c.upper() for c in countries]
    chosen = frame[codes.isin(wanted)]
    missing = sorted(set(wanted) - set(codes[codes.isin(wanted)]))
    if missing:
        raise DataError(
            f"countries {missing} are not in Natural Earth's ADM0_A3 codes; use ISO alpha-3 "
            "codes such as 'USA' or 'JPN'"
        )
    chunks = None
    first = next((v.data for v in stack.data_vars.values() if hasattr(v.data, "dask")), None)
    if first is not None:
        chunks = (int(first.chunks[0][0]), int(first.chunks[1][0]))
    mask = rasterize(
        chosen, grid_of(stack), all_touched=all_touched, name="study_area", chunks=chunks
    )
    mask.attrs["geomap_source"] = ",".join(source_ids(frame)) or "natural-earth"
    return mask.assign_coords(y=stack["y"], x=stack["x"])

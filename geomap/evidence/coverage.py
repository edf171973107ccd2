"""The data-coverage layer: per cell, how many evidence layers have data there."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import numpy as np
import xarray as xr

from geomap.errors import DataError
from geomap.grid import check_same_grid, grid_to_dataarray

__all__ = ["coverage", "has_data"]


def has_data(layer: xr.DataArray) -> Any:
    """Boolean NumPy/Dask array: where the layer has data (not NaN, not its nodata)."""
    data = layer.data
    nodata = layer.rio.nodata
    if np.issubdtype(data.dtype, np.floating):
        ok = ~np.isnan(data)  # a NumPy ufunc: stays lazy on Dask arrays
        if nodata is not None and not np.isnan(nodata):
            ok = ok & (data != nodata)
        return ok
    if nodata is None:
        return np.ones_like(data, dtype=bool)  # every cell has a value
    return data != nodata


def _evidence_layers(layers: xr.Dataset | Iterable[xr.DataArray]) -> list[xr.DataArray]:
    if isinstance(layers, xr.Dataset):
        arrays = [layers[v] for v in layers.data_vars]
        marked = [a for a in arrays if a.attrs.get("geomap_role") == "evidence"]
        unmarked = [a for a in arrays if "geomap_role" not in a.attrs]
        return marked + unmarked
    return list(layers)


def coverage(
    layers: xr.Dataset | Iterable[xr.DataArray], *, name: str = "coverage"
) -> xr.DataArray:
    """Count, per cell, the evidence layers that have data there.

    Shown with every prospectivity result so that "no data" is never read as
    "no potential".

    Parameters
    ----------
    layers : Dataset or iterable of DataArray
        Evidence layers on one grid (in a Dataset, the variables whose
        ``geomap_role`` is ``"evidence"`` or unset; an existing coverage layer is
        not counted).
    name : str, default "coverage"
        Name of the result.

    Returns
    -------
    xarray.DataArray
        int16 counts (0 = no evidence at all), NumPy- or Dask-backed like the
        layers, with ``attrs["geomap_role"] = "coverage"``, the counted layer
        names (JSON) in ``attrs["geomap_layers"]`` and their number in
        ``attrs["geomap_n_layers"]``.

    Raises
    ------
    DataError
        No layers.
    GridMismatchError
        Layers on different grids (naming them).
    """
    arrays = _evidence_layers(layers)
    if not arrays:
        raise DataError("coverage() needs at least one evidence layer")
    names = [str(a.name) for a in arrays]
    grid = check_same_grid(*arrays, names=names)
    total: Any = None
    for layer in arrays:
        ok = has_data(layer).astype("int16")
        total = ok if total is None else total + ok
    attrs = {
        "geomap_role": "coverage",
        "geomap_layers": json.dumps(names),
        "geomap_n_layers": len(names),
        "long_name": "number of evidence layers with data",
        "units": "layers",
    }
    return grid_to_dataarray(total, grid, name=name, nodata=None, attrs=attrs)

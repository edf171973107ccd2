"""The evidence stack's grid and layers, as :mod:`geomap.models.raster` reads them.

Checks of a stack (:func:`evidence_layers`: its evidence variables; one grid, a projected
CRS), its data coverage and study area (:func:`study_area_mask`: cells where a layer has
data, or a given mask), the seeded cell keys that pick the same negative sample whatever
the chunking (:func:`cell_sample_keys`), and how one layer's values become a table column
(``_LayerSpec``: nodata, class labels of categorical layers).  The table itself:
:func:`geomap.models.raster.cell_table`; prediction: :mod:`geomap.models.raster_predict`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from geomap.errors import CRSError, DataError, GridMismatchError

__all__ = ["cell_sample_keys", "evidence_layers", "study_area_mask"]


# ----------------------------------------------------------------------------- the grid


def _check_stack(stack: Any) -> xr.Dataset:
    if isinstance(stack, xr.DataArray):
        stack = stack.to_dataset(name=stack.name or "evidence")
    if not isinstance(stack, xr.Dataset):
        raise DataError(
            f"expected an evidence stack (xarray.Dataset), got {type(stack).__name__}; "
            "build one with geomap.recipes.build_evidence"
        )
    crs = stack.rio.crs
    if crs is None:
        raise CRSError(
            "the evidence stack has no CRS; write one with stack.rio.write_crs(...) "
            "(geomap never assumes a CRS)"
        )
    if not crs.is_projected:
        raise CRSError(
            f"the evidence stack is in {crs.to_string()}, not a projected CRS; models count "
            "areas and distances in metres — build the stack on the region's analysis grid"
        )
    for name, var in stack.data_vars.items():
        if name == "spatial_ref":
            continue
        if var.dims != ("y", "x"):
            raise DataError(
                f"stack variable {name!r} has dims {var.dims}; every layer must be ('y', 'x')"
            )
    return stack


def evidence_layers(stack: xr.Dataset) -> list[str]:
    """Names of the stack's evidence layers (``geomap_role == "evidence"``).

    Without role attributes, every variable except ``coverage`` and ``spatial_ref``.
    """
    names = [str(n) for n in stack.data_vars if n != "spatial_ref"]
    roles = {n: stack[n].attrs.get("geomap_role") for n in names}
    if any(r is not None for r in roles.values()):
        return [n for n in names if roles[n] == "evidence"]
    return [n for n in names if n != "coverage"]


def _grid_geometry(stack: xr.Dataset) -> tuple[Any, float, float]:
    transform = stack.rio.transform(recalc=True)
    if transform.b != 0 or transform.d != 0:
        raise DataError(
            f"the evidence grid is rotated (transform {tuple(transform)[:6]}); "
            "models need a north-up grid"
        )
    dx, dy = abs(transform.a), abs(transform.e)
    crs = stack.rio.crs
    factor = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
    return transform, dx * dy * factor * factor / 1e6, math.sqrt(dx * dy) * factor


def _valid(var: xr.DataArray) -> Any:
    """Boolean (lazy when Dask-backed) array: the layer has data in the cell."""
    data = var.data
    valid = ~np.isnan(data) if np.issubdtype(var.dtype, np.floating) else (data == data)
    nodata = var.rio.nodata if hasattr(var, "rio") else None
    if nodata is None:
        nodata = var.attrs.get("_FillValue", var.encoding.get("_FillValue"))
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        valid = valid & (data != nodata)
    return valid


def _coverage(stack: xr.Dataset, layers: list[str]) -> Any:
    """Layers with data per cell (int16; Dask-backed when the layers are)."""
    total: Any = None
    for name in layers:
        ok = _valid(stack[name]).astype(np.int16)
        total = ok if total is None else total + ok
    return total.astype(np.int16)


def _study_area(stack: xr.Dataset, layers: list[str], study_area: Any) -> Any:
    """Boolean array of the study area, Dask-backed (lazy) when the stack is."""
    shape = (stack.sizes["y"], stack.sizes["x"])
    if "coverage" in stack.data_vars:
        has_evidence = stack["coverage"].data > 0
    else:
        has_evidence = _coverage(stack, layers or evidence_layers(stack)) > 0
    if study_area is None:
        return has_evidence
    if not isinstance(study_area, xr.DataArray) or study_area.shape != shape:
        raise GridMismatchError(
            f"study_area has shape {getattr(study_area, 'shape', None)}, the stack {shape}; "
            "give a mask on the stack's grid"
        )
    _same_grid(stack, study_area, "study_area")
    values = study_area.data
    if np.issubdtype(study_area.dtype, np.floating):
        values = (values != 0) & ~np.isnan(values)
    else:
        values = values != 0
    return values & has_evidence


def study_area_mask(
    stack: xr.Dataset, layers: list[str] | None = None, study_area: Any = None
) -> np.ndarray:
    """Boolean array: cells that belong to the study area.

    Parameters
    ----------
    stack : xarray.Dataset
        The evidence stack.
    layers : list of str, optional
        Layers counted when the stack has no ``coverage`` variable.
    study_area : xarray.DataArray, optional
        Mask on the same grid (true / non-zero inside), e.g.
        :func:`geomap.pipeline.country_mask`; cells without any evidence are left out of it
        too.

    Returns
    -------
    numpy.ndarray of bool
        The whole grid in memory (the chunked model stage uses a lazy equivalent).
    """
    return np.asarray(_study_area(stack, layers or evidence_layers(stack), study_area))


def _same_grid(stack: xr.Dataset, other: xr.DataArray, what: str) -> None:
    for axis in ("x", "y"):
        a, b = stack[axis].values, other[axis].values
        if a.shape != b.shape or not np.allclose(a, b, rtol=0, atol=1e-6 * max(1.0, np.ptp(a))):
            raise GridMismatchError(
                f"{what} is not on the evidence grid (its {axis} coordinates differ); "
                "reproject it onto the stack's grid first"
            )


# ----------------------------------------------------------------------------- sampling

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection of uint64 that scatters neighbouring inputs."""
    z = values.astype(np.uint64, copy=True)
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def cell_sample_keys(cells: np.ndarray, seed: int) -> np.ndarray:
    """Pseudo-random ``uint64`` key of each cell, from its row-major index and the seed.

    The key of a cell depends on nothing else (not on the chunking, the order in which blocks
    are read, nor the other cells), and two cells never share a key, so "the ``n`` cells with
    the smallest keys" is one well-defined, seeded sample of any set of cells.

    Examples
    --------
    >>> keys = cell_sample_keys(np.arange(5), seed=0)
    >>> keys.dtype, len(set(keys.tolist()))
    (dtype('uint64'), 5)
    """
    offset = _mix64(np.array([int(seed) % 2**64], dtype=np.uint64)) * np.array([_GOLDEN])
    return _mix64(np.asarray(cells, dtype=np.int64).astype(np.uint64) + offset)


class _SmallestKeys:
    """The ``k`` smallest keys seen so far, in O(k) memory."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.keys = np.empty(0, dtype=np.uint64)

    def add(self, keys: np.ndarray) -> None:
        if keys.size > self.k:
            keys = np.partition(keys, self.k - 1)[: self.k]
        merged = np.concatenate([self.keys, keys])
        if merged.size > self.k:
            merged = np.partition(merged, self.k - 1)[: self.k]
        self.keys = merged

    def kth(self, n: int) -> np.uint64:
        """Return the ``n``-th smallest key (1-based; ``n <= k``)."""
        return np.partition(self.keys, n - 1)[n - 1]


# ----------------------------------------------------------------------------- layers as columns


@dataclass(frozen=True)
class _LayerSpec:
    """What is needed to read one layer's values into a table column (small, picklable)."""

    name: str
    categorical: bool
    labels: dict[Any, str]
    nodata: Any

    @classmethod
    def of(cls, var: xr.DataArray) -> _LayerSpec:
        nodata = var.rio.nodata
        if nodata is None:
            nodata = var.attrs.get("_FillValue", var.encoding.get("_FillValue"))
        if isinstance(nodata, float) and math.isnan(nodata):
            nodata = None
        categorical = var.attrs.get("geomap_kind") == "categorical"
        return cls(str(var.name), categorical, _class_labels(var) if categorical else {}, nodata)

    def valid(self, values: np.ndarray) -> np.ndarray:
        ok = ~np.isnan(values) if values.dtype.kind == "f" else np.ones(values.shape, dtype=bool)
        if self.nodata is not None:
            ok &= values != self.nodata
        return ok

    def column(self, values: np.ndarray) -> tuple[Any, np.ndarray]:
        """Table column (float array or pandas Categorical) and the has-data mask."""
        ok = self.valid(values)
        if self.categorical:
            if self.labels:
                objects = np.array(
                    [self.labels.get(_key(v), _key(v)) for v in values], dtype=object
                )
            else:
                objects = np.array([_key(v) for v in values], dtype=object)
            objects[~ok] = None
            return pd.Categorical(objects), ok
        out = values.astype("float64")
        out[~ok] = np.nan
        return out, ok


def _key(value: Any) -> Any:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _class_labels(var: xr.DataArray) -> dict[Any, str]:
    """Class code -> name from ``geomap_classes`` (JSON or mapping) or CF flag attributes."""
    classes = var.attrs.get("geomap_classes")
    if isinstance(classes, str):
        try:
            classes = json.loads(classes)
        except json.JSONDecodeError:
            classes = None
    if isinstance(classes, dict):
        return {
            _key(int(k)) if str(k).lstrip("-").isdigit() else k: str(v) for k, v in classes.items()
        }
    if isinstance(classes, list):
        return dict(enumerate(map(str, classes)))
    values, meanings = var.attrs.get("flag_values"), var.attrs.get("flag_meanings")
    if values is not None and isinstance(meanings, str):
        return {_key(v): m for v, m in zip(np.atleast_1d(values), meanings.split(), strict=False)}
    return {}

"""Shared helpers of the evidence functions: provenance attributes, blocks, padding."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox

from geomap.grid import grid_to_dataarray

__all__ = [
    "EVIDENCE_KINDS",
    "apply_local",
    "finish",
    "is_dask",
    "padded_chunks",
    "padded_grid",
    "provenance_source",
]

EVIDENCE_KINDS = ("continuous", "binary", "categorical")
"""The kinds of evidence layer (``attrs["geomap_kind"]``)."""


def is_dask(data: Any) -> bool:
    """Whether ``data`` (array or DataArray) is Dask-backed."""
    return hasattr(getattr(data, "data", data), "dask")


def provenance_source(obj: Any, source: str | Sequence[str] | None = None) -> str:
    """Return the dataset ids an input came from, as a comma-separated string.

    ``source`` wins when given; otherwise the input's ``attrs`` are read
    (``geomap_source`` or the reader's ``geomap_report["dataset_id"]``).
    """
    if source is not None:
        return source if isinstance(source, str) else ",".join(source)
    attrs = getattr(obj, "attrs", {}) or {}
    if attrs.get("geomap_source"):
        return str(attrs["geomap_source"])
    report = attrs.get("geomap_report")
    if isinstance(report, Mapping):
        dataset = report.get("dataset_id") or report.get("dataset")
        if dataset:
            return str(dataset)
    return ""


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, set | tuple):
        return list(value)
    return str(value)


def finish(
    data: Any,
    grid: GeoBox,
    *,
    name: str,
    kind: str,
    function: str,
    params: Mapping[str, Any],
    source: str = "",
    units: str = "",
    long_name: str = "",
    extra: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Wrap evidence values (float32, NaN = no data) with the provenance attributes.

    Attributes written: ``geomap_role`` (``"evidence"``), ``geomap_kind``,
    ``geomap_function``, ``geomap_params`` (JSON), ``geomap_source`` (dataset ids),
    ``long_name`` and ``units``.
    """
    if kind not in EVIDENCE_KINDS:
        raise ValueError(f"kind {kind!r} is not one of {EVIDENCE_KINDS}")
    attrs: dict[str, Any] = {
        "geomap_role": "evidence",
        "geomap_kind": kind,
        "geomap_function": function,
        "geomap_params": json.dumps(dict(params), sort_keys=True, default=_json_default),
        "geomap_source": source,
        "long_name": long_name or name,
        "units": units,
    }
    attrs.update(extra or {})
    if data.dtype != np.float32:
        data = data.astype("float32")
    return grid_to_dataarray(data, grid, name=name, nodata=math.nan, attrs=attrs)


def padded_grid(grid: GeoBox, pad: int) -> GeoBox:
    """Return ``grid`` grown by ``pad`` cells on every side."""
    a = grid.affine
    affine = Affine(a.a, 0.0, a.c - pad * a.a, 0.0, a.e, a.f - pad * a.e)
    return GeoBox((grid.shape.y + 2 * pad, grid.shape.x + 2 * pad), affine, grid.crs)


def padded_chunks(
    shape: Sequence[int], block: tuple[int, int], pad: int
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Dask chunks for a padded array whose centre crop has blocks of ``block``."""
    out = []
    for n, b in zip(shape, block, strict=True):
        sizes = [min(b, n - s) for s in range(0, n, b)]
        sizes[0] += pad
        sizes[-1] += pad
        out.append(tuple(sizes))
    return out[0], out[1]


def apply_local(
    values: Any,
    func: Callable[[np.ndarray], np.ndarray],
    depth: int,
    *,
    dtype: Any = "float32",
) -> Any:
    """Apply a neighbourhood function to NumPy or Dask data with the same result.

    ``func`` must give each cell a value that depends only on cells within
    ``depth`` of it and treat the array edges itself (e.g. ``np.gradient``'s
    one-sided differences); Dask blocks get a halo of ``depth`` cells and no
    padding at the array edges (``boundary="none"``), so each cell sees exactly
    what it sees in the whole array.
    """
    if not is_dask(values):
        return func(np.asarray(values))
    if depth == 0:
        return values.map_blocks(func, dtype=dtype)
    return values.map_overlap(func, depth=depth, boundary="none", trim=True, dtype=dtype)

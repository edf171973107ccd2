"""Transforms of evidence layers: fuzzy memberships, normalizations, thresholds.

Every transform is elementwise (or uses whole-layer statistics), keeps NaN as
NaN, keeps a Dask-backed layer Dask-backed, and appends itself to the layer's
``attrs["geomap_transforms"]`` (JSON list) so the provenance says what was done.

Fuzzy memberships follow the usual definitions (e.g. ArcGIS *Fuzzy Membership*;
Bonham-Carter 1994, *Geographic Information Systems for Geoscientists*, ch. 9):

* linear: 0 at ``low``, 1 at ``high``, straight in between (decreasing when ``low > high``);
* large: ``1 / (1 + (x / midpoint) ** -spread)`` (large values are favourable);
* small: ``1 / (1 + (x / midpoint) ** spread)`` (small values are favourable);
* gaussian: ``exp(-spread * (x - midpoint) ** 2)``;
* near: ``1 / (1 + spread * (x - midpoint) ** 2)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from geomap.errors import ParameterError
from geomap.evidence._common import is_dask
from geomap.grid import grid_of, grid_to_dataarray

__all__ = [
    "FUZZY_FUNCTIONS",
    "fuzzy",
    "fuzzy_gaussian",
    "fuzzy_large",
    "fuzzy_linear",
    "fuzzy_near",
    "fuzzy_small",
    "log_transform",
    "percentile_rank",
    "threshold",
    "zscore",
]

FUZZY_FUNCTIONS = ("linear", "large", "small", "gaussian", "near")
"""The fuzzy membership shapes of the ``fuzzy`` transform."""


def _number(name: str, value: Any, *, positive: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterError(f"{name}={value!r} is not a number") from None
    if not math.isfinite(number) or (positive and number <= 0):
        need = "a finite number greater than zero" if positive else "a finite number"
        raise ParameterError(f"{name}={value!r} must be {need}")
    return number


def _transformed(
    layer: xr.DataArray,
    result: xr.DataArray,
    step: Mapping[str, Any],
    *,
    kind: str | None = None,
    units: str | None = None,
) -> xr.DataArray:
    attrs = dict(layer.attrs)
    steps = json.loads(attrs.get("geomap_transforms", "[]"))
    steps.append(dict(step))
    attrs["geomap_transforms"] = json.dumps(steps, sort_keys=True)
    if kind is not None:
        attrs["geomap_kind"] = kind
    if units is not None:
        attrs["units"] = units
    data = result.data
    if data.dtype != np.float32:
        data = data.astype("float32")
    return grid_to_dataarray(data, grid_of(layer), name=layer.name, attrs=attrs)


def _keep_nan(layer: xr.DataArray, values: xr.DataArray) -> xr.DataArray:
    return values.where(layer.notnull())


# --------------------------------------------------------------------------- fuzzy


def fuzzy_linear(layer: xr.DataArray, *, low: float, high: float) -> xr.DataArray:
    """Linear membership: 0 at ``low``, 1 at ``high`` (decreasing when ``low > high``)."""
    lo, hi = _number("low", low), _number("high", high)
    if lo == hi:
        raise ParameterError(f"low and high are both {lo}; they must differ")
    mu = ((layer - lo) / (hi - lo)).clip(0.0, 1.0) + 0.0  # no -0.0
    step = {"transform": "fuzzy", "function": "linear", "low": lo, "high": hi}
    return _transformed(layer, _keep_nan(layer, mu), step, units="membership")


def fuzzy_large(layer: xr.DataArray, *, midpoint: float, spread: float = 5.0) -> xr.DataArray:
    """Membership rising through 0.5 at ``midpoint``: ``1 / (1 + (x/midpoint)^-spread)``."""
    mid = _number("midpoint", midpoint, positive=True)
    s = _number("spread", spread, positive=True)
    ratio = (layer / mid).where(layer > 0)
    mu = (1.0 / (1.0 + ratio ** (-s))).fillna(0.0)
    step = {"transform": "fuzzy", "function": "large", "midpoint": mid, "spread": s}
    return _transformed(layer, _keep_nan(layer, mu), step, units="membership")


def fuzzy_small(layer: xr.DataArray, *, midpoint: float, spread: float = 5.0) -> xr.DataArray:
    """Membership falling through 0.5 at ``midpoint``: ``1 / (1 + (x/midpoint)^spread)``."""
    mid = _number("midpoint", midpoint, positive=True)
    s = _number("spread", spread, positive=True)
    ratio = (layer / mid).clip(min=0.0)
    mu = 1.0 / (1.0 + ratio**s)
    step = {"transform": "fuzzy", "function": "small", "midpoint": mid, "spread": s}
    return _transformed(layer, _keep_nan(layer, mu), step, units="membership")


def fuzzy_gaussian(layer: xr.DataArray, *, midpoint: float, spread: float) -> xr.DataArray:
    """Membership ``exp(-spread * (x - midpoint)^2)`` peaking at ``midpoint``."""
    mid = _number("midpoint", midpoint)
    s = _number("spread", spread, positive=True)
    mu = xr.apply_ufunc(np.exp, -s * (layer - mid) ** 2, dask="allowed")
    step = {"transform": "fuzzy", "function": "gaussian", "midpoint": mid, "spread": s}
    return _transformed(layer, _keep_nan(layer, mu), step, units="membership")


def fuzzy_near(layer: xr.DataArray, *, midpoint: float, spread: float) -> xr.DataArray:
    """Membership ``1 / (1 + spread * (x - midpoint)^2)`` peaking at ``midpoint``."""
    mid = _number("midpoint", midpoint)
    s = _number("spread", spread, positive=True)
    mu = 1.0 / (1.0 + s * (layer - mid) ** 2)
    step = {"transform": "fuzzy", "function": "near", "midpoint": mid, "spread": s}
    return _transformed(layer, _keep_nan(layer, mu), step, units="membership")


def fuzzy(layer: xr.DataArray, function: str, **params: Any) -> xr.DataArray:
    """Apply the fuzzy membership ``function`` (one of :data:`FUZZY_FUNCTIONS`).

    Raises
    ------
    ParameterError
        Unknown function, or parameters it does not take.
    """
    funcs: dict[str, Any] = {
        "linear": fuzzy_linear,
        "large": fuzzy_large,
        "small": fuzzy_small,
        "gaussian": fuzzy_gaussian,
        "near": fuzzy_near,
    }
    if function not in funcs:
        raise ParameterError(f"fuzzy function {function!r}: use one of {', '.join(funcs)}")
    try:
        return funcs[function](layer, **params)
    except TypeError as exc:
        raise ParameterError(f"fuzzy {function!r}: {exc}") from None


# --------------------------------------------------------------------------- normalizations


def zscore(layer: xr.DataArray) -> xr.DataArray:
    """``(x - mean) / std`` over the cells with data (population standard deviation)."""
    mean = layer.mean(skipna=True)
    std = layer.std(skipna=True)
    z = (layer - mean) / std.where(std > 0)
    return _transformed(layer, z, {"transform": "zscore"}, units="z")


def percentile_rank(layer: xr.DataArray) -> xr.DataArray:
    """Fraction of the cells with data whose value is at most the cell's value, in (0, 1].

    On Dask the valid values are gathered once to sort them (memory: one float64
    per cell with data).
    """
    data = layer.data
    flat = data.reshape(-1)
    if is_dask(data):
        import dask.array as dsa

        valid = np.sort(np.asarray(flat[dsa.isfinite(flat)].compute(), dtype="float64"))
    else:
        valid = np.sort(np.asarray(flat[np.isfinite(flat)], dtype="float64"))
    n = max(len(valid), 1)

    def rank(block: np.ndarray) -> np.ndarray:
        out = np.searchsorted(valid, block, side="right") / n
        return np.where(np.isfinite(block), out, np.nan).astype("float32")

    ranked = data.map_blocks(rank, dtype="float32") if is_dask(data) else rank(np.asarray(data))
    result = layer.copy(data=ranked)
    return _transformed(layer, result, {"transform": "percentile"}, units="fraction")


def log_transform(layer: xr.DataArray, *, offset: float = 0.0) -> xr.DataArray:
    """``log10(x + offset)``; cells where ``x + offset <= 0`` become NaN (no data)."""
    off = _number("offset", offset)
    shifted = layer + off
    out = xr.apply_ufunc(np.log10, shifted.where(shifted > 0), dask="allowed")
    units = str(layer.attrs.get("units", ""))
    step = {"transform": "log10", "offset": off}
    return _transformed(layer, out, step, units=f"log10 {units}".strip())


def threshold(layer: xr.DataArray, *, value: float, above: bool = True) -> xr.DataArray:
    """Binary evidence: 1 where ``x >= value`` (``x <= value`` when ``above=False``), else 0."""
    v = _number("value", value)
    hit = (layer >= v) if above else (layer <= v)
    out = _keep_nan(layer, hit.astype("float32"))
    step = {"transform": "threshold", "value": v, "above": bool(above)}
    return _transformed(layer, out, step, kind="binary", units="")

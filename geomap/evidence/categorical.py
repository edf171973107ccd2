"""Categorical evidence: class layers (e.g. lithology), one-hot layers and score tables."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import xarray as xr
from odc.geo.geobox import GeoBox

from geomap.errors import DataError
from geomap.evidence._common import finish, is_dask, provenance_source
from geomap.grid import Chunks, grid_of, rasterize, reproject_to

__all__ = ["class_labels", "class_layer", "class_scores", "one_hot"]


def _labels_from_attrs(attrs: Mapping[str, Any]) -> dict[int, str]:
    """Class labels of a raster from ``geomap_classes`` or CF ``flag_values``/``flag_meanings``."""
    raw = attrs.get("geomap_classes")
    if isinstance(raw, str):
        raw = json.loads(raw)
    if isinstance(raw, Mapping):
        return {int(k): str(v) for k, v in raw.items()}
    values, meanings = attrs.get("flag_values"), attrs.get("flag_meanings")
    if values is not None and meanings is not None:
        names = meanings.split() if isinstance(meanings, str) else list(meanings)
        return {int(v): str(n) for v, n in zip(np.atleast_1d(values), names, strict=False)}
    return {}


def class_labels(layer: xr.DataArray) -> dict[int, str]:
    """Return the ``{code: label}`` table of a class layer made by :func:`class_layer`."""
    return _labels_from_attrs(layer.attrs)


def class_layer(
    source: xr.DataArray | Any,
    grid: GeoBox,
    *,
    column: str | None = None,
    classes: Mapping[int, str] | None = None,
    resampling: str | None = None,
    chunks: Chunks = None,
    name: str = "classes",
    source_ids: str | Sequence[str] | None = None,
) -> xr.DataArray:
    """Put a class map (raster of codes, or polygons with a class column) on the grid.

    Parameters
    ----------
    source : DataArray or GeoDataFrame
        A raster of integer class codes (e.g. GLiM) with a CRS and declared
        nodata, or polygons with a CRS and a class ``column``.
    grid : GeoBox
        The analysis grid.
    column : str, optional
        The class column of a GeoDataFrame (required for vectors).
    classes : mapping of int to str, optional
        Labels of a raster's codes; by default read from its attributes
        (``geomap_classes`` or CF ``flag_values``/``flag_meanings``).
    resampling : {"nearest", "mode"}, optional
        For rasters (default: nearest, or mode when the grid is coarser).
    chunks : None, "auto", int or (int, int)
        Dask-backed result (equal to the in-memory one).
    name : str, default "classes"
        Layer name.
    source_ids : str or list of str, optional
        Dataset ids for the provenance.

    Returns
    -------
    xarray.DataArray
        float32 class codes (NaN where no class), ``geomap_kind = "categorical"``,
        with the ``{code: label}`` table as JSON in ``attrs["geomap_classes"]``.
        Vector classes are numbered 1..n in sorted label order.

    Raises
    ------
    DataError
        A vector source without ``column`` or with a missing column.
    """
    params: dict[str, Any] = {"column": column}
    if isinstance(source, xr.DataArray):
        labels = dict(classes) if classes is not None else _labels_from_attrs(source.attrs)
        codes = reproject_to(source, grid, kind="categorical", resampling=resampling, chunks=chunks)
        nodata = codes.rio.nodata
        data = codes.data
        data = _where(data == nodata, np.nan, data.astype("float32"))
        if not labels:
            labels = {}
    else:
        if column is None:
            raise DataError(
                f"class_layer {name!r}: vector classes need column=...; "
                f"available: {[c for c in getattr(source, 'columns', []) if c != 'geometry']}"
            )
        if column not in source.columns:
            known = [c for c in source.columns if c != "geometry"]
            raise DataError(f"class_layer {name!r}: no column {column!r}; available: {known}")
        values = source[column]
        missing = values.isna().to_numpy()
        if missing.any():
            warnings.warn(
                f"class_layer {name!r}: {int(missing.sum())} of {len(values)} features have no "
                f"{column!r} and are left out (their cells have no class)",
                UserWarning,
                stacklevel=2,
            )
        text = values[~missing].astype(str)
        names = sorted(set(text))
        labels = {i + 1: label for i, label in enumerate(names)}
        lookup = {label: code for code, label in labels.items()}
        frame = source.loc[~missing].copy()
        frame["_geomap_code"] = [lookup[t] for t in text]
        codes = rasterize(frame, grid, values="_geomap_code", fill=0, dtype="int32", chunks=chunks)
        data = codes.data
        data = _where(data == 0, np.nan, data.astype("float32"))
    params["classes"] = {str(k): v for k, v in sorted(labels.items())}
    return finish(
        data,
        grid,
        name=name,
        kind="categorical",
        function="classes",
        params=params,
        source=provenance_source(source, source_ids),
        long_name=f"{name} (class codes)",
        extra={"geomap_classes": json.dumps({str(k): v for k, v in sorted(labels.items())})},
    )


def _where(cond: Any, a: Any, b: Any) -> Any:
    if is_dask(b):
        import dask.array as dsa

        return dsa.where(cond, a, b)
    return np.where(cond, a, b)


def _resolve(layer: xr.DataArray, wanted: Sequence[int | str]) -> list[tuple[int, str]]:
    labels = class_labels(layer)
    by_label = {v.lower(): k for k, v in labels.items()}
    out = []
    for item in wanted:
        if isinstance(item, int | np.integer) and not isinstance(item, bool):
            if labels and int(item) not in labels:
                raise DataError(
                    f"layer {layer.name!r} has no class code {item}; known: {sorted(labels)}"
                )
            out.append((int(item), labels.get(int(item), str(item))))
        elif str(item).lower() in by_label:
            code = by_label[str(item).lower()]
            out.append((code, labels[code]))
        else:
            raise DataError(
                f"layer {layer.name!r} has no class {item!r}; known classes: "
                f"{', '.join(sorted(labels.values())) or '(none labelled)'}"
            )
    return out


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in label.lower()).strip("_")


def one_hot(
    layer: xr.DataArray, *, classes: Sequence[int | str] | None = None, prefix: str | None = None
) -> list[xr.DataArray]:
    """Binary layers, one per class: 1 in the class, 0 in another class, NaN without data.

    Parameters
    ----------
    layer : xarray.DataArray
        A class layer from :func:`class_layer`.
    classes : sequence of str or int, optional
        Labels (case-insensitive) or codes to keep; default every labelled class.
    prefix : str, optional
        Name prefix (default: the layer's name); layers are named ``prefix_label``.

    Raises
    ------
    DataError
        A class that the layer does not have (the message lists the known ones).
    """
    chosen = _resolve(layer, list(classes) if classes is not None else sorted(class_labels(layer)))
    base = prefix or str(layer.name)
    grid = grid_of(layer)
    out = []
    params = json.loads(layer.attrs.get("geomap_params", "{}"))
    for code, label in chosen:
        data = layer.data
        binary = _where(np.isnan(data), np.nan, (data == code).astype("float32"))
        out.append(
            finish(
                binary,
                grid,
                name=f"{base}_{_safe(label)}",
                kind="binary",
                function="one_hot",
                params={**params, "class": label, "code": code},
                source=layer.attrs.get("geomap_source", ""),
                long_name=f"{base} is {label}",
            )
        )
    return out


def class_scores(
    layer: xr.DataArray,
    *,
    scores: Mapping[int | str, float],
    default: float | None = 0.0,
    name: str | None = None,
) -> xr.DataArray:
    """Map each class to a favourability score (a lookup table).

    Parameters
    ----------
    layer : xarray.DataArray
        A class layer from :func:`class_layer`.
    scores : mapping
        Label (case-insensitive) or code -> score.
    default : float or None, default 0.0
        Score of classes not in ``scores``; ``None`` leaves them without data.
    name : str, optional
        Layer name (default: ``<layer>_score``).

    Raises
    ------
    DataError
        A class in ``scores`` that the layer does not have.
    """
    resolved = _resolve(layer, list(scores))
    table = {code: float(scores[key]) for (code, _), key in zip(resolved, scores, strict=True)}
    fill = math.nan if default is None else float(default)
    codes = sorted(set(class_labels(layer)) | set(table))
    top = max(codes, default=0)
    lookup = np.full(top + 2, fill, dtype="float32")
    for code, score in table.items():
        if code >= 0:
            lookup[code] = score

    def apply(block: np.ndarray) -> np.ndarray:
        out = np.full(block.shape, np.nan, dtype="float32")
        ok = np.isfinite(block)
        idx = block[ok].astype(np.intp)
        inside = (idx >= 0) & (idx < len(lookup))
        vals = np.full(idx.shape, fill, dtype="float32")
        vals[inside] = lookup[idx[inside]]
        out[ok] = vals
        return out

    data = layer.data
    result = data.map_blocks(apply, dtype="float32") if is_dask(data) else apply(np.asarray(data))
    params = json.loads(layer.attrs.get("geomap_params", "{}"))
    params.update({"scores": {labelled: table[c] for c, labelled in resolved}, "default": default})
    return finish(
        result,
        grid_of(layer),
        name=name or f"{layer.name}_score",
        kind="continuous",
        function="class_scores",
        params=params,
        source=layer.attrs.get("geomap_source", ""),
        units="score",
        long_name=f"{layer.name} favourability score",
    )

"""From a fitted model back to rasters: :func:`predict_raster`.

A fitted model is applied to an evidence stack chunk by chunk: on a Dask-backed stack through
:func:`dask.array.map_blocks` (lazy, memory bounded by the chunk size), on a NumPy-backed one
in row blocks.  Each cell's prediction depends on that cell only, so both give the same
numbers.  Outside the study area (coverage > 0 unless a mask is given) prospectivity and
uncertainty are NaN.  Re-exported by :mod:`geomap.models.raster`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from geomap.core.provenance import source_ids
from geomap.errors import ModelError
from geomap.models.raster_grid import (
    _check_stack,
    _coverage,
    _LayerSpec,
    _study_area,
    _valid,
    study_area_mask,
)

__all__ = ["predict_raster"]

_PREDICT_BLOCK_CELLS = 1_000_000


def _predict_block(
    model: Any, specs: list[_LayerSpec], mask_block: np.ndarray, *arrays: np.ndarray
) -> np.ndarray:
    mask = np.asarray(mask_block, dtype=bool)
    out = np.full((2, *mask.shape), np.nan, dtype=np.float32)
    if not mask.any():
        return out
    frame = pd.DataFrame(
        {
            spec.name: spec.column(np.asarray(a)[mask])[0]
            for spec, a in zip(specs, arrays, strict=True)
        }
    )
    if hasattr(model, "predict_with_uncertainty"):
        p, std = model.predict_with_uncertainty(frame)
    else:
        p, std = model.predict_proba(frame)[:, 1], model.predict_std(frame)
    out[0][mask] = p
    out[1][mask] = std
    return out


def predict_raster(
    model: Any,
    stack: xr.Dataset,
    *,
    study_area: xr.DataArray | None = None,
    sources: Sequence[str] = (),
) -> xr.Dataset:
    """Prospectivity and uncertainty rasters of a fitted model on an evidence stack.

    Parameters
    ----------
    model : fitted geomap model
        Its ``feature_names_in_`` must be variables of the stack.
    stack : xarray.Dataset
        Evidence stack (NumPy- or Dask-backed).  A Dask-backed stack gives lazy results
        computed chunk by chunk; a NumPy-backed one is processed in blocks of rows.
    study_area : xarray.DataArray, optional
        Mask of the cells to predict (default: coverage > 0, as in :func:`cell_table`).
    sources : sequence of str, optional
        Catalog ids of the datasets the model was trained on (e.g. :class:`CellTable`'s
        ``sources``: the training occurrences).

    Returns
    -------
    xarray.Dataset
        ``prospectivity`` and ``uncertainty`` (float32, NaN outside the study area, with the
        stack's CRS) and ``coverage`` (int16, layers with data per cell).  Each carries its
        provenance in ``attrs["geomap_source"]`` (comma-separated dataset ids, which the
        writers turn into licence and credit tags): prospectivity and uncertainty name the
        sources of the layers used, of the study-area mask and ``sources``; coverage names
        the sources of the layers.
    """
    stack = _check_stack(stack)
    names = [str(n) for n in getattr(model, "feature_names_in_", [])]
    if not names:
        raise ModelError("the model is not fitted (no feature_names_in_); call fit first")
    missing = [n for n in names if n not in stack.data_vars]
    if missing:
        raise ModelError(
            f"the stack lacks layers {missing} the model was fitted on; build the same recipe"
        )
    vars_ = [stack[n] for n in names]
    specs = [_LayerSpec.of(v) for v in vars_]
    lazy = any(hasattr(v.data, "dask") for v in vars_)
    if lazy:
        import dask.array as da

        first = next(v for v in vars_ if hasattr(v.data, "dask"))
        chunks = first.data.chunks
        arrays = [
            (v.data if hasattr(v.data, "dask") else da.from_array(v.data)).rechunk(chunks)
            for v in vars_
        ]
        mask = _study_area(stack, names, study_area)  # lazy: never a whole-grid array
        mask = mask.rechunk(chunks) if hasattr(mask, "dask") else da.from_array(mask, chunks)
        result = da.map_blocks(
            _predict_block,
            model,
            specs,
            mask,
            *arrays,
            new_axis=0,
            chunks=((2,), *chunks),
            dtype=np.float32,
            meta=np.empty((0, 0, 0), dtype=np.float32),
        )
        prospectivity, uncertainty = result[0], result[1]
        coverage: Any = sum(_valid(v).astype(np.int16) for v in vars_)
    else:
        mask_np = study_area_mask(stack, names, study_area)
        values = [np.asarray(v.values) for v in vars_]
        out = np.full((2, *mask_np.shape), np.nan, dtype=np.float32)
        step = max(1, _PREDICT_BLOCK_CELLS // max(1, mask_np.shape[1]))
        for start in range(0, mask_np.shape[0], step):
            part = slice(start, start + step)
            out[:, part] = _predict_block(model, specs, mask_np[part], *[a[part] for a in values])
        prospectivity, uncertainty = out[0], out[1]
        coverage = _coverage(stack, names)
    coords = {"y": stack["y"], "x": stack["x"]}
    params = {}
    if hasattr(model, "get_params"):
        params = {
            k: v if isinstance(v, str | int | float | bool | type(None)) else repr(v)
            for k, v in model.get_params(deep=False).items()
        }
    layer_ids = [d for v in vars_ for d in source_ids(v)]
    layer_sources = ",".join(dict.fromkeys(layer_ids))
    used = ",".join(dict.fromkeys([*layer_ids, *source_ids(study_area), *map(str, sources)]))
    common = {"geomap_model": type(model).__name__, "geomap_params": json.dumps(params)}
    common |= {"geomap_source": used} if used else {}
    data = xr.Dataset(
        {
            "prospectivity": (
                ("y", "x"),
                prospectivity,
                {**common, "long_name": "prospectivity", "units": "1", "geomap_role": "result"},
            ),
            "uncertainty": (
                ("y", "x"),
                uncertainty,
                {
                    **common,
                    "long_name": "uncertainty of prospectivity (one standard deviation)",
                    "units": "1",
                    "geomap_role": "uncertainty",
                },
            ),
            "coverage": (
                ("y", "x"),
                coverage,
                {
                    "long_name": "evidence layers with data",
                    "units": "count",
                    "geomap_role": "coverage",
                    **({"geomap_source": layer_sources} if layer_sources else {}),
                },
            ),
        },
        coords=coords,
        attrs={k: v for k, v in stack.attrs.items() if k.startswith("geomap_")},
    )
    data = data.rio.write_crs(stack.rio.crs)
    for name in ("prospectivity", "uncertainty"):
        data[name] = data[name].rio.write_nodata(np.nan, encoded=False)
    return data

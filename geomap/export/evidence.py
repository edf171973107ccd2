"""Writing an evidence stack: one COG and one quick-look PNG per layer, and a summary table."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

__all__ = ["evidence_summary", "format_summary", "write_evidence"]

_QUICKLOOK_MAX_PIXELS = 1600


def _layer_stats(layer: xr.DataArray) -> dict[str, Any]:
    values = np.asarray(layer.values)
    if np.issubdtype(values.dtype, np.floating):
        ok = np.isfinite(values)
    else:
        nodata = layer.rio.nodata
        ok = values != nodata if nodata is not None else np.ones(values.shape, dtype=bool)
    data = values[ok]
    return {
        "layer": str(layer.name),
        "kind": layer.attrs.get("geomap_kind", layer.attrs.get("geomap_role", "")),
        "units": layer.attrs.get("units", ""),
        "min": float(data.min()) if data.size else math.nan,
        "max": float(data.max()) if data.size else math.nan,
        "percent_with_data": 100.0 * float(ok.mean()) if ok.size else 0.0,
    }


def evidence_summary(stack: xr.Dataset) -> list[dict[str, Any]]:
    """Return one row per layer: name, kind, units, min, max and % of cells with data."""
    return [_layer_stats(stack[name]) for name in stack.data_vars]


def format_summary(rows: list[dict[str, Any]]) -> str:
    """Format :func:`evidence_summary` rows as a fixed-width text table."""
    width = max([len("layer"), *(len(r["layer"]) for r in rows)])
    lines = [f"{'layer':<{width}}  {'kind':<11} {'min':>12} {'max':>12} {'% data':>7}  units"]
    for r in rows:
        lines.append(
            f"{r['layer']:<{width}}  {r['kind']:<11} {r['min']:>12.5g} {r['max']:>12.5g} "
            f"{r['percent_with_data']:>6.1f}%  {r['units']}"
        )
    return "\n".join(lines)


def _quicklook(layer: xr.DataArray, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    values = np.asarray(layer.values, dtype="float64")
    nodata = layer.rio.nodata
    if nodata is not None and not np.isnan(nodata):
        values = np.where(values == nodata, np.nan, values)
    step = max(1, math.ceil(max(values.shape) / _QUICKLOOK_MAX_PIXELS))
    shown = values[::step, ::step]
    x0, x1 = float(layer.x[0]), float(layer.x[-1])
    y0, y1 = float(layer.y[-1]), float(layer.y[0])
    fig, ax = plt.subplots(figsize=(8, 8 * max(0.3, min(3.0, shown.shape[0] / shown.shape[1]))))
    try:
        cmap = plt.get_cmap("viridis").with_extremes(bad="#dddddd")
        image = ax.imshow(
            np.ma.masked_invalid(shown),
            extent=(x0 / 1000, x1 / 1000, y0 / 1000, y1 / 1000),
            cmap=cmap,
            interpolation="nearest",
        )
        units = layer.attrs.get("units", "")
        fig.colorbar(image, ax=ax, shrink=0.8, label=units)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("x (km)")
        ax.set_ylabel("y (km)")
        fig.savefig(path, dpi=100, bbox_inches="tight")
    finally:
        plt.close(fig)


def write_evidence(
    stack: xr.Dataset,
    folder: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    quicklook: bool = True,
) -> list[dict[str, Any]]:
    """Write each layer of an evidence stack as ``<layer>.tif`` (COG) and ``<layer>.png``.

    The folder appears complete or not at all (:func:`geomap.core.atomic.atomic_dir`);
    it also gets ``summary.json`` (the stack's attributes and :func:`evidence_summary`).
    Layers are computed one at a time, so a Dask-backed stack needs the memory of
    one layer.

    Parameters
    ----------
    stack : xarray.Dataset
        An evidence stack from :func:`geomap.recipes.build_evidence`.
    folder : path-like
        Output folder.
    overwrite : bool, default False
        Replace an existing folder.
    quicklook : bool, default True
        Also write PNG quick-looks.

    Returns
    -------
    list of dict
        The summary rows.

    Raises
    ------
    OutputExistsError
        The folder exists and ``overwrite`` is False.
    """
    from geomap.core.atomic import atomic_dir
    from geomap.export.cog import write_cog

    rows = []
    title = stack.attrs.get("title", "")
    with atomic_dir(folder, overwrite=overwrite) as tmp:
        for name in stack.data_vars:
            layer = stack[name].load()
            rows.append(_layer_stats(layer))
            tags = {"geomap_recipe": stack.attrs.get("geomap_recipe", "")}
            write_cog(layer, tmp / f"{name}.tif", tags=tags)
            if quicklook:
                _quicklook(layer, tmp / f"{name}.png", f"{name} - {title}")
        summary = {"attrs": dict(stack.attrs), "layers": rows}
        (tmp / "summary.json").write_text(
            json.dumps(summary, indent=1, default=str) + "\n", encoding="utf-8"
        )
    return rows

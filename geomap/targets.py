"""Survey-planning targets: ranked polygons from a prospectivity surface.

The rule, in order:

1. **Select** cells: the top ``top_percent`` % of the *area* with data (the grid is
   equal-area, so a share of cells is a share of area), or every cell at or above
   an explicit probability ``threshold``.
2. **Merge** selected cells that touch (8-connectivity by default) into one target.
3. **Drop** targets smaller than ``min_area_km2`` (counted in ``attrs``).
4. **Rank** by mean prospectivity (highest first), ties broken by larger area.

Each target then gets its statistics (area, mean/max prospectivity, mean
uncertainty, data coverage), the known occurrences inside it, the nearest known
occurrence, the supply chains its commodities feed, and the country and
state/prefecture it lies in.

Examples
--------
>>> import numpy as np, xarray as xr
>>> surface = xr.DataArray(
...     np.array([[0.9, 0.8, 0.1], [0.1, 0.1, 0.1], [0.1, 0.1, 0.7]], dtype="float32"),
...     dims=("y", "x"), coords={"y": [2500.0, 1500.0, 500.0], "x": [500.0, 1500.0, 2500.0]},
... ).rio.write_crs("EPSG:5070")
>>> targets = select_targets(surface, threshold=0.5)
>>> targets[["rank", "area_km2", "max_prospectivity"]].values.tolist()
[[1.0, 2.0, 0.9], [2.0, 1.0, 0.7]]
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401 - registers the .rio accessor
import shapely
import xarray as xr
from rasterio import features
from scipy import ndimage

from geomap.errors import CRSError, DataError, ParameterError

__all__ = ["TARGET_COLUMNS", "select_targets"]

TARGET_COLUMNS = [
    "target_id",
    "rank",
    "area_km2",
    "mean_prospectivity",
    "max_prospectivity",
    "mean_uncertainty",
    "mean_coverage",
    "coverage_fraction",
    "n_occurrences",
    "occurrences",
    "nearest_occurrence",
    "nearest_occurrence_km",
    "commodities",
    "supply_chains",
    "country",
    "state",
]


def _check_inputs(
    prospectivity: xr.DataArray,
    others: dict[str, xr.DataArray | None],
    top_percent: float | None,
    threshold: float | None,
    min_area_km2: float,
) -> None:
    crs = prospectivity.rio.crs
    if crs is None:
        raise CRSError("the prospectivity surface has no CRS; write one with .rio.write_crs()")
    if not crs.is_projected:
        raise CRSError(
            f"target areas need a projected (equal-area) CRS, got {crs.to_string()}; "
            "reproject the surface to the region's analysis CRS first"
        )
    if (top_percent is None) == (threshold is None):
        raise ParameterError("give exactly one of top_percent and threshold")
    if top_percent is not None and not 0 < top_percent <= 100:
        raise ParameterError(f"top_percent={top_percent} must lie in (0, 100]")
    if threshold is not None and not math.isfinite(threshold):
        raise ParameterError(f"threshold={threshold} must be a finite number")
    if min_area_km2 < 0 or not math.isfinite(min_area_km2):
        raise ParameterError(f"min_area_km2={min_area_km2} must be >= 0")
    present = {name: layer for name, layer in others.items() if layer is not None}
    if present:
        from geomap.grid import check_same_grid

        check_same_grid(prospectivity, *present.values(), names=["prospectivity", *present])


def _selection(
    values: np.ndarray, top_percent: float | None, threshold: float | None
) -> tuple[np.ndarray, float]:
    valid = np.isfinite(values)
    if not valid.any():
        raise DataError("the prospectivity surface has no cells with data; nothing to select")
    if threshold is None:
        assert top_percent is not None
        cutoff = float(np.quantile(values[valid], 1.0 - top_percent / 100.0, method="higher"))
    else:
        cutoff = float(threshold)
    return valid & (values >= cutoff), cutoff


def _polygons(labels: np.ndarray, transform: Any) -> dict[int, Any]:
    pieces: dict[int, list[Any]] = {}
    for geom, value in features.shapes(
        labels, mask=labels > 0, transform=transform, connectivity=8
    ):
        pieces.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    return {label: shapely.union_all(parts) for label, parts in pieces.items()}


def _occurrence_columns(
    targets: gpd.GeoDataFrame, occurrences: gpd.GeoDataFrame | None
) -> pd.DataFrame:
    out = pd.DataFrame(
        {
            "n_occurrences": 0,
            "occurrences": "",
            "occurrence_codes": [frozenset() for _ in range(len(targets))],
            "nearest_occurrence": "",
            "nearest_occurrence_km": np.nan,
        },
        index=targets.index,
    )
    if occurrences is None or occurrences.empty or targets.empty:
        return out
    if occurrences.crs is None:
        raise CRSError("the occurrences have no CRS; set one before selecting targets")
    points = occurrences.to_crs(targets.crs)
    names = (
        points["name"].fillna("").astype(str)
        if "name" in points
        else pd.Series("", index=points.index)
    )
    codes = points["commodities"] if "commodities" in points else pd.Series("", index=points.index)
    inside = gpd.sjoin(points[["geometry"]], targets[["geometry"]], predicate="within", how="inner")
    for target_index, group in inside.groupby("index_right"):
        members = group.index
        out.at[target_index, "n_occurrences"] = len(members)
        listed = sorted({n for n in names.loc[members] if n})
        out.at[target_index, "occurrences"] = "; ".join(listed[:20]) + (
            " ..." if len(listed) > 20 else ""
        )
        out.at[target_index, "occurrence_codes"] = frozenset(  # type: ignore[assignment]
            code for value in codes.loc[members] for code in str(value or "").split(";") if code
        )
    nearest_idx, distances = points.sindex.nearest(
        targets.geometry, return_distance=True, return_all=False
    )
    target_pos, point_pos = nearest_idx
    for t, p, d in zip(target_pos, point_pos, distances, strict=True):
        label = targets.index[t]
        out.at[label, "nearest_occurrence"] = names.iloc[p] or str(points.index[p])
        out.at[label, "nearest_occurrence_km"] = float(d) / 1000.0
    return out


def _admin_columns(targets: gpd.GeoDataFrame, admin_areas: gpd.GeoDataFrame | None) -> pd.DataFrame:
    out = pd.DataFrame({"country": "", "state": ""}, index=targets.index)
    if admin_areas is None or admin_areas.empty or targets.empty:
        return out
    if admin_areas.crs is None:
        raise CRSError("the administrative areas have no CRS; set one before selecting targets")
    missing = {"country", "state"} - set(admin_areas.columns)
    if missing:
        raise DataError(
            f"admin_areas lacks column(s) {sorted(missing)}; "
            "give a frame with 'country' and 'state' columns"
        )
    areas = admin_areas.to_crs(targets.crs)[["country", "state", "geometry"]]
    overlap = gpd.overlay(
        targets[["geometry"]].reset_index(names="_target"),
        areas,
        how="intersection",
        keep_geom_type=True,
    )
    if overlap.empty:
        return out
    overlap["_area"] = overlap.geometry.area
    best = overlap.sort_values("_area", ascending=False).drop_duplicates("_target")
    out.loc[best["_target"], "country"] = best["country"].fillna("").astype(str).to_numpy()
    out.loc[best["_target"], "state"] = best["state"].fillna("").astype(str).to_numpy()
    return out


def select_targets(
    prospectivity: xr.DataArray,
    *,
    top_percent: float | None = None,
    threshold: float | None = None,
    min_area_km2: float = 0.0,
    uncertainty: xr.DataArray | None = None,
    coverage: xr.DataArray | None = None,
    n_layers: int | None = None,
    occurrences: gpd.GeoDataFrame | None = None,
    commodities: Iterable[str] = (),
    admin_areas: gpd.GeoDataFrame | None = None,
) -> gpd.GeoDataFrame:
    """Turn a prospectivity surface into ranked target polygons.

    Parameters
    ----------
    prospectivity : xarray.DataArray
        The surface, dims ``("y", "x")``, in a projected equal-area CRS; NaN = no data.
        Dask-backed surfaces are computed (targets need the whole selection mask).
    top_percent : float, optional
        Select the top X % of the area with data.  Default 5 when neither this
        nor ``threshold`` is given.
    threshold : float, optional
        Select every cell with prospectivity >= threshold instead.
    min_area_km2 : float, default 0
        Drop targets smaller than this.
    uncertainty, coverage : xarray.DataArray, optional
        Uncertainty (e.g. posterior standard deviation) and data-coverage layers on
        the same grid (a different grid is an error).
    n_layers : int, optional
        Number of evidence layers, to express coverage as a fraction; read from
        ``coverage.attrs["n_layers"]`` when not given.
    occurrences : GeoDataFrame, optional
        Known occurrences (common schema: ``name``, ``commodities``) in any CRS.
    commodities : iterable of str
        The commodity codes the targets are sought for (the recipe's); combined
        with the commodities of the occurrences inside to name supply chains.
    admin_areas : GeoDataFrame, optional
        Polygons with ``country`` and ``state`` columns (e.g. Natural Earth states or
        Japanese prefectures); each target gets the one it overlaps most.

    Returns
    -------
    GeoDataFrame
        One row per target in the surface's CRS, columns :data:`TARGET_COLUMNS`, sorted
        by rank.  ``attrs`` records the cutoff used and how many candidate targets
        were dropped for being too small.

    Raises
    ------
    CRSError
        The surface has no CRS, or a geographic one.
    ParameterError
        Both or neither selection rule out of range.
    GridMismatchError
        ``uncertainty`` or ``coverage`` lies on another grid.
    """
    if top_percent is None and threshold is None:
        top_percent = 5.0
    _check_inputs(
        prospectivity,
        {"uncertainty": uncertainty, "coverage": coverage},
        top_percent,
        threshold,
        min_area_km2,
    )
    values = np.asarray(prospectivity.values, dtype="float64")
    selected, cutoff = _selection(values, top_percent, threshold)
    structure = np.ones((3, 3), dtype=bool)
    labels, count = ndimage.label(selected, structure=structure)
    transform = prospectivity.rio.transform(recalc=True)
    cell_km2 = abs(transform.a * transform.e - transform.b * transform.d) / 1e6
    index = np.arange(1, count + 1)
    cells = ndimage.sum_labels(np.ones_like(values), labels, index) if count else np.array([])
    area = cells * cell_km2
    keep = index[area >= min_area_km2]
    dropped = int(count - keep.size)
    if keep.size < count:
        labels = np.where(np.isin(labels, keep), labels, 0)

    def stat(func: Any, layer: xr.DataArray | None) -> np.ndarray:
        if layer is None or keep.size == 0:
            return np.full(keep.size, np.nan)
        data = np.asarray(layer.values, dtype="float64")
        return np.asarray(
            func(np.where(np.isfinite(data), data, np.nan), labels, keep), dtype="float64"
        )

    def nanmean(data: np.ndarray, lab: np.ndarray, idx: np.ndarray) -> np.ndarray:
        finite = np.isfinite(data)
        total = ndimage.sum_labels(np.where(finite, data, 0.0), lab, idx)
        n = ndimage.sum_labels(finite.astype(float), lab, idx)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, total / n, np.nan)

    geoms = _polygons(labels.astype("int32"), transform)
    layers_total = n_layers or (coverage.attrs.get("n_layers") if coverage is not None else None)
    mean_coverage = stat(nanmean, coverage)
    frame = gpd.GeoDataFrame(
        {
            "label": keep,
            "area_km2": area[keep - 1] if keep.size else np.array([]),
            "mean_prospectivity": stat(nanmean, prospectivity),
            "max_prospectivity": stat(ndimage.maximum, prospectivity),
            "mean_uncertainty": stat(nanmean, uncertainty),
            "mean_coverage": mean_coverage,
            "coverage_fraction": mean_coverage / float(layers_total) if layers_total else np.nan,
        },
        geometry=[geoms[int(label)] for label in keep],
        crs=prospectivity.rio.crs,
    )
    frame = frame.sort_values(
        ["mean_prospectivity", "area_km2"], ascending=[False, False]
    ).reset_index(drop=True)
    frame["rank"] = np.arange(1, len(frame) + 1)
    frame["target_id"] = [f"T{r:03d}" for r in frame["rank"]]
    frame = frame.join(_occurrence_columns(frame, occurrences)).join(
        _admin_columns(frame, admin_areas)
    )
    wanted = frozenset(commodities)
    from geomap.harmonize.commodities import join_codes, supply_chains

    codes = [wanted | found for found in frame["occurrence_codes"]]
    frame["commodities"] = [join_codes(c) for c in codes]
    frame["supply_chains"] = ["; ".join(sorted(supply_chains(c))) for c in codes]
    frame = frame[[*TARGET_COLUMNS, "geometry"]]
    for column in ("area_km2", "mean_prospectivity", "max_prospectivity", "mean_uncertainty"):
        frame[column] = frame[column].astype("float64").round(6)
    frame.attrs["geomap_targets"] = {
        "rule": "top_percent" if threshold is None else "threshold",
        "top_percent": top_percent,
        "cutoff": cutoff,
        "min_area_km2": min_area_km2,
        "candidates": int(count),
        "dropped_below_min_area": dropped,
    }
    return frame

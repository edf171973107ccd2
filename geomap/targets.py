"""Survey-planning targets: ranked polygons from a prospectivity surface.

The rule, in order:

1. **Select** cells: the top ``top_percent`` % of the *area* with data (the grid is
   equal-area, so a share of cells is a share of area), or every cell at or above
   an explicit probability ``threshold``.
2. **Merge** selected cells that touch (8-connectivity by default) into one target.
3. **Drop** targets smaller than ``min_area_km2`` (counted in ``attrs``).
4. **Split** targets larger than the survey size into compact pieces of nearly equal size
   (:mod:`geomap.target_pieces`): at most ``max(max_target_km2, 4 cells)`` each (the
   pipeline's default cap is :data:`DEFAULT_MAX_TARGET_KM2`; a grid coarser than the survey
   size gives pieces of 2 × 2 cells, never single cells), so each piece can be surveyed on
   its own; each piece keeps ``parent_id`` (the unsplit target) and its own statistics.
   Targets no larger than that stay whole.
5. **Rank** by ``rank_score`` = mean prospectivity minus mean uncertainty (a one-standard-
   deviation lower bound: a target must be both high and certain to rank first; without an
   uncertainty layer the mean prospectivity), ties broken by larger area.
6. **List** at most ``max_targets`` (the pipeline's default :data:`DEFAULT_MAX_TARGETS`):
   the rest are counted in ``attrs`` (``not_listed``, ``not_listed_area_km2``), not dropped
   silently.

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
import xarray as xr

from geomap.errors import CRSError, DataError, ParameterError
from geomap.target_components import (
    IN_MEMORY_TARGET_CELLS,
    _components_blockwise,
    _components_in_memory,
)

__all__ = [
    "DEFAULT_MAX_TARGETS",
    "DEFAULT_MAX_TARGET_KM2",
    "TARGET_COLUMNS",
    "select_targets",
    "split_labels",
    "target_stability",
]

DEFAULT_MAX_TARGETS = 100
"""Targets listed by a build (the best ranked); the rest are counted in the report."""
DEFAULT_MAX_TARGET_KM2 = 300.0
"""Largest target the pipeline reports as one (km²): a few days of ground survey."""

TARGET_COLUMNS = [
    "target_id",
    "rank",
    "rank_score",
    "parent_id",
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
"""The columns of :func:`select_targets`'s table, in order."""


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


def split_labels(labels: np.ndarray, max_cells: int) -> tuple[np.ndarray, dict[int, int]]:
    """Split every labelled group of more than ``max_cells`` cells along square tiles.

    The tiles have a side of ``floor(sqrt(max_cells))`` cells (at least 1), aligned on the
    grid, so no piece holds more than ``max_cells`` cells.

    Returns
    -------
    labels, parent
        The new labels (1-based, raster order of first cell) and, for each new label, the
        old label it came from.

    >>> lab = np.array([[1, 1, 1, 1], [1, 1, 1, 1]])
    >>> new, parent = split_labels(lab, 4)
    >>> new.tolist(), parent
    ([[1, 1, 2, 2], [1, 1, 2, 2]], {1: 1, 2: 1})
    """
    side = max(1, math.floor(math.sqrt(max(max_cells, 1))))
    counts = np.bincount(labels.ravel())
    big = np.flatnonzero(counts > max_cells)
    big = big[big > 0]
    rows, cols = np.indices(labels.shape)
    n_tile_cols = labels.shape[1] // side + 1
    tile = (rows // side) * n_tile_cols + cols // side
    key = labels.astype(np.int64) * (tile.max() + 1)
    key = np.where(np.isin(labels, big), key + tile, key)
    from geomap.target_pieces import renumber_pieces

    # labels >= 1 give keys > 0; cells outside every group get 0
    return renumber_pieces(np.where(labels > 0, key, 0), labels)


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
    max_target_km2: float | None = None,
    max_targets: int | None = None,
) -> gpd.GeoDataFrame:
    """Turn a prospectivity surface into ranked target polygons.

    Parameters
    ----------
    prospectivity : xarray.DataArray
        The surface, dims ``("y", "x")``, in a projected equal-area CRS; NaN = no data.
        Dask-backed surfaces are read block by block (memory holds the selected cells,
        never the grid) and give the same targets.
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
    max_target_km2 : float, optional
        Split targets larger than this (or than 4 cells, whichever is larger) into compact
        pieces (step 4 of the module doc); ``None`` keeps them whole.  Chunked (Dask)
        surfaces over ``IN_MEMORY_TARGET_CELLS`` cells are not split (noted in ``attrs``).
    max_targets : int, optional
        List only the best this many (step 6); ``None`` lists every target.

    Returns
    -------
    GeoDataFrame
        One row per target in the surface's CRS, columns :data:`TARGET_COLUMNS`, sorted
        by rank.  ``attrs["geomap_targets"]`` records the cutoff used, how many candidate
        targets were dropped for being too small, the piece size and how many targets
        (and km²) ranked below ``max_targets`` are not listed.

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
    transform = prospectivity.rio.transform(recalc=True)
    cell_km2 = abs(transform.a * transform.e - transform.b * transform.d) / 1e6
    from geomap.grid.blocks import is_lazy

    if is_lazy(prospectivity) and prospectivity.size <= IN_MEMORY_TARGET_CELLS:
        # a chunked surface of a few million cells: computed here so it gets the same
        # targets (split to the survey size) as the same surface in memory
        prospectivity = prospectivity.compute()
        uncertainty = uncertainty.compute() if uncertainty is not None else None
        coverage = coverage.compute() if coverage is not None else None
    if is_lazy(prospectivity):
        found = _components_blockwise(
            prospectivity, uncertainty, coverage, top_percent, threshold, cell_km2, min_area_km2
        )
    else:
        found = _components_in_memory(
            prospectivity,
            uncertainty,
            coverage,
            top_percent,
            threshold,
            cell_km2,
            min_area_km2,
            max_target_km2,
        )
    keep = found.keep
    layers_total = n_layers or (coverage.attrs.get("n_layers") if coverage is not None else None)
    frame = gpd.GeoDataFrame(
        {
            "label": keep,
            "area_km2": found.area,
            "mean_prospectivity": found.mean_prospectivity,
            "max_prospectivity": found.max_prospectivity,
            "mean_uncertainty": found.mean_uncertainty,
            "mean_coverage": found.mean_coverage,
            "coverage_fraction": (
                found.mean_coverage / float(layers_total) if layers_total else np.nan
            ),
        },
        geometry=[found.geometries[int(label)] for label in keep],
        crs=prospectivity.rio.crs,
    )
    cutoff, count, dropped = found.cutoff, found.count, found.dropped
    uncertain = frame["mean_uncertainty"].to_numpy(dtype="float64")
    frame["rank_score"] = frame["mean_prospectivity"] - np.where(
        np.isfinite(uncertain), uncertain, 0.0
    )
    parent = found.parent or {}
    frame["parent_label"] = [parent.get(int(label), int(label)) for label in keep]
    frame = frame.sort_values(["rank_score", "area_km2"], ascending=[False, False]).reset_index(
        drop=True
    )
    if max_targets is not None and int(max_targets) < 1:
        raise ParameterError(f"max_targets={max_targets!r}: list at least 1 target (or None: all)")
    not_listed = frame.iloc[int(max_targets) :] if max_targets is not None else frame.iloc[:0]
    frame = frame.iloc[: len(frame) - len(not_listed)].copy()
    frame["rank"] = np.arange(1, len(frame) + 1)
    frame["target_id"] = [f"T{r:03d}" for r in frame["rank"]]
    first_of = frame.groupby("parent_label")["target_id"].transform("first")
    frame["parent_id"] = np.where(
        frame.groupby("parent_label")["target_id"].transform("size") > 1, first_of, ""
    )
    frame = frame.join(_occurrence_columns(frame, occurrences)).join(
        _admin_columns(frame, admin_areas)
    )
    wanted = frozenset(commodities)
    from geomap.harmonize.commodities import join_codes, supply_chains

    codes = [wanted | found for found in frame["occurrence_codes"]]
    frame["commodities"] = [join_codes(c) for c in codes]
    frame["supply_chains"] = ["; ".join(sorted(supply_chains(c))) for c in codes]
    frame = frame[[*TARGET_COLUMNS, "geometry"]]
    for column in (
        "area_km2",
        "mean_prospectivity",
        "max_prospectivity",
        "mean_uncertainty",
        "rank_score",
    ):
        frame[column] = frame[column].astype("float64").round(6)
    frame.attrs["geomap_targets"] = {
        "rule": "top_percent" if threshold is None else "threshold",
        "top_percent": top_percent,
        "cutoff": cutoff,
        "min_area_km2": min_area_km2,
        "candidates": int(count),
        "dropped_below_min_area": dropped,
        "max_target_km2": max_target_km2,
        "split_above_max_area": int(found.split),
        "split_skipped": bool(max_target_km2 is not None and is_lazy(prospectivity)),
        "max_piece_km2": (None if max_target_km2 is None else _piece_km2(max_target_km2, cell_km2)),
        "max_targets": max_targets,
        "listed": len(frame),
        "not_listed": len(not_listed),
        "not_listed_area_km2": round(float(not_listed["area_km2"].sum()), 3),
        "ranking": "rank_score = mean_prospectivity - mean_uncertainty",
    }
    return frame


def _piece_km2(max_target_km2: float, cell_km2: float) -> float:
    from geomap.target_pieces import piece_cells

    return round(piece_cells(max_target_km2, cell_km2) * cell_km2, 6)


def target_stability(
    targets: gpd.GeoDataFrame,
    other_targets: gpd.GeoDataFrame,
    other_prospectivity: xr.DataArray,
    *,
    top: int = 10,
) -> dict[str, Any]:
    """Compare the targets of two builds (e.g. two cell sizes): do the same places rank high.

    Parameters
    ----------
    targets : GeoDataFrame
        The targets of the build being reported (ranked).
    other_targets : GeoDataFrame
        The targets of the comparison build.
    other_prospectivity : xarray.DataArray
        The comparison build's surface (any projected CRS).
    top : int, default 10
        How many leading targets are compared.

    Returns
    -------
    dict
        ``rank_correlation``: Spearman correlation between the targets' ``rank_score`` and
        the comparison surface at their centroids (all targets); ``persistent``: how many of
        the ``top`` leading targets overlap one of the comparison's ``top`` leading targets,
        with ``persistent_ids`` and ``first_persists`` (does target #1 overlap the
        comparison's #1?); ``n`` and ``top``.
    """
    from scipy.stats import spearmanr

    lead = targets.sort_values("rank").head(top)
    other_lead = other_targets.sort_values("rank").head(top).to_crs(targets.crs)
    persistent = [
        str(t)
        for t, geom in zip(lead["target_id"], lead.geometry, strict=True)
        if other_lead.intersects(geom).any()
    ]
    first_persists = bool(
        len(lead)
        and len(other_lead)
        and lead.geometry.iloc[0].intersects(other_lead.geometry.iloc[0])
    )
    correlation = None
    if len(targets) >= 3:
        centroids = targets.geometry.centroid.to_crs(other_prospectivity.rio.crs)
        values = other_prospectivity.sel(
            x=xr.DataArray(centroids.x.to_numpy()),
            y=xr.DataArray(centroids.y.to_numpy()),
            method="nearest",
        ).to_numpy()
        ok = np.isfinite(values)
        if ok.sum() >= 3:
            rho = spearmanr(targets["rank_score"].to_numpy()[ok], values[ok]).statistic
            correlation = float(rho) if np.isfinite(rho) else None
    return {
        "rank_correlation": correlation,
        "persistent": len(persistent),
        "persistent_ids": persistent,
        "first_persists": first_persists,
        "top": int(min(top, len(lead))),
        "n": len(targets),
    }

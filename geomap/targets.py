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
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401 - registers the .rio accessor
import shapely
import shapely.affinity
import xarray as xr
from affine import Affine
from rasterio import features
from scipy import ndimage

from geomap.errors import CRSError, DataError, ParameterError

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
    key = np.where(labels > 0, key, -1)
    flat = key.ravel()
    # number the pieces in raster order of their first cell
    valid = np.flatnonzero(flat >= 0)
    _, first, inverse = np.unique(flat[valid], return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(valid[first]))
    new = np.zeros(flat.size, dtype=np.int64)
    new[valid] = order[inverse] + 1
    new_labels = new.reshape(labels.shape)
    parent = {int(new_labels.ravel()[valid[f]]): int(labels.ravel()[valid[f]]) for f in first}
    return new_labels, parent


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


@dataclass
class _Components:
    """Connected groups of selected cells that passed the area filter, with their statistics."""

    keep: np.ndarray  # labels (1-based, numbered in raster order of their first cell)
    area: np.ndarray
    mean_prospectivity: np.ndarray
    max_prospectivity: np.ndarray
    mean_uncertainty: np.ndarray
    mean_coverage: np.ndarray
    geometries: dict[int, Any]
    cutoff: float
    count: int
    dropped: int
    parent: dict[int, int] | None = None
    split: int = 0


def _components_in_memory(
    prospectivity: xr.DataArray,
    uncertainty: xr.DataArray | None,
    coverage: xr.DataArray | None,
    top_percent: float | None,
    threshold: float | None,
    cell_km2: float,
    min_area_km2: float,
    max_target_km2: float | None = None,
) -> _Components:
    values = np.asarray(prospectivity.values, dtype="float64")
    selected, cutoff = _selection(values, top_percent, threshold)
    structure = np.ones((3, 3), dtype=bool)
    labels, count = ndimage.label(selected, structure=structure)
    index = np.arange(1, count + 1)
    cells = ndimage.sum_labels(np.ones_like(values), labels, index) if count else np.array([])
    area = cells * cell_km2
    keep = index[area >= min_area_km2]
    dropped = int(count - keep.size)
    if keep.size < count:
        labels = np.where(np.isin(labels, keep), labels, 0)
    parent: dict[int, int] | None = None
    n_split = 0
    if max_target_km2 is not None and keep.size:
        from geomap.target_pieces import piece_cells, split_into_pieces

        max_cells = piece_cells(max_target_km2, cell_km2)
        n_split = int((area[keep - 1] > max_cells * cell_km2 * (1 + 1e-9)).sum())
        if n_split:
            labels, parent = split_into_pieces(labels, max_cells)
            keep = np.unique(labels[labels > 0])
            cells = ndimage.sum_labels(np.ones_like(values), labels, keep)
            area = np.zeros(int(keep.max()) + 1)
            area[keep - 1] = cells * cell_km2

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

    transform = prospectivity.rio.transform(recalc=True)
    return _Components(
        keep=keep,
        area=area[keep - 1] if keep.size else np.array([]),
        mean_prospectivity=stat(nanmean, prospectivity),
        max_prospectivity=stat(ndimage.maximum, prospectivity),
        mean_uncertainty=stat(nanmean, uncertainty),
        mean_coverage=stat(nanmean, coverage),
        geometries=_polygons(labels.astype("int32"), transform),
        cutoff=cutoff,
        count=int(count),
        dropped=dropped,
        parent=parent,
        split=n_split,
    )


# ---- the same, block by block (Dask-backed surfaces larger than memory) ----------------------

IN_MEMORY_TARGET_CELLS = 4_000_000
"""Chunked surfaces up to this many cells are computed and take the in-memory path (targets
split to the survey size); larger ones are read block by block and not split."""

_RADIX_BITS = 16


def _sortable_keys(values: np.ndarray) -> np.ndarray:
    """Unsigned integers in the same order as the (finite) float values."""
    bits = np.dtype(values.dtype).itemsize * 8
    unsigned: Any = values.view(np.uint32 if bits == 32 else np.uint64)
    sign = unsigned.dtype.type(1 << (bits - 1))
    return np.where(unsigned & sign, ~unsigned, unsigned | sign)


def _from_sortable_key(key: int, dtype: np.dtype[Any]) -> float:
    bits = dtype.itemsize * 8
    sign = 1 << (bits - 1)
    raw = (key ^ sign) if key & sign else (~key & ((1 << bits) - 1))
    unsigned = np.array([raw], dtype=np.uint32 if bits == 32 else np.uint64)
    return float(unsigned.view(dtype)[0])


def _float_values(values: np.ndarray) -> np.ndarray:
    return values if values.dtype in (np.float32, np.float64) else values.astype("float64")


def _quantile_higher_blockwise(data: xr.DataArray, q: float) -> float:
    """``np.quantile(valid, q, method="higher")`` of a Dask-backed array, block by block.

    A radix selection on the bits of the values (16 bits per pass over the data, two passes
    for float32): exact, and memory of one block plus a 65,536-bin histogram.
    """
    from geomap.grid.blocks import iter_blocks

    dtype = np.dtype(data.dtype) if data.dtype in (np.float32, np.float64) else np.dtype("f8")
    bits = dtype.itemsize * 8
    prefix, rank, n_valid = 0, -1, 0
    for step in range(bits // _RADIX_BITS):
        high_shift = bits - _RADIX_BITS * step
        digit_shift = high_shift - _RADIX_BITS
        histogram = np.zeros(2**_RADIX_BITS, dtype=np.int64)
        for block in iter_blocks([data]):
            values = _float_values(block.values[0]).ravel()
            keys = _sortable_keys(values[np.isfinite(values)])
            if step:
                keys = keys[(keys >> keys.dtype.type(high_shift)) == prefix]
            digits = ((keys >> keys.dtype.type(digit_shift)) & (2**_RADIX_BITS - 1)).astype(np.intp)
            histogram += np.bincount(digits, minlength=2**_RADIX_BITS)
        if step == 0:
            n_valid = int(histogram.sum())
            if n_valid == 0:
                raise DataError(
                    "the prospectivity surface has no cells with data; nothing to select"
                )
            rank = int(np.ceil((n_valid - 1) * np.asarray(q, dtype="float64")))
        cumulative = np.cumsum(histogram)
        digit = int(np.searchsorted(cumulative, rank, side="right"))
        rank -= int(cumulative[digit - 1]) if digit else 0
        prefix = (prefix << _RADIX_BITS) | digit
    return _from_sortable_key(prefix, dtype)


def _components_blockwise(
    prospectivity: xr.DataArray,
    uncertainty: xr.DataArray | None,
    coverage: xr.DataArray | None,
    top_percent: float | None,
    threshold: float | None,
    cell_km2: float,
    min_area_km2: float,
) -> _Components:
    """:func:`_components_in_memory` for a Dask-backed surface, in memory of a few blocks.

    The cutoff is an exact block-wise quantile.  Each block's selected cells are labelled
    (8-connectivity) into pieces whose statistics are summed on the spot; pieces that touch
    across a block edge are joined through the row above and the column to the left of each
    block (a graph of pieces, then its connected components).  Components are numbered in
    raster order of their first cell, as :func:`scipy.ndimage.label` numbers them.  A
    second pass traces the polygons of the kept components block by block, in cell units,
    merges them and places them with the grid's transform.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from geomap.grid.blocks import iter_blocks

    if threshold is None:
        assert top_percent is not None
        cutoff = _quantile_higher_blockwise(prospectivity, 1.0 - top_percent / 100.0)
    else:
        cutoff = float(threshold)
    nx = prospectivity.sizes["x"]
    structure = np.ones((3, 3), dtype=bool)
    extra = {"uncertainty": uncertainty, "coverage": coverage}
    present = [name for name, layer in extra.items() if layer is not None]
    layers = [prospectivity, *(extra[name] for name in present)]

    def pieces_of(values: np.ndarray) -> tuple[np.ndarray, int]:
        finite = np.isfinite(values)
        return ndimage.label(finite & (values >= cutoff), structure=structure)

    offsets: dict[tuple[int, int], int] = {}
    n_pieces, n_valid = 0, 0
    above = np.zeros(nx, dtype=np.int64)  # piece ids (0 = none) of the row above this block row
    below = np.zeros(nx, dtype=np.int64)
    left = np.zeros(0, dtype=np.int64)
    row_start = -1
    pairs: list[tuple[np.ndarray, np.ndarray]] = []
    first: list[np.ndarray] = []
    size: list[np.ndarray] = []
    sums: dict[str, list[np.ndarray]] = {"p": [], "p_max": []}
    for name in present:
        sums[name], sums[name + "_n"] = [], []
    for block in iter_blocks(layers):
        if block.rows.start != row_start:
            above, below, row_start = below, np.zeros(nx, dtype=np.int64), block.rows.start
            left = np.zeros(0, dtype=np.int64)
        values = np.asarray(block.values[0], dtype="float64")
        n_valid += int(np.isfinite(values).sum())
        labels, n = pieces_of(values)
        offsets[(block.rows.start, block.cols.start)] = n_pieces
        ids = np.where(labels > 0, labels.astype(np.int64) + n_pieces, 0)
        c0, c1 = block.cols.start, block.cols.stop
        if block.rows.start > 0:  # the first row touches the row above at c-1, c, c+1
            for dc in (-1, 0, 1):
                cols = np.arange(c0, c1) + dc
                ok = (cols >= 0) & (cols < nx)
                a, b = ids[0][ok], above[cols[ok]]
                both = (a > 0) & (b > 0)
                pairs.append((a[both], b[both]))
        if left.size:  # the first column touches the block to the left at r-1, r, r+1
            height = ids.shape[0]
            for dr in (-1, 0, 1):
                rows = np.arange(height) + dr
                ok = (rows >= 0) & (rows < height)
                a, b = ids[:, 0][ok], left[rows[ok]]
                both = (a > 0) & (b > 0)
                pairs.append((a[both], b[both]))
        left = ids[:, -1].copy()
        below[c0:c1] = ids[-1]
        n_pieces += n
        if n == 0:
            continue
        flat = labels.ravel()
        cells = np.flatnonzero(flat)
        piece = flat[cells]
        _, first_pos = np.unique(piece, return_index=True)  # raster order within the block
        width = block.cols.stop - block.cols.start
        local = cells[first_pos]
        first.append((local // width + block.rows.start) * nx + local % width + c0)
        size.append(np.bincount(piece, minlength=n + 1)[1:].astype("float64"))
        chosen = values.ravel()[cells]
        sums["p"].append(np.bincount(piece, chosen, minlength=n + 1)[1:])
        sums["p_max"].append(ndimage.maximum(values, labels, np.arange(1, n + 1)))
        for name, raw in zip(present, block.values[1:], strict=True):
            other = np.asarray(raw, dtype="float64").ravel()[cells]
            finite = np.isfinite(other)
            sums[name].append(np.bincount(piece, np.where(finite, other, 0.0), minlength=n + 1)[1:])
            sums[name + "_n"].append(np.bincount(piece, finite.astype(float), minlength=n + 1)[1:])
    if n_valid == 0:
        raise DataError("the prospectivity surface has no cells with data; nothing to select")

    # pieces -> components (pieces are 1-based; index 0 is "none")
    src = np.concatenate([a for a, _ in pairs]) - 1 if pairs else np.zeros(0, dtype=np.int64)
    dst = np.concatenate([b for _, b in pairs]) - 1 if pairs else np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(src.size, dtype=np.int8), (src, dst)), shape=(n_pieces,) * 2)
    count, component = (
        connected_components(graph, directed=False) if n_pieces else (0, np.zeros(0, int))
    )

    def joined(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0)

    first_cell = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first_cell, component, joined(first).astype(np.int64))
    number = np.empty(count, dtype=np.int64)
    number[np.argsort(first_cell, kind="stable")] = np.arange(1, count + 1)
    label_of = number[component] if n_pieces else np.zeros(0, dtype=np.int64)

    def total(parts: list[np.ndarray]) -> np.ndarray:
        return np.bincount(label_of, joined(parts), minlength=count + 1)

    area = total(size)[1:] * cell_km2
    index = np.arange(1, count + 1)
    keep = index[area >= min_area_km2]
    empty = np.full(keep.size, np.nan)

    def mean(name: str, n_name: str | None = None) -> np.ndarray:
        if keep.size == 0:
            return empty
        amount = total(sums[name])
        n = total(sums[n_name]) if n_name else total(size)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n > 0, amount / np.where(n > 0, n, 1), np.nan)[keep]

    maximum = np.full(count + 1, -np.inf)
    np.maximum.at(maximum, label_of, joined(sums["p_max"]))

    # second pass: polygons of the kept components
    kept_label = np.zeros(count + 1, dtype=np.int32)
    kept_label[keep] = keep
    piece_label = np.concatenate([[0], kept_label[label_of]]).astype(np.int32)
    pieces: dict[int, list[Any]] = {}
    for block in iter_blocks([prospectivity]):
        labels, n = pieces_of(np.asarray(block.values[0], dtype="float64"))
        if n == 0:
            continue
        start = offsets[(block.rows.start, block.cols.start)]
        traced = np.where(labels > 0, piece_label[np.minimum(labels + start, n_pieces)], 0)
        if not traced.any():
            continue
        for geom, value in features.shapes(
            traced.astype(np.int32),
            mask=traced > 0,
            transform=Affine.translation(block.cols.start, block.rows.start),
            connectivity=8,
        ):
            pieces.setdefault(int(value), []).append(shapely.geometry.shape(geom))
    transform = prospectivity.rio.transform(recalc=True)
    matrix = [transform.a, transform.b, transform.d, transform.e, transform.c, transform.f]
    geometries = {
        label: shapely.affinity.affine_transform(shapely.union_all(parts), matrix)
        for label, parts in pieces.items()
    }
    return _Components(
        keep=keep,
        area=area[keep - 1] if keep.size else np.array([]),
        mean_prospectivity=mean("p"),
        max_prospectivity=maximum[keep] if keep.size else empty,
        mean_uncertainty=mean("uncertainty", "uncertainty_n") if uncertainty is not None else empty,
        mean_coverage=mean("coverage", "coverage_n") if coverage is not None else empty,
        geometries=geometries,
        cutoff=cutoff,
        count=int(count),
        dropped=int(count - keep.size),
    )


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

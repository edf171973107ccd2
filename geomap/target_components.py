"""Connected target areas of a prospectivity surface: in memory, or block by block (Dask).

:func:`geomap.targets.select_targets` keeps the cells at or above a cutoff (the top X % of
the study area, or a probability) and groups touching cells into targets.  A surface that
fits in memory is labelled at once (:func:`_components_in_memory`); a larger, chunked one is
labelled block by block and the labels joined across block edges
(:func:`_components_blockwise`), with the cutoff found by an exact block-wise quantile
(:func:`_quantile_higher_blockwise`), so both routes give the same targets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
import xarray as xr
from affine import Affine
from rasterio import features
from scipy import ndimage

from geomap.errors import DataError


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

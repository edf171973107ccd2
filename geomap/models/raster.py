"""From an evidence stack to a table of cells, and from a fitted model back to rasters.

:func:`cell_table` turns an evidence stack (an :class:`xarray.Dataset` of layers on one grid,
see ``docs/architecture.md``) and training occurrences (points in the grid's CRS, or a label
raster) into a :class:`CellTable`: ``X`` (one row per cell of the study area, one column per
layer, indexed by the cell centre ``(y, x)`` in metres), ``y`` (0/1), the number of points per
cell, sampling weights and the data coverage.  Several points in one cell make *one* positive
cell (counted and warned).  Points off the grid or outside the study area are counted,
reported and warned about, never silently dropped.

When the study area has more cells than ``max_cells``, the table keeps every positive cell
and a seeded uniform sample of the others, each standing for ``N_negative / n_sampled`` cells
(``sample_weight``), so areas, priors and curves stay unbiased.  The sample is the negatives
with the smallest :func:`cell_sample_keys` (a hash of the cell's row-major index and the seed),
so it is the same whether the stack is in memory or in Dask chunks of any size; a Dask-backed
stack is read block by block (two passes) and the table's memory is bounded by ``max_cells``,
not by the grid.

:func:`predict_raster` applies a fitted model to a stack chunk by chunk: on a Dask-backed
stack through :func:`dask.array.map_blocks` (lazy, memory bounded by the chunk size), on a
NumPy-backed one in row blocks.  Each cell's prediction depends on that cell only, so both
give the same numbers.

The *study area* is the set of cells where at least one evidence layer has data (``coverage
> 0``) unless a mask is given; outside it prospectivity and uncertainty are NaN (nodata).

The grid checks, study area, sample keys and layer encoding live in
:mod:`geomap.models.raster_grid`, prediction in :mod:`geomap.models.raster_predict`; both
are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from geomap.core.provenance import source_ids
from geomap.errors import CRSError, DataError, GridMismatchError, ModelError
from geomap.models._base import ModelWarning, warn
from geomap.models.raster_grid import (
    _check_stack,
    _grid_geometry,
    _LayerSpec,
    _same_grid,
    _SmallestKeys,
    _study_area,
    cell_sample_keys,
    evidence_layers,
    study_area_mask,
)
from geomap.models.raster_predict import predict_raster

__all__ = [
    "CellTable",
    "cell_sample_keys",
    "cell_table",
    "evidence_layers",
    "predict_raster",
    "study_area_mask",
]


@dataclass(frozen=True)
class CellTable:
    """Evidence and labels of the cells of one region, ready for ``model.fit``.

    Attributes
    ----------
    X : pandas.DataFrame
        One row per cell, one column per evidence layer (NaN = no data, categorical layers as
        ``category`` columns), indexed by the cell centre ``("y", "x")`` in metres.
    y : numpy.ndarray of int8
        1 where the cell holds at least one training occurrence.
    occurrences : numpy.ndarray of int32
        Training points per cell.
    sample_weight : numpy.ndarray of float64
        Cells each row stands for (1 unless negatives were sampled).
    coverage : numpy.ndarray of int16
        Number of the table's layers with data in each cell.
    rows, cols : numpy.ndarray of int32
        Grid indices of each row.
    cell_area_km2, cell_size_m : float
        Area and side of one grid cell.
    crs : str
        The grid's CRS as WKT.
    shape : tuple of int
        Grid shape ``(ny, nx)``.
    kinds : dict of str to str
        ``geomap_kind`` of each layer (``continuous``, ``binary`` or ``categorical``).
    region : str or None
        Region id when known (from the stack's ``geomap_region`` attribute).
    report : dict
        What was counted, dropped and sampled.
    sources : list of str
        Catalog ids of the datasets the training occurrences (or labels) came from, for the
        provenance of the predictions (:func:`predict_raster`'s ``sources``).
    """

    X: pd.DataFrame
    y: np.ndarray
    occurrences: np.ndarray
    sample_weight: np.ndarray
    coverage: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    cell_area_km2: float
    cell_size_m: float
    crs: str
    shape: tuple[int, int]
    kinds: dict[str, str]
    region: str | None = None
    report: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)

    @property
    def coords(self) -> np.ndarray:
        """Cell-centre x, y in metres, shape ``(n, 2)``."""
        return np.column_stack(
            [
                self.X.index.get_level_values("x").to_numpy(dtype="float64"),
                self.X.index.get_level_values("y").to_numpy(dtype="float64"),
            ]
        )

    @property
    def n_layers(self) -> int:
        """Number of evidence layers (columns)."""
        return int(self.X.shape[1])

    def __len__(self) -> int:
        return len(self.X)

    def __repr__(self) -> str:
        return (
            f"<CellTable {self.region or ''} {len(self.X)} cells x {self.n_layers} layers, "
            f"{int(self.y.sum())} positive cells ({int(self.occurrences.sum())} points), "
            f"cell {self.cell_size_m:g} m>"
        )


# ----------------------------------------------------------------------------- occurrences


def _points_to_cells(
    occurrences: Any, stack: xr.Dataset, transform: Any, report: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray]:
    """Cells holding points (row-major linear indices, sorted) and the points in each."""
    import geopandas as gpd
    import pyproj

    if not isinstance(occurrences, gpd.GeoDataFrame | gpd.GeoSeries):
        raise DataError(
            f"occurrences must be a GeoDataFrame of points, got {type(occurrences).__name__}"
        )
    if occurrences.crs is None:
        raise CRSError(
            "the occurrences have no CRS; set the CRS they were recorded in with .set_crs(...) "
            "and reproject to the grid's CRS (geomap never assumes EPSG:4326)"
        )
    grid_crs = pyproj.CRS.from_user_input(stack.rio.crs.to_wkt())
    if not pyproj.CRS.from_user_input(occurrences.crs).equals(grid_crs, ignore_axis_order=True):
        raise CRSError(
            f"the occurrences are in {occurrences.crs.to_string()} but the evidence grid is in "
            f"{grid_crs.name}; reproject them with occurrences.to_crs(stack.rio.crs)"
        )
    geoms = occurrences.geometry
    empty = geoms.isna() | geoms.is_empty
    kinds = geoms[~empty].geom_type
    if not (kinds == "Point").all():
        other = sorted(set(kinds[kinds != "Point"]))
        raise DataError(
            f"occurrences must be points, found {other}; use .representative_point() or "
            ".explode() first"
        )
    n_empty = int(empty.sum())
    if n_empty:
        warn(f"{n_empty} occurrences have no geometry and are left out", ModelWarning)
    points = geoms[~empty]
    xs, ys = points.x.to_numpy(dtype="float64"), points.y.to_numpy(dtype="float64")
    cols_f = (xs - transform.c) / transform.a  # north-up grid (checked): no rotation terms
    rows_f = (ys - transform.f) / transform.e
    cols, rows = np.floor(cols_f).astype(np.int64), np.floor(rows_f).astype(np.int64)
    ny, nx = stack.sizes["y"], stack.sizes["x"]
    inside = (rows >= 0) & (rows < ny) & (cols >= 0) & (cols < nx) & np.isfinite(cols_f)
    n_out = int((~inside).sum())
    if n_out:
        warn(
            f"{n_out} of {len(points)} occurrences lie outside the evidence grid and are left out",
            ModelWarning,
        )
    cells, counts = np.unique(rows[inside] * nx + cols[inside], return_counts=True)
    report.update(
        n_points=len(occurrences),
        n_points_without_geometry=n_empty,
        n_points_outside_grid=n_out,
    )
    return cells.astype(np.int64), counts.astype(np.int64)


def _labels_to_cells(
    labels: Any, stack: xr.Dataset, report: dict[str, Any], progress: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Cells with occurrences in a label raster (linear indices, counts), read block by block."""
    from geomap.grid.blocks import iter_blocks

    if not isinstance(labels, xr.DataArray) or labels.dims != ("y", "x"):
        raise DataError("labels must be a DataArray with dims ('y', 'x') on the evidence grid")
    if labels.shape != (stack.sizes["y"], stack.sizes["x"]):
        raise GridMismatchError(
            f"labels have shape {labels.shape}, the stack "
            f"{(stack.sizes['y'], stack.sizes['x'])}; rasterize the occurrences on its grid"
        )
    _same_grid(stack, labels, "labels")
    nx = stack.sizes["x"]
    cells: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    n_bad = 0
    for block in iter_blocks([labels], progress=progress):
        values = np.asarray(block.values[0], dtype="float64")
        values = np.where(np.isnan(values), 0.0, values)
        n_bad += int(((values < 0) | (values != np.round(values))).sum())
        r, c = np.nonzero(values)
        cells.append((r + block.rows.start).astype(np.int64) * nx + (c + block.cols.start))
        counts.append(values[r, c].astype(np.int64))
    if n_bad:
        raise DataError(
            f"labels have {n_bad} values that are not counts (>= 0, whole); "
            "give 0/1 or the number of occurrences per cell"
        )
    index, count = np.concatenate(cells), np.concatenate(counts)
    order = np.argsort(index, kind="stable")
    report.update(n_points=int(count.sum()), n_points_outside_grid=0)
    return index[order], count[order]


# ----------------------------------------------------------------------------- the table


def cell_table(
    stack: xr.Dataset,
    occurrences: Any = None,
    *,
    labels: xr.DataArray | None = None,
    layers: list[str] | None = None,
    study_area: xr.DataArray | None = None,
    max_cells: int | None = None,
    random_state: int | None = 0,
    region: str | None = None,
    progress: str | None = None,
) -> CellTable:
    """Build the table of cells a model is fitted on.

    Parameters
    ----------
    stack : xarray.Dataset
        Evidence stack on one projected grid (NumPy- or Dask-backed; a Dask-backed stack is
        read block by block, twice, and never held whole).
    occurrences : GeoDataFrame, optional
        Training points in the grid's CRS.  Exactly one of ``occurrences`` and ``labels``.
    labels : xarray.DataArray, optional
        Occurrences per cell on the stack's grid (0/1 or counts).
    layers : list of str, optional
        Layers to use (default: every evidence layer).
    study_area : xarray.DataArray, optional
        Mask of the study area (default: cells where some evidence layer has data).
    max_cells : int, optional
        Keep every positive cell and a seeded sample of the others when the study area is
        larger; the kept negatives get ``sample_weight = N_negative / n_kept``.  The table
        then holds at most ``max_cells`` rows (or every positive cell and one negative),
        whatever the size of the grid.
    random_state : int, optional
        Seed of that sample: each cell gets the key :func:`cell_sample_keys` (a hash of its
        row-major index and the seed) and the negatives with the smallest keys are kept, so
        the sample does not depend on the chunking.  ``None`` draws a seed.
    region : str, optional
        Region id recorded in the table (default: the stack's ``geomap_region`` attribute).
    progress : str, optional
        Label of a progress bar over the blocks read.

    Returns
    -------
    CellTable

    Raises
    ------
    CRSError
        The stack has no projected CRS, or the occurrences are in another CRS.
    DataError, GridMismatchError, ModelError
        Malformed inputs; no cell in the study area; unknown layers.

    Warns
    -----
    ModelWarning
        Occurrences outside the grid or the study area, several in one cell.
    """
    from geomap.grid.blocks import iter_blocks

    stack = _check_stack(stack)
    available = evidence_layers(stack)
    names = list(layers) if layers is not None else available
    unknown = [n for n in names if n not in stack.data_vars]
    if unknown:
        raise ModelError(f"layers {unknown} are not in the stack; choose among {available}")
    if not names:
        raise ModelError("the stack has no evidence layer; build the recipe's evidence first")
    if (occurrences is None) == (labels is None):
        raise ModelError("give exactly one of occurrences= (points) and labels= (a raster)")
    transform, cell_area_km2, cell_size_m = _grid_geometry(stack)
    report: dict[str, Any] = {"layers": names}
    if occurrences is not None:
        point_cells, point_counts = _points_to_cells(occurrences, stack, transform, report)
    else:
        point_cells, point_counts = _labels_to_cells(labels, stack, report, progress)
    inside = _study_area(stack, names, study_area)
    ny, nx = stack.sizes["y"], stack.sizes["x"]
    seed = (
        int(random_state)
        if random_state is not None
        else int(np.random.default_rng().integers(2**63))
    )
    point_rows, point_cols = point_cells // nx, point_cells % nx

    def points_in(block: Any) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], np.ndarray]:
        """Positions of the point cells in a block and whether each is in the study area."""
        lo = np.searchsorted(point_rows, block.rows.start)
        hi = np.searchsorted(point_rows, block.rows.stop)
        sel = np.arange(lo, hi)
        sel = sel[(point_cols[sel] >= block.cols.start) & (point_cols[sel] < block.cols.stop)]
        r = point_rows[sel] - block.rows.start
        c = point_cols[sel] - block.cols.start
        return sel, (r, c), np.asarray(block.values[0][r, c], dtype=bool)

    # pass 1: size of the study area, points inside it, the smallest keys of the negatives
    n_study = 0
    in_study = np.zeros(point_cells.size, dtype=bool)
    smallest = _SmallestKeys(max(int(max_cells), 1)) if max_cells is not None else None
    for block in iter_blocks([inside], progress=progress and f"{progress} (1/2)"):
        mask = np.asarray(block.values[0], dtype=bool)
        n_study += int(mask.sum())
        sel, (r, c), ok = points_in(block)
        in_study[sel] = ok
        if smallest is not None:
            negative = mask.copy()
            negative[r[ok], c[ok]] = False
            rr, cc = np.nonzero(negative)
            smallest.add(
                cell_sample_keys((rr + block.rows.start) * nx + cc + block.cols.start, seed)
            )
    n_off = int(point_counts[~in_study].sum())
    if n_off:
        warn(
            f"{n_off} occurrences fall in cells outside the study area (outside the study-area "
            "mask, or no evidence layer has data there) and are left out",
            ModelWarning,
        )
    if n_study == 0:
        raise ModelError(
            "the study area is empty: no cell has data in any evidence layer; check the stack"
        )
    used = point_counts[in_study]
    shared = int((used[used > 1] - 1).sum())
    if shared:
        warn(
            f"{shared} occurrences share a cell with another one ({int((used > 1).sum())} "
            "cells hold several); each cell counts once as a positive cell",
            ModelWarning,
        )
    n_positive = int(in_study.sum())
    n_negative = n_study - n_positive
    report.update(
        n_points_outside_study_area=n_off,
        n_points_sharing_a_cell=shared,
        n_cells=n_study,
        n_positive_cells=n_positive,
        n_points_used=int(used.sum()),
        sampled=False,
    )
    cutoff = None
    negative_weight = 1.0
    if max_cells is not None and smallest is not None and n_study > max_cells:
        n_keep = max(int(max_cells) - n_positive, 1)
        if n_keep < n_negative:
            cutoff = smallest.kth(n_keep)
            negative_weight = n_negative / n_keep
            report.update(
                sampled=True,
                n_cells_sampled=n_positive + n_keep,
                random_state=random_state,
                sampling=(
                    "every cell with a training occurrence, and the negative cells with the "
                    "smallest keys geomap.models.raster.cell_sample_keys(row * n_columns + "
                    "column, random_state)"
                ),
            )

    # pass 2: the values of the kept cells
    vars_ = [stack[n] for n in names]
    picked: list[np.ndarray] = []
    picked_values: list[list[np.ndarray]] = [[] for _ in names]
    picked_points: list[np.ndarray] = []
    for block in iter_blocks([inside, *vars_], progress=progress and f"{progress} (2/2)"):
        mask = np.asarray(block.values[0], dtype=bool)
        sel, (r, c), ok = points_in(block)
        points_here = np.zeros(mask.shape, dtype=np.int64)
        points_here[r[ok], c[ok]] = point_counts[sel[ok]]
        rr, cc = np.nonzero(mask)
        cells = (rr + block.rows.start).astype(np.int64) * nx + (cc + block.cols.start)
        n_here = points_here[rr, cc]
        if cutoff is not None:
            keep = (n_here > 0) | (cell_sample_keys(cells, seed) <= cutoff)
            rr, cc, cells, n_here = rr[keep], cc[keep], cells[keep], n_here[keep]
        picked.append(cells)
        picked_points.append(n_here)
        for k, values in enumerate(block.values[1:]):
            picked_values[k].append(np.asarray(values)[rr, cc])
    cells = np.concatenate(picked)
    order = np.argsort(cells, kind="stable")
    cells = cells[order]
    counts = np.concatenate(picked_points)[order]
    rows, cols = cells // nx, cells % nx
    weight = np.where(counts > 0, 1.0, negative_weight)
    xs = np.asarray(stack["x"].values, dtype="float64")
    ys = np.asarray(stack["y"].values, dtype="float64")
    index = pd.MultiIndex.from_arrays([ys[rows], xs[cols]], names=["y", "x"])
    columns: dict[str, Any] = {}
    coverage = np.zeros(rows.size, dtype=np.int16)
    for name, var, parts in zip(names, vars_, picked_values, strict=True):
        column, valid = _LayerSpec.of(var).column(np.concatenate(parts)[order])
        coverage += valid.astype(np.int16)
        columns[name] = column
    X = pd.DataFrame(columns, index=index)
    kinds = {n: str(stack[n].attrs.get("geomap_kind") or _infer_kind(X[n])) for n in names}
    return CellTable(
        X=X,
        y=(counts > 0).astype(np.int8),
        occurrences=counts.astype(np.int32),
        sample_weight=weight,
        coverage=coverage,
        rows=rows.astype(np.int32),
        cols=cols.astype(np.int32),
        cell_area_km2=cell_area_km2,
        cell_size_m=cell_size_m,
        crs=stack.rio.crs.to_wkt(),
        shape=(ny, nx),
        kinds=kinds,
        region=region or stack.attrs.get("geomap_region"),
        report=report,
        sources=source_ids(occurrences if occurrences is not None else labels),
    )


def _infer_kind(column: pd.Series) -> str:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return "categorical"
    values = column.dropna().to_numpy()
    return "binary" if values.size and np.isin(values, (0.0, 1.0)).all() else "continuous"

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
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from geomap.core.provenance import source_ids
from geomap.errors import CRSError, DataError, GridMismatchError, ModelError
from geomap.models._base import ModelWarning, warn

__all__ = [
    "CellTable",
    "cell_sample_keys",
    "cell_table",
    "evidence_layers",
    "predict_raster",
    "study_area_mask",
]

_PREDICT_BLOCK_CELLS = 1_000_000


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


# ----------------------------------------------------------------------------- the grid


def _check_stack(stack: Any) -> xr.Dataset:
    if isinstance(stack, xr.DataArray):
        stack = stack.to_dataset(name=stack.name or "evidence")
    if not isinstance(stack, xr.Dataset):
        raise DataError(
            f"expected an evidence stack (xarray.Dataset), got {type(stack).__name__}; "
            "build one with geomap.recipes.build_evidence"
        )
    crs = stack.rio.crs
    if crs is None:
        raise CRSError(
            "the evidence stack has no CRS; write one with stack.rio.write_crs(...) "
            "(geomap never assumes a CRS)"
        )
    if not crs.is_projected:
        raise CRSError(
            f"the evidence stack is in {crs.to_string()}, not a projected CRS; models count "
            "areas and distances in metres — build the stack on the region's analysis grid"
        )
    for name, var in stack.data_vars.items():
        if name == "spatial_ref":
            continue
        if var.dims != ("y", "x"):
            raise DataError(
                f"stack variable {name!r} has dims {var.dims}; every layer must be ('y', 'x')"
            )
    return stack


def evidence_layers(stack: xr.Dataset) -> list[str]:
    """Names of the stack's evidence layers (``geomap_role == "evidence"``).

    Without role attributes, every variable except ``coverage`` and ``spatial_ref``.
    """
    names = [str(n) for n in stack.data_vars if n != "spatial_ref"]
    roles = {n: stack[n].attrs.get("geomap_role") for n in names}
    if any(r is not None for r in roles.values()):
        return [n for n in names if roles[n] == "evidence"]
    return [n for n in names if n != "coverage"]


def _grid_geometry(stack: xr.Dataset) -> tuple[Any, float, float]:
    transform = stack.rio.transform(recalc=True)
    if transform.b != 0 or transform.d != 0:
        raise DataError(
            f"the evidence grid is rotated (transform {tuple(transform)[:6]}); "
            "models need a north-up grid"
        )
    dx, dy = abs(transform.a), abs(transform.e)
    crs = stack.rio.crs
    factor = crs.linear_units_factor[1] if crs.linear_units_factor else 1.0
    return transform, dx * dy * factor * factor / 1e6, math.sqrt(dx * dy) * factor


def _valid(var: xr.DataArray) -> Any:
    """Boolean (lazy when Dask-backed) array: the layer has data in the cell."""
    data = var.data
    valid = ~np.isnan(data) if np.issubdtype(var.dtype, np.floating) else (data == data)
    nodata = var.rio.nodata if hasattr(var, "rio") else None
    if nodata is None:
        nodata = var.attrs.get("_FillValue", var.encoding.get("_FillValue"))
    if nodata is not None and not (isinstance(nodata, float) and math.isnan(nodata)):
        valid = valid & (data != nodata)
    return valid


def _coverage(stack: xr.Dataset, layers: list[str]) -> Any:
    """Layers with data per cell (int16; Dask-backed when the layers are)."""
    total: Any = None
    for name in layers:
        ok = _valid(stack[name]).astype(np.int16)
        total = ok if total is None else total + ok
    return total.astype(np.int16)


def _study_area(stack: xr.Dataset, layers: list[str], study_area: Any) -> Any:
    """Boolean array of the study area, Dask-backed (lazy) when the stack is."""
    shape = (stack.sizes["y"], stack.sizes["x"])
    if "coverage" in stack.data_vars:
        has_evidence = stack["coverage"].data > 0
    else:
        has_evidence = _coverage(stack, layers or evidence_layers(stack)) > 0
    if study_area is None:
        return has_evidence
    if not isinstance(study_area, xr.DataArray) or study_area.shape != shape:
        raise GridMismatchError(
            f"study_area has shape {getattr(study_area, 'shape', None)}, the stack {shape}; "
            "give a mask on the stack's grid"
        )
    _same_grid(stack, study_area, "study_area")
    values = study_area.data
    if np.issubdtype(study_area.dtype, np.floating):
        values = (values != 0) & ~np.isnan(values)
    else:
        values = values != 0
    return values & has_evidence


def study_area_mask(
    stack: xr.Dataset, layers: list[str] | None = None, study_area: Any = None
) -> np.ndarray:
    """Boolean array: cells that belong to the study area.

    Parameters
    ----------
    stack : xarray.Dataset
        The evidence stack.
    layers : list of str, optional
        Layers counted when the stack has no ``coverage`` variable.
    study_area : xarray.DataArray, optional
        Mask on the same grid (true / non-zero inside), e.g.
        :func:`geomap.pipeline.country_mask`; cells without any evidence are left out of it
        too.

    Returns
    -------
    numpy.ndarray of bool
        The whole grid in memory (the chunked model stage uses a lazy equivalent).
    """
    return np.asarray(_study_area(stack, layers or evidence_layers(stack), study_area))


def _same_grid(stack: xr.Dataset, other: xr.DataArray, what: str) -> None:
    for axis in ("x", "y"):
        a, b = stack[axis].values, other[axis].values
        if a.shape != b.shape or not np.allclose(a, b, rtol=0, atol=1e-6 * max(1.0, np.ptp(a))):
            raise GridMismatchError(
                f"{what} is not on the evidence grid (its {axis} coordinates differ); "
                "reproject it onto the stack's grid first"
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


# ----------------------------------------------------------------------------- sampling

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: a bijection of uint64 that scatters neighbouring inputs."""
    z = values.astype(np.uint64, copy=True)
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def cell_sample_keys(cells: np.ndarray, seed: int) -> np.ndarray:
    """Pseudo-random ``uint64`` key of each cell, from its row-major index and the seed.

    The key of a cell depends on nothing else (not on the chunking, the order in which blocks
    are read, nor the other cells), and two cells never share a key, so "the ``n`` cells with
    the smallest keys" is one well-defined, seeded sample of any set of cells.

    Examples
    --------
    >>> keys = cell_sample_keys(np.arange(5), seed=0)
    >>> keys.dtype, len(set(keys.tolist()))
    (dtype('uint64'), 5)
    """
    offset = _mix64(np.array([int(seed) % 2**64], dtype=np.uint64)) * np.array([_GOLDEN])
    return _mix64(np.asarray(cells, dtype=np.int64).astype(np.uint64) + offset)


class _SmallestKeys:
    """The ``k`` smallest keys seen so far, in O(k) memory."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.keys = np.empty(0, dtype=np.uint64)

    def add(self, keys: np.ndarray) -> None:
        if keys.size > self.k:
            keys = np.partition(keys, self.k - 1)[: self.k]
        merged = np.concatenate([self.keys, keys])
        if merged.size > self.k:
            merged = np.partition(merged, self.k - 1)[: self.k]
        self.keys = merged

    def kth(self, n: int) -> np.uint64:
        """Return the ``n``-th smallest key (1-based; ``n <= k``)."""
        return np.partition(self.keys, n - 1)[n - 1]


# ----------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class _LayerSpec:
    """What is needed to read one layer's values into a table column (small, picklable)."""

    name: str
    categorical: bool
    labels: dict[Any, str]
    nodata: Any

    @classmethod
    def of(cls, var: xr.DataArray) -> _LayerSpec:
        nodata = var.rio.nodata
        if nodata is None:
            nodata = var.attrs.get("_FillValue", var.encoding.get("_FillValue"))
        if isinstance(nodata, float) and math.isnan(nodata):
            nodata = None
        categorical = var.attrs.get("geomap_kind") == "categorical"
        return cls(str(var.name), categorical, _class_labels(var) if categorical else {}, nodata)

    def valid(self, values: np.ndarray) -> np.ndarray:
        ok = ~np.isnan(values) if values.dtype.kind == "f" else np.ones(values.shape, dtype=bool)
        if self.nodata is not None:
            ok &= values != self.nodata
        return ok

    def column(self, values: np.ndarray) -> tuple[Any, np.ndarray]:
        """Table column (float array or pandas Categorical) and the has-data mask."""
        ok = self.valid(values)
        if self.categorical:
            if self.labels:
                objects = np.array(
                    [self.labels.get(_key(v), _key(v)) for v in values], dtype=object
                )
            else:
                objects = np.array([_key(v) for v in values], dtype=object)
            objects[~ok] = None
            return pd.Categorical(objects), ok
        out = values.astype("float64")
        out[~ok] = np.nan
        return out, ok


def _key(value: Any) -> Any:
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return int(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _class_labels(var: xr.DataArray) -> dict[Any, str]:
    """Class code -> name from ``geomap_classes`` (JSON or mapping) or CF flag attributes."""
    classes = var.attrs.get("geomap_classes")
    if isinstance(classes, str):
        try:
            classes = json.loads(classes)
        except json.JSONDecodeError:
            classes = None
    if isinstance(classes, dict):
        return {
            _key(int(k)) if str(k).lstrip("-").isdigit() else k: str(v) for k, v in classes.items()
        }
    if isinstance(classes, list):
        return dict(enumerate(map(str, classes)))
    values, meanings = var.attrs.get("flag_values"), var.attrs.get("flag_meanings")
    if values is not None and isinstance(meanings, str):
        return {_key(v): m for v, m in zip(np.atleast_1d(values), meanings.split(), strict=False)}
    return {}


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


# ----------------------------------------------------------------------------- prediction


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

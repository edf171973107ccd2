"""Prospectivity classes by share of the study area: one classification for every product.

A prospectivity surface is strongly skewed (most cells near zero, a few near one), so a linear
colour ramp from the minimum to the maximum shows one flat field.  geomap therefore draws
prospectivity everywhere (HTML map, PNG figures, GeoPackage styles and rendered tables, COG
colour tables, the packet) in classes by *share of the study area*: the top 1 %, 1–5 %, 5–10 %,
10–20 %, 20–50 % of the cells with a value, and the rest.  The same class means the same thing
for every model and region ("top 5 % of the area"), so two regions' maps can be compared.

:func:`area_share_classes` computes the class breaks (a pure function of the surface over the
study-area mask: the cells with a value); :meth:`AreaClasses.classify` turns the surface into
class codes.  The analysis grids are equal-area, so a share of the cells is a share of the area.

**Ties.**  A model surface can hold large blocks of equal values (a weights-of-evidence model
gives every cell with the same evidence pattern the same score).  Where such a block straddles
a break, a rule on values alone would have to put the whole block in one class, and that class
would no longer hold its share of the area (e.g. "the rest" covering 58 % instead of 50 %).
The tie rule splits the block deterministically, from the surface alone (so every product
that draws the classes draws the same cells): among equal values, cells *nearer to
higher-valued ground* rank first (squared distance in cells to the nearest larger value,
measured up to :data:`TIE_REACH_CELLS` cells), then cells earlier in row-major order.  The
legends and reports say how much of the area was tied (:attr:`AreaClasses.tie_note`).  The
rule needs cell positions, so classify the surface on its own grid and resample the class
codes (nearest neighbour) for display, never the values.

Examples
--------
>>> import numpy as np
>>> classes = area_share_classes(np.arange(1000, dtype="float32"))
>>> classes.labels[1]
'Top 1–5 % of the area'
>>> [int((classes.classify(np.arange(1000.0)) == code).sum()) for code in classes.codes]
[10, 40, 50, 100, 300, 500]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from geomap.errors import DataError

__all__ = [
    "DEFAULT_SHARES",
    "NO_CLASS",
    "TIE_REACH_CELLS",
    "AreaClasses",
    "TieSplit",
    "area_share_classes",
    "percentile_stretch",
]

DEFAULT_SHARES: tuple[float, ...] = (1.0, 5.0, 10.0, 20.0, 50.0)
"""Upper edges of the classes, in percent of the study area (the last class is the rest)."""

NO_CLASS = 0
"""Class code of cells without a value (outside the study area)."""


def _percent(value: float) -> str:
    return f"{value:g}"


TIE_REACH_CELLS = 64
"""How far (in cells) nearness to higher-valued ground is measured when ties are split."""

_FAR = TIE_REACH_CELLS * TIE_REACH_CELLS + 1  # squared distance of "farther than the reach"


@dataclass(frozen=True)
class TieSplit:
    """How a block of equal values at a class break is shared between the two classes.

    Cells equal to ``value`` are ranked by their squared distance (in cells, capped at
    :data:`TIE_REACH_CELLS`) to the nearest cell with a larger value, nearer first, then by
    their row-major position in the grid; a tied cell goes up when its key is at most
    ``(distance_sq, index)``.

    Attributes
    ----------
    value : float
        The tied value at the break.
    distance_sq : int
        Squared distance of the last tied cell that goes up (-1: none goes up).
    index : int
        Row-major position of that cell (-1: none goes up).
    tied : int
        Cells with the tied value in the study area.
    admitted : int
        Of these, the cells put in the upper class.
    """

    value: float
    distance_sq: int
    index: int
    tied: int
    admitted: int


@dataclass(frozen=True)
class AreaClasses:
    """Class breaks of a surface by share of the study area, with the tie rule applied.

    Attributes
    ----------
    shares : tuple of float
        Upper edge of each class but the last, in percent of the area (ascending).
    breaks : tuple of float
        The lowest value in each class but the last (descending, one per share): a cell above
        ``breaks[i]`` is in the top ``shares[i]`` %, a cell equal to it too unless ``ties[i]``
        splits the cells of that value.
    cell_shares : tuple of float
        The share (percent) of the study area that each class holds: the nominal shares up to
        one cell, whatever the ties in the surface.
    n_cells : int
        Cells with a value (the study area).
    ties : tuple of TieSplit or None
        For each break, how the cells equal to it are split (None: all of them go up).
    grid_shape : tuple of int
        Shape of the surface the breaks came from; a split tie can only be applied on it.
    """

    shares: tuple[float, ...]
    breaks: tuple[float, ...]
    cell_shares: tuple[float, ...]
    n_cells: int
    ties: tuple[TieSplit | None, ...] = ()
    grid_shape: tuple[int, ...] = ()

    @property
    def codes(self) -> list[int]:
        """Class codes, 1 (top share) to ``len(shares) + 1`` (the rest); 0 is no data."""
        return list(range(1, len(self.shares) + 2))

    @property
    def labels(self) -> list[str]:
        """What each class means, e.g. ``"Top 1 % of the area"``, ``"Top 1–5 % of the area"``."""
        out = []
        lower = 0.0
        for share in self.shares:
            span = _percent(share) if lower == 0 else f"{_percent(lower)}–{_percent(share)}"
            out.append(f"Top {span} % of the area")
            lower = share
        out.append(f"Lowest {_percent(100 - lower)} % of the area")
        return out

    @property
    def short_labels(self) -> list[str]:
        """Compact labels for legends and tables: ``"top 1 %"``, ``"1–5 %"``... ``"rest"``."""
        out = []
        lower = 0.0
        for share in self.shares:
            out.append(
                f"top {_percent(share)} %"
                if lower == 0
                else f"{_percent(lower)}–{_percent(share)} %"
            )
            lower = share
        out.append("rest")
        return out

    @property
    def split_ties(self) -> list[TieSplit]:
        """The ties that the classes split (one per distinct tied value at a break)."""
        seen: dict[float, TieSplit] = {}
        for tie in self.ties:
            if tie is not None and tie.value not in seen:
                seen[tie.value] = tie
        return list(seen.values())

    @property
    def tie_note(self) -> str | None:
        """One sentence on the ties split between classes (None when there are none)."""
        split = self.split_ties
        if not split:
            return None
        parts = [
            f"{100 * t.tied / max(self.n_cells, 1):.3g} % of the area has the value {t.value:.3g}"
            for t in split
        ]
        return (
            "; ".join(parts)
            + ". Equal values are split between classes by nearness to higher-valued ground "
            f"(within {TIE_REACH_CELLS} cells; nearer first, then row by row), "
            "so every class keeps its share of the area."
        )

    @property
    def tie_summary(self) -> str | None:
        """A short line for legends: how much of the area ties at the breaks, and the rule."""
        split = self.split_ties
        if not split:
            return None
        tied = 100 * sum(t.tied for t in split) / max(self.n_cells, 1)
        return (
            f"Equal values at class edges ({tied:.3g} % of the area) are split by nearness "
            "to higher values, so each class holds its share."
        )

    def classify(self, values: Any) -> Any:
        """Return the class code (uint8) of each cell; 0 where the value is NaN.

        Parameters
        ----------
        values : array-like or DataArray
            The surface the breaks came from (NumPy or Dask).  When a tie is split, the
            cells' positions matter: give the whole surface (shape ``grid_shape``), then
            resample the codes (nearest neighbour), never the values.

        Returns
        -------
        numpy.ndarray or dask.array.Array
            Codes, Dask-backed for Dask input.

        Raises
        ------
        DataError
            A tie is split and ``values`` is not the surface's grid.
        """
        raw = _raw(values)
        split = [t for t in self.ties if t is not None]
        if split and tuple(raw.shape) != tuple(self.grid_shape):
            raise DataError(
                f"these classes split tied values by position on a grid of shape "
                f"{tuple(self.grid_shape)}; values of shape {tuple(raw.shape)} cannot be "
                "classified alike: classify the surface itself, then resample the class codes"
            )
        distances = {t.value: _tie_distance(raw, t.value) for t in self.split_ties}
        if _lazy(raw):
            import dask.array as da

            keys = list(distances)

            def block(v: np.ndarray, *d: np.ndarray, block_info: Any = None) -> np.ndarray:
                origin = tuple(lo for lo, _hi in block_info[0]["array-location"])
                return self._codes(v, dict(zip(keys, d, strict=True)), origin)

            raw = raw.astype("float64") if raw.dtype.kind != "f" else raw
            return da.map_blocks(block, raw, *distances.values(), dtype=np.uint8)
        array = np.asarray(raw, dtype="float64")
        return self._codes(array, distances, (0,) * array.ndim)

    def _codes(
        self, values: np.ndarray, distances: dict[float, Any], origin: tuple[int, ...]
    ) -> np.ndarray:
        values = np.asarray(values, dtype="float64")
        out = np.full(values.shape, len(self.shares) + 1, dtype=np.uint8)
        index = _flat_index(values.shape, origin, self.grid_shape) if distances else out
        ties = self.ties or (None,) * len(self.shares)
        # from the lowest class up, so the highest matching class wins
        for code in range(len(self.shares), 0, -1):
            cutoff, tie = self.breaks[code - 1], ties[code - 1]
            inside = values > cutoff
            if tie is None:
                inside |= values == cutoff
            elif tie.admitted:
                d = np.asarray(distances[tie.value])
                first = (d < tie.distance_sq) | ((d == tie.distance_sq) & (index <= tie.index))
                inside |= (values == cutoff) & first
            out[inside] = code
        out[~np.isfinite(values)] = NO_CLASS
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers for JSON (rounded to 6 significant digits), with the labels."""
        return {
            "shares_pct": list(self.shares),
            "breaks": [float(f"{b:.6g}") for b in self.breaks],
            "cell_shares_pct": [round(s, 2) for s in self.cell_shares],
            "labels": self.labels,
            "n_cells": self.n_cells,
            "ties": self.tie_note,
        }


def _raw(surface: Any) -> Any:
    data = getattr(surface, "data", None) if hasattr(surface, "dims") else surface
    if data is None:
        data = surface
    if _lazy(data):
        return data
    return np.asarray(data, dtype="float64")


def _lazy(data: Any) -> bool:
    return hasattr(data, "dask") and hasattr(data, "chunks")


def _flat_index(
    shape: tuple[int, ...], origin: tuple[int, ...], grid_shape: tuple[int, ...]
) -> np.ndarray:
    """Row-major positions in the whole grid of a block at ``origin``."""
    grids = np.indices(shape, dtype=np.int64)
    index = np.zeros(shape, dtype=np.int64)
    for axis, size in enumerate(grid_shape or shape):
        index = index * int(size) + grids[axis] + int(origin[axis])
    return index


def _tie_distance_block(values: np.ndarray, value: float) -> np.ndarray:
    """Squared distance (cells) to the nearest larger value, capped at the reach (+1)."""
    from scipy.ndimage import distance_transform_edt

    values = np.asarray(values, dtype="float64")
    higher = values > value
    if not higher.any():
        return np.full(values.shape, _FAR, dtype=np.int32)
    squared = np.rint(distance_transform_edt(~higher) ** 2)
    return np.where(squared > _FAR - 1, _FAR, squared).astype(np.int32)


def _tie_distance(raw: Any, value: float) -> Any:
    if _lazy(raw):
        from functools import partial

        chunks = raw.chunks
        raw = raw.astype("float64") if raw.dtype.kind != "f" else raw
        # an axis no longer than the reach is read whole (every cell of it is within reach)
        short = {axis: -1 for axis, size in enumerate(raw.shape) if size <= TIE_REACH_CELLS}
        raw = raw.rechunk(short) if short else raw
        return raw.map_overlap(
            partial(_tie_distance_block, value=value),
            depth={axis: 0 if axis in short else TIE_REACH_CELLS for axis in range(raw.ndim)},
            boundary=np.nan,
            trim=True,
            dtype=np.int32,
        ).rechunk(chunks)  # map_overlap merges blocks thinner than the reach
    return _tie_distance_block(raw, value)


def _ranked(raw: Any, mask: Any) -> Any:
    """Return the surface with NaN outside the study area (the cells that are ranked)."""
    if mask is None:
        return raw
    mask_values = np.asarray(getattr(mask, "values", mask))
    if mask_values.shape != tuple(raw.shape):
        raise DataError(
            f"study-area mask has shape {mask_values.shape}, the surface {tuple(raw.shape)}; "
            "give a mask on the surface's grid"
        )
    if _lazy(raw):
        import dask.array as da

        return da.where(da.from_array(mask_values.astype(bool), chunks=raw.chunks), raw, np.nan)
    return np.where(mask_values.astype(bool), raw, np.nan)


def _blocks(arrays: Sequence[Any]) -> Any:
    """Blocks of Dask arrays (2-D), or NumPy arrays of any shape as one block."""
    from geomap.grid.blocks import Block, iter_blocks

    if any(_lazy(a) for a in arrays):
        return iter_blocks(list(arrays))
    shape = np.shape(arrays[0])
    cols = slice(0, shape[1]) if len(shape) > 1 else slice(0, 1)
    return [Block((0, 0), slice(0, shape[0]), cols, [np.asarray(a) for a in arrays])]


def _kth_largest(raw: Any, finite: np.ndarray | None, n_cells: int, k: int) -> float:
    if finite is not None:
        return float(np.partition(finite, n_cells - k)[n_cells - k])
    from geomap.target_components import _quantile_higher_blockwise

    # the rank ceil((n - 1) q) of the ascending order is n - k
    q = 0.0 if n_cells == 1 else (n_cells - k - 0.5) / (n_cells - 1)
    return _quantile_higher_blockwise(raw, q)


def _split_tie(raw: Any, value: float, need: int, tied: int) -> TieSplit:
    """Which of the ``tied`` cells equal to ``value`` are the ``need`` that go up."""
    if need <= 0:
        return TieSplit(float(value), -1, -1, tied, 0)
    distance = _tie_distance(raw, value)
    histogram = np.zeros(_FAR + 1, dtype=np.int64)
    for block in _blocks([raw, distance]):
        v, d = block.values
        histogram += np.bincount(d[v == value].ravel(), minlength=_FAR + 1)
    cumulative = np.cumsum(histogram)
    reach = int(np.searchsorted(cumulative, need))  # the distance of the last cell that goes up
    remaining = need - (int(cumulative[reach - 1]) if reach else 0)
    shape = tuple(raw.shape)
    positions: list[np.ndarray] = []
    for block in _blocks([raw, distance]):
        v, d = block.values
        origin = (block.rows.start, block.cols.start) if len(shape) == 2 else (0,) * len(shape)
        hit = (v == value) & (d == reach)
        if hit.any():
            positions.append(_flat_index(v.shape, origin, shape)[hit])
    ordered = np.sort(np.concatenate(positions))
    return TieSplit(float(value), reach, int(ordered[remaining - 1]), tied, need)


def area_share_classes(
    surface: Any, *, mask: Any = None, shares: Sequence[float] = DEFAULT_SHARES
) -> AreaClasses:
    """Class breaks of a surface by share of the study area (top 1, 5, 10, 20, 50 %, rest).

    Cells are ranked by value, largest first; a block of equal values at a break is split by
    the tie rule (nearness to larger values, then row-major position; :class:`TieSplit`), so
    every class holds its nominal share of the area (up to one cell).

    Parameters
    ----------
    surface : DataArray or array-like
        The prospectivity surface; NaN outside the study area.  A Dask-backed DataArray is
        read block by block (exact).
    mask : array-like of bool, optional
        The study area, on the surface's grid (default: every cell with a value).
    shares : sequence of float
        Upper class edges in percent of the area, ascending, each in (0, 100).

    Returns
    -------
    AreaClasses

    Raises
    ------
    DataError
        The shares are not ascending in (0, 100), or the surface has no value in the mask.
    """
    shares_t = tuple(float(s) for s in shares)
    if (
        not shares_t
        or any(not 0 < s < 100 for s in shares_t)
        or list(shares_t) != sorted(set(shares_t))
    ):
        raise DataError(
            f"class shares {list(shares)} must be distinct, ascending percentages in (0, 100), "
            f"e.g. {list(DEFAULT_SHARES)}"
        )
    raw = _ranked(_raw(surface), mask)
    finite = None if _lazy(raw) else raw[np.isfinite(raw)]
    n_cells = (
        int(finite.size)
        if finite is not None
        else sum(int(np.isfinite(b.values[0]).sum()) for b in _blocks([raw]))
    )
    if not n_cells:
        raise DataError(
            "the prospectivity surface has no value in the study area; "
            "nothing to classify (check the mask and the model output)"
        )
    breaks: list[float] = []
    ties: list[TieSplit | None] = []
    for share in shares_t:
        k = min(n_cells, max(1, round(share / 100.0 * n_cells)))
        value = _kth_largest(raw, finite, n_cells, k)
        if finite is not None:
            above, tied = int((finite > value).sum()), int((finite == value).sum())
        else:
            above = tied = 0
            for block in _blocks([raw]):
                above += int((block.values[0] > value).sum())
                tied += int((block.values[0] == value).sum())
        need = min(max(k - above, 0), tied)
        breaks.append(float(value))
        ties.append(None if need == tied else _split_tie(raw, value, need, tied))
    classes = AreaClasses(
        shares_t, tuple(breaks), (), n_cells, tuple(ties), tuple(int(s) for s in raw.shape)
    )
    counts = np.zeros(len(shares_t) + 2, dtype=np.int64)
    codes = classes.classify(raw)
    for block in _blocks([codes]):
        counts += np.bincount(block.values[0].ravel(), minlength=len(counts))[: len(counts)]
    cell_shares = tuple(100.0 * int(c) / n_cells for c in counts[1:])
    return AreaClasses(
        shares_t, tuple(breaks), cell_shares, n_cells, tuple(ties), classes.grid_shape
    )


def percentile_stretch(values: Any, *, low: float = 2.0, high: float = 98.0) -> tuple[float, float]:
    """Colour range of a continuous, percentile-stretched view (default 2nd–98th percentile).

    Parameters
    ----------
    values : array-like
        Values of the surface (NaN ignored).
    low, high : float
        Percentiles of the stretch.

    Returns
    -------
    (float, float)
        ``vmin < vmax``.
    """
    array = np.asarray(getattr(values, "values", values), dtype="float64")
    finite = array[np.isfinite(array)]
    if not finite.size:
        return 0.0, 1.0
    vmin, vmax = (float(v) for v in np.percentile(finite, [low, high]))
    if not vmax > vmin:
        vmax = vmin + (abs(vmin) * 1e-6 or 1e-6)
    return vmin, vmax

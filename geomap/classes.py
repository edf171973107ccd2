"""Prospectivity classes by share of the study area: one classification for every product.

A prospectivity surface is strongly skewed (most cells near zero, a few near one), so a linear
colour ramp from the minimum to the maximum shows one flat field.  geomap therefore draws
prospectivity everywhere (HTML map, PNG figures, GeoPackage styles and rendered tables, COG
colour tables, the packet) in classes by *share of the study area*: the top 1 %, 1–5 %, 5–10 %,
10–20 %, 20–50 % of the cells with a value, and the rest.  The same class means the same thing
for every model and region ("top 5 % of the area"), so two regions' maps can be compared.

:func:`area_share_classes` computes the class breaks (a pure function of the surface over the
study-area mask: the cells with a value); :meth:`AreaClasses.classify` turns values into class
codes.  The analysis grids are equal-area, so a share of the cells is a share of the area.

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
    "AreaClasses",
    "area_share_classes",
    "percentile_stretch",
]

DEFAULT_SHARES: tuple[float, ...] = (1.0, 5.0, 10.0, 20.0, 50.0)
"""Upper edges of the classes, in percent of the study area (the last class is the rest)."""

NO_CLASS = 0
"""Class code of cells without a value (outside the study area)."""


def _percent(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class AreaClasses:
    """Class breaks of a surface by share of the study area.

    Attributes
    ----------
    shares : tuple of float
        Upper edge of each class but the last, in percent of the area (ascending).
    breaks : tuple of float
        The lowest value in each class but the last: a cell is in the top ``shares[i]`` % when
        its value is at least ``breaks[i]`` (descending, one per share).
    cell_shares : tuple of float
        The share (percent) of the study area that each class actually holds (ties in the
        surface can make it differ from the nominal share).
    n_cells : int
        Cells with a value (the study area).
    """

    shares: tuple[float, ...]
    breaks: tuple[float, ...]
    cell_shares: tuple[float, ...]
    n_cells: int

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

    def classify(self, values: Any) -> np.ndarray:
        """Return the class code (uint8) of each value; 0 where the value is NaN.

        Parameters
        ----------
        values : array-like
            Values of the surface the breaks came from (any shape).
        """
        array = np.asarray(values, dtype="float64")
        out = np.full(array.shape, len(self.shares) + 1, dtype=np.uint8)
        # from the lowest class up, so the highest matching class wins
        for code, cutoff in zip(range(len(self.shares), 0, -1), self.breaks[::-1], strict=True):
            out[array >= cutoff] = code
        out[~np.isfinite(array)] = NO_CLASS
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain numbers for JSON (rounded to 6 significant digits), with the labels."""
        return {
            "shares_pct": list(self.shares),
            "breaks": [float(f"{b:.6g}") for b in self.breaks],
            "cell_shares_pct": [round(s, 2) for s in self.cell_shares],
            "labels": self.labels,
            "n_cells": self.n_cells,
        }


def _finite_values(surface: Any, mask: Any) -> np.ndarray:
    values = np.asarray(getattr(surface, "values", surface), dtype="float64")
    valid = np.isfinite(values)
    if mask is not None:
        mask_values = np.asarray(getattr(mask, "values", mask))
        if mask_values.shape != values.shape:
            raise DataError(
                f"study-area mask has shape {mask_values.shape}, the surface {values.shape}; "
                "give a mask on the surface's grid"
            )
        valid &= mask_values.astype(bool)
    return values[valid]


def _is_dask(surface: Any) -> bool:
    data = getattr(surface, "data", None)
    return data is not None and type(data).__module__.startswith("dask")


def area_share_classes(
    surface: Any, *, mask: Any = None, shares: Sequence[float] = DEFAULT_SHARES
) -> AreaClasses:
    """Class breaks of a surface by share of the study area (top 1, 5, 10, 20, 50 %, rest).

    Parameters
    ----------
    surface : DataArray or array-like
        The prospectivity surface; NaN outside the study area.  A Dask-backed DataArray is
        read block by block (exact quantiles).
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
    if mask is None and _is_dask(surface):
        from geomap.targets import _quantile_higher_blockwise

        raw = [_quantile_higher_blockwise(surface, 1.0 - s / 100.0) for s in shares_t]
        n_cells = int(_blockwise_counts(surface, [])[-1])
        breaks = tuple(
            _closer_tie_side(b, s, n_cells, *_blockwise_tie_stats(surface, b))
            for b, s in zip(raw, shares_t, strict=True)
        )
        counts = _blockwise_counts(surface, breaks)
    else:
        values = _finite_values(surface, mask)
        if not values.size:
            raise DataError(
                "the prospectivity surface has no value in the study area; "
                "nothing to classify (check the mask and the model output)"
            )
        n_cells = int(values.size)
        breaks = tuple(
            _closer_tie_side(b, s, n_cells, *_tie_stats(values, b))
            for b, s in (
                (float(np.quantile(values, 1.0 - s / 100.0, method="higher")), s) for s in shares_t
            )
        )
        counts = [int((values >= b).sum()) for b in breaks] + [n_cells]
    at_least = [0, *counts]
    cell_shares = tuple(
        100.0 * (at_least[i + 1] - at_least[i]) / max(n_cells, 1) for i in range(len(counts))
    )
    return AreaClasses(shares_t, breaks, cell_shares, n_cells)


def _tie_stats(values: np.ndarray, cutoff: float) -> tuple[int, int, float | None]:
    above = values[values > cutoff]
    return (
        int((values >= cutoff).sum()),
        int(above.size),
        (float(above.min()) if above.size else None),
    )


def _blockwise_tie_stats(surface: Any, cutoff: float) -> tuple[int, int, float | None]:
    from geomap.grid.blocks import iter_blocks

    at_least, above, smallest = 0, 0, None
    for block in iter_blocks([surface]):
        values = np.asarray(block.values[0], dtype="float64")
        values = values[np.isfinite(values)]
        at_least_b, above_b, smallest_b = _tie_stats(values, cutoff)
        at_least, above = at_least + at_least_b, above + above_b
        if smallest_b is not None:
            smallest = smallest_b if smallest is None else min(smallest, smallest_b)
    return at_least, above, smallest


def _closer_tie_side(
    cutoff: float, share: float, n_cells: int, at_least: int, above: int, smallest: float | None
) -> float:
    """Put a block of tied values at a break in the class whose share it disturbs least.

    Cells equal to the break go up (``>= cutoff``) unless leaving them out (``> cutoff``, i.e.
    a break at the next larger value) brings the class closer to its nominal share.
    """
    target = share / 100.0 * n_cells
    if smallest is not None and abs(above - target) < abs(at_least - target):
        return smallest
    return cutoff


def _blockwise_counts(surface: Any, breaks: Sequence[float]) -> list[int]:
    from geomap.grid.blocks import iter_blocks

    counts = [0] * (len(breaks) + 1)
    for block in iter_blocks([surface]):
        values = np.asarray(block.values[0], dtype="float64")
        finite = values[np.isfinite(values)]
        for i, cutoff in enumerate(breaks):
            counts[i] += int((finite >= cutoff).sum())
        counts[-1] += int(finite.size)
    if not counts[-1]:
        raise DataError(
            "the prospectivity surface has no value in the study area; nothing to classify"
        )
    return counts


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

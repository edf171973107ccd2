"""Weights-of-evidence statistics and fitted layers (see :mod:`geomap.models.wofe`).

The contingency counts and contrast statistics of a binary pattern
(:func:`contrast_statistics`: W+, W-, C, their deviations, studentized C, Haldane–Anscombe
smoothing of zero counts), the fitted classes of one layer (``_Layer``: class codes of a
column, its weights, the rule of each class), the exhaustive cumulative threshold search of
continuous layers (``_threshold_curve``: every distinct value in one pass), the cap on
empty classes and the unique-condition index that the independence tests and the
logistic/WofE hybrid share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geomap.errors import ModelError
from geomap.models._base import (
    DegenerateEvidenceWarning,
    warn,
)

__all__ = ["contrast_statistics"]


_KINDS = ("binary", "categorical", "continuous")
# counts below this many unit cells, or this fraction of the table's total, are treated as
# zero: they are rounding residue of subtracting areas (their reciprocal would blow up)
_ZERO_COUNT = 1e-9
_ZERO_RELATIVE = 1e-12
_DIRECTIONS = ("ascending", "descending", "auto")
_STAT_COLUMNS = [
    "w_plus",
    "s_w_plus",
    "w_minus",
    "s_w_minus",
    "contrast",
    "s_contrast",
    "studentized_contrast",
    "smoothed",
    "capped",
    "merged",
]
_FLAG_COLUMNS = ("smoothed", "capped", "merged")
_GENERALIZATIONS = ("max_studentized_contrast", "max_contrast")


# ----------------------------------------------------------------------------- statistics


def _tables(
    pattern_deposits: np.ndarray,
    pattern_area: np.ndarray,
    total_deposits: np.ndarray,
    total_area: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the four counts N(B∩D), N(B∩~D), N(~B∩D), N(~B∩~D)."""
    n11 = pattern_deposits
    n10 = pattern_area - pattern_deposits
    n01 = total_deposits - pattern_deposits
    n00 = total_area - pattern_area - n01
    return n11, n10, n01, n00


def _contrast(
    n11: np.ndarray, n10: np.ndarray, n01: np.ndarray, n00: np.ndarray, smoothing: float
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """W+, W-, C and their standard deviations; rows with a zero count are smoothed.

    Returns the statistics and the mask of rows that had a zero count.  With
    ``smoothing == 0`` those rows are NaN (callers decide what that means).
    """
    counts = np.stack(np.broadcast_arrays(n11, n10, n01, n00)).astype("float64")
    zero = np.maximum(_ZERO_COUNT, _ZERO_RELATIVE * counts.sum(axis=0))
    degenerate = (counts < zero).any(axis=0)
    if smoothing > 0:
        counts = np.where(degenerate, counts + smoothing, counts)
    a, b, c, d = counts
    with np.errstate(divide="ignore", invalid="ignore"):
        w_plus = np.log(a / (a + c)) - np.log(b / (b + d))
        w_minus = np.log(c / (a + c)) - np.log(d / (b + d))
        var_plus = 1.0 / a + 1.0 / b
        var_minus = 1.0 / c + 1.0 / d
        contrast = w_plus - w_minus
        s_contrast = np.sqrt(var_plus + var_minus)
        stats = {
            "w_plus": w_plus,
            "s_w_plus": np.sqrt(var_plus),
            "w_minus": w_minus,
            "s_w_minus": np.sqrt(var_minus),
            "contrast": contrast,
            "s_contrast": s_contrast,
            "studentized_contrast": contrast / s_contrast,
        }
    if smoothing <= 0:
        for value in stats.values():
            value[degenerate] = np.nan
    return stats, degenerate


def contrast_statistics(
    pattern_deposits: Any,
    pattern_area: Any,
    total_deposits: Any,
    total_area: Any,
    *,
    smoothing: float = 0.5,
) -> pd.DataFrame:
    """Weights of evidence of binary patterns from their counts (vectorised).

    Parameters
    ----------
    pattern_deposits : array-like
        N(B∩D): training occurrences (unit cells) inside the pattern.
    pattern_area : array-like
        N(B): area of the pattern, in unit cells.
    total_deposits : array-like
        N(D): training occurrences in the study area.
    total_area : array-like
        N(T): study area in unit cells.
    smoothing : float, default 0.5
        Pseudo-count added to all four counts of a table that has a zero count
        (Haldane–Anscombe correction), with a :class:`DegenerateEvidenceWarning`.
        0 makes such a table an error.

    Returns
    -------
    pandas.DataFrame
        ``w_plus``, ``s_w_plus``, ``w_minus``, ``s_w_minus``, ``contrast``, ``s_contrast``,
        ``studentized_contrast`` and ``smoothed`` (whether the correction was applied), one
        row per pattern.  Always finite.

    Raises
    ------
    ModelError
        Counts that cannot form a contingency table (negative, NaN, more occurrences than
        area), or a zero count with ``smoothing=0``.

    Examples
    --------
    A pattern covering 100 of 1000 unit cells holds 12 of 20 occurrences:

    >>> row = contrast_statistics(12, 100, 20, 1000).iloc[0]
    >>> [round(float(row[k]), 4) for k in ("w_plus", "w_minus", "contrast")]
    [1.8994, -0.8222, 2.7216]
    """
    if not (smoothing >= 0 and math.isfinite(smoothing)):
        raise ModelError(f"smoothing={smoothing!r} must be a finite pseudo-count >= 0")
    arrays = [
        np.atleast_1d(np.asarray(v, dtype="float64"))
        for v in (pattern_deposits, pattern_area, total_deposits, total_area)
    ]
    n11, n10, n01, n00 = _tables(*np.broadcast_arrays(*arrays))
    counts = np.stack([n11, n10, n01, n00])
    if not np.isfinite(counts).all() or (counts < -1e-9 * np.abs(counts).max(initial=1)).any():
        bad = np.flatnonzero(~(np.isfinite(counts) & (counts >= 0)).all(axis=0))[:3]
        raise ModelError(
            f"counts {counts[:, bad].T.tolist()} (N(B∩D), N(B∩~D), N(~B∩D), N(~B∩~D)) cannot "
            "form a contingency table: each must be finite and >= 0 (occurrences <= area); "
            "with large unit cells, use a smaller unit_area_km2"
        )
    counts = np.clip(counts, 0.0, None)
    stats, degenerate = _contrast(counts[0], counts[1], counts[2], counts[3], smoothing)
    if degenerate.any():
        rows = np.flatnonzero(degenerate)
        if smoothing <= 0:
            raise ModelError(
                f"contingency table(s) {rows[:5].tolist()} have a zero count "
                f"({counts[:, rows[0]].tolist()}); weights would be log(0) — set smoothing > 0 "
                "(e.g. 0.5) or merge the empty class into a neighbour"
            )
        warn(
            f"{rows.size} contingency table(s) (rows {rows[:5].tolist()}) have a zero count; "
            f"added {smoothing} to each of their four counts (Haldane–Anscombe correction)",
            DegenerateEvidenceWarning,
        )
    frame = pd.DataFrame(stats)
    frame["smoothed"] = degenerate
    return frame


# ----------------------------------------------------------------------------- fitted layers


@dataclass(frozen=True)
class _Layer:
    """The fitted weights of one evidence layer."""

    name: str
    kind: str
    classes: np.ndarray  # class values; binary/continuous: [0, 1] (1 = pattern present)
    weights: np.ndarray  # weight per class
    variances: np.ndarray  # variance of each weight
    area_fraction: np.ndarray  # share of the layer's data area in each class
    threshold: float | None = None
    direction: str | None = None

    def codes(self, column: pd.Series, *, fitting: bool = False) -> np.ndarray:
        """Class index per row, -1 where the layer has no data."""
        if self.kind == "categorical":
            codes = _class_codes(column, self.classes)
            unseen = int(((codes < 0) & column.notna().to_numpy()).sum())
            if unseen and not fitting:
                warn(
                    f"{unseen} cells of layer {self.name!r} are in classes not seen when "
                    "fitting; they are treated as missing data (weight 0, missing-data variance)",
                    DegenerateEvidenceWarning,
                )
            return codes
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        missing = np.isnan(values)
        if self.kind == "binary":
            bad = ~missing & (values != 0) & (values != 1)
            if bad.any():
                raise ModelError(
                    f"binary layer {self.name!r} has {int(bad.sum())} values other than 0/1 "
                    f"(e.g. {values[bad][:3].tolist()}); threshold it or declare it continuous"
                )
            present = values == 1
        elif self.direction == "ascending":
            present = values <= float(self.threshold)  # type: ignore[arg-type]
        else:
            present = values >= float(self.threshold)  # type: ignore[arg-type]
        codes = present.astype(np.int64)
        codes[missing] = -1
        return codes

    def rule(self, k: int) -> str:
        """Describe class ``k`` in words (e.g. ``<= 1500``)."""
        if self.kind == "categorical":
            return f"== {self.classes[k]!r}"
        if self.kind == "binary":
            return "== 1" if k == 1 else "== 0"
        op = ("<=", ">") if self.direction == "ascending" else (">=", "<")
        return f"{op[0] if k == 1 else op[1]} {self.threshold:.6g}"


def _class_codes(column: pd.Series, classes: np.ndarray) -> np.ndarray:
    """Index of each value in ``classes``; -1 for missing or unknown values."""
    values = column.astype("object").where(column.notna(), None).to_numpy()
    codes = pd.Index(classes, dtype=object).get_indexer(values).astype(np.int64)
    codes[pd.isna(values)] = -1
    return codes


def _weighted_count(codes: np.ndarray, weights: np.ndarray, n_classes: int) -> np.ndarray:
    """Sum of ``weights`` per class (code -1, missing, is left out)."""
    shifted = codes.astype(np.intp) + 1
    return np.bincount(shifted, weights=weights, minlength=n_classes + 1)[1 : n_classes + 1]


def _candidate_thresholds(values: np.ndarray, n_thresholds: int | None) -> np.ndarray:
    """Candidate thresholds: every distinct value (``None``), or that many quantiles."""
    if n_thresholds is None:
        return np.unique(values)
    levels = np.linspace(0.0, 1.0, n_thresholds + 2)[1:-1]
    cands = np.unique(np.quantile(values, levels, method="inverted_cdf"))
    if cands.size < n_thresholds:
        uniq = np.unique(values)
        if uniq.size <= n_thresholds + 1:
            cands = uniq
    return cands


def _bins(values: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``searchsorted(candidates, values)`` on the left and the right, in one search.

    ``candidates`` are sorted and distinct, so a value's right bin is its left bin plus one
    exactly when the value is a candidate.
    """
    left = np.searchsorted(candidates, values, side="left")
    right = left.copy()
    inside = left < candidates.size
    right[inside] += candidates[left[inside]] == values[inside]
    return left, right


def _threshold_curve(
    values: np.ndarray,
    area: np.ndarray,
    deposits: np.ndarray,
    direction: str,
    candidates: np.ndarray,
    smoothing: float,
    bins: tuple[np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Contrast statistics of every candidate cumulative threshold in one direction.

    One pass: the cells are binned once by candidate (``searchsorted``; ``bins`` from
    :func:`_bins` when the caller has them) and the pattern counts of all thresholds are
    cumulative sums of the bins, so trying every distinct value costs a sort, not one count
    per threshold.
    """
    m = candidates.size
    t_area, t_dep = area.sum(), deposits.sum()
    left, right = bins if bins is not None else _bins(values, candidates)
    if direction == "ascending":  # pattern: value <= t
        idx = left
        b_area = np.cumsum(np.bincount(idx, weights=area, minlength=m + 1))[:m]
        b_dep = np.cumsum(np.bincount(idx, weights=deposits, minlength=m + 1))[:m]
    else:  # pattern: value >= t
        idx = right
        b_area = t_area - np.cumsum(np.bincount(idx, weights=area, minlength=m + 1))[:m]
        b_dep = t_dep - np.cumsum(np.bincount(idx, weights=deposits, minlength=m + 1))[:m]
    b_area = np.clip(b_area, 0.0, None)
    b_dep = np.clip(b_dep, 0.0, None)
    tables = _tables(b_dep, b_area, np.full(m, t_dep), np.full(m, t_area))
    n11, n10, n01, n00 = (np.clip(t, 0.0, None) for t in tables)
    stats, degenerate = _contrast(n11, n10, n01, n00, smoothing)
    frame = pd.DataFrame(
        {
            "direction": direction,
            "threshold": candidates,
            "pattern_area": b_area,
            "pattern_deposits": b_dep,
            **stats,
        }
    )
    frame["smoothed"] = degenerate
    return frame


def _thin_curve(curve: pd.DataFrame, keep: int, max_rows: int = 4000) -> pd.DataFrame:
    """At most ``max_rows`` rows of a long curve, evenly spaced, always with row ``keep``."""
    if len(curve) <= max_rows:
        return curve.reset_index(drop=True)
    rows = np.unique(np.append(np.linspace(0, len(curve) - 1, max_rows).astype(np.int64), keep))
    return curve.iloc[rows].reset_index(drop=True)


def _cap_empty(weights: np.ndarray, class_deposits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cap at 0 the weight of every class without a training cell (see the module doc)."""
    empty = np.asarray(class_deposits, dtype="float64") <= _ZERO_COUNT
    capped = empty & (weights > 0)
    return np.where(capped, 0.0, weights), capped


def _unique_conditions(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Unique-condition classes of a set of class-code columns (-1 = missing).

    Returns the first row of each unique combination and the combination index per row.
    """
    radix = [int(c.max(initial=-1)) + 2 for c in columns]
    if math.prod(radix) < 2**62:
        key = np.zeros(columns[0].size, dtype=np.int64)
        for c, r in zip(columns, radix, strict=True):
            key = key * r + (c + 1)
        _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    else:
        matrix = np.column_stack(columns)
        _, first, inverse = np.unique(matrix, axis=0, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)

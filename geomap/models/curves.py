"""Validation curves and tables from prospectivity scores and occurrence labels.

Curve conventions (fractions, not percent):

* ``roc``: ``label`` (``training``, ``held_out``, ``held_out_well_covered``), ``fpr``, ``tpr``,
  ``threshold``, ``auc``;
* ``success_rate`` / ``prediction_rate``: ``area_fraction`` (share of the study area, cells
  ranked by decreasing prospectivity), ``occurrence_fraction`` (share of training /
  held-out occurrences inside it), ``threshold`` (prospectivity at that point);
  ``frame.attrs["auc"]`` holds the area under the curve;
* ``prediction_area`` (P–A plot): ``threshold``, ``prediction_rate`` (share of held-out
  occurrences in cells with prospectivity >= threshold), ``selected_area_fraction`` (share of
  the area with prospectivity >= threshold) and ``area_fraction`` = 1 - selected area (the
  P–A plot's area curve; the two curves cross at the P–A point, where ``p`` of the occurrences
  lie in ``1 - p`` of the area);
* ``capture``: ``top_area_pct`` (1, 5, 10, 20), ``training_pct``, ``held_out_pct`` (percent of
  occurrences in that top share of the area) and the prospectivity thresholds there.

Ties in prospectivity are handled as in ROC analysis: cells with equal scores enter a curve
together (linear interpolation inside a tie), so results do not depend on cell order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geomap.errors import ModelError

if TYPE_CHECKING:
    pass

__all__ = [
    "CAPTURE_AREA_PCT",
    "capture_table",
    "prediction_area_curve",
    "rate_curve",
    "roc_table",
]

CAPTURE_AREA_PCT: tuple[float, ...] = (1.0, 5.0, 10.0, 20.0)
"""Top shares of the area (percent) in the capture table."""
_MAX_CURVE_POINTS = 1001


def _finite_scores(score: Any, what: str) -> np.ndarray:
    values = np.asarray(score, dtype="float64")
    if values.ndim != 1:
        raise ModelError(f"{what} must be 1-D (one prospectivity per cell), got {values.shape}")
    n_bad = int((~np.isfinite(values)).sum())
    if n_bad:
        raise ModelError(
            f"{what} has {n_bad} NaN or infinite values; validate only cells inside the "
            "study area (a model must give every such cell a finite prospectivity)"
        )
    return values


def _ranked(
    score: np.ndarray, positive: np.ndarray, area: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cumulative area and occurrence fractions, cells grouped by equal score, descending.

    Returns ``(area_fraction, occurrence_fraction, threshold)`` each of length ``k + 1``
    (``k`` distinct scores): point ``i > 0`` selects every cell with score >= threshold[i];
    point 0 selects nothing (threshold = the highest score).
    """
    unique, inverse = np.unique(score, return_inverse=True)
    area_by = np.bincount(inverse, weights=area, minlength=unique.size)[::-1]
    pos_by = np.bincount(inverse, weights=positive, minlength=unique.size)[::-1]
    thresholds = unique[::-1]
    total_area = area_by.sum()
    total_pos = pos_by.sum()
    area_frac = np.concatenate([[0.0], np.cumsum(area_by)]) / total_area
    pos_frac = (
        np.concatenate([[0.0], np.cumsum(pos_by)]) / total_pos
        if total_pos > 0
        else np.zeros(area_frac.size)
    )
    area_frac[-1] = 1.0
    if total_pos > 0:
        pos_frac[-1] = 1.0
    return area_frac, pos_frac, np.concatenate([thresholds[:1], thresholds])


def _area_weights(area: Any, n: int) -> np.ndarray:
    if area is None:
        return np.ones(n)
    weights = np.asarray(area, dtype="float64")
    if weights.shape != (n,) or (weights < 0).any() or not np.isfinite(weights).all():
        raise ModelError(
            f"area weights must be {n} finite non-negative numbers (cells each row stands for)"
        )
    return weights


def _thin(frame: pd.DataFrame, x: str, max_points: int) -> pd.DataFrame:
    """At most ``max_points`` rows, evenly spaced along ``x``, keeping both ends."""
    if len(frame) <= max_points:
        return frame.reset_index(drop=True)
    keep = np.unique(np.searchsorted(frame[x].to_numpy(), np.linspace(0, 1, max_points)))
    keep = np.unique(np.concatenate([keep.clip(0, len(frame) - 1), [0, len(frame) - 1]]))
    return frame.iloc[keep].reset_index(drop=True)


def rate_curve(
    score: Any,
    occurrences: Any,
    *,
    area: Any = None,
    max_points: int = _MAX_CURVE_POINTS,
) -> pd.DataFrame:
    """Success-rate or prediction-rate curve: occurrences captured against area, ranked.

    Parameters
    ----------
    score : array-like of float
        Prospectivity per cell (finite).
    occurrences : array-like
        Occurrences per cell (0/1 labels, or counts to weight cells holding several).
    area : array-like, optional
        Cells each row stands for (sampling weights); 1 by default.
    max_points : int, default 1001
        Longest table returned (the AUC uses every point).

    Returns
    -------
    pandas.DataFrame
        Columns ``area_fraction``, ``occurrence_fraction``, ``threshold``;
        ``attrs["auc"]`` is the area under the curve (0.5 = no better than random).

    Examples
    --------
    >>> curve = rate_curve([0.9, 0.8, 0.1, 0.2], [1, 0, 0, 0])
    >>> float(curve.attrs["auc"])
    0.875
    """
    s = _finite_scores(score, "score")
    pos = np.asarray(occurrences, dtype="float64")
    if pos.shape != s.shape:
        raise ModelError(f"occurrences has shape {pos.shape}; expected {s.shape} (one per cell)")
    a, p, t = _ranked(s, pos, _area_weights(area, s.size))
    auc = float(np.trapezoid(p, a)) if pos.sum() > 0 else None
    frame = pd.DataFrame({"area_fraction": a, "occurrence_fraction": p, "threshold": t})
    frame = _thin(frame, "area_fraction", max_points)
    frame.attrs["auc"] = auc
    return frame


def prediction_area_curve(
    score: Any,
    occurrences: Any,
    *,
    area: Any = None,
    max_points: int = _MAX_CURVE_POINTS,
) -> tuple[pd.DataFrame, dict[str, float | None]]:
    """P–A plot data (Yousefi & Carranza 2015) and its intersection point.

    Parameters
    ----------
    score, occurrences, area
        As in :func:`rate_curve`.
    max_points : int, default 1001
        Longest table returned.

    Returns
    -------
    curve : pandas.DataFrame
        ``threshold``, ``prediction_rate``, ``selected_area_fraction``, ``area_fraction``
        (= 1 - selected, the curve drawn against the prediction rate).
    point : dict
        Where ``prediction_rate + selected_area_fraction = 1``: ``threshold``,
        ``prediction_rate``, ``selected_area_fraction``, ``normalized_density`` (prediction
        rate / selected area) and ``weight`` = ln(normalized density).  Values are ``None``
        without occurrences.
    """
    s = _finite_scores(score, "score")
    pos = np.asarray(occurrences, dtype="float64")
    a, p, t = _ranked(s, pos, _area_weights(area, s.size))
    curve = pd.DataFrame(
        {"threshold": t, "prediction_rate": p, "selected_area_fraction": a, "area_fraction": 1 - a}
    )
    point: dict[str, float | None] = dict.fromkeys(
        ("threshold", "prediction_rate", "selected_area_fraction", "normalized_density", "weight")
    )
    if pos.sum() > 0:
        gap = p + a - 1.0  # rises from -1 to 1
        k = int(np.argmax(gap >= 0))
        if k == 0:
            frac, thr, rate = 0.0, float(t[0]), float(p[0])
        else:
            w = -gap[k - 1] / (gap[k] - gap[k - 1])
            frac = float(a[k - 1] + w * (a[k] - a[k - 1]))
            rate = float(p[k - 1] + w * (p[k] - p[k - 1]))
            thr = float(t[k - 1] + w * (t[k] - t[k - 1]))
        density = rate / frac if frac > 0 else None
        point = {
            "threshold": thr,
            "prediction_rate": rate,
            "selected_area_fraction": frac,
            "normalized_density": density,
            "weight": math.log(density) if density else None,
        }
    curve = _thin(curve, "selected_area_fraction", max_points)
    return curve, point


def capture_table(
    score: Any,
    occurrences: Any,
    *,
    area: Any = None,
    top_area_pct: Sequence[float] = CAPTURE_AREA_PCT,
) -> pd.DataFrame:
    """Percent of occurrences inside the top ``top_area_pct`` percent of the area.

    Parameters
    ----------
    score, occurrences, area
        As in :func:`rate_curve`.
    top_area_pct : sequence of float, default (1, 5, 10, 20)
        Shares of the study area, most prospective first.

    Returns
    -------
    pandas.DataFrame
        ``top_area_pct``, ``captured_pct`` and ``threshold`` (lowest prospectivity inside).

    Examples
    --------
    >>> capture_table(list(range(100)), [1] * 10 + [0] * 80 + [1] * 10, top_area_pct=[10])
    ... # doctest: +NORMALIZE_WHITESPACE
       top_area_pct  captured_pct  threshold
    0          10.0          50.0       90.0
    """
    s = _finite_scores(score, "score")
    pos = np.asarray(occurrences, dtype="float64")
    a, p, t = _ranked(s, pos, _area_weights(area, s.size))
    fractions = np.asarray(top_area_pct, dtype="float64") / 100.0
    if ((fractions <= 0) | (fractions > 1)).any():
        raise ModelError(f"top_area_pct {list(top_area_pct)} must lie in (0, 100]")
    captured = np.interp(fractions, a, p) * 100.0 if pos.sum() > 0 else np.full(fractions.size, 0.0)
    index = np.searchsorted(a, fractions - 1e-12, side="left").clip(1, a.size - 1)
    return pd.DataFrame(
        {"top_area_pct": fractions * 100.0, "captured_pct": captured, "threshold": t[index]}
    )


def roc_table(
    y: Any, score: Any, *, sample_weight: Any = None, label: str = "held_out"
) -> tuple[pd.DataFrame, float | None]:
    """ROC curve (``label``, ``fpr``, ``tpr``, ``threshold``, ``auc``) and its AUC.

    The AUC is ``None`` (and the curve the diagonal) when ``y`` has one class only.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    s = _finite_scores(score, "score")
    labels = np.asarray(y).astype(int)
    weights = _area_weights(sample_weight, s.size)
    if labels.min(initial=0) == labels.max(initial=0) or np.unique(labels).size < 2:
        frame = pd.DataFrame(
            {"label": label, "fpr": [0.0, 1.0], "tpr": [0.0, 1.0], "threshold": [np.nan] * 2}
        )
        frame["auc"] = np.nan
        return frame, None
    fpr, tpr, thr = roc_curve(labels, s, sample_weight=weights, drop_intermediate=True)
    auc = float(roc_auc_score(labels, s, sample_weight=weights))
    thr = np.where(np.isfinite(thr), thr, np.nan)
    frame = pd.DataFrame({"label": label, "fpr": fpr, "tpr": tpr, "threshold": thr})
    frame = _thin(frame, "fpr", _MAX_CURVE_POINTS)
    frame["auc"] = auc
    return frame, auc

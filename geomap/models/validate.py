"""Honest validation of prospectivity models: spatial block CV, region hold-out, curves, capture.

Spatial data are autocorrelated: a random train/test split of cells puts test cells beside
training cells and reports the model's memory, not its power to predict.  Everything here
splits *space*:

* :class:`SpatialBlockKFold` assigns cells to square blocks of ``block_size_m`` metres and
  whole blocks to folds (balancing training occurrences between folds), optionally dropping
  training cells within ``buffer_m`` of the test blocks;
* :func:`spatial_cross_validate` fits the model on all cells (success-rate curve, training
  AUC) and on each fold's training blocks (out-of-fold prospectivity -> prediction-rate
  curve, P–A plot, held-out ROC AUC, capture table);
* :func:`region_held_out` trains in one region and tests in another, per ordered pair.

Every result is a :class:`ValidationReport` -- plain pandas tables and numbers, with the
data-coverage breakdown (cells by number of evidence layers with data, and the held-out AUC
inside well-covered cells) carried alongside, so "no data" is never mistaken for
"no potential".

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

import inspect
import json
import math
import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator

from geomap.errors import ModelError
from geomap.models._base import ModelWarning, check_table, is_categorical, table_coords, warn

if TYPE_CHECKING:
    from geomap.models.raster import CellTable

__all__ = [
    "CAPTURE_AREA_PCT",
    "SpatialBlockKFold",
    "ValidationReport",
    "block_labels",
    "capture_table",
    "prediction_area_curve",
    "rate_curve",
    "region_held_out",
    "roc_table",
    "spatial_cross_validate",
]

CAPTURE_AREA_PCT: tuple[float, ...] = (1.0, 5.0, 10.0, 20.0)
_MAX_CURVE_POINTS = 1001


# ----------------------------------------------------------------------------- the report


def _jsonable(value: Any) -> Any:
    if isinstance(value, pd.DataFrame):
        return {
            "columns": [str(c) for c in value.columns],
            "data": [[_jsonable(v) for v in row] for row in value.itertuples(index=False)],
        }
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _frame_from_json(payload: Mapping[str, Any]) -> pd.DataFrame:
    return pd.DataFrame(payload["data"], columns=payload["columns"])


_FRAMES = ("roc", "success_rate", "prediction_rate", "prediction_area", "capture", "folds")


@dataclass
class ValidationReport:
    """The validation of one model on one region (or one train -> test region pair).

    Attributes
    ----------
    model : str
        Estimator class name (and parameters in ``settings``).
    method : str
        ``"spatial_block_cv"`` or ``"region_held_out"``.
    train_region, test_region : str or None
        Region ids (the same region for spatial CV).
    auc : dict
        ``training`` (ROC AUC of the model fitted on all cells, on those cells),
        ``held_out`` (ROC AUC of out-of-fold / other-region prospectivity),
        ``held_out_well_covered`` (the same inside well-covered cells),
        ``held_out_se`` (Hanley–McNeil standard error of ``held_out``),
        ``held_out_fold_mean`` (mean of per-fold AUCs), ``success_rate`` and
        ``prediction_rate`` (areas under those curves).  ``None`` where undefined.
    roc, success_rate, prediction_rate, prediction_area, capture, folds, coverage : DataFrame
        See the module docstring for the columns.  ``folds``: one row per fold (``fold``,
        ``n_train_cells``, ``n_test_cells``, ``n_test_positive_cells``, ``auc``).
        ``coverage``: one row per number of layers with data (``coverage``, ``n_cells``,
        ``n_positive_cells``, ``held_out_auc``).
    pa_intersection : dict
        The P–A point: ``threshold``, ``prediction_rate``, ``selected_area_fraction``,
        ``normalized_density`` (prediction rate / selected area) and ``weight``
        (its natural log).
    counts : dict
        ``n_cells``, ``n_positive_cells``, ``n_occurrences``, ``n_layers`` (training table) and
        the same with ``test_`` for the held-out table.
    settings : dict
        How it was run (block size, folds, buffer, seed, well-covered threshold, model params).
    notes : list of str
        Caveats a reader must know (few occurrences, folds without occurrences, warnings
        raised while fitting folds, layers dropped...).
    estimator : estimator or None
        The model fitted on all training cells (not serialized).
    """

    model: str
    method: str
    train_region: str | None
    test_region: str | None
    auc: dict[str, float | None]
    roc: pd.DataFrame
    success_rate: pd.DataFrame
    prediction_rate: pd.DataFrame
    prediction_area: pd.DataFrame
    pa_intersection: dict[str, float | None]
    capture: pd.DataFrame
    folds: pd.DataFrame
    coverage: pd.DataFrame
    counts: dict[str, int]
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    estimator: Any = field(default=None, repr=False, compare=False)

    @property
    def curves(self) -> dict[str, pd.DataFrame]:
        """Return the curve tables by kind: roc, success_rate, prediction_rate, pa."""
        return {
            "roc": self.roc,
            "success_rate": self.success_rate,
            "prediction_rate": self.prediction_rate,
            "pa": self.prediction_area,
        }

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (tables as ``{"columns", "data"}``, NaN as null)."""
        out: dict[str, Any] = {
            "model": self.model,
            "method": self.method,
            "train_region": self.train_region,
            "test_region": self.test_region,
            "auc": self.auc,
            "pa_intersection": self.pa_intersection,
            "counts": self.counts,
            "settings": self.settings,
            "notes": self.notes,
        }
        for name in (*_FRAMES, "coverage"):
            out[name] = getattr(self, name)
        return _jsonable(out)

    def metrics(self) -> dict[str, Any]:
        """Return the headline numbers only (AUCs, capture table, P–A point, counts, notes)."""
        capture = {
            f"top_{row.top_area_pct:g}pct": {
                "training_pct": row.training_pct,
                "held_out_pct": row.held_out_pct,
            }
            for row in self.capture.itertuples(index=False)
        }
        return _jsonable(
            {
                "model": self.model,
                "method": self.method,
                "train_region": self.train_region,
                "test_region": self.test_region,
                "auc": self.auc,
                "capture": capture,
                "pa_intersection": self.pa_intersection,
                "counts": self.counts,
                "notes": self.notes,
            }
        )

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """Serialize to JSON text; also write it (atomically) when ``path`` is given."""
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False) + "\n"
        if path is not None:
            from geomap.io.atomic import atomic_path

            with atomic_path(path) as tmp:
                tmp.write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_dict(cls, payload: Mapping[str, Any]) -> ValidationReport:
        """Rebuild a report from :meth:`to_dict` output (curve AUCs restored to ``attrs``)."""
        frames = {name: _frame_from_json(payload[name]) for name in (*_FRAMES, "coverage")}
        auc = dict(payload["auc"])
        frames["success_rate"].attrs["auc"] = auc.get("success_rate")
        frames["prediction_rate"].attrs["auc"] = auc.get("prediction_rate")
        return cls(
            model=payload["model"],
            method=payload["method"],
            train_region=payload.get("train_region"),
            test_region=payload.get("test_region"),
            auc=auc,
            pa_intersection=dict(payload["pa_intersection"]),
            counts=dict(payload["counts"]),
            settings=dict(payload.get("settings", {})),
            notes=list(payload.get("notes", [])),
            **frames,
        )

    def summary(self) -> str:
        """Return a few lines of text: AUCs, capture table, P–A point, notes."""

        def fmt(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.3f}"

        where = (
            self.test_region
            if self.method == "spatial_block_cv"
            else f"{self.train_region} -> {self.test_region}"
        )
        lines = [
            f"{self.model} on {where} ({self.method}): "
            f"{self.counts.get('n_positive_cells', 0)} training cells with occurrences, "
            f"{self.counts.get('n_cells', 0)} cells",
            "  AUC training {}  held-out {}  held-out well covered {}  fold mean {}".format(
                *(
                    fmt(self.auc.get(k))
                    for k in (
                        "training",
                        "held_out",
                        "held_out_well_covered",
                        "held_out_fold_mean",
                    )
                )
            ),
            "  capture (% of occurrences in top % of area): "
            + ", ".join(
                f"top {r.top_area_pct:g}%: {r.training_pct:.1f} train / "
                f"{r.held_out_pct:.1f} held-out"
                for r in self.capture.itertuples(index=False)
            ),
        ]
        pa = self.pa_intersection
        rate = pa.get("prediction_rate")
        if rate is not None:
            lines.append(
                f"  P–A point: {100 * rate:.1f}% of held-out occurrences in "
                f"{100 * (pa['selected_area_fraction'] or 0):.1f}% of the area"
            )
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<ValidationReport {self.summary().splitlines()[0]}>"

    def _repr_html_(self) -> str:
        from html import escape

        def fmt(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.3f}"

        auc_rows = "".join(
            f"<tr><td>{label}</td><td style='text-align:right'>{fmt(self.auc.get(key))}</td></tr>"
            for key, label in (
                ("training", "training (fitted on every cell)"),
                ("held_out", "held out"),
                ("held_out_se", "held out, standard error"),
                ("held_out_well_covered", "held out, well-covered cells"),
                ("held_out_fold_mean", "held out, mean of folds"),
                ("success_rate", "success-rate curve"),
                ("prediction_rate", "prediction-rate curve"),
            )
            if key in self.auc
        )
        capture = (
            self.capture.rename(
                columns={
                    "top_area_pct": "top % of area",
                    "training_pct": "% training",
                    "held_out_pct": "% held out",
                }
            )[["top % of area", "% training", "% held out"]].to_html(
                index=False, float_format=lambda v: f"{v:.1f}"
            )
            if {"top_area_pct", "training_pct", "held_out_pct"} <= set(self.capture.columns)
            else ""
        )
        rate = self.pa_intersection.get("prediction_rate")
        selected = self.pa_intersection.get("selected_area_fraction") or 0.0
        pa_line = (
            f"<p>P&ndash;A point: {100 * rate:.1f}% of held-out occurrences in "
            f"{100 * selected:.1f}% of the area</p>"
            if rate is not None
            else ""
        )
        shown = self.notes[:5]
        notes = "".join(f"<li>{escape(str(note))}</li>" for note in shown)
        if len(self.notes) > len(shown):
            notes += f"<li>&hellip; {len(self.notes) - len(shown)} more in <code>.notes</code></li>"
        where = (
            escape(str(self.test_region))
            if self.method == "spatial_block_cv"
            else f"{escape(str(self.train_region))} &rarr; {escape(str(self.test_region))}"
        )
        return (
            f"<b>validation</b> {escape(self.model)} on {where} ({escape(self.method)}): "
            f"{self.counts.get('n_positive_cells', 0)} cells with training occurrences of "
            f"{self.counts.get('n_cells', 0)}"
            "<div style='display:flex;gap:2em;align-items:flex-start'>"
            f"<table><tr><th>ROC AUC</th><th></th></tr>{auc_rows}</table>{capture}</div>"
            + pa_line
            + (f"<ul>{notes}</ul>" if notes else "")
        )


# ----------------------------------------------------------------------------- curves


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


# ----------------------------------------------------------------------------- spatial blocks


def block_labels(coords: Any, block_size_m: float) -> np.ndarray:
    """Label each cell with the square block (side ``block_size_m`` metres) it falls in.

    Blocks are aligned on the lower-left corner of the cells' bounding box.

    Parameters
    ----------
    coords : array-like of shape (n, 2)
        Cell-centre x, y in metres (projected CRS).
    block_size_m : float
        Block side in metres (> 0).

    Returns
    -------
    numpy.ndarray of int64
        Block id per cell (0 .. n_blocks - 1).
    """
    if not (block_size_m > 0 and math.isfinite(block_size_m)):
        raise ModelError(f"block_size_m={block_size_m!r} must be a positive number of metres")
    xy = np.asarray(coords, dtype="float64")
    ix = np.floor((xy[:, 0] - xy[:, 0].min()) / block_size_m).astype(np.int64)
    iy = np.floor((xy[:, 1] - xy[:, 1].min()) / block_size_m).astype(np.int64)
    key = ix * (int(iy.max(initial=0)) + 1) + iy
    return np.unique(key, return_inverse=True)[1].astype(np.int64)


class SpatialBlockKFold(BaseCrossValidator):
    """K-fold cross-validation over square spatial blocks (never random cells).

    Parameters
    ----------
    block_size_m : float
        Block side in metres.  Choose it larger than the range over which evidence and
        occurrences are spatially correlated (tens of kilometres for regional layers).
    n_splits : int, default 5
        Folds.  Reduced (with a warning) when fewer blocks hold occurrences.
    buffer_m : float, default 0
        Training cells closer than this to any test cell are left out of that fold's
        training set (a dead zone against leakage across block edges).
    random_state : int, default 0
        Seed for the order in which blocks are dealt to folds.

    Notes
    -----
    Blocks holding occurrences are dealt first, each to the fold with the fewest
    occurrences so far, then the others to the fold with the fewest cells, so every fold
    is tested on occurrences.  Coordinates come from ``coords=`` or from a ``("y", "x")``
    table index.
    """

    def __init__(
        self,
        *,
        block_size_m: float,
        n_splits: int = 5,
        buffer_m: float = 0.0,
        random_state: int = 0,
    ) -> None:
        self.block_size_m = block_size_m
        self.n_splits = n_splits
        self.buffer_m = buffer_m
        self.random_state = random_state

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        """Return the requested number of folds."""
        return int(self.n_splits)

    def assign_folds(self, coords: Any, y: Any = None) -> np.ndarray:
        """Fold number per cell (0 .. n_folds - 1), whole blocks per fold."""
        if int(self.n_splits) < 2:
            raise ModelError(f"n_splits={self.n_splits} must be at least 2")
        if self.buffer_m < 0:
            raise ModelError(f"buffer_m={self.buffer_m} must be >= 0 metres")
        blocks = block_labels(coords, float(self.block_size_m))
        n_blocks = int(blocks.max(initial=-1)) + 1
        labels = np.zeros(blocks.size) if y is None else (np.asarray(y) > 0).astype(float)
        cells = np.bincount(blocks, minlength=n_blocks).astype(float)
        positives = np.bincount(blocks, weights=labels, minlength=n_blocks)
        n_pos_blocks = int((positives > 0).sum())
        n_splits = int(self.n_splits)
        if y is not None and n_pos_blocks < n_splits:
            if n_pos_blocks < 2:
                raise ModelError(
                    f"only {n_pos_blocks} block of {self.block_size_m:g} m holds training "
                    "occurrences; spatial CV needs at least 2 — use smaller blocks "
                    "(block_size_m) or a region with more occurrences"
                )
            warn(
                f"only {n_pos_blocks} blocks of {self.block_size_m:g} m hold training "
                f"occurrences; using {n_pos_blocks} folds instead of {n_splits}",
                ModelWarning,
            )
            n_splits = n_pos_blocks
        if n_blocks < n_splits:
            raise ModelError(
                f"{n_blocks} blocks of {self.block_size_m:g} m cannot make {n_splits} folds; "
                "use smaller blocks or fewer folds"
            )
        rng = np.random.default_rng(self.random_state)
        order = rng.permutation(n_blocks)
        order = order[np.argsort(-positives[order], kind="stable")]
        fold_pos = np.zeros(n_splits)
        fold_cells = np.zeros(n_splits)
        fold_of_block = np.empty(n_blocks, dtype=np.int64)
        for b in order:
            if positives[b] > 0:
                f = int(np.lexsort((fold_cells, fold_pos))[0])
            else:
                f = int(np.argmin(fold_cells))
            fold_of_block[b] = f
            fold_pos[f] += positives[b]
            fold_cells[f] += cells[b]
        return fold_of_block[blocks]

    def split(
        self, X: Any, y: Any = None, groups: Any = None, *, coords: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_index, test_index)`` per fold.

        Parameters
        ----------
        X : pandas.DataFrame or array-like
            The table of cells (its ``("y", "x")`` index gives the coordinates).
        y : array-like, optional
            0/1 labels, used to spread occurrences over the folds.
        groups : ignored
        coords : array-like of shape (n, 2), optional
            Cell x, y in metres (overrides the index).
        """
        xy = table_coords(X, coords)
        folds = self.assign_folds(xy, y)
        for f in range(int(folds.max()) + 1):
            test = np.flatnonzero(folds == f)
            train = np.flatnonzero(folds != f)
            if self.buffer_m > 0 and train.size and test.size:
                from scipy.spatial import cKDTree

                distance, _ = cKDTree(xy[test]).query(
                    xy[train], k=1, distance_upper_bound=float(self.buffer_m)
                )
                train = train[~np.isfinite(distance) | (distance >= self.buffer_m)]
            yield train, test

    def _iter_test_indices(self, X: Any = None, y: Any = None, groups: Any = None) -> Iterator[Any]:
        for _, test in self.split(X, y, groups):
            yield test


# ----------------------------------------------------------------------------- running models


def _learns_from_labels(model: Any) -> bool:
    """Whether ``fit`` uses ``y`` (scikit-learn's ``target_tags.required``)."""
    from sklearn.utils import get_tags

    try:
        return bool(get_tags(model).target_tags.required)
    except (AttributeError, TypeError):  # an estimator without tags: assume it learns
        return True


def _fit_kwargs(model: Any, table: CellTable, rows: np.ndarray) -> dict[str, Any]:
    accepted = inspect.signature(model.fit).parameters
    kwargs: dict[str, Any] = {}
    if "sample_weight" in accepted:
        kwargs["sample_weight"] = table.sample_weight[rows]
    if "coords" in accepted:
        kwargs["coords"] = table.coords[rows]
    if "cell_area_km2" in accepted:
        kwargs["cell_area_km2"] = table.cell_area_km2
    return kwargs


def _fit(model: Any, table: CellTable, rows: np.ndarray, X: pd.DataFrame) -> Any:
    from sklearn.base import clone

    estimator = clone(model)
    return estimator.fit(X.iloc[rows], table.y[rows], **_fit_kwargs(estimator, table, rows))


def _score(model: Any, X: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict_proba(X)[:, 1], dtype="float64")


def _well_covered_min(n_layers: int, well_covered: float) -> int:
    if not 0 < well_covered <= 1:
        raise ModelError(f"well_covered={well_covered} must be a fraction in (0, 1]")
    return max(1, math.ceil(well_covered * n_layers))


def _coverage_frame(
    coverage: np.ndarray, y: np.ndarray, score: np.ndarray, weight: np.ndarray
) -> pd.DataFrame:
    rows = []
    for level in np.unique(coverage):
        inside = coverage == level
        _, auc = roc_table(y[inside], score[inside], sample_weight=weight[inside])
        rows.append(
            {
                "coverage": int(level),
                "n_cells": float(weight[inside].sum()),
                "n_positive_cells": int(y[inside].sum()),
                "held_out_auc": auc,
            }
        )
    return pd.DataFrame(rows, columns=["coverage", "n_cells", "n_positive_cells", "held_out_auc"])


def _assemble(
    *,
    model: Any,
    fitted: Any,
    method: str,
    train: CellTable,
    test: CellTable,
    X_test: pd.DataFrame,
    train_score: np.ndarray,
    test_score: np.ndarray,
    folds: pd.DataFrame,
    settings: dict[str, Any],
    notes: list[str],
    well_covered: float,
) -> ValidationReport:
    n_layers = X_test.shape[1]
    cover_min = _well_covered_min(n_layers, well_covered)
    tw = train.sample_weight
    sw = test.sample_weight
    # coverage counts only the model's layers (a region stack may carry extra layers)
    coverage = X_test.notna().sum(axis=1).to_numpy()
    roc_train, auc_train = roc_table(train.y, train_score, sample_weight=tw, label="training")
    roc_test, auc_test = roc_table(test.y, test_score, sample_weight=sw, label="held_out")
    covered = coverage >= cover_min
    roc_cov, auc_cov = roc_table(
        test.y[covered],
        test_score[covered],
        sample_weight=sw[covered],
        label="held_out_well_covered",
    )
    success = rate_curve(train_score, train.occurrences, area=tw)
    prediction = rate_curve(test_score, test.occurrences, area=sw)
    pa, point = prediction_area_curve(test_score, test.occurrences, area=sw)
    cap_train = capture_table(train_score, train.occurrences, area=tw)
    cap_test = capture_table(test_score, test.occurrences, area=sw)
    capture = pd.DataFrame(
        {
            "top_area_pct": cap_train["top_area_pct"],
            "training_pct": cap_train["captured_pct"],
            "held_out_pct": cap_test["captured_pct"],
            "training_threshold": cap_train["threshold"],
            "held_out_threshold": cap_test["threshold"],
        }
    )
    fold_aucs = folds["auc"].dropna() if len(folds) else pd.Series(dtype=float)
    auc = {
        "training": auc_train,
        "held_out": auc_test,
        "held_out_se": _auc_standard_error(auc_test, int(test.y.sum()), int((test.y == 0).sum())),
        "held_out_well_covered": auc_cov,
        "held_out_fold_mean": float(fold_aucs.mean()) if len(fold_aucs) else None,
        "success_rate": success.attrs["auc"],
        "prediction_rate": prediction.attrs["auc"],
    }
    n_test_pos = int(test.y.sum())
    if n_test_pos == 0:
        notes.append(
            "no held-out cell holds an occurrence: AUCs, curves and the capture table are "
            "undefined (reported as null / 0)"
        )
    elif n_test_pos < 10:
        notes.append(
            f"only {n_test_pos} held-out cells with occurrences: the held-out AUC is very "
            "uncertain (one occurrence moves it by several points)"
        )
    if covered.sum() == 0:
        notes.append(
            f"no held-out cell has data in at least {cover_min} of {n_layers} layers "
            "(well covered); that AUC is undefined"
        )
    counts = {
        "n_cells": round(float(tw.sum())),
        "n_positive_cells": int(train.y.sum()),
        "n_occurrences": int(train.occurrences.sum()),
        "n_layers": int(n_layers),
        "test_n_cells": round(float(sw.sum())),
        "test_n_positive_cells": n_test_pos,
        "test_n_occurrences": int(test.occurrences.sum()),
        "test_n_well_covered_cells": round(float(sw[covered].sum())),
    }
    settings = {**settings, "well_covered_min_layers": cover_min, "model_params": _params(model)}
    return ValidationReport(
        model=type(model).__name__,
        method=method,
        train_region=train.region,
        test_region=test.region,
        auc=auc,
        roc=pd.concat([roc_train, roc_test, roc_cov], ignore_index=True),
        success_rate=success,
        prediction_rate=prediction,
        prediction_area=pa,
        pa_intersection=point,
        capture=capture,
        folds=folds,
        coverage=_coverage_frame(coverage, test.y, test_score, sw),
        counts=counts,
        settings=settings,
        notes=notes,
        estimator=fitted,
    )


def _auc_standard_error(auc: float | None, n_pos: int, n_neg: int) -> float | None:
    """Hanley & McNeil (1982) standard error of an AUC from its class sizes."""
    if auc is None or n_pos < 1 or n_neg < 1:
        return None
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (
        n_pos * n_neg
    )
    return math.sqrt(max(var, 0.0))


def _params(model: Any) -> dict[str, Any]:
    params = {}
    for key, value in model.get_params(deep=False).items():
        params[key] = (
            value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
        )
    return params


def _record_warnings(
    caught: list[warnings.WarningMessage], where: str, seen: dict[str, tuple[str, list[str]]]
) -> None:
    """Collect warnings by kind (category and opening words): first text, where seen."""
    for message in caught:
        text = str(message.message)
        key = f"{message.category.__name__}:{' '.join(text.split()[:5])}"
        _, places = seen.setdefault(key, (text, []))
        if where not in places:
            places.append(where)


def _warning_notes(seen: dict[str, tuple[str, list[str]]]) -> list[str]:
    return [f"{', '.join(places)}: {text}" for text, places in seen.values()]


def spatial_cross_validate(
    model: Any,
    table: CellTable,
    *,
    block_size_m: float,
    n_splits: int = 5,
    buffer_m: float = 0.0,
    random_state: int = 0,
    well_covered: float = 0.75,
    control: Any = None,
) -> ValidationReport:
    """Spatial block cross-validation of a prospectivity model on one region's cells.

    Parameters
    ----------
    model : estimator
        A geomap model (or any scikit-learn classifier with ``predict_proba``); cloned,
        never modified.
    table : CellTable
        From :func:`geomap.models.cell_table`: evidence, labels, coordinates, coverage.
    block_size_m : float
        Block side in metres (see :class:`SpatialBlockKFold`).
    n_splits : int, default 5
        Folds.
    buffer_m : float, default 0
        Dead zone around test blocks, in metres.
    random_state : int, default 0
        Seed of the block-to-fold assignment.
    well_covered : float, default 0.75
        A cell is *well covered* when at least this fraction of the model's layers have
        data there; the held-out AUC is also reported inside those cells.
    control : GeoDataFrame, optional
        Occurrences of unrelated commodities (specificity control, see
        :mod:`geomap.models.baselines`).

    Returns
    -------
    ValidationReport
        Training (success-rate) and out-of-fold (prediction-rate, P–A, held-out ROC) results,
        with the fold-aware distance baseline and the specificity control beside them
        (:func:`geomap.models.baselines.attach_baselines`).  Warnings raised while fitting
        the folds are recorded in ``notes``, not re-emitted.
    """
    from geomap.models.baselines import attach_baselines, proximity_for_fold

    X = check_table(table.X)
    splitter = SpatialBlockKFold(
        block_size_m=block_size_m, n_splits=n_splits, buffer_m=buffer_m, random_state=random_state
    )
    all_rows = np.arange(len(X))
    fitted = _fit(model, table, all_rows, proximity_for_fold(X, table, all_rows))
    train_score = _score(fitted, X)
    out_of_fold = np.full(len(X), np.nan)
    fold_rows = []
    notes: list[str] = []
    if block_size_m < table.cell_size_m:
        notes.append(
            f"block_size_m={block_size_m:g} is smaller than a cell ({table.cell_size_m:g} m): "
            "the blocks are single cells and the CV is not spatial"
        )
    seen: dict[str, tuple[str, list[str]]] = {}
    if not _learns_from_labels(model):
        # knowledge-driven: the occurrences never reach the model, so every one is held out
        out_of_fold = train_score.copy()
        splits = []
        notes.append(
            f"{type(model).__name__} is knowledge-driven (fit ignores the occurrences): every "
            "occurrence is held out and the held-out curves use all of them; no folds are needed"
        )
    else:
        with warnings.catch_warnings(record=True) as split_warnings:
            warnings.simplefilter("always")
            splits = list(splitter.split(X, table.y, coords=table.coords))
        _record_warnings(split_warnings, "fold assignment", seen)
    for f, (train_rows, test_rows) in enumerate(splits):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            X_fold = proximity_for_fold(X, table, train_rows)  # brownfield layer, fold-aware
            fold_model = _fit(model, table, train_rows, X_fold)
        _record_warnings(caught, f"fold {f}", seen)
        out_of_fold[test_rows] = _score(fold_model, X_fold.iloc[test_rows])
        _, fold_auc = roc_table(
            table.y[test_rows], out_of_fold[test_rows], sample_weight=table.sample_weight[test_rows]
        )
        fold_rows.append(
            {
                "fold": f,
                "n_train_cells": int(train_rows.size),
                "n_test_cells": int(test_rows.size),
                "n_test_positive_cells": int(table.y[test_rows].sum()),
                "auc": fold_auc,
            }
        )
    folds = pd.DataFrame(
        fold_rows, columns=["fold", "n_train_cells", "n_test_cells", "n_test_positive_cells", "auc"]
    )
    notes += _warning_notes(seen)
    settings = {
        "block_size_m": float(block_size_m) if splits else None,
        "n_splits": len(splits),
        "buffer_m": float(buffer_m),
        "random_state": random_state,
        "well_covered": well_covered,
    }
    report = _assemble(
        model=model,
        fitted=fitted,
        method="spatial_block_cv",
        train=table,
        test=table,
        X_test=X,
        train_score=train_score,
        test_score=out_of_fold,
        folds=folds,
        settings=settings,
        notes=notes,
        well_covered=well_covered,
    )
    return attach_baselines(report, table, splits, out_of_fold, control=control)


def _normalize(X: pd.DataFrame, weights: np.ndarray, how: str) -> pd.DataFrame:
    if how == "none":
        return X
    out = X.copy()
    for name in X.columns:
        column = X[name]
        if is_categorical(column):
            continue
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        ok = np.isfinite(values)
        if not ok.any():
            continue
        v, w = values[ok], weights[ok]
        if how == "zscore":
            mean = np.average(v, weights=w)
            std = math.sqrt(np.average((v - mean) ** 2, weights=w))
            values = (values - mean) / std if std > 0 else values - mean
        else:  # rank: weighted percentile position inside the region, in [0, 1]
            order = np.argsort(v, kind="stable")
            cum = np.cumsum(w[order])
            centred = (cum - 0.5 * w[order]) / cum[-1]
            ranks = np.empty_like(v)
            ranks[order] = centred
            # equal values share the mean rank
            _, inv = np.unique(v, return_inverse=True)
            mean_rank = np.bincount(inv, weights=ranks * w) / np.bincount(inv, weights=w)
            values = values.copy()
            values[ok] = mean_rank[inv]
        out[name] = values
    return out


def _restricted(model: Any, layers: list[str], all_layers: list[str]) -> Any:
    """Clone the model, keeping only ``layers`` in its per-layer parameters (WofE ``kinds``)."""
    from sklearn.base import clone

    estimator = clone(model)
    updates = {}
    for key, value in estimator.get_params(deep=False).items():
        if isinstance(value, Mapping) and value and set(value) <= set(all_layers):
            updates[key] = {k: v for k, v in value.items() if k in layers}
    return estimator.set_params(**updates) if updates else estimator


def region_held_out(
    model: Any,
    tables: Mapping[str, CellTable],
    *,
    normalize: str = "none",
    pairs: Sequence[tuple[str, str]] | None = None,
    well_covered: float = 0.75,
) -> list[ValidationReport]:
    """Train in one region, test in another, for every ordered pair of regions.

    Parameters
    ----------
    model : estimator
        Cloned for each training region.
    tables : mapping of region id -> CellTable
        One table per region, built from the same recipe (layers with the same names).
    normalize : {"none", "zscore", "rank"}, default "none"
        Make continuous layers comparable across regions: ``"zscore"`` standardises each
        layer inside each region, ``"rank"`` replaces values by their percentile position
        inside the region.  ``"none"`` keeps physical units, which is right when both
        regions' layers come from the same global datasets (distances in metres, EMAG2 nT).
        Categorical layers are never changed (classes are matched by name).
    pairs : sequence of (train, test), optional
        Which pairs to run; all ordered pairs by default.
    well_covered : float, default 0.75
        As in :func:`spatial_cross_validate`.

    Returns
    -------
    list of ValidationReport
        One per pair, ``method="region_held_out"``; ``auc["held_out"]`` is the AUC in the
        test region.  Layers present in only one region are left out (listed in ``notes``).
    """
    if normalize not in ("none", "zscore", "rank"):
        raise ModelError(f"normalize={normalize!r}; choose 'none', 'zscore' or 'rank'")
    names = list(tables)
    if len(names) < 2:
        raise ModelError(f"region hold-out needs at least two regions, got {names}")
    todo = list(pairs) if pairs is not None else [(a, b) for a in names for b in names if a != b]
    reports = []
    for train_id, test_id in todo:
        for rid in (train_id, test_id):
            if rid not in tables:
                raise ModelError(f"region {rid!r} has no table; give one of {names}")
        train, test = tables[train_id], tables[test_id]
        common = [c for c in train.X.columns if c in set(test.X.columns)]
        notes: list[str] = []
        only = sorted(set(train.X.columns) ^ set(test.X.columns))
        if not common:
            raise ModelError(
                f"regions {train_id!r} and {test_id!r} share no evidence layer (train has "
                f"{list(train.X.columns)}, test {list(test.X.columns)}); build both from one recipe"
            )
        if only:
            notes.append(f"layers present in one region only were left out: {only}")
        if normalize != "none":
            notes.append(f"continuous layers normalised per region ({normalize})")
        X_train = _normalize(check_table(train.X[common]), train.sample_weight, normalize)
        X_test = _normalize(check_table(test.X[common]), test.sample_weight, normalize)
        fitted = _fit(
            _restricted(model, common, [*train.X.columns, *test.X.columns]),
            train,
            np.arange(len(X_train)),
            X_train,
        )
        train_score = _score(fitted, X_train)
        test_score = _score(fitted, X_test)
        _, auc = roc_table(test.y, test_score, sample_weight=test.sample_weight)
        folds = pd.DataFrame(
            [
                {
                    "fold": 0,
                    "n_train_cells": len(X_train),
                    "n_test_cells": len(X_test),
                    "n_test_positive_cells": int(test.y.sum()),
                    "auc": auc,
                }
            ]
        )
        settings = {"normalize": normalize, "well_covered": well_covered, "layers": common}
        from geomap.models.baselines import attach_transfer_baseline

        reports.append(
            attach_transfer_baseline(
                _assemble(
                    model=model,
                    fitted=fitted,
                    method="region_held_out",
                    train=train,
                    test=test,
                    X_test=X_test,
                    train_score=train_score,
                    test_score=test_score,
                    folds=folds,
                    settings=settings,
                    notes=notes,
                    well_covered=well_covered,
                ),
                train,
                test,
            )
        )
    return reports

"""The result of validating a model: :class:`ValidationReport`, plain pandas tables and numbers.

A report carries the curves (ROC, success rate, prediction rate, P–A), the capture table, the
per-fold results and the data-coverage breakdown of one validation (spatial block CV or one
region hold-out), round-trips through JSON (:meth:`ValidationReport.to_dict`,
:meth:`ValidationReport.from_dict`) and prints its headline numbers.  Table conventions:
:mod:`geomap.models.curves`; how reports are produced: :mod:`geomap.models.validate`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ValidationReport"]


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
_COMPARISON_COLUMNS = ["curve", "series", "x", "y", "auc"]


def _no_comparison() -> pd.DataFrame:
    return pd.DataFrame(columns=_COMPARISON_COLUMNS)


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
    comparison : DataFrame
        The curves drawn beside the model (:func:`geomap.models.baselines.comparison_curves`):
        ``curve`` (``roc`` / ``prediction_rate``), ``series`` (legend label), ``x``, ``y``,
        ``auc``: the fold-aware distance baseline and the specificity control.  Empty when
        the validation computed neither.
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
    comparison: pd.DataFrame = field(default_factory=_no_comparison)
    estimator: Any = field(default=None, repr=False, compare=False)

    @property
    def curves(self) -> dict[str, pd.DataFrame]:
        """Return the curve tables by kind as figures draw them (roc, success_rate, ..., pa).

        The ROC and prediction-rate tables hold the model's held-out curve and, when the
        validation computed them, the distance baseline and the specificity control beside
        it: one line per ``model`` value, its AUC in the ``auc`` column (the legend).  The
        raw tables are the attributes :attr:`roc`, :attr:`prediction_rate`, :attr:`comparison`.
        """
        roc, rate = self.roc, self.prediction_rate
        if len(self.comparison):
            own = "model"
            held = roc[roc["label"] == "held_out"] if "label" in roc.columns else roc
            roc = pd.concat(
                [
                    held.assign(model=own)[["model", "fpr", "tpr", "auc"]],
                    self._compared("roc", "fpr", "tpr"),
                ],
                ignore_index=True,
            )
            rate = pd.concat(
                [
                    rate.assign(model=own, auc=rate.attrs.get("auc"))[
                        ["model", "area_fraction", "occurrence_fraction", "auc"]
                    ],
                    self._compared("prediction_rate", "area_fraction", "occurrence_fraction"),
                ],
                ignore_index=True,
            )
            roc.attrs, rate.attrs = {}, {}  # each line's AUC is in its ``auc`` column
        return {
            "roc": roc,
            "success_rate": self.success_rate,
            "prediction_rate": rate,
            "pa": self.prediction_area,
        }

    def _compared(self, curve: str, x: str, y: str) -> pd.DataFrame:
        rows = self.comparison[self.comparison["curve"] == curve]
        return pd.DataFrame(
            {
                "model": rows["series"].astype(str).to_numpy(),
                x: rows["x"].to_numpy(dtype="float64"),
                y: rows["y"].to_numpy(dtype="float64"),
                "auc": rows["auc"].to_numpy(dtype="float64"),
            }
        )

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
        for name in (*_FRAMES, "coverage", "comparison"):
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
            from geomap.core.atomic import atomic_path

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
        comparison = _frame_from_json(payload["comparison"]) if "comparison" in payload else None
        if comparison is None or comparison.empty:
            comparison = _no_comparison()
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
            comparison=comparison,
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

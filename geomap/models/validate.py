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

Curves and tables: :mod:`geomap.models.curves`; splitters: :mod:`geomap.models.splitters`;
the report: :mod:`geomap.models.validation_report`.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geomap.errors import ModelError
from geomap.models._base import check_table, is_categorical
from geomap.models.curves import capture_table, prediction_area_curve, rate_curve, roc_table
from geomap.models.splitters import SpatialBlockKFold
from geomap.models.validation_report import ValidationReport

if TYPE_CHECKING:
    from geomap.models.raster import CellTable

__all__ = ["region_held_out", "spatial_cross_validate"]


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
    steps = getattr(fitted, "independence_steps_", None)
    if steps is not None and len(steps) > 1:  # a conditional-independence remedy acted
        settings["independence_remedy"] = steps.to_dict("records")
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

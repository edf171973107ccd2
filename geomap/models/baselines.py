"""What a model must beat: the distance-to-known-sites baseline and a specificity control.

A prospectivity map is only worth its evidence layers if it ranks held-out deposits better
than the trivial map "distance to the training occurrences", and if it separates deposits of
its own kind from deposits of unrelated commodities in the same region.  Every validation
reports both beside the model's AUC (keys added to ``ValidationReport.auc``):

``baseline_held_out``
    AUC of the baseline on the same held-out cells, computed **inside each fold**: a test
    cell's score is minus its distance to the nearest *training-fold* positive cell (for a
    region hold-out, to the training region's positive cells), so the baseline never sees
    the held-out occurrences.
``baseline_margin``
    ``held_out - baseline_held_out``; negative means the model does not beat the baseline
    and a note says so plainly.
``control_held_out`` / ``baseline_control``
    Specificity: AUC of target cells (held-out training occurrences) against *control*
    cells (cells holding occurrences of unrelated commodities, e.g. Au-Ag sites for an REE
    recipe, that hold no target occurrence), both scored out of fold.  0.5 means the map
    cannot tell REE ground from gold ground.

:func:`control_points` picks the control occurrences for a recipe;
:func:`proximity_for_fold` recomputes the fold-aware known-occurrence proximity layer of
*brownfield* mode (:data:`PROXIMITY_LAYER`) from the training-fold positives only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CONTROL_COMMODITIES",
    "PROXIMITY_LAYER",
    "add_proximity_layer",
    "attach_baselines",
    "attach_transfer_baseline",
    "comparison_curves",
    "control_cells",
    "control_commodities",
    "control_points",
    "distance_scores",
    "proximity_for_fold",
]

PROXIMITY_LAYER = "known_occurrence_distance"
"""Name of the brownfield evidence layer: distance to the nearest training occurrence."""

CONTROL_COMMODITIES: tuple[tuple[str, ...], ...] = (("Au", "Ag"), ("Cu", "Pb", "Zn"), ("REE",))
"""Candidate control sets, first one disjoint from the recipe's commodities is used."""


def control_commodities(recipe_commodities: Sequence[str]) -> list[str]:
    """Return the control commodities for a recipe: Au-Ag unless the recipe uses them.

    >>> control_commodities(["REE", "Nb"]), control_commodities(["Cu", "Au"])
    (['Au', 'Ag'], ['REE'])
    """
    from geomap.harmonize.commodities import expand_selector

    own = {c for s in recipe_commodities for c in expand_selector(s)}
    for candidate in CONTROL_COMMODITIES:
        codes = {c for s in candidate for c in expand_selector(s)}
        if not codes & own:
            return list(candidate)
    return []


def control_points(recipe: Any, region: str, *, catalog: Any = None) -> Any:
    """Return occurrences of the recipe's control commodities in a region (region CRS).

    Sites that also list any of the recipe's own commodities are left out.  The frame's
    ``attrs["geomap_control"]`` names the commodities.
    """
    import warnings

    from geomap.harmonize.occurrences import select_commodities
    from geomap.io.occurrences import occurrence_dataset_ids, read_occurrences

    wanted = control_commodities(recipe.commodities)
    datasets = recipe.training.datasets or occurrence_dataset_ids(catalog)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = read_occurrences(datasets, region=region, commodities=wanted, catalog=catalog)
    own = np.asarray(select_commodities(frame, recipe.commodities), dtype=bool)
    out = frame.loc[~own].reset_index(drop=True)
    out.attrs["geomap_control"] = ",".join(wanted)
    return out


def _xy(points: Any) -> np.ndarray:
    if points is None:
        return np.empty((0, 2))
    if hasattr(points, "geometry"):
        import shapely

        geoms = points.geometry.to_numpy()
        return np.column_stack([shapely.get_x(geoms), shapely.get_y(geoms)]).astype("float64")
    return np.asarray(points, dtype="float64").reshape(-1, 2)


def control_cells(table: Any, points: Any) -> np.ndarray:
    """Rows of ``table`` holding a control point and no training occurrence.

    A point is on the row whose cell contains it (nearest cell centre within half a cell
    diagonal); points on cells left out of the table (sampled negatives, outside the study
    area) are not counted.
    """
    from scipy.spatial import cKDTree

    xy = _xy(points)
    if not len(xy) or not len(table.X):
        return np.empty(0, dtype=np.int64)
    tree = cKDTree(table.coords)
    dist, rows = tree.query(xy, distance_upper_bound=table.cell_size_m * 0.7072)
    rows = np.unique(rows[np.isfinite(dist)])
    return rows[table.y[rows] == 0].astype(np.int64)


def distance_scores(coords: np.ndarray, sources: np.ndarray, *, exclude_self: bool = False) -> Any:
    """Minus the distance from each of ``coords`` to the nearest of ``sources`` (metres).

    With ``exclude_self`` a point at distance 0 (itself a source) takes its second
    neighbour (leave-one-out).  No source at all gives a constant score.
    """
    from scipy.spatial import cKDTree

    coords = np.asarray(coords, dtype="float64")
    if len(sources) == 0:
        return np.zeros(len(coords))
    tree = cKDTree(np.asarray(sources, dtype="float64"))
    k = 2 if exclude_self and len(sources) > 1 else 1
    dist, _ = tree.query(coords, k=k)
    if k == 2:
        dist = np.where(dist[:, 0] == 0, dist[:, 1], dist[:, 0])
    return -np.asarray(dist, dtype="float64")


def proximity_for_fold(X: pd.DataFrame, table: Any, train_rows: np.ndarray) -> pd.DataFrame:
    """Recompute the brownfield proximity layer from the positives of ``train_rows``.

    Every row gets its distance to the nearest training-fold positive cell; a training
    positive takes its nearest *other* positive (leave-one-out), so its own occurrence never
    makes it score.  ``X`` is returned unchanged when it has no :data:`PROXIMITY_LAYER`.
    """
    if PROXIMITY_LAYER not in X.columns:
        return X
    coords = table.coords
    positives = train_rows[table.y[train_rows] > 0]
    out = X.copy()
    dist = -distance_scores(coords, coords[positives], exclude_self=True)
    out[PROXIMITY_LAYER] = dist.astype(X[PROXIMITY_LAYER].dtype, copy=False)
    return out


def _auc(y: np.ndarray, score: np.ndarray, weight: np.ndarray) -> float | None:
    from geomap.models.validate import roc_table

    ok = np.isfinite(score)
    if not ok.any() or len(np.unique(y[ok])) < 2:
        return None
    return roc_table(y[ok], score[ok], sample_weight=weight[ok])[1]


def _target_vs_control(score: np.ndarray, target: np.ndarray, control: np.ndarray) -> Any:
    if not len(target) or not len(control):
        return None
    labels = np.r_[np.ones(len(target)), np.zeros(len(control))].astype(int)
    values = np.r_[score[target], score[control]]
    return _auc(labels, values, np.ones(len(values)))


BASELINE_LABEL = "baseline (distance)"
"""Legend label of the distance baseline in :meth:`ValidationReport.curves`."""


def comparison_curves(
    y: np.ndarray,
    occurrences: np.ndarray,
    weight: np.ndarray,
    baseline: np.ndarray,
    *,
    control: tuple[np.ndarray, np.ndarray, str] | None = None,
) -> pd.DataFrame:
    """Return the curves drawn beside the model: baseline ROC and prediction rate, control ROC.

    Parameters
    ----------
    y, occurrences, weight : numpy.ndarray
        Labels, occurrence counts and sampling weights of the held-out rows.
    baseline : numpy.ndarray
        The baseline's held-out score of each row (NaN where it has none).
    control : (score, labels, what), optional
        The model's held-out score and 0/1 labels (target = 1, control = 0) of the
        specificity comparison, and the control commodities for the label.

    Returns
    -------
    pandas.DataFrame
        Long table: ``curve`` (``roc`` or ``prediction_rate``), ``series`` (legend label),
        ``x`` (false-positive rate or area fraction), ``y`` (true-positive rate or
        occurrence fraction), ``auc``.
    """
    from geomap.models.curves import rate_curve, roc_table

    parts = []
    ok = np.isfinite(baseline)
    if ok.any() and len(np.unique(y[ok])) == 2:
        roc, auc = roc_table(y[ok], baseline[ok], sample_weight=weight[ok])
        parts.append(_long("roc", BASELINE_LABEL, roc["fpr"], roc["tpr"], auc))
        rate = rate_curve(baseline[ok], occurrences[ok], area=weight[ok])
        parts.append(
            _long(
                "prediction_rate",
                BASELINE_LABEL,
                rate["area_fraction"],
                rate["occurrence_fraction"],
                rate.attrs["auc"],
            )
        )
    if control is not None:
        score, labels, what = control
        if len(np.unique(labels)) == 2:
            roc, auc = roc_table(labels, score)
            label = f"control: vs {what}"
            parts.append(_long("roc", label, roc["fpr"], roc["tpr"], auc))
    if not parts:
        return pd.DataFrame(columns=["curve", "series", "x", "y", "auc"])
    return pd.concat(parts, ignore_index=True)


def _long(curve: str, series: str, x: Any, y: Any, auc: float | None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "curve": curve,
            "series": series,
            "x": np.asarray(x, dtype="float64"),
            "y": np.asarray(y, dtype="float64"),
            "auc": np.nan if auc is None else float(auc),
        }
    )


def attach_baselines(
    report: Any,
    table: Any,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    out_of_fold: np.ndarray,
    *,
    control: Any = None,
) -> Any:
    """Add the fold-aware baseline and the specificity control to a spatial-CV report.

    Parameters
    ----------
    report : ValidationReport
        From :func:`~geomap.models.validate.spatial_cross_validate` (changed in place).
    table : CellTable
        The cells it validated.
    splits : sequence of (train_rows, test_rows)
        The folds it used (none for knowledge-driven models: every cell is held out and
        the baseline is leave-one-out distance to the other occurrences).
    out_of_fold : numpy.ndarray
        The model's held-out score of every row.
    control : GeoDataFrame or (n, 2) array, optional
        Control occurrences in the table's CRS (see :func:`control_points`).

    Returns
    -------
    ValidationReport
        ``report``, with ``auc`` keys ``baseline_held_out``, ``baseline_margin``,
        ``control_held_out``, ``baseline_control``, ``folds["baseline_auc"]``, counts
        ``n_control_cells`` and a plain note when the model does not beat the baseline.
    """
    coords = table.coords
    baseline = np.full(len(coords), np.nan)
    fold_auc = []
    if splits:
        for train_rows, test_rows in splits:
            positives = train_rows[table.y[train_rows] > 0]
            baseline[test_rows] = distance_scores(coords[test_rows], coords[positives])
            fold_auc.append(
                _auc(table.y[test_rows], baseline[test_rows], table.sample_weight[test_rows])
            )
    else:
        positives = np.flatnonzero(table.y > 0)
        baseline = distance_scores(coords, coords[positives], exclude_self=True)
    if len(report.folds) == len(fold_auc):
        report.folds["baseline_auc"] = fold_auc
    base_auc = _auc(table.y, baseline, table.sample_weight)
    model_auc = report.auc.get("held_out")
    report.auc["baseline_held_out"] = base_auc
    report.auc["baseline_margin"] = (
        None if base_auc is None or model_auc is None else float(model_auc - base_auc)
    )
    rows = _control(report, table, out_of_fold, baseline, control)
    targets = np.flatnonzero(table.y > 0)
    specificity = None
    if len(rows):
        what = str(report.settings.get("control_commodities", "control"))
        labels = np.r_[np.ones(len(targets)), np.zeros(len(rows))].astype(int)
        score = np.r_[out_of_fold[targets], out_of_fold[rows]]
        keep = np.isfinite(score)
        specificity = (score[keep], labels[keep], what)
    report.comparison = comparison_curves(
        table.y, table.occurrences, table.sample_weight, baseline, control=specificity
    )
    _baseline_note(report)
    return report


def _control(
    report: Any, table: Any, model_score: np.ndarray, baseline: np.ndarray, control: Any
) -> np.ndarray:
    rows = control_cells(table, control) if control is not None else np.empty(0, np.int64)
    targets = np.flatnonzero(table.y > 0)
    report.counts["n_control_cells"] = len(rows)
    report.auc["control_held_out"] = _target_vs_control(model_score, targets, rows)
    report.auc["baseline_control"] = _target_vs_control(baseline, targets, rows)
    if control is not None:
        what = getattr(control, "attrs", {}).get("geomap_control", "unrelated commodities")
        report.settings["control_commodities"] = what
        if not len(rows):
            report.notes.append(
                f"specificity control: no cell of the study area holds a {what} occurrence "
                "without a training one; the control AUC is undefined"
            )
    return rows


def _baseline_note(report: Any) -> None:
    model_auc, base_auc = report.auc.get("held_out"), report.auc.get("baseline_held_out")
    if model_auc is None or base_auc is None:
        return
    if model_auc <= base_auc:
        report.notes.insert(
            0,
            f"the model does NOT beat the baseline: held-out AUC {model_auc:.3f} against "
            f"{base_auc:.3f} for plain distance to the training occurrences (computed inside "
            "each fold); the evidence layers add nothing a distance buffer around known "
            "sites would not give",
        )
    else:
        report.notes.append(
            f"the model beats the distance-to-training-sites baseline by "
            f"{model_auc - base_auc:+.3f} AUC (held out {model_auc:.3f}, baseline "
            f"{base_auc:.3f})"
        )


def attach_transfer_baseline(report: Any, train: Any, test: Any) -> Any:
    """Add the baseline to a region hold-out report (distance to the training region's sites).

    The test region's cells are scored by minus their distance to the nearest positive cell
    of the *training* region (both tables in one CRS); ``baseline_held_out`` and
    ``baseline_margin`` are set as for spatial CV.
    """
    positives = train.coords[train.y > 0]
    same_crs = getattr(train, "crs", None) == getattr(test, "crs", None)
    baseline = distance_scores(test.coords, positives) if same_crs else np.zeros(len(test.coords))
    base_auc = _auc(test.y, baseline, test.sample_weight) if same_crs else None
    model_auc = report.auc.get("held_out")
    report.auc["baseline_held_out"] = base_auc
    report.auc["baseline_margin"] = (
        None if base_auc is None or model_auc is None else float(model_auc - base_auc)
    )
    if same_crs:
        report.comparison = comparison_curves(
            test.y, test.occurrences, test.sample_weight, baseline
        )
    else:
        report.notes.append(
            "baseline undefined: the regions are in different analysis CRSs (distance "
            "between them is not measured)"
        )
    _baseline_note(report)
    return report


def add_proximity_layer(stack: Any, points: Any, *, rows_per_block: int = 256) -> Any:
    """Return ``stack`` with the brownfield layer :data:`PROXIMITY_LAYER` (metres).

    The distance from every cell centre to the nearest training point, NaN where the stack
    has no coverage.  Validation never uses these values as they are: each fold recomputes
    the layer from its training-fold sites (:func:`proximity_for_fold`), so the held-out
    sites do not vouch for themselves.
    """
    import xarray as xr
    from scipy.spatial import cKDTree

    xy = _xy(points)
    x = np.asarray(stack["x"].values, dtype="float64")
    y = np.asarray(stack["y"].values, dtype="float64")
    out = np.full((y.size, x.size), np.nan, dtype="float32")
    if len(xy):
        tree = cKDTree(xy)
        for start in range(0, y.size, rows_per_block):
            yy, xx = np.meshgrid(y[start : start + rows_per_block], x, indexing="ij")
            dist, _ = tree.query(np.column_stack([xx.ravel(), yy.ravel()]))
            out[start : start + rows_per_block] = dist.reshape(xx.shape)
    if "coverage" in stack:
        out = np.where(np.asarray(stack["coverage"].values) > 0, out, np.nan)
    layer = xr.DataArray(out, dims=("y", "x"), coords={"y": stack["y"], "x": stack["x"]})
    layer.attrs.update(
        long_name="distance to the nearest known (training) occurrence",
        units="m",
        geomap_kind="continuous",
        geomap_role="evidence",
        geomap_source=str(getattr(points, "attrs", {}).get("geomap_source", "")),
    )
    result = stack.copy()
    result[PROXIMITY_LAYER] = layer.rio.write_crs(stack.rio.crs)
    return result

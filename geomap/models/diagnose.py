"""Reasons for a weak (or degenerate) validation result, read off the numbers.

A held-out AUC below 0.7 is not a failure to hide but a result to explain.  The functions here
turn the validation report, the table of cells and the fitted model into short sentences that
say *why*, each backed by a number a reader can check:

* :func:`explain_validation` -- spatial block cross-validation inside one region: few
  occurrences (with the AUC's 95 % interval), a training / held-out gap, weak single layers,
  a model worse than its best layer, folds that disagree, poor coverage, dependent layers,
  knowledge-driven memberships that contradict the occurrences, and a tied (degenerate)
  prospectivity surface;
* :func:`explain_transfer` -- region hold-out (train in one region, test in another): few
  test occurrences, layers left out, layers whose association flips between the regions,
  distribution shift of the layers used, classes unseen in training;
* :func:`tied_surface` -- the share of the study area that shares one prospectivity value,
  and the layers that are constant almost everywhere (the usual cause: a fuzzy membership that
  is 0 on most cells zeroes a product, gamma or AND overlay).

Every AUC below :data:`LOW_AUC` (or undefined) gets at least one reason.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from geomap.models.raster import CellTable

__all__ = [
    "LOW_AUC",
    "TIED_SHARE",
    "explain_transfer",
    "explain_validation",
    "layer_auc",
    "tied_surface",
]

LOW_AUC = 0.7
"""Held-out AUCs below this must be explained."""

TIED_SHARE = 0.5
"""A surface where more than this share of the study area has one value is flagged."""

_FEW_POSITIVES = 20
_ANECDOTAL = 5  # below this many positive cells a per-layer AUC is an anecdote
_MAX_DEPENDENCE_ROWS = 20_000


def _is_categorical(column: pd.Series) -> bool:
    return isinstance(column.dtype, pd.CategoricalDtype)


def _float(column: pd.Series) -> np.ndarray:
    return np.asarray(column.to_numpy(dtype="float64", na_value=np.nan), dtype="float64")


def layer_auc(table: CellTable, *, oriented: bool = True) -> dict[str, float | None]:
    """ROC AUC of each continuous layer of ``table`` alone, on the cells with data.

    Parameters
    ----------
    table : CellTable
        Cells, layers and labels of one region.
    oriented : bool, default True
        ``True``: ``max(AUC, 1 - AUC)``, how well the layer separates the classes in either
        direction.  ``False``: the raw AUC of the layer's values as scores (above 0.5 when
        occurrence cells have higher values).

    Returns
    -------
    dict of str to float or None
        ``None`` where the cells with data hold one class only; categorical layers are left
        out.
    """
    from sklearn.metrics import roc_auc_score

    out: dict[str, float | None] = {}
    for name in table.X.columns:
        column = table.X[name]
        if _is_categorical(column):
            continue
        values = _float(column)
        ok = np.isfinite(values)
        y = table.y[ok]
        if y.min(initial=0) == y.max(initial=0):
            out[str(name)] = None
            continue
        auc = float(roc_auc_score(y, values[ok], sample_weight=table.sample_weight[ok]))
        out[str(name)] = max(auc, 1.0 - auc) if oriented else auc
    return out


def _modal_share(column: pd.Series, weights: np.ndarray) -> tuple[Any, float]:
    """Most frequent value among cells with data and its (weighted) share of those cells."""
    if _is_categorical(column):
        codes = np.asarray(column.cat.codes.to_numpy())
        ok = codes >= 0
        if not ok.any():
            return None, 0.0
        counts = np.bincount(codes[ok], weights=weights[ok])
        k = int(counts.argmax())
        return column.cat.categories[k], float(counts[k] / counts.sum())
    values = _float(column)
    return _modal_share_values(values, weights)


def _modal_share_values(values: np.ndarray, weights: np.ndarray) -> tuple[float | None, float]:
    ok = np.isfinite(values)
    if not ok.any():
        return None, 0.0
    unique, inverse = np.unique(values[ok], return_inverse=True)
    counts = np.bincount(inverse, weights=weights[ok])
    k = int(counts.argmax())
    return float(unique[k]), float(counts[k] / counts.sum())


def tied_surface(
    scores: Any,
    X: pd.DataFrame | None = None,
    *,
    sample_weight: Any = None,
    max_share: float = TIED_SHARE,
) -> dict[str, Any]:
    """Measure how much of a prospectivity surface shares one value, and say why.

    Parameters
    ----------
    scores : array-like of float
        Prospectivity of each cell of the study area (NaN = no data, ignored).
    X : DataFrame, optional
        The model's evidence layers on the same cells, to find the likely cause.
    sample_weight : array-like, optional
        Cells each row stands for (a sampled table); 1 by default.
    max_share : float, default 0.5
        The surface is ``tied`` when more than this share of the cells with a score has one
        value.

    Returns
    -------
    dict
        ``tied_value``, ``tied_share`` (of the cells with a score), ``tied`` (bool),
        ``constant_layers`` (layer -> ``{"value", "share", "share_of_tied"}`` for layers whose
        modal value covers at least half of their cells with data and at least 90 % of the
        tied cells; the likely cause), and ``reason`` (a sentence, or ``None`` when not tied).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> X = pd.DataFrame({"near_mafic": [0.0] * 8 + [0.5, 1.0], "gravity": np.linspace(0, 1, 10)})
    >>> out = tied_surface((X["near_mafic"] * X["gravity"]).to_numpy(), X)
    >>> out["tied"], round(out["tied_share"], 2), list(out["constant_layers"])
    (True, 0.8, ['near_mafic'])
    """
    values = np.asarray(scores, dtype="float64").ravel()
    weights = (
        np.ones(values.size)
        if sample_weight is None
        else np.asarray(sample_weight, dtype="float64").ravel()
    )
    value, share = _modal_share_values(values, weights)
    out: dict[str, Any] = {
        "tied_value": value,
        "tied_share": share,
        "tied": bool(value is not None and share > max_share),
        "constant_layers": {},
        "reason": None,
    }
    if not out["tied"]:
        return out
    tied = values == value
    causes: dict[str, dict[str, Any]] = {}
    if X is not None:
        for name in X.columns:
            column = X[name]
            mode, mode_share = _modal_share(column, weights)
            if mode is None or mode_share < 0.5:
                continue
            at_mode = (
                (column == mode).to_numpy(dtype=bool, na_value=False)
                if _is_categorical(column)
                else _float(column) == mode
            )
            of_tied = float(weights[tied & at_mode].sum() / weights[tied].sum())
            if of_tied >= 0.9:
                causes[str(name)] = {
                    "value": mode if _is_categorical(column) else float(mode),
                    "share": mode_share,
                    "share_of_tied": of_tied,
                }
    causes = dict(sorted(causes.items(), key=lambda item: -item[1]["share"]))
    out["constant_layers"] = causes
    if causes:
        described = ", ".join(
            f"{name} is {_number(c['value'])} on {100 * c['share']:.0f}% of its cells"
            for name, c in list(causes.items())[:3]
        )
        cause = (
            f"likely cause: {described}; a layer that is 0 (or 1) almost everywhere decides "
            "the value of a product, gamma or AND (OR, sum) overlay there: give its membership "
            "a floor, or a distance range that matches the data"
        )
    else:
        cause = (
            "no single layer is constant on those cells: the layers are too coarse or too few "
            "to give distinct values"
        )
    out["reason"] = (
        f"{100 * share:.0f}% of the study area shares one prospectivity value "
        f"({_number(value)}): the map cannot rank those cells, so capture tables and targets "
        f"among them are arbitrary; {cause}"
    )
    return out


def _number(value: Any) -> str:
    if isinstance(value, float | int | np.floating | np.integer):
        number = float(value)
        if abs(number) >= 1000:
            return f"{number:,.0f}"
        return f"{number:.2e}" if 0 < abs(number) < 0.01 else f"{number:.3g}"
    return str(value)


def _cells(n: int) -> str:
    return f"{n} cell" if n == 1 else f"{n} cells"


def _interval(auc: float | None, se: float | None) -> str:
    if auc is None or se is None or not math.isfinite(se):
        return ""
    lo, hi = max(0.0, auc - 1.96 * se), min(1.0, auc + 1.96 * se)
    return f" (95% interval {lo:.2f} to {hi:.2f})"


def _few_positives(n_pos: int, auc: float | None, se: float | None, where: str) -> str:
    if n_pos < _ANECDOTAL:
        return (
            f"only {_cells(n_pos)} {where} {'holds' if n_pos == 1 else 'hold'} training "
            "occurrences: the AUC is then the share "
            f"of the area ranked below {'that cell' if n_pos == 1 else 'those cells'} "
            f"({_number(auc) if auc is not None else 'n/a'}), an anecdote about "
            f"{'one site' if n_pos == 1 else f'{n_pos} sites'}, not a measure of the map"
        )
    interval = _interval(auc, se)
    verdict = ""
    if auc is not None and interval:
        lo, hi = max(0.0, auc - 1.96 * (se or 0)), min(1.0, auc + 1.96 * (se or 0))
        if lo < LOW_AUC <= hi:
            verdict = ", so it cannot tell whether the map ranks better or worse than AUC 0.7"
    return (
        f"only {n_pos} cells {where} hold training occurrences: the held-out AUC has a "
        f"standard error of {se if se is not None else float('nan'):.2f}{interval}{verdict}"
    )


def _dependent_pairs(
    X: pd.DataFrame, *, threshold: float = 0.8, random_state: int = 0
) -> list[tuple[str, str, float]]:
    """Pairs of continuous layers with |Spearman rho| >= threshold (on a seeded sample)."""
    numeric = X[[c for c in X.columns if not _is_categorical(X[c])]]
    if numeric.shape[1] < 2:
        return []
    if len(numeric) > _MAX_DEPENDENCE_ROWS:
        numeric = numeric.sample(_MAX_DEPENDENCE_ROWS, random_state=random_state)
    rho = numeric.astype("float64").corr(method="spearman", min_periods=30).to_numpy()
    columns = [str(c) for c in numeric.columns]
    pairs = []
    for i, a in enumerate(columns):
        for j in range(i + 1, len(columns)):
            r = float(rho[i, j])
            if math.isfinite(r) and abs(r) >= threshold:
                pairs.append((a, columns[j], r))
    return sorted(pairs, key=lambda p: -abs(p[2]))


def _learns(estimator: Any) -> bool:
    from geomap.models.validate import _learns_from_labels

    return _learns_from_labels(estimator)


def _scores(estimator: Any, X: pd.DataFrame) -> np.ndarray:
    from geomap.models.validate import _score

    return _score(estimator, X)


def explain_validation(
    report: Any,
    table: CellTable,
    estimator: Any,
    *,
    scores: Any = None,
) -> dict[str, Any]:
    """Explain a spatial-CV result: the numbers and the reasons that limit it.

    Parameters
    ----------
    report : ValidationReport
        The spatial block cross-validation of ``estimator`` on ``table``.
    table : CellTable
        The cells the model was fitted and validated on.
    estimator : estimator
        The model fitted on all of ``table``.
    scores : array-like, optional
        The fitted model's prospectivity on the rows of ``table``; computed when not given.

    Returns
    -------
    dict
        ``layer_auc`` (oriented), ``layer_auc_raw``, ``best_layer``, ``fold_auc_range``,
        ``dependent_layers``, ``surface`` (see :func:`tied_surface`) and ``reasons``: the
        sentences; never empty when the held-out AUC is undefined or below
        :data:`LOW_AUC`.
    """
    auc = report.auc
    training, held_out, se = auc.get("training"), auc.get("held_out"), auc.get("held_out_se")
    weak = held_out is None or held_out < LOW_AUC
    n_pos = int(report.counts.get("n_positive_cells", 0))
    n_cells = max(report.counts.get("test_n_cells", 0), 1)
    oriented = layer_auc(table)
    raw = layer_auc(table, oriented=False)
    defined = {k: v for k, v in oriented.items() if v is not None}
    best_name = max(defined, key=lambda k: defined[k]) if defined else None
    best = defined.get(best_name) if best_name else None
    reasons: list[str] = []
    if n_pos == 0:
        counts = table.report if isinstance(table.report, dict) else {}
        n_read = int(counts.get("n_points", 0) or 0)
        sources = ", ".join(table.sources) if table.sources else "the training datasets"
        where = (
            f"the training data ({sources}) hold no occurrence of the recipe commodities here"
            if n_read == 0
            else f"none of the {n_read} training occurrences read ({sources}) lies in the "
            f"study area ({counts.get('n_points_outside_grid', 0)} off the grid, "
            f"{counts.get('n_points_outside_study_area', 0)} outside the study area)"
        )
        reasons.append(
            f"no AUC can be computed: {where}, and a ROC curve needs cells with and without "
            "occurrences; the map ranks cells by the recipe evidence alone and is unvalidated "
            "here"
        )
    elif n_pos < _FEW_POSITIVES:
        reasons.append(_few_positives(n_pos, held_out, se, "of the region"))
    if training is not None and held_out is not None and training - held_out > 0.1:
        reasons.append(
            f"training AUC {training:.2f} vs held-out {held_out:.2f}: the model fits the "
            "training areas but does not transfer to unseen blocks (overfitting or "
            "regionally varying controls)"
        )
    if n_pos < _ANECDOTAL:
        pass  # single-layer AUCs of one or two cells say nothing general
    elif best is not None and best < 0.65:
        reasons.append(
            f"no evidence layer alone separates training cells well (best single-layer AUC "
            f"{best:.2f}, {best_name}): the layers are too coarse or do not capture the "
            "mineral system"
        )
    elif weak and best is not None and held_out is not None:
        below = sum(v < 0.6 for v in defined.values())
        if best >= held_out + 0.03:
            reasons.append(
                f"the best single layer ({best_name}, AUC {best:.2f} on its own) separates "
                f"the training cells better than the combined model held out ({held_out:.2f}): "
                f"the other layers add noise rather than evidence ({below} of {len(defined)} "
                "layers have a single-layer AUC below 0.6)"
            )
        else:
            reasons.append(
                f"the evidence is weak: the best single layer ({best_name}) reaches AUC "
                f"{best:.2f} and {below} of {len(defined)} layers stay below 0.6"
            )
    folds = getattr(report, "folds", None)
    fold_range = None
    if isinstance(folds, pd.DataFrame) and "auc" in folds and len(folds):
        fold_auc = folds.dropna(subset=["auc"])
        if len(fold_auc) >= 2:
            values = fold_auc["auc"].to_numpy(dtype="float64")
            ids = fold_auc["fold"].to_numpy()
            lo, hi = int(values.argmin()), int(values.argmax())
            fold_range = (float(values[lo]), float(values[hi]))
            if weak and fold_range[1] - fold_range[0] > 0.3:
                reasons.append(
                    f"held-out AUC varies from {fold_range[0]:.2f} (fold {ids[lo]}) to "
                    f"{fold_range[1]:.2f} (fold {ids[hi]}) between folds: the layers separate "
                    "occurrences in some parts of the region and not in others"
                )
    covered = report.counts.get("test_n_well_covered_cells", 0) / n_cells
    if covered < 0.5:
        reasons.append(
            f"only {100 * covered:.0f}% of the area is well covered by evidence; where data "
            "are missing the model cannot rank cells"
        )
    independence = getattr(estimator, "independence_", None)
    dependent: list[tuple[str, str, float]] = []
    if isinstance(independence, dict) and not independence.get("passed", True):
        reasons.append(
            "conditional independence failed (weights of evidence over-counts correlated "
            f"layers; observed/predicted ratio {independence['ratio']:.2f})"
        )
    elif weak:
        dependent = _dependent_pairs(table.X)
        if dependent:
            shown = ", ".join(f"{a} / {b} (rho {r:+.2f})" for a, b, r in dependent[:3])
            reasons.append(
                f"strongly dependent layers carry the same evidence twice: {shown}; merge or "
                "drop one of each pair"
            )
    if weak and not _learns(estimator):
        contrary = {k: v for k, v in raw.items() if v is not None and v < 0.45}
        if contrary:
            shown = ", ".join(f"{k} (AUC {v:.2f})" for k, v in sorted(contrary.items())[:4])
            reasons.append(
                "the knowledge-driven model (memberships from the recipe, not fitted) scores "
                f"some layers against the training occurrences: the {n_pos} cells with "
                f"occurrences have lower memberships than most cells in {shown}"
            )
    if scores is None:
        scores = _scores(estimator, table.X)
    surface = tied_surface(scores, table.X, sample_weight=table.sample_weight)
    if surface["reason"]:
        reasons.append(surface["reason"])
    if weak and not reasons:
        reasons.append(
            f"held-out AUC {held_out:.2f}"
            f"{_interval(held_out, se)} on {n_pos} cells with occurrences: the evidence "
            "layers separate held-out occurrences only weakly from the rest of the area"
        )
    return {
        "layer_auc": oriented,
        "layer_auc_raw": raw,
        "best_layer": best_name,
        "fold_auc_range": fold_range,
        "dependent_layers": [list(p) for p in dependent],
        "surface": {k: v for k, v in surface.items() if k != "reason"},
        "reasons": reasons,
    }


def _weighted_quantiles(values: np.ndarray, weights: np.ndarray, q: list[float]) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    v, w = values[order], weights[order]
    cum = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, cum, v)


def _layer_shift(train: CellTable, test: CellTable, name: str) -> dict[str, float] | None:
    a, b = _float(train.X[name]), _float(test.X[name])
    ok_a, ok_b = np.isfinite(a), np.isfinite(b)
    if ok_a.sum() < 2 or ok_b.sum() < 2:
        return None
    wa, wb = train.sample_weight[ok_a], test.sample_weight[ok_b]
    q01, q25, q50, q75, q99 = _weighted_quantiles(a[ok_a], wa, [0.01, 0.25, 0.5, 0.75, 0.99])
    test_median = float(_weighted_quantiles(b[ok_b], wb, [0.5])[0])
    spread = q75 - q25 if q75 > q25 else q99 - q01
    outside = (b[ok_b] < q01) | (b[ok_b] > q99)
    return {
        "train_median": float(q50),
        "test_median": test_median,
        "median_shift_iqr": float((test_median - q50) / spread) if spread > 0 else 0.0,
        "test_outside_train_range": float(wb[outside].sum() / wb.sum()),
    }


def explain_transfer(report: Any, train: CellTable, test: CellTable) -> dict[str, Any]:
    """Explain a region hold-out result (trained in one region, tested in another).

    Parameters
    ----------
    report : ValidationReport
        One report of :func:`~geomap.models.region_held_out`.
    train, test : CellTable
        The tables of its training and test regions.

    Returns
    -------
    dict
        ``train_region``, ``test_region``, ``auc_held_out``, ``auc_held_out_se``,
        ``layers_used``, ``layers_left_out``, ``layer_auc_train`` / ``layer_auc_test`` (raw
        single-layer AUCs of the layers used, in each region), ``layer_shift`` (per continuous
        layer: the medians, the shift of the test median in training interquartile ranges and
        the share of test cells outside the training 1-99 % range) and
        ``weak_result_reasons``: never empty when the AUC is undefined or below
        :data:`LOW_AUC`.
    """
    auc = report.auc
    held_out, se, training = auc.get("held_out"), auc.get("held_out_se"), auc.get("training")
    weak = held_out is None or held_out < LOW_AUC
    train_id = report.train_region or train.region or "the training region"
    test_id = report.test_region or test.region or "the test region"
    used = list(report.settings.get("layers") or [c for c in train.X if c in set(test.X)])
    left_out = sorted(set(map(str, train.X.columns)) ^ set(map(str, test.X.columns)))
    raw_train, raw_test = layer_auc(train, oriented=False), layer_auc(test, oriented=False)
    shift = {
        name: s
        for name in used
        if not _is_categorical(train.X[name]) and (s := _layer_shift(train, test, name))
    }
    reasons: list[str] = []
    n_test_pos = int(report.counts.get("test_n_positive_cells", 0))
    if n_test_pos == 0:
        reasons.append(
            f"no AUC can be computed: no training occurrence lies in {test_id}, and a ROC "
            "curve needs cells with and without occurrences"
        )
    elif n_test_pos < _FEW_POSITIVES:
        reasons.append(_few_positives(n_test_pos, held_out, se, f"in {test_id}"))
    if weak and training is not None and training < LOW_AUC:
        reasons.append(
            f"the model already ranks its own training region weakly (training AUC "
            f"{training:.2f} in {train_id}), so there is little to transfer"
        )
    if left_out:
        where = {name: (train_id if name in train.X.columns else test_id) for name in left_out}
        strong = [
            f"{n} ({where[n]}, AUC {max(v, 1 - v):.2f})"
            for n in left_out
            if (v := (raw_train | raw_test).get(n)) is not None
        ]
        reasons.append(
            f"{len(left_out)} {'layer exists' if len(left_out) == 1 else 'layers exist'} in one "
            "region only and "
            f"{'was' if len(left_out) == 1 else 'were'} left out, so the "
            f"transferred model uses {len(used)} of "
            f"{len(set(train.X.columns) | set(test.X.columns))}: "
            + (", ".join(strong) if strong else ", ".join(left_out))
        )
    if weak:
        flipped = []
        for name in used:
            a, b = raw_train.get(name), raw_test.get(name)
            if a is None or b is None:
                continue
            if (a - 0.5) * (b - 0.5) < 0 and abs(a - 0.5) >= 0.05 and abs(b - 0.5) >= 0.05:
                flipped.append(f"{name} (AUC {a:.2f} in {train_id}, {b:.2f} in {test_id})")
        if flipped:
            reasons.append(
                "layers whose association with occurrences reverses between the regions, so "
                "the trained weights point the wrong way in the test region: "
                + ", ".join(flipped[:4])
            )
        test_auc = {k: max(v, 1 - v) for k, v in raw_test.items() if k in used and v is not None}
        if test_auc:
            best = max(test_auc, key=lambda k: test_auc[k])
            if test_auc[best] < 0.65:
                reasons.append(
                    f"in {test_id} no layer used separates occurrences well on its own (best "
                    f"{best}, AUC {test_auc[best]:.2f})"
                )
        shifted = sorted(
            (
                (name, s)
                for name, s in shift.items()
                if s["test_outside_train_range"] >= 0.25 or abs(s["median_shift_iqr"]) >= 1.0
            ),
            key=lambda item: (
                -max(item[1]["test_outside_train_range"], abs(item[1]["median_shift_iqr"]) / 4)
            ),
        )
        if shifted:
            shown = ", ".join(
                f"{name} (median {_number(s['test_median'])} in {test_id} vs "
                f"{_number(s['train_median'])} in {train_id}, "
                f"{s['median_shift_iqr']:+.1f} interquartile ranges; "
                f"{100 * s['test_outside_train_range']:.0f}% of {test_id} cells outside the "
                f"{train_id} 1-99% range)"
                for name, s in shifted[:3]
            )
            reasons.append(
                f"distribution shift between the regions in the layers used, so the model "
                f"extrapolates: {shown}"
            )
        unseen = []
        for name in used:
            if _is_categorical(train.X[name]) and _is_categorical(test.X[name]):
                seen = set(train.X[name].dropna().unique())
                column = test.X[name]
                mask = column.notna().to_numpy() & ~column.isin(seen).to_numpy()
                share = float(test.sample_weight[mask].sum() / test.sample_weight.sum())
                if share >= 0.1:
                    unseen.append(f"{name} ({100 * share:.0f}% of cells)")
        if unseen:
            reasons.append(
                f"classes absent from {train_id} cover much of {test_id}: " + ", ".join(unseen)
            )
        if not reasons:
            reasons.append(
                f"held-out AUC {held_out:.2f}{_interval(held_out, se)} on {n_test_pos} "
                f"cells with occurrences in {test_id}: the controls learned in {train_id} "
                "explain the occurrences there only weakly"
            )
    return {
        "train_region": train_id,
        "test_region": test_id,
        "auc_held_out": held_out,
        "auc_held_out_se": se,
        "layers_used": used,
        "layers_left_out": left_out,
        "layer_auc_train": {k: raw_train.get(k) for k in used if k in raw_train},
        "layer_auc_test": {k: raw_test.get(k) for k in used if k in raw_test},
        "layer_shift": shift,
        "weak_result_reasons": reasons,
    }

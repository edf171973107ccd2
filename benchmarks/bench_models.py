"""Model benchmarks: fit and predict on 1M and 10M cells against the bare calls they wrap.

Operations (``n`` = cells of the table; 5 continuous layers, 10 % gaps in one, ~0.1 % positive
cells):

``wofe_fit``
    :class:`geomap.models.WeightsOfEvidence` ``fit`` (input checks, 40 quantile thresholds in
    both directions per layer, weights table, perfect-correlation check, pairwise and
    Agterberg–Cheng conditional-independence tests) against a bare NumPy weights-of-evidence
    fit of the same thresholds (``np.quantile`` + ``np.searchsorted`` + ``np.bincount`` +
    ``np.log`` per layer, best studentized contrast).
``wofe_predict``
    ``predict_proba`` against the bare NumPy posterior (``np.where`` of the weights, ``expit``).
``wofe_predict_std``
    ``predict_with_uncertainty`` (posterior + weights variance + missing-data variance) against
    the same bare posterior: the ratio is the price of the uncertainty layer.
``wofe_predict_raster``
    :func:`geomap.models.predict_raster` on a NumPy stack of ``n`` cells (table building per
    block, prospectivity + uncertainty, coverage) against the bare posterior.
``logistic_fit`` / ``logistic_predict`` / ``logistic_predict_std``
    :class:`geomap.models.LogisticProspectivity` (``presence_only=False``: every cell) against
    scikit-learn's ``SimpleImputer(add_indicator) -> StandardScaler -> LogisticRegression`` on
    the same array.  geomap's fit adds the Laplace covariance and the coefficient table;
    ``_predict_std`` (``predict_with_uncertainty``) adds the delta-method standard deviation.
``rf_fit`` / ``rf_predict`` / ``rf_predict_std``
    :class:`geomap.models.RandomForestProspectivity` (``presence_only=False``, 10 trees,
    ``max_leaf_nodes=1024``, one thread) against ``RandomForestClassifier`` with the same
    parameters.  Tree size is bounded by ``max_leaf_nodes`` whatever ``n``: at most 2047 nodes
    per tree (checked in the setup).  Fitted on at most 1M cells (the pipeline fits on a
    sample); ``rf_predict`` at 10M predicts every cell with that forest.  ``rf_predict_std``
    is ``predict_with_uncertainty`` (mean and spread of the trees in one pass) against
    ``RandomForestClassifier.predict_proba``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from benchmarks.harness import Case

N_LAYERS = 5
N_THRESHOLDS = 40


def _table(n: int, seed: int = 0) -> tuple[Any, np.ndarray]:
    import pandas as pd

    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, N_LAYERS))
    logit = -8.0 + 1.2 * values[:, 0] + 0.8 * values[:, 1] - 0.6 * values[:, 2]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    values[rng.random(n) < 0.1, 3] = np.nan
    frame = pd.DataFrame(values, columns=[f"layer{j}" for j in range(N_LAYERS)])
    return frame, y


def _bare_wofe_fit(values: np.ndarray, y: np.ndarray) -> list[tuple[float, float, float, str]]:
    """Plain NumPy weights of evidence: best cumulative threshold per layer."""
    fitted = []
    levels = np.linspace(0, 1, N_THRESHOLDS + 2)[1:-1]
    for j in range(values.shape[1]):
        v = values[:, j]
        ok = ~np.isnan(v)
        v, d = v[ok], y[ok].astype(float)
        t_area, t_dep = float(v.size), d.sum()
        cands = np.unique(np.quantile(v, levels, method="inverted_cdf"))
        m = cands.size
        best = (-np.inf, 0.0, 0.0, 0.0, "")
        for direction, side in (("ascending", "left"), ("descending", "right")):
            idx = np.searchsorted(cands, v, side=side)
            area = np.cumsum(np.bincount(idx, minlength=m + 1))[:m].astype(float)
            dep = np.cumsum(np.bincount(idx, weights=d, minlength=m + 1))[:m]
            if direction == "descending":
                area, dep = t_area - area, t_dep - dep
            n11, n10 = dep, area - dep
            n01, n00 = t_dep - dep, t_area - area - (t_dep - dep)
            with np.errstate(divide="ignore", invalid="ignore"):
                wp = np.log(n11 / t_dep) - np.log(n10 / (t_area - t_dep))
                wm = np.log(n01 / t_dep) - np.log(n00 / (t_area - t_dep))
                stud = (wp - wm) / np.sqrt(1 / n11 + 1 / n10 + 1 / n01 + 1 / n00)
            stud = np.where(np.isfinite(stud), stud, -np.inf)
            k = int(np.argmax(stud))
            if stud[k] > best[0]:
                best = (stud[k], float(cands[k]), float(wp[k]), float(wm[k]), direction)
        fitted.append(best[1:])
    return fitted


def _bare_posterior(values: np.ndarray, fitted: list[Any], prior_logit: float) -> np.ndarray:
    from scipy.special import expit

    logit = np.full(values.shape[0], prior_logit)
    for j, (threshold, wp, wm, direction) in enumerate(fitted):
        v = values[:, j]
        inside = v <= threshold if direction == "ascending" else v >= threshold
        logit += np.where(np.isnan(v), 0.0, np.where(inside, wp, wm))
    return expit(logit)


def _wofe(n: int, what: str) -> Case:
    def setup():
        from geomap.models import WeightsOfEvidence

        frame, y = _table(n)
        values = frame.to_numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = WeightsOfEvidence(n_thresholds=N_THRESHOLDS).fit(frame, y)
        fitted = _bare_wofe_fit(values, y)
        prior = float(np.log(y.sum() / (n - y.sum())))

        def bare_predict():
            return _bare_posterior(values, fitted, prior)

        if what == "fit":

            def run():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    return WeightsOfEvidence(n_thresholds=N_THRESHOLDS).fit(frame, y)

            return run, lambda: _bare_wofe_fit(values, y)
        if what == "predict":
            return lambda: model.predict_proba(frame), bare_predict
        if what == "predict_std":
            return lambda: model.predict_with_uncertainty(frame), bare_predict
        stack = _stack(frame)
        from geomap.models import predict_raster

        return lambda: predict_raster(model, stack), bare_predict

    return Case(f"wofe_{what}", _size(n), n, "cells", setup, repeat=3)


def _stack(frame: Any) -> Any:
    import rioxarray  # noqa: F401
    import xarray as xr

    n = len(frame)
    nx = 1000
    ny = n // nx
    x = 1000.0 * np.arange(nx) + 500
    y = 1000.0 * ny - 1000.0 * np.arange(ny) - 500
    data = {
        name: (("y", "x"), frame[name].to_numpy()[: ny * nx].reshape(ny, nx))
        for name in frame.columns
    }
    return xr.Dataset(data, coords={"y": y, "x": x}).rio.write_crs("EPSG:5070")


def _sklearn_logistic() -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True),
        StandardScaler(),
        LogisticRegression(class_weight="balanced", max_iter=1000),
    )


def _logistic(n: int, what: str) -> Case:
    def setup():
        from geomap.models import LogisticProspectivity

        frame, y = _table(n)
        values = frame.to_numpy()
        model = LogisticProspectivity(presence_only=False).fit(frame, y)
        bare = _sklearn_logistic().fit(values, y)
        if what == "fit":
            return (
                lambda: LogisticProspectivity(presence_only=False).fit(frame, y),
                lambda: _sklearn_logistic().fit(values, y),
            )
        if what == "predict":
            return lambda: model.predict_proba(frame), lambda: bare.predict_proba(values)
        return lambda: model.predict_with_uncertainty(frame), lambda: bare.predict_proba(values)

    return Case(f"logistic_{what}", _size(n), n, "cells", setup, repeat=3)


RF_FIT_CELLS = 1_000_000
RF_PARAMS = {"n_estimators": 10, "max_leaf_nodes": 1024, "min_samples_leaf": 5, "random_state": 0}


def _rf(n: int, what: str) -> Case:
    def setup():
        from sklearn.ensemble import RandomForestClassifier

        from geomap.models import RandomForestProspectivity

        frame, y = _table(n)
        values = frame.to_numpy()
        params = {**RF_PARAMS, "class_weight": "balanced_subsample"}
        if what == "fit":
            return (
                lambda: RandomForestProspectivity(presence_only=False, **params).fit(frame, y),
                lambda: RandomForestClassifier(**params).fit(values, y),
            )
        fit_n = min(n, RF_FIT_CELLS)  # a 10M-cell map is predicted by a forest fitted on 1M
        model = RandomForestProspectivity(presence_only=False, **params)
        model.fit(frame.iloc[:fit_n], y[:fit_n])
        bare = RandomForestClassifier(**params).fit(values[:fit_n], y[:fit_n])
        nodes = max(t.tree_.node_count for t in model.forest_.estimators_)
        assert nodes <= 2 * RF_PARAMS["max_leaf_nodes"] - 1, nodes
        if what == "predict":
            return lambda: model.predict_proba(frame), lambda: bare.predict_proba(values)
        return lambda: model.predict_with_uncertainty(frame), lambda: bare.predict_proba(values)

    return Case(f"rf_{what}", _size(n), n, "cells", setup, repeat=1 if what == "fit" else 2)


def _size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1_000}k"


def cases(quick: bool) -> list[Case]:
    """1M cells in quick mode; otherwise 1M and 10M (random-forest fit: 250k and 1M).

    Fitting one 10-tree forest on 10M cells takes about 8 minutes on one core and each random
    forest case fits two (geomap's and the bare one), so the forest is fitted on at most 1M
    cells, as the pipeline fits on a sample of cells (positives and sampled negatives) and
    predicts every cell: ``rf_predict`` at 10M predicts with a forest fitted on 1M.
    """
    sizes = [1_000_000] if quick else [1_000_000, 10_000_000]
    rf_fit_sizes = [1_000_000] if quick else [250_000, 1_000_000]
    out: list[Case] = []
    for n in sizes:
        out += [_wofe(n, w) for w in ("fit", "predict", "predict_std", "predict_raster")]
        out += [_logistic(n, w) for w in ("fit", "predict", "predict_std")]
    out += [_rf(n, "fit") for n in rf_fit_sizes]
    out += [_rf(n, w) for n in sizes for w in ("predict", "predict_std")]
    return out

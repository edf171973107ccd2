"""Data-driven models: logistic regression, random forest and gradient boosting (scikit-learn).

Each wraps a scikit-learn classifier in the geomap model contract (tables of cells,
``predict_std``, feature importances) and adds what prospectivity data need:

**Presence-only training.**  Occurrence databases record where deposits *are*, not where they
are absent: a cell without a known occurrence is *unknown*, not negative.  With
``presence_only=True`` (the default) the model is trained on every positive cell and a
*background* sample of ``background_ratio`` cells per positive, drawn (seeded by
``random_state``) only among cells farther than ``background_buffer_m`` metres from every
known occurrence, so that the unexplored surroundings of deposits are not taught as barren.
Cell coordinates come from ``fit(..., coords=...)`` or the ``("y", "x")`` index that
:func:`geomap.models.cell_table` gives its tables.  The output is then a *relative*
prospectivity (a ranking), not a calibrated probability.  With ``presence_only=False`` every
cell is used, weighted by ``sample_weight``.

**Class weighting.**  Positives are rare; ``class_weight="balanced"`` (default) weighs both
classes equally in the loss.

**Missing data (NaN).**  Logistic regression imputes the training median and adds a
missing-indicator column per layer with gaps (so "no data" can carry its own coefficient),
then standardises.  Random forests and histogram gradient boosting split on NaN natively
(scikit-learn >= 1.4): a missing value follows the branch learned for it.  Categorical layers
are one-hot encoded with the classes seen in training (unseen or missing: all zeros).

**Bounded trees.**  Random-forest memory is ``n_estimators × (2 · max_leaf_nodes - 1)`` nodes at
most: ``max_leaf_nodes`` (default 1024) bounds it whatever the number of cells, and an
unbounded forest (``max_leaf_nodes=None`` and ``max_depth=None``) is refused.

**Uncertainty** (``predict_std``):

* logistic regression: the delta method on the Laplace approximation of the coefficients'
  covariance, ``(Zᵀ W Z + I/C)⁻¹`` with ``W`` the (class-weighted) ``p(1-p)``, giving
  ``s(p) = p(1-p) · sqrt(zᵀ Σ z)``;
* random forest: the spread (standard deviation) of the trees' probabilities;
* gradient boosting: the spread of ``n_ensemble`` models fitted on bootstrap resamples
  (stratified: positives and background resampled separately); the prediction is their mean.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from geomap.errors import ModelError
from geomap.models._base import (
    DegenerateEvidenceWarning,
    ModelWarning,
    ProspectivityModel,
    check_labels,
    check_sample_weight,
    check_table,
    check_two_classes,
    is_categorical,
    table_coords,
    warn,
)

_SMALL_TABLE = 50_000

__all__ = [
    "GradientBoostingProspectivity",
    "LogisticProspectivity",
    "RandomForestProspectivity",
    "sample_background",
]


def sample_background(
    coords: Any,
    y: Any,
    *,
    buffer_m: float,
    ratio: float = 10.0,
    random_state: int | None = 0,
) -> np.ndarray:
    """Rows to train on: every positive cell plus background cells away from occurrences.

    Parameters
    ----------
    coords : array-like of shape (n, 2)
        Cell-centre x, y in metres.
    y : array-like
        0/1 labels.
    buffer_m : float
        Background cells lie farther than this from every positive cell (>= 0).
    ratio : float, default 10
        Background cells per positive cell.
    random_state : int, optional
        Seed (the same seed gives the same sample).

    Returns
    -------
    numpy.ndarray of int
        Sorted row indices.

    Raises
    ------
    ModelError
        When no cell lies outside the buffer.
    """
    from scipy.spatial import cKDTree

    xy = np.asarray(coords, dtype="float64")
    labels = np.asarray(y) > 0
    if not (buffer_m >= 0 and math.isfinite(buffer_m)):
        raise ModelError(f"background_buffer_m={buffer_m!r} must be a distance >= 0 in metres")
    if not (ratio > 0 and math.isfinite(ratio)):
        raise ModelError(f"background_ratio={ratio!r} must be a positive number")
    positives = np.flatnonzero(labels)
    candidates = np.flatnonzero(~labels)
    wanted = math.ceil(ratio * positives.size)
    rng = np.random.default_rng(random_state)
    rng.shuffle(candidates)
    tree = cKDTree(xy[positives]) if positives.size else None
    chosen: list[np.ndarray] = []
    n_chosen = 0
    start = 0
    batch = max(4 * wanted, 10_000)
    while n_chosen < wanted and start < candidates.size:
        block = candidates[start : start + batch]
        start += batch
        if tree is not None and buffer_m > 0:
            distance, _ = tree.query(xy[block], k=1, distance_upper_bound=buffer_m)
            block = block[~np.isfinite(distance) | (distance > buffer_m)]
        chosen.append(block[: wanted - n_chosen])
        n_chosen += min(block.size, wanted - n_chosen)
    background = np.concatenate(chosen) if chosen else np.empty(0, dtype=np.int64)
    if background.size == 0:
        raise ModelError(
            f"no cell lies farther than background_buffer_m={buffer_m:g} m from the "
            "occurrences; use a smaller buffer or a larger region"
        )
    if background.size < wanted:
        warn(
            f"only {background.size} background cells lie farther than {buffer_m:g} m from "
            f"the occurrences ({wanted} wanted); training on all of them",
            ModelWarning,
        )
    return np.sort(np.concatenate([positives, background]))


def _few_threads(n_rows: int) -> Any:
    """One OpenMP thread for small tables: thread start-up costs more than it saves there."""
    import contextlib

    from threadpoolctl import threadpool_limits

    if n_rows < _SMALL_TABLE:
        return threadpool_limits(limits=1, user_api="openmp")
    return contextlib.nullcontext()


class _TableEncoder:
    """Numbers pass through (NaN kept); categorical layers become one-hot columns."""

    def __init__(self, X: pd.DataFrame) -> None:
        self.columns = list(X.columns)
        self.categories: dict[str, list[Any]] = {}
        names: list[str] = []
        self.layer_of: list[str] = []
        for name in self.columns:
            column = X[name]
            if is_categorical(column):
                classes = sorted(pd.unique(column.dropna().astype("object")), key=str)
                self.categories[name] = classes
                names += [f"{name}={c}" for c in classes]
                self.layer_of += [name] * len(classes)
            else:
                names.append(name)
                self.layer_of.append(name)
        self.names = names

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        if not self.categories:  # numbers only: one copy
            return X[self.columns].to_numpy(dtype="float64", na_value=np.nan)
        parts = []
        for name in self.columns:
            column = X[name]
            if name in self.categories:
                classes = self.categories[name]
                values = column.astype("object").where(column.notna(), None).to_numpy()
                codes = pd.Index(classes, dtype=object).get_indexer(values)
                codes[pd.isna(values)] = -1
                onehot = np.zeros((len(X), len(classes)))
                ok = codes >= 0
                onehot[np.flatnonzero(ok), codes[ok]] = 1.0
                parts.append(onehot)
            else:
                parts.append(column.to_numpy(dtype="float64", na_value=np.nan)[:, None])
        return np.hstack(parts)


class _SklearnModel(ProspectivityModel):
    """Shared fit/predict: checks, presence-only sampling, encoding, importances."""

    class_weight: Any
    presence_only: bool
    background_buffer_m: float
    background_ratio: float
    random_state: int | None

    def _fit_core(self, Z: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        raise NotImplementedError

    def _proba(self, Z: np.ndarray, with_std: bool) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def _importances(self, Z: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        raise NotImplementedError

    def _check_params(self) -> None:
        """Subclass hook for parameter checks."""

    def fit(
        self, X: Any, y: Any, *, sample_weight: Any = None, coords: Any = None
    ) -> _SklearnModel:
        """Fit on a table of cells.

        Parameters
        ----------
        X : pandas.DataFrame
            Table of cells (NaN = no data; categorical layers as category/string columns).
        y : array-like
            1 where the cell holds a training occurrence.
        sample_weight : array-like, optional
            Cells each row stands for.
        coords : array-like of shape (n, 2), optional
            Cell x, y in metres (for presence-only sampling); default from the table index.

        Returns
        -------
        self
        """
        self._check_params()
        X = check_table(X)
        labels = check_labels(y, len(X))
        weights = check_sample_weight(sample_weight, len(X))
        check_two_classes(labels, weights)
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.n_features_in_ = len(X.columns)
        self.classes_ = np.array([0, 1])
        dropped: dict[str, str] = {}
        for name in X.columns:
            column = X[name]
            if column.isna().all():
                dropped[name] = "it has no data in the study area"
            elif column.dropna().nunique() < 2:
                dropped[name] = "it has one value only where it has data"
        for name, reason in dropped.items():
            warn(f"evidence layer {name!r} is left out: {reason}", DegenerateEvidenceWarning)
        kept = [c for c in X.columns if c not in dropped]
        if not kept:
            raise ModelError(f"no usable evidence layer: {dropped}")
        self.dropped_layers_ = dropped
        self.layers_ = kept
        rows = np.arange(len(X))
        if self.presence_only:
            xy = table_coords(X, coords)
            rows = sample_background(
                xy,
                labels,
                buffer_m=float(self.background_buffer_m),
                ratio=float(self.background_ratio),
                random_state=self.random_state,
            )
        X_fit = X.iloc[rows][kept]
        self.encoder_ = _TableEncoder(X_fit)
        Z = self.encoder_.transform(X_fit)
        y_fit = labels[rows]
        w_fit = np.ones(rows.size) if self.presence_only else weights[rows]
        self.training_summary_ = {
            "n_positive_cells": int(y_fit.sum()),
            "n_background_cells": int((y_fit == 0).sum()),
            "presence_only": bool(self.presence_only),
            "background_buffer_m": float(self.background_buffer_m),
        }
        self._fit_core(Z, y_fit, w_fit)
        table = self._importances(Z, y_fit)
        per_layer = table.groupby("layer", sort=False)["importance"].sum()
        total = float(per_layer.sum())
        self.feature_importances_ = np.array(
            [float(per_layer.get(name, 0.0)) / total if total > 0 else 0.0 for name in X.columns]
        )
        self.importance_table_ = table
        return self

    def _predict(self, X: Any, with_std: bool) -> tuple[np.ndarray, np.ndarray | None]:
        X = check_table(X, feature_names=list(self.feature_names_in_))
        Z = self.encoder_.transform(X[self.layers_])
        return self._proba(Z, with_std)


class LogisticProspectivity(_SklearnModel):
    """Logistic regression on the evidence layers (median imputation + missing indicators).

    Parameters
    ----------
    C : float, default 1.0
        Inverse L2 regularisation strength (scikit-learn's ``C``).
    class_weight : "balanced", dict or None, default "balanced"
        Class weights in the loss.
    presence_only : bool, default True
        Train on positives and a buffered background sample (module docstring).
    background_buffer_m : float, default 5000
        Background cells lie farther than this from every occurrence (metres).
    background_ratio : float, default 10
        Background cells per positive cell.
    max_iter : int, default 1000
        Solver iterations.
    random_state : int, default 0
        Seed of the background sample.

    Attributes
    ----------
    estimator_ : sklearn.linear_model.LogisticRegression
    covariance_ : numpy.ndarray
        Laplace covariance of (intercept, coefficients) on the standardised features.
    importance_table_ : pandas.DataFrame
        Per model column: ``feature``, ``layer``, standardised ``coefficient``, ``std_error``,
        ``z``, ``importance`` (share of the absolute coefficients).
    feature_importances_ : numpy.ndarray
        Share per table column.
    """

    def __init__(
        self,
        *,
        C: float = 1.0,
        class_weight: Any = "balanced",
        presence_only: bool = True,
        background_buffer_m: float = 5000.0,
        background_ratio: float = 10.0,
        max_iter: int = 1000,
        random_state: int | None = 0,
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.presence_only = presence_only
        self.background_buffer_m = background_buffer_m
        self.background_ratio = background_ratio
        self.max_iter = max_iter
        self.random_state = random_state

    def _check_params(self) -> None:
        if not (self.C > 0 and math.isfinite(self.C)):
            raise ModelError(f"C={self.C!r} must be a positive number")

    def _fit_core(self, Z: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
        from sklearn.utils.class_weight import compute_sample_weight

        self.imputer_ = SimpleImputer(strategy="median", add_indicator=True)
        names = list(self.encoder_.names)
        imputed = self.imputer_.fit_transform(Z)
        indicator = self.imputer_.indicator_
        extra = [] if indicator is None else [f"{names[i]} (no data)" for i in indicator.features_]
        self.model_features_ = names + extra
        self._model_layers = list(self.encoder_.layer_of) + (
            [] if indicator is None else [self.encoder_.layer_of[i] for i in indicator.features_]
        )
        self.scaler_ = StandardScaler()
        scaled = self.scaler_.fit_transform(imputed)
        self.estimator_ = LogisticRegression(
            C=self.C, class_weight=self.class_weight, max_iter=self.max_iter
        )
        self.estimator_.fit(scaled, y, sample_weight=w)
        design = np.column_stack([np.ones(len(scaled)), scaled])
        p = self.estimator_.predict_proba(scaled)[:, 1]
        s = w * compute_sample_weight(self.class_weight, y) if self.class_weight else w
        hessian = (design * (s * p * (1 - p))[:, None]).T @ design
        hessian[1:, 1:] += np.eye(scaled.shape[1]) / self.C
        self.covariance_ = np.linalg.pinv(hessian)

    def _proba(self, Z: np.ndarray, with_std: bool) -> tuple[np.ndarray, np.ndarray | None]:
        from scipy.special import expit

        scaled = self.scaler_.transform(self.imputer_.transform(Z))
        eta = scaled @ self.estimator_.coef_[0] + self.estimator_.intercept_[0]
        p = expit(eta)
        if not with_std:
            return p, None
        # zᵀ Σ z with z = (1, scaled): intercept block, cross terms, coefficient block
        cov = self.covariance_
        var_eta = (
            cov[0, 0]
            + 2.0 * scaled @ cov[0, 1:]
            + np.einsum("ij,jk,ik->i", scaled, cov[1:, 1:], scaled)
        )
        return p, p * (1 - p) * np.sqrt(np.clip(var_eta, 0.0, None))

    def _importances(self, Z: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        coef = self.estimator_.coef_[0]
        se = np.sqrt(np.clip(np.diag(self.covariance_)[1:], 0.0, None))
        absolute = np.abs(coef)
        return pd.DataFrame(
            {
                "feature": self.model_features_,
                "layer": self._model_layers,
                "coefficient": coef,
                "std_error": se,
                "z": np.divide(coef, se, out=np.zeros_like(coef), where=se > 0),
                "importance": absolute / absolute.sum() if absolute.sum() > 0 else 0.0,
            }
        )


class RandomForestProspectivity(_SklearnModel):
    """Random forest of size-bounded trees; uncertainty = spread of the trees.

    Parameters
    ----------
    n_estimators : int, default 200
        Trees.
    max_leaf_nodes : int, default 1024
        Leaves per tree (bounds memory: at most ``2 · max_leaf_nodes - 1`` nodes per tree).
    max_depth : int, optional
        Depth limit (``None``: limited by ``max_leaf_nodes``).
    min_samples_leaf : int, default 5
        Smallest leaf.
    max_features : str, int or float, default "sqrt"
        Layers tried per split.
    class_weight : default "balanced_subsample"
        Class weights per bootstrap sample.
    presence_only, background_buffer_m, background_ratio, random_state
        As in :class:`LogisticProspectivity`.
    n_jobs : int, optional
        Parallel trees (scikit-learn's ``n_jobs``).

    Attributes
    ----------
    forest_ : sklearn.ensemble.RandomForestClassifier
    importance_table_ : pandas.DataFrame
        Mean decrease in impurity per model column (``feature``, ``layer``, ``importance``).
    feature_importances_ : numpy.ndarray
        Per table column (one-hot classes summed).
    """

    def __init__(
        self,
        *,
        n_estimators: int = 200,
        max_leaf_nodes: int | None = 1024,
        max_depth: int | None = None,
        min_samples_leaf: int = 5,
        max_features: Any = "sqrt",
        class_weight: Any = "balanced_subsample",
        presence_only: bool = True,
        background_buffer_m: float = 5000.0,
        background_ratio: float = 10.0,
        random_state: int | None = 0,
        n_jobs: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.max_features = max_features
        self.class_weight = class_weight
        self.presence_only = presence_only
        self.background_buffer_m = background_buffer_m
        self.background_ratio = background_ratio
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check_params(self) -> None:
        if self.max_leaf_nodes is None and self.max_depth is None:
            raise ModelError(
                "max_leaf_nodes=None and max_depth=None grow unbounded trees whose memory "
                "grows with the number of cells; set max_leaf_nodes (e.g. 1024)"
            )
        if int(self.n_estimators) < 2:
            raise ModelError(
                f"n_estimators={self.n_estimators}: the spread of the trees needs at least 2"
            )

    def _fit_core(self, Z: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        from sklearn.ensemble import RandomForestClassifier

        self.forest_ = RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_leaf_nodes=self.max_leaf_nodes,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            max_features=self.max_features,
            class_weight=self.class_weight,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )
        self.forest_.fit(Z, y, sample_weight=w)

    def _proba(self, Z: np.ndarray, with_std: bool) -> tuple[np.ndarray, np.ndarray | None]:
        if not with_std:
            return self.forest_.predict_proba(Z)[:, 1], None
        Z32 = np.ascontiguousarray(Z, dtype=np.float32)
        total = np.zeros(len(Z))
        squares = np.zeros(len(Z))
        for tree in self.forest_.estimators_:
            p = tree.predict_proba(Z32, check_input=False)
            p1 = p[:, 1] if p.shape[1] > 1 else np.zeros(len(Z))
            total += p1
            squares += p1 * p1
        n = len(self.forest_.estimators_)
        mean = total / n
        return mean, np.sqrt(np.clip(squares / n - mean * mean, 0.0, None))

    def _importances(self, Z: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "feature": self.encoder_.names,
                "layer": self.encoder_.layer_of,
                "importance": self.forest_.feature_importances_,
            }
        )


class GradientBoostingProspectivity(_SklearnModel):
    """Histogram gradient boosting, bagged for an uncertainty estimate.

    Parameters
    ----------
    n_ensemble : int, default 5
        Members fitted on stratified bootstrap resamples (>= 2); prediction = their mean,
        uncertainty = their spread.
    max_iter : int, default 100
        Boosting iterations per member.
    learning_rate : float, default 0.1
    max_leaf_nodes : int, default 31
        Leaves per tree (bounded).
    max_depth : int, optional
    min_samples_leaf : int, default 20
    l2_regularization : float, default 0.0
    class_weight, presence_only, background_buffer_m, background_ratio, random_state
        As in :class:`LogisticProspectivity`.

    Attributes
    ----------
    members_ : list of sklearn.ensemble.HistGradientBoostingClassifier
    importance_table_ : pandas.DataFrame
        Permutation importance (drop in ROC AUC, mean and std of 3 repeats) per model column,
        on at most 20 000 training rows.
    feature_importances_ : numpy.ndarray
    """

    def __init__(
        self,
        *,
        n_ensemble: int = 5,
        max_iter: int = 100,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        max_depth: int | None = None,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        class_weight: Any = "balanced",
        presence_only: bool = True,
        background_buffer_m: float = 5000.0,
        background_ratio: float = 10.0,
        random_state: int | None = 0,
    ) -> None:
        self.n_ensemble = n_ensemble
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.class_weight = class_weight
        self.presence_only = presence_only
        self.background_buffer_m = background_buffer_m
        self.background_ratio = background_ratio
        self.random_state = random_state

    def _check_params(self) -> None:
        if int(self.n_ensemble) < 2:
            raise ModelError(f"n_ensemble={self.n_ensemble}: the spread needs at least 2 members")
        if self.max_leaf_nodes is None:
            raise ModelError("max_leaf_nodes=None grows unbounded trees; set it (e.g. 31)")

    def _fit_core(self, Z: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        from sklearn.ensemble import HistGradientBoostingClassifier

        rng = np.random.default_rng(self.random_state)
        pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
        self.members_ = []
        for i in range(int(self.n_ensemble)):
            rows = np.concatenate(
                [rng.choice(pos, pos.size, replace=True), rng.choice(neg, neg.size, replace=True)]
            )
            member = HistGradientBoostingClassifier(
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                max_depth=self.max_depth,
                min_samples_leaf=self.min_samples_leaf,
                l2_regularization=self.l2_regularization,
                class_weight=self.class_weight,
                early_stopping=False,
                random_state=None if self.random_state is None else int(self.random_state) + i,
            )
            with _few_threads(rows.size):
                member.fit(Z[rows], y[rows], sample_weight=w[rows])
            self.members_.append(member)

    def _proba(self, Z: np.ndarray, with_std: bool) -> tuple[np.ndarray, np.ndarray | None]:
        with _few_threads(len(Z)):
            stack = np.stack([m.predict_proba(Z)[:, 1] for m in self.members_])
        return stack.mean(axis=0), stack.std(axis=0) if with_std else None

    def _importances(self, Z: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        from sklearn.metrics import roc_auc_score

        rng = np.random.default_rng(self.random_state)
        rows = np.arange(len(Z))
        if rows.size > 20_000:
            rows = np.sort(rng.choice(rows, 20_000, replace=False))
        Zs, ys = Z[rows], y[rows]
        base = roc_auc_score(ys, self._proba(Zs, False)[0])
        drops = np.zeros((Z.shape[1], 3))
        for j in range(Z.shape[1]):
            for r in range(3):
                shuffled = Zs.copy()
                shuffled[:, j] = rng.permutation(shuffled[:, j])
                drops[j, r] = base - roc_auc_score(ys, self._proba(shuffled, False)[0])
        mean = drops.mean(axis=1)
        positive = np.clip(mean, 0.0, None)
        return pd.DataFrame(
            {
                "feature": self.encoder_.names,
                "layer": self.encoder_.layer_of,
                "auc_drop": mean,
                "auc_drop_std": drops.std(axis=1),
                "importance": positive / positive.sum() if positive.sum() > 0 else 0.0,
            }
        )

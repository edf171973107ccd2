"""Shared pieces of the prospectivity estimators: warnings, input checks, the predict mixin.

Every model works on a *table of cells* (see ``docs/architecture.md``): ``X`` is a
:class:`pandas.DataFrame` with one column per evidence layer and one row per cell (NaN = no
data; categorical layers as pandas ``category`` or string columns), ``y`` is 0/1 (the cell holds a
training occurrence).  ``predict_proba(X)[:, 1]`` is prospectivity and ``predict_std(X)`` its
uncertainty (one standard deviation).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError

from geomap.errors import ModelError

__all__ = [
    "ConditionalIndependenceWarning",
    "DegenerateEvidenceWarning",
    "ModelNotFittedError",
    "ModelWarning",
    "ProspectivityModel",
    "check_labels",
    "check_sample_weight",
    "check_table",
    "is_categorical",
    "table_coords",
]


class ModelNotFittedError(ModelError, NotFittedError):
    """A model was asked to predict before ``fit`` (also scikit-learn's ``NotFittedError``)."""


class ModelWarning(UserWarning):
    """Something about the training data or the model deserves the user's attention."""


class DegenerateEvidenceWarning(ModelWarning):
    """An evidence layer is empty, has one class only, or a contingency table has a zero count."""


class ConditionalIndependenceWarning(ModelWarning):
    """Weights-of-evidence layers are not conditionally independent given the occurrences."""


def warn(message: str, category: type[Warning] = ModelWarning) -> None:
    """Issue a warning attributed to the caller of the public function."""
    warnings.warn(message, category, stacklevel=3)


def is_categorical(column: pd.Series) -> bool:
    """Whether a table column holds class labels rather than numbers."""
    dtype = column.dtype
    return isinstance(dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
    )


def check_table(
    X: Any,
    *,
    feature_names: Sequence[str] | None = None,
    what: str = "X",
) -> pd.DataFrame:
    """Return ``X`` as a DataFrame of evidence layers, checked.

    A NumPy array gets columns ``x0, x1, ...``.  When ``feature_names`` is given (at predict
    time) the columns are put in that order; a missing layer is an error.  Infinite values
    are an error (they are neither data nor "no data").
    """
    import scipy.sparse

    if scipy.sparse.issparse(X):
        raise ModelError(
            f"{what} is a sparse matrix; sparse input is not supported — pass a dense pandas "
            "DataFrame of evidence layers"
        )
    if isinstance(X, pd.DataFrame):
        frame = X
    else:
        array = np.asarray(X)
        if np.iscomplexobj(array):
            raise ModelError(f"{what} holds complex numbers; evidence values must be real")
        if array.ndim != 2:
            raise ModelError(
                f"{what} must be a 2-D table of cells (rows) by evidence layers (columns), "
                f"got an array of shape {array.shape}; pass a pandas DataFrame"
            )
        if feature_names is not None and array.shape[1] != len(feature_names):
            raise ModelError(
                f"{what} has {array.shape[1]} columns but the model was fitted on "
                f"{len(feature_names)} layers {list(feature_names)}; pass a DataFrame with them"
            )
        frame = pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
    if frame.shape[1] == 0:
        raise ModelError(f"{what} has no evidence columns; give at least one evidence layer")
    if not all(isinstance(c, str) for c in frame.columns):
        raise ModelError(
            f"{what} column names must be strings (layer names), got {list(frame.columns)!r}"
        )
    if frame.columns.has_duplicates:
        dup = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise ModelError(f"{what} has duplicated layer names {dup}; give each layer one column")
    if feature_names is not None:
        missing = [c for c in feature_names if c not in frame.columns]
        if missing:
            raise ModelError(
                f"{what} lacks the evidence layers {missing} the model was fitted on; "
                f"give a table with the columns {list(feature_names)}"
            )
        frame = frame[list(feature_names)]
    for name in frame.columns:
        column = frame[name]
        if is_categorical(column):
            continue
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        n_inf = int(np.isinf(values).sum())
        if n_inf:
            raise ModelError(
                f"{what} layer {name!r} has {n_inf} infinite values; replace them with NaN "
                "(no data) or a finite cap before modelling"
            )
    return frame


def check_labels(y: Any, n_rows: int, *, what: str = "y") -> np.ndarray:
    """Return ``y`` as an int8 0/1 array; counts above 1 are turned into 1 with a warning."""
    labels = np.asarray(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.shape[0] != n_rows:
        raise ModelError(
            f"{what} must be one label per cell ({n_rows}), got shape {labels.shape}; "
            "give a 1-D 0/1 array aligned with the rows of X"
        )
    if labels.dtype == bool:
        return labels.astype(np.int8)
    try:
        values = labels.astype("float64")
    except (TypeError, ValueError) as exc:
        raise ModelError(
            f"{what} must be numeric 0/1 (cell holds a training occurrence), got dtype "
            f"{labels.dtype}; convert it with (y > 0).astype(int)"
        ) from exc
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if bad.any():
        example = values[bad][:3].tolist()
        raise ModelError(
            f"{what} has {int(bad.sum())} values that are not non-negative whole numbers "
            f"(e.g. {example}); labels are 0/1 per cell"
        )
    several = int((values > 1).sum())
    if several:
        warn(
            f"{several} cells of {what} hold more than one training occurrence; each counts as "
            "one positive cell (the models work on cells, not points)"
        )
    return (values > 0).astype(np.int8)


def check_sample_weight(sample_weight: Any, n_rows: int) -> np.ndarray:
    """Return positive finite per-row weights (ones when ``None``)."""
    if sample_weight is None:
        return np.ones(n_rows, dtype="float64")
    weights = np.asarray(sample_weight, dtype="float64")
    if weights.shape != (n_rows,):
        raise ModelError(
            f"sample_weight must have one value per cell ({n_rows}), got shape {weights.shape}"
        )
    bad = ~np.isfinite(weights) | (weights < 0)
    if bad.any():
        raise ModelError(
            f"sample_weight has {int(bad.sum())} negative or non-finite values; weights are "
            "the number of cells each row stands for (>= 0)"
        )
    return weights


def check_two_classes(labels: np.ndarray, weights: np.ndarray) -> None:
    """Refuse training data without positive or without negative cells."""
    n_pos = float(weights[labels == 1].sum())
    n_neg = float(weights[labels == 0].sum())
    if n_pos <= 0:
        raise ModelError(
            "no training occurrence falls in the study area (y has no positive cell); "
            "check the occurrence filter (commodity, region) and that points lie on the grid"
        )
    if n_neg <= 0:
        raise ModelError(
            "every cell holds a training occurrence (y has no negative cell); the model "
            "cannot contrast favourable and unfavourable ground — use a larger study area"
        )


def table_coords(X: Any, coords: Any) -> np.ndarray:
    """Cell-centre coordinates ``(n, 2)`` (x, y in metres) from ``coords`` or a (y, x) index."""
    if coords is not None:
        xy = np.asarray(coords, dtype="float64")
    elif isinstance(X, pd.DataFrame) and list(X.index.names) == ["y", "x"]:
        xy = np.column_stack(
            [
                X.index.get_level_values("x").to_numpy(dtype="float64"),
                X.index.get_level_values("y").to_numpy(dtype="float64"),
            ]
        )
    else:
        raise ModelError(
            "cell coordinates are needed: pass coords= (an (n, 2) array of x, y in metres) or "
            "a table indexed by ('y', 'x') as made by geomap.models.cell_table"
        )
    n = len(X) if X is not None else len(xy)
    if xy.shape != (n, 2) or not np.isfinite(xy).all():
        raise ModelError(
            f"coords must be finite x, y in metres, one row per cell ({n}, 2), got {xy.shape}"
        )
    return xy


class ProspectivityModel(ClassifierMixin, BaseEstimator):
    """Mixin of every geomap model: prospectivity, its uncertainty and class labels.

    Subclasses implement ``_predict(X, with_std)`` returning ``(prospectivity, std or None)``
    and set ``classes_``, ``feature_names_in_`` and ``n_features_in_`` in ``fit``.
    """

    def _predict(self, X: Any, with_std: bool) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def _check_fitted(self) -> None:
        if not hasattr(self, "feature_names_in_"):
            raise ModelNotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X, y) before predicting"
            )

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities: column 1 is prospectivity, column 0 its complement.

        Parameters
        ----------
        X : pandas.DataFrame
            Table of cells with the fitted evidence layers as columns.

        Returns
        -------
        numpy.ndarray of shape (n_cells, 2)
        """
        self._check_fitted()
        p, _ = self._predict(X, False)
        return np.column_stack([1.0 - p, p])

    def predict_std(self, X: Any) -> np.ndarray:
        """Uncertainty of prospectivity: one standard deviation per cell.

        Parameters
        ----------
        X : pandas.DataFrame
            Table of cells with the fitted evidence layers as columns.

        Returns
        -------
        numpy.ndarray of shape (n_cells,)
        """
        self._check_fitted()
        _, std = self._predict(X, True)
        assert std is not None
        return std

    def predict_with_uncertainty(self, X: Any) -> tuple[np.ndarray, np.ndarray]:
        """Prospectivity and its standard deviation in one pass (what the raster helpers use).

        Parameters
        ----------
        X : pandas.DataFrame
            Table of cells with the fitted evidence layers as columns.

        Returns
        -------
        prospectivity, std : numpy.ndarray of shape (n_cells,)
        """
        self._check_fitted()
        p, std = self._predict(X, True)
        assert std is not None
        return p, std

    def _decision_threshold(self) -> float:
        return 0.5

    def predict(self, X: Any) -> np.ndarray:
        """Class labels: 1 where prospectivity exceeds the model's decision threshold.

        The threshold is 0.5 for the data-driven and knowledge-driven models and the prior
        probability for weights of evidence (posterior above prior = favourable).

        Parameters
        ----------
        X : pandas.DataFrame
            Table of cells.

        Returns
        -------
        numpy.ndarray of int
        """
        self._check_fitted()
        p, _ = self._predict(X, False)
        return (p > self._decision_threshold()).astype(int)

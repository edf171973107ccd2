"""Knowledge-driven models: fuzzy overlay and weighted index overlay.

The fuzzy operators (Zadeh 1965; An, Moon & Rencz 1991; Bonham-Carter 1994, ch. 9) combine
fuzzy memberships ``μ`` in [0, 1] cell by cell:

* AND ``min(μ)``, OR ``max(μ)``;
* algebraic product ``∏ μ`` (decreasive), algebraic sum ``1 - ∏(1 - μ)`` (increasive);
* gamma ``(algebraic sum)^γ · (algebraic product)^(1-γ)``, ``0 <= γ <= 1``.

They are pure functions on NumPy, Dask or xarray arrays (NaN propagates).  The estimators
:class:`FuzzyOverlay` (an inference network of operators) and :class:`WeightedIndexOverlay`
(``Σ w_j s_j / Σ w_j``) work on tables of cells like every geomap model: the memberships and
weights come from the geologist (the recipe), ``fit`` learns nothing from the occurrences and
only checks the table.  Categorical layers are mapped to memberships / scores through a table
(``class_memberships`` / ``class_scores``); continuous layers must already be in [0, 1]
(use the evidence stage's fuzzy membership transforms).

**Missing data** take the membership ``missing_value`` (default 0.5: no information, neither
favourable nor unfavourable).

**Uncertainty** (``predict_std``) is the square root of two variances:

* *evidence spread*: the variance of the ensemble of results obtained by leaving out one
  evidence layer at a time (how much the answer hangs on any single layer);
* *missing data*: where layers are missing, ``(f₁ - f₀)² / 12`` — the variance of a uniform
  distribution between the results with the missing memberships set to 0 and to 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd

from geomap.errors import ModelError
from geomap.models._base import ProspectivityModel, check_table, is_categorical

__all__ = [
    "OPERATORS",
    "FuzzyOverlay",
    "WeightedIndexOverlay",
    "fuzzy_and",
    "fuzzy_gamma",
    "fuzzy_or",
    "fuzzy_product",
    "fuzzy_sum",
]

OPERATORS = ("and", "or", "product", "sum", "gamma")
"""The fuzzy overlay operators :class:`FuzzyOverlay` accepts."""
_IMPORTANCE_ROWS = 200_000


def _layers(layers: Sequence[Any], name: str) -> list[Any]:
    if not layers:
        raise ModelError(f"{name} needs at least one membership layer")
    for layer in layers:
        if isinstance(layer, np.ndarray) and layer.size:
            finite = layer[np.isfinite(layer)]
            if finite.size and (finite.min() < 0 or finite.max() > 1):
                raise ModelError(
                    f"{name}: memberships must lie in [0, 1], got values in "
                    f"[{finite.min():g}, {finite.max():g}]; transform the layer with a fuzzy "
                    "membership function first"
                )
    return list(layers)


def fuzzy_and(*layers: Any) -> Any:
    """Fuzzy AND: the cell-wise minimum of the memberships.

    Examples
    --------
    >>> fuzzy_and(np.array([0.2, 0.9]), np.array([0.5, 0.7]))
    array([0.2, 0.7])
    """
    return reduce(np.minimum, _layers(layers, "fuzzy_and"))


def fuzzy_or(*layers: Any) -> Any:
    """Fuzzy OR: the cell-wise maximum of the memberships.

    Examples
    --------
    >>> fuzzy_or(np.array([0.2, 0.9]), np.array([0.5, 0.7]))
    array([0.5, 0.9])
    """
    return reduce(np.maximum, _layers(layers, "fuzzy_or"))


def fuzzy_product(*layers: Any) -> Any:
    """Fuzzy algebraic product: ``∏ μ`` (never larger than the smallest membership).

    Examples
    --------
    >>> fuzzy_product(np.array([0.5]), np.array([0.5]))
    array([0.25])
    """
    return reduce(lambda a, b: a * b, _layers(layers, "fuzzy_product"))


def fuzzy_sum(*layers: Any) -> Any:
    """Fuzzy algebraic sum: ``1 - ∏ (1 - μ)`` (never smaller than the largest membership).

    Examples
    --------
    >>> fuzzy_sum(np.array([0.5]), np.array([0.5]))
    array([0.75])
    """
    complement = reduce(lambda a, b: a * b, [1 - m for m in _layers(layers, "fuzzy_sum")])
    return 1 - complement


def fuzzy_gamma(*layers: Any, gamma: float) -> Any:
    """Fuzzy gamma operator: ``sum^γ · product^(1-γ)``.

    Parameters
    ----------
    *layers : array-like
        Memberships in [0, 1].
    gamma : float
        0 gives the algebraic product, 1 the algebraic sum.

    Examples
    --------
    >>> fuzzy_gamma(np.array([0.5]), np.array([0.5]), gamma=0.5)
    array([0.4330127])
    """
    if not 0 <= gamma <= 1:
        raise ModelError(f"gamma={gamma!r} must lie in [0, 1]")
    layers = tuple(_layers(layers, "fuzzy_gamma"))
    return fuzzy_sum(*layers) ** gamma * fuzzy_product(*layers) ** (1 - gamma)


def _apply(operator: str, inputs: list[np.ndarray], gamma: float) -> np.ndarray:
    if operator == "and":
        return fuzzy_and(*inputs)
    if operator == "or":
        return fuzzy_or(*inputs)
    if operator == "product":
        return fuzzy_product(*inputs)
    if operator == "sum":
        return fuzzy_sum(*inputs)
    return fuzzy_gamma(*inputs, gamma=gamma)


def _check_node(node: Any, where: str) -> dict[str, Any]:
    if isinstance(node, str):
        return {"layer": node}
    if not isinstance(node, Mapping):
        raise ModelError(
            f"fuzzy network node {where} is {node!r}; give a layer name or a mapping "
            "{'operator': ..., 'inputs': [...]}"
        )
    unknown = set(node) - {"operator", "inputs", "gamma"}
    if unknown:
        raise ModelError(
            f"fuzzy network node {where} has unknown keys {sorted(unknown)}; "
            "use operator, inputs, gamma"
        )
    operator = node.get("operator")
    if operator not in OPERATORS:
        raise ModelError(
            f"fuzzy network node {where}: operator {operator!r}; choose one of {OPERATORS}"
        )
    inputs = node.get("inputs")
    if not isinstance(inputs, Sequence) or isinstance(inputs, str) or not inputs:
        raise ModelError(f"fuzzy network node {where}: 'inputs' must be a non-empty list")
    gamma = node.get("gamma", 0.9)
    if operator == "gamma" and not (isinstance(gamma, int | float) and 0 <= gamma <= 1):
        raise ModelError(f"fuzzy network node {where}: gamma={gamma!r} must lie in [0, 1]")
    return {
        "operator": operator,
        "gamma": float(gamma),
        "inputs": [_check_node(child, f"{where}.inputs[{i}]") for i, child in enumerate(inputs)],
    }


def _leaves(node: dict[str, Any]) -> list[str]:
    if "layer" in node:
        return [node["layer"]]
    return [leaf for child in node["inputs"] for leaf in _leaves(child)]


def _evaluate(
    node: dict[str, Any], values: Mapping[str, np.ndarray], skip: str | None
) -> np.ndarray | None:
    """Evaluate the network, leaving out the leaf ``skip`` (None when nothing is left)."""
    if "layer" in node:
        return None if node["layer"] == skip else values[node["layer"]]
    parts = [_evaluate(child, values, skip) for child in node["inputs"]]
    kept = [p for p in parts if p is not None]
    if not kept:
        return None
    return _apply(node["operator"], kept, node["gamma"])


class _KnowledgeModel(ProspectivityModel):
    """Shared machinery: membership tables, missing data, leave-one-layer-out spread."""

    missing_value: float
    _class_table_name = "class_memberships"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = False  # knowledge-driven: fit never looks at y
        return tags

    def _class_tables(self) -> Mapping[str, Mapping[Any, float]]:
        raise NotImplementedError

    def _combine(self, values: Mapping[str, np.ndarray], skip: str | None) -> np.ndarray | None:
        raise NotImplementedError

    def _used_layers(self, X: pd.DataFrame) -> list[str]:
        raise NotImplementedError

    def _memberships(self, X: pd.DataFrame, fill: float | None) -> dict[str, np.ndarray]:
        tables = self._class_tables()
        out = {}
        for name in self.layers_:
            column = X[name]
            if name in tables:
                table = tables[name]
                lookup = {
                    v: float(table.get(v, table.get(str(v), np.nan)))
                    for v in pd.unique(column.dropna().astype("object"))
                }
                mapped = column.astype("object").map(lookup)
                values = mapped.to_numpy(dtype="float64", na_value=np.nan)
                unknown = column.notna().to_numpy() & np.isnan(values)
                if unknown.any():
                    classes = sorted({str(v) for v in column[unknown].unique()})[:5]
                    raise ModelError(
                        f"layer {name!r} has classes {classes} missing from "
                        f"{self._class_table_name}[{name!r}]; give every class a value in [0, 1]"
                    )
            elif is_categorical(column):
                raise ModelError(
                    f"layer {name!r} is categorical; give its classes values in "
                    f"{self._class_table_name}={{{name!r}: {{class: value}}}}"
                )
            else:
                values = column.to_numpy(dtype="float64", na_value=np.nan)
            finite = values[np.isfinite(values)]
            if finite.size and (finite.min() < 0 or finite.max() > 1):
                raise ModelError(
                    f"layer {name!r} has values in [{finite.min():g}, {finite.max():g}]; "
                    f"{type(self).__name__} needs [0, 1] — apply a fuzzy membership or "
                    "normalization in the recipe"
                )
            if fill is not None:
                values = np.where(np.isnan(values), fill, values)
            out[name] = values
        return out

    def _check_missing_value(self) -> None:
        if not 0 <= self.missing_value <= 1:
            raise ModelError(f"missing_value={self.missing_value!r} must lie in [0, 1]")

    def fit(self, X: Any, y: Any = None) -> Any:
        """Check the table against the model definition (nothing is learned from ``y``).

        Parameters
        ----------
        X : pandas.DataFrame
            Table of cells with the layers the model names.
        y : ignored
            Knowledge-driven models take their parameters from the geologist.

        Returns
        -------
        self
        """
        X = check_table(X)
        self._check_missing_value()
        used = self._used_layers(X)
        missing = [name for name in used if name not in X.columns]
        if missing:
            raise ModelError(
                f"{type(self).__name__} names layers {missing} that are not in the table "
                f"({list(X.columns)}); fix the recipe or the evidence stack"
            )
        self.layers_ = used
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.n_features_in_ = len(X.columns)
        self.classes_ = np.array([0, 1])
        values = self._memberships(X, self.missing_value)  # validates ranges and classes
        if len(X) > _IMPORTANCE_ROWS:  # a seeded sample is enough to rank the layers
            rows = np.random.default_rng(0).choice(len(X), _IMPORTANCE_ROWS, replace=False)
            values = {k: v[rows] for k, v in values.items()}
        self.importance_table_ = self._importance(values)
        self.feature_importances_ = np.array(
            [
                float(self.importance_table_.set_index("layer")["importance"].get(name, 0.0))
                for name in X.columns
            ]
        )
        return self

    def _importance(self, values: Mapping[str, np.ndarray]) -> pd.DataFrame:
        full = self._combine(values, None)
        assert full is not None
        rows = []
        for name in self.layers_:
            without = self._combine(values, name)
            change = float(np.mean(np.abs(full - without))) if without is not None else 0.0
            rows.append({"layer": name, "mean_abs_change_when_left_out": change})
        frame = pd.DataFrame(rows)
        total = frame["mean_abs_change_when_left_out"].sum()
        frame["importance"] = frame["mean_abs_change_when_left_out"] / total if total > 0 else 0.0
        return frame

    def _predict(self, X: Any, with_std: bool) -> tuple[np.ndarray, np.ndarray | None]:
        X = check_table(X, feature_names=list(self.feature_names_in_))
        raw = self._memberships(X, None)
        values = {k: np.where(np.isnan(v), self.missing_value, v) for k, v in raw.items()}
        result = self._combine(values, None)
        assert result is not None
        if not with_std:
            return result, None
        ensemble = [r for name in self.layers_ if (r := self._combine(values, name)) is not None]
        spread = np.var(np.stack(ensemble), axis=0) if len(ensemble) > 1 else np.zeros_like(result)
        any_missing = np.zeros(result.shape, dtype=bool)
        for v in raw.values():
            any_missing |= np.isnan(v)
        variance = spread
        if any_missing.any():
            low = {k: np.where(np.isnan(v), 0.0, v) for k, v in raw.items()}
            high = {k: np.where(np.isnan(v), 1.0, v) for k, v in raw.items()}
            f0, f1 = self._combine(low, None), self._combine(high, None)
            assert f0 is not None
            assert f1 is not None
            variance = variance + np.where(any_missing, (f1 - f0) ** 2 / 12.0, 0.0)
        return result, np.sqrt(variance)


class FuzzyOverlay(_KnowledgeModel):
    """Fuzzy-logic overlay of membership layers (knowledge-driven prospectivity).

    Parameters
    ----------
    network : mapping, optional
        An inference network: ``{"operator": "gamma", "gamma": 0.9, "inputs": [...]}`` where
        each input is a layer name or another such mapping.  Without it, ``operator`` is
        applied to every column of the table.
    operator : {"and", "or", "product", "sum", "gamma"}, default "gamma"
        The operator used when no network is given.
    gamma : float, default 0.9
        Gamma of the ``"gamma"`` operator when no network is given.
    class_memberships : mapping of layer -> {class: membership}, optional
        Memberships of the classes of categorical layers.
    missing_value : float, default 0.5
        Membership given to cells without data on a layer.

    Attributes
    ----------
    layers_ : list of str
        Layers the network uses.
    importance_table_ : pandas.DataFrame
        Mean absolute change of the result when each layer is left out, and its share.
    feature_importances_ : numpy.ndarray
        That share per column of the table.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [0.2, 0.9], "b": [0.5, 0.7]})
    >>> FuzzyOverlay(operator="and").fit(X).predict_proba(X)[:, 1]
    array([0.2, 0.7])
    """

    def __init__(
        self,
        *,
        network: Mapping[str, Any] | None = None,
        operator: str = "gamma",
        gamma: float = 0.9,
        class_memberships: Mapping[str, Mapping[Any, float]] | None = None,
        missing_value: float = 0.5,
    ) -> None:
        self.network = network
        self.operator = operator
        self.gamma = gamma
        self.class_memberships = class_memberships
        self.missing_value = missing_value

    def _class_tables(self) -> Mapping[str, Mapping[Any, float]]:
        return self.class_memberships or {}

    def _tree(self, columns: Sequence[str]) -> dict[str, Any]:
        if self.network is not None:
            return _check_node(self.network, "network")
        spec = {"operator": self.operator, "gamma": self.gamma, "inputs": list(columns)}
        return _check_node(spec, "(operator over all layers)")

    def _used_layers(self, X: pd.DataFrame) -> list[str]:
        self.tree_ = self._tree(list(X.columns))
        leaves = _leaves(self.tree_)
        return list(dict.fromkeys(leaves))

    def _combine(self, values: Mapping[str, np.ndarray], skip: str | None) -> np.ndarray | None:
        return _evaluate(self.tree_, values, skip)


class WeightedIndexOverlay(_KnowledgeModel):
    """Weighted index overlay: ``Σ w_j s_j / Σ w_j`` of layer scores in [0, 1].

    Parameters
    ----------
    weights : mapping of layer -> float, optional
        Map weights (>= 0, not all 0); every column with weight 1 when not given.
    class_scores : mapping of layer -> {class: score}, optional
        Scores of the classes of categorical layers.
    missing_value : float, default 0.5
        Score given to cells without data on a layer.

    Attributes
    ----------
    layers_ : list of str
        Layers with a weight.
    importance_table_ : pandas.DataFrame
        Normalized weight and mean absolute change when each layer is left out.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": [0.0, 1.0], "b": [1.0, 1.0]})
    >>> WeightedIndexOverlay(weights={"a": 3, "b": 1}).fit(X).predict_proba(X)[:, 1]
    array([0.25, 1.  ])
    """

    _class_table_name = "class_scores"

    def __init__(
        self,
        *,
        weights: Mapping[str, float] | None = None,
        class_scores: Mapping[str, Mapping[Any, float]] | None = None,
        missing_value: float = 0.5,
    ) -> None:
        self.weights = weights
        self.class_scores = class_scores
        self.missing_value = missing_value

    def _class_tables(self) -> Mapping[str, Mapping[Any, float]]:
        return self.class_scores or {}

    def _used_layers(self, X: pd.DataFrame) -> list[str]:
        weights = dict(self.weights) if self.weights is not None else dict.fromkeys(X.columns, 1.0)
        bad = {k: v for k, v in weights.items() if not (math.isfinite(v) and v >= 0)}
        if bad:
            raise ModelError(f"weights {bad} must be finite and >= 0")
        if sum(weights.values()) <= 0:
            raise ModelError(f"weights {weights} are all 0; give at least one positive weight")
        self.weights_ = {k: float(v) for k, v in weights.items() if v > 0}
        return list(self.weights_)

    def _combine(self, values: Mapping[str, np.ndarray], skip: str | None) -> np.ndarray | None:
        used = [k for k in self.weights_ if k != skip]
        if not used:
            return None
        total = sum(self.weights_[k] for k in used)
        return sum(self.weights_[k] * values[k] for k in used) / total  # type: ignore[return-value]

    def _importance(self, values: Mapping[str, np.ndarray]) -> pd.DataFrame:
        frame = super()._importance(values)
        total = sum(self.weights_.values())
        frame.insert(1, "weight", [self.weights_[k] / total for k in frame["layer"]])
        return frame

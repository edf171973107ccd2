"""Model names used by recipes and the command line, and the estimator each one makes."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from geomap.errors import ModelError, UnknownNameError

__all__ = ["MODEL_NAMES", "make_model"]

# name -> (module, class, kind of model)
_MODELS: dict[str, tuple[str, str, str]] = {
    "wofe": ("geomap.models.wofe", "WeightsOfEvidence", "data-driven (Bayesian)"),
    "fuzzy": ("geomap.models.fuzzy", "FuzzyOverlay", "knowledge-driven"),
    "weighted": ("geomap.models.fuzzy", "WeightedIndexOverlay", "knowledge-driven"),
    "logistic": ("geomap.models.ml", "LogisticProspectivity", "data-driven"),
    "rf": ("geomap.models.ml", "RandomForestProspectivity", "data-driven"),
    "gbm": ("geomap.models.ml", "GradientBoostingProspectivity", "data-driven"),
}

MODEL_NAMES: tuple[str, ...] = tuple(_MODELS)
"""The short model names :func:`make_model` accepts."""
_ALIASES = {"index": "weighted"}


def make_model(name: str, params: Mapping[str, Any] | None = None) -> Any:
    """Create an (unfitted) model by its short name.

    Parameters
    ----------
    name : {"wofe", "fuzzy", "weighted", "logistic", "rf", "gbm"}
        Weights of evidence, fuzzy overlay, weighted index overlay, logistic regression,
        random forest, gradient boosting.
    params : mapping, optional
        Keyword parameters of the estimator (e.g. from the recipe).

    Returns
    -------
    estimator

    Raises
    ------
    UnknownNameError
        An unknown model name.
    ModelError
        A parameter the estimator does not take.

    Examples
    --------
    >>> make_model("rf", {"n_estimators": 50}).n_estimators
    50
    """
    name = _ALIASES.get(name, name)
    if name not in _MODELS:
        raise UnknownNameError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    module, cls_name, _ = _MODELS[name]
    cls = getattr(importlib.import_module(module), cls_name)
    try:
        return cls(**dict(params or {}))
    except TypeError as exc:
        accepted = sorted(cls().get_params(deep=False))
        raise ModelError(f"model {name!r}: {exc}; its parameters are {accepted}") from exc

# ruff: noqa: N806  (scikit-learn naming: X is a table)
"""Fuzzy overlay operators, inference networks, weighted index overlay, uncertainty."""

from __future__ import annotations

import math

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from sklearn.base import clone

from geomap.errors import ModelError
from geomap.models import (
    FuzzyOverlay,
    WeightedIndexOverlay,
    fuzzy_and,
    fuzzy_gamma,
    fuzzy_or,
    fuzzy_product,
    fuzzy_sum,
)

A = np.array([0.0, 0.2, 0.5, 0.9, 1.0])
B = np.array([0.3, 0.6, 0.5, 0.4, 1.0])


def test_operators_by_hand():
    np.testing.assert_allclose(fuzzy_and(A, B), [0.0, 0.2, 0.5, 0.4, 1.0])
    np.testing.assert_allclose(fuzzy_or(A, B), [0.3, 0.6, 0.5, 0.9, 1.0])
    np.testing.assert_allclose(fuzzy_product(A, B), [0.0, 0.12, 0.25, 0.36, 1.0])
    np.testing.assert_allclose(fuzzy_sum(A, B), [0.3, 0.68, 0.75, 0.94, 1.0])
    # gamma 0.5 on (0.2, 0.6): sqrt(0.68 * 0.12)
    assert fuzzy_gamma(A, B, gamma=0.5)[1] == pytest.approx(math.sqrt(0.68 * 0.12), abs=1e-15)


def test_operator_ordering_and_gamma_limits():
    rng = np.random.default_rng(0)
    layers = [rng.random(1000) for _ in range(4)]
    product, low, high, total = (
        fuzzy_product(*layers),
        fuzzy_and(*layers),
        fuzzy_or(*layers),
        fuzzy_sum(*layers),
    )
    assert (product <= low + 1e-15).all() and (low <= high).all() and (high <= total + 1e-15).all()
    np.testing.assert_allclose(fuzzy_gamma(*layers, gamma=0.0), product)
    np.testing.assert_allclose(fuzzy_gamma(*layers, gamma=1.0), total)
    g = fuzzy_gamma(*layers, gamma=0.7)
    assert ((g >= product - 1e-15) & (g <= total + 1e-15)).all()


def test_operators_work_on_dask_and_xarray_like_numpy():
    lazy = fuzzy_gamma(da.from_array(A, chunks=2), da.from_array(B, chunks=2), gamma=0.8)
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), fuzzy_gamma(A, B, gamma=0.8))
    xa = fuzzy_and(xr.DataArray(A, dims="x"), xr.DataArray(B, dims="x"))
    assert isinstance(xa, xr.DataArray)
    np.testing.assert_allclose(xa.values, fuzzy_and(A, B))


def test_bad_memberships_and_gamma_are_errors():
    with pytest.raises(ModelError, match=r"\[0, 1\]"):
        fuzzy_and(np.array([0.5, 3.0]), B[:2])
    with pytest.raises(ModelError, match="gamma"):
        fuzzy_gamma(A, B, gamma=1.5)
    with pytest.raises(ModelError, match="at least one"):
        fuzzy_or()


def table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "near_fault": [0.9, 0.1, 0.8, np.nan],
            "magnetic": [0.7, 0.2, 0.1, 0.6],
            "lith": pd.Categorical(["granite", "basalt", "granite", "shale"]),
        }
    )


MEMBERSHIPS = {"lith": {"granite": 0.9, "basalt": 0.3, "shale": 0.1}}


def test_inference_network_evaluates_by_hand():
    network = {
        "operator": "gamma",
        "gamma": 0.8,
        "inputs": [{"operator": "or", "inputs": ["near_fault", "magnetic"]}, "lith"],
    }
    model = FuzzyOverlay(network=network, class_memberships=MEMBERSHIPS).fit(table())
    p = model.predict_proba(table())[:, 1]
    first_or = max(0.9, 0.7)
    expected = fuzzy_gamma(np.array([first_or]), np.array([0.9]), gamma=0.8)[0]
    assert p[0] == pytest.approx(expected, abs=1e-15)
    # the missing near_fault membership of row 3 takes missing_value (0.5): OR(0.5, 0.6) = 0.6
    expected_3 = fuzzy_gamma(np.array([0.6]), np.array([0.1]), gamma=0.8)[0]
    assert p[3] == pytest.approx(expected_3, abs=1e-15)
    assert model.layers_ == ["near_fault", "magnetic", "lith"]


def test_uncertainty_is_leave_one_out_spread_plus_missing_range():
    X = pd.DataFrame({"a": [0.4, 0.4, 0.9], "b": [0.4, 0.4, 0.1], "c": [0.4, np.nan, 0.5]})
    model = FuzzyOverlay(operator="and").fit(X)
    p, std = model.predict_with_uncertainty(X)
    # row 0: all layers agree, no missing data -> no uncertainty
    assert std[0] == pytest.approx(0.0, abs=1e-15)
    # row 1: c missing -> AND over (0.4, 0.4, m) for m in [0, 1] ranges 0..0.4; spread of
    # leave-one-out results (0.4, 0.4, 0.4) is zero
    assert std[1] == pytest.approx(math.sqrt(0.4**2 / 12), abs=1e-12)
    # row 2: leave-one-out results (0.1, 0.5, 0.1) -> population variance
    loo = np.array([0.1, 0.5, 0.1])
    assert std[2] == pytest.approx(loo.std(), abs=1e-12)
    assert p.tolist() == pytest.approx([0.4, 0.4, 0.1])


def test_weighted_index_overlay_by_hand_and_importance():
    X = pd.DataFrame({"a": [0.0, 1.0, 0.5], "b": [1.0, 1.0, np.nan]})
    model = WeightedIndexOverlay(weights={"a": 3.0, "b": 1.0}).fit(X)
    p, std = model.predict_with_uncertainty(X)
    np.testing.assert_allclose(p, [0.25, 1.0, (3 * 0.5 + 0.5) / 4])
    assert std[1] == 0.0
    # row 2: leave-one-out (0.5 [only a], 0.5 [only b=missing 0.5]); missing b in [0, 1]
    assert std[2] == pytest.approx(math.sqrt((0.25**2) / 12), abs=1e-12)
    shares = model.importance_table_.set_index("layer")["weight"]
    assert shares["a"] == pytest.approx(0.75)
    assert model.feature_importances_.sum() == pytest.approx(1.0)


def test_categorical_layers_need_a_class_table():
    with pytest.raises(ModelError, match="class_memberships"):
        FuzzyOverlay(operator="or").fit(table())
    with pytest.raises(ModelError, match="missing from class_scores"):
        WeightedIndexOverlay(class_scores={"lith": {"granite": 1.0}}).fit(table())


def test_bad_definitions_are_clear_errors():
    with pytest.raises(ModelError, match="operator 'xor'"):
        FuzzyOverlay(operator="xor").fit(table()[["magnetic"]])
    with pytest.raises(ModelError, match="not in the table"):
        FuzzyOverlay(network={"operator": "and", "inputs": ["nope"]}).fit(table())
    with pytest.raises(ModelError, match=r"\[0, 1\]"):
        FuzzyOverlay().fit(pd.DataFrame({"a": [0.5, 2.0]}))
    with pytest.raises(ModelError, match="all 0"):
        WeightedIndexOverlay(weights={"magnetic": 0}).fit(table())
    with pytest.raises(ModelError, match="missing_value"):
        FuzzyOverlay(missing_value=2).fit(table()[["magnetic"]])


def test_scikit_learn_contract_and_predictions_never_nan():
    model = FuzzyOverlay(operator="gamma", gamma=0.5, class_memberships=MEMBERSHIPS)
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert model.fit(table()) is model
    X = table()
    X.loc[:, "magnetic"] = np.nan
    p, std = model.predict_with_uncertainty(X)
    assert np.isfinite(p).all() and np.isfinite(std).all()
    assert ((p >= 0) & (p <= 1)).all()

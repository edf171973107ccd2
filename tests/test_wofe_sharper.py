# ruff: noqa: N803, N806  (scikit-learn naming: X is a table)
"""Weights of evidence: empty classes, exhaustive thresholds, generalization, merging, remedy."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from geomap.errors import ModelError
from geomap.models._base import ConditionalIndependenceWarning
from geomap.models.wofe import WeightsOfEvidence


def _quiet_fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


def test_issue_reproduction_empty_rare_class_does_not_outrank_the_host():
    X = pd.DataFrame({"lith": pd.Categorical(["rare"] * 10 + ["host"] * 990 + ["other"] * 9000)})
    y = np.zeros(10_000, int)
    y[10:25] = 1
    y[1000:1005] = 1
    model = _quiet_fit(WeightsOfEvidence(), X, y)
    w = model.weights_.set_index("class")
    assert w.loc["rare", "deposits"] == 0
    assert w.loc["rare", "weight"] <= 0 < w.loc["host", "weight"]
    assert w.loc["rare", "capped"] and not w.loc["host", "capped"]
    # the uncapped Haldane W+ is the +3.12 the issue measured; the table still shows it
    assert w.loc["rare", "w_plus"] == pytest.approx(math.log((0.5 / 21) / (10.5 / 9981)), 1e-9)
    p = model.predict_proba(pd.DataFrame({"lith": ["rare", "host"]}))[:, 1]
    assert p[0] < p[1]


def test_large_empty_class_keeps_its_negative_weight():
    X = pd.DataFrame({"lith": pd.Categorical(["a"] * 50 + ["b"] * 500 + ["c"] * 450)})
    y = np.zeros(1000, int)
    y[:5] = 1
    y[600:610] = 1  # b (500 cells) has none: evidence of absence
    model = _quiet_fit(WeightsOfEvidence(), X, y)
    row = model.weights_.set_index("class").loc["b"]
    assert row["weight"] < -0.5 and not row["capped"]


def test_no_empty_class_has_a_positive_weight_on_random_tables():
    rng = np.random.default_rng(7)
    for _ in range(20):
        n = 2000
        lith = rng.choice(
            list("abcdefgh"), size=n, p=[0.002, 0.003, 0.005, 0.2, 0.2, 0.2, 0.2, 0.19]
        )
        y = (rng.random(n) < 0.01).astype(int)
        y[0] = 1
        model = _quiet_fit(WeightsOfEvidence(), pd.DataFrame({"lith": pd.Categorical(lith)}), y)
        w = model.weights_
        empty = (w["deposits"] == 0) & (w["class"] != "(no data)")
        assert not (w.loc[empty, "weight"] > 0).any()


def _capped_distance(seed=0):
    """90 % of cells at the 150 km cap; deposits within ~10 km of a source."""
    rng = np.random.default_rng(seed)
    n = 20_000
    distance = np.full(n, 150_000.0)
    near = rng.random(n) < 0.10
    distance[near] = rng.uniform(0, 150_000, near.sum())
    p = np.where(distance < 10_000, 0.25, 0.002)
    y = (rng.random(n) < p).astype(int)
    return pd.DataFrame({"distance": distance}), y


def test_exhaustive_search_finds_the_near_cutoff_quantiles_miss():
    X, y = _capped_distance()
    quantile = _quiet_fit(WeightsOfEvidence(n_thresholds=40), X, y)
    exhaustive = _quiet_fit(WeightsOfEvidence(), X, y)
    t_q = quantile.layers_["distance"].threshold
    t_e = exhaustive.layers_["distance"].threshold
    # only a few quantiles are below the cap: the quantile search cannot reach ~10 km
    assert t_q > 25_000
    assert 7_000 < t_e < 13_000
    s_q = quantile.weights_["studentized_contrast"].iloc[0]
    s_e = exhaustive.weights_["studentized_contrast"].iloc[0]
    assert s_e > s_q
    curve = exhaustive.contrast_curves_["distance"]
    assert curve["studentized_contrast"].max() == pytest.approx(s_e)


def test_generalization_max_contrast_and_manual_cutoff():
    X, y = _capped_distance(1)
    best_c = _quiet_fit(WeightsOfEvidence(generalization="max_contrast"), X, y)
    best_s = _quiet_fit(WeightsOfEvidence(), X, y)
    c_c = best_c.weights_["contrast"].iloc[0]
    assert c_c >= best_s.weights_["contrast"].iloc[0]
    assert best_c.weights_["studentized_contrast"].iloc[0] >= 2.0
    manual = _quiet_fit(WeightsOfEvidence(cutoffs={"distance": 25_000.0}), X, y)
    layer = manual.layers_["distance"]
    assert layer.threshold == 25_000.0 and layer.direction == "ascending"
    with pytest.raises(ModelError, match="generalization='median'"):
        WeightsOfEvidence(generalization="median").fit(X, y)
    with pytest.raises(ModelError, match=r"cutoffs name layers \['depth'\]"):
        WeightsOfEvidence(cutoffs={"depth": 1.0}).fit(X, y)


def test_weak_categorical_classes_are_merged():
    rng = np.random.default_rng(2)
    lith = np.array(["host"] * 500 + ["x"] * 3000 + ["y"] * 3000 + ["z"] * 3500)
    y = np.zeros(lith.size, int)
    y[rng.choice(500, 12, replace=False)] = 1
    y[500 + rng.choice(9500, 40, replace=False)] = 1
    X = pd.DataFrame({"lith": pd.Categorical(lith)})
    plain = _quiet_fit(WeightsOfEvidence(), X, y).weights_.set_index("class")
    merged = _quiet_fit(WeightsOfEvidence(merge_min_studentized=2.0), X, y).weights_
    merged = merged.set_index("class")
    weak = [c for c in "xyz" if abs(plain.loc[c, "studentized_contrast"]) < 2.0]
    assert len(weak) >= 2
    assert merged.loc[weak, "merged"].all() and not merged.loc["host", "merged"]
    assert merged.loc[weak, "weight"].nunique() == 1  # one pooled weight
    assert merged.loc["host", "weight"] == pytest.approx(plain.loc["host", "weight"])


def test_independence_remedy_drops_the_dependent_copy():
    rng = np.random.default_rng(5)
    n = 20_000
    a = rng.random(n) < 0.2
    noise = rng.random(n) < 0.03
    b = a ^ noise  # nearly the same pattern: conditionally dependent
    c = rng.random(n) < 0.5
    y = ((a & (rng.random(n) < 0.05)) | (rng.random(n) < 0.002)).astype(int)
    X = pd.DataFrame({"a": a.astype(float), "b": b.astype(float), "c": c.astype(float)})
    with pytest.warns(ConditionalIndependenceWarning):
        before = WeightsOfEvidence().fit(X, y)
    assert not before.independence_["passed"]
    after = _quiet_fit(WeightsOfEvidence(on_dependence="drop"), X, y)
    steps = after.independence_steps_
    assert len(steps) >= 2 and not steps["passed"].iloc[0] and steps["passed"].iloc[-1]
    assert set(steps["dropped"].iloc[1:]) & {"a", "b"}
    assert "a" in after.layers_ or "b" in after.layers_
    assert after.independence_["ratio"] > before.independence_["ratio"]


def test_one_search_gives_both_threshold_bins():
    from geomap.models.wofe_stats import _bins

    rng = np.random.default_rng(3)
    for _ in range(500):
        values = rng.integers(0, 20, rng.integers(1, 200)).astype(float)
        if rng.random() < 0.5:
            values += rng.random(values.size)
        pool = np.concatenate([values, rng.uniform(-2, 25, 5)])
        candidates = np.unique(rng.choice(pool, rng.integers(1, 30)))
        left, right = _bins(values, candidates)
        np.testing.assert_array_equal(left, np.searchsorted(candidates, values, "left"))
        np.testing.assert_array_equal(right, np.searchsorted(candidates, values, "right"))

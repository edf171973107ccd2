# ruff: noqa: N803, N806  (scikit-learn naming: X is a table)
"""The logistic/WofE hybrid remedy: dependent layers share one effect instead of adding two."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from geomap.errors import ModelError
from geomap.models.wofe import WeightsOfEvidence
from geomap.models.wofe_hybrid import fit_hybrid


def _quiet_fit(model, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y)


@pytest.fixture(scope="module")
def copies():
    """Layer ``b`` is ``a`` with 3 % of cells flipped (not an exact duplicate, so it is kept)."""
    rng = np.random.default_rng(5)
    n = 20_000
    a = rng.random(n) < 0.2
    b = a ^ (rng.random(n) < 0.03)
    c = rng.random(n) < 0.5  # independent of the deposits
    y = ((a & (rng.random(n) < 0.05)) | (rng.random(n) < 0.002)).astype(int)
    X = pd.DataFrame({"a": a.astype(float), "b": b.astype(float), "c": c.astype(float)})
    return X, y, a, b


def test_hybrid_does_not_double_count_a_duplicated_layer(copies):
    X, y, a, b = copies
    one = _quiet_fit(WeightsOfEvidence(), X[["a", "c"]], y)
    summed = _quiet_fit(WeightsOfEvidence(), X, y)
    hybrid = _quiet_fit(WeightsOfEvidence(on_dependence="hybrid"), X, y)
    assert not summed.independence_["passed"]  # the copy is counted twice
    both = a & b
    neither = ~a & ~b
    gap_one = one.log_odds(X)[both].mean() - one.log_odds(X)[neither].mean()
    gap_summed = summed.log_odds(X)[both].mean() - summed.log_odds(X)[neither].mean()
    gap_hybrid = hybrid.log_odds(X)[both].mean() - hybrid.log_odds(X)[neither].mean()
    # weights of evidence adds the two contrasts: about twice the one-layer contrast
    assert gap_summed > 1.6 * gap_one
    # the hybrid's contrast is the one-layer model's (within the penalty's shrinkage)
    assert gap_hybrid == pytest.approx(gap_one, abs=0.25)
    p_one = one.predict_proba(X)[:, 1]
    p_hybrid = hybrid.predict_proba(X)[:, 1]
    assert np.abs(p_hybrid - p_one)[both].max() < 0.25 * p_one[both].mean()
    # one layer carries the effect, the copy gets little, the unrelated layer nearly none
    w = hybrid.weights_.set_index(["layer", "rule"])["hybrid_effect"]
    assert w["a", "== 1"] > 2.0 and abs(w["b", "== 1"]) < 0.5 and abs(w["c", "== 1"]) < 0.2


def test_hybrid_steps_show_the_test_before_and_after(copies):
    X, y, _, _ = copies
    hybrid = _quiet_fit(WeightsOfEvidence(on_dependence="hybrid"), X, y)
    steps = hybrid.independence_steps_
    assert steps["remedy"].tolist() == ["", "hybrid"]
    assert steps["passed"].tolist() == [False, True]
    assert steps["ratio"].iloc[0] < 0.5 and steps["ratio"].iloc[1] == pytest.approx(1.0)
    assert steps["training_auc"].between(0.5, 1.0).all()
    assert steps["layers"].iloc[1] == "a,b,c"  # nothing is left out
    assert hybrid.hybrid_ is not None and hybrid.hybrid_.n_iter < 50
    # the posterior total equals the observed total (the fitted intercept)
    assert hybrid.predict_proba(X)[:, 1].sum() == pytest.approx(y.sum(), rel=1e-6)


def test_hybrid_leaves_an_independent_model_alone():
    rng = np.random.default_rng(1)
    n = 20_000
    a, c = rng.random(n) < 0.2, rng.random(n) < 0.3
    y = ((a & (rng.random(n) < 0.04)) | (c & (rng.random(n) < 0.02))).astype(int)
    X = pd.DataFrame({"a": a.astype(float), "c": c.astype(float)})
    plain = _quiet_fit(WeightsOfEvidence(), X, y)
    hybrid = _quiet_fit(WeightsOfEvidence(on_dependence="hybrid"), X, y)
    assert plain.independence_["passed"]
    assert hybrid.hybrid_ is None and len(hybrid.independence_steps_) == 1
    np.testing.assert_allclose(hybrid.predict_proba(X), plain.predict_proba(X))


def test_hybrid_keeps_empty_classes_and_missing_data_finite(copies):
    X, y, a, _ = copies
    X = X.copy()
    lith = np.where(a, "host", "other").astype(object)
    lith[:20] = "rare"  # a small class
    y = y.copy()
    y[:20] = 0  # without a deposit
    X["lith"] = pd.Categorical(lith)
    X.loc[X.index[100:400], "b"] = np.nan  # missing data on one layer
    hybrid = _quiet_fit(WeightsOfEvidence(on_dependence="hybrid"), X, y)
    assert hybrid.hybrid_ is not None
    rare = hybrid.weights_.set_index(["layer", "class"]).loc[("lith", "rare"), "hybrid_effect"]
    assert np.isfinite(rare) and rare < 0.5  # the penalty keeps the empty class finite
    p, std = hybrid._predict(X, with_std=True)
    assert std is not None and np.isfinite(p).all() and np.isfinite(std).all()
    assert (std > 0).all()


def test_fit_hybrid_matches_an_unpenalized_logistic_regression():
    """With l2=0 the WLR on unique conditions is the ordinary maximum-likelihood fit."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    n = 5_000
    a = (rng.random(n) < 0.3).astype(np.int64)
    c = rng.choice(3, n, p=[0.5, 0.3, 0.2])  # class 0 has the largest area: the reference
    y = (rng.random(n) < expit(-3 + 1.2 * a + 0.5 * (c == 2) - 0.4 * (c == 1))).astype(float)
    fit = fit_hybrid({"a": a, "c": c}, {"a": 2, "c": 3}, np.ones(n), y, l2=0.0)
    design = np.column_stack([a == 1, c == 1, c == 2]).astype(float)  # references: a=0, c=0
    assert fit.columns == [("a", 1), ("c", 1), ("c", 2)]
    reference = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(design, y)
    np.testing.assert_allclose(fit.coef, reference.coef_[0], atol=1e-6)
    assert fit.intercept == pytest.approx(reference.intercept_[0], abs=1e-6)
    with pytest.raises(ModelError, match="l2=-1"):
        fit_hybrid({"a": a}, {"a": 2}, np.ones(n), y, l2=-1)


def test_unknown_remedy_names_the_choices():
    X = pd.DataFrame({"a": [0.0, 1.0, 1.0, 0.0]})
    with pytest.raises(ModelError, match="'hybrid'"):
        WeightsOfEvidence(on_dependence="merge").fit(X, [0, 1, 0, 0])


def test_real_recipe_with_the_hybrid_remedy(data_root):
    """carbonatite-ree / conus at 25 km: the hybrid acts, and validation.json/report.md show it."""
    from geomap.models.validation_report import ValidationReport
    from geomap.pipeline import model_region
    from geomap.pipeline.trust import validation_section

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = model_region(
            "carbonatite-ree",
            "conus",
            resolution_m=25_000,
            params={"on_dependence": "hybrid"},
            control=None,
        )
    model = result.estimator
    steps = model.independence_steps_
    assert steps["remedy"].tolist() == ["", "hybrid"] and steps["passed"].iloc[-1]
    assert not model.dropped_layers_ or all(
        "remedy" not in reason for reason in model.dropped_layers_.values()
    )
    metrics = result.metrics()
    assert [s["remedy"] for s in metrics["independence_remedy"]] == ["", "hybrid"]
    payload = json.loads(result.validation.to_json())
    again = ValidationReport.from_dict(payload)
    assert [s["remedy"] for s in again.settings["independence_remedy"]] == ["", "hybrid"]
    assert again.auc["held_out"] is not None and again.auc["baseline_held_out"] is not None
    section = validation_section(metrics)
    assert "none: logistic/WofE hybrid on the same classes" in section
    assert "training AUC" in section
    assert "hybrid_effect" in result.model_table().columns

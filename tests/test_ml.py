# ruff: noqa: N806  (scikit-learn naming: X is a table)
"""Logistic regression, random forest, gradient boosting: presence-only sampling, NaN and
categorical layers, bounded trees, importances, uncertainty, the scikit-learn contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from geomap.errors import ModelError
from geomap.models import (
    DegenerateEvidenceWarning,
    GradientBoostingProspectivity,
    LogisticProspectivity,
    ModelWarning,
    RandomForestProspectivity,
    make_model,
    sample_background,
)


def synthetic(n_side: int = 60, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Cells on a 1 km grid; occurrences where 'signal' is high and lithology is 'granite'."""
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij")
    signal = rng.normal(size=yy.size)
    noise = rng.normal(size=yy.size)
    lith = np.where(xx.ravel() < n_side // 2, "granite", "shale")
    logit = -5.5 + 2.0 * signal + 1.5 * (lith == "granite")
    y = (rng.random(yy.size) < 1 / (1 + np.exp(-logit))).astype(int)
    signal[rng.random(yy.size) < 0.1] = np.nan  # gaps
    index = pd.MultiIndex.from_arrays(
        [1000.0 * yy.ravel() + 500, 1000.0 * xx.ravel() + 500], names=["y", "x"]
    )
    X = pd.DataFrame({"signal": signal, "noise": noise, "lith": pd.Categorical(lith)}, index=index)
    return X, y


BUFFER = 1500.0  # metres; the synthetic grid has 1 km cells
MODELS = [
    LogisticProspectivity(background_buffer_m=BUFFER),
    RandomForestProspectivity(n_estimators=40, max_leaf_nodes=64, background_buffer_m=BUFFER),
    GradientBoostingProspectivity(n_ensemble=2, max_iter=20, background_buffer_m=BUFFER),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_models_learn_the_signal_with_nan_and_categories(model):
    X, y = synthetic()
    fitted = clone(model).fit(X, y)
    p, std = fitted.predict_with_uncertainty(X)
    assert np.isfinite(p).all() and np.isfinite(std).all() and (std >= 0).all()
    assert ((p >= 0) & (p <= 1)).all()
    ok = X["signal"].notna().to_numpy()
    assert roc_auc_score(y[ok], p[ok]) > 0.75
    importances = dict(zip(X.columns, fitted.feature_importances_, strict=True))
    assert importances["signal"] > importances["noise"]
    assert sum(importances.values()) == pytest.approx(1.0)
    assert fitted.training_summary_["n_positive_cells"] == y.sum()
    np.testing.assert_allclose(fitted.predict_proba(X)[:, 1], p)
    np.testing.assert_allclose(fitted.predict_std(X), std)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_scikit_learn_contract(model):
    twin = clone(model)
    assert twin.get_params() == model.get_params()
    assert twin.set_params(random_state=3) is twin and twin.random_state == 3
    X, y = synthetic(30)
    assert twin.fit(X, y) is twin
    assert not hasattr(clone(twin), "importance_table_")
    assert twin.n_features_in_ == 3 and twin.classes_.tolist() == [0, 1]
    with pytest.raises(ModelError, match="not fitted"):
        clone(model).predict_std(X)


def test_seeded_fits_are_reproducible():
    X, y = synthetic(30)
    model = RandomForestProspectivity(n_estimators=20, random_state=7, background_buffer_m=BUFFER)
    a = clone(model).fit(X, y).predict_proba(X)
    b = clone(model).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_background_sample_respects_the_buffer_and_the_seed():
    X, y = synthetic()
    coords = np.column_stack([X.index.get_level_values("x"), X.index.get_level_values("y")])
    rows = sample_background(coords, y, buffer_m=BUFFER, ratio=2, random_state=1)
    assert set(np.flatnonzero(y)) <= set(rows)
    background = np.setdiff1d(rows, np.flatnonzero(y))
    assert background.size == 2 * y.sum()
    distance, _ = cKDTree(coords[y == 1]).query(coords[background])
    assert distance.min() > BUFFER
    again = sample_background(coords, y, buffer_m=BUFFER, ratio=2, random_state=1)
    np.testing.assert_array_equal(rows, again)
    other = sample_background(coords, y, buffer_m=BUFFER, ratio=2, random_state=2)
    assert not np.array_equal(rows, other)
    with pytest.raises(ModelError, match="no cell lies farther"):
        sample_background(coords, y, buffer_m=1e7, ratio=2)
    with pytest.warns(ModelWarning, match="background cells lie farther"):
        sample_background(coords, y, buffer_m=BUFFER, ratio=1000)


def test_presence_only_needs_coordinates_and_full_mode_uses_every_cell():
    X, y = synthetic(30)
    plain = X.reset_index(drop=True)
    with pytest.raises(ModelError, match="coordinates"):
        LogisticProspectivity(background_buffer_m=BUFFER).fit(plain, y)
    coords = np.column_stack([X.index.get_level_values("x"), X.index.get_level_values("y")])
    model = LogisticProspectivity(background_buffer_m=BUFFER).fit(plain, y, coords=coords)
    assert model.training_summary_["n_background_cells"] == 10 * y.sum()
    full = LogisticProspectivity(presence_only=False).fit(plain, y)
    assert full.training_summary_["n_background_cells"] == (y == 0).sum()


def test_random_forest_size_is_bounded():
    X, y = synthetic()
    model = RandomForestProspectivity(n_estimators=10, max_leaf_nodes=16, presence_only=False)
    model.fit(X, y)
    assert max(t.tree_.node_count for t in model.forest_.estimators_) <= 2 * 16 - 1
    with pytest.raises(ModelError, match="unbounded"):
        RandomForestProspectivity(max_leaf_nodes=None).fit(X, y)
    with pytest.raises(ModelError, match="at least 2"):
        RandomForestProspectivity(n_estimators=1).fit(X, y)


def test_logistic_uncertainty_shrinks_with_more_data():
    def mean_std(n_side: int) -> float:
        X, y = synthetic(n_side, seed=1)
        model = LogisticProspectivity(presence_only=False, class_weight=None, C=1e6)
        model.fit(X[["signal", "noise"]], y)
        probe = pd.DataFrame({"signal": [1.0], "noise": [0.0]})
        return float(model.predict_std(probe)[0])

    small, large = mean_std(40), mean_std(80)  # four times the cells
    assert 0.35 < large / small < 0.7  # standard errors scale like 1/sqrt(n)


def test_logistic_coefficients_table_and_missing_indicator():
    X, y = synthetic()
    model = LogisticProspectivity(background_buffer_m=BUFFER).fit(X, y)
    table = model.importance_table_
    assert {"feature", "layer", "coefficient", "std_error", "z", "importance"} <= set(table)
    assert "signal (no data)" in set(table["feature"])
    signal = table.set_index("feature").loc["signal"]
    assert signal["coefficient"] > 0 and signal["z"] > 3


def test_degenerate_layers_are_dropped_with_a_warning():
    X, y = synthetic(30)
    X["constant"] = 1.0
    X["empty"] = np.nan
    with pytest.warns(DegenerateEvidenceWarning, match="left out"):
        model = LogisticProspectivity(background_buffer_m=BUFFER).fit(X, y)
    assert set(model.dropped_layers_) == {"constant", "empty"}
    assert np.isfinite(model.predict_proba(X)).all()


def test_make_model_by_name():
    assert isinstance(make_model("rf", {"n_estimators": 5}), RandomForestProspectivity)
    with pytest.raises(KeyError, match="unknown model 'svm'"):
        make_model("svm")
    with pytest.raises(ModelError, match="parameters are"):
        make_model("logistic", {"trees": 3})

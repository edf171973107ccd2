# ruff: noqa: N806  (scikit-learn naming: X is a table)
"""Weights of evidence: hand-computed statistics, exact Bayes under conditional independence,
missing-data variance, thresholds, degenerate input, the scikit-learn contract."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from geomap.errors import ModelError
from geomap.models import (
    ConditionalIndependenceWarning,
    DegenerateEvidenceWarning,
    ModelWarning,
    WeightsOfEvidence,
    contrast_statistics,
)

# --------------------------------------------------------------------------- a textbook case
# A binary pattern B covering 100 of T = 1000 unit cells holds 12 of the D = 20 training cells.
# Contingency table (unit cells):  N(B∩D)=12  N(B∩~D)=88  N(~B∩D)=8  N(~B∩~D)=892
# By hand (Bonham-Carter 1994, eqs. 9-13 .. 9-16):
#   W+ = ln[(12/20) / (88/980)]  = ln(6.681818...)  =  1.8993901334204204
#   W- = ln[(8/20)  / (892/980)] = ln(0.439461...)  = -0.8222042927895469
#   s²(W+) = 1/12 + 1/88  = 0.0946969696969697
#   s²(W-) = 1/8  + 1/892 = 0.12612107623318386
#   C = W+ - W- = 2.7215944262099674,  s(C) = 0.46991280673136965,  C/s(C) = 5.791700901154188
HAND = {
    "w_plus": 1.8993901334204204,
    "w_minus": -0.8222042927895469,
    "s_w_plus": math.sqrt(0.0946969696969697),
    "s_w_minus": math.sqrt(0.12612107623318386),
    "contrast": 2.7215944262099674,
    "s_contrast": 0.46991280673136965,
    "studentized_contrast": 5.791700901154188,
}


def textbook_table() -> tuple[pd.DataFrame, np.ndarray]:
    pattern = np.zeros(1000)
    pattern[:100] = 1
    y = np.zeros(1000, dtype=int)
    y[:12] = 1  # 12 training cells inside B
    y[100:108] = 1  # 8 outside
    return pd.DataFrame({"B": pattern}), y


def test_hand_computed_formulas_are_the_textbook_ones():
    # the constants above, recomputed from the counts with plain math
    assert math.log((12 / 20) / (88 / 980)) == pytest.approx(HAND["w_plus"], abs=1e-15)
    assert math.log((8 / 20) / (892 / 980)) == pytest.approx(HAND["w_minus"], abs=1e-15)
    assert pytest.approx(HAND["s_w_plus"] ** 2, abs=1e-15) == 1 / 12 + 1 / 88
    assert pytest.approx(HAND["s_w_minus"] ** 2, abs=1e-15) == 1 / 8 + 1 / 892


def test_contrast_statistics_match_the_hand_computed_case():
    row = contrast_statistics(12, 100, 20, 1000).iloc[0]
    for name, expected in HAND.items():
        assert row[name] == pytest.approx(expected, abs=1e-9), name
    assert not row["smoothed"]


def test_fitted_weights_match_the_hand_computed_case():
    X, y = textbook_table()
    model = WeightsOfEvidence().fit(X, y)
    weights = model.weights_.set_index("rule")
    present, absent = weights.loc["== 1"], weights.loc["== 0"]
    assert present["weight"] == pytest.approx(HAND["w_plus"], abs=1e-9)
    assert absent["weight"] == pytest.approx(HAND["w_minus"], abs=1e-9)
    assert present["weight_std"] == pytest.approx(HAND["s_w_plus"], abs=1e-9)
    assert absent["weight_std"] == pytest.approx(HAND["s_w_minus"], abs=1e-9)
    for name in ("contrast", "s_contrast", "studentized_contrast"):
        assert present[name] == pytest.approx(HAND[name], abs=1e-9)
    assert present["deposits"] == 12 and present["area_units"] == 100
    assert model.prior_probability_ == pytest.approx(20 / 1000, abs=1e-12)
    # posterior = prior odds * exp(W+) in B, exp(W-) outside
    p = model.predict_proba(pd.DataFrame({"B": [1.0, 0.0]}))[:, 1]
    odds = (20 / 980) * np.exp([HAND["w_plus"], HAND["w_minus"]])
    np.testing.assert_allclose(p, odds / (1 + odds), rtol=0, atol=1e-12)
    # a single binary layer reproduces the observed frequencies exactly: 12/100 and 8/900
    np.testing.assert_allclose(p, [12 / 100, 8 / 900], rtol=0, atol=1e-12)


def test_unit_cell_area_changes_counts_explicitly():
    # the same cells, each 0.25 km², counted in 1 km² unit cells: T = 250, B = 25 units
    X, y = textbook_table()
    model = WeightsOfEvidence(unit_area_km2=1.0).fit(X, y, cell_area_km2=0.25)
    present = model.weights_.set_index("rule").loc["== 1"]
    # by hand: N(B∩D)=12, N(B∩~D)=25-12=13, N(~B∩D)=8, N(~B∩~D)=225-8=217
    assert present["w_plus"] == pytest.approx(math.log((12 / 20) / (13 / 230)), abs=1e-9)
    assert present["w_minus"] == pytest.approx(math.log((8 / 20) / (217 / 230)), abs=1e-9)
    assert present["s_w_plus"] == pytest.approx(math.sqrt(1 / 12 + 1 / 13), abs=1e-9)
    assert present["area_km2"] == pytest.approx(25.0)
    assert model.prior_probability_ == pytest.approx(20 / 250)
    with pytest.raises(ModelError, match="cell_area_km2"):
        WeightsOfEvidence(unit_area_km2=1.0).fit(X, y)


# --------------------------------------------------------------------------- exact Bayes


def conditionally_independent_cells() -> tuple[pd.DataFrame, np.ndarray]:
    """Two binary layers independent given D and given ~D (counts are products)."""
    rows = []
    # D (100 cells): P(A|D)=0.6, P(B|D)=0.7 ;  ~D (10000 cells): P(A|~D)=0.2, P(B|~D)=0.3
    for d, pa, pb, n in ((1, 0.6, 0.7, 100), (0, 0.2, 0.3, 10_000)):
        for a in (1, 0):
            for b in (1, 0):
                count = round(n * (pa if a else 1 - pa) * (pb if b else 1 - pb))
                rows += [(d, a, b)] * count
    cells = np.array(rows)
    return pd.DataFrame({"A": cells[:, 1], "B": cells[:, 2]}), cells[:, 0]


def test_posterior_equals_exact_bayes_under_conditional_independence():
    X, y = conditionally_independent_cells()
    model = WeightsOfEvidence().fit(X, y)
    combos = pd.DataFrame({"A": [1, 1, 0, 0], "B": [1, 0, 1, 0]})
    exact = []
    for a, b in combos.itertuples(index=False):
        inside = (X["A"] == a) & (X["B"] == b)
        exact.append(y[inside].sum() / inside.sum())  # P(D | A=a, B=b) by counting
    np.testing.assert_allclose(model.predict_proba(combos)[:, 1], exact, rtol=1e-12, atol=0)
    # the omnibus test passes exactly: the posteriors sum to the observed count
    assert model.independence_["predicted"] == pytest.approx(100.0, rel=1e-12)
    assert model.independence_["passed"]
    assert model.pairwise_independence_["chi2"].iloc[0] == pytest.approx(0.0, abs=1e-9)


def test_posterior_std_includes_the_missing_data_variance():
    X, y = conditionally_independent_cells()
    model = WeightsOfEvidence().fit(X, y)
    layer_a, layer_b = model.layers_["A"], model.layers_["B"]
    prior_var = 1 / 100 + 1 / 10_000
    # cell with A present and B missing
    cell = pd.DataFrame({"A": [1.0], "B": [np.nan]})
    logit = math.log(100 / 10_000) + layer_a.weights[1]
    p = 1 / (1 + math.exp(-logit))
    var_weights = (p * (1 - p)) ** 2 * (prior_var + layer_a.variances[1])
    # B would have been present with probability pi_1 = N(B)/T, absent with pi_0
    pi_b = (0.7 * 100 + 0.3 * 10_000) / 10_100
    p1 = 1 / (1 + math.exp(-(logit + layer_b.weights[1])))
    p0 = 1 / (1 + math.exp(-(logit + layer_b.weights[0])))
    var_missing = pi_b * (p1 - p) ** 2 + (1 - pi_b) * (p0 - p) ** 2
    assert model.predict_proba(cell)[0, 1] == pytest.approx(p, abs=1e-14)
    assert model.predict_std(cell)[0] == pytest.approx(math.sqrt(var_weights + var_missing), 1e-12)
    # with both layers known there is no missing-data term
    full = pd.DataFrame({"A": [1.0], "B": [1.0]})
    pf = model.predict_proba(full)[0, 1]
    expected = pf * (1 - pf) * math.sqrt(prior_var + layer_a.variances[1] + layer_b.variances[1])
    assert model.predict_std(full)[0] == pytest.approx(expected, rel=1e-12)
    # missing data always make the answer less certain than knowing the value
    assert model.predict_std(cell)[0] > math.sqrt(var_weights)


# --------------------------------------------------------------------------- kinds


def test_continuous_threshold_maximises_studentized_contrast():
    rng = np.random.default_rng(3)
    distance = rng.uniform(0, 20_000, 5000)
    y = ((distance < 4000) & (rng.random(5000) < 0.2)).astype(int)
    y[rng.choice(5000, 5, replace=False)] = 1  # a few occurrences far away
    X = pd.DataFrame({"distance": distance})
    model = WeightsOfEvidence(n_thresholds=50).fit(X, y)
    layer = model.layers_["distance"]
    assert layer.direction == "ascending"
    assert 3000 < layer.threshold < 5000
    curve = model.contrast_curves_["distance"]
    usable = curve[curve["studentized_contrast"].notna() & (curve["contrast"] > 0)]
    assert layer.threshold == usable.loc[usable["studentized_contrast"].idxmax(), "threshold"]
    # the reverse variable is found descending
    model2 = WeightsOfEvidence().fit(pd.DataFrame({"closeness": -distance}), y)
    assert model2.layers_["closeness"].direction == "descending"
    # a forced direction is respected
    with pytest.warns(DegenerateEvidenceWarning, match="unfavourable"):
        forced = WeightsOfEvidence(directions={"distance": "descending"}).fit(X, y)
    assert forced.layers_["distance"].direction == "descending"


def test_categorical_weights_are_class_versus_rest():
    lith = np.array(["granite"] * 300 + ["basalt"] * 500 + ["shale"] * 200)
    y = np.zeros(1000, dtype=int)
    y[:15] = 1  # granite: 15 of 300
    y[300:305] = 1  # basalt: 5 of 500
    y[800:802] = 1  # shale: 2 of 200
    X = pd.DataFrame({"lith": pd.Categorical(lith)})
    model = WeightsOfEvidence().fit(X, y)
    w = model.weights_.set_index("class")
    d, t = 22, 1000
    for cls, (dk, ak) in {"granite": (15, 300), "basalt": (5, 500), "shale": (2, 200)}.items():
        expected = math.log((dk / d) / ((ak - dk) / (t - d)))
        assert w.loc[cls, "weight"] == pytest.approx(expected, abs=1e-9)
        assert w.loc[cls, "weight_std"] == pytest.approx(math.sqrt(1 / dk + 1 / (ak - dk)), 1e-9)
    assert model.predict(pd.DataFrame({"lith": ["granite", "basalt"]})).tolist() == [1, 0]


# --------------------------------------------------------------------------- degenerate input


def test_zero_count_class_is_smoothed_with_a_warning_never_log_zero():
    X = pd.DataFrame({"lith": pd.Categorical(["a"] * 50 + ["b"] * 50 + ["c"] * 900)})
    y = np.zeros(1000, dtype=int)
    y[:5] = 1
    y[100:110] = 1  # class b has none
    with pytest.warns(DegenerateEvidenceWarning, match=r"'b'.*Haldane"):
        model = WeightsOfEvidence().fit(X, y)
    row = model.weights_.set_index("class").loc["b"]
    assert row["smoothed"] and np.isfinite(row["weight"]) and row["weight"] < 0
    # 0.5 added to each count: W+ = ln[(0.5/(15+1)) / (50.5/(985+1))]
    assert row["weight"] == pytest.approx(math.log((0.5 / 16) / (50.5 / 986)), abs=1e-9)
    assert np.isfinite(model.predict_proba(X)).all()
    with pytest.raises(ModelError, match="smoothing > 0"):
        WeightsOfEvidence(smoothing=0).fit(X, y)


def test_contrast_statistics_zero_count_warns_or_raises():
    with pytest.warns(DegenerateEvidenceWarning, match="zero count"):
        frame = contrast_statistics(0, 100, 20, 1000)
    assert np.isfinite(frame.drop(columns="smoothed").to_numpy()).all()
    with pytest.raises(ModelError, match="zero count"):
        contrast_statistics(0, 100, 20, 1000, smoothing=0)
    with pytest.raises(ModelError, match="cannot form a contingency table"):
        contrast_statistics(30, 20, 40, 1000)  # more occurrences than area


def test_one_class_and_empty_layers_are_dropped_with_a_warning():
    X, y = textbook_table()
    X["everywhere"] = 1.0
    X["nothing"] = np.nan
    X["flat"] = 7.5
    with pytest.warns(DegenerateEvidenceWarning) as record:
        model = WeightsOfEvidence().fit(X, y)
    text = " ".join(str(w.message) for w in record)
    assert "'everywhere'" in text and "'nothing'" in text and "'flat'" in text
    assert set(model.dropped_layers_) == {"everywhere", "nothing", "flat"}
    assert list(model.layers_) == ["B"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ModelError, match="no usable evidence layer"):
            WeightsOfEvidence().fit(X[["everywhere"]], y)


def test_several_points_in_one_cell_count_once():
    X, y = textbook_table()
    counts = y.copy()
    counts[:3] = 4  # three cells hold four points each
    with pytest.warns(ModelWarning, match="more than one training occurrence"):
        model = WeightsOfEvidence().fit(X, counts)
    reference = WeightsOfEvidence().fit(X, y)
    pd.testing.assert_frame_equal(model.weights_, reference.weights_)


def test_perfectly_correlated_layers_are_dropped_or_an_error():
    X, y = textbook_table()
    X["same"] = X["B"]
    with pytest.warns(DegenerateEvidenceWarning, match="'B' and 'same'.*identically"):
        model = WeightsOfEvidence().fit(X, y)
    assert list(model.layers_) == ["B"] and "same" in model.dropped_layers_
    assert set(model.weights_["layer"]) == {"B"}
    # the result is the one-layer model: nothing counted twice
    single = WeightsOfEvidence().fit(X[["B"]], y)
    np.testing.assert_allclose(model.predict_proba(X), single.predict_proba(X[["B"]]))
    X["same"] = 1 - X["B"]  # complementary patterns are the same partition
    with pytest.raises(ModelError, match="identically"):
        WeightsOfEvidence(on_dependence="raise").fit(X, y)


def test_conditional_dependence_warns_or_raises():
    rng = np.random.default_rng(0)
    base = rng.random(4000) < 0.2
    y = ((base & (rng.random(4000) < 0.3)) | (rng.random(4000) < 0.005)).astype(int)
    noisy = base ^ (rng.random(4000) < 0.02)  # nearly the same pattern twice
    X = pd.DataFrame({"a": base.astype(float), "b": noisy.astype(float)})
    with pytest.warns(ConditionalIndependenceWarning, match="conditional independence"):
        model = WeightsOfEvidence().fit(X, y)
    assert not model.independence_["passed"]
    assert model.independence_["ratio"] < 0.85
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ModelError, match="conditional independence"):
            WeightsOfEvidence(on_dependence="raise").fit(X, y)


def test_no_training_cell_and_bad_labels_are_errors():
    X, _ = textbook_table()
    with pytest.raises(ModelError, match="no training occurrence"):
        WeightsOfEvidence().fit(X, np.zeros(1000))
    with pytest.raises(ModelError, match="non-negative whole numbers"):
        WeightsOfEvidence().fit(X, np.full(1000, 0.5))
    with pytest.raises(ModelError, match="one label per cell"):
        WeightsOfEvidence().fit(X, np.zeros(10))
    bad = X.copy()
    bad.iloc[0, 0] = np.inf
    with pytest.raises(ModelError, match="infinite"):
        WeightsOfEvidence().fit(bad, textbook_table()[1])


def test_prediction_is_finite_with_missing_and_unseen_values():
    X = pd.DataFrame(
        {
            "lith": pd.Categorical(["a"] * 500 + ["b"] * 500),
            "dist": np.linspace(0, 1000, 1000),
        }
    )
    y = np.zeros(1000, dtype=int)
    y[::37] = 1
    y[:100:9] = 1
    model = WeightsOfEvidence().fit(X, y)
    new = pd.DataFrame({"lith": pd.Categorical(["a", None, "zzz"]), "dist": [np.nan, np.nan, 10.0]})
    with pytest.warns(DegenerateEvidenceWarning, match="not seen when fitting"):
        p, std = model.predict_with_uncertainty(new)
    assert np.isfinite(p).all() and np.isfinite(std).all()
    # a cell with no data at all gets the prior
    assert p[1] == pytest.approx(model.prior_probability_, rel=1e-12)


# --------------------------------------------------------------------------- sklearn contract


def test_scikit_learn_contract():
    X, y = textbook_table()
    model = WeightsOfEvidence(n_thresholds=10, smoothing=0.25)
    assert model.get_params()["n_thresholds"] == 10
    twin = clone(model)
    assert twin.get_params() == model.get_params() and twin is not model
    assert model.set_params(smoothing=0.5) is model and model.smoothing == 0.5
    with pytest.raises(ModelError, match="not fitted"):
        model.predict_proba(X)
    assert model.fit(X, y) is model
    assert model.n_features_in_ == 1 and list(model.feature_names_in_) == ["B"]
    assert not hasattr(clone(model), "weights_")
    assert model.predict_proba(X).shape == (1000, 2)
    assert set(np.unique(model.predict(X))) == {0, 1}
    with pytest.raises(ModelError, match="lacks the evidence layers"):
        model.predict_proba(pd.DataFrame({"other": [1.0]}))


def test_log_odds_are_prior_plus_weights():
    X, y = textbook_table()
    model = WeightsOfEvidence().fit(X, y)
    expected = math.log(20 / 980) + HAND["w_plus"]
    assert model.log_odds(pd.DataFrame({"B": [1.0]}))[0] == pytest.approx(expected, abs=1e-12)


# --------------------------------------------------------------------------- properties

# counts of unit cells: zero, whole numbers, or fractions (sampled or partial cells)
counts = (
    st.just(0)
    | st.integers(min_value=1, max_value=10**7)
    | st.floats(min_value=1e-6, max_value=1e12, allow_nan=False, allow_infinity=False)
)


@settings(max_examples=300, deadline=None)
@given(n11=counts, n10=counts, n01=counts, n00=counts)
def test_statistics_are_finite_on_any_contingency_table(n11, n10, n01, n00):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = contrast_statistics(n11, n11 + n10, n11 + n01, n11 + n10 + n01 + n00)
    values = frame.drop(columns="smoothed").to_numpy(dtype=float)
    assert np.isfinite(values).all()
    # zero means below 1e-9 unit cells or 1e-12 of the table (rounding residue of areas)
    zero = max(1e-9, 1e-12 * (n11 + n10 + n01 + n00))
    smallest = min(n11, n10, n01, n00)
    if not zero / 10 < smallest < zero * 10:  # away from the rounding boundary
        degenerate = smallest < zero
        assert bool(frame["smoothed"].iloc[0]) == degenerate
        warned = any(issubclass(w.category, DegenerateEvidenceWarning) for w in caught)
        assert warned == degenerate


cell_values = st.sampled_from([0.0, 1.0, np.nan])


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(st.tuples(cell_values, cell_values, st.integers(0, 3)), min_size=4, max_size=60)
)
def test_fitted_model_never_returns_nan(data):
    frame = pd.DataFrame(data, columns=["a", "b", "y"])
    y = frame.pop("y").to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = WeightsOfEvidence().fit(frame, y)
        except ModelError as exc:  # degenerate tables must fail with a clear message
            message = str(exc)
            assert "; " in message  # what is wrong; how to fix it
            return
        p, std = model.predict_with_uncertainty(frame)
    assert np.isfinite(p).all() and np.isfinite(std).all()
    assert ((p > 0) & (p < 1)).all()

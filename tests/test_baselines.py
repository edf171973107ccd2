# ruff: noqa: N806  (scikit-learn naming: X is a table)
"""Every validation reports the distance baseline (inside each fold) and a specificity control."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from geomap.models.baselines import (
    PROXIMITY_LAYER,
    control_commodities,
    distance_scores,
    proximity_for_fold,
)
from geomap.models.validate import SpatialBlockKFold, ValidationReport, roc_table

RES = 25_000.0


@pytest.fixture(scope="module")
def ree_conus(data_root):
    from geomap.pipeline import model_region

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_region("carbonatite-ree", "conus", resolution_m=RES)


def test_distance_scores_leave_one_out():
    sources = np.array([[0.0, 0.0], [10.0, 0.0]])
    assert distance_scores(np.array([[3.0, 4.0]]), sources).tolist() == [-5.0]
    loo = distance_scores(sources, sources, exclude_self=True)
    assert loo.tolist() == [-10.0, -10.0]
    assert distance_scores(np.zeros((2, 2)), np.empty((0, 2))).tolist() == [0.0, 0.0]


def test_control_commodities_are_unrelated_to_the_recipe():
    assert control_commodities(["REE", "Nb", "Th"]) == ["Au", "Ag"]
    assert control_commodities(["Au", "Cu"]) == ["REE"]


def test_spatial_cv_reports_baseline_and_control_beside_the_model(ree_conus):
    report = ree_conus.validation
    auc = report.auc
    for key in ("held_out", "baseline_held_out", "baseline_margin", "control_held_out"):
        assert auc[key] is not None, key
    assert auc["baseline_margin"] == pytest.approx(auc["held_out"] - auc["baseline_held_out"])
    assert report.counts["n_control_cells"] > 10
    assert report.settings["control_commodities"] == "Au,Ag"
    verdict = [n for n in report.notes if "baseline" in n]
    assert verdict and ("does NOT beat" in verdict[0]) == (auc["baseline_margin"] <= 0)
    # the numbers survive validation.json
    again = ValidationReport.from_dict(json.loads(report.to_json()))
    assert again.auc["baseline_held_out"] == pytest.approx(auc["baseline_held_out"])


def test_baseline_is_computed_inside_each_fold(ree_conus):
    """Recompute fold 0's baseline by hand: distances to the *training-fold* positives only."""
    table, report = ree_conus.table, ree_conus.validation
    settings = report.settings
    splitter = SpatialBlockKFold(
        block_size_m=settings["block_size_m"],
        n_splits=settings["n_splits"],
        buffer_m=settings["buffer_m"],
        random_state=settings["random_state"],
    )
    train, test = next(iter(splitter.split(table.X, table.y, coords=table.coords)))
    positives = table.coords[train[table.y[train] > 0]]
    gaps = np.hypot(*(table.coords[test][:, None, :] - positives[None, :, :]).transpose(2, 0, 1))
    score = -gaps.min(axis=1)
    _, expected = roc_table(table.y[test], score, sample_weight=table.sample_weight[test])
    assert report.folds["baseline_auc"].iloc[0] == pytest.approx(expected)
    # a baseline that saw every occurrence would score its own positives at distance 0
    leaky = distance_scores(table.coords, table.coords[table.y > 0])
    _, leaky_auc = roc_table(table.y, leaky, sample_weight=table.sample_weight)
    assert leaky_auc > report.auc["baseline_held_out"]


def test_brownfield_proximity_layer_is_recomputed_per_fold():
    coords = np.array([[0.0, 0.0], [1000.0, 0.0], [5000.0, 0.0], [9000.0, 0.0]])
    index = pd.MultiIndex.from_arrays([coords[:, 1], coords[:, 0]], names=["y", "x"])
    X = pd.DataFrame({PROXIMITY_LAYER: [0.0, 0.0, 0.0, 0.0], "other": 1.0}, index=index)

    class Table:
        y = np.array([1, 1, 0, 1])

    Table.coords = coords
    fold = proximity_for_fold(X, Table, np.array([0, 1, 2]))  # row 3 is held out
    # training positives take their nearest *other* positive; the held-out site is unseen
    assert fold[PROXIMITY_LAYER].tolist() == [1000.0, 1000.0, 4000.0, 8000.0]
    assert fold["other"].tolist() == [1.0] * 4
    greenfield = X.drop(columns=PROXIMITY_LAYER)
    assert proximity_for_fold(greenfield, Table, np.arange(4)) is greenfield  # untouched


def test_brownfield_mode_adds_a_fold_aware_proximity_layer(ree_conus, data_root):
    from geomap.pipeline import model_region

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        brown = model_region(
            "carbonatite-ree", "conus", resolution_m=RES, mode="brownfield", control=None
        )
    assert PROXIMITY_LAYER in brown.table.X.columns
    assert PROXIMITY_LAYER in brown.stack and PROXIMITY_LAYER not in ree_conus.table.X.columns
    layer = brown.stack[PROXIMITY_LAYER]
    assert float(layer.min()) < RES / 2**0.5  # a known site lies inside that cell
    # honest validation: the held-out AUC stays a held-out AUC (no fold sees its own sites),
    # and the baseline is reported beside it as in greenfield mode
    auc = brown.validation.auc
    assert auc["baseline_held_out"] == pytest.approx(ree_conus.validation.auc["baseline_held_out"])
    assert auc["held_out"] < 0.99
    with pytest.raises(Exception, match="mode='grey'"):
        model_region("carbonatite-ree", "conus", resolution_m=RES, mode="grey", control=None)


def test_figures_draw_the_baseline_and_the_control_beside_the_model(ree_conus, tmp_path):
    """ROC and prediction-rate panels: model, baseline and control lines, AUCs in the legend."""
    from geomap.render.figures import plot_validation_curves

    report = ree_conus.validation
    auc = report.auc
    comparison = report.comparison
    baseline = comparison[comparison["series"].str.startswith("baseline")]
    # the drawn baseline is the fold-aware one whose AUC the report gives
    roc_auc = baseline.loc[baseline["curve"] == "roc", "auc"].iloc[0]
    assert roc_auc == pytest.approx(auc["baseline_held_out"])
    control = comparison[comparison["series"].str.startswith("control")]
    assert control["auc"].iloc[0] == pytest.approx(auc["control_held_out"])
    assert set(report.curves["roc"]["model"]) == {
        "model",
        "baseline (distance)",
        "control: vs Au,Ag",
    }
    assert set(report.curves["prediction_rate"]["model"]) == {"model", "baseline (distance)"}
    # the raw model tables are unchanged; the comparison survives validation.json
    assert set(report.roc["label"]) == {"training", "held_out", "held_out_well_covered"}
    again = ValidationReport.from_dict(json.loads(report.to_json()))
    pd.testing.assert_frame_equal(
        again.curves["roc"].astype({"auc": float}), report.curves["roc"].astype({"auc": float})
    )
    fig = plot_validation_curves(again, tmp_path / "curves.png", dpi=40)
    legends = {
        ax.get_title(): [t.get_text() for t in ax.get_legend().get_texts()] for ax in fig.axes
    }
    roc_legend = legends["ROC"]
    assert f"baseline (distance), AUC {auc['baseline_held_out']:.2f}" in roc_legend
    assert f"model, AUC {auc['held_out']:.2f}" in roc_legend
    assert f"control: vs Au,Ag, AUC {auc['control_held_out']:.2f}" in roc_legend
    assert any(t.startswith("baseline") for t in legends["Prediction rate (held out)"])
    assert (tmp_path / "curves.png").stat().st_size > 0


def test_a_report_without_baselines_draws_the_model_alone():
    from geomap.models.baselines import comparison_curves

    empty = comparison_curves(
        np.zeros(4, int), np.zeros(4, int), np.ones(4), np.array([-1.0, -2.0, -3.0, -4.0])
    )
    assert empty.empty and list(empty.columns) == ["curve", "series", "x", "y", "auc"]

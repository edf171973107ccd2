# ruff: noqa: N806  (scikit-learn naming: X is a table)
"""Spatial block CV, region hold-out, curves, capture table and the validation report."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree
from sklearn.base import clone
from sklearn.model_selection import KFold

from geomap.errors import ModelError
from geomap.models import (
    CellTable,
    DegenerateEvidenceWarning,
    LogisticProspectivity,
    ModelWarning,
    RandomForestProspectivity,
    SpatialBlockKFold,
    ValidationReport,
    WeightsOfEvidence,
    block_labels,
    capture_table,
    prediction_area_curve,
    rate_curve,
    region_held_out,
    roc_table,
    spatial_cross_validate,
)

# --------------------------------------------------------------------------- curves by hand


def test_rate_curve_by_hand():
    # 4 cells, scores 0.9 0.8 0.2 0.1; occurrences in the 1st and 3rd cell
    curve = rate_curve([0.9, 0.8, 0.2, 0.1], [1, 0, 1, 0])
    np.testing.assert_allclose(curve["area_fraction"], [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(curve["occurrence_fraction"], [0, 0.5, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(curve["threshold"], [0.9, 0.9, 0.8, 0.2, 0.1])
    # trapezoids: 0.25*(0+0.5)/2 + 0.25*0.5 + 0.25*(0.5+1)/2 + 0.25*1 = 0.625
    assert curve.attrs["auc"] == pytest.approx(0.625)


def test_ties_enter_together_and_do_not_depend_on_order():
    scores = np.array([0.5, 0.5, 0.5, 0.5, 0.1])
    a = rate_curve(scores, [1, 0, 0, 0, 0])
    b = rate_curve(scores, [0, 0, 0, 1, 0])
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_allclose(a["area_fraction"], [0, 0.8, 1.0])


def test_perfect_and_random_models():
    rng = np.random.default_rng(0)
    y = (rng.random(20_000) < 0.02).astype(int)
    perfect = y + rng.random(y.size) * 0.5
    _, auc = roc_table(y, perfect)
    assert auc == pytest.approx(1.0)
    cap = capture_table(perfect, y)
    assert cap["captured_pct"].tolist() == pytest.approx([50.0, 100.0, 100.0, 100.0], abs=5)
    _, auc_random = roc_table(y, rng.random(y.size))
    assert abs(auc_random - 0.5) < 0.05
    assert abs(rate_curve(rng.random(y.size), y).attrs["auc"] - 0.5) < 0.05


def test_capture_table_by_hand():
    # 100 cells ranked 99..0; occurrences in the 10 best and the 10 worst
    occurrences = np.zeros(100)
    occurrences[90:] = 1
    occurrences[:10] = 1
    table = capture_table(np.arange(100.0), occurrences)
    assert table["captured_pct"].tolist() == pytest.approx([5.0, 25.0, 50.0, 50.0])
    assert table["threshold"].tolist() == [99.0, 95.0, 90.0, 80.0]


def test_prediction_area_intersection_by_hand():
    # 10 cells ranked 10..1, occurrences in the 3 best cells and the 6th:
    # after k cells: rate = captured/4, area = k/10; rate + area = 1 at k = 4 - between k=3 (0.75 +
    # 0.3 = 1.05) and k=2 (0.5 + 0.2 = 0.7): w = 0.3/0.35, area = 0.2 + 0.1 w
    occurrences = np.array([0, 0, 0, 0, 1, 0, 0, 1, 1, 1])
    curve, point = prediction_area_curve(np.arange(1.0, 11.0), occurrences)
    w = 0.3 / 0.35
    assert point["selected_area_fraction"] == pytest.approx(0.2 + 0.1 * w)
    assert point["prediction_rate"] == pytest.approx(0.5 + 0.25 * w)
    assert point["prediction_rate"] + point["selected_area_fraction"] == pytest.approx(1.0)
    assert point["normalized_density"] == pytest.approx(
        point["prediction_rate"] / point["selected_area_fraction"]
    )
    assert point["weight"] == pytest.approx(math.log(point["normalized_density"]))
    np.testing.assert_allclose(curve["area_fraction"], 1 - curve["selected_area_fraction"])


def test_area_weights_stand_for_sampled_cells():
    # one sampled negative standing for 8 cells equals 8 copies of it
    weighted = rate_curve([0.9, 0.1], [1, 0], area=[1, 8])
    copies = rate_curve([0.9] + [0.1] * 8, [1] + [0] * 8)
    assert weighted.attrs["auc"] == pytest.approx(copies.attrs["auc"])


def test_curves_refuse_nan_scores():
    with pytest.raises(ModelError, match="NaN or infinite"):
        rate_curve([0.5, np.nan], [1, 0])


# --------------------------------------------------------------------------- spatial blocks


def grid_coords(n_side: int, cell: float = 1000.0) -> np.ndarray:
    yy, xx = np.meshgrid(np.arange(n_side), np.arange(n_side), indexing="ij")
    return np.column_stack([cell * xx.ravel() + cell / 2, cell * yy.ravel() + cell / 2])


def test_blocks_are_squares_of_the_given_size():
    coords = grid_coords(20)
    labels = block_labels(coords, 5000)
    assert np.unique(labels).size == 16
    for b in np.unique(labels):
        inside = coords[labels == b]
        assert np.ptp(inside[:, 0]) < 5000 and np.ptp(inside[:, 1]) < 5000
        assert len(inside) == 25


def test_spatial_folds_separate_space():
    coords = grid_coords(40)
    rng = np.random.default_rng(1)
    y = (rng.random(len(coords)) < 0.03).astype(int)
    splitter = SpatialBlockKFold(block_size_m=8000, n_splits=4, buffer_m=3000, random_state=0)
    blocks = block_labels(coords, 8000)
    seen = np.zeros(len(coords), dtype=int)
    positives = []
    for train, test in splitter.split(None, y, coords=coords):
        seen[test] += 1
        # a block is never split between training and test
        assert not set(blocks[train]) & set(blocks[test])
        # the buffer keeps training cells at least buffer_m away from every test cell
        distance, _ = cKDTree(coords[test]).query(coords[train])
        assert distance.min() >= 3000
        positives.append(y[test].sum())
    assert (seen == 1).all()  # every cell is tested exactly once
    assert max(positives) - min(positives) <= 2  # occurrences are spread over the folds
    # reproducible with the seed
    again = list(splitter.split(None, y, coords=coords))
    first = list(splitter.split(None, y, coords=coords))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(again, first, strict=True))


def test_too_few_blocks_with_occurrences():
    coords = grid_coords(20)
    y = np.zeros(len(coords), dtype=int)
    y[[0, 399]] = 1
    with pytest.warns(ModelWarning, match="using 2 folds"):
        folds = SpatialBlockKFold(block_size_m=5000, n_splits=5).assign_folds(coords, y)
    assert np.unique(folds).size == 2
    y[399] = 0
    with pytest.raises(ModelError, match="at least 2"):
        SpatialBlockKFold(block_size_m=5000).assign_folds(coords, y)


def clustered_table(n_side: int = 50, seed: int = 0, region: str = "synthetic") -> CellTable:
    """Occurrences in spatial clusters; 'signal' truly favourable, coordinates as features."""
    rng = np.random.default_rng(seed)
    coords = grid_coords(n_side, 2000.0)
    centres = rng.uniform(0, n_side * 2000.0, (6, 2))
    near = cKDTree(centres).query(coords)[0] < 6000
    signal = rng.normal(size=len(coords)) + near * 1.0
    y = (near & (rng.random(len(coords)) < 0.25)).astype(np.int8)
    index = pd.MultiIndex.from_arrays([coords[:, 1], coords[:, 0]], names=["y", "x"])
    X = pd.DataFrame(
        {
            "signal": signal,
            "easting": coords[:, 0],
            "northing": coords[:, 1],
        },
        index=index,
    )
    X.loc[X.index[: n_side * 5], "signal"] = np.nan  # a strip without data
    n = len(X)
    return CellTable(
        X=X,
        y=y,
        occurrences=y.astype(np.int32),
        sample_weight=np.ones(n),
        coverage=X.notna().sum(axis=1).to_numpy(np.int16),
        rows=np.zeros(n, np.int32),
        cols=np.zeros(n, np.int32),
        cell_area_km2=4.0,
        cell_size_m=2000.0,
        crs="EPSG:5070",
        shape=(n_side, n_side),
        kinds={"signal": "continuous", "easting": "continuous", "northing": "continuous"},
        region=region,
    )


def test_spatial_cv_exposes_a_model_that_memorises_location():
    """A forest on coordinates alone looks excellent under random CV and not under block CV."""
    table = clustered_table()
    X = table.X[["easting", "northing"]]
    model = RandomForestProspectivity(
        n_estimators=60, min_samples_leaf=5, presence_only=False, random_state=0
    )
    random_oof = np.zeros(len(X))
    for train, test in KFold(5, shuffle=True, random_state=0).split(X):
        random_oof[test] = (
            clone(model).fit(X.iloc[train], table.y[train]).predict_proba(X.iloc[test])[:, 1]
        )
    _, random_auc = roc_table(table.y, random_oof)
    located = CellTable(**{**table.__dict__, "X": X})
    report = spatial_cross_validate(model, located, block_size_m=20_000, n_splits=5)
    assert random_auc > 0.85  # neighbours of test cells were in training: looks skilful
    assert report.auc["held_out"] < random_auc - 0.15  # whole blocks held out: it is not
    assert report.auc["training"] > 0.9  # it memorised the training cells


def test_spatial_cross_validation_report():
    table = clustered_table()
    data = CellTable(**{**table.__dict__, "X": table.X[["signal"]]})
    report = spatial_cross_validate(
        WeightsOfEvidence(), data, block_size_m=20_000, n_splits=4, buffer_m=2000
    )
    assert report.method == "spatial_block_cv" and report.test_region == "synthetic"
    assert 0.6 < report.auc["held_out"] <= report.auc["training"] + 0.05
    assert report.auc["held_out_well_covered"] is not None
    assert len(report.folds) == 4 and report.folds["n_test_positive_cells"].sum() == data.y.sum()
    assert set(report.roc["label"]) == {"training", "held_out", "held_out_well_covered"}
    assert report.capture["top_area_pct"].tolist() == [1.0, 5.0, 10.0, 20.0]
    assert (np.diff(report.capture["held_out_pct"]) >= 0).all()
    # coverage is carried alongside: the strip without data is its own row
    cover = report.coverage.set_index("coverage")
    assert cover.loc[0, "n_cells"] == 250 and cover.loc[1, "n_cells"] == 2250
    assert report.counts["n_layers"] == 1
    assert report.settings["block_size_m"] == 20_000
    assert "AUC" in report.summary()


def test_report_round_trips_through_json(tmp_path):
    data = clustered_table()
    data = CellTable(**{**data.__dict__, "X": data.X[["signal"]]})
    report = spatial_cross_validate(LogisticProspectivity(), data, block_size_m=20_000)
    path = tmp_path / "report.json"
    text = report.to_json(path)
    assert path.read_text() == text
    payload = json.loads(text)  # strict JSON: no NaN
    again = ValidationReport.from_dict(payload)
    assert again.auc == pytest.approx(report.auc)
    pd.testing.assert_frame_equal(again.capture, report.capture, check_dtype=False)
    assert again.success_rate.attrs["auc"] == report.success_rate.attrs["auc"]
    metrics = report.metrics()
    assert set(metrics["capture"]) == {"top_1pct", "top_5pct", "top_10pct", "top_20pct"}


def test_report_draws_with_the_renderer(tmp_path):
    from geomap.render.figures import plot_validation_curves

    data = clustered_table()
    data = CellTable(**{**data.__dict__, "X": data.X[["signal"]]})
    report = spatial_cross_validate(WeightsOfEvidence(), data, block_size_m=20_000)
    fig = plot_validation_curves(report, tmp_path / "curves.png", dpi=50)
    assert len(fig.axes) == 4 and (tmp_path / "curves.png").stat().st_size > 0


def test_region_held_out_reports_each_pair():
    east = clustered_table(seed=1, region="east")
    west = clustered_table(seed=2, region="west")
    west = CellTable(**{**west.__dict__, "X": west.X.assign(extra=1.0)})
    reports = region_held_out(
        LogisticProspectivity(), {"east": east, "west": west}, normalize="rank"
    )
    assert [(r.train_region, r.test_region) for r in reports] == [
        ("east", "west"),
        ("west", "east"),
    ]
    for report in reports:
        assert report.method == "region_held_out"
        assert report.auc["held_out"] is not None
        assert any("extra" in note for note in report.notes)
        assert report.counts["test_n_positive_cells"] > 0
    with pytest.raises(ModelError, match="at least two regions"):
        region_held_out(LogisticProspectivity(), {"east": east})
    with pytest.raises(ModelError, match="normalize"):
        region_held_out(LogisticProspectivity(), {"a": east, "b": west}, normalize="minmax")


def test_fold_warnings_are_recorded_in_notes():
    table = clustered_table()
    data = CellTable(**{**table.__dict__, "X": table.X.assign(flat=1.0)[["signal", "flat"]]})
    with pytest.warns(DegenerateEvidenceWarning, match="flat"):  # the full fit warns the user
        report = spatial_cross_validate(WeightsOfEvidence(), data, block_size_m=20_000)
    assert any("'flat'" in note and "fold 0" in note for note in report.notes)


def test_knowledge_driven_models_hold_out_every_occurrence():
    from geomap.models import FuzzyOverlay

    table = clustered_table()
    signal = table.X["signal"]
    membership = ((signal - signal.min()) / (signal.max() - signal.min())).to_frame("signal")
    data = CellTable(**{**table.__dict__, "X": membership})
    report = spatial_cross_validate(FuzzyOverlay(operator="or"), data, block_size_m=20_000)
    assert report.folds.empty
    assert report.auc["held_out"] == pytest.approx(report.auc["training"])
    assert any("knowledge-driven" in note for note in report.notes)
    # without any occurrence the report is still made, with undefined AUCs
    empty = CellTable(
        **{**data.__dict__, "y": np.zeros_like(data.y), "occurrences": 0 * data.occurrences}
    )
    report = spatial_cross_validate(FuzzyOverlay(operator="or"), empty, block_size_m=20_000)
    assert report.auc["held_out"] is None
    assert any("undefined" in note for note in report.notes)


# --------------------------------------------------------------------------- explaining results


def _membership_table(layers: pd.DataFrame, y: np.ndarray, region: str = "synthetic") -> CellTable:
    n = len(layers)
    side = math.ceil(math.sqrt(n))
    coords = grid_coords(side, 2000.0)[:n]
    X = layers.set_axis(pd.MultiIndex.from_arrays([coords[:, 1], coords[:, 0]], names=["y", "x"]))
    return CellTable(
        X=X,
        y=y.astype(np.int8),
        occurrences=y.astype(np.int32),
        sample_weight=np.ones(n),
        coverage=X.notna().sum(axis=1).to_numpy(np.int16),
        rows=np.zeros(n, np.int32),
        cols=np.zeros(n, np.int32),
        cell_area_km2=4.0,
        cell_size_m=2000.0,
        crs="EPSG:5070",
        shape=(side, side),
        kinds=dict.fromkeys(X.columns, "continuous"),
        region=region,
        sources=["synthetic-occurrences"],
    )


def test_tied_surface_names_the_layer_that_zeroes_a_gamma_overlay():
    from geomap.models import FuzzyOverlay, tied_surface

    rng = np.random.default_rng(3)
    n = 2000
    distance = rng.uniform(0, 1000, n)  # km to the nearest mapped mafic rock
    X = pd.DataFrame(
        {
            "near_mafic": np.clip(1 - distance / 100, 0, 1),  # 0 beyond 100 km: 90% of cells
            "gravity": rng.uniform(0, 1, n),
        }
    )
    overlay = FuzzyOverlay(operator="gamma", gamma=0.8).fit(X)
    out = tied_surface(overlay.predict_proba(X)[:, 1], X)
    assert out["tied"] and out["tied_value"] == 0.0
    assert out["tied_share"] == pytest.approx(0.9, abs=0.03)
    assert list(out["constant_layers"]) == ["near_mafic"]  # gravity varies: not the cause
    assert out["constant_layers"]["near_mafic"]["share_of_tied"] == 1.0
    assert re.search(r"near_mafic is 0 on (8|9)\d% of its cells", out["reason"])
    assert "floor" in out["reason"]
    # the same membership with a floor of 0.2 ranks every cell again
    floored = X.assign(near_mafic=np.clip(1 - distance / 1250, 0.2, 1))
    again = tied_surface(overlay.predict_proba(floored)[:, 1], floored)
    assert not again["tied"] and again["reason"] is None and again["tied_share"] < 0.01
    # sampled tables: weights count; NaN (no data) is ignored
    weighted = tied_surface([0.0, 0.0, 1.0, 2.0, np.nan], sample_weight=[1, 1, 1, 10, 5])
    assert weighted["tied"] and weighted["tied_value"] == 2.0
    assert weighted["tied_share"] == pytest.approx(10 / 13)


def test_tied_surface_is_reported_by_explain_validation():
    from geomap.models import FuzzyOverlay, explain_validation

    rng = np.random.default_rng(4)
    n = 2500
    X = pd.DataFrame(
        {"near_mafic": np.where(rng.random(n) < 0.8, 0.0, 1.0), "gravity": rng.random(n)}
    )
    y = (rng.random(n) < 0.02).astype(np.int8)
    table = _membership_table(X, y)
    model = FuzzyOverlay(operator="product")
    report = spatial_cross_validate(model, table, block_size_m=20_000)
    explained = explain_validation(report, table, report.estimator)
    assert explained["surface"]["tied"]
    assert any("shares one prospectivity value (0)" in r for r in explained["reasons"])
    assert any(
        re.search(r"near_mafic is 0 on (79|8\d)% of its cells", r) for r in explained["reasons"]
    )


def test_every_auc_below_07_comes_with_a_reason():
    from geomap.models import FuzzyOverlay, explain_validation

    rng = np.random.default_rng(5)
    n = 2500
    noise = pd.DataFrame({"a": rng.random(n), "b": rng.random(n)})
    for n_pos in (3, 60):  # few occurrences, then enough: still explained
        y = np.zeros(n, np.int8)
        y[rng.choice(n, n_pos, replace=False)] = 1
        table = _membership_table(noise, y)
        for model in (LogisticProspectivity(), FuzzyOverlay(operator="gamma", gamma=0.5)):
            report = spatial_cross_validate(model, table, block_size_m=20_000)
            held_out = report.auc["held_out"]
            assert held_out is not None and held_out < 0.7, (n_pos, model)
            reasons = explain_validation(report, table, report.estimator)["reasons"]
            assert reasons, (n_pos, model)
            if n_pos == 3:
                assert "only 3 cells" in reasons[0] and "anecdote" in reasons[0]
    # a region without any occurrence: no AUC, and the reason says why
    empty = _membership_table(noise, np.zeros(n, np.int8))
    report = spatial_cross_validate(FuzzyOverlay(operator="or"), empty, block_size_m=20_000)
    reasons = explain_validation(report, empty, report.estimator)["reasons"]
    assert reasons[0].startswith("no AUC can be computed")
    assert "synthetic-occurrences" in reasons[0] and "ROC curve needs" in reasons[0]
    # a strong layer validates well and needs no excuse
    strong = noise.assign(a=noise["a"] * 0.2 + y * 0.8)
    table = _membership_table(strong, y)
    report = spatial_cross_validate(LogisticProspectivity(), table, block_size_m=20_000)
    assert report.auc["held_out"] > 0.9
    assert explain_validation(report, table, report.estimator)["reasons"] == []


def test_dependent_layers_are_named_when_the_auc_is_low():
    from geomap.models import explain_validation

    rng = np.random.default_rng(6)
    n = 2500
    a = rng.random(n)
    X = pd.DataFrame({"relief": a, "slope": a + rng.normal(0, 0.01, n), "c": rng.random(n)})
    y = np.zeros(n, np.int8)
    y[rng.choice(n, 40, replace=False)] = 1
    table = _membership_table(X, y)
    report = spatial_cross_validate(LogisticProspectivity(), table, block_size_m=20_000)
    reasons = explain_validation(report, table, report.estimator)["reasons"]
    assert any("relief / slope (rho +1.00)" in r for r in reasons), reasons


def test_transfer_reasons_name_reversed_shifted_and_missing_layers():
    from geomap.models import explain_transfer

    rng = np.random.default_rng(7)
    n = 2500
    y_east = (rng.random(n) < 0.03).astype(np.int8)
    y_west = (rng.random(n) < 0.03).astype(np.int8)
    east = _membership_table(
        pd.DataFrame({"gravity": rng.normal(0, 1, n) + 2 * y_east, "tilt": rng.normal(0, 1, n)}),
        y_east,
        region="east",
    )
    west = _membership_table(  # high gravity favourable in the east, unfavourable in the west
        pd.DataFrame(
            {
                "gravity": rng.normal(3, 1, n) - 2 * y_west,
                "tilt": rng.normal(0, 1, n),
                "geochem": rng.random(n),
            }
        ),
        y_west,
        region="west",
    )
    reports = region_held_out(LogisticProspectivity(), {"east": east, "west": west})
    east_to_west = reports[0]
    assert (east_to_west.train_region, east_to_west.test_region) == ("east", "west")
    assert east_to_west.auc["held_out"] < 0.5
    explained = explain_transfer(east_to_west, east, west)
    reasons = " | ".join(explained["weak_result_reasons"])
    assert "reverses between the regions" in reasons and "gravity (AUC" in reasons
    assert "distribution shift" in reasons and "gravity (median" in reasons
    assert "1 layer exists in one region only and was left out" in reasons
    assert "geochem (west" in reasons
    assert explained["layers_used"] == ["gravity", "tilt"]
    assert explained["layer_shift"]["gravity"]["test_outside_train_range"] > 0.3
    json.dumps(explained, allow_nan=False)


def test_report_md_shows_why_each_low_auc_is_low():
    from types import SimpleNamespace

    from geomap.pipeline.report import build_report

    recipe = SimpleNamespace(
        name="Sn-W", id="granite-sn-w", path=None, mineral_system="granite-related Sn-W"
    )
    region = SimpleNamespace(name="Japan", id="japan")
    layers = pd.DataFrame(
        {
            "layer": ["gravity"],
            "role": ["evidence"],
            "kind": ["continuous"],
            "units": ["mGal"],
            "min": [-10.0],
            "max": [90.0],
            "cells_with_data_pct": [100.0],
        }
    )

    def report(held_out: float | None, transfer_auc: float) -> str:
        metrics = {
            "spatial_cv": {"auc": {"held_out": held_out, "held_out_se": 0.08}},
            "diagnostics": {
                "weak_result_reasons": ["only 16 cells hold training occurrences"],
                "transfer": [
                    {
                        "train_region": "conus",
                        "test_region": "japan",
                        "weak_result_reasons": ["distribution shift: gravity"],
                    }
                ],
            },
            "region_held_out": [
                {"train_region": "conus", "test_region": "japan", "auc": {"held_out": 0.52}},
                {
                    "train_region": "japan",
                    "test_region": "conus",
                    "auc": {"held_out": transfer_auc},
                    "notes": ["layers present in one region only were left out: ['x']"],
                },
            ],
            "settings": {"n_splits": 5, "block_size_m": 50_000.0},
        }
        return build_report(
            recipe=recipe,
            region=region,
            resolution_m=10_000.0,
            model_name="wofe",
            metrics=metrics,
            layers=layers,
            targets=pd.DataFrame(),
            coverage=None,
            datasets=[],
            attribution="(attribution)",
            settings={"top_percent": 2.0, "min_area_km2": 1.0},
        )

    text = report(0.61, 0.54)
    assert "### Why the held-out AUC is below 0.7\n\n- only 16 cells hold training" in text
    assert "- Trained on `conus`, tested on `japan`: AUC 0.520" in text
    assert "  Why it is below 0.7:\n  - distribution shift: gravity" in text
    # a transfer without recorded reasons falls back on its notes (Markdown-escaped: the
    # brackets cannot form a link)
    assert "  - layers present in one region only were left out: \\['x'\\]" in text
    undefined = report(None, 0.8)
    assert "### Why the held-out AUC is undefined" in undefined
    assert undefined.count("Why it is below 0.7") == 1  # the 0.8 transfer needs no excuse
    # a good AUC keeps its caveats, under Caveats
    good = report(0.85, 0.8)
    assert "Why the held-out AUC" not in good
    assert "- Validation: only 16 cells hold training occurrences" in good

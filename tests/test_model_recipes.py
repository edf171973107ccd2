"""The models on the shipped recipes and the mirrored data (coarse grids to stay fast).

Spatial-CV AUC and the capture table of each recipe are printed (run with ``-s``) and attached
to the test report as properties; no AUC threshold is asserted (a weak result must be
explained, not hidden: see ``ModelResult.diagnostics``).
"""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import pytest

from geomap.models import (
    LogisticProspectivity,
    WeightsOfEvidence,
    model_region,
    predict_raster,
    region_held_out,
)
from geomap.recipes import recipe_names

# (recipe, region, resolution in metres): coarse grids keep each case to seconds
CASES = [
    ("carbonatite-ree", "conus", 20_000.0),
    ("kuroko-vms", "japan", 10_000.0),
    ("granite-sn-w", "japan", 10_000.0),
    ("granite-sn-w", "conus", 25_000.0),
]


@functools.cache
def _run(recipe: str, region: str, resolution: float, model: str | None = None):
    """One model run per (recipe, region, resolution, model) for the whole module."""
    if recipe not in recipe_names():
        pytest.fail(f"recipe {recipe!r} is not shipped in layers/ ({recipe_names()})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model_region(recipe, region, resolution_m=resolution, model=model)


def _print(result, record_property) -> None:
    report = result.validation
    print()
    print(report.summary())
    print(report.capture.to_string(index=False))
    diagnostics = result.diagnostics()
    for reason in diagnostics["weak_result_reasons"]:
        print(f"  caveat: {reason}")
    record_property(
        f"{result.recipe}/{result.region}/{result.model_name}",
        json.dumps(report.metrics()["auc"] | {"capture": report.metrics()["capture"]}),
    )


@pytest.mark.parametrize(("recipe", "region", "resolution"), CASES)
def test_recipe_model_validates_and_maps(recipe, region, resolution, record_property):
    result = _run(recipe, region, resolution)
    _print(result, record_property)
    report = result.validation
    assert report.counts["n_positive_cells"] > 0
    assert report.auc["held_out"] is not None and 0 <= report.auc["held_out"] <= 1
    assert report.auc["held_out_se"] is not None
    assert len(report.folds) >= 2
    assert (np.diff(report.capture["held_out_pct"]) >= -1e-9).all()
    prediction = result.prediction
    inside = np.zeros(prediction["prospectivity"].shape, dtype=bool)
    inside[result.table.rows, result.table.cols] = True
    values = prediction["prospectivity"].values
    assert np.isfinite(values[inside]).all(), "NaN inside the study area"
    assert np.isfinite(prediction["uncertainty"].values[inside]).all()
    assert (prediction["uncertainty"].values[inside] >= 0).all()
    assert prediction["prospectivity"].rio.crs == result.stack.rio.crs
    # the coverage layer travels with the result
    assert prediction["coverage"].attrs["geomap_role"] == "coverage"
    assert not report.coverage.empty
    # metrics are strict JSON
    json.dumps(result.metrics(), allow_nan=False)


def test_dask_prediction_equals_numpy_on_real_evidence():
    result = _run("carbonatite-ree", "conus", 20_000.0)
    eager = result.prediction
    lazy = predict_raster(result.estimator, result.stack.chunk({"y": 64, "x": 64}))
    mask = np.zeros(eager["prospectivity"].shape, dtype=bool)
    mask[result.table.rows, result.table.cols] = True
    for name in ("prospectivity", "uncertainty"):
        a = eager[name].values
        b = lazy[name].compute().values
        np.testing.assert_array_equal(a[mask], b[mask])


def test_machine_learning_model_on_a_real_recipe(record_property):
    result = _run("carbonatite-ree", "conus", 25_000.0, model="logistic")
    _print(result, record_property)
    assert isinstance(result.estimator, LogisticProspectivity)
    table = result.model_table()
    assert {"feature", "coefficient", "std_error"} <= set(table.columns)


def test_region_held_out_sn_w_conus_and_japan(record_property):
    """Sn–W trained on the US and tested on Japan, and the reverse (layers matched by name)."""
    conus = _run("granite-sn-w", "conus", 25_000.0)
    japan = _run("granite-sn-w", "japan", 10_000.0)  # the same runs as above (cached)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reports = region_held_out(WeightsOfEvidence(), {"conus": conus.table, "japan": japan.table})
    assert {(r.train_region, r.test_region) for r in reports} == {
        ("conus", "japan"),
        ("japan", "conus"),
    }
    for report in reports:
        print()
        print(report.summary())
        record_property(
            f"granite-sn-w/{report.train_region}->{report.test_region}",
            json.dumps(report.metrics()["auc"]),
        )
        assert report.auc["held_out"] is not None

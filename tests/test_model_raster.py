"""Evidence stack -> table of cells -> prospectivity rasters; Dask and NumPy give one answer."""

from __future__ import annotations

import json
import warnings

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from shapely.geometry import LineString, Point

from geomap.errors import CRSError, DataError, GridMismatchError, ModelError
from geomap.export.cog import write_cog
from geomap.models import (
    FuzzyOverlay,
    GradientBoostingProspectivity,
    LogisticProspectivity,
    ModelWarning,
    RandomForestProspectivity,
    WeightsOfEvidence,
    cell_table,
    predict_raster,
)

CRS = "EPSG:5070"  # NAD83 / Conus Albers (equal area)
RES = 5000.0


def make_stack(ny: int = 60, nx: int = 80, seed: int = 0) -> tuple[xr.Dataset, gpd.GeoDataFrame]:
    rng = np.random.default_rng(seed)
    x = -1_500_000 + RES * (np.arange(nx) + 0.5)
    y = 2_000_000 - RES * (np.arange(ny) + 0.5)
    yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    distance = (np.hypot(yy - 30, xx - 40) * RES).astype("float32")
    anomaly = (rng.normal(size=(ny, nx)) + (distance < 60_000)).astype("float32")
    anomaly[:10, :20] = np.nan  # survey gap
    lith = (xx // 20).astype("int16")  # 4 classes coded 0..3, 255 = nodata
    lith[-5:, :] = 255
    distance[:, -3:] = np.nan  # region edge: nothing there
    anomaly[:, -3:] = np.nan
    lith[:, -3:] = 255
    evidence = {"geomap_role": "evidence"}
    stack = xr.Dataset(
        {
            "distance": (("y", "x"), distance, {**evidence, "geomap_kind": "continuous"}),
            "anomaly": (("y", "x"), anomaly, {**evidence, "geomap_kind": "continuous"}),
            "lith": (
                ("y", "x"),
                lith,
                {
                    **evidence,
                    "geomap_kind": "categorical",
                    "geomap_classes": json.dumps(
                        {"0": "granite", "1": "basalt", "2": "shale", "3": "gneiss"}
                    ),
                },
            ),
        },
        coords={"y": y, "x": x},
        attrs={"geomap_region": "synthetic"},
    )
    stack["lith"] = stack["lith"].rio.write_nodata(255)
    valid = [stack[v].notnull() for v in ("distance", "anomaly")] + [stack["lith"] != 255]
    stack["coverage"] = sum(v.astype("int16") for v in valid).assign_attrs(geomap_role="coverage")
    stack = stack.rio.write_crs(CRS)
    logit = -5 + 2.5 * (distance < 60_000) + 0.8 * np.nan_to_num(anomaly) + 1.0 * (lith == 0)
    hit = (rng.random((ny, nx)) < 1 / (1 + np.exp(-logit))) & ~np.isnan(distance)
    rows, cols = np.nonzero(hit)
    points = gpd.GeoDataFrame(
        {"name": [f"occ{i}" for i in range(rows.size)]},
        geometry=[Point(x[c] + 700, y[r] - 300) for r, c in zip(rows, cols, strict=True)],
        crs=CRS,
    )
    return stack, points


def test_cell_table_counts_and_reports():
    stack, points = make_stack()
    extra = gpd.GeoDataFrame(
        {"name": ["twin", "far", "edge"]},
        geometry=[
            points.geometry.iloc[0],  # a second point in an occupied cell
            Point(0, 0),  # off the grid
            Point(float(stack.x[-1]), float(stack.y[5])),  # in the no-data edge
        ],
        crs=CRS,
    )
    both = gpd.GeoDataFrame(
        gpd.pd.concat([points, extra], ignore_index=True), geometry="geometry", crs=CRS
    )
    with pytest.warns(ModelWarning) as record:
        table = cell_table(stack, both)
    messages = " ".join(str(w.message) for w in record)
    assert "outside the evidence grid" in messages
    assert "outside the study area" in messages
    assert "share a cell" in messages
    report = table.report
    assert report["n_points"] == len(points) + 3
    assert report["n_points_outside_grid"] == 1
    assert report["n_points_outside_study_area"] == 1
    assert report["n_points_sharing_a_cell"] == 1
    assert table.y.sum() == len(points) == report["n_positive_cells"]
    assert table.occurrences.sum() == len(points) + 1
    assert len(table) == int((stack["coverage"] > 0).sum())
    assert table.cell_area_km2 == pytest.approx(25.0) and table.cell_size_m == pytest.approx(RES)
    assert table.kinds == {"distance": "continuous", "anomaly": "continuous", "lith": "categorical"}
    assert set(table.X["lith"].dropna().unique()) == {"granite", "basalt", "shale", "gneiss"}
    assert table.X["lith"].isna().sum() == 5 * 77  # the nodata rows, inside the study area
    assert list(table.X.index.names) == ["y", "x"]
    assert table.region == "synthetic"
    # coordinates index back into the grid
    r, c = table.rows[10], table.cols[10]
    assert table.coords[10].tolist() == [float(stack.x[c]), float(stack.y[r])]


def test_cell_table_sample_keeps_positives_and_weights_negatives():
    stack, points = make_stack()
    full = cell_table(stack, points)
    sample = cell_table(stack, points, max_cells=1000, random_state=3)
    assert len(sample) == 1000 and sample.y.sum() == full.y.sum()
    negatives = sample.y == 0
    assert sample.sample_weight[negatives].sum() == pytest.approx((full.y == 0).sum())
    assert (sample.sample_weight[~negatives] == 1).all()
    again = cell_table(stack, points, max_cells=1000, random_state=3)
    np.testing.assert_array_equal(sample.rows, again.rows)
    # WofE on the weighted sample keeps the prior of the full table
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = WeightsOfEvidence().fit(sample.X, sample.y, sample_weight=sample.sample_weight)
        reference = WeightsOfEvidence().fit(full.X, full.y)
    assert model.prior_probability_ == pytest.approx(reference.prior_probability_)


def test_label_raster_gives_the_same_table():
    stack, points = make_stack()
    table = cell_table(stack, points)
    labels = xr.zeros_like(stack["distance"], dtype="int32")
    labels.values[table.rows, table.cols] = table.occurrences
    from_labels = cell_table(stack, labels=labels)
    np.testing.assert_array_equal(from_labels.y, table.y)
    with pytest.raises(GridMismatchError):
        cell_table(stack, labels=labels.isel(x=slice(1, None)))


def test_bad_inputs_are_clear_errors():
    stack, points = make_stack()
    with pytest.raises(CRSError, match="reproject them"):
        cell_table(stack, points.to_crs("EPSG:4326"))
    with pytest.raises(CRSError, match="no CRS"):
        cell_table(stack, points.set_crs(None, allow_override=True))
    lines = gpd.GeoDataFrame(geometry=[LineString([(0, 0), (1, 1)])], crs=CRS)
    with pytest.raises(DataError, match="must be points"):
        cell_table(stack, lines)
    with pytest.raises(ModelError, match="exactly one"):
        cell_table(stack)
    with pytest.raises(ModelError, match="not in the stack"):
        cell_table(stack, points, layers=["gravity"])
    geographic = stack.rio.write_crs("EPSG:4326")
    with pytest.raises(CRSError, match="not a projected CRS"):
        cell_table(geographic, points)


MODELS = [
    WeightsOfEvidence(),
    LogisticProspectivity(background_buffer_m=10_000),
    RandomForestProspectivity(n_estimators=30, background_buffer_m=10_000),
    GradientBoostingProspectivity(n_ensemble=2, max_iter=20, background_buffer_m=10_000),
]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_dask_and_numpy_predictions_are_equal(model):
    stack, points = make_stack()
    table = cell_table(stack, points)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = model.fit(table.X, table.y)
    eager = predict_raster(fitted, stack)
    lazy = predict_raster(fitted, stack.chunk({"y": 17, "x": 23}))
    assert lazy["prospectivity"].chunks is not None  # still lazy
    for name in ("prospectivity", "uncertainty"):
        a, b = eager[name].values, lazy[name].compute().values
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
        np.testing.assert_allclose(a, b, rtol=0, atol=0)
    np.testing.assert_array_equal(eager["coverage"].values, lazy["coverage"].compute().values)
    # nodata only outside the study area; finite everywhere inside
    inside = stack["coverage"].values > 0
    assert np.isfinite(eager["prospectivity"].values[inside]).all()
    assert np.isnan(eager["prospectivity"].values[~inside]).all()
    assert np.isfinite(eager["uncertainty"].values[inside]).all()
    # the raster equals the table prediction cell by cell
    p = fitted.predict_proba(table.X)[:, 1].astype("float32")
    np.testing.assert_allclose(eager["prospectivity"].values[table.rows, table.cols], p, rtol=1e-6)


def test_knowledge_driven_model_on_a_stack():
    stack, _ = make_stack()
    stack["near"] = (
        (1 - stack["distance"] / 300_000)
        .clip(0, 1)
        .assign_attrs(geomap_role="evidence", geomap_kind="continuous")
    )
    labels = xr.zeros_like(stack["distance"], dtype="int32")
    table = cell_table(stack, labels=labels, layers=["near", "lith"])
    model = FuzzyOverlay(
        operator="gamma",
        gamma=0.8,
        class_memberships={"lith": {"granite": 0.9, "basalt": 0.2, "shale": 0.4, "gneiss": 0.3}},
    ).fit(table.X)
    out = predict_raster(model, stack.chunk({"y": 25, "x": 25})).compute()
    inside = out["coverage"].values > 0
    values = out["prospectivity"].values[inside]
    assert np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1


def test_prediction_rasters_write_as_cogs(tmp_path):
    stack, points = make_stack()
    table = cell_table(stack, points)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = WeightsOfEvidence().fit(table.X, table.y)
    out = predict_raster(model, stack)
    write_cog(out["prospectivity"], tmp_path / "prospectivity.tif")
    with rasterio.open(tmp_path / "prospectivity.tif") as src:
        assert src.crs.to_epsg() == 5070
        assert src.shape == (60, 80)
        data = src.read(1)
        assert src.transform.a == pytest.approx(RES)
    np.testing.assert_allclose(data, out["prospectivity"].values, equal_nan=True)
    with pytest.raises(ModelError, match="lacks layers"):
        predict_raster(model, stack.drop_vars("anomaly"))

"""``geomap model``: outputs read back with independent readers (GDAL via rasterio, pandas, PIL)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyproj
import pytest
import rasterio
from PIL import Image
from typer.testing import CliRunner

from geomap.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def model_output(tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "carbonatite"
    result = runner.invoke(
        app,
        [
            "model",
            "carbonatite-ree",
            "--region",
            "conus",
            "--resolution",
            "25000",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out, result.output


def test_writes_every_product(model_output):
    out, output = model_output
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "coverage.tif",
        "manifest.json",  # marks the folder as geomap's: --overwrite may replace it
        "metrics.json",
        "prospectivity.tif",
        "uncertainty.tif",
        "validation.json",
        "validation_curves.png",
        "weights.csv",
    ]
    assert "held-out" in output and "wrote" in output
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no leftovers


def test_rasters_read_back_with_gdal(model_output, catalog):
    out, _ = model_output
    region_crs = pyproj.CRS.from_user_input(catalog.region("conus").crs)
    with rasterio.open(out / "prospectivity.tif") as src:
        assert pyproj.CRS.from_wkt(src.crs.to_wkt()).equals(region_crs)
        assert src.transform.a == pytest.approx(25_000)
        assert src.overviews(1) is not None
        p = src.read(1)
        profile = src.profile
    with rasterio.open(out / "uncertainty.tif") as src:
        s = src.read(1)
        assert src.shape == p.shape
    with rasterio.open(out / "coverage.tif") as src:
        coverage = src.read(1)
    assert profile["driver"] == "GTiff" and profile["tiled"]
    inside = np.isfinite(p)
    assert inside.any() and (~inside).any()  # sea and neighbours are nodata
    assert ((p[inside] > 0) & (p[inside] < 1)).all()
    assert np.isfinite(s[inside]).all() and (s[inside] >= 0).all()
    assert (coverage[inside] > 0).all()


def test_tables_and_metrics(model_output):
    out, _ = model_output
    weights = pd.read_csv(out / "weights.csv")
    assert {"layer", "class", "weight", "weight_std", "contrast", "studentized_contrast"} <= set(
        weights.columns
    )
    assert np.isfinite(weights.loc[weights["class"] != "(no data)", "weight"]).all()
    metrics = json.loads((out / "metrics.json").read_text())
    cv = metrics["spatial_cv"]
    assert cv["method"] == "spatial_block_cv" and cv["test_region"] == "conus"
    assert set(cv["capture"]) == {"top_1pct", "top_5pct", "top_10pct", "top_20pct"}
    assert 0 <= cv["auc"]["held_out"] <= 1
    assert "layer_auc" in metrics["diagnostics"]
    assert "conditional_independence" in metrics
    assert metrics["settings"]["block_size_m"] == 125_000  # 5 cells of 25 km
    curves = json.loads((out / "validation.json").read_text())
    assert {"roc", "success_rate", "prediction_rate", "prediction_area"} <= set(
        curves["spatial_cv"]
    )
    with Image.open(out / "validation_curves.png") as image:
        assert image.size[0] > image.size[1] > 300
        credits = image.text  # the PNG names its data and their licences
    assert "minmod-usgs-mrdata" in credits["Source"] and "MIT" in credits["Copyright"]
    with rasterio.open(out / "prospectivity.tif") as src:
        assert "minmod-usgs-mrdata: MIT" in src.tags()["geomap_licenses"]


def test_existing_output_is_refused_before_computing(model_output):
    out, _ = model_output
    result = runner.invoke(
        app, ["model", "carbonatite-ree", "--region", "conus", "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "already exists" in result.output and "--overwrite" in result.output


def test_bad_model_and_region_are_clear_errors(tmp_path):
    result = runner.invoke(
        app,
        [
            "model",
            "carbonatite-ree",
            "--region",
            "conus",
            "--model",
            "svm",
            "--out",
            str(tmp_path / "x"),
        ],
    )
    assert result.exit_code == 1 and "unknown model 'svm'" in result.output
    result = runner.invoke(
        app, ["model", "carbonatite-ree", "--region", "japan", "--out", str(tmp_path / "y")]
    )
    assert result.exit_code == 1 and "japan" in result.output and "supports" in result.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()


def test_mode_brownfield_from_the_command_line_is_fold_aware(tmp_path, model_output):
    """``geomap model --mode brownfield``: the proximity layer is evidence, recorded, and each
    validation fold recomputes it from its own training sites (a held-out site never scores
    its own distance 0)."""
    import warnings

    from geomap.models.baselines import PROXIMITY_LAYER
    from geomap.models.curves import roc_table
    from geomap.pipeline import model_region

    out = tmp_path / "brown"
    args = ["model", "carbonatite-ree", "--region", "conus", "--resolution", "25000"]
    result = runner.invoke(app, [*args, "--mode", "brownfield", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "mode: brownfield" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["settings"]["mode"] == "brownfield"
    green = json.loads((model_output[0] / "metrics.json").read_text())
    assert green["settings"]["mode"] == "greenfield"
    weights = pd.read_csv(out / "weights.csv")
    # the layer entered the model (the recipe's independence remedy may leave it out again)
    assert PROXIMITY_LAYER in set(weights["layer"]) | set(metrics["dropped_layers"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        brown = model_region("carbonatite-ree", "conus", resolution_m=25_000, mode="brownfield")
    held_out = metrics["spatial_cv"]["auc"]["held_out"]
    assert held_out == pytest.approx(brown.validation.auc["held_out"])
    # honest validation: the layer as mapped (distance to every site) would rank the sites
    # almost perfectly; the reported held-out AUC is far below, as each fold recomputed it
    table = brown.table
    leaky = -table.X[PROXIMITY_LAYER].to_numpy()
    _, leaky_auc = roc_table(table.y, leaky, sample_weight=table.sample_weight)
    assert leaky_auc > 0.97
    assert held_out < leaky_auc - 0.05
    bad = runner.invoke(app, [*args, "--mode", "grey", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "brownfield" in bad.output

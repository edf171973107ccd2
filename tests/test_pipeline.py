"""``geomap build`` end to end on the mirrored data: outputs, cache, determinism, bad input."""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import rasterio
import rioxarray
from rio_cogeo.cogeo import cog_validate
from typer.testing import CliRunner

from geomap.cli import app
from geomap.errors import OutputExistsError, ParameterError, RecipeError, UnknownNameError
from geomap.export.sites import on_data_cells
from geomap.pipeline import build, build_packet
from geomap.pipeline import runner as runner_module

RES = 25_000.0  # coarse cells keep the end-to-end tests fast


@pytest.fixture(scope="module")
def product_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("products")


@pytest.fixture(scope="module")
def first_build(tmp_path_factory, product_cache):
    out = tmp_path_factory.mktemp("builds") / "vms"
    result = build(
        "kuroko-vms",
        region="japan",
        resolution_m=RES,
        out=out,
        cache_dir=product_cache,
        progress=False,
    )
    return result


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_output_folder_has_every_product(first_build):
    out = first_build.out
    for name in (
        "map.html",
        "kuroko-vms.gpkg",
        "prospectivity.tif",
        "uncertainty.tif",
        "coverage.tif",
        "metrics.json",
        "report.md",
        "manifest.json",
        "targets.csv",
        "targets.geojson",
        "weights.csv",
        "validation.json",
        "figures/validation_curves.png",
        "figures/prospectivity.png",
    ):
        assert (out / name).is_file(), name
    assert list(out.glob("evidence/*.tif"))
    assert not [
        p for p in out.parent.iterdir() if p.name.startswith(".")
    ]  # no temporary folder left


def test_rasters_are_valid_cogs_in_the_region_crs(first_build, catalog):
    region_crs = catalog.region("japan").pyproj_crs
    for path in [first_build.out / "prospectivity.tif", *first_build.out.glob("evidence/*.tif")]:
        valid, errors, _ = cog_validate(str(path))
        assert valid, (path, errors)
        with rasterio.open(path) as src:
            assert src.crs is not None
            assert src.res == (RES, RES)
            from pyproj import CRS

            assert CRS.from_wkt(src.crs.to_wkt()).equals(region_crs, ignore_axis_order=True)


def _licences(path: Path) -> tuple[set[str], str]:
    """The ``id: SPDX`` licence lines and the credit text of a COG, read back by GDAL."""
    with rasterio.open(path) as src:
        tags = src.tags()
    return set(tags.get("geomap_licenses", "").split("; ")) - {""}, tags.get(
        "geomap_attribution", ""
    )


def test_model_rasters_credit_the_datasets_used(first_build, catalog):
    """The model COGs carry licences and credits like the evidence COGs, from the real build."""
    out = first_build.out
    evidence = set().union(*(_licences(p)[0] for p in out.glob("evidence/*.tif")))
    assert "glim-lithology-0.5deg: CC-BY-3.0" in evidence
    glim = catalog.dataset("glim-lithology-0.5deg").license.attribution
    minmod = catalog.dataset("minmod-usgs-mrdata").license.attribution
    for name in ("prospectivity", "uncertainty"):
        licences, credit = _licences(out / f"{name}.tif")
        assert evidence <= licences, name  # every evidence layer's source ...
        assert "minmod-usgs-mrdata: MIT" in licences, name  # ... the training occurrences ...
        assert "natural-earth: CC0-1.0" in licences, name  # ... and the country study area
        assert glim in credit and minmod in credit, name
    licences, credit = _licences(out / "coverage.tif")
    assert licences == evidence  # coverage counts the evidence layers, nothing else
    assert glim in credit and minmod not in credit


def test_figures_credit_the_datasets_used(first_build, catalog):
    from PIL import Image

    manifest = json.loads((first_build.out / "manifest.json").read_text())
    ids = [d["id"] for d in manifest["datasets"]]
    assert "minmod-usgs-mrdata" in ids
    for name in ("prospectivity.png", "validation_curves.png"):
        with Image.open(first_build.out / "figures" / name) as image:
            text = dict(image.text)  # tEXt and iTXt chunks, read by PIL
        assert [line.split(": ", 1)[0] for line in text["Source"].splitlines()] == ids, name
        assert "minmod-usgs-mrdata: MIT" in text["Copyright"], name
        assert "glim-lithology-0.5deg: CC-BY-3.0" in text["Copyright"], name
        assert catalog.dataset("glim-lithology-0.5deg").citation in text["Copyright"], name
        assert "出典：地球地図日本" in text["Copyright"], name  # the GSI credit, verbatim


def test_geopackage_reads_back_with_gdal(first_build):
    path = first_build.out / "kuroko-vms.gpkg"
    layers = {name for name, _ in pyogrio.list_layers(path)}
    assert {"occurrences", "targets", "faults", "geology"} <= layers
    targets = gpd.read_file(path, layer="targets")
    assert len(targets) == len(first_build.targets)
    with rasterio.open(path, table="prospectivity") as src:
        assert src.count >= 1


def test_training_audit_travels_to_gpkg_map_and_report(first_build):
    """Every site considered is in the GeoPackage, the map and report.md; occurrences flag it."""
    path = first_build.out / "kuroko-vms.gpkg"
    audit = gpd.read_file(path, layer="training_sites")
    assert {"training", "reason", "deposit_class", "deposit_class_rule"} <= set(audit.columns)
    kept = audit[audit["training"].astype(bool)]
    assert len(kept) and (kept["reason"] == "kept").all()
    assert (kept["deposit_class"] == "vms").all()  # the recipe trains on VMS only
    dropped = audit[~audit["training"].astype(bool)]
    reasons = dropped["reason"]
    assert len(dropped) and reasons.str.contains("is not one of|where filter|study area").all()
    assert reasons.str.contains("where filter").any()  # mafic VMS: the recipe keeps felsic
    # the box reaches the Kurils and Jilin: sites there are in the audit, not in the model
    outside = dropped[reasons.str.startswith("outside the study area")]
    assert len(outside) and not outside["reason"].str.contains("in JPN,").any()
    assert outside["reason"].str.contains("recorded in (RUS|CHN)").any()
    prospectivity = rioxarray.open_rasterio(
        first_build.out / "prospectivity.tif", masked=True
    ).squeeze()
    assert on_data_cells(kept, prospectivity).all()
    assert not on_data_cells(outside, prospectivity).any()
    occurrences = gpd.read_file(path, layer="occurrences")
    flagged = set(occurrences.loc[occurrences["training"].astype(bool), "site_id"])
    assert flagged <= set(kept["site_id"]) and flagged
    report = (first_build.out / "report.md").read_text()
    assert "## Training sites (audit)" in report
    assert f"{len(kept)} train and validate the model" in report
    html = (first_build.out / "map.html").read_text()
    assert "Training sites" in html and "Training audit" in html


def test_build_reports_baseline_control_and_hold_outs(first_build):
    """report.md, metrics.json and the printed summary put the model beside its baseline."""
    from geomap.pipeline.runner import summary_lines

    metrics = json.loads((first_build.out / "metrics.json").read_text())
    auc = metrics["spatial_cv"]["auc"]
    assert auc["baseline_held_out"] is not None and "control_held_out" in auc
    assert metrics["holdouts"][0]["method"] == "leave_one_state_out"
    report = (first_build.out / "report.md").read_text()
    assert "## Model against baseline and control" in report
    assert "| leave one state/prefecture out |" in report
    verdict = "does NOT beat the baseline" if auc["baseline_margin"] <= 0 else "beats the baseline"
    assert verdict in report
    printed = "\n".join(summary_lines(first_build))
    assert "spatial CV: AUC" in printed and "leave one state/prefecture out: AUC" in printed
    validation = json.loads((first_build.out / "validation.json").read_text())
    assert validation["auc"]["baseline_held_out"] == pytest.approx(auc["baseline_held_out"])
    # targets: survey-sized (a 25 km cell is 625 km², so a piece is at most 2 x 2 cells, never
    # a single cell cut from a larger target), ranked by prospectivity and uncertainty
    # together, and checked at a second cell size
    targets = pd.read_csv(first_build.out / "targets.csv")
    parameters = json.loads((first_build.out / "manifest.json").read_text())["parameters"]
    assert parameters["max_piece_km2"] == 4 * 625.0 and parameters["max_targets"] == 100
    pieces = targets[targets["parent_id"].fillna("") != ""]
    assert len(pieces) and (pieces["area_km2"] >= 2 * 625 - 1e-6).all()  # no one-cell slivers
    assert (targets["area_km2"] <= 4 * 625 + 2 * 625 + 1e-6).all()  # joined fragments: a few cells
    assert len(targets) <= parameters["max_targets"]
    assert targets["rank_score"].is_monotonic_decreasing
    stability = metrics["target_stability"]
    assert stability["other_resolution_m"] == 2 * RES
    assert "## Target stability across cell sizes" in report


def test_metrics_report_and_manifest(first_build):
    metrics = json.loads((first_build.out / "metrics.json").read_text())
    assert metrics["spatial_cv"]["auc"]["held_out"] is not None
    assert metrics["targets"]["count"] == len(first_build.targets)
    report = (first_build.out / "report.md").read_text()
    for section in (
        "## What was run",
        "## Validation",
        "## Caveats",
        "## Targets",
        "## Attribution",
    ):
        assert section in report
    assert "出典：地球地図日本" in report  # the Japanese boundary credit travels with the report
    manifest = json.loads((first_build.out / "manifest.json").read_text())
    ids = {d["id"] for d in manifest["datasets"]}
    assert {"minmod-usgs-mrdata", "japan-prefectures-globalmap"} <= ids
    files = {f["path"]: f["sha256"] for d in manifest["datasets"] for f in d["files"]}
    assert files["japan-prefectures-globalmap/japan.topojson"].startswith("eca320674e2a")
    assert manifest["software"]["gdal"]
    assert manifest["random_seeds"]["model_and_sampling"] == 0
    assert manifest["outputs"]["prospectivity.tif"] == _sha(first_build.out / "prospectivity.tif")


def test_targets_table_carries_ranking_and_context(first_build):
    table = pd.read_csv(first_build.out / "targets.csv")
    assert table["rank"].tolist() == list(range(1, len(table) + 1))
    assert (table["country"] == "Japan").all()
    assert table["state"].notna().all()
    assert "magnets" not in " ".join(table["supply_chains"].fillna(""))  # VMS feeds no magnet chain


def test_second_build_is_served_from_cache_and_identical(first_build, product_cache, tmp_path):
    again = build(
        "kuroko-vms",
        region="japan",
        resolution_m=RES,
        out=tmp_path / "again",
        cache_dir=product_cache,
        progress=False,
    )
    assert again.cache_misses == []
    assert len(again.cache_hits) == len(first_build.cache_misses)
    for name in (
        "prospectivity.tif",
        "uncertainty.tif",
        "coverage.tif",
        "targets.csv",
        "weights.csv",
        "metrics.json",
        "figures/prospectivity.png",
        "figures/validation_curves.png",
    ):
        assert _sha(again.out / name) == _sha(first_build.out / name), name
    for layer in first_build.out.glob("evidence/*.tif"):
        assert _sha(again.out / "evidence" / layer.name) == _sha(layer)


def test_changing_one_parameter_recomputes_only_what_depends_on_it(
    first_build, product_cache, tmp_path
):
    changed = build(
        "kuroko-vms",
        region="japan",
        resolution_m=RES,
        top_percent=10,
        out=tmp_path / "top10",
        cache_dir=product_cache,
        progress=False,
    )
    assert [m.split("/")[0] for m in changed.cache_misses] == ["targets", "stability"]
    assert changed.targets["area_km2"].sum() > first_build.targets["area_km2"].sum()


def test_existing_output_is_refused_unless_overwrite(first_build, product_cache):
    with pytest.raises(OutputExistsError, match="--overwrite"):
        build(
            "kuroko-vms",
            region="japan",
            resolution_m=RES,
            out=first_build.out,
            cache_dir=product_cache,
        )
    result = build(
        "kuroko-vms",
        region="japan",
        resolution_m=RES,
        out=first_build.out,
        overwrite=True,
        cache_dir=product_cache,
        progress=False,
    )
    assert (result.out / "map.html").is_file()


def test_bad_recipe_and_region(tmp_path):
    with pytest.raises(RecipeError, match="does not support region 'conus'"):
        build("kuroko-vms", region="conus", out=tmp_path / "x")
    with pytest.raises(UnknownNameError, match="unknown region 'japn'"):
        build("kuroko-vms", region="japn", out=tmp_path / "x")
    with pytest.raises(
        UnknownNameError, match="unknown recipe .no-such-recipe.; known: carbonatite-ree"
    ):
        build("no-such-recipe", out=tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_interrupted_output_stage_leaves_nothing_and_resumes(product_cache, tmp_path, monkeypatch):
    real = runner_module.write_outputs

    def dying(state, folder, **kwargs):
        real(state, folder, parts=frozenset({"cog"}))
        raise KeyboardInterrupt("killed while writing outputs")

    monkeypatch.setattr(runner_module, "write_outputs", dying)
    out = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        build(
            "kuroko-vms",
            region="japan",
            resolution_m=RES,
            out=out,
            cache_dir=product_cache,
            progress=False,
        )
    assert not out.exists()
    assert not list(tmp_path.iterdir())  # no half-written folder under any name
    monkeypatch.setattr(runner_module, "write_outputs", real)
    result = build(
        "kuroko-vms",
        region="japan",
        resolution_m=RES,
        out=out,
        cache_dir=product_cache,
        progress=False,
    )
    assert result.cache_misses == []
    assert (out / "report.md").is_file()


def test_cli_build_targets_and_export(product_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("GEOMAP_PRODUCT_CACHE", str(product_cache))
    runner = CliRunner()
    out = tmp_path / "cli"
    res = runner.invoke(
        app, ["build", "kuroko-vms", "-r", "japan", "--resolution", str(RES), "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "held-out AUC" in res.output
    res = runner.invoke(
        app, ["build", "kuroko-vms", "-r", "japan", "--resolution", str(RES), "-o", str(out)]
    )
    assert res.exit_code == 1
    assert "already exists" in res.output
    res = runner.invoke(
        app, ["targets", "kuroko-vms", "-r", "japan", "--resolution", str(RES), "-f", "csv"]
    )
    assert res.exit_code == 0, res.output
    assert res.output.startswith("target_id,rank,")
    export = tmp_path / "export"
    res = runner.invoke(
        app,
        [
            "export",
            "kuroko-vms",
            "-r",
            "japan",
            "--resolution",
            str(RES),
            "-f",
            "gpkg",
            "-f",
            "png",
            "-f",
            "cog",
            "-o",
            str(export),
        ],
    )
    assert res.exit_code == 0, res.output
    assert (export / "kuroko-vms.gpkg").is_file()
    assert (export / "figures" / "prospectivity.png").is_file()
    for name in ("prospectivity", "uncertainty"):  # exported COGs credit the training data
        assert "minmod-usgs-mrdata: MIT" in _licences(export / f"{name}.tif")[0], name
    assert "glim-lithology-0.5deg: CC-BY-3.0" in _licences(export / "coverage.tif")[0]
    res = runner.invoke(
        app, ["map", "kuroko-vms", "-r", "japan", "--resolution", str(RES), "-o", str(export)]
    )
    assert res.exit_code == 0, res.output
    assert (export / "map.html").is_file()
    assert not [p for p in export.iterdir() if p.name.startswith(".")]


def test_packet_puts_regions_side_by_side(product_cache, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = build_packet(
            (("carbonatite-ree", "conus"), ("kuroko-vms", "japan")),
            out=tmp_path / "packet",
            resolutions={"conus": 50_000.0, "japan": RES},
            cache_dir=product_cache,
            progress=False,
        )
    # the Japan REE anomaly (knowledge-driven, no training cell) has nothing to hold out
    assert not [w for w in caught if "leave-one-state-out" in str(w.message)]
    assert set(result.summary["region"]) == {"conus", "japan"}
    layers = {name for name, _ in pyogrio.list_layers(result.files["packet.gpkg"])}
    assert {"conus_targets", "japan_targets", "conus_occurrences", "japan_occurrences"} <= layers
    conus = gpd.read_file(result.files["packet.gpkg"], layer="conus_targets")
    japan = gpd.read_file(result.files["packet.gpkg"], layer="japan_targets")
    assert conus.crs.to_epsg() == 5070  # each region in its own analysis CRS
    assert "Albers" in japan.crs.to_wkt()
    combined = gpd.read_file(result.files["targets.geojson"])
    assert set(combined["region"]) == {"conus", "japan"}
    html = result.files["packet.html"].read_text(encoding="utf-8")
    assert "Conterminous United States" in html
    assert "Japan" in html


def test_cli_threshold_selects_targets_and_recomputes_only_them(
    first_build, product_cache, tmp_path, monkeypatch
):
    import numpy as np

    monkeypatch.setenv("GEOMAP_PRODUCT_CACHE", str(product_cache))
    with rasterio.open(first_build.out / "prospectivity.tif") as src:
        values = src.read(1)
        cell_km2 = abs(src.res[0] * src.res[1]) / 1e6
    values = values[np.isfinite(values)]
    p = float(np.floor(np.quantile(values, 0.9) * 1000) / 1000)
    runner = CliRunner()
    out = tmp_path / "threshold"
    base = ["kuroko-vms", "-r", "japan", "--resolution", str(RES)]
    res = runner.invoke(app, ["build", *base, "--threshold", str(p), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert ", 2 computed" in res.output  # the targets and their stability check, nothing else
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parameters"]["threshold"] == p
    assert manifest["parameters"]["top_percent"] is None
    assert f"every cell with prospectivity >= {p:g}" in (out / "report.md").read_text()
    before = json.loads((first_build.out / "manifest.json").read_text())["cache_keys"]
    changed = {k for k, v in manifest["cache_keys"].items() if before.get(k) != v}
    assert changed == {"targets", "stability"}  # the threshold is in the targets' key only
    selection = json.loads((out / "metrics.json").read_text())["targets"]["selection"]
    assert selection["rule"] == "threshold" and selection["cutoff"] == p

    res = runner.invoke(app, ["targets", *base, "--threshold", str(p), "-f", "csv"])
    assert res.exit_code == 0, res.output
    from io import StringIO

    table = pd.read_csv(StringIO(res.output))
    assert len(table) > 0
    assert (table["mean_prospectivity"] >= p - 1e-6).all()
    # every cell >= p, less the targets under the default minimum area (two cells)
    assert table["area_km2"].sum() <= (values >= p).sum() * cell_km2 + 1e-6
    written = pd.read_csv(out / "targets.csv")[table.columns]  # the build's, same targets
    pd.testing.assert_frame_equal(table, written, check_exact=False)
    default = pd.read_csv(first_build.out / "targets.csv")
    assert not table["area_km2"].equals(default["area_km2"])

    res = runner.invoke(app, ["targets", *base, "--top-percent", "5", "--threshold", "0.5"])
    assert res.exit_code == 1
    message = res.output.strip().splitlines()[-1]
    assert "--top-percent 5" in message and "--threshold 0.5" in message
    assert "pass only one" in message
    res = runner.invoke(app, ["build", *base, "--threshold", "1.5", "-o", str(tmp_path / "bad")])
    assert res.exit_code == 1
    assert "--threshold 1.5 is not a probability in (0, 1)" in res.output
    assert not (tmp_path / "bad").exists()


def test_build_mode_is_recorded_in_manifest_and_report(first_build, tmp_path, product_cache):
    """``--mode brownfield`` reaches the build: manifest, report.md and the fitted layers."""
    from geomap.models.baselines import PROXIMITY_LAYER

    green = json.loads((first_build.out / "manifest.json").read_text())
    assert green["parameters"]["mode"] == "greenfield"
    assert "- Mode: greenfield" in (first_build.out / "report.md").read_text()
    brown = build(
        "kuroko-vms",
        region="japan",
        resolution_m=RES,
        out=tmp_path / "brown",
        cache_dir=product_cache,
        progress=False,
        mode="brownfield",
        stability=False,
    )
    manifest = json.loads((brown.out / "manifest.json").read_text())
    assert manifest["parameters"]["mode"] == "brownfield"
    assert "- Mode: **brownfield**" in (brown.out / "report.md").read_text()
    weights = pd.read_csv(brown.out / "weights.csv")
    assert PROXIMITY_LAYER in set(weights["layer"])
    assert "model" in brown.cache_misses or any("model" in m for m in brown.cache_misses)


@pytest.mark.parametrize(
    ("builds", "message"),
    [
        (
            [("carbonatite-ree", "conus"), ("granite-sn-w", "conus")],
            "'conus' is in the packet twice",
        ),
        ([("carbonatite-ree", "capricorn-wa"), ("x", "capricorn_wa")], "as 'capricorn-wa' and"),
        ([("carbonatite-ree", "9north")], "region id '9north' cannot name"),
        ([("carbonatite-ree", "r" * 60)], "at most 63 characters"),
    ],
)
def test_packet_refuses_regions_it_cannot_hold_before_any_build(builds, message, tmp_path):
    out = tmp_path / "packet"
    with pytest.raises(ParameterError, match=message):
        build_packet(builds, out=out, progress=False)
    assert not out.exists()

"""The user's own evidence files and training sites: guards, CRS and area checks, provenance."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import LineString, Point

from geomap.errors import CRSError, DataError, RecipeError
from geomap.io.user_data import read_user_evidence, read_user_sites
from geomap.recipes import build_evidence, training_occurrences, with_user_data

RECIPE = """
id: test-user
name: User data test
mineral_system: test
commodities: [Cu]
regions: [japan]
datasets: [glim-lithology-0.5deg]
rationale: test
references: [test]
evidence:
  - name: lithology_score
    function: class_scores
    source: {dataset: glim-lithology-0.5deg, vocabulary: lithology}
    params: {scores: {felsic_volcanic: 1.0}, default: 0.1}
training: {}
model: {name: wofe}
"""


@pytest.fixture(scope="module")
def user_files(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("user")
    tif = tmp / "my_gravity.tif"
    data = np.arange(20 * 30, dtype="float32").reshape(20, 30)
    with rasterio.open(
        tif,
        "w",
        driver="GTiff",
        width=30,
        height=20,
        count=1,
        dtype="float32",
        crs="EPSG:6668",
        transform=from_origin(135.0, 38.0, 0.1, 0.1),
        nodata=-9999,
    ) as dst:
        dst.write(data, 1)
    faults = tmp / "my_faults.gpkg"
    gpd.GeoDataFrame(
        {"kind": ["fault"]}, geometry=[LineString([(136.0, 36.0), (137.5, 37.0)])], crs="EPSG:6668"
    ).to_file(faults, engine="pyogrio")
    sites = tmp / "sites.csv"
    sites.write_text(
        'name,longitude,latitude,commodities\nKosaka,140.76,40.33,"Zn, Pb, Cu"\n'
        "Hanaoka,140.55,40.32,Cu\nSouthern,136.5,36.5,Au\n",
        encoding="utf-8",
    )
    recipe = tmp / "test-user.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    return {"tif": tif, "faults": faults, "sites": sites, "recipe": recipe}


def test_own_files_become_layers_and_training_with_their_hashes(user_files):
    from geomap.fetching import file_sha256

    recipe = with_user_data(
        user_files["recipe"],
        evidence={"my_gravity": user_files["tif"], "my_faults": user_files["faults"]},
        sites=user_files["sites"],
        sites_crs="EPSG:4326",
    )
    stack = build_evidence(recipe, "japan", 50_000)
    assert stack["my_gravity"].attrs["geomap_function"] == "continuous"
    assert stack["my_gravity"].attrs["geomap_source"] == "user:my_gravity"
    assert np.isfinite(stack["my_gravity"].values).sum() > 10
    assert stack["my_faults"].attrs["geomap_function"] == "distance"
    assert np.nanmin(stack["my_faults"].values) < 50_000
    choices = json.loads(stack.attrs["geomap_sources"])
    assert choices["my_gravity"]["sha256"] == file_sha256(user_files["tif"])
    assert choices["my_faults"]["file"] == str(user_files["faults"].resolve())
    sites = training_occurrences(recipe, "japan")
    assert sorted(sites["name"]) == ["Hanaoka", "Kosaka", "Southern"]
    assert sites.crs == stack["my_gravity"].rio.crs or sites.crs.is_projected
    assert sites.set_index("name").loc["Kosaka", "commodities"] == "Cu;Pb;Zn"


def test_a_file_without_crs_names_the_fix(tmp_path):
    shp = tmp_path / "no_crs.shp"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(140, 36)]).to_file(shp, engine="pyogrio")
    with pytest.raises(CRSError, match=r"no_crs.shp carries no CRS.*\.prj.*-a_srs"):
        read_user_evidence(shp, name="x")


def test_coordinates_outside_the_crs_area_of_use_are_refused(tmp_path):
    wrong = tmp_path / "wrong_crs.gpkg"
    gpd.GeoDataFrame({"a": [1]}, geometry=[Point(2_000_000, 4_000_000)], crs="EPSG:32654").to_file(
        wrong, engine="pyogrio"
    )
    with pytest.raises(CRSError, match="outside the area of use of its CRS.*probably wrong"):
        read_user_evidence(wrong, name="x")


def test_data_outside_the_region_are_refused(user_files, catalog):
    with pytest.raises(DataError, match="do not overlap region 'conus'"):
        read_user_evidence(user_files["tif"], name="x", region=catalog.region("conus"))


def test_sites_csv_needs_a_crs_utf8_and_coordinate_columns(tmp_path, user_files):
    with pytest.raises(CRSError, match="--sites-crs EPSG:4326"):
        read_user_sites(user_files["sites"])
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name,lon,lat\nMontaña,140,36\n".encode("cp1252"))
    with pytest.raises(DataError, match="not utf-8 text.*looks like cp1252: re-save it as UTF-8"):
        read_user_sites(latin, crs="EPSG:4326")
    odd = tmp_path / "odd.csv"
    odd.write_text("site,east,north\na,1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"unexpected columns \['site', 'east', 'north'\]"):
        read_user_sites(odd, crs="EPSG:4326")


def test_a_file_of_another_format_lists_the_accepted_ones(tmp_path):
    sheet = tmp_path / "sites.xlsx"
    sheet.write_bytes(b"PK\x03\x04" + b"\x00" * 100)
    with pytest.raises(DataError, match="accepted: GeoTIFF"):
        read_user_evidence(sheet, name="x")


def test_bad_layer_names_and_missing_files(user_files):
    with pytest.raises(RecipeError, match="layer name must be lower-case"):
        with_user_data(user_files["recipe"], evidence={"My Layer": user_files["tif"]})
    with pytest.raises(RecipeError, match="already has a layer 'lithology_score'"):
        with_user_data(user_files["recipe"], evidence={"lithology_score": user_files["tif"]})
    with pytest.raises(DataError, match="no such file"):
        with_user_data(user_files["recipe"], evidence={"x": "/nonexistent/file.tif"})


@pytest.mark.slow
def test_build_with_official_geology_own_files_and_sites_records_them(tmp_path, monkeypatch):
    """One end-to-end `geomap build`: the manifest and report say which sources were used."""
    from typer.testing import CliRunner

    from geomap import testing
    from geomap.cli import app
    from geomap.fetching import file_sha256

    mirror = tmp_path / "mirror" / "gsj-seamless-geology-200k-v2"
    mirror.mkdir(parents=True)
    (mirror / "seamlessV2.zip").write_bytes(testing.seamless_zip(tmp_path).read_bytes())
    monkeypatch.setenv("GEOMAP_DATA_DIR", str(tmp_path / "mirror"))
    faults = tmp_path / "faults.gpkg"
    gpd.GeoDataFrame(
        {"kind": ["fault"]}, geometry=[LineString([(140.0, 39.5), (141.0, 40.8)])], crs="EPSG:6668"
    ).to_file(faults, engine="pyogrio")
    sites = tmp_path / "sites.csv"
    sites.write_text(
        "name,longitude,latitude\nKosaka,140.76,40.33\nHanaoka,140.55,40.32\n"
        "Shakanai,140.60,40.28\nHitachi,140.65,36.6\nBesshi,133.3,33.9\nToyoha,141.0,42.9\n"
        "Kamioka,137.3,36.33\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = ["build", "kuroko-vms", "--region", "japan", "--resolution", "50000", "-o", str(out)]
    args += ["--evidence", f"my_faults={faults}", "--sites", str(sites), "--sites-crs", "EPSG:4326"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    sources = manifest["parameters"]["sources"]
    assert sources["lithology_score"]["used"] == ["gsj-seamless-geology-200k-v2"]
    assert sources["my_faults"]["sha256"] == file_sha256(faults)
    assert sources["training"]["sha256"] == file_sha256(sites)
    ids = [d["id"] for d in manifest["datasets"]]
    assert "gsj-seamless-geology-200k-v2" in ids and "emag2-v3" not in ids  # never fetched
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "`lithology_score`: `gsj-seamless-geology-200k-v2`" in report
    assert f"your file {faults.resolve()}" in report
    # the official source's licence and credit reach the outputs
    seamless = next(d for d in manifest["datasets"] if d["id"] == "gsj-seamless-geology-200k-v2")
    assert seamless["license"] == "LicenseRef-Japan-Government-Standard-Terms-of-Use-2.0"
    attribution = report.split("## Attribution", 1)[1]
    assert (
        "20万分の1日本シームレス地質図V2" in attribution
        and "https://gbank.gsj.jp/seamless/" in attribution
    )

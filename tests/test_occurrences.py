"""Occurrence readers and the common schema: real mirrored data and hand-made bad inputs."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import geomap
from geomap.catalog import Dataset
from geomap.errors import CRSError, DataError, UnknownNameError
from geomap.harmonize.occurrences import (
    OCCURRENCE_COLUMNS,
    make_site_ids,
    select_commodities,
    summarize_occurrences,
    validate_occurrences,
)
from geomap.io.minmod import read_minmod
from geomap.io.occurrences import occurrence_dataset_ids, read_occurrences
from geomap.io.point_tables import parse_age_ma, read_point_tables


# --------------------------------------------------------------------------- real data
@pytest.mark.parametrize("dataset_id", occurrence_dataset_ids())
def test_every_occurrence_dataset_reads_into_the_schema(dataset_id):
    frame = geomap.read(dataset_id)
    validate_occurrences(frame)
    assert list(frame.columns[: len(OCCURRENCE_COLUMNS)]) == list(OCCURRENCE_COLUMNS)
    assert frame.crs.to_epsg() == 4326
    report = frame.attrs["geomap_report"]
    assert report["records_out"] == len(frame) > 0
    assert report["records_in"] == report["records_out"] + sum(report["dropped"].values())
    assert (frame["license"] == geomap.load_catalog().dataset(dataset_id).license.spdx).all()


def test_state_surveys_summary_counts_unmapped_records():
    frame = geomap.read("minmod-state-surveys")
    report = frame.attrs["geomap_report"]
    assert report["records_in"] == 42_744 + 7_793
    assert report["dropped"] == {"no location": 1}
    assert (
        "usgs_mrds_california: 42744 records, 42744 kept, 0 with unmapped commodity names"
        in (report["notes"])
    )
    assert (
        "utah_mineral_occurrence_system: 7793 records, 7792 kept, 0 with unmapped commodity names"
        in (report["notes"])
    )
    assert report["unmapped"] == {}
    # Utah records are UTM 12N metres in the source: converted, and inside Utah
    utah = frame[frame["source"] == "utah_mineral_occurrence_system"]
    assert (utah["source_crs"] == "EPSG:26912").all()
    west, south, east, north = utah.total_bounds
    assert west > -114.1 and east < -109.0 and south > 36.9 and north < 42.1
    assert (frame["state"].isin(["California", "Utah"])).mean() > 0.99
    summary = summarize_occurrences(frame)
    assert summary.table.loc[("minmod-state-surveys", "usgs_mrds_california"), "sites"] == 42_744
    assert "<table" in summary._repr_html_()


def test_mrdata_drops_records_without_location_and_counts_them():
    frame = geomap.read("minmod-usgs-mrdata")
    report = frame.attrs["geomap_report"]
    assert report["dropped"]["no location"] == 221 + 7
    assert report["dropped"]["no location (NaN coordinate)"] == 1
    counts = frame.groupby("source").size()
    assert counts["mrdata_ree"] == 578 and counts["mrdata_vms"] == 1090
    vms = frame[frame["source"] == "mrdata_vms"]
    assert (vms["deposit_class"] == "vms").all()
    hellyer = vms[vms["record_id"] == "1146"].iloc[0]
    assert hellyer["name"] == "Hellyer" and hellyer["country"] == "AUS"
    assert hellyer["ore_tonnage_mt"] == pytest.approx(16.9)
    assert "Zn 13.8 %" in hellyer["grades"] and "Au 2.5 g/t" in hellyer["grades"]
    snw = frame[frame["source"] == "world_tin_tungsten_deposit"]
    assert (snw["commodities"] != "").all()  # records without inventory get Sn;W, counted
    assert any("compilation's subject" in k for k in report["normalized"])


def test_layer_selects_folders_and_site_ids_are_stable():
    vms = geomap.read("minmod-usgs-mrdata", layer="mrdata_vms")
    both = geomap.read("minmod-usgs-mrdata", layer="mrdata_laterite,mrdata_vms")
    assert len(vms) == 1090 and len(both) == 1210
    merged = both.set_index("record_id").loc[vms["record_id"].tolist()]
    both_vms = both[both["source"] == "mrdata_vms"].set_index("record_id")
    assert (both_vms.loc[vms["record_id"], "site_id"].to_numpy() == vms["site_id"].to_numpy()).all()
    assert len(merged) >= 1090
    assert vms["site_id"].tolist()[:3] == make_site_ids(
        "minmod-usgs-mrdata", ["mrdata_vms"] * 3, vms["record_id"].tolist()[:3]
    )
    with pytest.raises(UnknownNameError, match="no MinMod folder 'mrdata_vsm'"):
        geomap.read("minmod-usgs-mrdata", layer="mrdata_vsm")


def test_kimberlites_and_carbonatites():
    kimb = geomap.read("carbonatites-kimberlites-global", layer="kimberlites")
    report = kimb.attrs["geomap_report"]
    assert report["records_in"] == 1_188 and len(kimb) == 1_174
    assert report["dropped"] == {"kimberlites: no coordinates": 14}
    assert any("embedded header on line 1135" in n for n in report["notes"])
    assert any("section title on line 1134" in n for n in report["notes"])
    assert kimb["record_id"].is_unique
    assert (kimb["record_id"].str.startswith("group2-")).sum() == 55
    assert (kimb["commodities"] == "").all() and (kimb["deposit_class"] == "kimberlite").all()
    assert kimb.loc[kimb["record_id"] == "1", "age_ma"].item() == 2848
    carb = geomap.read("carbonatites-kimberlites-global", layer="carbonatites")
    assert len(carb) == 311 and carb["record_id"].is_unique
    mountain_pass = carb[carb["age_text"] == "Proterozoic-- 1400 Ma"]
    assert mountain_pass["age_ma"].item() == 1400
    assert carb["age_ma"].notna().sum() == 266
    with pytest.raises(UnknownNameError, match="no layer 'lamproites'"):
        geomap.read("carbonatites-kimberlites-global", layer="lamproites")


@pytest.mark.parametrize(
    ("text", "age"),
    [
        ("349", 349.0),
        ("551 Ma (K-Ar, rie, fenite)", 551.0),
        ("109-130 Ma", 119.5),
        ("1.25 Ga  (U-Pb", 1250.0),
        ("Late Proterozoic-- 679 ± 25 Ma  (K-Ar, phlo)", 679.0),
        ("Cretaceous", 105.5),
        ("Early Cretaceous", pytest.approx(131.833, abs=1e-3)),
        ("Permian or younger", np.nan),
        ("Post-Devonian", np.nan),
        ("", np.nan),
    ],
)
def test_parse_age(text, age):
    value, _ = parse_age_ma(text)
    if isinstance(age, float) and np.isnan(age):
        assert np.isnan(value)
    else:
        assert value == age


def test_usmin_lithium_sites():
    frame = geomap.read("usgs-lithium-deposits-us-2019")
    assert len(frame) == 21 and frame["record_id"].is_unique
    kings = frame.set_index("record_id").loc["NC00002"]
    assert kings["name"] == "Kings Mountain" and kings["primary_commodities"] == "Li"
    assert kings["deposit_class"] == "pegmatite" and kings["ore_tonnage_mt"] == pytest.approx(22.3)
    assert (frame["primary_commodities"] == "Li").all()
    assert (frame["host_lithology"] != "").sum() >= 10  # from the Windows-1252 GeolMinOcc.csv
    report = frame.attrs["geomap_report"]
    assert report["normalized"]["Resources: negative amount read as its absolute value"] > 0
    assert report["unmapped"] == {}


@pytest.mark.parametrize("selector", ["REE", "lithium", "tungsten", "antimony", "cobalt"])
def test_critical_commodities_listed_for_the_us_and_japan(selector):
    us = read_occurrences(commodities=selector, country="USA", to_crs=False)
    assert len(us) > 0 and (us["country"] == "USA").all()
    assert select_commodities(us, selector).all()
    japan = read_occurrences(commodities=selector, country="JPN", to_crs=False)
    assert (japan["country"] == "JPN").all()  # the listing works; may be empty in the mirror
    if selector == "tungsten":
        assert len(japan) >= 19
    in_region = read_occurrences(commodities=selector, region="japan")
    assert in_region.crs.is_projected
    validate_occurrences(in_region, geographic_bounds=False)


def test_region_filter_crosses_the_antimeridian():
    alaska = read_occurrences(region="alaska", to_crs=False)
    lon = alaska.geometry.x
    assert len(alaska) > 50
    assert ((lon >= 172) | (lon <= -129)).all()
    assert (lon > 0).any()  # the western Aleutians / Chukotka side of the box is kept


@pytest.mark.filterwarnings("ignore:The filename extension should be 'gpkg'")
def test_schema_survives_geoparquet_and_geopackage(tmp_path):
    import geopandas as gpd
    import pyogrio

    from geomap.core.atomic import atomic_path

    frame = read_occurrences(commodities="REE", country="USA", to_crs=False).head(50)
    with atomic_path(tmp_path / "ree.parquet") as tmp:
        frame.to_parquet(tmp)
    with atomic_path(tmp_path / "ree.gpkg") as tmp:
        pyogrio.write_dataframe(frame, tmp, layer="occurrences", driver="GPKG")
    parquet = gpd.read_parquet(tmp_path / "ree.parquet")
    gpkg = pyogrio.read_dataframe(tmp_path / "ree.gpkg")
    for back in (parquet, gpkg):
        assert back["commodities"].tolist() == frame["commodities"].tolist()
        assert back.crs.to_epsg() == 4326
        assert np.allclose(back.geometry.x, frame.geometry.x)


# --------------------------------------------------------------------------- bad input
def _dataset(tmp_path: Path, files: dict[str, bytes], *, crs="EPSG:4326", encoding="utf-8"):
    entries, paths = [], {}
    for rel, content in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        entry = {"path": rel, "url": f"https://example.org/{rel}", "format": "minmod-json"}
        if crs:
            entry["crs"] = crs
        if encoding:
            entry["encoding"] = encoding
        entries.append(entry)
        paths[rel] = path
    dataset = Dataset.model_validate(
        {
            "id": "test-occurrences",
            "title": "t",
            "publisher": "p",
            "kind": "occurrences",
            "countries": ["USA"],
            "license": {"spdx": "MIT", "name": "MIT", "attribution": "a"},
            "citation": "c",
            "landing_page": "https://example.org",
            "online_only": True,
            "reader": "minmod-json",
            "files": entries,
        }
    )
    return dataset, paths


def _site(record_id: str, wkt: str | None, *, commodity="Gold", crs="EPSG:4326", name="Test"):
    location = {"country": [{"observed_name": "United States"}]}
    if wkt is not None:
        location["location"] = wkt
    if crs is not None:
        location["crs"] = {"observed_name": crs}
    return {
        "record_id": record_id,
        "name": name,
        "source_id": "https://example.org",
        "location_info": location,
        "mineral_inventory": [{"commodity": {"observed_name": commodity}}],
    }


def _json(*sites) -> bytes:
    return json.dumps(list(sites)).encode("utf-8")


def test_zero_byte_json_names_the_file(tmp_path):
    dataset, paths = _dataset(tmp_path, {"set/b000.json": b""})
    with pytest.raises(DataError, match=r"b000\.json is empty \(0 bytes\).*geomap fetch"):
        read_minmod(dataset, paths)


def test_truncated_json_names_the_file(tmp_path):
    whole = _json(_site("1", "POINT (-115.5 35.5)"), _site("2", "POINT (-115.4 35.4)"))
    dataset, paths = _dataset(tmp_path, {"set/b000.json": whole[: len(whole) // 2]})
    with pytest.raises(DataError, match=r"b000\.json is not valid JSON.*truncated or corrupted"):
        read_minmod(dataset, paths)


def test_wrong_text_encoding_is_named(tmp_path):
    text = json.dumps([_site("1", "POINT (-115.5 35.5)", name="Cañon Mine")], ensure_ascii=False)
    dataset, paths = _dataset(tmp_path, {"set/b000.json": text.encode("cp1252")})
    with pytest.raises(DataError, match=r"not valid utf-8 \(byte 0xf1.*e\.g\. cp1252"):
        read_minmod(dataset, paths)


def test_swapped_lat_lon_names_the_record(tmp_path):
    sites = _json(
        _site("ok-1", "POINT (-115.53 35.48)"), _site("swapped-7", "POINT (35.48 -115.53)")
    )
    dataset, paths = _dataset(tmp_path, {"set/b000.json": sites})
    with pytest.raises(CRSError, match=r"record swapped-7 .*look swapped"):
        read_minmod(dataset, paths)
    frame = read_minmod(dataset, paths, on_bad_coordinates="drop")
    assert frame["record_id"].tolist() == ["ok-1"]
    assert frame.attrs["geomap_report"]["dropped"] == {
        "invalid coordinates (on_bad_coordinates='drop')": 1
    }


def test_out_of_range_and_outside_area_of_use(tmp_path):
    dataset, paths = _dataset(tmp_path, {"set/b000.json": _json(_site("far", "POINT (200 10)"))})
    with pytest.raises(CRSError, match=r"record far .*longitude out of \[-180, 180\]"):
        read_minmod(dataset, paths)
    # UTM 12N easting/northing given in the wrong order land far outside the zone
    bad_utm = _json(_site("utm-swapped", "POINT (4506676 337936)", crs="EPSG:26912"))
    dataset, paths = _dataset(tmp_path / "utm", {"set/b000.json": bad_utm})
    with pytest.raises(CRSError, match=r"record utm-swapped .*outside the CRS's area of use"):
        read_minmod(dataset, paths)


def test_projected_record_crs_is_honoured(tmp_path):
    site = _json(_site("utm", "POINT (337936 4506676)", crs="EPSG:26912"))
    dataset, paths = _dataset(tmp_path, {"set/b000.json": site})
    frame = read_minmod(dataset, paths)
    assert frame.geometry.x.item() == pytest.approx(-112.9, abs=0.1)
    assert frame.geometry.y.item() == pytest.approx(40.7, abs=0.1)


def test_missing_crs_is_an_error_never_assumed(tmp_path):
    site = _json(_site("no-crs", "POINT (-115.5 35.5)", crs=None))
    dataset, paths = _dataset(tmp_path, {"set/b000.json": site}, crs=None)
    with pytest.raises(CRSError, match=r"record no-crs .*declares no CRS.*never assumed"):
        read_minmod(dataset, paths)


def test_unknown_commodity_alias_is_counted(tmp_path):
    sites = _json(
        _site("1", "POINT (-115.5 35.5)", commodity="Gold"),
        _site("2", "POINT (-115.4 35.4)", commodity="Unobtainium"),
        _site("3", None),
    )
    dataset, paths = _dataset(tmp_path, {"set/b000.json": sites})
    frame = read_minmod(dataset, paths)
    report = frame.attrs["geomap_report"]
    assert report["unmapped"] == {"Unobtainium": 1}
    assert report["dropped"] == {"no location": 1}
    assert "set: 3 records, 2 kept, 1 with unmapped commodity names" in report["notes"]
    assert frame.set_index("record_id").loc["2", "commodities_raw"] == "Unobtainium"


def test_empty_layer_gives_an_empty_valid_frame(tmp_path):
    dataset, paths = _dataset(tmp_path, {"set/b000.json": b"[]"})
    frame = read_minmod(dataset, paths)
    assert len(frame) == 0 and list(frame.columns[:3]) == ["site_id", "name", "dataset_id"]
    validate_occurrences(frame)
    assert "no records with a location" in frame.attrs["geomap_report"]["notes"][-1]
    nothing = read_occurrences(commodities="Sb", country="JPN", to_crs=False)
    assert len(nothing) == 0
    validate_occurrences(nothing)


def test_point_table_with_wrong_encoding(tmp_path):
    rows = "longitude,latitude,age_info\r\n-115.53,35.48,Proterozoic– 1400 Ma\r\n"
    path = tmp_path / "carbonatites_woolley2008.csv"
    path.write_bytes(rows.encode("cp1252"))
    dataset = Dataset.model_validate(
        {
            "id": "test-carbonatites", "title": "t", "publisher": "p", "kind": "occurrences",
            "countries": ["global"], "citation": "c", "landing_page": "https://example.org",
            "license": {"spdx": "CC-BY-4.0", "name": "CC", "attribution": "a"},
            "online_only": True, "reader": "carbonatites-kimberlites",
            "files": [{"path": "x/carbonatites_woolley2008.csv", "url": "https://example.org/c",
                       "format": "csv", "crs": "EPSG:4326", "encoding": "utf-8"}],
        }
    )  # fmt: skip
    paths = {"x/carbonatites_woolley2008.csv": path}
    with pytest.raises(DataError, match=r"carbonatites_woolley2008\.csv is not valid utf-8"):
        read_point_tables(dataset, paths, layer="carbonatites")


def test_validate_reports_schema_problems():
    frame = geomap.read("minmod-usgs-mrdata", layer="mrdata_carbonatite")
    broken = frame.drop(columns=["license"])
    broken.loc[1, "site_id"] = broken.loc[0, "site_id"]
    with pytest.raises(DataError, match=r"column 'license' is missing.*duplicated"):
        validate_occurrences(broken)
    with pytest.raises(CRSError, match="no CRS"):
        validate_occurrences(frame.set_crs(None, allow_override=True))


def test_empty_listing_says_it_is_a_gap_in_the_mirror_and_where_to_look():
    from typer.testing import CliRunner

    from geomap.cli import app

    result = CliRunner().invoke(app, ["occurrences", "-c", "antimony", "--country", "JPN"])
    assert result.exit_code == 0, result.output
    message = result.stderr
    assert "no occurrences of 'antimony' --country JPN in the mirrored data" in message
    assert "commodities recorded there: Cu " in message  # what the mirror does hold for Japan
    assert "usgs-mrds-full (occurrences)" in message
    assert "mirrored geochemistry there" in message  # Sb analyses of the GSJ map
    assert "gsj-geochemical-map-japan" in message


def test_region_listing_keeps_the_regions_own_countries_unless_neighbours_asked():
    from typer.testing import CliRunner

    from geomap.cli import app

    def countries(*extra: str) -> set[str]:
        args = ["occurrences", "-c", "W", "--region", "japan", "-f", "csv", *extra]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        return set(pd.read_csv(io.StringIO(result.stdout))["country"])

    assert countries() == {"JPN"}
    assert {"JPN", "KOR"} <= countries("--neighbours")

"""Readers of the official full-resolution sources, on small files in the published layouts.

The fixtures (``tests/_official_fixtures.py``) follow each download's documented file names,
fields, encodings, CRSs and conventions; every test also checks that only the requested
window was read (features, rows or cells counted by the reader's report).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pyproj
import pytest

from geomap import testing as fx
from geomap.errors import DataError, FetchError, ParameterError
from geomap.io.emag2v3 import read_emag2v3_path
from geomap.io.gsj_seamless import (
    read_seamless_path,
    seamless_legend_at,
    seamless_tile_url,
)
from geomap.io.mrds import read_mrds_path
from geomap.io.ngs import read_ngs_path
from geomap.io.sgmc import read_sgmc_path

TSUKUBA = (139.8, 35.9, 140.3, 36.3)
MOUNTAIN_PASS = (-115.6, 35.3, -115.4, 35.6)
CONUS = (-125.0, 24.0, -66.5, 49.5)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("official")
    return {
        "seamless": fx.seamless_zip(tmp),
        "sgmc_gdb": fx.sgmc_gdb_zip(tmp),
        "sgmc_shp": fx.sgmc_shapefile_folder(tmp),
        "mrds": fx.mrds_zip(tmp),
        "ngs": fx.ngs_zip(tmp),
        "emag2": fx.emag2_zip(tmp),
    }


def _notes(obj) -> str:
    return " ".join(obj.attrs["geomap_report"]["notes"])


# ------------------------------------------------------------------ GSJ Seamless V2


def test_seamless_polygons_join_the_legend_inside_the_window(files):
    geology = read_seamless_path(files["seamless"], bbox=TSUKUBA)
    assert len(geology) == 6  # the Hokkaido polygon lies outside the window
    assert "selected 6 of 7 features" in _notes(geology)
    assert pyproj.CRS(geology.crs).to_epsg() == 4612  # JGD2000 geographic, as published
    by_symbol = geology.drop_duplicates("symbol").set_index("symbol")
    assert by_symbol.loc["K2gr", "lithology"] == "felsic_intrusive"
    assert by_symbol.loc["K2gr", "color"] == "#ff9999"
    assert (by_symbol.loc["K2gr", "age_older_ma"], by_symbol.loc["K2gr", "age_younger_ma"]) == (
        100.5,
        66.0,
    )
    assert by_symbol.loc["N2va", "lithology"] == "intermediate_volcanic"
    assert by_symbol.loc["N2va", "age_older_ma"] == 15.98
    assert by_symbol.loc["Q3al", "lithology"] == "unconsolidated"
    assert by_symbol.loc["J2ms", "lithology"] == "mixed_sedimentary"
    assert by_symbol.loc["Pum", "lithology"] == "ultramafic"
    assert geology["lithology_code"].dtype == np.uint8
    lines = read_seamless_path(files["seamless"], layer="lines", bbox=TSUKUBA)
    assert list(lines["Legend_E"]) == ["Fault"] and list(lines["Major_Code"]) == [11]


def test_seamless_legend_layer_has_every_unit(files):
    legend = read_seamless_path(files["seamless"], layer="legend")
    assert list(legend["symbol"]) == [row[1] for row in fx.SEAMLESS_LEGEND]
    classified = legend.attrs["geomap_report"]["normalized"]["legend units given a lithology class"]
    assert classified == len(fx.SEAMLESS_LEGEND)


def test_seamless_polygon_symbol_missing_from_legend(tmp_path):
    archive = fx.seamless_zip(tmp_path, legend_rows=fx.SEAMLESS_LEGEND[:-1])  # no "Pum"
    with pytest.raises(DataError, match=r"symbol\(s\) \['Pum'\].*legend.tsv.*missing_symbols"):
        read_seamless_path(archive)
    kept = read_seamless_path(archive, missing_symbols="keep")
    assert kept.loc[kept["symbol"] == "Pum", "lithology"].tolist() == ["unknown"]


def test_seamless_wrong_zip_layout_names_the_missing_member(tmp_path):
    archive = tmp_path / "seamlessV2.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("readme.txt", "not the map")
    with pytest.raises(
        DataError,
        match=r"wrong archive layout: seamlessV2_poly.shp, legend.tsv not found \(it holds readme",
    ):
        read_seamless_path(archive)


def test_seamless_legend_in_shift_jis_is_refused_with_the_fix(tmp_path):
    folder = fx.seamless_files(tmp_path / "sjis")
    legend = folder / "legend.tsv"
    legend.write_bytes(legend.read_text(encoding="utf-8").encode("cp932"))
    with pytest.raises(DataError, match=r"legend.tsv.*Shift_JIS.*UTF-8"):
        read_seamless_path(folder)


def test_seamless_legend_with_other_columns_is_refused(tmp_path):
    folder = fx.seamless_files(tmp_path / "csv")
    legend = folder / "legend.tsv"
    legend.write_text(legend.read_text(encoding="utf-8").replace("\t", ","), encoding="utf-8")
    with pytest.raises(DataError, match=r"unexpected columns \(no tab found"):
        read_seamless_path(folder)


API_PATH = "/seamless/v2/api/1.3.1/legend.json"


def test_seamless_point_lookup_latitude_first_and_empty_places(httpserver):
    unit = {
        "symbol": "K2gr",
        "formationAge_en": "Late Cretaceous",
        "lithology_en": "Granite",
        "lithology_ja": "花崗岩",
        "group_en": "Plutonic rocks",
    }
    base = httpserver.url_for("/seamless/v2/api/1.3.1")
    httpserver.expect_oneshot_request(API_PATH, query_string="point=36.1,140.05").respond_with_json(
        unit
    )
    found = seamless_legend_at(36.1, 140.05, base_url=base)
    assert found is not None and found["symbol"] == "K2gr"
    assert found["lithology"] == "felsic_intrusive" and found["age_younger_ma"] == 66.0
    httpserver.expect_oneshot_request(API_PATH, query_string="point=35.0,141.5").respond_with_json(
        {}
    )
    assert seamless_legend_at(35.0, 141.5, base_url=base) is None  # sea: {} with HTTP 200
    httpserver.expect_oneshot_request(API_PATH, query_string="point=30.0,150.0").respond_with_json(
        {"symbol": None}
    )
    assert seamless_legend_at(30.0, 150.0, base_url=base) is None  # symbol: null with HTTP 200
    httpserver.expect_oneshot_request(API_PATH).respond_with_data("down", status=503)
    with pytest.raises(FetchError, match="HTTP 503"):
        seamless_legend_at(36.0, 140.0, base_url=base)
    httpserver.expect_oneshot_request(API_PATH).respond_with_json(
        {"code": "102", "message": {"en": "invalid point"}}, status=400
    )
    with pytest.raises(FetchError, match=r"HTTP 400 \(API error 102: invalid point\)"):
        seamless_legend_at(36.0, 140.0, base_url=base)
    fuji = {  # the API's answer at Mt Fuji, as published
        "title": "新生代 第四紀 完新世,玄武岩 溶岩・火砕岩",
        "symbol": "H_vbs_al",
        "value": "70658f",
        "r": 112,
        "g": 101,
        "b": 143,
        "formationAge_ja": "新生代 第四紀 完新世",
        "formationAge_en": "Cenozoic Quaternary Holocene",
        "group_ja": "火成岩",
        "group_en": "Igneous rocks",
        "lithology_ja": "玄武岩 溶岩・火砕岩",
        "lithology_en": "basalt lava & pyroclastic rocks",
    }
    httpserver.expect_oneshot_request(API_PATH).respond_with_json(fuji)
    found = seamless_legend_at(35.36, 138.73, base_url=base)
    assert found is not None and found["lithology"] == "mafic_volcanic"
    assert (found["age_older_ma"], found["age_younger_ma"]) == (0.0117, 0.0)
    httpserver.check_assertions()
    with pytest.raises(ParameterError, match="latitude first"):
        seamless_legend_at(140.05, 36.1, base_url=base)


def test_seamless_tile_url_puts_the_row_before_the_column():
    url = seamless_tile_url(10, x=909, y=403)
    assert url.endswith("/tiles/10/403/909.png")


def test_seamless_tiles_are_an_online_map_layer_with_the_gsj_credit():
    from geomap.render import MapBuilder

    builder = MapBuilder(
        title="geology", basemap=False, online_basemaps=["GSJ Seamless geology V2 (1:200,000)"]
    )
    html = builder.to_map().get_root().render()
    assert "gbank.gsj.jp/seamless/v2/api/1.3.1/tiles/{z}/{y}/{x}.png" in html
    assert "(GSJ, AIST)" in html  # the credit line (Japanese text is JSON-escaped)


# ------------------------------------------------------------------ USGS SGMC


def test_sgmc_geodatabase_window_join_and_alkaline_units(files):
    geology = read_sgmc_path(files["sgmc_gdb"], bbox=MOUNTAIN_PASS)
    assert "selected 3 of 5 features" in _notes(geology)
    assert pyproj.CRS(geology.crs).equals(pyproj.CRS("ESRI:102039"))
    by_link = geology.set_index("UNIT_LINK")
    assert by_link.loc["CAMDc;0", "lithology"] == "carbonatite_alkaline"
    assert by_link.loc["CAXgr;0", "lithology"] == "metamorphic"
    assert by_link.loc["CAQal;0", "lithology"] == "unconsolidated"
    assert (by_link.loc["CAMDc;0", "age_older_ma"], by_link.loc["CAMDc;0", "age_younger_ma"]) == (
        1600.0,
        1000.0,
    )
    assert by_link.loc["CAQal;0", "age_younger_ma"] == 0.0
    assert by_link.loc["CAMDc;0", "UNIT_NAME"] == "Mountain Pass carbonatite"


def test_sgmc_shapefile_and_csv_tables_give_the_same_classes(files):
    from_gdb = read_sgmc_path(files["sgmc_gdb"]).set_index("UNIT_LINK")
    from_shp = read_sgmc_path(files["sgmc_shp"]).set_index("UNIT_LINK")
    assert (
        from_shp["lithology"].sort_index().tolist() == from_gdb["lithology"].sort_index().tolist()
    )
    assert from_shp.loc["NVKgd;0", "lithology"] == "felsic_intrusive"
    assert bool(from_shp.loc["NVKgd;0", "alkaline_minor"])  # carbonatite as a minor lithology
    assert (
        from_shp.loc["NVKgd;0", "GENERALIZED_LITH"] == "Igneous, intrusive"
    )  # 10-char name restored


def test_sgmc_states_filter_reads_only_those_states(files):
    nevada = read_sgmc_path(files["sgmc_gdb"], states=["NV"])
    assert sorted(nevada["UNIT_LINK"]) == ["NVJs;0", "NVKgd;0"]
    assert nevada.attrs["geomap_report"]["records_in"] == 2  # the filter ran inside GDAL
    with pytest.raises(ParameterError, match="two-letter state codes"):
        read_sgmc_path(files["sgmc_gdb"], states=["CA'); DROP TABLE x; --"])


def test_sgmc_table_without_unit_link_is_refused(tmp_path, files):
    import shutil

    folder = tmp_path / "sgmc"
    shutil.copytree(files["sgmc_shp"], folder)
    table = folder / "SGMC_Units.csv"
    table.write_text(table.read_text().replace("UNIT_LINK", "UNITLINK"))
    with pytest.raises(DataError, match="SGMC_Units has no UNIT_LINK column"):
        read_sgmc_path(folder)
    (folder / "SGMC_Units.csv").unlink()
    with pytest.raises(DataError, match="table SGMC_Units not found"):
        read_sgmc_path(folder)


# ------------------------------------------------------------------ USGS MRDS


def test_mrds_streams_the_csv_and_keeps_the_window(files, monkeypatch):
    from geomap.harmonize.occurrences import validate_occurrences
    from geomap.io import mrds

    sites = read_mrds_path(files["mrds"], bbox=CONUS)
    validate_occurrences(sites)
    assert list(sites["name"]) == ["Mountain Pass", "Bear Lodge", "Nameless copper showing"]
    report = sites.attrs["geomap_report"]
    assert report["records_in"] == 5 and report["dropped"] == {"no or invalid coordinates": 1}
    assert "3 sites kept, 1 outside the window" in _notes(sites)  # Kamioka (Japan) not kept
    pass_ = sites.iloc[0]
    assert pass_["commodities"] == "Ba;F;REE;Sr;Th" and pass_["primary_commodities"] == "Ba;REE;Sr"
    assert pass_["country"] == "USA" and pass_["deposit_class"] == "carbonatite"
    assert pass_["url"].endswith("/10161509")
    monkeypatch.setattr(mrds, "_CHUNK", 2)  # three chunks: same result
    again = read_mrds_path(files["mrds"], bbox=CONUS)
    assert again.drop(columns="geometry").equals(sites.drop(columns="geometry"))


def test_mrds_csv_in_another_encoding_names_the_fix(tmp_path):
    rows = [dict(fx.MRDS_ROWS[0], site_name="Montaña Pass")]
    archive = fx.mrds_zip(tmp_path, rows=rows, encoding="cp1252")
    with pytest.raises(DataError, match=r"not utf-8 text.*encoding='cp1252'"):
        read_mrds_path(archive)
    assert read_mrds_path(archive, encoding="cp1252")["name"].tolist() == ["Montaña Pass"]


def test_mrds_with_unexpected_columns_is_refused(tmp_path):
    archive = tmp_path / "mrds-csv.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("mrds.csv", "id,name,lat,lon\n1,x,1,2\n")
    with pytest.raises(DataError, match=r"unexpected columns: \['dep_id', 'site_name'"):
        read_mrds_path(archive)


# ------------------------------------------------------------------ USGS NGS


def test_ngs_censored_values_units_and_methods(files):
    samples = read_ngs_path(files["ngs"], crs="EPSG:4326", bbox=CONUS)
    assert len(samples) == 3 and "1 outside not kept" in _notes(samples)  # Alaska outside
    first, second, third = (samples.iloc[i] for i in range(3))
    assert first["La_ppm"] == 250 and not first["La_censored"]
    assert np.isnan(second["La_ppm"]) and second["La_censored"] and second["La_dl_ppm"] == 4
    assert np.isnan(second["Ce_ppm"]) and not second["Ce_censored"]  # empty = not analysed
    assert first["Al_ppm"] == pytest.approx(71000)  # ICP40 majors are weight percent
    assert first["Au_ppm"] == pytest.approx(0.012) and first["Au_method"] == "AA"  # ppb -> ppm
    assert second["Au_censored"] and second["Au_dl_ppm"] == pytest.approx(0.002)
    assert third["Au_ppm"] == pytest.approx(0.005) and third["Au_method"] == "FA"
    assert (samples["U_censored"]).all() and samples["U_ppm"].isna().all()
    assert "La" in samples.attrs["geomap_elements"]


def test_ngs_needs_a_declared_crs(files):
    from geomap.errors import CRSError

    with pytest.raises(CRSError, match="declared CRS"):
        read_ngs_path(files["ngs"], crs=None)


# ------------------------------------------------------------------ EMAG2v3


@pytest.mark.parametrize("bbox", [(-125.0, 24.0, -66.5, 49.5), (172.0, 51.0, -129.0, 71.5)])
def test_emag2v3_geotiff_and_csv_windows_agree(files, bbox):
    tif = read_emag2v3_path(files["emag2"], bbox=bbox, prefer="tif")
    csv = read_emag2v3_path(files["emag2"], bbox=bbox, prefer="csv")
    assert tif.shape == csv.shape and tif.shape[0] * tif.shape[1] < 90 * 180 / 10
    np.testing.assert_allclose(tif.values, csv.values, atol=0.01)
    np.testing.assert_allclose(tif.x.values, csv.x.values)
    assert np.all(np.diff(tif.x.values) > 0)  # continuous longitudes, also across 180°
    assert "read window" in _notes(tif) and "of 16,200 rows" in _notes(csv)
    assert tif.rio.crs.to_epsg() == 4326 and tif.attrs["units"] == "nT"


def test_emag2v3_sea_level_has_no_data_on_land_and_filled_uses_upcont(files):
    bbox = CONUS
    sea = read_emag2v3_path(files["emag2"], layer="sealevel", bbox=bbox)
    up = read_emag2v3_path(files["emag2"], layer="upcont", bbox=bbox)
    filled = read_emag2v3_path(files["emag2"], layer="sealevel_filled", bbox=bbox)
    land = np.isnan(sea.values)
    assert land.any() and np.isfinite(up.values).all()
    np.testing.assert_allclose(filled.values[land], up.values[land])
    np.testing.assert_allclose(filled.values[~land], sea.values[~land])
    counted = filled.attrs["geomap_report"]["normalized"]
    assert next(iter(counted.values())) == int(land.sum())


@pytest.mark.parametrize(
    "bbox", [(-125.0, 24.0, -66.5, 49.5), (172.0, 51.0, -129.0, 71.5), (-10.0, 40.0, 10.0, 60.0)]
)
def test_emag2v3_geotiff_from_0_to_360_gives_the_same_window(files, tmp_path, bbox):
    import rasterio
    from rasterio.transform import from_origin

    _, _, _, upcont = fx.emag2_values()
    shifted = tmp_path / "EMAG2_V3_20170530_UpCont.tif"  # the same grid, stored 0-360
    with rasterio.open(
        shifted,
        "w",
        driver="GTiff",
        width=upcont.shape[1],
        height=upcont.shape[0],
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        nodata=-99999,
        transform=from_origin(0.0, 90.0, fx.EMAG2_STEP, fx.EMAG2_STEP),
    ) as dst:
        dst.write(upcont, 1)
    reference = read_emag2v3_path(files["emag2"], bbox=bbox)
    other = read_emag2v3_path(shifted, bbox=bbox)
    np.testing.assert_allclose(other.x.values, reference.x.values)
    np.testing.assert_allclose(other.values, reference.values)


# ------------------------------------------------------------------ safe unpacking


def test_unpack_refuses_links_bombs_and_keeps_nothing_partial(tmp_path):
    import stat

    from geomap.io.archives import unpack_zip

    linked = tmp_path / "linked.zip"
    with zipfile.ZipFile(linked, "w") as out:
        info = zipfile.ZipInfo("data/link.shp")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        out.writestr(info, "/etc/passwd")
    with pytest.raises(DataError, match="is a symbolic link"):
        unpack_zip(linked, dest_root=tmp_path / "out")
    big = tmp_path / "big.zip"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as out:
        out.writestr("zeros.bin", b"\0" * 100_000)
    with pytest.raises(DataError, match="beyond 1,000"):
        unpack_zip(big, dest_root=tmp_path / "out", max_total_bytes=1_000)
    with pytest.raises(DataError, match="more than 0"):
        unpack_zip(big, dest_root=tmp_path / "out", max_members=0)
    assert not list((tmp_path / "out").iterdir())  # no partial folder left behind
    folder = unpack_zip(big, dest_root=tmp_path / "out")
    assert (folder / "zeros.bin").stat().st_size == 100_000
    assert unpack_zip(big, dest_root=tmp_path / "out") == folder  # unpacked once


@pytest.mark.parametrize(
    ("english", "japanese", "expected"),
    [
        ("Non-alkaline felsic volcanic rocks", "非アルカリ珪長質火山岩類", "felsic_volcanic"),
        (None, "非アルカリ苦鉄質火山岩類", "mafic_volcanic"),  # 非アルカリ is not alkaline
        ("Pyroclastic flow deposits", "火砕流堆積物", "pyroclastic"),  # not loose sediment
        ("Accretionary complex - Sandstone", "付加体 砂岩", "clastic_sedimentary"),
        ("Granodiorite", "花崗閃緑岩", "felsic_intrusive"),
        ("Syenite", "閃長岩", "carbonatite_alkaline"),
    ],
)
def test_seamless_legend_terms_map_to_the_vocabulary(english, japanese, expected):
    from geomap.harmonize.official_lithology import seamless_lithology

    assert seamless_lithology(english, japanese) == expected


@pytest.mark.parametrize(
    ("name", "majors", "generalized", "expected"),
    [
        ("Alkali basalt of the pass", ["basalt"], "Igneous, volcanic", "mafic_volcanic"),
        (
            "Bearpaw Mountains",
            ["alkaline intrusive rocks"],
            "Igneous, intrusive",
            "carbonatite_alkaline",
        ),
        (
            "Iron Hill carbonatite complex",
            ["carbonatite"],
            "Igneous, intrusive",
            "carbonatite_alkaline",
        ),
        ("Salt Wash Member", ["sandstone"], "Sedimentary, clastic", "clastic_sedimentary"),
        ("Unit without majors", [], "Metamorphic, serpentinite", "ultramafic"),
    ],
)
def test_sgmc_terms_map_to_the_vocabulary(name, majors, generalized, expected):
    from geomap.harmonize.official_lithology import sgmc_lithology

    assert sgmc_lithology(name, majors, generalized) == expected

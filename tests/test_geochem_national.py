"""GSJ Geochemical Map of Japan and USGS Colorado soils: readers, units, joins, bad input."""

from __future__ import annotations

import numpy as np
import pyogrio
import pytest

import geomap
from geomap.errors import DataError
from geomap.io.colorado_geochem import read_colorado_rda
from geomap.io.gsj_geochem import OXIDE_TO_ELEMENT, read_gsj_geochem_files

GSJ = "gsj-geochemical-map-japan"
COLORADO = "usgs-colorado-soil-geochem"

CONC_HEADER = "番号2,Al2O3,La,Hg"
INFO_HEADER = (
    "試料番号,地図名,経度(JGD2000),緯度(JGD2000),採取地,川,河床幅,流水幅,流速,河床状況,"
    "試料粒度,試料色調,護岸,コメント"
)


@pytest.fixture(scope="module")
def gsj():
    return geomap.read(GSJ)


@pytest.fixture(scope="module")
def colorado():
    return geomap.read(COLORADO)


def test_gsj_real_files_join_units_and_report(gsj, data_root):
    assert len(gsj) == 3024 and gsj.crs.to_epsg() == 4612
    assert gsj["sample_id"].is_unique
    pair = gsj[gsj["sample_number"] == 78013]
    assert list(pair["sample_id"]) == ["78013", "78013#2"]
    assert [s[:2] for s in pair["map_sheet"]] == ["78", "79"]  # paired by order of occurrence
    report = gsj.attrs["geomap_report"]
    assert report["dropped"] == {"noudo.csv: empty line (no sample number, no values)": 1}
    assert report["records_in"] == 3025 == sum(report["dropped"].values()) + len(gsj)
    assert (gsj["medium"] == "stream sediment").all()
    elements = set(gsj.attrs["geomap_elements"])
    assert {"La", "Lu", "Y", "Th", "Nb", "Ta", "Li", "Sn", "Sb", "Hg", "Al", "Fe"} <= elements
    assert not {"W", "Au", "Ag"} & elements
    # first sample: Al2O3 6.579 wt % -> Al ppm; Hg 80 ppb -> 0.08 ppm (independent parse)
    first = gsj.iloc[0]
    raw = (data_root / GSJ / "noudo.csv").read_bytes().decode("cp932").splitlines()[1].split(",")
    assert raw[0] == "00001" and first["sample_id"] == "1"
    assert first["Al_ppm"] == pytest.approx(float(raw[1]) * 1e4 * 0.52925, rel=1e-4)
    assert first["Hg_ppm"] == pytest.approx(float(raw[-1]) / 1000)
    assert OXIDE_TO_ELEMENT["P2O5"][1] == pytest.approx(4364.2, abs=1)
    la = gsj["La_ppm"]
    assert la.median() == pytest.approx(16.5, abs=0.6) and la.max() == pytest.approx(1344, abs=1)
    assert gsj["As_censored"].sum() == 164 and gsj.loc[gsj["As_censored"], "As_ppm"].isna().all()
    lon, lat = gsj.geometry.x, gsj.geometry.y
    assert lon.between(127.6, 145.8).all() and lat.between(26.1, 45.5).all()


def test_gsj_to_japan_crs_records_the_operation():
    japan = geomap.read(GSJ, region="japan")
    assert len(japan) == 3024
    operation = japan.attrs["geomap_crs_operation"]
    assert operation["source_crs"] == "EPSG:4612"
    assert "JGD2000 to JGD2011" in operation["operation"]
    assert "Albers" in japan.crs.name


def test_gsj_official_download_layout(tmp_path, data_root, gsj):
    (tmp_path / "ganyuryo").mkdir()
    (tmp_path / "joho").mkdir()
    (tmp_path / "ganyuryo" / "noudo.csv").symlink_to(data_root / GSJ / "noudo.csv")
    (tmp_path / "joho" / "samplejoho.csv").symlink_to(data_root / GSJ / "samplejoho.csv")
    official = read_gsj_geochem_files(tmp_path)
    assert len(official) == 3024
    assert np.allclose(official["La_ppm"], gsj["La_ppm"])


def _write(path, text, encoding="cp932"):
    path.write_bytes(text.replace("\n", "\r\n").encode(encoding))
    return path


def _pair(tmp_path, conc_rows, info_rows, encoding="cp932"):
    conc = _write(tmp_path / "noudo.csv", "\n".join([CONC_HEADER, *conc_rows]) + "\n", encoding)
    info = _write(tmp_path / "samplejoho.csv", "\n".join([INFO_HEADER, *info_rows]) + "\n")
    return conc, info


def _info(number, lon, lat, comment=""):
    return f"{number},1開聞岳,{lon},{lat},鹿児島県,郡川,50m未満,,,,中粒,,人造,{comment}"


def test_gsj_bad_rows_are_counted_not_lost(tmp_path):
    conc, info = _pair(
        tmp_path,
        [
            "00001,6.5 ,20.1 ,80.0 ",
            "00002,6.5 ,20.1",  # wrong number of fields
            "00003,6.5,0.0,0.0",  # compact numbers; zero = censored
            "00003,7.0,30,1.0",  # repeated id, paired by order
            ",,,",  # empty line
            "00005,6.5,20,1",  # no location
            "00006,6.5,20,1",  # outside Japan
            "00007,6.5,20,1",  # lon/lat swapped
        ],
        [
            _info(1, 130.7, 31.0, "a,b"),  # unquoted comma in the comment: joined back
            _info(2, 130.8, 31.1),
            _info(3, 130.9, 31.2),
            _info(3, 131.0, 31.3),
            _info(4, 131.1, 31.4),  # no analysis
            _info(6, 10.0, 50.0),
            _info(7, 31.5, 131.2),
        ],
    )
    out = read_gsj_geochem_files(conc, info)
    report = out.attrs["geomap_report"]
    assert list(out["sample_id"]) == ["1", "3", "3#2", "7"]
    assert out.loc[out["sample_id"] == "3#2", "La_ppm"].item() == 30
    assert out.loc[out["sample_id"] == "1", "comment"].item() == "a,b"
    assert out.loc[out["sample_id"] == "3", "La_censored"].item()
    assert np.isnan(out.loc[out["sample_id"] == "3", "La_ppm"].item())
    assert out.loc[out["sample_id"] == "7"].geometry.x.item() == pytest.approx(131.2)
    dropped = report["dropped"]
    assert dropped["noudo.csv: row with another number of fields than the header's 4"] == 1
    assert dropped["noudo.csv: empty line (no sample number, no values)"] == 1
    assert dropped["samplejoho.csv has no location for this sample number"] == 1
    assert dropped["noudo.csv has no analysis for this sample number"] == 2  # 4, and 2 (bad row)
    assert dropped["coordinates outside Japan (122.0–154.0 °E, 20.0–46.0 °N)"] == 1
    assert (
        report["repaired"]["samplejoho.csv: extra fields (unquoted comma) joined into the comment"]
        == 1
    )
    assert (
        report["repaired"]["longitude and latitude written the wrong way round, swapped back"] == 1
    )
    assert report["records_in"] == sum(dropped.values()) + len(out)
    assert any("lines [3]" in note for note in report["notes"])


def test_gsj_unbalanced_duplicates_short_rows_and_bad_coordinates_are_counted(tmp_path):
    conc, info = _pair(
        tmp_path,
        [
            "00005,6.5,20,1",
            "00005,6.6,21,1",  # id 5 three times here, once in samplejoho.csv
            "00005,6.7,22,1",
            "00008,6.5,20,1",
            "00009,6.5,20,1",
            "00010,6.5,20,1",
        ],
        [
            _info(5, 130.7, 31.0),
            "8,1開聞岳,130.8,31.1,鹿児島県",  # trailing fields missing: padded
            "9,1開聞岳",  # too short to place
            _info(10, "東経130度", 31.2),  # coordinates that are not numbers
        ],
    )
    out = read_gsj_geochem_files(conc, info)
    report = out.attrs["geomap_report"]
    assert list(out["sample_id"]) == ["5", "8"]
    assert out.loc[out["sample_id"] == "5", "La_ppm"].item() == 20  # the first paired by order
    assert out.loc[out["sample_id"] == "8", "river"].isna().all()
    dropped = report["dropped"]
    assert dropped["samplejoho.csv has no location for this sample number"] == 3  # 5#2, 5#3, 9
    assert dropped["samplejoho.csv: row without sample number and coordinates"] == 1
    assert dropped["coordinates that are not numbers"] == 1
    assert report["repaired"]["samplejoho.csv: missing trailing fields padded with empty text"] == 1
    assert report["records_in"] == sum(dropped.values()) + len(out)
    assert any("without location [5, 5, 9]" in note for note in report["notes"])


def test_gsj_wrong_encoding(tmp_path):
    conc, info = _pair(tmp_path, ["00001,6.5,20,80"], [_info(1, 130.7, 31.0)], encoding="utf-8")
    out = read_gsj_geochem_files(conc, info)  # UTF-8 re-save: read, and said so
    assert any("is UTF-8, not the Shift_JIS" in n for n in out.attrs["geomap_report"]["notes"])
    conc.write_bytes(CONC_HEADER.encode("utf-16"))
    with pytest.raises(DataError, match="binary data|neither Shift_JIS"):
        read_gsj_geochem_files(conc, info)
    conc.write_bytes("番号,La\r\n1,2\r\n".encode("cp932"))
    with pytest.raises(DataError, match="does not start with the header '番号2'"):
        read_gsj_geochem_files(conc, info)
    conc.write_bytes(b"\x82\xa0\x81\x7f,La\r\n")  # invalid cp932 and invalid UTF-8
    with pytest.raises(DataError, match="neither Shift_JIS \\(cp932\\) nor UTF-8"):
        read_gsj_geochem_files(conc, info)


def test_gsj_nothing_left_is_an_error(tmp_path):
    conc, info = _pair(tmp_path, ["00001,6.5,20,80"], [_info(1, 10.0, 10.0)])
    with pytest.raises(DataError, match="no sample has both an analysis and a location"):
        read_gsj_geochem_files(conc, info)


def test_colorado_censoring_restored(colorado):
    assert len(colorado) == 959 and colorado.crs.to_epsg() == 4326
    assert colorado["sample_id"].iloc[0] == "06co001" and colorado["sample_id"].is_unique
    report = colorado.attrs["geomap_report"]
    restored = (
        "censored values (imputed as 0.65 x limit) restored to censored; limit = value / 0.65"
    )
    assert report["normalized"][restored] == 240
    counts = {e: int(colorado[f"{e}_censored"].sum()) for e in colorado.attrs["geomap_elements"]}
    assert {e: c for e, c in counts.items() if c} == {
        "S": 29, "As": 4, "Bi": 11, "Cd": 54, "In": 135, "P": 5, "Sb": 2,
    }  # fmt: skip
    cd = colorado[colorado["Cd_censored"]]
    assert cd["Cd_ppm"].isna().all() and np.allclose(cd["Cd_dl_ppm"], 0.1)
    assert np.allclose(cd["Cd_imputed_ppm"], 0.065)
    assert colorado.attrs["geomap_closure_ppm"] == 1e6
    assert colorado["La_ppm"].median() == pytest.approx(33, abs=1)
    assert colorado.geometry.x.between(-109.1, -102.0).all()


def test_colorado_written_and_read_back_with_gdal(colorado, tmp_path):
    path = tmp_path / "co.gpkg"
    colorado[["sample_id", "La_ppm", "Th_ppm", "geometry"]].to_file(path, engine="pyogrio")
    back = pyogrio.read_dataframe(path)
    assert len(back) == 959 and np.allclose(back["La_ppm"], colorado["La_ppm"])


def test_colorado_not_an_rda(tmp_path):
    bad = tmp_path / "CoGeochemData.rda"
    bad.write_text("<html>not found</html>")
    with pytest.raises(DataError, match="is not an R data file"):
        read_colorado_rda(bad)

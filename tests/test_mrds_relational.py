"""The relational (tab-separated) MRDS release reads into the same sites as the CSV digest."""

from __future__ import annotations

import zipfile

import pytest

import geomap.testing as fx
from geomap.errors import DataError
from geomap.io.mrds import read_mrds_path
from geomap.io.mrds_relational import read_mrds_rdbms_path

CONUS = (-125.0, 24.0, -66.0, 50.0)
SAME = [
    "record_id",
    "name",
    "country",
    "country_name",
    "state",
    "county",
    "commodities",
    "primary_commodities",
    "deposit_type",
    "deposit_class",
    "dev_stat",
    "mrds_id",
    "oper_type",
    "license",
]


def test_relational_release_gives_the_csv_sites_commodities_and_places(tmp_path):
    csv_sites = read_mrds_path(fx.mrds_zip(tmp_path), bbox=CONUS)
    sites = read_mrds_rdbms_path(fx.mrds_rdbms_zip(tmp_path), bbox=CONUS)
    assert list(sites.columns) == list(csv_sites.columns)
    for column in SAME:
        assert sites[column].tolist() == csv_sites[column].tolist(), column
    assert sites.geometry.equals(csv_sites.geometry)
    pass_ = sites.set_index("name").loc["Mountain Pass"]
    assert pass_["primary_commodities"] == "Ba;REE;Sr"  # Primary rows only; Th, F are not
    assert pass_["commodities"] == "Ba;F;REE;Sr;Th"
    assert pass_["county"] == "San Bernardino" and pass_["state"] == "California"
    assert pass_["deposit_class"] == "carbonatite"
    # the commodities keep the order of their ``line`` numbers, not the file's row order
    assert pass_["commodities_raw"].startswith("Rare Earth Elements; Barium-Barite; Strontium")
    assert pass_["url"].endswith("show-mrds.php?dep_id=10161509")
    report = sites.attrs["geomap_report"]
    assert report["records_in"] == 5 and report["dropped"] == {"no or invalid coordinates": 1}
    assert "Kamioka" not in set(sites["name"])  # outside the window: never kept


def test_only_rows_of_sites_in_the_window_are_held(tmp_path, monkeypatch):
    from geomap.io import mrds_relational

    held: list[int] = []
    original = mrds_relational._rows_of

    def counting(*args, **kwargs):
        frame = original(*args, **kwargs)
        held.append(len(frame))
        return frame

    monkeypatch.setattr(mrds_relational, "_rows_of", counting)
    sites = read_mrds_rdbms_path(fx.mrds_rdbms_zip(tmp_path), bbox=(136.0, 35.0, 138.0, 37.0))
    assert sites["name"].tolist() == ["Kamioka"]
    # Location 1 row, Commodity 3 rows (Zn, Pb, Ag), Deposits 1 row: no other site's rows
    assert held[:3] == [1, 3, 1]


def test_an_unpacked_folder_reads_like_the_zip(tmp_path):
    archive = fx.mrds_rdbms_zip(tmp_path)
    with zipfile.ZipFile(archive) as opened:
        opened.extractall(tmp_path / "unpacked")
    folder = read_mrds_rdbms_path(tmp_path / "unpacked" / "rdbms-tab-all")
    zipped = read_mrds_rdbms_path(archive)
    assert folder[SAME].equals(zipped[SAME])


def test_without_deposits_and_model_the_sites_still_read(tmp_path):
    archive = fx.mrds_rdbms_zip(tmp_path, leave_out=("Deposits.txt", "Model.txt"))
    sites = read_mrds_rdbms_path(archive)
    assert len(sites) == 4 and set(sites["deposit_type"]) == {""}
    assert any("Deposits.txt absent" in n for n in sites.attrs["geomap_report"]["notes"])


def test_a_missing_table_names_the_table_and_the_fix(tmp_path):
    archive = fx.mrds_rdbms_zip(tmp_path, leave_out=("Commodity.txt",))
    with pytest.raises(DataError, match=r"\['Commodity.txt'\] missing.*rdbms-tab-all.zip"):
        read_mrds_rdbms_path(archive)


def test_unexpected_columns_name_the_file(tmp_path):
    archive = fx.mrds_rdbms_zip(tmp_path, rename={"state_prov": "state"})
    with pytest.raises(DataError, match=r"Location.txt: unexpected columns: \['state_prov'\]"):
        read_mrds_rdbms_path(archive)


def test_tables_in_another_encoding_name_the_fix(tmp_path):
    rows = [dict(fx.MRDS_ROWS[0], site_name="Montaña Pass")]
    archive = fx.mrds_rdbms_zip(tmp_path, rows=rows, encoding="cp1252")
    with pytest.raises(DataError, match=r"MRDS.txt is not utf-8 text.*encoding='cp1252'"):
        read_mrds_rdbms_path(archive)
    assert read_mrds_rdbms_path(archive, encoding="cp1252")["name"].tolist() == ["Montaña Pass"]


def test_a_repeated_site_is_refused(tmp_path):
    rows = [fx.MRDS_ROWS[0], fx.MRDS_ROWS[0]]
    with pytest.raises(DataError, match="repeats 1 dep_id"):
        read_mrds_rdbms_path(fx.mrds_rdbms_zip(tmp_path, rows=rows))

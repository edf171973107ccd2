"""Inputs that used to be accepted silently are refused, or read as verified (issue 18).

Each case of ``docs/reliability.md`` ("Silently accepted") is a test here: an extra netCDF
dimension, shapefile sidecars that are not the verified copies, a ``.prj`` that the
coordinates cannot be in, a raised decompression bound, and the byte and offset named by an
encoding error in a ``utf-8-sig`` file.
"""

from __future__ import annotations

import shutil
import warnings
import zipfile
from pathlib import Path

import geopandas as gpd
import netCDF4
import numpy as np
import pyproj
import pytest
from _actionable import assert_actionable
from _fake_dataset import call_reader, fake_dataset
from shapely.geometry import Point

from geomap.errors import CRSError, DataError
from geomap.io._archive_members import DEFAULT_MAX_UNCOMPRESSED, read_zip_member
from geomap.io._text import decode_text

# ---- a netCDF grid with an extra dimension -------------------------------------------------


def _netcdf_with_time(path: Path, steps: int) -> Path:
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("time", steps)
        ds.createDimension("lat", 4)
        ds.createDimension("lon", 5)
        lat = ds.createVariable("lat", "f8", ("lat",))
        lat.units = "degrees_north"
        lat[:] = np.linspace(-10, 10, 4)
        lon = ds.createVariable("lon", "f8", ("lon",))
        lon.units = "degrees_east"
        lon[:] = np.linspace(100, 120, 5)
        var = ds.createVariable("z", "f4", ("time", "lat", "lon"), fill_value=False)
        var.crs = "WGS84"
        var[:] = np.arange(steps, dtype="f4")[:, None, None] + np.zeros((steps, 4, 5), "f4")
    return path


def test_a_netcdf_time_dimension_must_be_selected(tmp_path):
    path = _netcdf_with_time(tmp_path / "series.nc", steps=3)
    dataset, paths = fake_dataset([{"path": path, "format": "netcdf"}], reader="netcdf-grid")
    with pytest.raises(DataError) as info:
        call_reader(dataset, paths)
    assert_actionable(info, "series.nc", "'time'", "3 steps", "select")
    second = call_reader(dataset, paths, select={"time": 2})
    assert second.dims == ("y", "x") and float(second.mean()) == 2.0
    with pytest.raises(DataError) as info:
        call_reader(dataset, paths, select={"time": 7})
    assert_actionable(info, "time=7", "0..2")
    with pytest.raises(DataError) as info:
        call_reader(dataset, paths, select={"depth": 0})
    assert_actionable(info, "depth")


def test_a_one_step_extra_dimension_is_read_as_the_grid(tmp_path):
    path = _netcdf_with_time(tmp_path / "single.nc", steps=1)
    dataset, paths = fake_dataset([{"path": path, "format": "netcdf"}], reader="netcdf-grid")
    grid = call_reader(dataset, paths)
    assert grid.dims == ("y", "x") and grid.shape == (4, 5)


# ---- shapefile sidecars ------------------------------------------------------------------


def _shapefile(folder: Path, crs: str = "EPSG:4326") -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    sites = gpd.GeoDataFrame(
        {"name": ["a", "b"]}, geometry=[Point(139.7, 35.7), Point(140.1, 36.0)], crs=crs
    )
    sites.to_file(folder / "sites.shp", engine="pyogrio")
    return {p.suffix: p for p in folder.iterdir()}


def _shapefile_dataset(files: dict[str, Path], crs: str | None = None):
    entries = [{"path": files[".shp"], "format": "shapefile", "crs": crs}]
    entries += [
        {"path": path, "format": "shapefile-sidecar"}
        for suffix, path in files.items()
        if suffix != ".shp"
    ]
    return fake_dataset(entries, reader="vector-file")


def test_an_unverified_prj_beside_the_shp_does_not_win_over_the_verified_one(tmp_path):
    files = _shapefile(tmp_path / "mirror")  # the verified set: WGS 84
    verified = tmp_path / "cache" / "sites.prj"
    verified.parent.mkdir()
    shutil.copy(files[".prj"], verified)
    # someone edits the .prj lying beside the .shp (a plausible but wrong datum: Tokyo)
    files[".prj"].write_text(pyproj.CRS("EPSG:4301").to_wkt("WKT1_ESRI"), encoding="utf-8")
    dataset, paths = _shapefile_dataset({**files, ".prj": verified})
    frame = call_reader(dataset, paths)
    assert pyproj.CRS(frame.crs).equals(pyproj.CRS("EPSG:4326"))
    assert list(frame["name"]) == ["a", "b"]


def test_an_uncatalogued_sidecar_beside_the_shp_is_not_read(tmp_path):
    files = _shapefile(tmp_path / "mirror")
    catalogued = {suffix: path for suffix, path in files.items() if suffix != ".cpg"}
    (tmp_path / "mirror" / "sites.cpg").write_text("UTF-16", encoding="ascii")  # not catalogued
    dataset, paths = _shapefile_dataset(catalogued)
    frame = call_reader(dataset, paths)
    assert list(frame["name"]) == ["a", "b"]


def test_a_missing_catalogued_dbf_is_named(tmp_path):
    files = _shapefile(tmp_path / "mirror")
    dataset, paths = _shapefile_dataset({k: v for k, v in files.items() if k != ".dbf"})
    with pytest.raises(DataError) as info:
        call_reader(dataset, paths)
    assert_actionable(info, ".dbf", "fetch")


def test_a_prj_declaring_web_mercator_for_degree_data_is_refused(tmp_path):
    files = _shapefile(tmp_path / "mirror")
    files[".prj"].write_text(pyproj.CRS("EPSG:3857").to_wkt("WKT1_ESRI"), encoding="utf-8")
    dataset, paths = _shapefile_dataset(files)
    with pytest.raises(CRSError) as info:
        call_reader(dataset, paths)
    assert_actionable(info, "sites.shp", "degrees", "EPSG:4326")


def test_metres_declared_as_degrees_are_refused(tmp_path):
    files = _shapefile(tmp_path / "mirror", crs="EPSG:4326")
    projected = (
        gpd.read_file(files[".shp"]).to_crs("EPSG:3857").set_crs("EPSG:4326", allow_override=True)
    )
    projected.to_file(files[".shp"], engine="pyogrio")  # metres, with a WGS 84 .prj
    dataset, paths = _shapefile_dataset(files)
    with pytest.raises(CRSError) as info:
        call_reader(dataset, paths)
    assert_actionable(info, "sites.shp", "cannot be degrees")


# ---- the decompression bound -----------------------------------------------------------------


def _zip(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", b'{"type": "FeatureCollection", "features": []}')
    return path


def test_raising_the_decompression_bound_warns(tmp_path):
    archive = _zip(tmp_path / "data.zip")
    with pytest.warns(UserWarning, match="decompression bound for data.zip is raised"):
        read_zip_member(archive, suffixes=(".json",), max_bytes=4 * DEFAULT_MAX_UNCOMPRESSED)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_zip_member(archive, suffixes=(".json",))  # the default: no warning
    with pytest.raises(DataError) as info:
        read_zip_member(archive, suffixes=(".json",), max_bytes=-1)
    assert_actionable(info, "max_uncompressed_bytes=-1")


def test_a_recipe_raising_the_bound_warns_when_it_reads(monkeypatch):
    from geomap.io import read

    with pytest.warns(UserWarning, match="raised to"):
        read("gem-global-active-faults-2017", max_uncompressed_bytes=2**40)


# ---- encoding errors in utf-8-sig files ----------------------------------------------------


def test_utf8_sig_encoding_error_names_the_right_byte_and_offset():
    data = "\ufeffLine,E,N\n1,2,3 Caf".encode() + b"\xe9 road\n"
    with pytest.raises(DataError) as info:
        decode_text(data, "utf-8-sig", source="survey.csv")
    offset = data.index(b"\xe9")
    assert_actionable(info, "survey.csv", r"b'\xe9'", f"offset {offset}")


def test_utf8_sig_point_table_error_names_the_right_byte_and_offset(tmp_path):
    path = tmp_path / "kimberlites_tappe2018.csv"
    data = "\ufeffname,latitude,longitude\nK1,1,2\n".encode() + b"Caf\xe9,3,4\n"
    path.write_bytes(data)
    dataset, paths = fake_dataset(
        [{"path": path, "format": "csv", "crs": "EPSG:4326", "encoding": "utf-8-sig"}],
        reader="carbonatites-kimberlites",
    )
    with pytest.raises(DataError) as info:
        call_reader(dataset, paths, layer="kimberlites")
    offset = data.index(b"\xe9")
    assert_actionable(info, "kimberlites_tappe2018.csv", "0xe9", f"offset {offset}")

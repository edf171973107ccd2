"""Grid readers on the mirrored data, undeclared nodata, bad files, and the ingest CLI."""

from __future__ import annotations

import json
from pathlib import Path

import netCDF4
import numpy as np
import pyarrow.parquet as pq
import pytest
import rasterio
import shapely
from _fake_dataset import call_reader, fake_dataset
from rasterio.transform import Affine
from typer.testing import CliRunner

import geomap
from geomap.cli import app
from geomap.errors import CRSError, DataError
from geomap.io.grids import read_geotiff_path


def _assert_convention(da, *, float_nodata: bool = True) -> None:
    assert da.dims == ("y", "x")
    assert da.rio.crs is not None
    y = da["y"].to_numpy()
    assert y[0] > y[-1], "rows must run north to south"
    transform = da.rio.transform()
    assert transform.e < 0 and transform.b == 0 and transform.d == 0
    assert transform.c + transform.a / 2 == pytest.approx(float(da["x"][0]))
    if float_nodata:
        assert da.dtype == np.float32 and np.isnan(da.rio.nodata)
    else:
        assert da.rio.nodata is not None
    assert "geomap_report" in da.attrs


# ------------------------------------------------------------------ real data


@pytest.mark.parametrize(
    ("layer", "units", "low", "high"),
    [
        ("topography", "m", -10023.0, 6082.0),
        ("gravity", "mGal", 974748.6, 980201.9),
        ("geoid", "m", -106.5, 86.0),
    ],
)
def test_fatiando_netcdf_layers(layer, units, low, high):
    grid = geomap.read("fatiando-earth-grids-10arcmin", layer=layer)
    _assert_convention(grid)
    assert grid.shape == (1081, 2160)  # duplicate 180° column dropped
    assert grid.attrs["units"] == units
    assert float(grid.min()) == pytest.approx(low, abs=0.2)
    assert float(grid.max()) == pytest.approx(high, abs=0.2)
    assert grid.rio.crs.to_epsg() == 4326
    report = grid.attrs["geomap_report"]
    assert report["normalized"]["rows reordered north-up (latitude ascending in the file)"] == 1081


def test_default_layer_and_dask_chunks():
    lazy = geomap.read("fatiando-earth-grids-10arcmin", chunks={})  # the file's own chunks
    assert lazy.attrs["geomap_layer"] == "topography"
    assert hasattr(lazy.data, "dask")
    eager = geomap.read("fatiando-earth-grids-10arcmin")
    np.testing.assert_array_equal(lazy.compute().to_numpy(), eager.to_numpy())


def test_glim_rows_trust_latitude_not_geotransform():
    glim = geomap.read("glim-lithology-0.5deg")
    _assert_convention(glim, float_nodata=False)
    assert glim.dtype == np.int16 and glim.rio.nodata == -9999
    assert glim.rio.transform().f == 90.0
    assert glim.sel(x=-119.25, y=37.25).item() == 9  # Sierra Nevada: acid plutonic
    assert glim.sel(x=-40.25, y=75.25).item() == 16  # Greenland: ice
    assert glim.sel(x=-150.25, y=0.25).item() == -9999  # Pacific: no class
    assert "GeoTransform" in " ".join(glim.attrs["geomap_report"]["notes"])
    counts = dict(zip(*np.unique(glim.to_numpy(), return_counts=True), strict=True))
    assert counts[9] == 4178 and counts[16] == 24743  # class counts from the provenance notes


def test_emag2_old_gmt_layout():
    emag = geomap.read("emag2-v2-1deg")
    _assert_convention(emag)
    assert emag.shape == (181, 360)
    assert emag["y"].to_numpy()[0] == 90.0 and emag["x"].to_numpy()[0] == -180.0
    assert emag.attrs["units"] == "nT" and emag.attrs["geomap_registration"] == "gridline"
    report = emag.attrs["geomap_report"]
    assert report["normalized"]["cells equal to nodata -99999 set to NaN"] == 6167
    assert float(emag.min()) > -2000 and float(emag.max()) < 3400
    japan = emag.sel(x=slice(128, 146), y=slice(46, 30))
    assert -250 < float(japan.min()) < float(japan.max()) < 500


def test_sarig_grid_layer():
    grid = geomap.read("sarig-south-australia-gawler-ml", layer="grid", variable="grav")
    _assert_convention(grid)
    assert grid.shape == (100, 100)
    assert grid.rio.crs.to_epsg() == 4283
    assert int(np.isnan(grid).sum()) == 2574


def test_line_survey_grid_through_read():
    grid = geomap.read("usgs-ne-wisconsin-aeromag-2021", grid=True, resolution=800)
    _assert_convention(grid)
    assert grid.rio.crs.to_epsg() == 3071


# ------------------------------------------------------------------ undeclared nodata


def _netcdf(path: Path, values: np.ndarray, *, fill=None, crs: str | None = "WGS84") -> Path:
    with netCDF4.Dataset(path, "w") as ds:
        ds.createDimension("lat", values.shape[0])
        ds.createDimension("lon", values.shape[1])
        lat = ds.createVariable("lat", "f8", ("lat",))
        lat.units = "degrees_north"
        lat[:] = np.linspace(-10, 10, values.shape[0])
        lon = ds.createVariable("lon", "f8", ("lon",))
        lon.units = "degrees_east"
        lon[:] = np.linspace(100, 120, values.shape[1])
        kwargs = {"fill_value": fill} if fill is not None else {"fill_value": False}
        var = ds.createVariable("z", "f4", ("lat", "lon"), **kwargs)
        if crs:
            var.crs = crs
        var[:] = values
    return path


def test_grid_with_undeclared_nodata_is_refused_until_declared(tmp_path):
    values = np.arange(20, dtype="float32").reshape(4, 5)
    values[1, 2] = -99999.0
    path = _netcdf(tmp_path / "grid.nc", values)
    dataset, paths = fake_dataset([{"path": path, "format": "netcdf"}], reader="netcdf-grid")
    with pytest.raises(DataError, match=r"-99999.*nodata=-99999"):
        call_reader(dataset, paths)
    masked = call_reader(dataset, paths, nodata=-99999)
    assert int(np.isnan(masked).sum()) == 1
    assert (
        masked.attrs["geomap_report"]["normalized"]["cells equal to nodata -99999 set to NaN"] == 1
    )
    kept = call_reader(dataset, paths, nodata="none")
    assert float(kept.min()) == -99999.0


def test_declared_fill_value_is_masked_without_complaint(tmp_path):
    values = np.ones((4, 5), dtype="float32")
    values[0, 0] = -9999.0
    path = _netcdf(tmp_path / "declared.nc", values, fill=-9999.0)
    dataset, paths = fake_dataset([{"path": path, "format": "netcdf"}], reader="netcdf-grid")
    grid = call_reader(dataset, paths)
    assert int(np.isnan(grid).sum()) == 1
    _assert_convention(grid)


def test_grid_without_crs_needs_a_declaration(tmp_path):
    path = _netcdf(tmp_path / "nocrs.nc", np.ones((3, 3), "float32"), crs=None)
    dataset, paths = fake_dataset([{"path": path, "format": "netcdf"}], reader="netcdf-grid")
    with pytest.raises(CRSError, match="no CRS"):
        call_reader(dataset, paths)
    dataset, paths = fake_dataset(
        [{"path": path, "format": "netcdf", "crs": "EPSG:4326"}], reader="netcdf-grid"
    )
    assert call_reader(dataset, paths).rio.crs.to_epsg() == 4326


# ------------------------------------------------------------------ bad files


def test_zero_byte_and_truncated_netcdf(tmp_path):
    source = next(p for p in geomap.fetch("fatiando-earth-grids-10arcmin") if "geoid" in p.name)
    path = tmp_path / "earth-geoid-10arcmin.nc"
    path.write_bytes(source.read_bytes()[:200_000])
    dataset, paths = fake_dataset([{"path": path, "format": "netcdf"}], reader="netcdf-grid")
    with pytest.raises(DataError, match="geoid"):
        call_reader(dataset, paths)
    path.write_bytes(b"")
    with pytest.raises(DataError, match="empty"):
        call_reader(dataset, paths)


def test_gmt_grid_with_wrong_length(tmp_path):
    source = geomap.fetch("emag2-v2-1deg")[0]
    path = tmp_path / "EMAG2_V2_1x1.grd"
    with (
        netCDF4.Dataset(source) as src,
        netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as out,
    ):
        out.createDimension("side", 2)
        out.createDimension("xysize", 100)
        for name in ("x_range", "y_range", "z_range", "spacing"):
            out.createVariable(name, "f8", ("side",))[:] = src[name][:]
        out.createVariable("dimension", "i4", ("side",))[:] = src["dimension"][:]
        out.createVariable("z", "f4", ("xysize",))[:] = np.zeros(100)
    dataset, paths = fake_dataset(
        [{"path": path, "format": "gmt-netcdf", "crs": "EPSG:4326"}], reader="gmt-grid"
    )
    with pytest.raises(DataError, match="truncated or corrupted"):
        call_reader(dataset, paths, nodata=-99999)


def _geotiff(path: Path, values: np.ndarray, *, nodata=None, transform=None) -> Path:
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=values.shape[0],
        width=values.shape[1],
        count=1,
        dtype=values.dtype,
        crs="EPSG:3577",
        transform=transform or Affine(1000, 0, 1_000_000, 0, -1000, -2_000_000),
        nodata=nodata,
    ) as dst:
        dst.write(values, 1)
    return path


def test_geotiff_reader_and_vrt_renamed_tif(tmp_path):
    values = np.arange(12, dtype="float32").reshape(3, 4)
    tif = _geotiff(tmp_path / "good.tif", values, nodata=0.0)
    grid = read_geotiff_path(tif)
    _assert_convention(grid)
    assert int(np.isnan(grid).sum()) == 1 and grid.rio.crs.to_epsg() == 3577
    vrt = tmp_path / "trap.tif"
    vrt.write_text(
        f'<VRTDataset rasterXSize="4" rasterYSize="3"><VRTRasterBand dataType="Float32" band="1">'
        f"<SimpleSource><SourceFilename>{tif}</SourceFilename><SourceBand>1</SourceBand>"
        "</SimpleSource></VRTRasterBand></VRTDataset>"
    )
    with pytest.raises(DataError, match="VRT"):
        read_geotiff_path(vrt)
    from geomap.io._gdal import open_raster

    with pytest.raises(DataError, match="GTiff"), open_raster(vrt, drivers=("GTiff",)):
        pass  # even past the content check, GDAL may only use the GTiff driver


def test_geotiff_rotated_truncated_and_undeclared_nodata(tmp_path):
    values = np.ones((3, 4), dtype="float32")
    rotated = _geotiff(tmp_path / "rot.tif", values, transform=Affine(1000, 10, 0, 10, -1000, 0))
    with pytest.raises(DataError, match="rotated"):
        read_geotiff_path(rotated)
    values[0, 0] = -9999.0
    sentinel = _geotiff(tmp_path / "sentinel.tif", values)
    with pytest.raises(DataError, match="nodata=-9999"):
        read_geotiff_path(sentinel)
    assert int(np.isnan(read_geotiff_path(sentinel, nodata=-9999)).sum()) == 1
    big = _geotiff(tmp_path / "big.tif", np.ones((400, 400), "float32"))
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(big.read_bytes()[:5000])
    with pytest.raises(DataError, match="truncated"):
        read_geotiff_path(truncated)


def test_all_nodata_raster_is_refused_and_non_square_cells_are_kept(tmp_path):
    empty = _geotiff(tmp_path / "empty.tif", np.zeros((3, 4), "float32"), nodata=0.0)
    with pytest.raises(DataError, match="every cell is nodata"):
        read_geotiff_path(empty)
    oblong = _geotiff(
        tmp_path / "oblong.tif",
        np.arange(12, dtype="int16").reshape(3, 4),
        nodata=-1,
        transform=Affine(2000, 0, 1_000_000, 0, -500, -2_000_000),
    )
    grid = read_geotiff_path(oblong)
    _assert_convention(grid, float_nodata=False)
    assert grid.rio.resolution() == (2000.0, -500.0) and grid.dtype == np.int16


# ------------------------------------------------------------------ CLI


def test_ingest_cli_writes_cog_and_geoparquet(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", "emag2-v2-1deg", "--region", "japan"])
    assert result.exit_code == 0, result.output
    assert "6167 cells equal to nodata -99999 set to NaN" in result.output
    cog = tmp_path / "emag2-v2-1deg-japan.tif"
    with rasterio.open(cog) as src:
        assert src.driver == "GTiff" and src.overviews(1) is not None
        assert "JGD2011" in src.crs.to_wkt()
        report = json.loads(src.tags()["geomap_report"])
        assert report["dataset_id"] == "emag2-v2-1deg"
        assert np.isnan(src.nodata)
    result = runner.invoke(
        app, ["ingest", "japan-prefectures-globalmap", "--region", "japan", "-o", "pref.parquet"]
    )
    assert result.exit_code == 0, result.output
    table = pq.read_table(tmp_path / "pref.parquet")
    geo = json.loads(table.schema.metadata[b"geo"])
    assert geo["primary_column"] == "geometry"
    geoms = shapely.from_wkb(table.column("geometry").to_numpy(zero_copy_only=False))
    assert len(geoms) == 47 and shapely.is_valid(geoms).all()
    assert not list(tmp_path.glob(".*.part"))
    result = runner.invoke(app, ["ingest", "emag2-v2-1deg", "--option", "nodata"])
    assert result.exit_code == 1 and "KEY=VALUE" in result.output
    before = (tmp_path / "pref.parquet").read_bytes()
    again = ["ingest", "japan-prefectures-globalmap", "--region", "japan", "-o", "pref.parquet"]
    default_name = ["ingest", "emag2-v2-1deg", "--region", "japan"]
    for args in (again, default_name):  # a given and a default output name are both kept
        result = runner.invoke(app, args)
        assert result.exit_code == 1 and "already exists; pass --overwrite" in result.output
    assert (tmp_path / "pref.parquet").read_bytes() == before
    result = runner.invoke(app, [*again, "--overwrite"])
    assert result.exit_code == 0, result.output


def test_online_only_dataset_read_says_how_to_get_it():
    from geomap.errors import FetchError
    from geomap.io import read

    with pytest.raises(FetchError) as info:  # readers never start a GB download themselves
        read("usgs-sgmc")
    message = str(info.value)
    assert "online-only, not mirrored" in message and "geomap fetch usgs-sgmc" in message
    assert "https://" in message

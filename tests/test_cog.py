"""Cloud-Optimized GeoTIFFs: valid per rio-cogeo, overviews, nodata, provenance, Dask, atomic."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
import rasterio
import xarray as xr
from _render_inputs import region_inputs
from rio_cogeo.cogeo import cog_info, cog_validate

from geomap.errors import CRSError, DataError
from geomap.export.cog import cog_overview_count, write_cog


@pytest.fixture(scope="module")
def conus():
    return region_inputs("conus", 50_000)


@pytest.fixture(scope="module")
def japan():
    return region_inputs("japan", 20_000)


def _read(path):
    with rasterio.open(path) as src:
        return src.read(1), src.profile, src.tags(), src.overviews(1), src.descriptions


@pytest.mark.parametrize("name", ["prospectivity", "uncertainty", "coverage"])
def test_layers_are_valid_cogs_with_overviews_and_nodata(japan, tmp_path, name):
    data = japan[name]
    path = write_cog(data, tmp_path / f"{name}.tif")
    valid, errors, warnings = cog_validate(str(path))
    assert valid, errors
    assert warnings == []
    values, profile, _tags, overviews, _ = _read(path)
    assert overviews, "no overviews"
    assert profile["tiled"] and profile["crs"] == data.rio.crs
    assert profile["transform"].almost_equals(data.rio.transform(recalc=True))
    expected = np.asarray(data.values)
    if np.issubdtype(expected.dtype, np.floating):
        assert np.isnan(profile["nodata"])
        assert np.array_equal(values, expected, equal_nan=True)
    else:
        assert profile["nodata"] == np.iinfo(expected.dtype).max  # declared, outside the data
        assert not (expected == profile["nodata"]).any()
        assert np.array_equal(values, expected)
    info = cog_info(str(path))
    assert info.COG


def test_provenance_tags(japan, catalog, tmp_path):
    path = write_cog(japan["prospectivity"], tmp_path / "p.tif", tags={"recipe": "kuroko-vms"})
    _values, _profile, tags, _ov, descriptions = _read(path)
    assert tags["geomap_source"] == "gem-global-active-faults-2017,minmod-usgs-mrdata"
    assert tags["recipe"] == "kuroko-vms"
    assert "geomap_version" in tags
    assert "CC-BY-4.0" in tags["geomap_licenses"] and "MIT" in tags["geomap_licenses"]
    assert (
        catalog.dataset("gem-global-active-faults-2017").license.attribution
        in tags["geomap_attribution"]
    )
    assert descriptions == ("Prospectivity (test surface)",)


def test_model_rasters_credit_the_evidence_and_training_datasets(japan, catalog, tmp_path):
    """A real model's prediction (not hand-set attrs) carries its sources into the COG tags."""
    import warnings

    from geomap.evidence import distance_to
    from geomap.models import LogisticProspectivity, cell_table, predict_raster

    layer = distance_to(japan["faults"], japan["grid"], cap_m=300_000)
    stack = xr.Dataset({"fault_distance": layer}).rio.write_crs(layer.rio.crs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # several occurrences per cell: counted once, as meant
        table = cell_table(stack, japan["occurrences"])
        model = LogisticProspectivity().fit(table.X, table.y)
    prediction = predict_raster(model, stack, sources=table.sources)
    faults = catalog.dataset("gem-global-active-faults-2017").license.attribution
    minmod = catalog.dataset("minmod-usgs-mrdata").license.attribution
    for name in ("prospectivity", "uncertainty", "coverage"):
        path = write_cog(prediction[name], tmp_path / f"{name}.tif")
        tags = _read(path)[2]
        licences = tags["geomap_licenses"].split("; ")
        assert "gem-global-active-faults-2017: CC-BY-4.0" in licences, name
        assert faults in tags["geomap_attribution"], name
        trained = name != "coverage"  # coverage counts layers: the training points play no part
        assert ("minmod-usgs-mrdata: MIT" in licences) is trained, name
        assert (minmod in tags["geomap_attribution"]) is trained, name


def test_dask_backed_raster_gives_the_same_file_content(conus, tmp_path):
    data = conus["prospectivity"]
    lazy = data.chunk({"y": 16, "x": 32})
    assert lazy.chunks is not None
    a = write_cog(data, tmp_path / "numpy.tif")
    b = write_cog(lazy, tmp_path / "dask.tif")
    va, pa, ta, oa, _ = _read(a)
    vb, pb, tb, ob, _ = _read(b)
    assert np.array_equal(va, vb, equal_nan=True)
    assert oa == ob and ta == tb
    assert {k: v for k, v in pa.items() if k != "nodata"} == {
        k: v for k, v in pb.items() if k != "nodata"
    }
    assert np.isnan(pa["nodata"]) and np.isnan(pb["nodata"])
    assert cog_validate(str(b))[0]


def test_same_input_gives_identical_bytes(conus, tmp_path):
    a = write_cog(conus["prospectivity"], tmp_path / "a.tif")
    b = write_cog(conus["prospectivity"], tmp_path / "b.tif")
    assert a.read_bytes() == b.read_bytes()


def test_large_raster_gets_several_overview_levels(tmp_path):
    y = 3.0e6 - 1000.0 * (np.arange(1500) + 0.5)
    x = 1000.0 * (np.arange(2100) + 0.5)
    rng = np.random.default_rng(0)
    data = xr.DataArray(
        rng.random((1500, 2100), dtype="float32"), dims=("y", "x"), coords={"y": y, "x": x}
    ).rio.write_crs("EPSG:5070")
    path = write_cog(data.chunk({"y": 500, "x": 700}), tmp_path / "large.tif")
    _values, profile, _tags, overviews, _ = _read(path)
    assert overviews == [2 ** (i + 1) for i in range(cog_overview_count(2100, 1500))]
    assert len(overviews) >= 4
    assert (profile["blockxsize"], profile["blockysize"]) == (256, 256)
    assert cog_validate(str(path)) == (True, [], [])


def test_categorical_layers_use_nearest_overviews(tmp_path):
    y = 1.0e6 - 100.0 * (np.arange(600) + 0.5)
    x = 100.0 * (np.arange(600) + 0.5)
    classes = (np.add.outer(np.arange(600) // 50, np.arange(600) // 50) % 3).astype("uint8") + 1
    data = xr.DataArray(classes, dims=("y", "x"), coords={"y": y, "x": x})
    data = data.rio.write_crs("EPSG:5070").rio.write_nodata(0)
    data.attrs["geomap_kind"] = "categorical"
    path = write_cog(data, tmp_path / "classes.tif")
    with rasterio.open(path) as src:
        overview = src.read(1, out_shape=(300, 300))
    assert set(np.unique(overview)) <= {1, 2, 3}  # no averaged, invented classes


def test_bad_input_is_refused_with_the_fix(tmp_path):
    bare = xr.DataArray(np.zeros((4, 4), "float32"), dims=("y", "x"))
    with pytest.raises(CRSError, match="write_crs"):
        write_cog(bare, tmp_path / "x.tif")
    cube = xr.DataArray(np.zeros((2, 4, 4), "float32"), dims=("band", "y", "x"))
    with pytest.raises(DataError, match=r"\('y', 'x'\)"):
        write_cog(cube.rio.write_crs("EPSG:5070"), tmp_path / "x.tif")
    full = xr.DataArray(
        np.array([[0, 255], [1, 2]], dtype="uint8"),
        dims=("y", "x"),
        coords={"y": [1.5, 0.5], "x": [0.5, 1.5]},
    ).rio.write_crs("EPSG:5070")
    with pytest.raises(DataError, match="write_nodata"):
        write_cog(full, tmp_path / "x.tif")
    with pytest.raises(DataError, match="blocksize"):
        write_cog(bare.rio.write_crs("EPSG:5070"), tmp_path / "x.tif", blocksize=100)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_nothing_under_the_final_name(japan, tmp_path, monkeypatch):
    import rasterio.shutil

    final = tmp_path / "p.tif"
    final.write_bytes(b"previous")

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(rasterio.shutil, "copy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_cog(japan["prospectivity"], final)
    assert final.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["p.tif"]


@pytest.mark.skipif(
    shutil.which("gdalinfo") is None,
    reason="GDAL's command-line tools (gdal-bin) are missing; `python3 dev.py test` adds them",
)
def test_gdalinfo_reads_the_cog(japan, tmp_path):
    path = write_cog(japan["prospectivity"], tmp_path / "p.tif")
    out = subprocess.run(["gdalinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "LAYOUT=COG" in out
    assert "Overviews:" in out
    assert "NoData Value=nan" in out
    assert "geomap_source=gem-global-active-faults-2017,minmod-usgs-mrdata" in out

"""The content-addressed product cache."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rioxarray  # noqa: F401
import shapely
import xarray as xr

from geomap.pipeline.cache import (
    ProductCache,
    load_dataarray,
    load_frame,
    product_key,
    save_dataset,
    save_frame,
)


def _raster() -> xr.DataArray:
    data = xr.DataArray(
        np.arange(12, dtype="float32").reshape(3, 4),
        dims=("y", "x"),
        coords={"y": [2.5, 1.5, 0.5], "x": [0.5, 1.5, 2.5, 3.5]},
        attrs={"geomap_params": {"a": 1}, "long_name": "test"},
    )
    return data.rio.write_crs("EPSG:5070").rio.write_nodata(np.nan)


def test_key_depends_on_every_input_and_not_on_order():
    assert product_key("s", {"a": 1, "b": [1, 2]}) == product_key("s", {"b": [1, 2], "a": 1})
    assert product_key("s", {"a": 1}) != product_key("s", {"a": 2})
    assert product_key("s", {"a": 1}) != product_key("t", {"a": 1})


def test_key_changes_with_geomap_code(monkeypatch):
    """A product computed by other code (an upgrade, a local edit) is never reused."""
    import geomap.pipeline.cache as cache_module

    before = product_key("s", {"a": 1})
    assert len(cache_module.code_fingerprint()) == 64
    monkeypatch.setattr(cache_module, "code_fingerprint", lambda: "edited")
    assert product_key("s", {"a": 1}) != before


def test_second_call_is_served_from_cache_with_identical_values(tmp_path):
    cache = ProductCache(tmp_path)
    calls = []

    def compute() -> xr.DataArray:
        calls.append(1)
        return _raster()

    first, key = cache.get_or_compute(
        "evidence", {"p": 1}, compute, save=save_dataset, load=load_dataarray
    )
    second, key2 = cache.get_or_compute(
        "evidence", {"p": 1}, compute, save=save_dataset, load=load_dataarray
    )
    assert key == key2
    assert len(calls) == 1
    assert cache.hits == [f"evidence/{key[:12]}"]
    xr.testing.assert_identical(first, second)
    assert second.rio.crs.to_epsg() == 5070
    np.testing.assert_array_equal(second.values, _raster().values)
    cache.get_or_compute("evidence", {"p": 2}, compute, save=save_dataset, load=load_dataarray)
    assert len(calls) == 2


def test_failed_compute_or_save_leaves_no_product(tmp_path):
    cache = ProductCache(tmp_path)

    def broken_save(value, folder):
        (folder / "partial").write_text("half")
        raise RuntimeError("killed while writing")

    with pytest.raises(RuntimeError):
        cache.get_or_compute("stage", {"k": 1}, _raster, save=broken_save, load=load_dataarray)
    assert not any(p.name != ".locks" for p in (tmp_path / "stage").iterdir())
    value, _ = cache.get_or_compute(
        "stage", {"k": 1}, _raster, save=save_dataset, load=load_dataarray
    )
    assert value.shape == (3, 4)


def test_frames_round_trip_with_attrs(tmp_path):
    cache = ProductCache(tmp_path)
    frame = gpd.GeoDataFrame(
        {"a": [1, 2]}, geometry=[shapely.Point(0, 0), shapely.Point(1, 1)], crs="EPSG:3035"
    )
    frame.attrs["geomap_report"] = {"dropped": {"x": 1}}
    out, _ = cache.get_or_compute("occ", {"k": 1}, lambda: frame, save=save_frame, load=load_frame)
    assert out.crs.to_epsg() == 3035
    assert out.attrs["geomap_report"] == {"dropped": {"x": 1}}
    assert out["a"].tolist() == [1, 2]

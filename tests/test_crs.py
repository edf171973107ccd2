"""CRS rules: to_region on real layers, round trips, bad coordinates, antimeridian, accuracy."""

from __future__ import annotations

import warnings

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import shapely
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon

import geomap
from geomap.catalog import Region
from geomap.errors import CRSError
from geomap.grid import grid_of, region_grid, reproject_to
from geomap.harmonize import to_region
from geomap.harmonize.crs import (
    STRICT_ENV,
    CRSAccuracyWarning,
    check_coordinates,
    describe_operation,
    region_polygon,
    require_same_crs,
)

GEOD = pyproj.Geod(ellps="WGS84")


def _vertices(layer: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    xy = shapely.get_coordinates(layer.geometry.to_numpy())
    return gpd.GeoDataFrame(geometry=shapely.points(xy), crs=layer.crs)


def _round_trip_m(points: gpd.GeoDataFrame, region: str) -> float:
    projected = to_region(points, region, clip=False)
    assert projected.crs.is_projected
    back = projected.to_crs(points.crs)
    a = shapely.get_coordinates(points.geometry.to_numpy())
    b = shapely.get_coordinates(back.geometry.to_numpy())
    _, _, dist = GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    return float(np.max(dist))


def _assert_equal_area(source: gpd.GeoDataFrame, projected: gpd.GeoDataFrame) -> None:
    for geom, planar in zip(source.geometry, projected.geometry, strict=True):
        geodesic, _ = GEOD.geometry_area_perimeter(geom)
        assert planar.area == pytest.approx(abs(geodesic), rel=2e-3)


# ---------------------------------------------------------------- done-when: round trips


def test_japan_layer_round_trips_to_wgs84_within_1m():
    prefectures = geomap.read("japan-prefectures-globalmap")
    assert _round_trip_m(_vertices(prefectures), "japan") < 1.0  # all 70,341 vertices
    projected = to_region(prefectures, "japan", clip=False)
    assert projected.crs.equals(geomap.load_catalog().region("japan").pyproj_crs)
    op = projected.attrs["geomap_crs_operation"]
    assert op["best_available"] and not op["ballpark"] and op["accuracy_m"] <= 1.0
    assert projected.is_valid.all()
    _assert_equal_area(prefectures, projected)


def test_conus_layer_round_trips_to_wgs84_within_1m():
    states = geomap.read("natural-earth", layer="50m_admin_1_states_provinces")
    states = states[states["admin"] == "United States of America"]
    states = states[~states["name"].isin(["Alaska", "Hawaii"])]
    assert len(states) == 49
    assert _round_trip_m(_vertices(states), "conus") < 1.0
    projected = to_region(states, "conus", clip=False)
    assert projected.crs.to_epsg() == 5070
    assert projected.attrs["geomap_crs_operation"]["accuracy_m"] == pytest.approx(4.0)
    _assert_equal_area(states, projected)


def test_clipped_region_keeps_only_records_in_box_and_counts_the_rest():
    faults = geomap.read("gem-global-active-faults-2017")
    conus = to_region(faults, "conus")
    report = conus.attrs["geomap_report"]
    assert report["dropped"]["outside region 'conus'"] == len(faults) - len(conus)
    assert 600 < len(conus) < 1200
    inside = region_polygon("conus", densify=2000).buffer(5.0)
    assert bool(conus.geometry.within(inside).all())


# ---------------------------------------------------------------- property test


@settings(max_examples=60, deadline=None)
@given(
    lon=st.floats(min_value=-124.9, max_value=-66.6),
    lat=st.floats(min_value=24.1, max_value=49.4),
)
def test_point_reprojection_matches_pyproj(lon, lat):
    points = gpd.GeoDataFrame(geometry=[Point(lon, lat)], crs="EPSG:4326")
    out = to_region(points, "conus")
    direct = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:5070", always_xy=True)
    x, y = direct.transform(lon, lat)
    assert out.geometry.iloc[0].x == pytest.approx(x, abs=1e-6)
    assert out.geometry.iloc[0].y == pytest.approx(y, abs=1e-6)


# ---------------------------------------------------------------- bad input


def test_missing_crs_is_an_error_never_assumed():
    frame = gpd.GeoDataFrame(geometry=[Point(139.7, 35.7)])
    with pytest.raises(CRSError, match="no CRS"):
        to_region(frame, "japan")
    raster = xr.DataArray(
        np.zeros((3, 3), "float32"),
        dims=("y", "x"),
        coords={"y": [2.0, 1.0, 0.0], "x": [0.0, 1.0, 2.0]},
    )
    with pytest.raises(CRSError, match="no CRS"):
        to_region(raster, "japan")


def test_crs_mismatch_between_layers_is_an_error():
    a = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:4326")
    b = gpd.GeoDataFrame(geometry=[Point(0, 0)], crs="EPSG:3857")
    with pytest.raises(CRSError, match="CRS mismatch"):
        require_same_crs(a, b, names=["occurrences", "faults"])
    mixed = a.copy()
    mixed["other"] = gpd.GeoSeries([Point(1, 1)], crs="EPSG:3857")
    with pytest.raises(CRSError, match="CRS mismatch"):
        to_region(mixed, "japan")


def test_swapped_latitude_longitude_is_detected_by_range():
    frame = gpd.GeoDataFrame(
        {"name": ["Tokyo", "Osaka"]},
        geometry=[Point(35.69, 139.69), Point(34.69, 135.50)],
        crs="EPSG:4326",
        index=["site-7", "site-9"],
    )
    with pytest.raises(CRSError, match=r"swapped.*") as info:
        to_region(frame, "japan")
    assert "'site-7'" in str(info.value) and "'site-9'" in str(info.value)


def test_swapped_latitude_longitude_is_detected_by_region_when_in_range():
    lapland = gpd.GeoDataFrame(geometry=[Point(67.5, 24.0), Point(68.0, 25.0)], crs="EPSG:4326")
    with pytest.raises(CRSError, match="swapped"):
        to_region(lapland, "central-lapland")


def test_points_outside_the_crs_area_of_use_are_named():
    frame = gpd.GeoDataFrame(
        geometry=[Point(400_000, 7_400_000), Point(9_000_000, 1_000_000)],
        crs="EPSG:28350",
        index=[10, 11],
    )
    with pytest.raises(CRSError, match=r"area of use of EPSG:28350") as info:
        to_region(frame, "capricorn-wa")
    assert "[11]" in str(info.value)


def test_out_of_range_degrees_and_non_finite_coordinates():
    with pytest.raises(CRSError, match="valid range"):
        check_coordinates(np.array([500.0]), np.array([10.0]), "EPSG:4326", labels=["r1"])
    with pytest.raises(CRSError, match="non-finite"):
        check_coordinates(np.array([np.inf]), np.array([10.0]), "EPSG:4326", labels=["r1"])


def test_infinities_after_transform_name_the_records():
    ortho = Region(
        id="ortho-test",
        name="orthographic view of Japan",
        countries=["JPN"],
        bbox=(122.5, 24.0, 146.5, 46.0),
        crs="+proj=ortho +lat_0=36 +lon_0=137 +type=crs",
    )
    frame = gpd.GeoDataFrame(
        geometry=[Point(139.7, 35.7), Point(-43.0, -22.9)], crs="EPSG:4326", index=["tokyo", "rio"]
    )
    with pytest.raises(CRSError, match=r"infinite.*\['rio'\]|\['rio'\].*infinite"):
        to_region(frame, ortho, clip=False)


# ---------------------------------------------------------------- accuracy and strict mode


def test_nad27_without_grids_warns_and_strict_mode_raises(monkeypatch):
    frame = gpd.GeoDataFrame(geometry=[Point(-100.0, 40.0)], crs="EPSG:4267")
    with pytest.warns(CRSAccuracyWarning, match="ballpark"):
        out = to_region(frame, "conus")
    assert out.attrs["geomap_crs_operation"]["ballpark"] is True
    assert "us_noaa_conus.tif" in out.attrs["geomap_crs_operation"]["missing_grids"]
    with pytest.raises(CRSError, match="strict"):
        to_region(frame, "conus", strict=True)
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(CRSError, match="strict"):
        to_region(frame, "conus")


def test_tokyo_datum_warns():
    frame = gpd.GeoDataFrame(geometry=[Point(139.7, 35.7)], crs="EPSG:4301")
    with pytest.warns(CRSAccuracyWarning, match="Tokyo"):
        to_region(frame, "japan")


def test_modern_datums_do_not_warn():
    frame = gpd.GeoDataFrame(geometry=[Point(139.7, 35.7)], crs="EPSG:6668")
    with warnings.catch_warnings():
        warnings.simplefilter("error", CRSAccuracyWarning)
        out = to_region(frame, "japan")
    _, info = describe_operation("EPSG:6668", geomap.load_catalog().region("japan").crs)
    assert out.attrs["geomap_crs_operation"]["operation"] == info.operation
    assert info.accuracy_m == 0.0 or info.accuracy_m is None or info.accuracy_m <= 1.0


# ---------------------------------------------------------------- antimeridian


def test_antimeridian_polygon_for_alaska_is_not_world_spanning():
    crossing = Polygon([(179.0, 52.0), (-179.0, 52.0), (-179.0, 53.0), (179.0, 53.0)])
    line = LineString([(178.5, 51.5), (-178.5, 51.6)])
    frame = gpd.GeoDataFrame({"kind": ["poly"]}, geometry=[crossing], crs="EPSG:4326")
    out = to_region(frame, "alaska")
    assert len(out) == 1
    geod_area, _ = GEOD.geometry_area_perimeter(
        Polygon([(179, 52), (181, 52), (181, 53), (179, 53)])
    )
    assert out.geometry.iloc[0].area == pytest.approx(abs(geod_area), rel=0.01)
    xmin, _, xmax, _ = out.total_bounds
    assert xmax - xmin < 200_000  # ~137 km wide, not the whole world
    assert (
        out.attrs["geomap_report"]["normalized"]["antimeridian-crossing geometries made continuous"]
        == 1
    )
    lines = to_region(gpd.GeoDataFrame(geometry=[line], crs="EPSG:4326"), "alaska")
    assert lines.geometry.iloc[0].length < 300_000


def test_natural_earth_countries_in_alaska_stay_continuous():
    countries = geomap.read("natural-earth", region="alaska")
    assert set(countries["ADMIN"]) == {"United States of America", "Russia", "Canada"}
    xmin, _, xmax, _ = countries.total_bounds
    assert xmax - xmin < 4_000_000  # a box across the antimeridian, not around the globe
    russia = countries[countries["ADMIN"] == "Russia"].geometry.iloc[0]
    assert 2e11 < russia.area < 8e11  # Chukotka east of 172°E only


def test_raster_across_the_antimeridian_keeps_source_values():
    emag = geomap.read("emag2-v2-1deg")
    alaska = to_region(emag, "alaska", resampling="nearest")
    to_geo = pyproj.Transformer.from_crs(alaska.rio.crs, "EPSG:4326", always_xy=True)
    xx, yy = np.meshgrid(alaska["x"].to_numpy(), alaska["y"].to_numpy())
    lon, lat = to_geo.transform(xx, yy)
    lon = (lon + 180.0) % 360.0 - 180.0
    col = np.clip(np.round(lon - float(emag["x"][0])).astype(int), 0, emag.sizes["x"] - 1)
    row = np.clip(np.round(float(emag["y"][0]) - lat).astype(int), 0, emag.sizes["y"] - 1)
    expected = emag.to_numpy()[row, col].ravel()
    got = alaska.to_numpy().ravel()
    both = np.isfinite(expected) & np.isfinite(got)
    assert both.sum() > 800
    assert (lon.ravel()[both] > 170).any() and (lon.ravel()[both] < -170).any()
    assert np.mean(got[both] == expected[both]) > 0.9  # rest: GDAL's approximate transformer


# ---------------------------------------------------------------- rasters


def test_class_raster_keeps_nodata_and_codes_with_nearest():
    glim = geomap.read("glim-lithology-0.5deg")
    conus = to_region(glim, "conus")
    assert conus.attrs["geomap_resampling"] == "nearest"
    assert conus.dtype == glim.dtype and conus.rio.nodata == -9999
    values = set(np.unique(conus.to_numpy()).tolist())
    assert values <= set(range(1, 17)) | {-9999}
    assert -9999 in values  # ocean stays nodata
    assert conus.rio.crs.to_epsg() == 5070
    assert conus["y"].to_numpy()[0] > conus["y"].to_numpy()[-1]


def test_continuous_raster_is_float_with_nan_nodata_resampled_as_the_grid_does():
    topo = geomap.read("fatiando-earth-grids-10arcmin", layer="topography")
    japan = to_region(topo, "japan", resolution=25_000)
    assert japan.dtype == np.float32 and np.isnan(japan.rio.nodata)
    # 25 km cells over 10' (about 15 km) source cells: averaged, as reproject_to does
    assert japan.attrs["geomap_resampling"] == "average"
    assert to_region(topo, "japan", resolution=10_000).attrs["geomap_resampling"] == "bilinear"
    assert abs(japan.rio.resolution()[0]) == 25_000
    assert float(japan.max()) > 1000 and float(japan.min()) < -5000


@pytest.mark.parametrize(
    ("dataset", "layer", "region", "resolution"),
    [
        ("emag2-v2-1deg", None, "japan", 25_000),
        ("fatiando-earth-grids-10arcmin", "gravity", "conus", 25_000),
        ("glim-lithology-0.5deg", None, "japan", 25_000),
    ],
)
def test_one_route_to_the_grid_resamples_once(dataset, layer, region, resolution):
    """to_region lands on the analysis grid with reproject_to's values, and stays there."""
    raster = geomap.read(dataset, layer=layer)
    grid = region_grid(region, resolution)
    kind = "categorical" if raster.dtype.kind in "iu" else "continuous"
    reference = reproject_to(raster, grid, kind=kind).to_numpy()
    direct = to_region(raster, region, geobox=grid)
    at_resolution = to_region(raster, region, resolution=resolution)
    assert grid_of(direct) == grid and grid_of(at_resolution) == grid
    np.testing.assert_array_equal(at_resolution.to_numpy(), direct.to_numpy())
    again = reproject_to(direct, grid, kind=kind).to_numpy()  # no second resampling
    np.testing.assert_array_equal(again, direct.to_numpy())
    got = direct.to_numpy()
    nodata = direct.rio.nodata
    has_data = ~np.isnan(got) if kind == "continuous" else got != nodata
    assert has_data.sum() > 1000  # Japan is mostly sea: GLiM has about 1,850 land cells
    np.testing.assert_array_equal(got[has_data], reference[has_data])  # the same values
    # to_region clips to the region's box: data inside it (cell centres), nodata outside
    xx, yy = np.meshgrid(direct["x"].to_numpy(), direct["y"].to_numpy())
    lon, lat = pyproj.Transformer.from_crs(direct.rio.crs, "EPSG:4326", always_xy=True).transform(
        xx, yy
    )
    west, south, east, north = geomap.load_catalog().region(region).bbox
    inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    assert not has_data[~inside].any()
    reference_has_data = ~np.isnan(reference) if kind == "continuous" else reference != nodata
    assert (has_data == reference_has_data)[inside].mean() > 0.999  # the box edge: densified


def test_dask_raster_gives_the_same_result_as_numpy():
    topo = geomap.read("fatiando-earth-grids-10arcmin", layer="geoid")
    eager = to_region(topo, "conus", resolution=50_000)
    lazy = to_region(topo.chunk({"y": 200, "x": 400}), "conus", resolution=50_000)
    assert hasattr(lazy.data, "dask")
    np.testing.assert_allclose(lazy.compute().to_numpy(), eager.to_numpy(), equal_nan=True)

"""The analysis grid: region grids, rasterize, reproject_to, same-grid checks.

Real data: GEM active faults, Hasterok provinces (through geomap.read), the 10'
topography and the 0.5° GLiM lithology grid (opened directly from the verified
mirror with xarray, so these tests do not depend on the raster readers).
"""

from __future__ import annotations

import math
import warnings

import geopandas as gpd
import numpy as np
import pyproj
import pytest
import rioxarray  # noqa: F401
import shapely
import xarray as xr
from shapely.geometry import LineString, Point

from geomap.errors import CRSError, DataError, GridMismatchError, ParameterError, UnknownNameError
from geomap.fetching import fetch
from geomap.grid import (
    check_same_grid,
    grid_of,
    grid_to_dataarray,
    rasterize,
    region_grid,
    reproject_to,
)


@pytest.fixture(scope="module")
def faults_japan():
    import geomap

    return geomap.read("gem-global-active-faults-2017", region="japan")


@pytest.fixture(scope="module")
def topography():
    path = next(p for p in fetch("fatiando-earth-grids-10arcmin") if "topography" in p.name)
    ds = xr.open_dataset(path)
    da = ds["topography"].rename(latitude="y", longitude="x").load()
    return da.rio.write_crs("EPSG:4326")


@pytest.fixture(scope="module")
def glim():
    path = fetch("glim-lithology-0.5deg")[0]
    ds = xr.open_dataset(path, mask_and_scale=False)
    da = ds["Band1"].rename(lat="y", lon="x").astype("int32").load()
    return da.rio.write_crs("EPSG:4326").rio.write_nodata(-9999)


# --------------------------------------------------------------------------- region grids


def test_every_catalog_region_gets_a_grid_covering_its_bbox(catalog):
    for region in catalog.regions:
        grid = region_grid(region.id, 25_000)
        assert pyproj.CRS(grid.crs.to_wkt()).equals(region.pyproj_crs)
        a = grid.affine
        assert a.a == 25_000 and a.e == -25_000
        assert a.c % 25_000 == 0 and a.f % 25_000 == 0  # edges on multiples of the cell size
        west, south, east, north = region.bbox
        east = east + 360 if west > east else east
        lon = np.linspace(west, east, 50)
        lat = np.linspace(south, north, 50)
        edge_lon = np.concatenate([lon, lon, np.full(50, west), np.full(50, east)])
        edge_lat = np.concatenate([np.full(50, south), np.full(50, north), lat, lat])
        x, y = pyproj.Transformer.from_crs(
            "EPSG:4326", region.pyproj_crs, always_xy=True
        ).transform(edge_lon, edge_lat)
        box = grid.extent.boundingbox
        assert (x >= box.left).all() and (x <= box.right).all(), region.id
        assert (y >= box.bottom).all() and (y <= box.top).all(), region.id


def test_alaska_grid_spans_the_antimeridian_without_wrapping_the_globe():
    grid = region_grid("alaska", 10_000)
    box = grid.extent.boundingbox
    to_grid = pyproj.Transformer.from_crs("EPSG:4326", grid.crs.to_wkt(), always_xy=True)
    for lon, lat in [(172.5, 52.5), (-179.5, 52.0), (-130.0, 58.0), (-150.0, 71.0)]:
        x, y = to_grid.transform(lon, lat)
        assert box.left <= x <= box.right and box.bottom <= y <= box.top, (lon, lat)
    assert box.right - box.left < 5_000_000  # one continuous region, not the globe


def test_grids_of_nested_regions_align_cell_for_cell():
    conus, southwest = region_grid("conus", 1000), region_grid("us-southwest", 1000)
    dx = (southwest.affine.c - conus.affine.c) / 1000
    dy = (southwest.affine.f - conus.affine.f) / 1000
    assert dx == int(dx) and dy == int(dy)


@pytest.mark.parametrize("bad", [0, -1000, math.nan, math.inf, "ten"])
def test_bad_resolution_is_a_clear_error(bad):
    with pytest.raises(ParameterError, match="resolution_m") as info:
        region_grid("japan", bad)
    assert repr(bad) in str(info.value)


def test_unknown_region_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="japn"):
        region_grid("japn", 1000)


# --------------------------------------------------------------------------- rasterize


def test_rasterize_real_faults_numpy_equals_dask(faults_japan):
    grid = region_grid("japan", 10_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        mem = rasterize(faults_japan, grid)
        lazy = rasterize(faults_japan, grid, chunks=64)
        touched = rasterize(faults_japan, grid, all_touched=True)
    assert lazy.chunks is not None
    np.testing.assert_array_equal(mem.values, lazy.values)
    assert mem.dtype == np.uint8 and 200 < int(mem.sum()) < int(touched.sum())
    assert mem.rio.crs is not None and grid_of(mem).shape == grid.shape


def test_rasterize_values_and_add_merge(faults_japan):
    grid = region_grid("japan", 25_000)
    centroids = gpd.GeoDataFrame(geometry=faults_japan.geometry.centroid, crs=faults_japan.crs)
    counts = rasterize(centroids, grid, merge="add", dtype="float32")
    assert float(counts.sum()) == pytest.approx(len(centroids))
    with pytest.raises(DataError, match="no column 'nope'"):
        rasterize(faults_japan, grid, values="nope")


def test_huge_coordinates_are_clipped_not_silently_dropped():
    grid = region_grid("japan", 25_000)
    y = grid.affine.f - 10.5 * 25_000
    line = LineString([(-1e30, y), (1e30, y)])
    out = rasterize(gpd.GeoSeries([line], crs=grid.crs.to_wkt()), grid)
    assert int(out.values[10].sum()) == grid.shape.x
    assert int(out.values.sum()) == grid.shape.x


def test_non_finite_coordinates_are_an_error_naming_the_records():
    grid = region_grid("japan", 25_000)
    feats = gpd.GeoSeries([Point(0, 0), Point(np.inf, 0)], index=[7, 42], crs=grid.crs.to_wkt())
    with pytest.raises(CRSError, match=r"\[42\]"):
        rasterize(feats, grid)


def test_features_without_crs_are_refused():
    grid = region_grid("japan", 25_000)
    with pytest.raises(CRSError, match="no CRS"):
        rasterize(gpd.GeoSeries([Point(0, 0)]), grid)


def test_null_geometries_are_counted_in_a_warning():
    grid = region_grid("japan", 25_000)
    feats = gpd.GeoSeries([Point(0, 0), None], crs=grid.crs.to_wkt())
    with pytest.warns(UserWarning, match="skipped 1 null/empty"):
        out = rasterize(feats, grid)
    assert int(out.sum()) == 1


# --------------------------------------------------------------------------- reproject


def test_reproject_real_topography_numpy_equals_dask(topography):
    grid = region_grid("japan", 10_000)
    mem = reproject_to(topography, grid)
    lazy = reproject_to(topography.chunk({"y": 300, "x": 300}), grid)
    assert lazy.chunks is not None
    np.testing.assert_array_equal(mem.values, lazy.values)
    forced = reproject_to(topography, grid, chunks=(70, 90))
    np.testing.assert_array_equal(mem.values, forced.values)
    assert mem.dtype == np.float32 and np.isnan(mem.rio.nodata)
    # Mount Fuji area is high, the Japan Trench deep (smoothed 10' model)
    assert float(mem.max()) > 1000 and float(mem.min()) < -6000


def test_bilinear_reproduces_a_linear_field_exactly():
    lat = np.arange(89.75, -90, -0.5)
    lon = np.arange(-179.75, 180, 0.5)
    field = xr.DataArray(
        np.repeat(lat[:, None], len(lon), axis=1), dims=("y", "x"), coords={"y": lat, "x": lon}
    ).rio.write_crs("EPSG:4326")
    grid = region_grid("japan", 20_000)
    out = reproject_to(field, grid)
    ys = grid.affine.f + (np.arange(grid.shape.y) + 0.5) * grid.affine.e
    xs = grid.affine.c + (np.arange(grid.shape.x) + 0.5) * grid.affine.a
    xx, yy = np.meshgrid(xs, ys)
    _, true_lat = pyproj.Transformer.from_crs(
        grid.crs.to_wkt(), "EPSG:4326", always_xy=True
    ).transform(xx, yy)
    np.testing.assert_allclose(out.values, true_lat, atol=1e-4)


def test_partial_coverage_leaves_nodata_not_zeros():
    grid = region_grid("japan", 25_000)
    y = np.arange(36.95, 34.0, -0.1)
    x = np.arange(135.05, 138.0, 0.1)
    src = xr.DataArray(np.zeros((len(y), len(x))), dims=("y", "x"), coords={"y": y, "x": x})
    out = reproject_to(src.rio.write_crs("EPSG:4326"), grid)
    covered = np.isfinite(out.values)
    assert 0 < covered.sum() < 0.1 * covered.size
    assert (out.values[covered] == 0).all()  # the source's zeros, only where it has data


def test_source_nodata_stays_nodata(topography):
    masked = topography.where(topography > 0).rio.write_nodata(np.nan)
    out = reproject_to(masked, region_grid("japan", 25_000))
    land = np.isfinite(out.values)
    assert 0.05 < land.mean() < 0.6 and float(np.nanmin(out.values)) >= 0


def test_categorical_keeps_codes_and_nodata(glim):
    grid = region_grid("japan", 10_000)
    out = reproject_to(glim, grid, kind="categorical")
    assert out.dtype == np.int32 and out.rio.nodata == -9999
    codes = set(np.unique(out.values)) - {-9999}
    assert codes <= set(range(1, 17)) and len(codes) >= 8
    lazy = reproject_to(glim, grid, kind="categorical", chunks=100)
    np.testing.assert_array_equal(out.values, lazy.values)
    coarse = reproject_to(glim, region_grid("japan", 200_000), kind="categorical")
    assert set(np.unique(coarse.values)) - {-9999} <= codes  # mode picks existing classes


def test_antimeridian_grid_samples_across_180(topography):
    out = reproject_to(topography, region_grid("alaska", 25_000))
    assert np.isfinite(out.values).all()


def test_reproject_bad_input(topography, glim):
    grid = region_grid("japan", 50_000)
    no_crs = xr.DataArray(
        np.zeros((3, 3)), dims=("y", "x"), coords={"y": [2, 1, 0], "x": [0, 1, 2]}
    )
    with pytest.raises(CRSError, match="no CRS"):
        reproject_to(no_crs, grid)
    with pytest.raises(DataError, match="class codes"):
        reproject_to(topography, grid, kind="categorical")
    with pytest.raises(ParameterError, match="blend class codes"):
        reproject_to(glim, grid, kind="categorical", resampling="bilinear")
    with pytest.raises(ParameterError, match="kind"):
        reproject_to(topography, grid, kind="fuzzy")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- same grid


def test_check_same_grid_names_the_layers_and_the_difference():
    a = grid_to_dataarray(np.zeros((4, 5)), _grid(1000), name="gravity")
    b = grid_to_dataarray(np.zeros((4, 5)), _grid(1000), name="magnetics")
    assert check_same_grid(a, b).shape == (4, 5)
    coarse = grid_to_dataarray(np.zeros((4, 5)), _grid(2000), name="faults")
    with pytest.raises(GridMismatchError, match=r"'faults' differs from 'gravity'.*cell size"):
        check_same_grid(a, b, coarse)
    shifted = grid_to_dataarray(np.zeros((4, 5)), _grid(1000, x0=500.0), name="density")
    with pytest.raises(GridMismatchError, match="origin"):
        check_same_grid(a, shifted)
    other_crs = grid_to_dataarray(np.zeros((4, 5)), _grid(1000, crs="EPSG:3577"), name="au")
    with pytest.raises(GridMismatchError, match="CRS differs"):
        check_same_grid(a, other_crs)


def _grid(res, x0=0.0, crs="EPSG:5070"):
    from affine import Affine
    from odc.geo.geobox import GeoBox

    return GeoBox((4, 5), Affine(res, 0, x0, 0, -res, 4 * res), crs)


def test_grid_to_dataarray_round_trips_through_rioxarray():
    grid = region_grid("capricorn-wa", 25_000)
    da = grid_to_dataarray(np.ones(tuple(grid.shape), dtype="float32"), grid, name="x")
    assert da.rio.transform() == grid.affine
    assert shapely.box(*da.rio.bounds()).equals(shapely.box(*grid.extent.boundingbox[:4]))


# --------------------------------------------------------------------------- properties

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=30, deadline=None)
@given(
    cells=st.lists(
        st.tuples(
            st.integers(0, 19), st.integers(0, 29), st.floats(0.05, 0.95), st.floats(0.05, 0.95)
        ),
        min_size=1,
        max_size=40,
    ),
    res=st.sampled_from([250.0, 1000.0, 12_345.0]),
)
def test_points_rasterize_into_the_cells_that_contain_them(cells, res):
    grid = _grid_sized(res, 20, 30)
    a = grid.affine
    pts = [Point(a.c + (c + fx) * res, a.f - (r + fy) * res) for r, c, fx, fy in cells]
    out = rasterize(gpd.GeoSeries(pts, crs="EPSG:5070"), grid, merge="add", dtype="int32")
    expected = np.zeros((20, 30), dtype="int32")
    for r, c, _, _ in cells:
        expected[r, c] += 1
    np.testing.assert_array_equal(out.values, expected)


@settings(max_examples=12, deadline=None)
@given(
    region=st.sampled_from(["japan", "conus", "alaska", "capricorn-wa", "central-lapland"]),
    res=st.sampled_from([20_000.0, 37_000.0, 80_000.0]),
)
def test_reprojected_coordinates_match_pyproj(region, res):
    """A raster of longitudes and one of latitudes sample back the cells' own coordinates."""
    lat = np.arange(89.875, -90, -0.25)
    lon = np.arange(-179.875, 180, 0.25)
    grid = region_grid(region, res)
    ys = grid.affine.f + (np.arange(grid.shape.y) + 0.5) * grid.affine.e
    xs = grid.affine.c + (np.arange(grid.shape.x) + 0.5) * grid.affine.a
    xx, yy = np.meshgrid(xs, ys)
    true_lon, true_lat = pyproj.Transformer.from_crs(
        grid.crs.to_wkt(), "EPSG:4326", always_xy=True
    ).transform(xx, yy)
    lat_field = xr.DataArray(
        np.repeat(lat[:, None], len(lon), axis=1), dims=("y", "x"), coords={"y": lat, "x": lon}
    ).rio.write_crs("EPSG:4326")
    out = reproject_to(lat_field, grid, resampling="bilinear")
    np.testing.assert_allclose(out.values, true_lat, atol=2e-4)
    # longitudes: compare as angles, so Alaska's cells either side of 180° agree
    lon_field = xr.DataArray(
        np.repeat(np.cos(np.radians(lon))[None, :], len(lat), axis=0),
        dims=("y", "x"),
        coords={"y": lat, "x": lon},
    ).rio.write_crs("EPSG:4326")
    out = reproject_to(lon_field, grid, resampling="bilinear")
    np.testing.assert_allclose(out.values, np.cos(np.radians(true_lon)), atol=1e-4)


def _grid_sized(res, ny, nx):
    from affine import Affine
    from odc.geo.geobox import GeoBox

    return GeoBox((ny, nx), Affine(res, 0, 1000 * res, 0, -res, 2000 * res), "EPSG:5070")


@pytest.mark.parametrize("periodic", [False, True])
def test_fast_bilinear_matches_the_renormalized_weights(periodic):
    """The plain-bilinear fast path agrees with renormalizing over corners with data."""
    from affine import Affine

    from geomap.grid.reproject import _bilinear, _bilinear_renormalized, _Plan

    rng = np.random.default_rng(7)
    src = rng.normal(size=(9, 12)).astype("float32")
    src[rng.random(src.shape) < 0.15] = np.nan
    plan = _Plan(
        grid_affine=Affine.identity(),
        grid_crs_wkt="",
        src_transform=Affine.identity(),
        src_shape=src.shape,
        src_crs_wkt="",
        geographic=periodic,
        periodic=periodic,
        lon_ref=0.0,
        step=1,
        k=1,
        method="bilinear",
        nodata=math.nan,
        dtype="float32",
    )
    # interior, edges, exact cell centres and edges, outside, non-finite
    col = np.concatenate([rng.uniform(-1, 13, 400), np.arange(0, 12.5, 0.5), [np.nan, 3.0]])
    row = np.concatenate([rng.uniform(-1, 10, 400), np.linspace(0, 9, 25), [2.0, np.inf]])
    if periodic:
        col = np.where(np.isfinite(col), col % 12, col)
    fast = _bilinear(src, (0, 0), plan, col, row)
    slow = _bilinear_renormalized(src, (0, 0), plan, col, row)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(slow))
    np.testing.assert_allclose(fast, slow, rtol=1e-6, atol=1e-6)
    window = _bilinear(
        src[2:, 3:] if not periodic else src[2:], (2, 0 if periodic else 3), plan, col, row
    )
    inner = (row > 4) & (row < 8) & ((col > 6) & (col < 10) | periodic)
    np.testing.assert_array_equal(window[inner], fast[inner])


def test_a_raster_already_on_the_grid_comes_back_unchanged():
    """No second resampling: the grid's own cells are returned as they are (any method)."""
    grid = region_grid("japan", 50_000)
    rng = np.random.default_rng(7)
    values = rng.normal(size=tuple(grid.shape)).astype("float32")
    values[3, 4] = np.nan
    on_grid = grid_to_dataarray(values, grid, name="v")
    for resampling in ("bilinear", "average", "nearest"):
        out = reproject_to(on_grid, grid, resampling=resampling)
        np.testing.assert_array_equal(out.to_numpy(), values)
    lazy = reproject_to(on_grid, grid, chunks=16)
    assert hasattr(lazy.data, "dask") and lazy.data.chunksize == (16, 16)
    np.testing.assert_array_equal(lazy.compute().to_numpy(), values)
    codes = grid_to_dataarray(
        rng.integers(0, 5, size=tuple(grid.shape)).astype("uint8"), grid, nodata=255
    )
    same = reproject_to(codes, grid, kind="categorical")
    assert same.dtype == np.uint8
    np.testing.assert_array_equal(same.to_numpy(), codes.to_numpy())
    # half a cell off the grid is another grid: resampled (bilinear between the cells)
    shifted = on_grid.assign_coords(x=on_grid["x"] + 25_000.0)
    assert not np.array_equal(reproject_to(shifted, grid).to_numpy(), values, equal_nan=True)


def test_resampling_for_names_what_reproject_to_does():
    from geomap.grid import resampling_for

    grid = region_grid("japan", 50_000)
    fine = grid_to_dataarray(
        np.zeros(tuple(region_grid("japan", 10_000).shape), "float32"), region_grid("japan", 10_000)
    )
    assert resampling_for(fine, grid) == "average"
    assert resampling_for(fine, grid, kind="categorical") == "mode"
    assert resampling_for(fine, region_grid("japan", 10_000)) == "bilinear"
    assert resampling_for(fine, grid, resampling="nearest") == "nearest"

"""Property tests of the grid maths (issue 9): round trips and agreement with pyproj.

The other property tests of the suite live beside their modules and are listed in
``docs/reliability.md``: points rasterize into their cells and reprojected coordinates
match pyproj (``test_grid.py``), the commodity normalizer never raises and is idempotent
(``test_commodities.py``), WofE statistics are finite on any contingency table with a
warning where degenerate (``test_wofe.py``).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj
import shapely
import xarray as xr
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from odc.geo.geobox import GeoBox
from shapely.geometry import Point

from geomap.catalog import load_catalog
from geomap.grid import grid_to_dataarray, rasterize, region_grid, reproject_to
from geomap.harmonize.crs import to_region

REGIONS = ["japan", "conus", "alaska", "capricorn-wa", "central-lapland"]


def _grid(ny: int, nx: int, res: float, crs: str = "EPSG:5070") -> GeoBox:
    """A small grid whose top-left corner is fixed, so grids of any cell size nest."""
    return GeoBox((ny, nx), Affine(res, 0, -1_234_560.0, 0, -res, 2_469_120.0), crs)


shapes = st.tuples(st.integers(2, 12), st.integers(2, 12))
resolutions = st.sampled_from([30.0, 250.0, 1000.0, 12_345.0])


@settings(max_examples=40, deadline=None)
@given(data=st.data(), shape=shapes, res=resolutions)
def test_cells_as_polygons_rasterize_back_to_the_same_raster(data, shape, res):
    """raster -> one square polygon per cell (with its value) -> rasterize == raster."""
    grid = _grid(*shape, res)
    values = data.draw(arrays("int16", shape, elements=st.integers(-500, 500)))
    a = grid.affine
    rows, cols = np.indices(shape)
    x0, y0 = a.c + cols.ravel() * res, a.f - rows.ravel() * res
    cells = gpd.GeoDataFrame(
        {"v": values.ravel()},
        geometry=shapely.box(x0, y0 - res, x0 + res, y0),
        crs="EPSG:5070",
    )
    out = rasterize(cells, grid, values="v", dtype="int16", fill=-9999)
    np.testing.assert_array_equal(out.to_numpy(), values)


finite_or_nan = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32), st.just(np.nan)
)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), shape=shapes, res=resolutions)
def test_reprojecting_onto_its_own_grid_is_the_identity(data, shape, res):
    grid = _grid(*shape, res)
    values = data.draw(arrays("float32", shape, elements=finite_or_nan))
    source = grid_to_dataarray(values, grid, name="v", nodata=np.nan)
    for resampling in ("nearest", "bilinear"):
        out = reproject_to(source, grid, resampling=resampling)
        np.testing.assert_array_equal(out.to_numpy(), values)  # NaN stays NaN, nothing moves


@settings(max_examples=40, deadline=None)
@given(
    data=st.data(),
    shape=st.tuples(st.integers(4, 12), st.integers(4, 12)),
    res=resolutions,
)
def test_an_aligned_window_reprojects_to_the_same_cells(data, shape, res):
    """Aligning onto a grid that is a window of the source's cuts, it never resamples."""
    grid = _grid(*shape, res)
    values = data.draw(arrays("float32", shape, elements=finite_or_nan))
    r0 = data.draw(st.integers(0, shape[0] - 2))
    r1 = data.draw(st.integers(r0 + 1, shape[0]))
    c0 = data.draw(st.integers(0, shape[1] - 2))
    c1 = data.draw(st.integers(c0 + 1, shape[1]))
    window = grid[r0:r1, c0:c1]
    source = grid_to_dataarray(values, grid, name="v", nodata=np.nan)
    out = reproject_to(source, window, resampling="bilinear")
    np.testing.assert_array_equal(out.to_numpy(), values[r0:r1, c0:c1])


@settings(max_examples=40, deadline=None)
@given(data=st.data(), shape=shapes, res=resolutions, factor=st.sampled_from([2, 3, 4]))
def test_class_codes_survive_a_coarsen_and_back(data, shape, res, factor):
    """Codes constant over blocks of ``factor`` cells: mode to the coarse grid, nearest back."""
    ny, nx = shape
    coarse_codes = data.draw(arrays("uint8", shape, elements=st.integers(0, 20)))
    fine_codes = np.kron(coarse_codes, np.ones((factor, factor), "uint8"))
    fine = _grid(ny * factor, nx * factor, res / factor)
    coarse = _grid(ny, nx, res)
    source = grid_to_dataarray(fine_codes, fine, name="codes", nodata=255)
    down = reproject_to(source, coarse, kind="categorical")
    np.testing.assert_array_equal(down.to_numpy(), coarse_codes)
    back = reproject_to(down, fine, kind="categorical")
    np.testing.assert_array_equal(back.to_numpy(), fine_codes)


@settings(max_examples=30, deadline=None)
@given(region=st.sampled_from(REGIONS), u=st.floats(0.02, 0.98), v=st.floats(0.02, 0.98))
def test_points_reprojected_into_every_region_match_pyproj_and_round_trip(region, u, v):
    catalog = load_catalog()
    reg = catalog.region(region)
    west, south, east, north = reg.bbox
    span = (east - west) % 360
    lon = (west + u * span + 180.0) % 360.0 - 180.0  # across the antimeridian for Alaska
    lat = south + v * (north - south)
    points = gpd.GeoDataFrame(geometry=[Point(lon, lat)], crs="EPSG:4326")
    out = to_region(points, region, clip=False)
    got = out.geometry.iloc[0]
    operation = out.attrs["geomap_crs_operation"]
    # exactly the PROJ pipeline it records ...
    recorded = pyproj.Transformer.from_pipeline(operation["proj_pipeline"])
    x, y = recorded.transform(lon, lat)
    assert abs(got.x - x) < 1e-6 and abs(got.y - y) < 1e-6  # metres
    # ... and pyproj's own choice of operation, within the accuracy PROJ states for the
    # region's operation (in Alaska PROJ picks NAD83->WGS 84 (1) or (2), 4 m and 8 m)
    direct = pyproj.Transformer.from_crs("EPSG:4326", reg.crs, always_xy=True)
    x, y = direct.transform(lon, lat)
    tolerance = max(1e-6, 2 * (operation["accuracy_m"] or 0.0))
    assert abs(got.x - x) <= tolerance and abs(got.y - y) <= tolerance
    back_lon, back_lat = recorded.transform(got.x, got.y, direction="INVERSE")
    # 1e-8 degrees is about 1 mm (inverse projections are iterative)
    assert abs(((back_lon - lon + 180) % 360) - 180) < 1e-8 and abs(back_lat - lat) < 1e-8


@settings(max_examples=30, deadline=None)
@given(region=st.sampled_from(REGIONS), u=st.floats(0.05, 0.95), v=st.floats(0.05, 0.95))
def test_a_lon_lat_point_burns_the_cell_pyproj_puts_it_in(region, u, v):
    """rasterize(points in EPSG:4326, region grid) hits the cell of the pyproj-projected point."""
    reg = load_catalog().region(region)
    grid = region_grid(region, 25_000)
    a = grid.affine
    x = a.c + u * grid.shape.x * a.a
    y = a.f + v * grid.shape.y * a.e
    to_geo = pyproj.Transformer.from_crs(grid.crs.to_wkt(), "EPSG:4326", always_xy=True)
    lon, lat = to_geo.transform(x, y)
    to_grid = pyproj.Transformer.from_crs("EPSG:4326", reg.crs, always_xy=True)
    px, py = to_grid.transform(lon, lat)
    col, row = ~a * (px, py)
    frac_c, frac_r = col % 1, row % 1
    if min(frac_c, 1 - frac_c, frac_r, 1 - frac_r) < 1e-6:
        return  # on a cell edge: either side is right
    out = rasterize(gpd.GeoSeries([Point(lon, lat)], crs="EPSG:4326"), grid, merge="add")
    hit = np.argwhere(out.to_numpy() == 1)
    assert hit.tolist() == [[int(row), int(col)]]


def test_identity_also_holds_for_a_dask_source():
    """The same identity on a Dask-backed source (the properties above run on NumPy)."""
    grid = _grid(9, 7, 1000.0)
    values = np.arange(63, dtype="float32").reshape(9, 7)
    values[2, 3] = np.nan
    source = grid_to_dataarray(values, grid, name="v", nodata=np.nan).chunk({"y": 4, "x": 3})
    out = reproject_to(source, grid, resampling="bilinear")
    assert isinstance(out, xr.DataArray) and hasattr(out.data, "dask")
    np.testing.assert_array_equal(out.compute().to_numpy(), values)

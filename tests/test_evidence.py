"""Evidence functions: the mathematics on small synthetic cases, the behaviour on real data.

NumPy/Dask parity for every evidence type is in ``test_evidence_dask.py``.
"""

from __future__ import annotations

import json
import math
import warnings

import _evidence_data as real
import geopandas as gpd
import numpy as np
import pyproj
import pytest
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from shapely.geometry import LineString, Point, box

from geomap import evidence as ev
from geomap.errors import DataError, GridMismatchError, ParameterError
from geomap.grid import grid_to_dataarray, region_grid

CRS = "EPSG:5070"


def square_grid(n: int = 101, res: float = 1000.0) -> GeoBox:
    return GeoBox((n, n), Affine(res, 0, 0, 0, -res, n * res), CRS)


def centres(grid: GeoBox) -> tuple[np.ndarray, np.ndarray]:
    a = grid.affine
    ys = a.f + (np.arange(grid.shape.y) + 0.5) * a.e
    xs = a.c + (np.arange(grid.shape.x) + 0.5) * a.a
    return np.meshgrid(xs, ys)


def on_grid(values: np.ndarray, grid: GeoBox, name: str = "layer", **attrs) -> xr.DataArray:
    return grid_to_dataarray(values.astype("float32"), grid, name=name, attrs=attrs)


# --------------------------------------------------------------------------- distance


def test_distance_to_one_point_is_the_analytic_distance():
    grid = square_grid()
    p = (40_300.0, 61_700.0)
    d = ev.distance_to(gpd.GeoSeries([Point(p)], crs=CRS), grid, name="pt")
    xx, yy = centres(grid)
    np.testing.assert_allclose(d.values, np.hypot(xx - p[0], yy - p[1]), rtol=1e-6, atol=1e-3)
    assert d.attrs["geomap_role"] == "evidence" and d.attrs["geomap_kind"] == "continuous"
    assert d.attrs["units"] == "m" and json.loads(d.attrs["geomap_params"])["n_features"] == 1


def test_distance_to_a_line_is_exact_between_cell_centres():
    grid = square_grid()
    x0 = 50_500.0  # through the centres of column 50
    d = ev.distance_to(gpd.GeoSeries([LineString([(x0, -1e3), (x0, 2e5)])], crs=CRS), grid)
    xx, _ = centres(grid)
    np.testing.assert_allclose(d.values, np.abs(xx - x0), atol=1e-3)


def test_distance_inside_a_polygon_is_zero_and_capped_outside():
    grid = square_grid()
    poly = gpd.GeoSeries([box(30_000, 30_000, 60_000, 60_000)], crs=CRS)
    d = ev.distance_to(poly, grid, cap_m=10_000)
    xx, yy = centres(grid)
    inside = (xx > 30_000) & (xx < 60_000) & (yy > 30_000) & (yy < 60_000)
    assert (d.values[inside] == 0).all()
    assert float(d.max()) == 10_000 and (d.values <= 10_000).all()
    # half a cell diagonal at most from the true distance outside
    true = np.hypot(np.clip(30_000 - xx, 0, None) + np.clip(xx - 60_000, 0, None), 0)
    row = grid.shape.y // 2
    assert np.all(np.abs(d.values[row] - np.minimum(true[row], 10_000)) <= 1000 * math.sqrt(2) / 2)


def test_distance_counts_features_just_outside_the_grid():
    grid = square_grid(51)
    outside = gpd.GeoSeries([LineString([(-3_500, 0), (-3_500, 60_000)])], crs=CRS)
    with pytest.warns(UserWarning, match="none of the 1 features lies inside the grid"):
        d = ev.distance_to(outside, grid, cap_m=20_000)
    np.testing.assert_allclose(d.values[:, 0], 4_000.0, atol=1e-3)  # centre to centre
    far = gpd.GeoSeries([Point(-1e6, -1e6)], crs=CRS)
    with pytest.warns(UserWarning, match="lies inside the grid"):
        d = ev.distance_to(far, grid, cap_m=20_000)
    assert (d.values == 20_000).all()


def test_distance_bad_input():
    grid = square_grid(11)
    with pytest.raises(DataError, match="empty"):
        ev.distance_to(gpd.GeoSeries([], crs=CRS), grid)
    with pytest.raises(ParameterError, match="cap_m"):
        ev.distance_to(gpd.GeoSeries([Point(0, 0)], crs=CRS), grid, cap_m=0)
    far_line = gpd.GeoSeries([LineString([(-1e6, 0), (-1e6, 1)])], crs=CRS)
    with (
        pytest.warns(UserWarning, match="inside the grid"),
        pytest.raises(DataError, match="cap_m"),
    ):
        ev.distance_to(far_line, grid)


def test_distance_to_reverse_faults_in_japan():
    faults = real.faults("japan")
    reverse = faults[faults["slip_type"] == "reverse"]
    grid = region_grid("japan", 10_000)
    d = ev.distance_to(reverse, grid, cap_m=100_000, name="reverse_faults")
    assert float(d.min()) == 0 and float(d.max()) == 100_000
    assert 0.05 < float((d < 100_000).mean()) < 0.9
    assert d.attrs["geomap_source"] == "gem-global-active-faults-2017"


# --------------------------------------------------------------------------- density


@pytest.mark.parametrize("kernel", ["gaussian", "quartic"])
def test_density_of_one_point_integrates_to_one_per_km2(kernel):
    grid = square_grid(121, 500.0)
    p = gpd.GeoSeries([Point(30_250, 30_250)], crs=CRS)
    d = ev.point_density(p, grid, bandwidth_m=5_000, kernel=kernel)
    cell_km2 = 0.25
    assert float(d.sum()) * cell_km2 == pytest.approx(1.0, rel=1e-5)
    if kernel == "gaussian":  # peak of a 2-D Gaussian: 1 / (2 pi h^2), h = 5 km
        assert float(d.max()) == pytest.approx(1 / (2 * math.pi * 25), rel=0.01)
    else:  # quartic: 3 / (pi h^2)
        assert float(d.max()) == pytest.approx(3 / (math.pi * 25), rel=0.02)
    assert d.attrs["units"] == "points per km2"


def test_density_counts_points_outside_the_grid_and_weights():
    grid = square_grid(41)
    outside = gpd.GeoSeries([Point(-2_000, 20_500)], crs=CRS)
    reach = ev.point_density(outside, grid, bandwidth_m=4_000)
    assert float(reach.values[20, 0]) > 0 and 0 < float(reach.sum()) < 1  # part of it reaches in
    pts = gpd.GeoDataFrame(
        {"t": [1.0, 3.0]}, geometry=[Point(15_500, 20_500), Point(25_500, 20_500)], crs=CRS
    )
    plain = ev.point_density(pts, grid, bandwidth_m=3_000)
    weighted = ev.point_density(pts, grid, bandwidth_m=3_000, weights="t")
    assert float(plain.sum()) == pytest.approx(2.0, rel=1e-5)  # 1 km² cells
    assert float(weighted.sum()) == pytest.approx(4.0, rel=1e-5)
    assert weighted.attrs["units"] == "weight per km2"


def test_density_bad_input():
    grid = square_grid(11)
    pt = gpd.GeoSeries([Point(5_000, 5_000)], crs=CRS)
    for bad in (0, -5):
        with pytest.raises(ParameterError, match="bandwidth_m"):
            ev.point_density(pt, grid, bandwidth_m=bad)
    with pytest.raises(ParameterError, match="kernel"):
        ev.point_density(pt, grid, bandwidth_m=100, kernel="box")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="no points"):
        ev.point_density(gpd.GeoSeries([], crs=CRS), grid, bandwidth_m=1000)
    with pytest.raises(DataError, match="needs points"):
        ev.point_density(gpd.GeoSeries([box(0, 0, 1, 1)], crs=CRS), grid, bandwidth_m=1000)
    with pytest.warns(UserWarning, match="smaller than a cell"):
        ev.point_density(pt, grid, bandwidth_m=100)


def test_density_of_real_ree_occurrences():
    from geomap.io.occurrences import read_occurrences

    ree = read_occurrences(region="conus", commodities="REE")
    grid = region_grid("conus", 25_000)
    d = ev.point_density(ree, grid, bandwidth_m=50_000, name="ree_density")
    inside = float(d.sum()) * 625
    assert 0.8 * len(ree) < inside <= len(ree) + 1e-3
    assert float(d.max()) > 10 * float(d.mean())


# --------------------------------------------------------------------------- categorical


def test_lithology_classes_one_hot_and_scores():
    grid = region_grid("japan", 25_000)
    lith = ev.class_layer(real.glim(), grid, name="lithology")
    assert lith.attrs["geomap_kind"] == "categorical"
    labels = ev.class_labels(lith)
    assert labels[2] == "felsic_intrusive" and labels[8] == "mafic_volcanic"
    hot = ev.one_hot(lith, classes=["felsic_intrusive", "mafic_volcanic"])
    assert [h.name for h in hot] == ["lithology_felsic_intrusive", "lithology_mafic_volcanic"]
    granite = hot[0]
    assert granite.attrs["geomap_kind"] == "binary"
    np.testing.assert_array_equal(np.isnan(granite.values), np.isnan(lith.values))
    np.testing.assert_array_equal(granite.values[lith.values == 2], 1)
    assert 0 < np.nansum(granite.values) < np.isfinite(lith.values).sum()
    scores = ev.class_scores(
        lith, scores={"felsic_intrusive": 1.0, "felsic_volcanic": 0.8}, default=0.1
    )
    assert set(np.unique(scores.values[np.isfinite(scores.values)]).tolist()) <= {
        1.0,
        np.float32(0.8).item(),
        np.float32(0.1).item(),
    }
    with pytest.raises(DataError, match="no class 'granite'.*felsic_intrusive"):
        ev.one_hot(lith, classes=["granite"])


def test_vector_classes_from_province_types():
    grid = region_grid("conus", 25_000)
    provinces = real.provinces("conus")
    types = ev.class_layer(provinces, grid, column="prov_type", name="province")
    labels = ev.class_labels(types)
    assert "craton" in labels.values() and "wide rift" in labels.values()
    assert np.isfinite(types.values).mean() > 0.5
    with pytest.raises(DataError, match="no column 'type'"):
        ev.class_layer(provinces, grid, column="type")


# --------------------------------------------------------------------------- continuous


def test_continuous_topography_keeps_units_and_source():
    grid = region_grid("us-southwest", 25_000)
    topo = real.topography().assign_attrs(units="m")
    layer = ev.continuous(topo, grid, name="elevation")
    assert layer.attrs["units"] == "m" and "fatiando" in layer.attrs["geomap_source"]
    assert 2000 < float(layer.max()) < 4500


def test_geochem_idw_exact_at_samples_and_masked_far_away():
    grid = square_grid(41)
    xs = [10_500.0, 12_500.0, 14_500.0]
    frame = gpd.GeoDataFrame(
        {"La": [10.0, 20.0, 30.0], "Ce": [1.0, 1.0, -1.0]},
        geometry=[Point(x, 20_500) for x in xs],
        crs=CRS,
    )
    with pytest.warns(UserWarning, match="1 of 3 samples have no usable value"):
        s = ev.geochem_surface(
            frame, grid, elements=["La", "Ce"], search_radius_m=3_000, min_samples=1
        )
    assert float(s.values[20, 10]) == pytest.approx(11.0)  # on the first sample: La+Ce
    assert float(s.values[20, 12]) == pytest.approx(21.0)
    assert np.isnan(s.values[20, 30]) and np.isnan(s.values[0, 0])  # far from any sample
    strict = ev.geochem_surface(
        frame, grid, elements=["La"], search_radius_m=3_000, min_samples=3, max_samples=3
    )
    assert np.isfinite(strict.values).sum() < np.isfinite(s.values).sum() + 10
    assert np.isnan(strict.values[20, 8])  # only 2 samples within 3 km
    with pytest.raises(DataError, match="no column"):
        ev.geochem_surface(frame, grid, elements=["Nd"], search_radius_m=1000)
    with pytest.raises(ParameterError, match="search_radius_m"):
        ev.geochem_surface(frame, grid, elements=["La"], search_radius_m=-1)


def test_geochem_log_ratio_on_capricorn_samples():
    samples = real.capricorn_samples()
    grid = region_grid("capricorn-wa", 10_000)
    lree = ev.geochem_surface(
        samples,
        grid,
        elements=["La_ppm", "Ce_ppm", "Nd_ppm"],
        search_radius_m=30_000,
        name="lree",
    )
    ratio = ev.geochem_surface(
        samples,
        grid,
        elements=["La_ppm"],
        ratio_to=["Yb_ppm"],
        log=True,
        search_radius_m=30_000,
    )
    covered = np.isfinite(lree.values)
    assert 0.01 < covered.mean() < 0.6  # 70 sites: most of the region is honestly empty
    assert 10 < float(np.nanmedian(lree.values)) < 300
    assert 0.5 < float(np.nanmedian(ratio.values)) < 2.5  # log10(La/Yb) of crustal material
    np.testing.assert_array_equal(np.isfinite(ratio.values), covered)


# --------------------------------------------------------------------------- derived


def test_normal_gravity_formula():
    # Somigliana on the ellipsoid: the WGS84 equatorial and polar normal gravity
    assert float(ev.normal_gravity(0.0, 0.0)) == pytest.approx(978032.53359, abs=1e-4)
    assert float(ev.normal_gravity(90.0, 0.0)) == pytest.approx(983218.49378, abs=1e-4)
    # free-air decrease: -0.3086 mGal/m to first order, +0.072 mGal/km² second order
    drop = float(ev.normal_gravity(45.0, 10_000) - ev.normal_gravity(45.0, 0.0))
    assert drop == pytest.approx(-3086 + 7.2, abs=3)


def test_gravity_disturbance_of_the_real_grid():
    grid = region_grid("conus", 25_000)
    dist = ev.gravity_disturbance(real.total_gravity(), grid)
    assert dist.attrs["units"] == "mGal"
    assert json.loads(dist.attrs["geomap_params"])["height_m"] == 10_000
    assert -60 < float(dist.mean()) < 60 and float(dist.min()) > -300 and float(dist.max()) < 300
    with pytest.raises(ParameterError, match="contradicts"):
        ev.gravity_disturbance(real.total_gravity(), grid, height_m=0)
    with pytest.raises(DataError, match="not total gravity"):
        ev.gravity_disturbance(real.topography(), grid, height_m=0)


def test_gradient_and_slope_of_a_plane():
    grid = square_grid(21)
    xx, yy = centres(grid)
    plane = on_grid(2 * xx + 3 * yy, grid, units="mGal")
    grad = ev.horizontal_gradient(plane, grid)
    np.testing.assert_allclose(grad.values, math.sqrt(13) * 1000, rtol=1e-5)
    assert grad.attrs["units"] == "mGal/km"
    slope = ev.slope(on_grid(xx - xx.min(), grid), grid)
    np.testing.assert_allclose(slope.values, 45.0, atol=1e-3)


def test_relief_of_a_single_peak():
    grid = square_grid(21)
    dem = np.zeros(tuple(grid.shape))
    dem[10, 10] = 500.0
    r = ev.relief(on_grid(dem, grid), grid, radius_m=3_000)
    assert float(r.values[10, 13]) == 500 and float(r.values[10, 14]) == 0
    assert float(r.values[12, 12]) == 500 and float(r.values[13, 13]) == 0  # a disc, not a square
    with pytest.raises(ParameterError, match="radius_m"):
        ev.relief(on_grid(dem, grid), grid, radius_m=0)


def test_tilt_derivative_of_a_known_field():
    n, res, wavelength = 256, 1000.0, 64_000.0
    grid = GeoBox((n, n), Affine(res, 0, 0, 0, -res, n * res), CRS)
    xx, _ = centres(grid)
    k = 2 * math.pi / wavelength
    field = np.cos(k * xx)
    dz = ev.vertical_derivative(field, grid)
    np.testing.assert_allclose(dz, k * field, atol=1e-3 * k)  # F[dT/dz] = |k| F[T]
    tilt = ev.tilt_derivative(on_grid(field, grid, units="nT"), grid)
    expected = np.arctan2(np.cos(k * xx), np.abs(np.sin(k * xx)))
    inner = np.s_[:, 2:-2]
    np.testing.assert_allclose(tilt.values[inner], expected[inner], atol=5e-3)
    assert tilt.attrs["units"] == "rad"


def test_tilt_of_real_magnetics_at_a_coarse_work_grid():
    grid = region_grid("japan", 10_000)
    tilt = ev.tilt_derivative(real.magnetics(), grid, at_resolution_m=50_000)
    values = tilt.values[np.isfinite(tilt.values)]
    assert values.size > 0.5 * tilt.size
    assert -math.pi / 2 <= values.min() < 0 < values.max() <= math.pi / 2
    assert json.loads(tilt.attrs["geomap_params"])["at_resolution_m"] == 50_000


# --------------------------------------------------------------------------- transforms


def test_fuzzy_memberships():
    grid = square_grid(3)
    x = on_grid(np.array([[0.0, 1.0, 2.0], [5.0, 10.0, np.nan], [20.0, 50.0, 100.0]]), grid)
    lin = ev.fuzzy(x, "linear", low=0, high=10)
    assert (
        lin.values[0, 1] == pytest.approx(0.1) and lin.values[2, 2] == 1 and lin.values[0, 0] == 0
    )
    assert np.isnan(lin.values[1, 2])
    near_is_good = ev.fuzzy(x, "linear", low=10, high=0)
    assert near_is_good.values[0, 0] == 1 and near_is_good.values[2, 0] == 0
    large = ev.fuzzy(x, "large", midpoint=10, spread=5)
    assert large.values[1, 1] == pytest.approx(0.5) and large.values[0, 0] == 0
    small = ev.fuzzy(x, "small", midpoint=10, spread=5)
    assert small.values[1, 1] == pytest.approx(0.5) and small.values[0, 0] == 1
    gauss = ev.fuzzy(x, "gaussian", midpoint=10, spread=0.01)
    assert gauss.values[1, 1] == 1 and gauss.values[2, 0] == pytest.approx(math.exp(-1))
    near = ev.fuzzy(x, "near", midpoint=10, spread=0.01)
    assert near.values[2, 0] == pytest.approx(0.5)
    steps = json.loads(near.attrs["geomap_transforms"])
    assert steps == [{"function": "near", "midpoint": 10.0, "spread": 0.01, "transform": "fuzzy"}]
    with pytest.raises(ParameterError, match="fuzzy function 'sigmoid'"):
        ev.fuzzy(x, "sigmoid")
    with pytest.raises(ParameterError, match="low and high"):
        ev.fuzzy(x, "linear", low=1, high=1)
    with pytest.raises(ParameterError, match="midpoint"):
        ev.fuzzy(x, "large", midpoint=0)


def test_normalizations_and_threshold():
    grid = square_grid(3)
    x = on_grid(np.array([[1.0, 10.0, 100.0], [1000.0, np.nan, 1.0], [5.0, 5.0, 5.0]]), grid)
    z = ev.zscore(x)
    valid = np.isfinite(x.values)
    assert abs(float(np.nanmean(z.values))) < 1e-6 and float(np.nanstd(z.values)) == pytest.approx(
        1
    )
    p = ev.percentile_rank(x)
    assert p.values[1, 0] == 1.0 and p.values[0, 0] == pytest.approx(2 / 8)
    assert p.values[2, 0] == p.values[2, 2] == pytest.approx(5 / 8)
    lg = ev.log_transform(x)
    assert lg.values[0, 2] == pytest.approx(2.0) and lg.attrs["units"] == "log10"
    assert np.isnan(ev.log_transform(x, offset=-10).values[0, 0])
    binary = ev.threshold(x, value=10)
    assert binary.attrs["geomap_kind"] == "binary"
    np.testing.assert_array_equal(binary.values[valid], (x.values[valid] >= 10).astype("float32"))
    assert np.isnan(binary.values[1, 1])


# --------------------------------------------------------------------------- coverage


def test_coverage_counts_layers_with_data():
    grid = square_grid(3)
    a = on_grid(np.array([[1, 1, np.nan]] * 3), grid, name="a")
    b = on_grid(np.array([[np.nan, 1, np.nan]] * 3), grid, name="b")
    cov = ev.coverage([a, b])
    np.testing.assert_array_equal(cov.values[0], [1, 2, 0])
    assert cov.attrs["geomap_role"] == "coverage" and json.loads(cov.attrs["geomap_layers"]) == [
        "a",
        "b",
    ]
    other = grid_to_dataarray(np.ones((3, 3)), square_grid(3, 2000.0), name="c")
    with pytest.raises(GridMismatchError, match="'c' differs"):
        ev.coverage([a, other])
    with pytest.raises(DataError):
        ev.coverage([])


def test_coverage_on_real_layers_shows_the_geochemistry_gap():
    grid = region_grid("capricorn-wa", 25_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        lree = ev.geochem_surface(
            real.capricorn_samples(), grid, elements=["La_ppm"], search_radius_m=40_000
        )
    gravity = ev.gravity_disturbance(real.total_gravity(), grid)
    cov = ev.coverage([lree, gravity])
    assert set(np.unique(cov.values)) == {1, 2}
    assert (cov.values == 2).sum() == np.isfinite(lree.values).sum()


def test_grid_crs_is_reported_in_every_layer():
    grid = region_grid("central-lapland", 5_000)
    d = ev.distance_to(gpd.GeoSeries([Point(25, 67.5)], crs="EPSG:4326"), grid)
    assert pyproj.CRS(d.rio.crs.to_wkt()).equals(pyproj.CRS("EPSG:3035"))

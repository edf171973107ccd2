"""NumPy and Dask give the same evidence, on the real mirrored data, for every evidence type.

Grids are coarse (10-25 km) and blocks small (a few dozen cells), so every layer
is split into many blocks with halos crossing block edges.  The last tests check
that a chunked run's peak memory stays well under the in-memory run's.
"""

from __future__ import annotations

import gc
import tracemalloc
import warnings

import _evidence_data as real
import numpy as np
import pytest
import xarray as xr

from geomap import evidence as ev
from geomap.grid import region_grid

BLOCK = 48
CLASSES = ["felsic_intrusive", "unconsolidated"]


def assert_parity(mem: xr.DataArray, lazy: xr.DataArray, *, rtol: float = 0.0, atol: float = 0.0):
    assert lazy.chunks is not None, "the chunked result is not Dask-backed"
    assert mem.chunks is None, "the in-memory result is Dask-backed"
    assert len(lazy.data.chunks[0]) > 1 and len(lazy.data.chunks[1]) > 1, "only one block"
    assert _attrs(mem) == _attrs(lazy)
    assert np.isnan(mem.rio.nodata) and np.isnan(lazy.rio.nodata)
    assert mem.dtype == lazy.dtype and mem.shape == lazy.shape
    np.testing.assert_allclose(lazy.values, mem.values, rtol=rtol, atol=atol, equal_nan=True)
    assert np.isfinite(mem.values).any()


def _attrs(layer: xr.DataArray) -> dict:
    return {k: v for k, v in layer.attrs.items() if k != "_FillValue"}


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


# --------------------------------------------------------------------------- vector evidence


@pytest.mark.parametrize("cap_m", [None, 80_000])
def test_distance_to_faults(cap_m):
    grid = region_grid("japan", 10_000)
    faults = real.faults("japan")
    mem = ev.distance_to(faults, grid, cap_m=cap_m, name="faults")
    lazy = ev.distance_to(faults, grid, cap_m=cap_m, name="faults", chunks=BLOCK)
    assert_parity(mem, lazy)


def test_distance_to_province_polygons_and_points():
    grid = region_grid("conus", 25_000)
    provinces = real.provinces("conus")
    rifts = provinces[provinces["prov_type"].astype(str).str.contains("rift")]
    assert_parity(
        ev.distance_to(rifts, grid, cap_m=200_000),
        ev.distance_to(rifts, grid, cap_m=200_000, chunks=BLOCK),
    )
    carbonatites = real.carbonatites()
    assert_parity(
        ev.distance_to(carbonatites, grid, cap_m=300_000),
        ev.distance_to(carbonatites, grid, cap_m=300_000, chunks=BLOCK),
    )


@pytest.mark.parametrize("kernel", ["gaussian", "quartic"])
def test_point_density(kernel):
    grid = region_grid("conus", 10_000)
    points = real.carbonatites()
    mem = ev.point_density(points, grid, bandwidth_m=60_000, kernel=kernel)
    lazy = ev.point_density(points, grid, bandwidth_m=60_000, kernel=kernel, chunks=BLOCK)
    assert_parity(mem, lazy, atol=1e-9 * float(mem.max()))


def test_geochem_surface():
    grid = region_grid("capricorn-wa", 5_000)
    samples = real.capricorn_samples()
    opts = {"elements": ["La_ppm", "Ce_ppm", "Nd_ppm"], "search_radius_m": 40_000}
    assert_parity(
        ev.geochem_surface(samples, grid, **opts),
        ev.geochem_surface(samples, grid, chunks=BLOCK, **opts),
    )


# --------------------------------------------------------------------------- categorical


def test_raster_classes_one_hot_and_scores():
    grid = region_grid("japan", 10_000)
    mem = ev.class_layer(real.glim(), grid, name="lith")
    lazy = ev.class_layer(real.glim(), grid, name="lith", chunks=BLOCK)
    assert_parity(mem, lazy)
    for a, b in zip(
        ev.one_hot(mem, classes=CLASSES), ev.one_hot(lazy, classes=CLASSES), strict=True
    ):
        assert_parity(a, b)
    scores = {"felsic_intrusive": 1.0, "pyroclastic": 0.7, "felsic_volcanic": 0.6}
    assert_parity(ev.class_scores(mem, scores=scores), ev.class_scores(lazy, scores=scores))


def test_vector_classes():
    grid = region_grid("conus", 25_000)
    provinces = real.provinces("conus")
    assert_parity(
        ev.class_layer(provinces, grid, column="prov_type"),
        ev.class_layer(provinces, grid, column="prov_type", chunks=BLOCK),
    )


# --------------------------------------------------------------------------- continuous, derived


def test_continuous_from_numpy_and_from_dask_sources():
    grid = region_grid("us-southwest", 10_000)
    topo = real.topography()
    mem = ev.continuous(topo, grid, name="elevation")
    assert_parity(mem, ev.continuous(topo, grid, name="elevation", chunks=BLOCK))
    dask_source = topo.chunk({"y": 200, "x": 200})
    assert_parity(mem, ev.continuous(dask_source, grid, name="elevation", chunks=BLOCK))


def test_gravity_disturbance():
    grid = region_grid("conus", 25_000)
    gravity = real.total_gravity()
    mem = ev.gravity_disturbance(gravity, grid)
    assert_parity(mem, ev.gravity_disturbance(gravity, grid, chunks=BLOCK), atol=1e-6)
    lazy_source = gravity.chunk({"y": 300, "x": 300})
    assert_parity(mem, ev.gravity_disturbance(lazy_source, grid, chunks=BLOCK), atol=1e-6)


@pytest.mark.parametrize(
    ("function", "source", "options"),
    [
        (ev.horizontal_gradient, "gravity", {}),
        (ev.slope, "topography", {}),
        (ev.relief, "topography", {"radius_m": 60_000}),
        (ev.tilt_derivative, "magnetics", {}),
        (ev.tilt_derivative, "magnetics", {"at_resolution_m": 40_000}),
        (ev.slope, "topography", {"at_resolution_m": 30_000}),
    ],
)
def test_derived_layers(function, source, options):
    grid = region_grid("japan", 10_000)
    data = {
        "gravity": real.total_gravity,
        "topography": real.topography,
        "magnetics": real.magnetics,
    }[source]()
    mem = function(data, grid, **options)
    lazy = function(data, grid, chunks=BLOCK, **options)
    assert_parity(mem, lazy, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- transforms, coverage


def test_transforms_keep_dask_and_values():
    grid = region_grid("japan", 10_000)
    faults = real.faults("japan")
    mem = ev.distance_to(faults, grid, cap_m=50_000)
    lazy = ev.distance_to(faults, grid, cap_m=50_000, chunks=BLOCK)
    for transform in (
        lambda d: ev.fuzzy(d, "small", midpoint=10_000, spread=3),
        lambda d: ev.fuzzy(d, "linear", low=50_000, high=0),
        lambda d: ev.fuzzy(d, "gaussian", midpoint=0, spread=1e-9),
        lambda d: ev.fuzzy(d, "near", midpoint=5_000, spread=1e-8),
        lambda d: ev.fuzzy(d, "large", midpoint=20_000),
        lambda d: ev.log_transform(d, offset=1),
        lambda d: ev.threshold(d, value=20_000, above=False),
        ev.percentile_rank,
    ):
        assert_parity(transform(mem), transform(lazy), rtol=1e-6)
    assert_parity(ev.zscore(mem), ev.zscore(lazy), rtol=1e-5, atol=1e-5)


def test_coverage():
    grid = region_grid("capricorn-wa", 10_000)
    samples = real.capricorn_samples()
    layers = {}
    for chunks in (None, BLOCK):
        layers[chunks] = [
            ev.geochem_surface(
                samples, grid, elements=["La_ppm"], search_radius_m=30_000, chunks=chunks
            ),
            ev.gravity_disturbance(real.total_gravity(), grid, chunks=chunks),
            ev.class_layer(real.glim(), grid, chunks=chunks),
        ]
    mem, lazy = ev.coverage(layers[None]), ev.coverage(layers[BLOCK])
    assert lazy.chunks is not None
    np.testing.assert_array_equal(mem.values, lazy.values)
    assert mem.attrs == lazy.attrs


def test_parity_on_a_distributed_cluster():
    distributed = pytest.importorskip("distributed")
    grid = region_grid("japan", 10_000)
    faults = real.faults("japan")
    mem = ev.distance_to(faults, grid, cap_m=60_000)
    with distributed.Client(
        processes=False, n_workers=2, threads_per_worker=1, dashboard_address=None
    ):
        lazy = ev.distance_to(faults, grid, cap_m=60_000, chunks=BLOCK)
        values = lazy.values
    np.testing.assert_array_equal(values, mem.values)


# --------------------------------------------------------------------------- memory


def _peak_traced_mb(call) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


@pytest.mark.slow
@pytest.mark.parametrize("layer", ["distance", "density"])
def test_chunked_peak_memory_is_well_under_in_memory(layer):
    """A grid of ~4.7 million cells, ~20 blocks: the chunked peak stays under a third."""
    import dask

    grid = region_grid("conus", 2_000)
    if layer == "distance":
        faults = real.faults("conus")

        def build(chunks):
            return ev.distance_to(faults, grid, cap_m=40_000, chunks=chunks)
    else:
        points = real.carbonatites()

        def build(chunks):
            return ev.point_density(points, grid, bandwidth_m=20_000, chunks=chunks)

    chunks = 512
    assert grid.shape.y * grid.shape.x > 15 * chunks * chunks
    in_memory = _peak_traced_mb(lambda: float(build(None).max()))
    with dask.config.set(scheduler="threads", num_workers=2):
        chunked = _peak_traced_mb(lambda: float(build(chunks).max().compute()))
    print(f"{layer}: peak in memory {in_memory:.0f} MB, chunked {chunked:.0f} MB")
    assert chunked < in_memory / 3

"""Survey-planning targets from a prospectivity surface."""

from __future__ import annotations

import dask.array as da
import geopandas as gpd
import numpy as np
import pytest
import shapely
import xarray as xr

from geomap.errors import CRSError, DataError, GridMismatchError, ParameterError
from geomap.targets import TARGET_COLUMNS, select_targets

CELL = 1000.0  # metres


def _surface(
    values: np.ndarray, *, crs: str = "EPSG:5070", x0: float = -1_800_000.0, y0: float = 1_900_000.0
) -> xr.DataArray:
    ny, nx = values.shape
    x = x0 + CELL * (np.arange(nx) + 0.5)
    y = y0 - CELL * (np.arange(ny) + 0.5)
    return xr.DataArray(
        values.astype("float32"), dims=("y", "x"), coords={"y": y, "x": x}
    ).rio.write_crs(crs)


def _blocks() -> np.ndarray:
    """Three blobs: a 2x2 block (0.9), a diagonal pair (0.8, 8-connected) and one cell (0.7)."""
    values = np.full((10, 10), 0.1)
    values[1:3, 1:3] = 0.9
    values[6, 6] = values[7, 7] = 0.8
    values[2, 8] = 0.7
    values[9, 0] = np.nan
    return values


def test_threshold_merges_touching_cells_and_ranks_by_mean():
    targets = select_targets(_surface(_blocks()), threshold=0.5)
    assert list(targets.columns) == [*TARGET_COLUMNS, "geometry"]
    assert targets["rank"].tolist() == [1, 2, 3]
    assert targets["area_km2"].tolist() == [4.0, 2.0, 1.0]  # the diagonal pair is one target
    assert targets["mean_prospectivity"].tolist() == pytest.approx([0.9, 0.8, 0.7])
    assert targets.geometry.area.tolist() == pytest.approx([4e6, 2e6, 1e6])
    assert targets.attrs["geomap_targets"]["candidates"] == 3


def test_top_percent_selects_that_share_of_the_area_with_data():
    rng = np.random.default_rng(0)
    values = rng.random((40, 50))
    values[:5] = np.nan
    targets = select_targets(_surface(values), top_percent=10)
    valid = np.isfinite(values).sum()
    assert targets["area_km2"].sum() == pytest.approx(0.10 * valid, abs=1.0)
    cutoff = targets.attrs["geomap_targets"]["cutoff"]
    assert (targets["max_prospectivity"] >= cutoff).all()


def test_min_area_drops_and_counts_small_targets():
    targets = select_targets(_surface(_blocks()), threshold=0.5, min_area_km2=1.5)
    assert targets["area_km2"].tolist() == [4.0, 2.0]
    assert targets.attrs["geomap_targets"]["dropped_below_min_area"] == 1


def test_uncertainty_and_coverage_statistics():
    surface = _surface(_blocks())
    uncertainty = surface.copy(data=np.full(surface.shape, 0.2, dtype="float32"))
    coverage = surface.copy(data=np.full(surface.shape, 3.0, dtype="float32"))
    coverage.values[1, 1] = 1.0
    coverage.attrs["n_layers"] = 4
    targets = select_targets(surface, threshold=0.5, uncertainty=uncertainty, coverage=coverage)
    first = targets.iloc[0]
    assert first["mean_uncertainty"] == pytest.approx(0.2)
    assert first["mean_coverage"] == pytest.approx((1 + 3 + 3 + 3) / 4)
    assert first["coverage_fraction"] == pytest.approx(2.5 / 4)


def test_occurrences_inside_nearest_and_supply_chains():
    surface = _surface(_blocks())
    x0, y0 = -1_800_000.0, 1_900_000.0
    occurrences = gpd.GeoDataFrame(
        {"name": ["Inside A", "Inside B", "Far away"], "commodities": ["Nd;Pr", "Ce", "Li"]},
        geometry=[
            shapely.Point(x0 + 1500, y0 - 1500),
            shapely.Point(x0 + 2500, y0 - 2500),
            shapely.Point(x0 + 8500, y0 - 6500),  # 3.5 km south of the single-cell target
        ],
        crs="EPSG:5070",
    ).to_crs("EPSG:4326")  # any CRS is accepted
    targets = select_targets(surface, threshold=0.5, occurrences=occurrences, commodities=["La"])
    first, _, single = (targets.iloc[i] for i in range(3))
    assert first["n_occurrences"] == 2
    assert first["occurrences"] == "Inside A; Inside B"
    assert first["nearest_occurrence_km"] == pytest.approx(0.0)
    assert first["commodities"] == "Ce;La;Nd;Pr"
    assert "magnets" in first["supply_chains"]
    assert single["n_occurrences"] == 0
    assert single["nearest_occurrence"] == "Far away"
    assert single["nearest_occurrence_km"] == pytest.approx(3.5)
    assert single["commodities"] == "La"


def test_country_and_state_from_real_natural_earth(data_root):
    states = gpd.read_file(data_root / "natural-earth" / "ne_50m_admin_1_states_provinces.json")
    admin = states.rename(columns={"admin": "country", "name": "state"})[
        ["country", "state", "geometry"]
    ]
    # a surface around Mountain Pass, California (-115.53, 35.48) in Conus Albers
    centre = gpd.GeoSeries([shapely.Point(-115.53, 35.48)], crs="EPSG:4326").to_crs("EPSG:5070")[0]
    values = np.zeros((20, 20))
    values[8:12, 8:12] = 1.0
    surface = _surface(values, x0=centre.x - 10 * CELL, y0=centre.y + 10 * CELL)
    targets = select_targets(surface, threshold=0.5, admin_areas=admin)
    assert targets.loc[0, ["country", "state"]].tolist() == [
        "United States of America",
        "California",
    ]


def test_dask_backed_surface_gives_the_same_targets():
    surface = _surface(_blocks())
    lazy = surface.copy(data=da.from_array(surface.values, chunks=(4, 4)))
    eager = select_targets(surface, threshold=0.5)
    chunked = select_targets(lazy, threshold=0.5)
    assert eager.drop(columns="geometry").equals(chunked.drop(columns="geometry"))
    assert eager.geometry.geom_equals(chunked.geometry).all()


def test_bad_inputs_are_refused_clearly():
    surface = _surface(_blocks())
    with pytest.raises(CRSError, match="no CRS"):
        select_targets(xr.DataArray(_blocks(), dims=("y", "x")))
    with pytest.raises(CRSError, match="projected"):
        select_targets(surface.rio.write_crs("EPSG:4326", inplace=False))
    with pytest.raises(ParameterError, match="exactly one"):
        select_targets(surface, top_percent=5, threshold=0.5)
    with pytest.raises(ParameterError, match="top_percent=0"):
        select_targets(surface, top_percent=0)
    with pytest.raises(ParameterError, match="min_area_km2=-1"):
        select_targets(surface, threshold=0.5, min_area_km2=-1)
    with pytest.raises(DataError, match="no cells with data"):
        select_targets(surface * np.nan)
    other = _surface(_blocks(), x0=-1_700_000.0)
    with pytest.raises(GridMismatchError):
        select_targets(surface, threshold=0.5, uncertainty=other)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"top_percent": 5, "threshold": 0.5},
            "both --top-percent 5 and --threshold 0.5 given; pass only one: --top-percent X",
        ),
        ({"threshold": 1.5}, r"--threshold 1.5 is not a probability in \(0, 1\)"),
        ({"threshold": 0}, r"--threshold 0 is not a probability in \(0, 1\)"),
        ({"threshold": float("nan")}, r"--threshold nan is not a probability"),
        ({"top_percent": 0}, r"--top-percent 0 must lie in \(0, 100\]"),
        ({"top_percent": 150}, r"--top-percent 150 must lie in \(0, 100\]"),
    ],
)
def test_build_refuses_a_bad_target_rule_before_any_work(tmp_path, monkeypatch, options, message):
    from geomap.pipeline import build, run_stages, runner

    def no_work(*args, **kwargs):
        raise AssertionError("the catalog was loaded before the target rule was checked")

    monkeypatch.setattr(runner, "load_catalog", no_work)
    with pytest.raises(ParameterError, match=message):
        build("kuroko-vms", region="japan", out=tmp_path / "out", **options)
    with pytest.raises(ParameterError, match=message):
        run_stages("kuroko-vms", region="japan", **options)
    assert not (tmp_path / "out").exists()


def test_large_targets_are_split_into_survey_sized_tiles_and_ranked_with_uncertainty():
    """A 12 x 12 km blob (144 km²) with a 40 km² cap: four compact pieces of 36 km²."""
    import numpy as np
    import xarray as xr

    from geomap.targets import select_targets

    values = np.full((20, 20), 0.1, dtype="float32")
    values[2:14, 2:14] = 0.8
    values[16:18, 16:18] = 0.9  # a small, high target
    coords = {"y": np.arange(19500.0, 0, -1000.0), "x": np.arange(500.0, 20000, 1000.0)}
    surface = xr.DataArray(values, dims=("y", "x"), coords=coords).rio.write_crs("EPSG:5070")
    whole = select_targets(surface, threshold=0.5)
    assert whole["area_km2"].max() == 144
    split = select_targets(surface, threshold=0.5, max_target_km2=40.0)
    assert split["area_km2"].max() <= 40
    pieces = split[split["parent_id"] != ""]
    assert len(pieces) == 4 and pieces["parent_id"].nunique() == 1  # ceil(144 / 40) pieces
    assert pieces["area_km2"].tolist() == [36.0] * 4  # equal, not tiles with slivers
    assert all(geom.geom_type == "Polygon" for geom in pieces.geometry)  # each one area
    assert split.attrs["geomap_targets"]["split_above_max_area"] == 1
    # uncertainty lowers the rank of the small high target below the certain big tiles
    sigma = xr.zeros_like(surface)
    sigma.values[16:18, 16:18] = 0.5
    ranked = select_targets(surface, threshold=0.5, max_target_km2=40.0, uncertainty=sigma)
    small = ranked[ranked["max_prospectivity"] > 0.85].iloc[0]
    assert small["rank_score"] == pytest.approx(0.4) and small["rank"] == len(ranked)
    assert ranked["rank_score"].is_monotonic_decreasing


def test_target_stability_compares_two_cell_sizes():
    import numpy as np
    import xarray as xr

    from geomap.targets import select_targets, target_stability

    i = np.arange(40.0)
    values = (0.5 + 0.25 * np.add.outer(np.sin(i / 4.0), np.cos(i / 6.0))).astype("float32")
    coords = {"y": np.arange(39500.0, 0, -1000.0), "x": np.arange(500.0, 40000, 1000.0)}
    fine = xr.DataArray(values, dims=("y", "x"), coords=coords).rio.write_crs("EPSG:5070")
    coarse = fine.coarsen(y=2, x=2).mean()
    a = select_targets(fine, top_percent=10)
    b = select_targets(coarse, top_percent=10)
    same = target_stability(a, a, fine)
    assert same["persistent"] == same["top"] and same["first_persists"]
    assert same["rank_correlation"] > 0.9
    other = target_stability(a, b, coarse)
    assert 0 <= other["persistent"] <= other["top"]
    assert other["rank_correlation"] is None or -1 <= other["rank_correlation"] <= 1


def _cells(values, cell_m):
    import numpy as np
    import xarray as xr

    ny, nx = values.shape
    coords = {
        "y": (np.arange(ny)[::-1] + 0.5) * cell_m,
        "x": (np.arange(nx) + 0.5) * cell_m,
    }
    return xr.DataArray(values.astype("float32"), dims=("y", "x"), coords=coords).rio.write_crs(
        "EPSG:5070"
    )


def test_survey_pieces_scale_with_the_cell_size():
    """10 km cells (100 km²) and the 300 km² default: pieces of 2 x 2 cells, never one cell."""
    import numpy as np

    from geomap.target_pieces import piece_cells
    from geomap.targets import select_targets

    assert piece_cells(300, 100) == 4 and piece_cells(300, 25) == 12 and piece_cells(300, 1) == 300
    rng = np.random.default_rng(0)
    values = np.full((60, 60), 0.1)
    values[5:35, 5:20] = 0.6 + 0.1 * rng.random((30, 15))  # one irregular district, 450 cells
    values[40:42, 40:41] = 0.9  # two cells: under the cap, stays whole
    values[50, 50] = 0.9  # one cell alone (above min area): stays whole
    surface = _cells(values, 10_000.0)
    targets = select_targets(surface, threshold=0.5, max_target_km2=300.0)
    info = targets.attrs["geomap_targets"]
    assert info["max_piece_km2"] == 400.0 and info["split_above_max_area"] == 1
    pieces = targets[targets["parent_id"] != ""]
    whole = targets[targets["parent_id"] == ""]
    assert sorted(whole["area_km2"]) == [100.0, 200.0]
    # ceil(450 / 4) = 113 compact pieces of 3-4 cells (fragments joined: at most a few over)
    assert len(pieces) == 113
    assert pieces["area_km2"].sum() == 45_000.0
    assert pieces["area_km2"].min() >= 300.0 and pieces["area_km2"].max() <= 600.0
    assert all(geom.geom_type == "Polygon" for geom in pieces.geometry)
    # the same district at 5 km cells (25 km²): pieces up to 12 cells = 300 km²
    fine = np.kron(values, np.ones((2, 2)))
    fine_targets = select_targets(_cells(fine, 5_000.0), threshold=0.5, max_target_km2=300.0)
    assert fine_targets.attrs["geomap_targets"]["max_piece_km2"] == 300.0
    fine_pieces = fine_targets[fine_targets["parent_id"] != ""]
    assert fine_pieces["area_km2"].max() <= 300.0 + 2 * 25.0
    assert len(fine_pieces) == 150  # 1800 cells / 12


def test_max_targets_lists_the_best_and_counts_the_rest():
    import numpy as np

    from geomap.errors import ParameterError
    from geomap.targets import select_targets

    values = np.full((30, 30), 0.1)
    for i in range(10):
        values[2 + 3 * i, 2:4] = 0.5 + 0.04 * i  # ten separate two-cell targets
    surface = _cells(values, 1_000.0)
    every = select_targets(surface, threshold=0.45)
    best = select_targets(surface, threshold=0.45, max_targets=3)
    assert len(every) == 10 and len(best) == 3
    assert best["target_id"].tolist() == every["target_id"].head(3).tolist()
    assert best["rank"].tolist() == [1, 2, 3]
    info = best.attrs["geomap_targets"]
    assert info["listed"] == 3 and info["not_listed"] == 7
    assert info["not_listed_area_km2"] == 14.0
    with pytest.raises(ParameterError, match="max_targets=0"):
        select_targets(surface, threshold=0.45, max_targets=0)

"""One classification for prospectivity: classes by share of the study area (geomap.classes)."""

from __future__ import annotations

import json

import dask.array as da
import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401  (the .rio accessor)
import xarray as xr

from geomap import styles
from geomap.classes import NO_CLASS, area_share_classes, percentile_stretch
from geomap.errors import DataError


def _surface(values: np.ndarray) -> xr.DataArray:
    ny, nx = values.shape
    out = xr.DataArray(
        values.astype("float32"),
        dims=("y", "x"),
        coords={"y": 1e6 - 1e4 * np.arange(ny), "x": 1e4 * np.arange(nx)},
    )
    return out.rio.write_crs("EPSG:5070")


def test_classes_hold_their_share_of_a_skewed_surface():
    rng = np.random.default_rng(0)
    # like a real WofE surface: median ~3e-4, 99th percentile ~0.04, a few cells near 1
    values = rng.lognormal(mean=-8, sigma=2.2, size=(200, 150)).clip(0, 1)
    values[:20, :] = np.nan  # outside the study area
    values = _surface(values).values
    classes = area_share_classes(_surface(values))
    codes = classes.classify(values)
    inside = np.isfinite(values)
    assert (codes[~inside] == NO_CLASS).all()
    shares = [100 * (codes[inside] == c).mean() for c in classes.codes]
    assert shares == pytest.approx([1, 4, 5, 10, 30, 50], abs=0.05)
    assert classes.cell_shares == pytest.approx(shares)
    assert list(classes.breaks) == sorted(classes.breaks, reverse=True)
    assert classes.labels[0] == "Top 1 % of the area"
    assert classes.labels[-1] == "Lowest 50 % of the area"
    # a linear ramp from min to max would put almost everything in its lowest step
    linear = np.floor((values[inside] - np.nanmin(values)) / np.nanmax(values) * 6)
    assert (linear == 0).mean() > 0.95


def test_classes_compare_across_surfaces_of_different_ranges():
    rng = np.random.default_rng(1)
    a = rng.random((60, 60)) * 0.912
    b = rng.random((60, 60)) ** 4 * 0.705  # another model, another range
    share_a = [(area_share_classes(a).classify(a) == c).mean() for c in range(1, 7)]
    share_b = [(area_share_classes(b).classify(b) == c).mean() for c in range(1, 7)]
    assert share_a == pytest.approx(share_b, abs=0.01)


def test_heavy_ties_are_split_by_the_rule_and_every_class_keeps_its_share():
    values = np.zeros((40, 50))  # 2,000 cells
    values[:2, :] = 1.0  # 5 % of the cells at one value, the other 95 % at another
    classes = area_share_classes(values)
    codes = classes.classify(values)
    # nominal shares to the cell, although only two values exist
    assert classes.cell_shares == pytest.approx([1, 4, 5, 10, 30, 50])
    # the top value has nothing above it: its 100 cells are taken row by row
    assert (codes[0, :20] == 1).all() and (codes[0, 20:] == 2).all() and (codes[1] == 2).all()
    # the zeros go by nearness to the higher rows: 2 rows (100 cells) next to them, then
    # 4 rows (200 cells), then 12 rows (600 cells), the rest farthest away
    assert (codes[2:4] == 3).all() and (codes[4:8] == 4).all()
    assert (codes[8:20] == 5).all() and (codes[20:] == 6).all()
    assert classes.tie_note is not None and "95 % of the area has the value 0" in classes.tie_note
    with pytest.raises(DataError, match="resample the class codes"):
        classes.classify(values[::2, ::2])  # the rule needs the surface's own grid
    # Dask, with blocks thinner than the rule's reach: the same classes, cell for cell
    lazy = da.from_array(values, chunks=(16, 16))
    assert area_share_classes(lazy) == classes
    assert (np.asarray(classes.classify(lazy)) == codes).all()


def test_a_coarse_surface_with_ties_at_every_break_holds_the_nominal_shares():
    rng = np.random.default_rng(4)
    values = np.round(rng.lognormal(-6, 1.5, size=(120, 90)), 4)  # few distinct values
    values[:10, :30] = np.nan
    classes = area_share_classes(_surface(values))
    assert len(classes.split_ties) >= 3
    codes = classes.classify(_surface(values))
    inside = np.isfinite(values)
    shares = [100 * (codes[inside] == c).mean() for c in classes.codes]
    assert shares == pytest.approx([1, 4, 5, 10, 30, 50], abs=100 / inside.sum())
    # a larger value is never in a lower class (only cells of one value are split)
    distinct = np.unique(values[inside])[::-1]
    lowest_above = 0
    for value in distinct:
        group = codes[values == value]
        assert group.min() >= lowest_above
        lowest_above = max(lowest_above, int(group.max()))


def test_mask_and_dask():
    values = np.zeros((40, 50))
    values[:2, :] = 1.0
    mask = np.zeros_like(values, dtype=bool)
    mask[:, :25] = True
    assert area_share_classes(values, mask=mask).n_cells == 1000
    rng = np.random.default_rng(2)
    surface = _surface(rng.random((64, 48)))
    lazy = surface.copy(data=da.from_array(surface.values, chunks=(16, 16)))
    assert area_share_classes(lazy) == area_share_classes(surface)


def test_bad_input_is_refused_with_the_fix():
    with pytest.raises(DataError, match="ascending percentages"):
        area_share_classes(np.ones((3, 3)), shares=(5, 1))
    with pytest.raises(DataError, match="no value in the study area"):
        area_share_classes(np.full((3, 3), np.nan))
    with pytest.raises(DataError, match="mask has shape"):
        area_share_classes(np.ones((3, 3)), mask=np.ones((2, 2), dtype=bool))
    assert percentile_stretch(np.full(4, np.nan)) == (0.0, 1.0)


def test_cog_class_raster_carries_the_maps_colour_table(tmp_path):
    from geomap.export.cog import write_cog
    from geomap.pipeline.outputs import prospectivity_classes

    rng = np.random.default_rng(3)
    values = rng.random((128, 96))
    values[:8] = np.nan
    classes, colormap = prospectivity_classes(_surface(values))
    path = write_cog(classes, tmp_path / "classes.tif", colormap=colormap)
    with rasterio.open(path) as src:
        assert src.dtypes[0] == "uint8" and src.nodata == 0
        table = src.colormap(1)
        read = src.read(1)
        labels = json.loads(src.tags()["geomap_classes"])
    for code, color in enumerate(styles.PROSPECTIVITY_CLASS_COLORS, start=1):
        assert table[code][:3] == tuple(int(color[i : i + 2], 16) for i in (1, 3, 5))
    assert table[0][3] == 0  # no data is transparent
    assert (read[:8] == 0).all() and set(np.unique(read[8:])) == {1, 2, 3, 4, 5, 6}
    assert labels["1"] == "Top 1 % of the area"

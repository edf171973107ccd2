"""EMAG2v3 is read lazily: each Dask chunk of a GeoTIFF is its own windowed read."""

from __future__ import annotations

import numpy as np
import pytest

import geomap.testing as fx
from geomap.errors import ParameterError
from geomap.io import emag2v3
from geomap.io.emag2v3 import read_emag2v3_path

BOXES = [(-125.0, 24.0, -66.5, 49.5), (172.0, 51.0, -129.0, 71.5)]


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return fx.emag2_zip(tmp_path_factory.mktemp("emag2"))


@pytest.fixture
def reads(monkeypatch):
    """Record every block of pixels read from a GeoTIFF: (rows, cols) of each."""
    seen: list[tuple[int, int]] = []
    original = emag2v3._read_block

    def recording(path, row, col, height, width, nodata):
        seen.append((height, width))
        return original(path, row, col, height, width, nodata)

    monkeypatch.setattr(emag2v3, "_read_block", recording)
    return seen


@pytest.mark.parametrize("layer", ["upcont", "sealevel"])
@pytest.mark.parametrize("bbox", BOXES)
def test_lazy_values_equal_the_eager_read(archive, layer, bbox):
    lazy = read_emag2v3_path(archive, layer=layer, bbox=bbox, chunks=7)
    eager = read_emag2v3_path(archive, layer=layer, bbox=bbox, chunks=None)
    assert hasattr(lazy.data, "dask") and not hasattr(eager.data, "dask")
    assert lazy.data.chunksize[0] <= 7
    np.testing.assert_array_equal(lazy.values, eager.values)  # NaN where the same
    np.testing.assert_array_equal(lazy.x.values, eager.x.values)
    assert lazy.rio.crs == eager.rio.crs and lazy.rio.transform() == eager.rio.transform()


def test_building_the_array_reads_no_pixels_and_a_small_window_reads_one_chunk(archive, reads):
    lazy = read_emag2v3_path(archive, bbox=BOXES[0], chunks=5)
    assert reads == []  # only the header was opened
    corner = lazy.isel(y=slice(0, 3), x=slice(0, 3)).values
    assert np.isfinite(corner).all()
    assert reads == [(5, 5)]  # one 5 x 5 chunk, not the 31 x 63 region
    lazy.values  # noqa: B018  (the whole region: every chunk once)
    assert sum(h * w for h, w in reads[1:]) == lazy.size


def test_sealevel_filled_is_lazy_and_counts_the_land_cells(archive, reads):
    lazy = read_emag2v3_path(archive, layer="sealevel_filled", bbox=BOXES[0], chunks=8)
    assert hasattr(lazy.data, "dask")
    assert reads and max(h * w for h, w in reads) <= 64  # counting went chunk by chunk
    eager = read_emag2v3_path(archive, layer="sealevel_filled", bbox=BOXES[0], chunks=None)
    np.testing.assert_array_equal(lazy.values, eager.values)
    count = lazy.attrs["geomap_report"]["normalized"]
    assert count == eager.attrs["geomap_report"]["normalized"] and next(iter(count.values())) > 0


def test_the_csv_is_streamed_then_chunked_with_the_same_values(archive):
    lazy = read_emag2v3_path(archive, bbox=BOXES[1], prefer="csv", chunks=6)
    eager = read_emag2v3_path(archive, bbox=BOXES[1], prefer="tif", chunks=None)
    assert hasattr(lazy.data, "dask") and lazy.data.chunksize == (6, 6)
    np.testing.assert_allclose(lazy.values, eager.values, atol=0.01)


def test_numpy_and_dask_reductions_agree(archive):
    lazy = read_emag2v3_path(archive, bbox=BOXES[0], chunks=4)
    eager = read_emag2v3_path(archive, bbox=BOXES[0], chunks=None)
    assert float(lazy.mean()) == pytest.approx(float(eager.mean()), rel=1e-6)
    np.testing.assert_allclose(
        lazy.coarsen(x=3, y=3, boundary="trim").mean().values,
        eager.coarsen(x=3, y=3, boundary="trim").mean().values,
        rtol=1e-6,
    )


@pytest.mark.parametrize("chunks", [0, -3, 2.5, "big"])
def test_bad_chunks_are_refused(archive, chunks):
    with pytest.raises(ParameterError, match="chunks="):
        read_emag2v3_path(archive, bbox=BOXES[0], chunks=chunks)

"""Grids beyond memory: memory bounded by the chunk size, and chunked results equal to in-memory.

The pipeline of ``tests/_scale_pipeline.py`` makes the calls ``geomap build`` makes (evidence
functions, the product cache, the sampled cell table, weights of evidence, prediction,
targets, a COG, the report's layer summary).  One child process runs it on a grid whose
evidence stack is more than four times a memory cap and reports its peak resident memory
(the kernel's high-water mark, ``VmHWM``, reset after a warm-up run); the same pipeline on a
smaller grid gives identical products on NumPy and on Dask chunks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _scale_pipeline as sp  # noqa: E402

MIB = 2**20
CAP_MIB = 200  # memory the big run may add to the warmed-up process
BIG = (6912, 6912)  # 47.8 million cells: a stack of 820 MiB, over four times the cap
CHUNK = 512

_CHILD = textwrap.dedent(
    """
    import gc, json, sys
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    import _scale_pipeline as sp

    def status(field):
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError(field)

    def reset_peak():
        try:  # since Linux 4.0: the high-water mark restarts at the current RSS
            with open("/proc/self/clear_refs", "w") as handle:
                handle.write("5")
            return True
        except OSError:
            return False

    folder = Path(sys.argv[2])
    rows, cols, chunk = (int(v) for v in sys.argv[3:6])
    sp.run(2 * chunk, 2 * chunk, chunks=chunk, folder=folder / "warm-up")
    gc.collect()
    reset = reset_peak()
    base = status("VmRSS")
    result = sp.run(rows, cols, chunks=chunk, folder=folder / "big")
    peak = status("VmHWM")
    table, targets = result["table"], result["targets"]
    summary = {
        "reset": reset,
        "base": base,
        "peak": peak,
        "stack_bytes": sp.stack_nbytes(result["grid"]),
        "lazy": all(hasattr(v.data, "dask") for v in result["stack"].data_vars.values()),
        "n_table": len(table),
        "n_cells": table.report["n_cells"],
        "n_positive": int(table.y.sum()),
        "n_targets": len(targets),
        "cog_bytes": result["cog"].stat().st_size,
    }
    reset_peak()
    before = status("VmRSS")
    result["stack"]["distance"].load()  # control: one layer in memory is seen by the probe
    summary["control_increase"] = status("VmHWM") - before
    print(json.dumps(summary))
    """
)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_stack_four_times_the_memory_cap_runs_within_the_cap(tmp_path):
    # GDAL's block cache (COG overviews) is bounded by its own setting, 5 % of RAM by default
    env = {**os.environ, "GDAL_CACHEMAX": "64"}
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(HERE), str(tmp_path), *map(str, (*BIG, CHUNK))],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    cap = CAP_MIB * MIB
    assert result["stack_bytes"] >= 4 * cap
    assert result["lazy"]
    increase = result["peak"] - result["base"]
    assert increase < cap, f"peak {increase / MIB:.0f} MiB over the warmed-up process"
    # the probe sees a whole-grid array: one float32 layer (182 MiB) shows up in full
    assert result["control_increase"] > 0.9 * BIG[0] * BIG[1] * 4
    # the run did the work: a sampled table, targets, a written COG
    assert result["n_cells"] == BIG[0] * BIG[1]
    assert result["n_table"] == 200_000 and result["n_positive"] > 50
    assert result["n_targets"] > 0 and result["cog_bytes"] > 0


def test_chunked_products_equal_the_in_memory_ones(tmp_path):
    shape = (640, 896)
    eager = sp.run(*shape, chunks=None, folder=tmp_path / "eager", max_cells=50_000)
    lazy = sp.run(*shape, chunks=128, folder=tmp_path / "lazy", max_cells=50_000)
    assert not hasattr(eager["stack"]["distance"].data, "dask")
    assert hasattr(lazy["stack"]["distance"].data, "dask")
    assert hasattr(lazy["prediction"]["prospectivity"].data, "dask")
    for name in eager["stack"].data_vars:
        np.testing.assert_array_equal(eager["stack"][name].values, lazy["stack"][name].values)
    a, b = eager["table"], lazy["table"]
    assert a.report["sampled"] and a.report == b.report
    pd.testing.assert_frame_equal(a.X, b.X)
    for field in ("y", "occurrences", "sample_weight", "coverage", "rows", "cols"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    for name in ("prospectivity", "uncertainty", "coverage"):
        np.testing.assert_array_equal(
            eager["prediction"][name].values, lazy["prediction"][name].values
        )
    ta, tb = eager["targets"], lazy["targets"]
    assert len(ta) > 3 and ta.attrs == tb.attrs
    pd.testing.assert_frame_equal(
        pd.DataFrame(ta.drop(columns="geometry")), pd.DataFrame(tb.drop(columns="geometry"))
    )
    for one, other in zip(ta.geometry, tb.geometry, strict=True):
        assert one.symmetric_difference(other).area == 0.0
    assert eager["cog"].read_bytes() == lazy["cog"].read_bytes()
    pd.testing.assert_frame_equal(eager["summary"], lazy["summary"])


def test_sample_does_not_depend_on_the_chunks(tmp_path):
    from geomap.models import cell_table

    stack = sp.evidence(sp.grid(300, 420), None)
    training = sp._features(sp.grid(300, 420))["training"]
    tables = [
        cell_table(data, training, max_cells=5_000, random_state=3)
        for data in (stack, stack.chunk(64), stack.chunk({"y": 100, "x": 37}))
    ]
    for table in tables[1:]:
        np.testing.assert_array_equal(table.rows, tables[0].rows)
        np.testing.assert_array_equal(table.cols, tables[0].cols)
    other_seed = cell_table(stack, training, max_cells=5_000, random_state=4)
    assert not np.array_equal(other_seed.rows, tables[0].rows)
    assert len(tables[0]) == 5_000


def test_targets_cutoff_is_the_exact_quantile_on_chunks():
    import xarray as xr

    from geomap.target_components import _quantile_higher_blockwise

    rng = np.random.default_rng(3)
    values = rng.normal(size=(97, 131)).astype("float32")
    values[rng.random(values.shape) < 0.2] = np.nan
    values[:5] = 0.25  # ties
    for dtype in ("float32", "float64"):
        data = xr.DataArray(values.astype(dtype), dims=("y", "x")).chunk((20, 30))
        finite = values[np.isfinite(values)].astype("float64")
        for q in (0.0, 0.02, 0.5, 0.9, 0.98, 0.999, 1.0):
            expected = float(np.quantile(finite, q, method="higher"))
            assert _quantile_higher_blockwise(data, q) == expected


def test_chunked_products_are_stored_by_block_and_read_back_identically(tmp_path):
    import xarray as xr

    from geomap.pipeline.cache import ProductCache, load_dataset, save_dataset

    stack = sp.evidence(sp.grid(200, 260), None)
    whole, blocks = tmp_path / "whole", tmp_path / "blocks"
    whole.mkdir()
    blocks.mkdir()
    save_dataset(stack, whole)
    save_dataset(stack.chunk({"y": 64, "x": 100}), blocks)
    assert (whole / "data.nc").is_file() and not (blocks / "data.nc").exists()
    assert len(list((blocks / "blocks" / "0").glob("*.npy"))) == 4 * 3
    eager = load_dataset(whole)
    xr.testing.assert_identical(load_dataset(blocks), eager)
    lazy = load_dataset(blocks, chunks=50)
    assert lazy["distance"].data.chunksize == (50, 50)
    xr.testing.assert_identical(lazy.compute(), eager)
    assert lazy.rio.crs == eager.rio.crs and lazy["coverage"].attrs == eager["coverage"].attrs
    # a disabled cache still computes a Dask product once, into a scratch folder it removes
    cache = ProductCache(tmp_path / "unused", enabled=False)
    value, _ = cache.get_or_compute(
        "evidence",
        {"k": 1},
        lambda: stack.chunk(64),
        save=save_dataset,
        load=lambda folder: load_dataset(folder, chunks=64),
    )
    scratch = Path(cache._scratch.name)
    assert scratch.is_dir() and not (tmp_path / "unused").exists()
    xr.testing.assert_identical(value.compute(), eager)
    cache.close()
    assert not scratch.exists()

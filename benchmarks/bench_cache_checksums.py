"""Cost of the product cache's checksums (issue 18), as ratios in one run.

A product of ``n`` float32 cells in three variables is stored block by block (Dask-backed, as a
chunked build stores its evidence) and as one NetCDF file (in memory).  Timed, best of 3:

- ``write``: ``save_dataset`` alone, and ``save_dataset`` + ``write_checksums`` (hash at write);
- ``hit``: the cache's read path, ``checksum_problem`` (verify every file) + ``load`` (lazy for
  blocks, so verifying reads the files once more), against ``load`` alone;
- ``hit+compute``: the same followed by reading every value (what a build then does).

    python -m benchmarks.bench_cache_checksums [--side 4096] [--out results/cache_checksums.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr


def _best(function: Any, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def _dataset(side: int, chunks: int | None) -> xr.Dataset:
    rng = np.random.default_rng(0)
    values = {f"v{k}": (("y", "x"), rng.random((side, side), dtype="float32")) for k in range(3)}
    ds = xr.Dataset(
        values, coords={"y": np.arange(side)[::-1] * 100.0, "x": np.arange(side) * 100.0}
    )
    ds = ds.rio.write_crs("EPSG:3857")
    return ds.chunk({"y": chunks, "x": chunks}) if chunks else ds


def measure(side: int) -> list[dict[str, Any]]:
    """Return one row per storage layout with the timings and ratios."""
    return [
        _layout_row(layout, chunks, side) for layout, chunks in (("blocks", 1024), ("netcdf", None))
    ]


def _layout_row(layout: str, chunks: int | None, side: int) -> dict[str, Any]:
    from geomap.pipeline.cache import checksum_problem, load_dataset, save_dataset, write_checksums

    ds = _dataset(side, chunks)
    with tempfile.TemporaryDirectory(prefix="geomap-bench-") as tmp:
        counter = iter(range(100))

        def fresh() -> Path:
            folder = Path(tmp) / f"p{next(counter)}"
            folder.mkdir()
            return folder

        plain = _best(lambda: save_dataset(ds, fresh()))
        checked = _best(lambda: write_checksums(_saved(save_dataset, ds, fresh())))
        folder = fresh()
        save_dataset(ds, folder)
        write_checksums(folder)
        load_only = _best(lambda: load_dataset(folder, chunks=chunks))
        verify_load = _best(lambda: (checksum_problem(folder), load_dataset(folder, chunks=chunks)))
        compute_only = _best(lambda: load_dataset(folder, chunks=chunks).load())
        verify_compute = _best(
            lambda: (checksum_problem(folder), load_dataset(folder, chunks=chunks).load())
        )
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    return {
        "layout": layout,
        "cells": side * side,
        "bytes": size,
        "write_s": plain,
        "write_with_checksums_s": checked,
        "write_ratio": checked / plain,
        "hit_s": load_only,
        "hit_with_verify_s": verify_load,
        "hit_ratio": verify_load / load_only,
        "hit_compute_s": compute_only,
        "hit_compute_with_verify_s": verify_compute,
        "hit_compute_ratio": verify_compute / compute_only,
        "verify_gb_per_s": size / max(verify_load - load_only, 1e-9) / 1e9,
    }


def _saved(save: Any, ds: xr.Dataset, folder: Path) -> Path:
    save(ds, folder)
    return folder


def main() -> None:
    """Run and write the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--side", type=int, default=4096)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "cache_checksums.json"
    )
    args = parser.parse_args()
    rows = measure(args.side)
    args.out.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    for row in rows:
        print(
            f"{row['layout']:7s} {row['bytes'] / 2**20:7.0f} MiB  write x{row['write_ratio']:.2f}"
            f"  hit x{row['hit_ratio']:.2f}  hit+compute x{row['hit_compute_ratio']:.2f}"
            f"  verify {row['verify_gb_per_s']:.2f} GB/s"
        )


if __name__ == "__main__":
    main()

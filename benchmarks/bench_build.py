"""End-to-end ``geomap build``: carbonatite-hosted REE over the conterminous US.

Each build runs in a child process with an empty product cache (everything is computed: the
mirrored data are read, harmonized, gridded, modelled, and every output is written) and is
measured from outside: wall time, and peak resident memory from the kernel's accounting of
the child (``os.wait4``'s ``ru_maxrss``; the threaded scheduler runs in that one process).
Inside the child, the time of each stage and of the larger outputs is recorded.

Sizes: 1 km (18.9 million cells) in memory and on Dask chunks, and 250 m (302 million
cells, an evidence stack of 12.4 GB) on Dask chunks (``--chunks auto``, 2048-cell blocks).
Quick mode: the 1 km builds only.  There is no bare-library baseline for a whole build; the
scaling exponent of the chunked builds with cell count is reported by the runner.

The 250 m build needs about 30 GB of free disk for its product cache and outputs; set
``GEOMAP_BENCH_TMP`` to a folder with room (default: the system's temporary folder).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

OPERATIONS = ("geomap_build", "geomap_build_in_memory")
RECIPE, REGION = "carbonatite-ree", "conus"
BUILDS = [
    ("geomap_build_in_memory", "conus-1km", 1000.0, None),
    ("geomap_build", "conus-1km", 1000.0, "auto"),
    ("geomap_build", "conus-250m", 250.0, "auto"),
]

_CHILD = r"""
import json, sys, time
from contextlib import contextmanager
from pathlib import Path

import geomap.export.gpkg as gpkg
import geomap.render.maps as maps
from geomap.pipeline import runner

args = json.loads(sys.argv[1])
stages, outputs = {}, {}
original_stage = runner._Progress.stage


@contextmanager
def timed_stage(self, name):
    start = time.perf_counter()
    with original_stage(self, name):
        yield
    stages[name] = time.perf_counter() - start


def timed(module, name, label):
    function = getattr(module, name)

    def wrapper(*a, **k):
        start = time.perf_counter()
        try:
            return function(*a, **k)
        finally:
            outputs[label] = outputs.get(label, 0.0) + time.perf_counter() - start

    setattr(module, name, wrapper)


runner._Progress.stage = timed_stage
timed(runner, "write_rasters", "cogs")
timed(gpkg, "export_geopackage", "geopackage")
timed(maps, "prospectivity_map", "html_map")
timed(runner, "file_hashes", "manifest_hashes")
result = runner.build(
    args["recipe"],
    region=args["region"],
    resolution_m=args["resolution_m"],
    chunks=args["chunks"],
    out=args["out"],
    cache_dir=args["cache"],
    progress=True,
)
from geomap.grid import region_grid
from geomap.catalog import load_catalog

shape = region_grid(load_catalog().region(args["region"]), args["resolution_m"]).shape
size = lambda folder: sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
print(json.dumps({
    "cells": int(shape[0] * shape[1]),
    "stages_s": stages,
    "outputs_s": outputs,
    "output_bytes": size(args["out"]),
    "cache_bytes": size(args["cache"]),
    "targets": len(result.targets),
    "auc_held_out": result.metrics.get("spatial_cv", {}).get("auc", {}).get("held_out"),
}))
"""


def _tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (MiB), from /proc."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def measure_build(operation: str, size: str, resolution_m: float, chunks: Any) -> dict[str, Any]:
    """Run one build in a child process; return its wall time, peak memory and stage times."""
    root = os.environ.get("GEOMAP_BENCH_TMP") or None
    with tempfile.TemporaryDirectory(prefix="geomap-bench-build-", dir=root) as tmp:
        args = {
            "recipe": RECIPE,
            "region": REGION,
            "resolution_m": resolution_m,
            "chunks": chunks,
            "out": str(Path(tmp) / "out"),
            "cache": str(Path(tmp) / "cache"),
        }
        log = Path(tmp) / "build.log"
        samples: list[tuple[float, float]] = []
        with log.open("w") as err, tempfile.TemporaryFile("w+") as out:
            start = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-c", _CHILD, json.dumps(args)], stdout=out, stderr=err
            )
            done = threading.Event()

            def sample() -> None:
                while not done.wait(1.0):
                    samples.append((time.perf_counter() - start, _tree_rss_mb(proc.pid)))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            done.set()
            sampler.join()
            proc.returncode = os.waitstatus_to_exitcode(status)
            out.seek(0)
            lines = out.read().strip().splitlines()
        if proc.returncode != 0:
            raise RuntimeError(f"{size} build failed:\n{log.read_text()[-3000:]}")
        child = json.loads(lines[-1])
    peak = usage.ru_maxrss / 1024
    return {
        "operation": operation,
        "size": size,
        "n": child["cells"],
        "unit": "cells",
        "resolution_m": resolution_m,
        "chunks": chunks,
        "geomap_s": wall,
        "throughput_per_s": child["cells"] / wall,
        "peak_rss_mb": peak,
        "peak_rss_gib": peak / 1024,
        "memory_timeline_mb": [
            (round(t), round(m)) for t, m in samples[:: max(1, len(samples) // 120)]
        ],
        "stages_s": child["stages_s"],
        "outputs_s": child["outputs_s"],
        "output_bytes": child["output_bytes"],
        "cache_bytes": child["cache_bytes"],
        "targets": child["targets"],
        "auc_held_out": child["auc_held_out"],
    }


def results(quick: bool, only: list[str] | None = None) -> list[dict[str, Any]]:
    """Run the builds (quick: the 1 km ones); one result row each."""
    rows = []
    for operation, size, resolution, chunks in BUILDS:
        if quick and resolution < 1000:
            continue
        if only and operation not in only:
            continue
        rows.append(measure_build(operation, size, resolution, chunks))
        print(
            f"{operation:<28} {size:>10} {rows[-1]['geomap_s']:>9.1f} s  "
            f"peak {rows[-1]['peak_rss_gib']:.2f} GiB",
            flush=True,
        )
    return rows

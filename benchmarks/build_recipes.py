"""Every recipe's evidence stack at 1 km (Japan 500 m): ``python -m benchmarks.build_recipes``.

The "done when" of the evidence issue: each recipe builds its whole evidence stack for each
region it declares, from the mirrored data, at 1 km (the Japan recipes at 500 m), and the
data-coverage layer is part of every stack.  Each (recipe, region) is built in a child
process with :func:`geomap.recipes.build_evidence` and then read once, block by block, by
:func:`geomap.pipeline.report.layer_summary` (so a lazy, chunked stack is really computed);
it is measured from outside: wall time and peak resident memory (the kernel's ``ru_maxrss``
of the child, from ``os.wait4``).  Inside the child the build and the read are timed apart.

Each child gets an empty download cache (``GEOMAP_CACHE_DIR``), so every stack verifies the
sha256 of the mirrored files it reads, as a first build does (``--warm-cache`` keeps the
user's cache and its recorded hashes).  Stacks above ``--in-memory-max-cells`` (default 4
million cells) are built on Dask chunks (``chunks="auto"``), smaller ones in memory;
``--chunks`` forces one or the other.

Writes ``benchmarks/results/recipe_stacks.json``: per stack the grid shape and cell count, the
chunking, the number and names of the evidence layers, wall / build / read seconds, peak RSS,
per layer its kind, min, max and % of cells with data, and the coverage layer (present, how
many cells have all layers, any layer, none).  ``--only RECIPE[/REGION]`` reruns some stacks
and merges them into the existing file.  Not part of the tests (it takes 10-20 minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "recipe_stacks.json"
JAPAN_RESOLUTION_M = 500.0
RESOLUTION_M = 1000.0
IN_MEMORY_MAX_CELLS = 4_000_000

_CHILD = r"""
import json, sys, time, warnings

import numpy as np

args = json.loads(sys.argv[1])
warnings.simplefilter("ignore")
from geomap.grid.blocks import iter_blocks
from geomap.pipeline.report import layer_summary
from geomap.recipes import build_evidence

start = time.perf_counter()
stack = build_evidence(
    args["recipe"], args["region"], args["resolution_m"], chunks=args["chunks"]
)
built = time.perf_counter() - start
summary = layer_summary(stack)  # one block-wise pass over every layer: computes a lazy stack
read = time.perf_counter() - built - start
evidence = [
    str(name) for name, layer in stack.data_vars.items()
    if layer.attrs.get("geomap_role") != "coverage"
]
coverage = stack.get("coverage")
cover = None
if coverage is not None:
    counts = np.zeros(len(evidence) + 1, dtype=np.int64)
    for block in iter_blocks([coverage]):
        values = np.asarray(block.values[0])
        counts += np.bincount(
            np.clip(values[np.isfinite(values)].astype(np.int64), 0, len(evidence)).ravel(),
            minlength=len(evidence) + 1,
        )
    total = int(counts.sum())
    cover = {
        "role": coverage.attrs.get("geomap_role"),
        "all_layers_pct": 100.0 * counts[-1] / total if total else 0.0,
        "any_layer_pct": 100.0 * counts[1:].sum() / total if total else 0.0,
        "no_layer_pct": 100.0 * counts[0] / total if total else 0.0,
        "cells_by_layer_count": [int(c) for c in counts],
    }
clean = lambda v: None if v is None or not np.isfinite(v) else float(v)
print(json.dumps({
    "shape": [int(stack.sizes["y"]), int(stack.sizes["x"])],
    "chunked": any(getattr(v.data, "dask", None) is not None for v in stack.data_vars.values()),
    "build_s": built,
    "read_s": read,
    "evidence_layers": evidence,
    "coverage": cover,
    "layers": [
        {
            "layer": row["layer"],
            "role": row["role"],
            "kind": row["kind"],
            "units": row["units"],
            "min": clean(row["min"]),
            "max": clean(row["max"]),
            "cells_with_data_pct": float(row["cells_with_data_pct"]),
        }
        for row in summary.to_dict("records")
    ],
}))
"""


def stacks() -> list[tuple[str, str, float]]:
    """Every (recipe, region) the shipped recipes declare, with its resolution."""
    from geomap.recipes import load_recipe, recipe_names

    out = []
    for name in recipe_names():
        for region in load_recipe(name).regions:
            out.append((name, region, JAPAN_RESOLUTION_M if region == "japan" else RESOLUTION_M))
    return out


def measure(
    recipe: str, region: str, resolution_m: float, chunks: Any, *, warm_cache: bool = False
) -> dict[str, Any]:
    """Build one stack in a child process; return its sizes, times, memory and layer table."""
    args = {"recipe": recipe, "region": region, "resolution_m": resolution_m, "chunks": chunks}
    with (
        tempfile.TemporaryFile("w+") as out,
        tempfile.TemporaryFile("w+") as err,
        tempfile.TemporaryDirectory(prefix="geomap-stack-cache-") as cache,
    ):
        env = dict(os.environ) if warm_cache else {**os.environ, "GEOMAP_CACHE_DIR": cache}
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, json.dumps(args)], stdout=out, stderr=err, env=env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        lines = out.read().strip().splitlines()
        if code != 0 or not lines:
            return {
                "recipe": recipe,
                "region": region,
                "resolution_m": resolution_m,
                "chunks": chunks,
                "error": f"exit {code}: {err.read()[-3000:]}",
                "wall_s": round(wall, 1),
            }
    child = json.loads(lines[-1])
    ny, nx = child["shape"]
    return {
        "recipe": recipe,
        "region": region,
        "resolution_m": resolution_m,
        "chunks": chunks,
        "download_cache": "user (warm)" if warm_cache else "empty (cold)",
        "chunked": child["chunked"],
        "shape": [ny, nx],
        "cells": ny * nx,
        "n_layers": len(child["evidence_layers"]),
        "evidence_layers": child["evidence_layers"],
        "coverage_layer": child["coverage"] is not None,
        "coverage": child["coverage"],
        "wall_s": round(wall, 1),
        "build_s": round(child["build_s"], 1),
        "read_s": round(child["read_s"], 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "layers": child["layers"],
    }


def _chunks_for(cells: int, forced: str | None, limit: int) -> str | None:
    if forced == "auto":
        return "auto"
    if forced == "none":
        return None
    return "auto" if cells > limit else None


def _cells(region: str, resolution_m: float) -> int:
    from geomap.catalog import load_catalog
    from geomap.grid import region_grid

    shape = region_grid(load_catalog().region(region), resolution_m).shape
    return int(shape[0] * shape[1])


def _key(row: dict[str, Any]) -> tuple[str, str, float]:
    return (row["recipe"], row["region"], float(row["resolution_m"]))


def main(argv: list[str] | None = None) -> int:
    """Build the stacks, print one line each, write the JSON; exit 1 if any failed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", help="RECIPE or RECIPE/REGION (repeatable)")
    parser.add_argument("--chunks", choices=["auto", "none"], help="force Dask or in-memory")
    parser.add_argument("--in-memory-max-cells", type=int, default=IN_MEMORY_MAX_CELLS)
    parser.add_argument("--resolution", type=float, help="override every resolution (smoke runs)")
    parser.add_argument(
        "--warm-cache", action="store_true", help="keep the user's download cache and hashes"
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    todo = stacks()
    if args.only:
        todo = [s for s in todo if any(o in (s[0], f"{s[0]}/{s[1]}") for o in args.only)]
    rows = []
    for recipe, region, resolution in todo:
        resolution = args.resolution or resolution
        chunks = _chunks_for(_cells(region, resolution), args.chunks, args.in_memory_max_cells)
        row = measure(recipe, region, resolution, chunks, warm_cache=args.warm_cache)
        rows.append(row)
        if "error" in row:
            print(f"{recipe:<22} {region:<16} FAILED {row['error'][-500:]}", flush=True)
            continue
        print(
            f"{recipe:<22} {region:<16} {resolution:>5.0f} m {row['cells'] / 1e6:6.2f} M cells "
            f"{row['n_layers']:>2} layers  chunks={chunks!s:<5} {row['wall_s']:7.1f} s  "
            f"peak {row['peak_rss_mb'] / 1024:5.2f} GiB  coverage layer: "
            f"{'yes' if row['coverage_layer'] else 'NO'}",
            flush=True,
        )
    if args.only and args.out.exists():  # merge into the earlier full run
        done = {_key(r) for r in rows}
        earlier = json.loads(args.out.read_text()).get("stacks", [])
        rows = [r for r in earlier if _key(r) not in done] + rows
        order = {(r, g): i for i, (r, g, _) in enumerate(stacks())}
        rows.sort(key=lambda r: order.get((r["recipe"], r["region"]), len(order)))
    payload = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "in_memory_max_cells": args.in_memory_max_cells,
        "stacks": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1, allow_nan=False) + "\n")
    print(f"wrote {args.out}")
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

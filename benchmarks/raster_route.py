"""How far ``read(raster, region=...)`` lands from the analysis grid's own reprojection.

For each real raster and region this compares, on the region's analysis grid
(``geomap.grid.region_grid``), cell by cell inside the region's box:

* ``direct``: ``to_region(raster, region, geobox=grid)`` (the region door onto the grid);
* ``read_then_grid``: ``reproject_to(to_region(raster, region, resolution=grid's), grid)``
  (what a user gets by reading with a region at the grid's resolution, then putting the layer
  on the grid: before the one route this resampled twice);
* ``read_default_then_grid``: the same with ``to_region``'s default resolution (about the
  source's): two resamplings by construction whenever the resolutions differ;

against ``reproject_to(raster, grid)`` (the one route, as recipes use it).  Cells outside the
region's box are left out: ``to_region`` clips to the box, ``reproject_to`` does not.

Run ``python -m benchmarks.raster_route --label before|after``; results go to
``benchmarks/results/raster_route.json`` (one entry per label).  Not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

CASES = [
    ("emag2-v2-1deg", None, "japan", 25_000),
    ("emag2-v2-1deg", None, "conus", 25_000),
    ("fatiando-earth-grids-10arcmin", "gravity", "japan", 10_000),
    ("fatiando-earth-grids-10arcmin", "gravity", "conus", 10_000),
    ("fatiando-earth-grids-10arcmin", "topography", "japan", 25_000),
]

RESULTS = Path(__file__).parent / "results" / "raster_route.json"


def _inside_box(grid: Any, region: Any) -> np.ndarray:
    """Cells of ``grid`` whose centre lies inside the region's lon/lat box."""
    from geomap.grid import transformer

    a = grid.affine
    xs = a.c + a.a * (np.arange(grid.shape.x) + 0.5)
    ys = a.f + a.e * (np.arange(grid.shape.y) + 0.5)
    xx, yy = np.meshgrid(xs, ys)
    lon, lat = transformer(grid.crs.to_wkt(), "EPSG:4326").transform(xx, yy)
    west, south, east, north = region.bbox
    if east < west:
        east += 360.0
    centre = (west + east) / 2.0
    lon = (np.asarray(lon) - centre + 180.0) % 360.0 + centre - 180.0
    return (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)


def compare(got: np.ndarray, ref: np.ndarray, inside: np.ndarray) -> dict[str, Any]:
    """Differences between two layers on one grid, inside the region box."""
    g, r = got[inside], ref[inside]
    both = np.isfinite(g) & np.isfinite(r)
    diff = np.abs(g[both].astype("float64") - r[both].astype("float64"))
    return {
        "cells_in_box": int(inside.sum()),
        "cells_both_with_data": int(both.sum()),
        "cells_data_presence_differs": int((np.isfinite(g) != np.isfinite(r)).sum()),
        "cells_equal": int((diff == 0).sum()),
        "median_abs_diff": float(np.median(diff)) if diff.size else 0.0,
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
    }


def run_case(dataset: str, layer: str | None, region_id: str, resolution: float) -> dict[str, Any]:
    """Measure one raster onto one region grid."""
    import geomap
    from geomap.catalog import load_catalog
    from geomap.grid import region_grid, reproject_to

    region = load_catalog().region(region_id)
    raster = geomap.read(dataset, layer=layer)
    grid = region_grid(region, resolution)
    inside = _inside_box(grid, region)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = reproject_to(raster, grid).to_numpy()
        direct = geomap.to_region(raster, region, geobox=grid).to_numpy()
        at_grid_resolution = geomap.to_region(raster, region, resolution=resolution)
        read_then_grid = reproject_to(at_grid_resolution, grid).to_numpy()
        in_region = geomap.to_region(raster, region)
        read_default_then_grid = reproject_to(in_region, grid).to_numpy()
    return {
        "dataset": dataset,
        "layer": layer,
        "region": region_id,
        "resolution_m": resolution,
        "read_with_region_resolution_m": float(abs(in_region.rio.resolution()[0])),
        "direct": compare(direct, reference, inside),
        "read_then_grid": compare(read_then_grid, reference, inside),
        "read_default_then_grid": compare(read_default_then_grid, reference, inside),
    }


def main(argv: list[str] | None = None) -> None:
    """Run every case and record it under ``--label``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True, help="e.g. before or after")
    args = parser.parse_args(argv)
    rows = [run_case(*case) for case in CASES]
    recorded = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    recorded[args.label] = rows
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(recorded, indent=1) + "\n")
    for row in rows:
        print(
            f"{row['dataset']}/{row['layer'] or '-'} -> {row['region']} {row['resolution_m']:g} m"
        )
        for key in ("direct", "read_then_grid", "read_default_then_grid"):
            print(f"  {key:22s} {row[key]}")


if __name__ == "__main__":
    main()

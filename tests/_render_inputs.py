"""Real-data inputs shared by the render, browser and export tests (computed once per run).

Rasters are real evidence layers built on the catalog regions' analysis grids at coarse
resolution (distance to GEM faults, kernel density of MinMod occurrences, their fuzzy
combination standing in for a model's prospectivity); vectors are read from the mirror.
The renderer and writers never compute science, so any real surface exercises them.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np


@functools.cache
def region_inputs(region: str, resolution_m: float) -> dict[str, Any]:
    import geomap
    from geomap.evidence import coverage, distance_to, fuzzy_small, point_density
    from geomap.grid import region_grid
    from geomap.targets import select_targets

    grid = region_grid(region, resolution_m)
    faults = geomap.read("gem-global-active-faults-2017", region=region)
    occurrences = geomap.read_occurrences("minmod-usgs-mrdata", region=region)
    distance = distance_to(faults, grid, cap_m=300_000)
    density = point_density(occurrences, grid, bandwidth_m=3 * resolution_m)
    near_fault = fuzzy_small(distance, midpoint=50_000)
    dens = density / float(density.max())
    prospectivity = (0.5 * near_fault + 0.5 * dens).astype("float32")
    prospectivity = prospectivity.rio.write_crs(grid.crs.to_wkt()).rio.write_nodata(np.nan)
    prospectivity.attrs = {
        "long_name": "Prospectivity (test surface)",
        "units": "score",
        "geomap_source": "gem-global-active-faults-2017,minmod-usgs-mrdata",
    }
    uncertainty = abs(near_fault - dens).astype("float32").rio.write_crs(grid.crs.to_wkt())
    uncertainty.attrs = {"long_name": "Uncertainty (test surface)", "units": "score"}
    cover = coverage([distance, density])
    targets = select_targets(
        prospectivity,
        top_percent=3,
        occurrences=occurrences,
        uncertainty=uncertainty,
        coverage=cover,
    )
    return {
        "grid": grid,
        "faults": faults,
        "occurrences": occurrences,
        "prospectivity": prospectivity,
        "uncertainty": uncertainty,
        "coverage": cover,
        "targets": targets,
    }

"""One up-front check of a build's size: cells, memory, disk and Dask blocks, before any work.

:func:`check_plan` computes the analysis grid's shape from the region's extent (arithmetic
only, nothing allocated) and refuses a build that cannot run, naming the resolution (or the
block size) that fits:

- fewer than :data:`MIN_SIDE_CELLS` cells along a side (e.g. ``--resolution 1e12``);
- in memory (no ``chunks``): more than the machine's memory for the evidence stack, the
  prediction and their working copies (``--resolution 1`` on Japan needs petabytes);
- on Dask blocks: more than the free space where the products are stored, or more than
  :data:`MAX_BLOCKS` blocks per layer (``--chunks 1`` would make millions of tasks);
- a recipe layer computed on a work grid (``at_resolution_m``) finer than memory allows;
- a random seed outside ``[0, 2**32 - 1]``.

Examples
--------
>>> from geomap.pipeline.plan import fitting_resolution
>>> fitting_resolution(6.5e12, 1e6)  # 6.5 million km² in at most a million cells
5000.0
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geomap.errors import ParameterError, RecipeError

__all__ = [
    "MAX_BLOCKS",
    "MIN_SIDE_CELLS",
    "BuildPlan",
    "check_plan",
    "check_seed",
    "fitting_resolution",
    "memory_limit",
]

MIN_SIDE_CELLS = 4
"""A grid needs at least this many cells along each side to be mapped and validated."""

MAX_BLOCKS = 10_000
"""At most this many Dask blocks per layer (more makes the scheduler, not the work, the cost)."""

BYTES_PER_LAYER_CELL = 8
"""Working bytes per cell and layer held in memory (a float32 value and one working copy)."""

EXTRA_LAYERS = 6
"""Grids a build holds besides the evidence: prospectivity, uncertainty, coverage, mask, ..."""

_NICE = (1.0, 2.0, 2.5, 5.0)


def memory_limit() -> int:
    """Return the bytes a build may hold in memory: ``$GEOMAP_MEMORY_LIMIT`` or physical RAM."""
    configured = os.environ.get("GEOMAP_MEMORY_LIMIT")
    if configured:
        try:
            return int(float(configured))
        except ValueError:
            raise ParameterError(
                f"GEOMAP_MEMORY_LIMIT={configured!r} is not a number of bytes; set it to e.g. "
                "8e9, or unset it to use the machine's memory"
            ) from None
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 * 2**30


def fitting_resolution(area_m2: float, max_cells: float) -> float:
    """Return the finest round cell size (1, 2, 2.5 or 5 x 10^k m) giving <= ``max_cells``."""
    raw = math.sqrt(area_m2 / max(max_cells, 1.0))
    exponent = math.floor(math.log10(raw)) if raw > 0 else 0
    for power in (exponent, exponent + 1):
        for mantissa in _NICE:
            candidate = mantissa * 10.0**power
            if candidate >= raw:
                return candidate
    return 10.0 ** (exponent + 2)


def _coarsest_resolution(width_m: float, height_m: float) -> float:
    """Return the coarsest 'round' cell size that still gives MIN_SIDE_CELLS along each side."""
    raw = min(width_m, height_m) / MIN_SIDE_CELLS
    exponent = math.floor(math.log10(raw))
    best = 10.0 ** (exponent - 1)
    for power in (exponent - 1, exponent):
        for mantissa in _NICE:
            candidate = mantissa * 10.0**power
            if candidate <= raw:
                best = candidate
    return best


def _size(nbytes: float) -> str:
    for unit, scale in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if nbytes >= scale:
            return f"{nbytes / scale:.3g} {unit}"
    return f"{nbytes / 1024:.3g} KiB"


def _free_space(folder: Path) -> int:
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        return shutil.disk_usage(existing).free
    except OSError:
        return 2**62


def check_seed(seed: Any) -> int:
    """Return ``seed`` as an int in ``[0, 2**32 - 1]`` (NumPy's seed range) or refuse it."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32:
        raise ParameterError(
            f"--seed {seed!r} must be a whole number from 0 to {2**32 - 1}; pass e.g. --seed 0"
        )
    return seed


@dataclass(frozen=True)
class BuildPlan:
    """The size of a build, as checked before it starts."""

    shape: tuple[int, int]
    cells: int
    memory_bytes: int
    storage_bytes: int
    blocks: int | None


def check_plan(
    recipe: Any,
    region: Any,
    resolution_m: float,
    *,
    chunks: Any = None,
    random_state: int = 0,
    store: Path | None = None,
) -> BuildPlan:
    """Refuse a build whose grid, memory, disk or task count cannot work, before any work.

    Parameters
    ----------
    recipe : Recipe
        The loaded recipe (its layers count, and their ``at_resolution_m``).
    region : Region
        The catalog region.
    resolution_m : float
        Cell size in metres.
    chunks : None, "auto", int or (int, int)
        Dask blocks (``None``: everything in memory).
    random_state : int
        The seed, checked too.
    store : Path, optional
        Where products are stored (the product cache), for the free-space check.

    Returns
    -------
    BuildPlan

    Raises
    ------
    ParameterError
        With the resolution or block size that fits named in the message.
    """
    from geomap.grid import region_grid, resolve_chunks

    check_seed(random_state)
    probe_m = 100_000.0
    probe = region_grid(region, probe_m)
    width_m, height_m = probe.shape.x * probe_m, probe.shape.y * probe_m
    area_m2 = width_m * height_m
    ny = max(math.ceil(height_m / resolution_m), 1)
    nx = max(math.ceil(width_m / resolution_m), 1)
    cells = ny * nx
    where = f"region {region.id!r}"
    if ny < MIN_SIDE_CELLS or nx < MIN_SIDE_CELLS:
        raise ParameterError(
            f"--resolution {resolution_m:g} gives only {ny} x {nx} cells over {where} "
            f"(at least {MIN_SIDE_CELLS} along each side are needed); use --resolution "
            f"{_coarsest_resolution(width_m, height_m):g} or finer"
        )
    layers = max(len(getattr(recipe, "evidence", []) or []), 1)
    per_cell = BYTES_PER_LAYER_CELL * (layers + EXTRA_LAYERS)
    memory = cells * per_cell
    storage = cells * 4 * (layers + EXTRA_LAYERS)
    limit = memory_limit()
    grid_text = f"--resolution {resolution_m:g} makes a {ny:,} x {nx:,} grid ({cells:,} cells)"
    blocks = None
    if chunks is None:
        if memory > limit:
            raise ParameterError(
                f"{grid_text} over {where}; held in memory that is about {_size(memory)}, "
                f"more than the {_size(limit)} available; use --resolution "
                f"{fitting_resolution(area_m2, limit / per_cell):g} or coarser, or pass "
                "--chunks auto (memory bounded by blocks)"
            )
    else:
        folder = store or Path(tempfile.gettempdir())
        free = _free_space(folder)
        if storage > free:
            raise ParameterError(
                f"{grid_text} over {where}; its products need about {_size(storage)} in "
                f"{folder}, which has {_size(free)} free; use --resolution "
                f"{fitting_resolution(area_m2, free / (4 * (layers + EXTRA_LAYERS))):g} "
                "or coarser, or free disk space (or set GEOMAP_PRODUCT_CACHE elsewhere)"
            )
        block = resolve_chunks(chunks, (ny, nx))
        assert block is not None
        blocks = math.ceil(ny / block[0]) * math.ceil(nx / block[1])
        if blocks > MAX_BLOCKS:
            side = math.ceil(math.sqrt(cells / MAX_BLOCKS))
            raise ParameterError(
                f"--chunks {chunks} splits the {ny:,} x {nx:,} grid into {blocks:,} blocks per "
                f"layer (at most {MAX_BLOCKS:,}: more blocks make millions of tasks); use "
                f"--chunks auto or a block side of at least {side}"
            )
    _check_work_grids(recipe, area_m2, limit)
    return BuildPlan((ny, nx), cells, memory, storage, blocks)


def _check_work_grids(recipe: Any, area_m2: float, limit: int) -> None:
    """Refuse a layer whose ``at_resolution_m`` work grid (always in memory) cannot fit."""
    per_cell = BYTES_PER_LAYER_CELL * 4  # source, result and two working copies
    for layer in getattr(recipe, "evidence", []) or []:
        value = (getattr(layer, "params", None) or {}).get("at_resolution_m")
        if value is None:
            continue
        try:
            work_m = float(value)
        except (TypeError, ValueError):
            continue  # the layer's own check names a non-number
        if not (math.isfinite(work_m) and work_m > 0):
            continue
        need = area_m2 / (work_m * work_m) * per_cell
        if need > limit:
            raise RecipeError(
                f"recipe {recipe.id!r}, layer {layer.name!r}: at_resolution_m: {value} makes a "
                f"work grid of about {area_m2 / work_m**2:,.0f} cells ({_size(need)} in "
                f"memory, more than the {_size(limit)} available); set at_resolution_m to "
                f"{fitting_resolution(area_m2, limit / per_cell):g} or more"
            )


def check_named_plan(
    recipe: Any,
    settings: Any,
    *,
    chunks: Any = None,
    random_state: int = 0,
    store: Path | None = None,
) -> BuildPlan:
    """Run :func:`check_plan` for a recipe name (or path) and a run's settings (CLI commands).

    The region is ``settings.region`` (default: the recipe's first) and the resolution
    ``settings.resolution_for(region)``.

    Raises
    ------
    ParameterError
        As :func:`check_plan`.
    """
    from geomap.catalog import load_catalog
    from geomap.recipes import load_recipe

    catalog = load_catalog()
    loaded = load_recipe(recipe, catalog=catalog) if not hasattr(recipe, "evidence") else recipe
    region = catalog.region(settings.region or loaded.regions[0])
    return check_plan(
        loaded,
        region,
        settings.resolution_for(region),
        chunks=chunks,
        random_state=random_state,
        store=store,
    )

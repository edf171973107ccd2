"""Command-line options defined once, shared by every command (as rasterio's ``rio/options.py``).

Each option is an ``Annotated`` type: a command declares ``region: options.Region = None``
and gets the same flag, help and parsing everywhere.  Options map one to one onto the fields
of :class:`geomap.pipeline.settings.BuildSettings`; :func:`settings` turns a command's values
into one.  A new option is one entry here and one field there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from geomap.pipeline.settings import BuildSettings

__all__ = [
    "DEFAULTS",
    "BlockSize",
    "Chunks",
    "Folds",
    "MaxCells",
    "MaxTarget",
    "MinArea",
    "ModelName",
    "NoCache",
    "OutFolder",
    "Overwrite",
    "Recipe",
    "Region",
    "Resolution",
    "Scheduler",
    "Seed",
    "TestRegion",
    "Threshold",
    "TopPercent",
    "parse_chunks_option",
    "settings",
]

MODEL_CHOICES = "wofe|fuzzy|weighted|logistic|rf|gbm"

DEFAULTS = BuildSettings()
"""The one set of defaults; commands use e.g. ``folds: Folds = DEFAULTS.n_splits``."""


def parse_chunks_option(value: str | None) -> Any:
    """Parse ``--chunks``: ``None``, ``"auto"`` or a positive whole number of cells.

    Raises
    ------
    typer.BadParameter
        Anything else (exit status 2, before any work), naming the value and the fix.
    """
    from geomap.errors import ParameterError
    from geomap.pipeline.settings import parse_chunks

    try:
        return parse_chunks(value)
    except ParameterError:  # short enough for one line of the 80-column error box
        raise typer.BadParameter(
            "use 'auto' or a positive whole number", param_hint=f"--chunks {value!r}"
        ) from None


Recipe = Annotated[str, typer.Argument(help="Recipe name from layers/ or a YAML path.")]
"""The recipe argument: a name from ``layers/`` or a YAML path."""
Region = Annotated[
    str | None, typer.Option("--region", "-r", help="Region id (default: the recipe's first).")
]
"""``--region/-r``: a region the recipe supports (default: its first)."""
Resolution = Annotated[
    float | None,
    typer.Option("--resolution", help="Cell size in metres (default: ~150k cells)."),
]
"""``--resolution``: cell size in metres (default: automatic, ~150,000 cells)."""
ModelName = Annotated[
    str | None,
    typer.Option("--model", "-m", help=f"{MODEL_CHOICES} (default: the recipe's)."),
]
"""``--model/-m``: the model's short name (default: the recipe's)."""
Chunks = Annotated[
    str | None,
    typer.Option(
        "--chunks",
        help="Dask chunks: 'auto' (2048-cell blocks) or a block size in cells; memory is "
        "bounded by the blocks, not the grid.",
        callback=parse_chunks_option,
    ),
]
"""``--chunks``: Dask blocks, ``auto`` or a whole number of cells (parsed here, once)."""
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler", help="'local', 'local:N' (N worker processes) or a Dask scheduler address."
    ),
]
"""``--scheduler``: ``local``, ``local:N`` or a Dask scheduler address."""
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Replace an existing output.")]
"""``--overwrite``: replace an existing output."""
NoCache = Annotated[bool, typer.Option("--no-cache", help="Recompute every product.")]
"""``--no-cache``: recompute every product."""
Seed = Annotated[int, typer.Option("--seed", help="Random seed.")]
"""``--seed``: the random seed of every random choice."""
TopPercent = Annotated[
    float | None,
    typer.Option("--top-percent", help="Targets: top X % of the area (default 2)."),
]
"""``--top-percent``: targets are the top X % of the area."""
Threshold = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        help="Targets: every cell with prospectivity >= P, in (0, 1) (instead of --top-percent).",
    ),
]
"""``--threshold``: targets are the cells with prospectivity >= P."""
MinArea = Annotated[
    float | None, typer.Option("--min-area", help="Targets: drop targets smaller than this (km²).")
]
"""``--min-area``: drop targets smaller than this (km²)."""
MaxTarget = Annotated[
    float | None,
    typer.Option(
        "--max-target-km2",
        help="Targets: cut targets larger than this into compact pieces (km², default 300; "
        "never below 4 cells).",
    ),
]
"""``--max-target-km2``: split larger targets into survey-sized tiles (km²)."""
MaxTargets = Annotated[
    int | None,
    typer.Option(
        "--max-targets",
        help="Targets: list the best N (default 100); the report counts the rest.",
    ),
]
"""``--max-targets``: list the best N targets; the rest are counted."""
Mode = Annotated[
    str | None,
    typer.Option(
        "--mode",
        help="greenfield (evidence layers only) or brownfield (adds distance to the known "
        "occurrences, recomputed per validation fold); default: the recipe's, else greenfield.",
    ),
]
"""``--mode``: greenfield or brownfield exploration (:data:`geomap.pipeline.settings.MODES`)."""
BlockSize = Annotated[
    float | None,
    typer.Option(
        "--block-size", help="Spatial-CV block side in metres (default max(50 km, 5 cells))."
    ),
]
"""``--block-size``: spatial-CV block side in metres."""
Folds = Annotated[int, typer.Option("--folds", help="Spatial-CV folds.")]
"""``--folds``: spatial-CV folds."""
TestRegion = Annotated[
    list[str] | None,
    typer.Option("--test-region", help="Also train here and test there (repeatable)."),
]
"""``--test-region``: region hold-out, repeatable."""
MaxCells = Annotated[
    int | None, typer.Option("--max-cells", help="Seeded cell sample above this size.")
]
"""``--max-cells``: above this many cells, fit on a seeded sample."""
OutFolder = Annotated[Path, typer.Option("--out", "-o", help="Output folder (created).")]
"""``--out/-o``: a required output folder."""


def settings(**values: Any) -> BuildSettings:
    """Return the :class:`~geomap.pipeline.settings.BuildSettings` of a command's options.

    ``values`` use the settings' field names (``resolution_m``, ``random_state``, ...); options
    left at ``None`` keep the settings' defaults, so the defaults live in one place.
    """
    return BuildSettings.from_options(**{k: v for k, v in values.items() if v is not None})

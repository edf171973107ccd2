"""``geomap model``: fit, validate and map one recipe's prospectivity model in one region."""

from __future__ import annotations

import typer

from geomap.cli._app import app
from geomap.cli.options import (
    DEFAULTS,
    BlockSize,
    Chunks,
    Folds,
    MaxCells,
    Mode,
    ModelName,
    OutFolder,
    Overwrite,
    Recipe,
    Region,
    Resolution,
    Seed,
    TestRegion,
    settings,
)


@app.command("model")
def model(
    recipe: Recipe,
    out: OutFolder,
    region: Region = None,
    model_name: ModelName = None,
    mode: Mode = None,
    resolution: Resolution = None,
    block_size: BlockSize = None,
    folds: Folds = DEFAULTS.n_splits,
    test_region: TestRegion = None,
    max_cells: MaxCells = DEFAULTS.max_cells,
    chunks: Chunks = None,
    seed: Seed = DEFAULTS.random_state,
    overwrite: Overwrite = False,
) -> None:
    """Fit, validate (spatial block CV) and map a recipe's prospectivity model."""
    from geomap.core.atomic import atomic_dir
    from geomap.core.output_guard import check_output_path, check_replaceable
    from geomap.pipeline.model_stage import model_region
    from geomap.pipeline.outputs import write_model_outputs
    from geomap.pipeline.plan import check_named_plan

    check_replaceable(check_output_path(out), overwrite=overwrite)  # before the computation
    run = settings(
        region=region,
        model=model_name,
        mode=mode,
        resolution_m=resolution,
        block_size_m=block_size,
        n_splits=folds,
        test_regions=tuple(test_region or ()),
        max_cells=max_cells,
        chunks=chunks,
        random_state=seed,
    )
    check_named_plan(recipe, run, chunks=run.chunks, random_state=run.random_state)
    result = model_region(recipe, settings=run)
    with atomic_dir(out, overwrite=overwrite) as folder:
        written = write_model_outputs(result, folder)
    typer.echo(f"mode: {result.settings['mode']}")
    typer.echo(result.validation.summary())
    for report in result.transfer:
        typer.echo(report.summary())
    for reason in result.diagnostics()["weak_result_reasons"]:
        typer.echo(f"  caveat: {reason}")
    typer.echo(f"wrote {out}: {', '.join(written)}")

"""``geomap evidence``: build a recipe's evidence stack and write it as COGs and quick-looks."""

from __future__ import annotations

from typing import Annotated

import typer

from geomap.cli._app import app
from geomap.cli.options import Chunks, OutFolder, Recipe, Region, Resolution, settings


@app.command("evidence")
def evidence(
    recipe: Recipe,
    out: OutFolder,
    region: Region = None,
    resolution: Resolution = None,
    chunks: Chunks = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing output folder.")
    ] = False,
    no_png: Annotated[bool, typer.Option("--no-png", help="Skip the PNG quick-looks.")] = False,
    end_use: Annotated[
        str | None,
        typer.Option(
            "--end-use",
            help="Geochemistry layers for one supply chain (magnets, batteries, ...; 'all').",
        ),
    ] = None,
) -> None:
    """Write each evidence layer (and coverage) as a COG and a PNG; print a summary table."""
    from geomap.catalog import load_catalog
    from geomap.core.output_guard import check_output_path, check_replaceable
    from geomap.export.evidence import format_summary, write_evidence
    from geomap.pipeline.plan import check_plan
    from geomap.recipes import build_evidence, load_recipe

    check_replaceable(check_output_path(out), overwrite=overwrite)  # before the build
    run = settings(region=region, resolution_m=resolution, chunks=chunks)
    catalog = load_catalog()
    loaded = load_recipe(recipe, catalog=catalog, end_use=end_use)
    region_id = run.region or loaded.regions[0]
    resolution_m = run.resolution_for(catalog.region(region_id))
    check_plan(loaded, catalog.region(region_id), resolution_m, chunks=run.chunks)
    stack = build_evidence(loaded, region_id, resolution_m, chunks=run.chunks, catalog=catalog)
    rows = write_evidence(stack, out, overwrite=overwrite, quicklook=not no_png)
    typer.echo(stack.attrs.get("title", ""))
    typer.echo(format_summary(rows))
    typer.echo(f"wrote {len(rows)} layers to {out}")

"""``geomap sources RECIPE --region R``: what each layer uses now and what a download would add."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geomap.cli._app import app


@app.command("sources")
def sources(
    recipe: Annotated[str, typer.Argument(help="Recipe name (layers/) or YAML file.")],
    region: Annotated[
        str | None, typer.Option("--region", "-r", help="Region (default: the recipe's first).")
    ] = None,
    catalog: Annotated[
        Path | None, typer.Option("--catalog", help="Catalog file (default: data_catalog.yaml).")
    ] = None,
) -> None:
    """Show per evidence layer which source a build uses now and what fetching would add."""
    from geomap.catalog import load_catalog
    from geomap.recipes import load_recipe
    from geomap.sources import format_overview, source_overview

    cat = load_catalog(catalog)
    loaded = load_recipe(recipe, catalog=cat)
    region_id = region or loaded.regions[0]
    typer.echo(
        format_overview(source_overview(loaded, region_id, catalog=cat), loaded.id, region_id)
    )

"""``geomap evidence``: build a recipe's evidence stack and write it as COGs and quick-looks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geomap.cli._app import app


@app.command("evidence")
def evidence(
    recipe: Annotated[str, typer.Argument(help="Recipe name from layers/ or a YAML path.")],
    region: Annotated[str, typer.Option("--region", "-r", help="Catalog region id.")],
    resolution: Annotated[
        float, typer.Option("--resolution", help="Cell size in metres, e.g. 1000.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created).")],
    chunks: Annotated[
        str | None,
        typer.Option("--chunks", help="Build on Dask blocks: 'auto' or a block side N."),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing output folder.")
    ] = False,
    no_png: Annotated[bool, typer.Option("--no-png", help="Skip the PNG quick-looks.")] = False,
) -> None:
    """Write each evidence layer (and coverage) as a COG and a PNG; print a summary table."""
    from geomap.errors import OutputExistsError, ParameterError
    from geomap.export.evidence import format_summary, write_evidence
    from geomap.recipes import build_evidence

    if out.exists() and not overwrite:  # fail before the build, not after it
        raise OutputExistsError(f"{out} already exists; pass --overwrite to replace it")
    block: str | int | None = chunks
    if chunks is not None and chunks != "auto":
        try:
            block = int(chunks)
        except ValueError:
            raise ParameterError(
                f"--chunks {chunks!r}: use 'auto' or a block side such as 1024"
            ) from None
    stack = build_evidence(recipe, region, resolution, chunks=block)  # type: ignore[arg-type]
    rows = write_evidence(stack, out, overwrite=overwrite, quicklook=not no_png)
    typer.echo(stack.attrs.get("title", ""))
    typer.echo(format_summary(rows))
    typer.echo(f"wrote {len(rows)} layers to {out}")

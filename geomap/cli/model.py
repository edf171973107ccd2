"""``geomap model``: fit, validate and map one recipe's prospectivity model in one region."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from geomap.cli._app import app

_MODELS = "wofe|fuzzy|weighted|logistic|rf|gbm"


def write_model_outputs(result: Any, folder: Path) -> list[str]:
    """Write a :class:`~geomap.pipeline.ModelResult` into ``folder``; return the file names.

    ``prospectivity.tif``, ``uncertainty.tif``, ``coverage.tif`` (COGs), ``weights.csv``
    (weights of evidence) or ``importance.csv``, ``validation_curves.png`` (and
    ``transfer_<train>_to_<test>.png`` per region hold-out), ``metrics.json`` (AUCs, capture
    table, diagnostics) and ``validation.json`` (every curve).
    """
    from geomap.core.atomic import atomic_path
    from geomap.core.provenance import source_ids
    from geomap.export.cog import write_cog
    from geomap.render.figures import plot_validation_curves

    written = []
    tags = {"geomap_recipe": result.recipe, "geomap_region": result.region}
    for name in ("prospectivity", "uncertainty", "coverage"):
        write_cog(result.prediction[name], folder / f"{name}.tif", tags=tags)
        written.append(f"{name}.tif")
    table_name = "weights.csv" if result.model_name == "wofe" else "importance.csv"
    with atomic_path(folder / table_name) as tmp:
        result.model_table().to_csv(tmp, index=False)
    written.append(table_name)
    title = f"{result.recipe} · {result.region} · {result.model_name} (spatial block CV)"
    datasets = source_ids(result.prediction["prospectivity"])  # evidence and training data
    plot_validation_curves(
        result.validation, folder / "validation_curves.png", title=title, datasets=datasets
    )
    written.append("validation_curves.png")
    for report in result.transfer:
        png = f"transfer_{report.train_region}_to_{report.test_region}.png"
        plot_validation_curves(
            report,
            folder / png,
            title=f"{result.recipe} · trained on {report.train_region}, "
            f"tested on {report.test_region}",
            datasets=datasets,
        )
        written.append(png)
    payload = {
        "spatial_cv": result.validation.to_dict(),
        "region_held_out": [r.to_dict() for r in result.transfer],
    }
    for name, content in (
        ("metrics.json", result.metrics()),
        ("validation.json", payload),
    ):
        with atomic_path(folder / name) as tmp:
            tmp.write_text(json.dumps(content, indent=1, allow_nan=False) + "\n", "utf-8")
        written.append(name)
    return written


@app.command("model")
def model(
    recipe: Annotated[str, typer.Argument(help="Recipe name from layers/ or a YAML path.")],
    region: Annotated[str, typer.Option("--region", "-r", help="Region id.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder (created).")],
    model_name: Annotated[
        str | None, typer.Option("--model", "-m", help=f"{_MODELS} (default: the recipe's).")
    ] = None,
    resolution: Annotated[
        float, typer.Option("--resolution", help="Cell size in metres.")
    ] = 10_000.0,
    block_size: Annotated[
        float | None,
        typer.Option("--block-size", help="Spatial-CV block side in metres (default 50 km)."),
    ] = None,
    folds: Annotated[int, typer.Option("--folds", help="Spatial-CV folds.")] = 5,
    test_region: Annotated[
        list[str] | None,
        typer.Option("--test-region", help="Also train here and test there (repeatable)."),
    ] = None,
    max_cells: Annotated[
        int, typer.Option("--max-cells", help="Seeded cell sample above this size.")
    ] = 2_000_000,
    chunks: Annotated[
        str | None, typer.Option("--chunks", help="Dask chunks: auto or a size in cells.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing output folder.")
    ] = False,
) -> None:
    """Fit, validate (spatial block CV) and map a recipe's prospectivity model."""
    from geomap.core.atomic import atomic_dir
    from geomap.errors import OutputExistsError
    from geomap.pipeline.model_stage import model_region

    if out.exists() and not overwrite:  # before the long computation, not after
        raise OutputExistsError(f"{out} already exists; pass --overwrite to replace it")
    result = model_region(
        recipe,
        region,
        model=model_name,
        resolution_m=resolution,
        block_size_m=block_size,
        n_splits=folds,
        test_regions=tuple(test_region or ()),
        max_cells=max_cells,
        chunks=None if chunks is None else (chunks if chunks == "auto" else int(chunks)),
        random_state=seed,
    )
    with atomic_dir(out, overwrite=overwrite) as folder:
        written = write_model_outputs(result, folder)
    typer.echo(result.validation.summary())
    for report in result.transfer:
        typer.echo(report.summary())
    for reason in result.diagnostics()["weak_result_reasons"]:
        typer.echo(f"  caveat: {reason}")
    typer.echo(f"wrote {out}: {', '.join(written)}")

"""``geomap build``, ``targets``, ``map``, ``export`` and ``packet``: the end-to-end job."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from geomap.cli._app import app
from geomap.cli.options import (
    DEFAULTS,
    Chunks,
    MaxTarget,
    MaxTargets,
    MinArea,
    Mode,
    ModelName,
    NoCache,
    Overwrite,
    Recipe,
    Region,
    Resolution,
    Scheduler,
    Seed,
    Threshold,
    TopPercent,
    settings,
)

EndUse = Annotated[
    str | None,
    typer.Option(
        "--end-use",
        help="Geochemistry layers for one supply chain: magnets, batteries, optical_electronic, "
        "alloys, flame_retardants, ... ('all' = every layer; default: the recipe's).",
    ),
]


def _with_end_use(recipe: Any, end_use: str | None) -> Any:
    """Return the recipe as given, or the recipe cut to an end use's element sets."""
    if end_use is None:
        return recipe
    from geomap.recipes import Recipe as LoadedRecipe
    from geomap.recipes import load_recipe, select_end_use

    if isinstance(recipe, LoadedRecipe):  # already loaded (with the user's own files)
        return select_end_use(recipe, end_use)
    return load_recipe(recipe, end_use=end_use)


@app.command("build")
def build(
    recipe: Recipe,
    region: Region = None,
    resolution: Resolution = None,
    model: ModelName = None,
    mode: Mode = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Output folder (default geomap-out/RECIPE-REGION)."),
    ] = None,
    overwrite: Overwrite = False,
    top_percent: TopPercent = None,
    threshold: Threshold = None,
    min_area: MinArea = None,
    max_target_km2: MaxTarget = None,
    max_targets: MaxTargets = None,
    chunks: Chunks = None,
    scheduler: Scheduler = None,
    seed: Seed = DEFAULTS.random_state,
    no_cache: NoCache = False,
    evidence: Annotated[
        list[str] | None,
        typer.Option(
            "--evidence",
            help="NAME=PATH: add your own raster (continuous layer) or vector file (distance "
            "layer); repeatable.",
        ),
    ] = None,
    sites: Annotated[
        Path | None,
        typer.Option("--sites", help="Your own training sites (CSV or point file)."),
    ] = None,
    sites_crs: Annotated[
        str | None,
        typer.Option("--sites-crs", help="CRS of a sites CSV's coordinates, e.g. EPSG:4326."),
    ] = None,
    end_use: EndUse = None,
) -> None:
    """Run a recipe end to end: map.html, RECIPE.gpkg, COGs, figures, metrics.json, report.md."""
    from geomap.pipeline.runner import build as run_build
    from geomap.pipeline.runner import summary_lines

    if evidence or sites is not None:
        recipe = _with_user_data(recipe, evidence or [], sites, sites_crs)
    run = settings(
        region=region,
        resolution_m=resolution,
        model=model,
        mode=mode,
        top_percent=top_percent,
        threshold=threshold,
        min_area_km2=min_area,
        max_target_km2=max_target_km2,
        max_targets=max_targets,
        chunks=chunks,
        scheduler=scheduler,
        random_state=seed,
        use_cache=not no_cache,
    )
    result = run_build(_with_end_use(recipe, end_use), run, out=out, overwrite=overwrite)
    typer.echo("\n".join(summary_lines(result)))


def _with_user_data(
    recipe: str, evidence: list[str], sites: Path | None, sites_crs: str | None
) -> Any:
    from geomap.recipes import with_user_data

    files = {}
    for item in evidence:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise typer.BadParameter(
                f"--evidence {item!r}: write NAME=PATH, e.g. my_faults=faults.gpkg"
            )
        files[name.strip()] = path.strip()
    return with_user_data(recipe, evidence=files, sites=sites, sites_crs=sites_crs)


@app.command("targets")
def targets(
    recipe: Recipe,
    region: Region = None,
    resolution: Resolution = None,
    model: ModelName = None,
    mode: Mode = None,
    top_percent: TopPercent = None,
    threshold: Threshold = None,
    min_area: MinArea = None,
    max_target_km2: MaxTarget = None,
    max_targets: MaxTargets = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="table, csv or geojson.")
    ] = "table",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of stdout.")
    ] = None,
    chunks: Chunks = None,
) -> None:
    """Rank survey-planning target areas for a recipe (from the build cache when possible)."""
    from geomap.core.atomic import atomic_path
    from geomap.core.safe_text import terminal_text, write_csv
    from geomap.pipeline.runner import run_stages

    if output_format not in ("table", "csv", "geojson"):
        raise typer.BadParameter(f"--format {output_format!r}: use table, csv or geojson")
    run = settings(
        region=region,
        resolution_m=resolution,
        model=model,
        mode=mode,
        top_percent=top_percent,
        threshold=threshold,
        min_area_km2=min_area,
        max_target_km2=max_target_km2,
        max_targets=max_targets,
        chunks=chunks,
    )
    if out is not None:  # before the work
        from geomap.core.output_guard import check_output_path
        from geomap.errors import OutputExistsError

        check_output_path(out)
        if out.is_dir():
            raise OutputExistsError(f"--out {out} is a folder; pass a file name, e.g. targets.csv")
    state = run_stages(recipe, run)
    frame = state.layers.targets
    if output_format == "geojson":
        text = frame.to_crs("EPSG:4326").to_json(drop_id=True)
    else:
        plain = frame.drop(columns="geometry")
        text = (
            str(write_csv(plain, float_format="%.6g", lineterminator="\n"))
            if output_format == "csv"
            else plain[
                [
                    "rank",
                    "area_km2",
                    "mean_prospectivity",
                    "n_occurrences",
                    "nearest_occurrence",
                    "state",
                ]
            ].to_string(index=False)
        )
        if output_format == "table":
            text = terminal_text(text)
    if out is None:
        typer.echo(text)
        return
    with atomic_path(out) as tmp:
        tmp.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {len(frame)} targets to {out}")


def _write_parts(
    recipe: str,
    region: str | None,
    resolution: float | None,
    model: str | None,
    out: Path,
    overwrite: bool,
    parts: frozenset[str],
    chunks: Any = None,
) -> list[Path]:
    from geomap.core.output_guard import check_output_path
    from geomap.errors import OutputExistsError
    from geomap.pipeline.runner import run_stages, write_outputs

    check_output_path(out)
    if out.exists() and not out.is_dir():
        raise OutputExistsError(f"--out {out} is a file, not a folder; choose a folder for --out")
    run = settings(region=region, resolution_m=resolution, model=model, chunks=chunks)
    state = run_stages(recipe, run)
    out.mkdir(parents=True, exist_ok=True)
    # written in a scratch folder inside `out`, then each file renamed into place
    with tempfile.TemporaryDirectory(dir=out, prefix=".geomap-") as scratch:
        files = write_outputs(state, Path(scratch), parts=parts)
        moved = []
        for path in files.values():
            final = out / path.relative_to(scratch)
            if final.is_dir() or (final.exists() and not final.is_file()):
                raise OutputExistsError(
                    f"{final} is a folder or special file, which --overwrite never replaces; "
                    "move it away or choose another --out"
                )
            if final.exists() and not overwrite:
                raise OutputExistsError(f"{final} already exists; pass --overwrite to replace it")
        for path in files.values():
            final = out / path.relative_to(scratch)
            final.parent.mkdir(parents=True, exist_ok=True)
            path.replace(final)
            moved.append(final)
    return moved


@app.command("map")
def map_command(
    recipe: Recipe,
    region: Region = None,
    resolution: Resolution = None,
    model: ModelName = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for map.html.")] = Path("."),
    overwrite: Overwrite = False,
    chunks: Chunks = None,
) -> None:
    """Write the offline interactive map (map.html) of a recipe's results."""
    for path in _write_parts(
        recipe, region, resolution, model, out, overwrite, frozenset({"map"}), chunks
    ):
        typer.echo(str(path))


@app.command("export")
def export(
    recipe: Recipe,
    region: Region = None,
    output_format: Annotated[
        list[str],
        typer.Option("--format", "-f", help="gpkg, cog, png, tables, gpx or kml (repeatable)."),
    ] = ["gpkg"],  # noqa: B006 - typer needs a list default
    resolution: Resolution = None,
    model: ModelName = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("."),
    overwrite: Overwrite = False,
    chunks: Chunks = None,
) -> None:
    """Export results: styled GeoPackage (+ QGIS project), COGs, PNGs, tables, GPX or KML."""
    allowed = {"gpkg", "cog", "png", "tables", "gpx", "kml"}
    unknown = set(output_format) - allowed
    if unknown:
        raise typer.BadParameter(f"--format {sorted(unknown)}: use {', '.join(sorted(allowed))}")
    for path in _write_parts(
        recipe, region, resolution, model, out, overwrite, frozenset(output_format), chunks
    ):
        typer.echo(str(path))


@app.command("packet")
def packet(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path(
        "geomap-packet"
    ),
    overwrite: Overwrite = False,
    pair: Annotated[
        list[str] | None,
        typer.Option(
            "--build",
            "-b",
            help="RECIPE:REGION to include (repeatable; default US REE + Japan VMS).",
        ),
    ] = None,
) -> None:
    """Build the joint planning packet: one map and one GeoPackage, regions side by side."""
    from geomap.pipeline.packet import DEFAULT_PACKET, build_packet

    builds = DEFAULT_PACKET
    if pair:
        parsed = [tuple(p.split(":", 1)) for p in pair]
        if any(len(p) != 2 for p in parsed):
            raise typer.BadParameter("--build takes RECIPE:REGION, e.g. kuroko-vms:japan")
        builds = tuple((str(r), str(g)) for r, g in parsed)
    result = build_packet(builds, out=out, overwrite=overwrite)
    from geomap.core.safe_text import terminal_text

    typer.echo(terminal_text(result.summary.to_string(index=False)))
    typer.echo(f"\npacket written to {result.out}: " + ", ".join(sorted(result.files)))

"""``geomap ingest``: read one catalog dataset (optionally into a region) and write it out."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geomap.cli._app import app


@app.command("ingest")
def ingest(
    dataset_id: Annotated[str, typer.Argument(help="Catalog dataset id.")],
    region: Annotated[
        str | None, typer.Option("--region", "-r", help="Reproject and clip to this region.")
    ] = None,
    layer: Annotated[str | None, typer.Option("--layer", "-l", help="Layer to read.")] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Output file (default <id>[-<layer>][-<region>].parquet or .tif)."
        ),
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option(
            "--option", help="Reader option KEY=VALUE (YAML value), e.g. grid=true; repeatable."
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing output file.")
    ] = False,
) -> None:
    """Read a dataset, write GeoParquet (vectors/tables) or a COG (rasters), print the report."""
    import json

    import yaml

    from geomap.core.atomic import atomic_path
    from geomap.errors import DataError
    from geomap.io import read

    if out is not None:  # before the (possibly long) read
        _refuse_existing(out, overwrite)
    options = {}
    for item in option or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise DataError(f"--option {item!r} is not KEY=VALUE; e.g. --option grid=true")
        options[key.strip()] = yaml.safe_load(value)
    result = read(dataset_id, region, layer=layer, **options)
    is_raster = hasattr(result, "dims") and hasattr(result, "rio")
    if out is None:
        stem = "-".join(part for part in (dataset_id, layer, region) if part)
        out = Path(f"{stem}.tif" if is_raster else f"{stem}.parquet")
        _refuse_existing(out, overwrite)
    report = result.attrs.get("geomap_report", {})
    if is_raster:
        from geomap.export.cog import write_cog

        tags = {"geomap_report": json.dumps(report, ensure_ascii=False)}
        if "geomap_crs_operation" in result.attrs:
            tags["geomap_crs_operation"] = json.dumps(result.attrs["geomap_crs_operation"])
        write_cog(result, out, tags=tags)
    else:
        with atomic_path(out) as tmp:
            result.to_parquet(tmp)
    from geomap.core.report import IngestReport

    summary = IngestReport(
        dataset_id=report.get("dataset_id", dataset_id),
        records_in=report.get("records_in", 0),
        records_out=report.get("records_out", 0),
    )
    for section in ("normalized", "repaired", "dropped", "unmapped"):
        getattr(summary, section).update(report.get(section, {}))
    summary.notes.extend(report.get("notes", []))
    typer.echo(summary.summary())
    typer.echo(f"wrote {out}")


def _refuse_existing(out: Path, overwrite: bool) -> None:
    from geomap.core.output_guard import check_output_path
    from geomap.errors import OutputExistsError

    check_output_path(out)
    if out.is_dir() or (out.exists() and not out.is_file()):
        raise OutputExistsError(
            f"{out} is a folder or a special file, which --overwrite never replaces; "
            "choose a file name for --out, e.g. --out data.parquet"
        )
    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} already exists; pass --overwrite to replace it")

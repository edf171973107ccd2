"""``geomap occurrences``: list harmonized mineral occurrences by commodity, end use and region."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from geomap.cli._app import app

_TABLE_COLUMNS = ["site_id", "name", "country", "state", "commodities", "deposit_class", "sources"]


@app.command("occurrences")
def occurrences(
    commodity: Annotated[
        str | None,
        typer.Option(
            "--commodity", "-c", help="Code, name or group: REE, Li, tungsten, HREE, PGE."
        ),
    ] = None,
    end_use: Annotated[
        str | None, typer.Option("--end-use", help="Supply chain: magnets, batteries, catalysts...")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", "-r", help="Catalog region id.")] = None,
    country: Annotated[
        str | None, typer.Option("--country", help="ISO3 code(s), comma-separated: USA,JPN.")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Dataset id(s), comma-separated (default all).")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", "-f", help="table, csv or geojson.")
    ] = "table",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here, not stdout.")] = None,
    no_dedup: Annotated[
        bool, typer.Option("--no-dedup", help="Keep duplicates across compilations.")
    ] = False,
    neighbours: Annotated[
        bool,
        typer.Option(
            "--neighbours",
            help="With --region: also list sites of other countries inside the region's box.",
        ),
    ] = False,
) -> None:
    """List occurrences (one row per site, duplicates across compilations merged).

    ``--region`` lists the sites of the region's own countries (Japan: JPN, not the Korean
    and Chinese sites inside its box) unless ``--country`` or ``--neighbours`` is given.
    """
    import sys

    from geomap.core.atomic import atomic_path
    from geomap.errors import ParameterError
    from geomap.io.occurrences import cached_answer, derived_answer, read_occurrences

    if output_format not in ("table", "csv", "geojson"):
        raise ParameterError(f"--format {output_format!r}: use table, csv or geojson")
    if region is not None and country is None and not neighbours:
        from geomap.catalog import load_catalog

        country = ",".join(load_catalog().region(region).countries)
    query: dict[str, Any] = {
        "region": region,
        "country": country,
        "commodities": commodity,
        "end_use": end_use,
        "deduplicate": not no_dedup,
    }
    # a query answered before (its kept answer), or a commodity / end-use selection of an
    # area listed before (rows of the area's kept answer): read with pyarrow and pandas
    kept = cached_answer(dataset, **query)
    if kept is None:
        kept = derived_answer(dataset, **query)
    if kept is not None:
        columns, lon, lat = kept
        table = _with_lon_lat(columns, lon, lat)
        if output_format == "geojson":  # geopandas for writing GeoJSON only
            import geopandas as gpd

            frame = gpd.GeoDataFrame(
                columns, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326"
            )
    else:
        frame = read_occurrences(dataset, **query, to_crs=False)
        table = frame.drop(columns=frame.geometry.name).copy()
        table = _with_lon_lat(table, frame.geometry.x, frame.geometry.y)
    if output_format == "geojson":
        text = frame.to_json(drop_id=True)
    else:
        if output_format == "csv":
            from geomap.core.safe_text import write_csv

            text = str(write_csv(table))
        else:
            shown = [c for c in ["lon", "lat", *_TABLE_COLUMNS] if c in table.columns]
            from geomap.core.safe_text import terminal_text

            shown_text = table[shown].to_string(index=False, max_colwidth=40) if len(table) else ""
            text = terminal_text(shown_text)  # no escape sequence from a site name runs
    summary = f"{len(table)} sites"
    if not no_dedup and len(table):
        records = int(table["n_sources"].sum())
        summary += f" from {records} records ({records - len(table)} merged across compilations)"
    if out is None:
        sys.stdout.write(text + ("\n" if text and not text.endswith("\n") else ""))
        typer.echo(summary, err=True)
    else:
        with atomic_path(out) as tmp:
            tmp.write_text(text, encoding="utf-8")
        typer.echo(f"{summary} written to {out}", err=True)
    if not len(table):
        typer.echo(_why_empty(commodity or end_use, region, country, dataset), err=True)


def _with_lon_lat(columns: Any, lon: Any, lat: Any) -> Any:
    """Return the listing's table: the columns with ``lon``, ``lat`` (6 decimals) 4th and 5th."""
    import pandas as pd

    table = columns.copy()
    table.insert(3, "lon", pd.Series(lon, index=table.index, dtype="float64").round(6))
    table.insert(4, "lat", pd.Series(lat, index=table.index, dtype="float64").round(6))
    return table


def _why_empty(
    selector: str | None, region: str | None, country: str | None, dataset: str | None
) -> str:
    """Say whether an empty listing is a gap in the mirrored data, and where to look next."""
    from collections import Counter

    from geomap.catalog import load_catalog
    from geomap.io.occurrences import read_occurrences

    if selector is None:
        return "no occurrences match; widen --region/--country or --dataset"
    from geomap.io.occurrences import cached_answer

    # the same rows with or without the annotation: whichever listing of the area is kept
    kept = cached_answer(dataset, region=region, country=country, annotate=False)
    if kept is None:
        kept = cached_answer(dataset, region=region, country=country)
    if kept is not None:
        present = kept[0]
    else:
        present = read_occurrences(
            dataset, region=region, country=country, to_crs=False, annotate=False
        )
    counts = Counter(
        code for codes in present["commodities"].dropna() for code in str(codes).split(";") if code
    )
    where = " ".join(f"--{k} {v}" for k, v in (("region", region), ("country", country)) if v)
    lines = [
        f"no occurrences of {selector!r} {where or 'anywhere'} in the mirrored data "
        f"({len(present)} sites there in all)"
    ]
    if counts:
        common = ", ".join(f"{code} {n}" for code, n in counts.most_common(12))
        lines.append(f"  commodities recorded there: {common}")
    catalog = load_catalog()
    wanted = {c.strip().upper() for c in (country or "").split(",") if c.strip()}
    fuller = [
        f"{d.id} ({d.kind})"
        for d in catalog
        if d.online_only
        and d.kind in ("occurrences", "geochemistry")
        and (
            (region and region in d.regions)
            or (wanted and (wanted & set(d.countries) or "global" in d.countries))
            or not (region or wanted)
        )
    ]
    geochemistry = [
        d.id
        for d in catalog
        if not d.online_only
        and d.kind == "geochemistry"
        and (
            (region and region in d.regions)
            or (wanted and wanted & set(d.countries))
            or not (region or wanted)
        )
    ]
    if geochemistry:
        lines.append(
            "  mirrored geochemistry there (element concentrations, not occurrences; "
            "`geomap.read(ID)`): " + ", ".join(geochemistry)
        )
    if fuller:
        lines.append(
            "  sources beyond the mirror (online only; `geomap catalog show ID`, then "
            "`geomap fetch ID`): " + ", ".join(fuller)
        )
    return "\n".join(lines)

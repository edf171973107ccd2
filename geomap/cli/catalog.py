"""``geomap catalog ...``, ``geomap fetch`` and ``geomap cite``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from geomap.cli._app import app

catalog_app = typer.Typer(
    help="List, inspect and verify the datasets in data_catalog.yaml.", no_args_is_help=True
)
app.add_typer(catalog_app, name="catalog")

CatalogOption = Annotated[
    Path | None, typer.Option("--catalog", help="Catalog file (default: data_catalog.yaml).")
]


@catalog_app.command("list")
def list_datasets(catalog: CatalogOption = None) -> None:
    """List every dataset with its kind, licence and whether it is mirrored."""
    from geomap.catalog import load_catalog

    cat = load_catalog(catalog)
    width = max(len(d.id) for d in cat.datasets)
    for d in cat.datasets:
        where = "online-only" if d.online_only else "mirrored"
        typer.echo(f"{d.id:<{width}}  {d.kind:<12} {d.license.spdx:<40} {where:<11}  {d.title}")
    typer.echo(f"\n{len(cat.datasets)} datasets; regions: {', '.join(r.id for r in cat.regions)}")


@catalog_app.command("show")
def show(dataset_id: str, catalog: CatalogOption = None) -> None:
    """Show one dataset: metadata, licence, citation and files."""
    from geomap.catalog import load_catalog

    d = load_catalog(catalog).dataset(dataset_id)
    typer.echo(f"{d.id}: {d.title}")
    typer.echo(f"publisher:   {d.publisher}")
    typer.echo(f"kind:        {d.kind}{' (online-only, not mirrored)' if d.online_only else ''}")
    typer.echo(f"countries:   {', '.join(d.countries)}; regions: {', '.join(d.regions) or '-'}")
    typer.echo(f"licence:     {d.license.name} [{d.license.spdx}] {d.license.url or ''}")
    typer.echo(f"attribution: {d.license.attribution}")
    typer.echo(f"citation:    {d.citation}")
    typer.echo(f"landing:     {d.landing_page}")
    if d.description:
        typer.echo(f"description: {d.description}")
    for caveat in d.caveats:
        typer.echo(f"caveat:      {caveat}")
    typer.echo(f"files ({len(d.files)}):")
    for f in d.files:
        extra = "".join(
            f" {k}={v}" for k, v in (("crs", f.crs), ("encoding", f.encoding)) if v is not None
        )
        size = f"{f.size:>10}" if f.size is not None else f"{'?':>10}"
        typer.echo(f"  {f.path}  {size} B  {f.format}{extra}\n    {f.url}")


@catalog_app.command("verify")
def verify(
    dataset_ids: Annotated[
        list[str] | None, typer.Argument(help="Datasets to check (default: all).")
    ] = None,
    catalog: CatalogOption = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only failures and the summary.")
    ] = False,
) -> None:
    """Check size and sha256 of every local file; exit 1 if any is missing or differs."""
    from geomap.catalog import load_catalog
    from geomap.fetching import verify as verify_files

    rows = verify_files(dataset_ids or [], catalog=load_catalog(catalog))
    width = max((len(r.path) for r in rows), default=10)
    for r in rows:
        if quiet and not r.failed:
            continue
        size = f"{r.size:>10}" if r.size is not None else f"{'-':>10}"
        label = "hash ok" if r.status == "ok" else r.status
        detail = "" if r.status in ("ok", "online-only") else f"  {r.detail}"
        typer.echo(f"{r.path:<{width}}  {size}  {label}{detail}")
    counts = {
        s: sum(r.status == s for r in rows) for s in ("ok", "missing", "mismatch", "online-only")
    }
    typer.echo(
        f"\n{len(rows)} files: {counts['ok']} ok, {counts['missing']} missing, "
        f"{counts['mismatch']} mismatch, {counts['online-only']} online-only, not mirrored"
    )
    if counts["missing"] or counts["mismatch"]:
        raise typer.Exit(1)


@catalog_app.command("lock")
def lock(
    dataset_ids: Annotated[
        list[str] | None, typer.Argument(help="Datasets to lock (default: every mirrored one).")
    ] = None,
    catalog: CatalogOption = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Only report differences (exit 1 if any); write nothing."),
    ] = False,
) -> None:
    """Hash the mirrored files and write the registry files (geomap/registry/<id>.txt).

    Moves inline sha256/size of the locked datasets' rows out of the catalog; refuses, writing
    nothing, when a file is missing from the mirror (GEOMAP_DATA_DIR, ../shared/data).
    """
    from geomap.catalog.lock import lock_catalog

    report = lock_catalog(catalog, dataset_ids or [], check=check)
    for line in report.lines():
        typer.echo(line)
    if check:
        if report.differs:
            typer.echo("the registries are out of date: run `geomap catalog lock`")
            raise typer.Exit(1)
        typer.echo("the registries match the mirror")
    else:
        typer.echo(
            "wrote " + ", ".join(str(p) for p in report.written)
            if report.written
            else "nothing to write: the registries match the mirror"
        )


@catalog_app.command("schema")
def schema(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file.")] = None,
) -> None:
    """Print (or write) the JSON Schema of data_catalog.yaml for editors."""
    from geomap.catalog import catalog_json_schema

    text = json.dumps(catalog_json_schema(), indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        from geomap.core.atomic import atomic_path

        with atomic_path(out) as tmp:
            tmp.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


@app.command("fetch")
def fetch(
    dataset_ids: Annotated[list[str], typer.Argument(help="Dataset ids to fetch.")],
    catalog: CatalogOption = None,
    accept_new_hash: Annotated[
        bool,
        typer.Option(
            "--accept-new-hash",
            help="Accept an official file whose sha256 changed since its first download.",
        ),
    ] = False,
) -> None:
    """Fetch datasets (local mirror first, then download) and print their local paths.

    Online-only official sources download with resume, record their sha256 on first
    download (a later change is refused unless --accept-new-hash) and are unpacked safely.
    """
    from geomap.catalog import load_catalog
    from geomap.fetching import fetch as fetch_dataset
    from geomap.fetching_official import fetch_official
    from geomap.io.archives import unpack_zip

    cat = load_catalog(catalog)
    for dataset_id in dataset_ids:
        if cat.dataset(dataset_id).online_only:
            paths = fetch_official(
                dataset_id,
                catalog=cat,
                accept_new_hash=accept_new_hash,
                unpack=unpack_zip,
                progress=True,
            )
        else:
            paths = fetch_dataset(dataset_id, catalog=cat, progress=True)
        for path in paths:
            typer.echo(str(path))


@app.command("cite")
def cite(
    dataset_ids: Annotated[list[str], typer.Argument(help="Dataset ids to cite.")],
    catalog: CatalogOption = None,
) -> None:
    """Print the attribution block (licence credit and citation) every export carries."""
    from geomap.catalog import load_catalog

    typer.echo(load_catalog(catalog).attribution(dataset_ids))

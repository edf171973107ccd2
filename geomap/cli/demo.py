"""``geomap demo``: the README's main job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from geomap.cli._app import app


@app.command("demo")
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("geomap-demo"),
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing demo folder.")
    ] = False,
) -> None:
    """Build the demo from the mirrored data: US REE, Japan Kuroko VMS, the joint packet."""
    from geomap.errors import OutputExistsError
    from geomap.fetching import verify
    from geomap.pipeline.packet import DEFAULT_PACKET, build_packet
    from geomap.pipeline.runner import build, summary_lines

    if out.exists() and not overwrite:
        raise OutputExistsError(f"{out} already exists; pass --overwrite to rebuild the demo there")
    failed = [row for row in verify() if row.failed]
    if failed:
        for row in failed:
            typer.echo(f"{row.path}: {row.status} {row.detail}", err=True)
        raise typer.Exit(1)
    typer.echo("catalog verified: every mirrored file present with the recorded sha256")
    folders = {"us-ree": DEFAULT_PACKET[0], "japan-vms": DEFAULT_PACKET[1]}
    for name, (recipe, region) in folders.items():
        result = build(recipe, region=region, out=out / name, overwrite=overwrite)
        typer.echo("\n".join(summary_lines(result)))
    packet = build_packet(DEFAULT_PACKET, out=out / "packet", overwrite=overwrite)
    typer.echo(f"{'joint packet':} -> {packet.out}")
    typer.echo(f"\nDone. Open {out / 'packet' / 'packet.html'} in a browser (works offline).")

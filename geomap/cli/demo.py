"""``geomap demo``: the README's main job."""

from __future__ import annotations

import typer

from geomap.cli._app import app


@app.command("demo")
def demo() -> None:
    """Verify every mirrored dataset (the demo maps are built by later stages)."""
    from geomap.fetching import verify

    rows = verify()
    bad = [r for r in rows if r.failed]
    for r in bad:
        typer.echo(f"{r.path}: {r.status} {r.detail}")
    typer.echo(f"{len(rows) - len(bad)} of {len(rows)} catalog files ok")
    if bad:
        raise typer.Exit(1)

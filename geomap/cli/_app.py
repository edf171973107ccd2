"""The Typer application object shared by every command module."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from geomap.errors import GeomapError


class _GeomapGroup(TyperGroup):
    """Turns a :class:`GeomapError` into a one-line message and exit status 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except GeomapError as exc:
            typer.secho(f"Error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_GeomapGroup,
    name="geomap",
    help="Critical-mineral prospectivity maps from public geological-survey data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

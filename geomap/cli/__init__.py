"""Command-line interface: a thin Typer layer, each command a few lines over the Python API.

Each command module registers its commands on :data:`geomap.cli._app.app`.
Heavy libraries are imported inside the commands so ``geomap --help`` is fast.
"""

from __future__ import annotations

import importlib
import warnings

from geomap.cli._app import app

__all__ = ["app", "main"]

_COMMAND_MODULES = [
    "build",
    "catalog",
    "demo",
    "evidence",
    "ingest",
    "model",
    "occurrences",
    "sources",
]

for _name in _COMMAND_MODULES:
    importlib.import_module(f"geomap.cli.{_name}")


def _one_line_warning(
    message: Warning | str, category: type[Warning], *_: object, **__: object
) -> str:
    return f"warning: {category.__name__}: {message}\n"


def main() -> None:
    """Run the ``geomap`` command (warnings print as one line each, without source lines)."""
    warnings.formatwarning = _one_line_warning
    app()

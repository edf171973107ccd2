"""Writing figures to files: a PNG at print resolution, atomically, crediting its datasets.

:mod:`geomap.render.figures` draws (a :class:`matplotlib.figure.Figure`); this module writes:
:func:`save_figure` (PNG at 300 dpi by default, under a temporary name until complete) and
:func:`png_credit` (the ``Source`` and ``Copyright`` text chunks that credit the catalog
datasets behind a figure).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from geomap.errors import DataError

__all__ = ["PRINT_DPI", "png_credit", "save_figure"]

PRINT_DPI = 300
"""Resolution of written figures, in dots per inch."""


def save_figure(
    fig: Any,
    path: str | os.PathLike[str],
    *,
    dpi: int = PRINT_DPI,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Write ``fig`` as a PNG at ``dpi``, atomically, and return the path.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    path : path-like
        Output ``.png``; appears only when complete.
    dpi : int, default 300
        Print resolution.
    metadata : mapping of str to str, optional
        Extra PNG text chunks (e.g. ``Source`` and ``Copyright`` from :func:`png_credit`),
        besides ``Software``.

    Returns
    -------
    Path
        ``path``.
    """
    from geomap.core.atomic import atomic_path

    final = Path(path)
    if final.suffix.lower() != ".png":
        raise DataError(f"figure path {final} must end in .png; rename it, e.g. {final.stem}.png")
    chunks = {"Software": "geomap", **(metadata or {})}
    with atomic_path(final) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png", metadata=chunks)
    return final


def png_credit(datasets: Sequence[str], *, catalog: Any = None) -> dict[str, str]:
    """Return the PNG text chunks that credit catalog datasets.

    Parameters
    ----------
    datasets : sequence of str
        Catalog ids of the datasets a figure was made from.
    catalog : Catalog, optional
        Defaults to the project catalog.

    Returns
    -------
    dict of str to str
        ``Source``: one ``id: title`` line per dataset; ``Copyright``: one ``id: SPDX``
        line per dataset, a blank line, then :meth:`~geomap.catalog.Catalog.attribution`
        (licence, credit and citation of each).  Empty when ``datasets`` is empty.

    Raises
    ------
    UnknownNameError
        A dataset is not in the catalog.

    Examples
    --------
    >>> png_credit(["natural-earth"])["Copyright"].splitlines()[0]
    'natural-earth: CC0-1.0'
    """
    ids = list(dict.fromkeys(str(d) for d in datasets))
    if not ids:
        return {}
    if catalog is None:
        from geomap.catalog import load_catalog

        catalog = load_catalog()
    records = [catalog.dataset(d) for d in ids]
    licences = "\n".join(f"{d.id}: {d.license.spdx}" for d in records)
    return {
        "Source": "\n".join(f"{d.id}: {d.title}" for d in records),
        "Copyright": f"{licences}\n\n{catalog.attribution(ids)}",
    }

"""Reader registry: each catalog entry's ``reader`` names a function registered here.

Reader modules register functions with :func:`reader`; :func:`get_reader` imports
the module that provides a name on first use, so reading one format never
imports the libraries of the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from geomap.catalog import Dataset
from geomap.errors import CatalogError

__all__ = ["READER_MODULES", "ReaderFunc", "get_reader", "reader"]

ReaderFunc = Callable[..., Any]
"""``func(dataset, paths, *, layer=None, **options) -> GeoDataFrame | DataArray``.

``paths`` maps each catalog file path (``DataFile.path``) to its verified local path.
The result carries ``attrs["geomap_report"]`` (an :class:`~geomap.core.report.IngestReport` dict).
"""

# reader name -> module registering it
READER_MODULES: dict[str, str] = {
    "minmod-json": "geomap.io.minmod",
    "usmin-lithium": "geomap.io.usmin",
    "carbonatites-kimberlites": "geomap.io.point_tables",
    "azgs-geology": "geomap.io.azgs",
    "gem-faults": "geomap.io.faults",
    "japan-prefectures": "geomap.io.boundaries",
    "natural-earth": "geomap.io.boundaries",
    "vector-file": "geomap.io.vectors",
    "sarig-gawler": "geomap.io.sarig",
    "netcdf-grid": "geomap.io.grids",
    "glim-grid": "geomap.io.grids",
    "gmt-grid": "geomap.io.grids",
    "geotiff": "geomap.io.grids",
    "line-survey": "geomap.io.lines",
    "capricorn-geochem": "geomap.io.geochem",
    "lapland-till-geochem": "geomap.io.geochem",
    "gsj-seamless-v2": "geomap.io.gsj_seamless",
    "usgs-sgmc": "geomap.io.sgmc",
    "usgs-mrds": "geomap.io.mrds",
    "usgs-mrds-rdbms": "geomap.io.mrds_relational",
    "usgs-ngs": "geomap.io.ngs",
    "emag2v3": "geomap.io.emag2v3",
    "gsj-geochem": "geomap.io.gsj_geochem",
    "colorado-soil-geochem": "geomap.io.colorado_geochem",
}

_REGISTRY: dict[str, ReaderFunc] = {}


def reader(name: str) -> Callable[[ReaderFunc], ReaderFunc]:
    """Register ``func`` as the reader called ``name``."""

    def decorate(func: ReaderFunc) -> ReaderFunc:
        _REGISTRY[name] = func
        return func

    return decorate


def get_reader(dataset: Dataset) -> ReaderFunc:
    """Return the reader function for a catalog dataset."""
    name = dataset.reader
    if name is None and dataset.online_only:
        urls = ", ".join(f.url for f in dataset.files if f.url) or dataset.landing_page
        raise CatalogError(
            f"dataset {dataset.id!r} is online-only, not mirrored, and has no reader yet: "
            f"download it ({urls}) with `geomap fetch {dataset.id}` and read the files with "
            "geopandas/rioxarray, or add a 'reader' to its catalog entry"
        )
    if name is None:
        raise CatalogError(
            f"dataset {dataset.id!r} declares no 'reader'; set one of {sorted(READER_MODULES)}"
        )
    if name not in _REGISTRY:
        module = READER_MODULES.get(name)
        if module is None:
            raise CatalogError(
                f"dataset {dataset.id!r}: unknown reader {name!r}; "
                f"use one of {sorted(READER_MODULES)}"
            )
        importlib.import_module(module)
    if name not in _REGISTRY:
        raise CatalogError(f"reader {name!r} is not implemented by {READER_MODULES[name]}")
    return _REGISTRY[name]


def local_paths(dataset: Dataset, files: list[Path]) -> dict[str, Path]:
    """Pair each catalog file path of ``dataset`` with its fetched local path."""
    return {entry.path: path for entry, path in zip(dataset.files, files, strict=True)}

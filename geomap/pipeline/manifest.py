"""The provenance manifest written with every build: what ran, on which bytes, with what."""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Iterable
from typing import Any

from geomap.catalog import Catalog

__all__ = ["dataset_provenance", "software_versions"]

_PACKAGES = (
    "geomap",
    "numpy",
    "pandas",
    "scipy",
    "xarray",
    "dask",
    "distributed",
    "rasterio",
    "rioxarray",
    "odc-geo",
    "pyproj",
    "shapely",
    "geopandas",
    "pyogrio",
    "scikit-learn",
    "folium",
    "branca",
    "matplotlib",
    "rio-cogeo",
)


def software_versions() -> dict[str, str]:
    """Return the versions of Python, GDAL, PROJ and the packages a build depends on."""
    versions: dict[str, str] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        import rasterio

        versions["gdal"] = rasterio.__gdal_version__
    except ImportError:  # pragma: no cover - rasterio is a dependency
        pass
    import pyproj

    versions["proj"] = pyproj.proj_version_str
    return versions


def dataset_provenance(catalog: Catalog, dataset_ids: Iterable[str]) -> list[dict[str, Any]]:
    """Return, per dataset, its licence, citation and every file's URL, size and sha256."""
    entries = []
    for dataset_id in dict.fromkeys(dataset_ids):
        dataset = catalog.dataset(dataset_id)
        entries.append(
            {
                "id": dataset.id,
                "title": dataset.title,
                "publisher": dataset.publisher,
                "license": dataset.license.spdx,
                "license_name": dataset.license.name,
                "attribution": dataset.license.attribution,
                "citation": dataset.citation,
                "files": [
                    {"path": f.path, "url": f.url, "sha256": f.sha256, "size": f.size}
                    for f in dataset.files
                ],
            }
        )
    return entries

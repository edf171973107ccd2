"""Readers: one per source format (writers live in :mod:`geomap.export`).

:func:`read` is the single entry point: it looks the dataset up in the catalog,
fetches and verifies its files, dispatches to the registered reader and, when a
region is given, reprojects the result into the region's analysis CRS.
"""

from __future__ import annotations

from typing import Any

__all__ = ["read"]


def read(
    dataset_id: str,
    region: str | None = None,
    *,
    layer: str | None = None,
    catalog: Any = None,
    bbox: tuple[float, float, float, float] | None = None,
    **options: Any,
) -> Any:
    """Read a catalog dataset as a GeoDataFrame or DataArray, optionally in a region's CRS.

    Parameters
    ----------
    dataset_id : str
        The catalog id, e.g. ``"minmod-usgs-mrdata"``.
    region : str, optional
        A catalog region id; the result is clipped to its bounding box and
        reprojected to its analysis CRS.
    layer : str, optional
        For datasets with several layers (e.g. ``"cratons"``), which one to read.
    catalog : Catalog, optional
        Defaults to the project catalog.
    bbox : (west, south, east, north), optional
        Degrees: readers that take a box (point and line tables, the official
        full-resolution sources) read only this window; others read the whole dataset.
        Without it, the official sources read the region's box.
    **options
        Reader options, overriding the catalog's ``reader_options``.

    Returns
    -------
    GeoDataFrame or DataArray
        With a CRS, and ``attrs["geomap_report"]`` summarising what was
        normalized, repaired and dropped.
    """
    from geomap.catalog import load_catalog
    from geomap.fetching import fetch
    from geomap.io.registry import get_reader, local_paths

    cat = catalog or load_catalog()
    dataset = cat.dataset(dataset_id)
    read_func = get_reader(dataset)
    if dataset.online_only:
        from geomap.fetching_official import local_official_files

        files = local_official_files(dataset)
    else:
        files = fetch(dataset_id, catalog=cat)
    paths = local_paths(dataset, files)
    windowed = getattr(read_func, "geomap_windowed", False)  # the large official sources
    if bbox is not None and (windowed or _takes_bbox(read_func)):
        options = {"bbox": tuple(bbox), **options}
    elif bbox is None and region and windowed:
        options = {"bbox": tuple(cat.region(region).bbox), **options}
    result = read_func(dataset, paths, layer=layer, **{**dataset.reader_options, **options})
    if region is not None:
        from geomap.harmonize import to_region

        result = to_region(result, cat.region(region))
    return result


def _takes_bbox(read_func: Any) -> bool:
    """Whether a reader has a ``bbox`` option."""
    import inspect

    return "bbox" in inspect.signature(read_func).parameters

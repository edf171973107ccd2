"""All occurrence datasets as one harmonized, deduplicated frame: the training points of models.

>>> from geomap.io.occurrences import read_occurrences
>>> ree = read_occurrences(commodities="REE", country="JPN", to_crs=False)
>>> bool((ree["country"] == "JPN").all())
True
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from geomap.core.report import IngestReport

__all__ = ["occurrence_dataset_ids", "read_occurrences"]

_DEDUP_CACHE: dict[tuple[Any, ...], Any] = {}
_DEDUP_CACHE_MAX = 8


def occurrence_dataset_ids(catalog: Any = None) -> list[str]:
    """Return the ids of the mirrored catalog datasets of kind ``occurrences``."""
    from geomap.catalog import load_catalog

    cat = catalog or load_catalog()
    return [d.id for d in cat.datasets if d.kind == "occurrences" and not d.online_only]


def _in_bbox(lon: np.ndarray, lat: np.ndarray, bbox: Sequence[float]) -> np.ndarray:
    west, south, east, north = bbox
    in_lat = (lat >= south) & (lat <= north)
    if west <= east:
        return in_lat & (lon >= west) & (lon <= east)
    return in_lat & ((lon >= west) | (lon <= east))


def _as_list(value: str | Iterable[str] | None) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return list(value)


def read_occurrences(
    dataset_ids: str | Iterable[str] | None = None,
    *,
    region: str | None = None,
    country: str | Iterable[str] | None = None,
    commodities: str | Iterable[str] | None = None,
    end_use: str | None = None,
    deduplicate: bool = True,
    include_rock_occurrences: bool = True,
    to_crs: bool = True,
    catalog: Any = None,
) -> Any:
    """Read, harmonize, filter and deduplicate the occurrence datasets into one frame.

    Parameters
    ----------
    dataset_ids : str or iterable of str, optional
        Catalog ids (comma-separated or a list); default every mirrored occurrence dataset.
    region : str, optional
        A catalog region id: keeps the points inside its bounding box (antimeridian-aware,
        e.g. Alaska) and, with ``to_crs``, reprojects them to the region's analysis CRS.
    country : str or iterable of str, optional
        ISO3 codes to keep (``"USA"``, ``"JPN"``).
    commodities : str or iterable of str, optional
        Commodity selector: codes, names or groups (``"REE"``, ``"Li,Co"``, ``"tungsten"``).
    end_use : str, optional
        Keep sites feeding this supply chain (``"magnets"``, ``"batteries"``...).
    deduplicate : bool, default True
        Merge the same deposit across compilations
        (:func:`geomap.harmonize.dedup.merge_duplicates`).
    include_rock_occurrences : bool, default True
        Keep commodity-less rock occurrences (carbonatites, kimberlites) when no commodity or
        end-use filter is given.
    to_crs : bool, default True
        With ``region``, reproject to the region's CRS; otherwise the result is in EPSG:4326.
    catalog : Catalog, optional
        Defaults to the project catalog.

    Returns
    -------
    GeoDataFrame
        The common occurrence schema (plus ``sources`` and ``n_sources`` when deduplicated),
        with ``attrs["geomap_report"]`` summing the datasets' reports (``datasets`` lists each).
    """
    import geopandas as gpd
    import shapely

    from geomap.catalog import load_catalog
    from geomap.harmonize.occurrences import select_commodities
    from geomap.io import read

    cat = catalog or load_catalog()
    ids = _as_list(dataset_ids) or occurrence_dataset_ids(cat)
    region_obj = cat.region(region) if region is not None else None
    report = IngestReport("occurrences")
    per_dataset = []
    frames = []
    for dataset_id in ids:
        frame = read(dataset_id, catalog=cat)
        sub = frame.attrs.get("geomap_report", {})
        per_dataset.append(sub)
        report.records_in += int(sub.get("records_in", len(frame)))
        for key in ("dropped", "normalized", "repaired", "unmapped"):
            getattr(report, key).update(
                {
                    f"{dataset_id}: {k}" if key != "unmapped" else k: v
                    for k, v in (sub.get(key) or {}).items()
                }
            )
        if frame.crs is None or frame.crs.to_epsg() != 4326:
            frame = frame.to_crs(4326)
        frames.append(frame)
    combined = gpd.GeoDataFrame(
        pd.concat(frames, ignore_index=True), geometry="geometry", crs="EPSG:4326"
    )
    geoms = combined.geometry.to_numpy()
    lon, lat = shapely.get_x(geoms), shapely.get_y(geoms)
    keep = np.ones(len(combined), dtype=bool)
    if region_obj is not None:
        inside = _in_bbox(lon, lat, region_obj.bbox)
        report.drop(f"outside region {region_obj.id!r}", int((keep & ~inside).sum()))
        keep &= inside
    wanted_countries = _as_list(country)
    if wanted_countries:
        in_country = combined["country"].isin([c.upper() for c in wanted_countries]).to_numpy()
        report.drop(f"not in {','.join(wanted_countries)}", int((keep & ~in_country).sum()))
        keep &= in_country
    filtered = combined.loc[keep].reset_index(drop=True)
    if deduplicate:
        filtered = _deduplicate(filtered)
        merged = int(filtered["n_sources"].sum() - len(filtered)) if len(filtered) else 0
        report.normalize("records merged into sites seen in another compilation", merged)
    if commodities is not None or end_use is not None:
        mask = select_commodities(filtered, _as_list(commodities), end_use=end_use)
        filtered = filtered.loc[mask.to_numpy()].reset_index(drop=True)
    elif not include_rock_occurrences:
        filtered = filtered.loc[(filtered["commodities"] != "").to_numpy()].reset_index(drop=True)
    report.records_out = len(filtered)
    result = report.to_dict()
    result["datasets"] = per_dataset
    filtered.attrs["geomap_report"] = result
    if region_obj is not None and to_crs:
        from geomap.harmonize import to_region

        filtered = to_region(filtered, region_obj, clip=False)
    return filtered


def _deduplicate(frame: Any) -> Any:
    from geomap.harmonize.dedup import merge_duplicates

    key = (
        len(frame),
        int(pd.util.hash_pandas_object(frame["site_id"], index=False).sum()),
        int(pd.util.hash_pandas_object(frame["commodities"], index=False).sum()),
    )
    cached = _DEDUP_CACHE.get(key)
    if cached is None:
        cached = merge_duplicates(frame)
        if len(_DEDUP_CACHE) >= _DEDUP_CACHE_MAX:
            _DEDUP_CACHE.pop(next(iter(_DEDUP_CACHE)))
        _DEDUP_CACHE[key] = cached
    return cached.copy()

"""All occurrence datasets as one harmonized, deduplicated frame: the training points of models.

>>> from geomap.io.occurrences import read_occurrences
>>> ree = read_occurrences(commodities="REE", country="JPN", to_crs=False)
>>> bool((ree["country"] == "JPN").all())
True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from geomap.core.report import IngestReport

__all__ = ["cached_answer", "derived_answer", "occurrence_dataset_ids", "read_occurrences"]

_DEDUP_CACHE: dict[str, Any] = {}
_DEDUP_CACHE_MAX = 8


def occurrence_dataset_ids(catalog: Any = None) -> list[str]:
    """Return the ids of the mirrored catalog datasets of kind ``occurrences``."""
    from geomap.catalog import load_catalog

    cat = catalog or load_catalog()
    return [d.id for d in cat.datasets if d.kind == "occurrences" and not d.online_only]


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
    annotate: bool = True,
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
    annotate : bool, default True
        Add the deposit types and the state check (below); ``False`` gives the same rows
        without them, faster (e.g. to count sites and commodities).

    Each dataset's harmonized frame comes from the occurrence index
    (:mod:`geomap.io.occurrence_index`) when its source files and geomap's code are unchanged
    since it was indexed, and is read from the sources (and indexed) otherwise.

    Returns
    -------
    GeoDataFrame
        The common occurrence schema (plus ``sources`` and ``n_sources`` when deduplicated,
        ``deposit_class_rule`` / ``deposit_class_confidence``: the deposit type of every
        site from :func:`geomap.harmonize.deposit_types.classify_deposits`, and
        ``state_code``, ``state_name``, ``state_as_written``, ``state_mismatch`` from
        :func:`geomap.io.admin.check_states`),
        with ``attrs["geomap_report"]`` summing the datasets' reports (``datasets`` lists each).
    """
    from geomap.catalog import load_catalog

    cat = catalog or load_catalog()
    ids = _as_list(dataset_ids) or occurrence_dataset_ids(cat)
    options: dict[str, Any] = {
        "region": region,
        "country": _as_list(country),
        "commodities": _as_list(commodities),
        "end_use": end_use,
        "deduplicate": deduplicate,
        "include_rock_occurrences": include_rock_occurrences,
        "to_crs": to_crs,
        "annotate": annotate,
    }

    def run() -> Any:
        seen: dict[str, int] = {}
        result = _read_occurrences(ids, cat, **options, seen=seen)
        selection = commodities is not None or end_use is not None
        if selection and not to_crs and annotate and seen["area_rows"] <= _AREA_KEEP_MAX:
            # keep the area's listing too (cheap for a small area): the next commodity or
            # end-use query of this area is answered from it (derived_answer)
            read_occurrences(
                ids,
                region=region,
                country=country,
                deduplicate=deduplicate,
                to_crs=False,
                catalog=cat,
            )
        return result

    if region is not None and to_crs:  # a projected answer is computed (no CRS round trip)
        return run()
    from geomap.io.occurrence_index import cached_query

    query, depends = _query(ids, cat, options)
    return cached_query(query, depends, cat, run)


def _query(ids: list[str], cat: Any, options: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Return the document that keys a query's answer and the datasets the answer reads."""
    from geomap.io.admin import ADMIN_DATASETS

    region = options["region"]
    depends = [*ids, *ADMIN_DATASETS] if options["annotate"] or options["deduplicate"] else ids
    box = list(cat.region(region).bbox) if region is not None else None
    return {"datasets": ids, "region_bbox": box, **options}, depends


def cached_answer(
    dataset_ids: str | Iterable[str] | None = None,
    *,
    region: str | None = None,
    country: str | Iterable[str] | None = None,
    commodities: str | Iterable[str] | None = None,
    end_use: str | None = None,
    deduplicate: bool = True,
    include_rock_occurrences: bool = True,
    annotate: bool = True,
    catalog: Any = None,
    _select: Any = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray] | None:
    """Return a kept answer of :func:`read_occurrences` (``to_crs=False``) without geopandas.

    The answer's columns but the geometry (the same values and dtypes as the
    GeoDataFrame's), and the longitude and latitude of its points, read with pyarrow from
    the occurrence index's query entry; ``None`` when the query has no usable entry (then
    call :func:`read_occurrences`, which computes and keeps it).  Options as
    :func:`read_occurrences`.
    """
    from geomap.catalog import load_catalog
    from geomap.io.occurrence_index import index_enabled, query_path, read_query_table

    if not index_enabled():
        return None
    cat = catalog or load_catalog()
    ids = _as_list(dataset_ids) or occurrence_dataset_ids(cat)
    options: dict[str, Any] = {
        "region": region,
        "country": _as_list(country),
        "commodities": _as_list(commodities),
        "end_use": end_use,
        "deduplicate": deduplicate,
        "include_rock_occurrences": include_rock_occurrences,
        "to_crs": False,
        "annotate": annotate,
    }
    query, depends = _query(ids, cat, options)
    return read_query_table(query_path(query, depends, cat), _select)


# A commodity query of an area with at most this many sites (merged) also keeps the area's
# listing: annotating it costs ~60 us a site (0.3 s here; CONUS, 51,447 sites, ~2.5 s).
_AREA_KEEP_MAX = 5000

# Columns the annotation adds after the commodity selection (``deposit_class`` is in the schema).
_ANNOTATION_COLUMNS = ("deposit_class_rule", "deposit_class_confidence")
_STATE_COLUMNS = ("state_code", "state_name", "state_as_written", "state_mismatch")


def derived_answer(
    dataset_ids: str | Iterable[str] | None = None,
    *,
    region: str | None = None,
    country: str | Iterable[str] | None = None,
    commodities: str | Iterable[str] | None = None,
    end_use: str | None = None,
    deduplicate: bool = True,
    annotate: bool = True,
    catalog: Any = None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray] | None:
    """Return the answer to a commodity or end-use query from the kept answer of its area.

    A query with ``commodities`` or ``end_use`` selects rows of the same area's listing
    (the same datasets, region, countries and merging, no commodity filter): merging
    duplicates happens before the commodity selection, and the deposit types and the state
    check are computed row by row.  When that listing is kept (asked before, e.g.
    ``geomap occurrences --region conus``), the answer is its rows that
    :func:`geomap.harmonize.occurrences.select_commodities` keeps, chosen in Arrow from the
    ``commodities`` column alone, with ``end_use_note`` placed (and, for an empty answer,
    the state columns left out) as :func:`read_occurrences` does: the same columns, values
    and dtypes, without geopandas.  ``None`` when there is no selection or no kept listing
    (then call :func:`read_occurrences`).  Options and return as :func:`cached_answer`.
    """
    if commodities is None and end_use is None:
        return None
    from geomap.harmonize.occurrences import generic_group_only, select_commodities

    selector = _as_list(commodities)

    def select(table: Any) -> np.ndarray:
        codes = pd.DataFrame({"commodities": table.column("commodities").to_pandas()})
        return select_commodities(codes, selector, end_use=end_use).to_numpy(dtype=bool)

    base = cached_answer(
        dataset_ids,
        region=region,
        country=country,
        deduplicate=deduplicate,
        annotate=annotate,
        catalog=catalog,
        _select=select,
    )
    if base is None:
        return None
    frame, lon, lat = base
    if end_use is not None:
        generic = generic_group_only(frame, end_use).to_numpy()
        note = np.where(
            generic,
            f"recorded only as a generic group (e.g. REE); kept under {end_use!r}: its "
            "own metals are not known",
            "",
        )
        annotation = [c for c in _ANNOTATION_COLUMNS + _STATE_COLUMNS if c in frame.columns]
        names = list(frame.columns)
        at = names.index(annotation[0]) if annotation else len(names)
        frame.insert(at, "end_use_note", note)
    if annotate and not len(frame):  # the state check runs on a non-empty selection only
        frame = frame.drop(columns=[c for c in _STATE_COLUMNS if c in frame.columns])
    return frame, lon, lat


def _read_occurrences(
    ids: list[str],
    cat: Any,
    *,
    region: str | None,
    country: list[str] | None,
    commodities: list[str] | None,
    end_use: str | None,
    deduplicate: bool,
    include_rock_occurrences: bool,
    to_crs: bool,
    annotate: bool,
    seen: dict[str, int] | None = None,
) -> Any:
    import geopandas as gpd

    from geomap.harmonize.deposit_types import add_deposit_classes
    from geomap.harmonize.occurrences import generic_group_only, select_commodities
    from geomap.io.admin import check_states
    from geomap.io.occurrence_index import read_part

    region_obj = cat.region(region) if region is not None else None
    wanted_countries = _as_list(country)
    report = IngestReport("occurrences")
    per_dataset = []
    parts = []
    outside = not_in_country = 0
    for dataset_id in ids:
        part = read_part(
            dataset_id,
            cat,
            bbox=region_obj.bbox if region_obj is not None else None,
            countries=[c.upper() for c in wanted_countries] if wanted_countries else None,
        )
        sub = part.report
        per_dataset.append(sub)
        report.records_in += int(sub.get("records_in", part.total))
        for key in ("dropped", "normalized", "repaired", "unmapped"):
            getattr(report, key).update(
                {
                    f"{dataset_id}: {k}" if key != "unmapped" else k: v
                    for k, v in (sub.get(key) or {}).items()
                }
            )
        outside += part.outside
        not_in_country += part.not_in_country
        parts.append(part.frame)
    if region_obj is not None:
        report.drop(f"outside region {region_obj.id!r}", outside)
    if wanted_countries:
        report.drop(f"not in {','.join(wanted_countries)}", not_in_country)
    filtered = gpd.GeoDataFrame(
        pd.concat(parts, ignore_index=True), geometry="geometry", crs="EPSG:4326"
    )
    if deduplicate:
        filtered = _deduplicate(filtered)
        merged = int(filtered["n_sources"].sum() - len(filtered)) if len(filtered) else 0
        report.normalize("records merged into sites seen in another compilation", merged)
    if seen is not None:
        seen["area_rows"] = len(filtered)  # the area's sites, before the commodity selection
    if commodities is not None or end_use is not None:
        mask = select_commodities(filtered, _as_list(commodities), end_use=end_use)
        filtered = filtered.loc[mask.to_numpy()].reset_index(drop=True)
        if end_use is not None:
            generic = generic_group_only(filtered, end_use).to_numpy()
            filtered["end_use_note"] = np.where(
                generic,
                f"recorded only as a generic group (e.g. REE); kept under {end_use!r}: its "
                "own metals are not known",
                "",
            )
            report.normalize(
                f"sites recorded only as a generic group kept under end use {end_use!r} "
                "(end_use_note)",
                int(generic.sum()),
            )
    elif not include_rock_occurrences:
        filtered = filtered.loc[(filtered["commodities"] != "").to_numpy()].reset_index(drop=True)
    if annotate:
        filtered = add_deposit_classes(filtered)
    if annotate and len(filtered):
        states = check_states(filtered)
        for column in states.columns:
            filtered[column] = states[column].to_numpy()
        report.normalize(
            "state written differently from the unit the point lies in (state_mismatch)",
            int(states["state_mismatch"].sum()),
        )
    report.records_out = len(filtered)
    result = report.to_dict()
    result["datasets"] = per_dataset
    filtered.attrs["geomap_report"] = result
    if region_obj is not None and to_crs:
        from geomap.harmonize import to_region

        filtered = to_region(filtered, region_obj, clip=False)
    return filtered


def _merge(selection: Any) -> Any:
    from geomap.harmonize.dedup import merge_duplicates
    from geomap.io.admin import state_codes

    return merge_duplicates(selection, state_codes=state_codes(selection))


def _deduplicate(frame: Any) -> Any:
    from geomap.io.occurrence_index import deduplicated, frame_digest

    key = frame_digest(frame)  # every column and geometry: a renamed site is another frame
    if key is None:
        return deduplicated(frame, _merge)
    cached = _DEDUP_CACHE.get(key)
    if cached is None:
        cached = deduplicated(frame, _merge)
        if len(_DEDUP_CACHE) >= _DEDUP_CACHE_MAX:
            _DEDUP_CACHE.pop(next(iter(_DEDUP_CACHE)))
        _DEDUP_CACHE[key] = cached
    return cached.copy()

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
        if region is not None and to_crs:  # the kept answer in EPSG:4326, projected
            from geomap.harmonize import to_region

            answer = read_occurrences(ids, **{**options, "to_crs": False}, catalog=cat)
            return to_region(answer, cat.region(region), clip=False)
        if commodities is None and end_use is None and include_rock_occurrences:
            return _read_area(ids, cat, region, options["country"], deduplicate, annotate)
        # a selection is rows of its area's listing (merging comes before it and the
        # annotation is row by row), so the listing is kept and the next selection of the
        # area is derived from it
        area = read_occurrences(
            ids,
            region=region,
            country=country,
            deduplicate=deduplicate,
            to_crs=False,
            catalog=cat,
            annotate=annotate,
        )
        return _rows_of_area(area, options)

    if region is not None and to_crs:  # projected from the kept answer (no CRS round trip)
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
    from geomap.harmonize.occurrences import select_commodities

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
    return _place_selection_columns(frame, end_use, annotate), lon, lat


_STATE_MISMATCH = "state written differently from the unit the point lies in (state_mismatch)"


def _end_use_note(frame: Any, end_use: str) -> tuple[np.ndarray, int]:
    """Return the ``end_use_note`` of every row and how many rows carry one."""
    from geomap.harmonize.occurrences import generic_group_only

    generic = generic_group_only(frame, end_use).to_numpy()
    note = np.where(
        generic,
        f"recorded only as a generic group (e.g. REE); kept under {end_use!r}: its own metals "
        "are not known",
        "",
    )
    return note, int(generic.sum())


def _place_selection_columns(frame: Any, end_use: str | None, annotate: bool) -> Any:
    """Give selected rows of an area's listing the columns of a selection's answer.

    ``end_use_note`` goes before the annotation's columns; an empty answer has no state
    columns (the state check runs on a non-empty selection only).
    """
    if end_use is not None:
        note, _ = _end_use_note(frame, end_use)
        annotation = [c for c in _ANNOTATION_COLUMNS + _STATE_COLUMNS if c in frame.columns]
        names = list(frame.columns)
        frame.insert(names.index(annotation[0]) if annotation else len(names), "end_use_note", note)
    if annotate and not len(frame):
        frame = frame.drop(columns=[c for c in _STATE_COLUMNS if c in frame.columns])
    return frame


def _rows_of_area(area: Any, options: dict[str, Any]) -> Any:
    """Return the answer to a commodity / end-use query (or without rock occurrences).

    ``area`` is the area's listing (the same datasets, region, countries and merging, no
    selection, in EPSG:4326); its report is carried, with the rows kept, the sites kept
    under the end use only as a generic group and the state mismatches among them.
    """
    from geomap.harmonize.occurrences import select_commodities

    commodities, end_use = options["commodities"], options["end_use"]
    if commodities is not None or end_use is not None:
        mask = select_commodities(area, commodities, end_use=end_use).to_numpy()
    else:  # no rock occurrences
        mask = (area["commodities"] != "").to_numpy()
    selected = area.loc[mask].reset_index(drop=True)
    selected = _place_selection_columns(selected, end_use, options["annotate"])
    report = IngestReport.from_dict(area.attrs["geomap_report"])
    report.normalized.pop(_STATE_MISMATCH, None)
    if end_use is not None:
        _, generic = _end_use_note(selected, end_use)
        report.normalize(
            f"sites recorded only as a generic group kept under end use {end_use!r} (end_use_note)",
            generic,
        )
    if "state_mismatch" in selected.columns:
        report.normalize(_STATE_MISMATCH, int(selected["state_mismatch"].sum()))
    report.records_out = len(selected)
    result = report.to_dict()
    result["datasets"] = area.attrs["geomap_report"]["datasets"]
    selected.attrs = {"geomap_report": result}
    return selected


def _read_area(
    ids: list[str],
    cat: Any,
    region: str | None,
    country: list[str] | None,
    deduplicate: bool,
    annotate: bool,
) -> Any:
    """Return the listing of an area: its sites, merged and annotated, in EPSG:4326."""
    import geopandas as gpd

    from geomap.harmonize.deposit_types import add_deposit_classes
    from geomap.io.admin import check_states
    from geomap.io.occurrence_index import read_part, selection_key

    region_obj = cat.region(region) if region is not None else None
    box = list(region_obj.bbox) if region_obj is not None else None
    countries = [c.upper() for c in country] if country else None
    report = IngestReport("occurrences")
    per_dataset = []
    parts = []
    outside = not_in_country = 0
    for dataset_id in ids:
        part = read_part(dataset_id, cat, bbox=box, countries=countries)
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
    if country:
        report.drop(f"not in {','.join(country)}", not_in_country)
    listing = gpd.GeoDataFrame(
        pd.concat(parts, ignore_index=True), geometry="geometry", crs="EPSG:4326"
    )
    if deduplicate:
        listing = _deduplicate(listing, selection_key(ids, cat, bbox=box, countries=countries))
        merged = int(listing["n_sources"].sum() - len(listing)) if len(listing) else 0
        report.normalize("records merged into sites seen in another compilation", merged)
    if annotate:
        listing = add_deposit_classes(listing)
    if annotate and len(listing):
        states = check_states(listing)
        for column in states.columns:
            listing[column] = states[column].to_numpy()
        report.normalize(_STATE_MISMATCH, int(states["state_mismatch"].sum()))
    report.records_out = len(listing)
    result = report.to_dict()
    result["datasets"] = per_dataset
    listing.attrs["geomap_report"] = result
    return listing


def _merge(selection: Any) -> Any:
    from geomap.harmonize.dedup import merge_duplicates
    from geomap.io.admin import state_codes

    return merge_duplicates(selection, state_codes=state_codes(selection))


def _deduplicate(frame: Any, key: str | None) -> Any:
    """Return the frame with its duplicates merged, kept under ``key`` (else its digest)."""
    from geomap.io.occurrence_index import deduplicated, frame_digest

    # every column and geometry: a renamed site is another frame
    key = key or frame_digest(frame)
    if key is None:  # unhashable: merged, not kept
        return _merge(frame)
    cached = _DEDUP_CACHE.get(key)
    if cached is None:
        cached = deduplicated(frame, _merge, key)
        if len(_DEDUP_CACHE) >= _DEDUP_CACHE_MAX:
            _DEDUP_CACHE.pop(next(iter(_DEDUP_CACHE)))
        _DEDUP_CACHE[key] = cached
    return cached.copy()

"""The common mineral-occurrence schema: one row per site, whatever the source.

Every occurrence reader (MinMod JSON, USMIN CSV tables, point tables) returns a
:class:`geopandas.GeoDataFrame` with the columns of :data:`OCCURRENCE_COLUMNS` in that order
(readers may add further columns after them), point geometries, a CRS, and the ingest report in
``attrs["geomap_report"]``.  :func:`validate_occurrences` checks a frame against the schema.

Multi-valued fields are stored as sorted ``;``-joined strings so they survive GeoParquet,
GeoPackage and CSV unchanged (``commodities == "Ag;Au;Cu"``); :func:`commodity_lists` and
:func:`select_commodities` turn them back into lists and selections.

``site_id`` is stable: the first 16 hex digits of the SHA-1 of ``dataset_id/source/record_id``,
so it does not depend on row order, file order or the other records read with it.

Examples
--------
>>> from geomap.harmonize.occurrences import make_site_ids
>>> make_site_ids(["minmod-usgs-mrdata"], ["mrdata_vms"], ["808"])[0]
'bfc1c9feb4c2b613'
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geomap.errors import CatalogError, CRSError, DataError

__all__ = [
    "OCCURRENCE_COLUMNS",
    "OccurrenceSummary",
    "commodity_lists",
    "country_iso3",
    "empty_occurrences",
    "generic_group_only",
    "make_occurrences",
    "make_site_ids",
    "select_commodities",
    "summarize_occurrences",
    "validate_occurrences",
]

OCCURRENCE_COLUMNS: dict[str, tuple[str, str]] = {
    "site_id": ("str", "stable id: sha1(dataset_id/source/record_id)[:16]"),
    "name": ("str", "site name as given by the source ('' when none)"),
    "dataset_id": ("str", "catalog dataset id"),
    "source": ("str", "source compilation inside the dataset (MinMod folder, table or layer)"),
    "record_id": ("str", "the source's own record id"),
    "country": ("str", "ISO 3166-1 alpha-3 code ('' when unknown or historical)"),
    "country_name": ("str", "country as written in the source"),
    "state": ("str", "state, province or prefecture as written in the source"),
    "commodities": ("str", "normalized commodity codes, sorted, ';'-joined"),
    "primary_commodities": ("str", "codes the source marks as main commodities, ';'-joined"),
    "commodities_raw": ("str", "commodity names as written in the source, '; '-joined"),
    "deposit_type": ("str", "deposit type as written in the source"),
    "deposit_class": ("str", "deposit type in the vocabulary of geomap/data/deposit_types.yaml"),
    "ore_tonnage_mt": ("float", "ore (or brine) tonnage in million metric tonnes; NaN if absent"),
    "grades": ("str", "grades as 'CODE value unit' items, '; '-joined (source units)"),
    "age_ma": ("float", "age in Ma where the source gives one; NaN otherwise"),
    "license": ("str", "SPDX licence id of the dataset"),
    "source_crs": ("str", "CRS the source coordinates were given in"),
}
"""Column name -> (kind, description) of the common schema, in column order (then geometry)."""

_DATA_DIR = Path(__file__).resolve().parent.parent / "data"
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def _key(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return _NON_ALNUM.sub(
        " ", "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    ).strip()


@functools.lru_cache(maxsize=1)
def _country_table() -> tuple[dict[str, str], frozenset[str]]:
    from geomap._yaml import load_yaml

    raw = load_yaml(_DATA_DIR / "countries.yaml", CatalogError)
    table: dict[str, str] = {}
    for iso3, names in raw["countries"].items():
        for name in [iso3, *names]:
            table[_key(str(name))] = str(iso3)
    historical = frozenset(_key(str(n)) for n in raw.get("historical", []))
    return table, historical


def country_iso3(name: object) -> str | None:
    """Return the ISO3 code of a country name; ``""`` for known historical names, else None.

    >>> country_iso3("United States of America"), country_iso3("USSR"), country_iso3("Atlantis")
    ('USA', '', None)
    """
    if not isinstance(name, str) or not name.strip():
        return ""
    table, historical = _country_table()
    key = _key(name)
    if key in table:
        return table[key]
    if key in historical:
        return ""
    return None


def deposit_class(text: object) -> str:
    """Return the deposit class a deposit-type text alone gives ('' when no rule matches).

    The whole classifier (names, commodity signatures, districts) is
    :func:`geomap.harmonize.deposit_types.classify_deposits`.

    >>> deposit_class("Stream Placer"), deposit_class("Felsic Copper"), deposit_class("")
    ('placer', 'vms', '')
    """
    from geomap.harmonize.deposit_types import deposit_class_of_text

    return deposit_class_of_text(text)


def make_site_ids(
    dataset_ids: Sequence[str] | str, sources: Sequence[str], record_ids: Sequence[str]
) -> list[str]:
    """Return stable site ids from dataset, source and record ids (vectorized over rows)."""
    if isinstance(dataset_ids, str):
        dataset_ids = [dataset_ids] * len(record_ids)
    return [
        hashlib.sha1(f"{d}/{s}/{r}".encode(), usedforsecurity=False).hexdigest()[:16]
        for d, s, r in zip(dataset_ids, sources, record_ids, strict=True)
    ]


def empty_occurrences(crs: Any = "EPSG:4326") -> Any:
    """Return an empty frame with the schema's columns and dtypes."""
    return make_occurrences({}, np.empty(0), np.empty(0), crs=crs)


def make_occurrences(
    columns: Mapping[str, Any], x: Any, y: Any, *, crs: Any, extra: Mapping[str, Any] | None = None
) -> Any:
    """Assemble a frame in the common schema from column arrays and point coordinates.

    Parameters
    ----------
    columns : mapping
        Column name -> values (one per row).  Missing string columns are filled with ``""``,
        missing float columns with NaN; ``site_id`` is derived when absent.
    x, y : array-like
        Point coordinates in ``crs``.
    crs : CRS-like
        The coordinates' CRS (required; never assumed).
    extra : mapping, optional
        Further columns appended after the schema's.

    Returns
    -------
    GeoDataFrame
    """
    import geopandas as gpd
    import shapely

    if crs is None:
        raise CRSError("occurrence coordinates need a CRS; pass crs= (e.g. the catalog's)")
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    n = len(x)
    data: dict[str, Any] = {}
    for name, (kind, _) in OCCURRENCE_COLUMNS.items():
        values = columns.get(name)
        if values is None and name == "site_id" and n:
            values = make_site_ids(columns["dataset_id"], columns["source"], columns["record_id"])
        if kind == "float":
            data[name] = (
                np.full(n, np.nan) if values is None else np.asarray(values, dtype="float64")
            )
        else:
            series = pd.Series([""] * n if values is None else list(values), dtype="object")
            data[name] = series.fillna("").astype(str).to_numpy()
    for name, values in (extra or {}).items():
        data[name] = values
    frame = gpd.GeoDataFrame(
        pd.DataFrame(data),
        geometry=shapely.points(x, y) if n else gpd.GeoSeries([], crs=crs),
        crs=crs,
    )
    for name, (kind, _) in OCCURRENCE_COLUMNS.items():
        if kind == "str":
            frame[name] = frame[name].astype("string")
    return frame


def validate_occurrences(frame: Any, *, geographic_bounds: bool = True) -> None:
    """Check a frame against the occurrence schema; raise DataError listing every problem.

    Parameters
    ----------
    frame : GeoDataFrame
        The frame to check.
    geographic_bounds : bool, default True
        For a geographic CRS, also check longitudes in [-180, 180] and latitudes in [-90, 90].

    Raises
    ------
    CRSError
        The frame has no CRS.
    DataError
        A column is missing or of the wrong kind, ``site_id`` is empty or duplicated, or a
        geometry is missing, not a point or not finite.
    """
    import geopandas as gpd
    import shapely

    if not isinstance(frame, gpd.GeoDataFrame):
        raise DataError(f"expected a GeoDataFrame, got {type(frame).__name__}")
    if frame.crs is None:
        raise CRSError("occurrence frame has no CRS; set one with frame.set_crs(...)")
    problems: list[str] = []
    for name, (kind, _) in OCCURRENCE_COLUMNS.items():
        if name not in frame.columns:
            problems.append(f"column {name!r} is missing")
            continue
        dtype = frame[name].dtype
        if kind == "float" and not pd.api.types.is_float_dtype(dtype):
            problems.append(f"column {name!r} must be float, is {dtype}")
        if kind == "str" and not (
            pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype)
        ):
            problems.append(f"column {name!r} must hold strings, is {dtype}")
    if "site_id" in frame.columns:
        ids = frame["site_id"]
        if ids.isna().any() or (ids.astype(str) == "").any():
            problems.append("some site_id values are empty")
        dupes = ids[ids.duplicated()].astype(str).unique()[:5].tolist()
        if dupes:
            problems.append(f"site_id values are duplicated: {dupes}")
    geoms = frame.geometry.to_numpy()
    if len(geoms):
        missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
        if missing.any():
            problems.append(f"{int(missing.sum())} rows have no geometry")
        kinds = shapely.get_type_id(geoms)
        not_point = (kinds != 0) & ~missing
        if not_point.any():
            problems.append(f"{int(not_point.sum())} geometries are not points")
        x = shapely.get_x(geoms)
        y = shapely.get_y(geoms)
        bad = (~np.isfinite(x) | ~np.isfinite(y)) & ~missing & ~not_point
        if bad.any():
            problems.append(f"{int(bad.sum())} points have non-finite coordinates")
        if geographic_bounds and frame.crs.is_geographic:
            out = ((np.abs(x) > 180) | (np.abs(y) > 90)) & ~bad & ~missing & ~not_point
            if out.any():
                first = frame.loc[out, "site_id"].head(3).tolist() if "site_id" in frame else []
                problems.append(
                    f"{int(out.sum())} points lie outside lon [-180, 180] / lat [-90, 90] "
                    f"(e.g. site_id {first})"
                )
    if problems:
        raise DataError("occurrence frame does not follow the schema: " + "; ".join(problems))


def commodity_lists(frame: Any, column: str = "commodities") -> pd.Series:
    """Return the ``;``-joined codes of ``column`` as a Series of lists."""
    from geomap.harmonize.commodities import split_codes

    return frame[column].map(split_codes)


def select_commodities(
    frame: Any,
    selector: str | Iterable[str] | None = None,
    *,
    end_use: str | None = None,
    generic_groups: bool = True,
) -> Any:
    """Return a boolean mask of the rows with any commodity matching a selector or end use.

    Parameters
    ----------
    frame : DataFrame
        An occurrence frame.
    selector : str or iterable of str, optional
        Codes, names, groups (``REE``, ``HREE``, ``PGE``), comma-separated or as a list.
    end_use : str, optional
        An end use (``magnets``, ``batteries``, ...); combined with ``selector`` by AND.
    generic_groups : bool, default True
        With ``end_use``, also keep sites recorded only with a group code whose members
        feed that end use (a site written as generic ``REE`` may hold Nd-Pr: it is kept
        under ``magnets``; :func:`generic_group_only` tells which rows those are).

    Returns
    -------
    Series of bool
    """
    from geomap.harmonize.commodities import expand_selector, load_vocabulary

    mask = pd.Series(True, index=frame.index)
    codes = frame["commodities"].fillna("").astype(str)
    for wanted_spec, is_end_use in ((selector, False), (end_use, True)):
        if wanted_spec is None:
            continue
        spec = wanted_spec if isinstance(wanted_spec, str) else ",".join(wanted_spec)
        wanted = set(expand_selector(spec))
        if is_end_use and generic_groups:
            groups = load_vocabulary().groups
            wanted |= {g for g, members in groups.items() if members & wanted}
        pattern = "|".join(re.escape(code) for code in sorted(wanted, key=len, reverse=True))
        mask &= codes.str.contains(rf"(?:^|;)(?:{pattern})(?:;|$)", regex=True)
    return mask


def generic_group_only(frame: Any, end_use: str) -> Any:
    """Rows kept under ``end_use`` only because they list a generic group code (e.g. REE)."""
    with_groups = select_commodities(frame, end_use=end_use, generic_groups=True)
    strict = select_commodities(frame, end_use=end_use, generic_groups=False)
    return with_groups & ~strict


@dataclass
class OccurrenceSummary:
    """Counts of sites per dataset and source, for notebooks (HTML) and the CLI (text)."""

    table: pd.DataFrame
    reports: list[dict[str, Any]]

    def __str__(self) -> str:
        lines = [self.table.to_string()]
        for report in self.reports:
            unmapped = report.get("unmapped") or {}
            dropped = report.get("dropped") or {}
            lines.append(
                f"{report.get('dataset_id')}: {report.get('records_in')} read, "
                f"{report.get('records_out')} kept; dropped {dropped or 'none'}; "
                f"unmapped commodity names: {sum(unmapped.values())} occurrences "
                f"of {len(unmapped)} names"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from html import escape

        notes = (
            "".join(
                f"<li>{escape(line)}</li>" for line in str(self).splitlines()[-len(self.reports) :]
            )
            if self.reports
            else ""
        )
        return f"<b>occurrences</b>{self.table.to_html()}<ul>{notes}</ul>"


def summarize_occurrences(frame: Any) -> OccurrenceSummary:
    """Summarize an occurrence frame: sites, countries and commodities per dataset and source."""
    grouped = frame.groupby(["dataset_id", "source"], sort=True)
    table = pd.DataFrame(
        {
            "sites": grouped.size(),
            "countries": grouped["country"].nunique(),
            "with_commodities": grouped["commodities"].apply(lambda s: int((s != "").sum())),
            "with_grade_or_tonnage": grouped.apply(
                lambda g: int(((g["grades"] != "") | g["ore_tonnage_mt"].notna()).sum()),
                include_groups=False,
            ),
        }
    )
    report = frame.attrs.get("geomap_report")
    reports = report if isinstance(report, list) else ([report] if report else [])
    return OccurrenceSummary(table=table, reports=reports)

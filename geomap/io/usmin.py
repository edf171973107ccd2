"""Reader for the USGS USMIN lithium-deposit CSV tables (``usgs-lithium-deposits-us-2019``).

One row per ``Site`` (21 sites) in the common occurrence schema, joined on ``Site_ID``:

- **location**: the site's ``Approx_Lon``/``Approx_Lat`` (WGS84 per the catalog); when a site
  has none, the mean of its ``Loc_Pt`` mine-feature points (counted); otherwise dropped and
  counted.  ``n_features`` gives the number of ``Loc_Pt`` points of the site.
- **commodities**: ``Site.Commodity`` (``"lithium; bromine"``) through the commodity
  vocabulary; the first listed commodity is the primary one (USMIN lists the main commodity
  first).
- **deposit type**: the distinct ``Dep_Model.DpMd_NoNm`` of the site (``"lithium brine"``).
- **tonnage/grade**: from ``Resources``, SI columns: ``ore_tonnage_mt`` is the largest ore or
  brine amount in metric tons (million tonnes); ``grades`` gives, per commodity, the grade of
  that largest estimate.  USMIN writes some amounts negative and flags calculated values with
  a trailing ``.111``: amounts are read as absolute values and the flag is removed; both are
  counted in the report (see the USMIN FGDC metadata for the conventions).
- **host lithology**: the distinct ``GeolMinOcc.Host_Litho`` (a Windows-1252 file), as the
  extra column ``host_lithology``.

Every table is decoded with the encoding the catalog declares for it; ``<Null>`` is a null.
"""

from __future__ import annotations

import io
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.errors import CRSError, DataError, UnknownNameError
from geomap.io._text import refuse_duplicate_columns
from geomap.io.point_tables import decode_text
from geomap.io.registry import reader

__all__ = ["read_usmin"]

_REQUIRED = {
    "Site.csv": ["Site_ID", "Site_Name", "Commodity", "Approx_Lon", "Approx_Lat"],
    "Loc_Pt.csv": ["Site_ID", "Lat_WGS84", "Long_WGS84", "State"],
    "Dep_Model.csv": ["Site_ID", "DpMd_NoNm"],
    "Resources.csv": [
        "Site_ID",
        "Mat_Type",
        "MatAmntSI",
        "MatUnitsSI",
        "GradeSI",
        "GradUnitSI",
        "CntSICom",
    ],
    "GeolMinOcc.csv": ["Site_ID", "Host_Litho"],
}
_GRADE_UNITS = {
    "parts per million": "ppm",
    "percent": "%",
    "weight percent": "%",
    "milligrams per liter": "mg/L",
}
_CALCULATED_FLAG = re.compile(r"\.111$")


def _table(dataset: Dataset, paths: dict[str, Path], name: str, report: IngestReport) -> Any:
    import pandas as pd

    entry = next((f for f in dataset.files if f.path.endswith("/" + name)), None)
    if entry is None:
        raise DataError(f"dataset {dataset.id!r} lists no table {name!r}; add it to the catalog")
    path = paths[entry.path]
    text = decode_text(path, entry, dataset.id, report)
    refuse_duplicate_columns(text, source=str(path))
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=str, keep_default_na=False, na_values=["<Null>"]
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"{path}: not a readable CSV table ({exc}); re-fetch it") from None
    frame.columns = [str(c).replace(" *", "").strip() for c in frame.columns]
    missing = [c for c in _REQUIRED[name] if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: column {missing[0]!r} is missing (found {list(frame.columns)[:12]}); "
            "the file is not a USMIN table or was altered"
        )
    duplicated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if duplicated:
        raise DataError(f"{path}: column {duplicated[0]!r} appears twice; keep one")
    frame.attrs["crs"] = entry.crs
    return frame


def _usmin_number(text: Any, report: IngestReport, what: str) -> float:
    if not isinstance(text, str) or not text.strip():
        return math.nan
    cleaned = text.replace(",", "").strip()
    if _CALCULATED_FLAG.search(cleaned):
        cleaned = _CALCULATED_FLAG.sub("", cleaned)
        report.normalize(f"{what}: calculated-value flag '.111' removed")
    try:
        value = float(cleaned)
    except ValueError:
        report.normalize(f"{what}: unreadable number ignored")
        return math.nan
    if value < 0:
        report.normalize(f"{what}: negative amount read as its absolute value")
        value = -value
    return value


def _coordinate(text: Any) -> float:
    try:
        return float(str(text).replace(",", ""))
    except (TypeError, ValueError):
        return math.nan


@reader("usmin-lithium")
def read_usmin(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    on_bad_coordinates: str = "raise",
    **options: Any,
) -> Any:
    """Read the USMIN lithium tables as one row per site in the common occurrence schema.

    Parameters
    ----------
    dataset : Dataset
        The catalog entry.
    paths : dict
        Catalog file path -> verified local path.
    layer : {"sites"}, optional
        The only layer; accepted for symmetry with the other readers.
    on_bad_coordinates : {"raise", "drop"}, default "raise"
        Out-of-range coordinates raise a CRSError naming the sites, or are dropped and counted.

    Returns
    -------
    GeoDataFrame
        EPSG:4326 points with ``host_lithology`` and ``n_features`` after the schema columns.
    """
    from geomap.harmonize.commodities import load_vocabulary
    from geomap.harmonize.occurrences import deposit_class, make_occurrences, validate_occurrences

    if options:
        raise TypeError(f"read_usmin got unknown options {sorted(options)}")
    if layer not in (None, "sites"):
        raise UnknownNameError(f"dataset {dataset.id!r} has one layer, 'sites'; got {layer!r}")
    if on_bad_coordinates not in ("raise", "drop"):
        raise ValueError(f"on_bad_coordinates={on_bad_coordinates!r}; use 'raise' or 'drop'")
    report = IngestReport(dataset.id)
    vocab = load_vocabulary()
    sites = _table(dataset, paths, "Site.csv", report)
    points = _table(dataset, paths, "Loc_Pt.csv", report)
    models = _table(dataset, paths, "Dep_Model.csv", report)
    resources = _table(dataset, paths, "Resources.csv", report)
    geology = _table(dataset, paths, "GeolMinOcc.csv", report)
    crs = sites.attrs.get("crs")
    if crs is None:
        raise CRSError(
            f"{dataset.id}: Site.csv has no CRS declared in the catalog; add 'crs:' to its entry"
        )
    report.records_in = len(sites)
    dupes = sites["Site_ID"][sites["Site_ID"].duplicated()].tolist()
    if dupes:
        raise DataError(f"{dataset.id}: Site_ID {dupes[0]!r} appears twice in Site.csv")

    pt_lon = points["Long_WGS84"].map(_coordinate)
    pt_lat = points["Lat_WGS84"].map(_coordinate)
    pt_groups = dict(points.groupby("Site_ID").groups.items())
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "record_id",
            "name",
            "state",
            "commodities",
            "primary_commodities",
            "commodities_raw",
            "deposit_type",
            "deposit_class",
            "grades",
            "host_lithology",
            "n_features",
        )
    }
    lons: list[float] = []
    lats: list[float] = []
    ore: list[float] = []
    unmapped_records = 0
    for _, site in sites.iterrows():
        sid = str(site["Site_ID"])
        lon = _coordinate(site["Approx_Lon"])
        lat = _coordinate(site["Approx_Lat"])
        feature_idx = pt_groups.get(sid, [])
        if math.isnan(lon) or math.isnan(lat):
            f_lon = np.nanmean(pt_lon.loc[feature_idx]) if len(feature_idx) else math.nan
            f_lat = np.nanmean(pt_lat.loc[feature_idx]) if len(feature_idx) else math.nan
            if math.isnan(f_lon) or math.isnan(f_lat):
                report.drop("no location (no approximate point, no Loc_Pt features)")
                continue
            lon, lat = float(f_lon), float(f_lat)
            report.normalize("site location taken as the mean of its Loc_Pt features")
        states = points.loc[feature_idx, "State"].dropna() if len(feature_idx) else []
        state = Counter(states).most_common(1)[0][0] if len(states) else sid[:2]
        raw = [p.strip() for p in str(site["Commodity"] or "").split(";") if p.strip()]
        codes: set[str] = set()
        primary: set[str] = set()
        has_unmapped = False
        for i, name in enumerate(raw):
            match = vocab.match(name)
            codes |= match.codes
            if i == 0:
                primary |= match.codes
            for part in match.unmapped:
                report.unmapped[part] += 1
                has_unmapped = True
        unmapped_records += has_unmapped
        site_models = models.loc[models["Site_ID"] == sid, "DpMd_NoNm"].dropna().unique().tolist()
        site_res = resources.loc[resources["Site_ID"] == sid]
        best_t = math.nan
        grade_by_code: dict[str, tuple[float, str]] = {}
        for _, row in site_res.iterrows():
            amount = _usmin_number(row["MatAmntSI"], report, "Resources")
            if str(row["MatUnitsSI"]).strip() != "metric tons" or str(row["Mat_Type"]) not in (
                "ore",
                "brine",
            ):
                continue
            best_t = amount if math.isnan(best_t) else max(best_t, amount)
            grade = _usmin_number(row["GradeSI"], report, "Resources")
            code = "+".join(sorted(vocab.normalize(str(row["CntSICom"])))) or str(row["CntSICom"])
            unit = _GRADE_UNITS.get(str(row["GradUnitSI"]).strip(), str(row["GradUnitSI"]))
            if not math.isnan(grade) and (
                code not in grade_by_code or amount > grade_by_code[code][0]
            ):
                grade_by_code[code] = (amount, f"{code} {grade:g} {unit}")
        lithology = geology.loc[geology["Site_ID"] == sid, "Host_Litho"].dropna().unique()
        lons.append(lon)
        lats.append(lat)
        ore.append(best_t / 1e6 if not math.isnan(best_t) else math.nan)
        cols["record_id"].append(sid)
        cols["name"].append(str(site["Site_Name"] or "").strip())
        cols["state"].append(state)
        cols["commodities"].append(";".join(sorted(codes)))
        cols["primary_commodities"].append(";".join(sorted(primary)))
        cols["commodities_raw"].append("; ".join(raw))
        cols["deposit_type"].append("; ".join(site_models))
        cols["deposit_class"].append(deposit_class(site_models[0]) if site_models else "")
        cols["grades"].append(
            "; ".join(v for _, v in sorted(grade_by_code.values(), key=lambda t: t[1]))
        )
        cols["host_lithology"].append("; ".join(lithology))
        cols["n_features"].append(len(feature_idx))
    lon_a = np.asarray(lons, dtype=float)
    lat_a = np.asarray(lats, dtype=float)
    bad = (np.abs(lon_a) > 180) | (np.abs(lat_a) > 90)
    if bad.any() and on_bad_coordinates == "raise":
        shown = ", ".join(
            f"site {cols['record_id'][i]} at ({lon_a[i]:g}, {lat_a[i]:g})"
            for i in np.flatnonzero(bad)[:5]
        )
        raise CRSError(
            f"{dataset.id}: coordinates outside lon [-180, 180] / lat [-90, 90] (swapped?): "
            f"{shown}; fix Site.csv or pass on_bad_coordinates='drop'"
        )
    report.drop("invalid coordinates (dropped on request)", int(bad.sum()))
    keep = ~bad
    n = int(keep.sum())
    kept = {k: [v for v, m in zip(vals, keep, strict=True) if m] for k, vals in cols.items()}
    columns = {
        **{k: kept[k] for k in kept if k not in ("host_lithology", "n_features")},
        "dataset_id": [dataset.id] * n,
        "source": ["usmin_lithium_sites"] * n,
        "country": ["USA"] * n,
        "country_name": ["United States"] * n,
        "ore_tonnage_mt": np.asarray(ore, dtype=float)[keep],
        "license": [dataset.license.spdx] * n,
        "source_crs": [crs] * n,
    }
    extra = {
        "host_lithology": kept["host_lithology"],
        "n_features": np.asarray(kept["n_features"], dtype="int64"),
    }
    frame = make_occurrences(columns, lon_a[keep], lat_a[keep], crs=crs, extra=extra)
    report.records_out = len(frame)
    report.notes.append(f"{unmapped_records} sites with unmapped commodity names")
    frame.attrs["geomap_report"] = report.to_dict()
    validate_occurrences(frame)
    return frame

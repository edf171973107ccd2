"""Reader ``usgs-ngs``: the USGS National Geochemical Survey (NGS) database.

Source
    U.S. Geological Survey (2004), The National Geochemical Survey — database and
    documentation, Open-File Report 2004-1001, https://mrdata.usgs.gov/geochem/ .
    U.S. Government work, public domain; credit "USGS National Geochemical Survey
    (OFR 2004-1001)" (the catalog attribution).

Layout
    ``geochem.csv`` (in ``ngs-csv.zip`` or ``ngs.zip``): one row per sample with
    ``LATITUDE, LONGITUDE, CATEGORY, DATASET, MEDIUM`` and one column per element and
    method, ``<EL>_<METHOD>`` (``LA_ICP40``, ``CE_ICP40``, ``Y_ICP40``, ``TH_ICP40``,
    ``U_ICP40``, ``NB_ICP40``, ``LI_ICP40``, ``SN_ICP40``, ``AU_AA``, ``AU_FA``, ...).

Units and conventions (the NGS documentation)
    * trace elements in ppm; the ICP40 major elements (Al, Ca, Fe, K, Mg, Na, P, Ti) in
      weight percent (× 10,000 to ppm); gold (``AU_*``) in ppb (÷ 1,000);
    * a **negative value -d means "below the detection limit d"**: it is *censored*,
      not missing and not a negative concentration (``<El>_censored`` True,
      ``<El>_dl_ppm`` = d in ppm, ``<El>_ppm`` NaN); an empty cell is "not analysed"
      (NaN, not censored);
    * where an element was measured by several methods (gold by AA and FA), the value
      of the first method with a result is used, ICP40 first, then file order; the
      method chosen is in ``<El>_method``.

Output: the geochemistry schema of :mod:`geomap.io.geochem` (``<El>_ppm``,
``<El>_censored``, ``<El>_dl_ppm``; ``attrs["geomap_elements"]``) as points in the CRS
the catalog declares for the file (the reader never assumes one).  The CSV is streamed
in chunks and only samples inside ``bbox`` are kept.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.errors import CRSError, DataError
from geomap.io._reader_entry import attach_report, only_file, reject_unknown_options
from geomap.io._windows import BBox, check_bbox
from geomap.io.geochem import ELEMENTS
from geomap.io.mrds import in_bbox, iter_csv_chunks
from geomap.io.registry import reader

__all__ = ["NGS_REQUIRED", "ngs_element_columns", "read_ngs", "read_ngs_path"]

NGS_REQUIRED = ("LATITUDE", "LONGITUDE", "CATEGORY", "DATASET", "MEDIUM")
"""Columns the reader needs."""

_COLUMN = re.compile(r"^(?P<el>[A-Z][A-Z]?)_(?P<method>[A-Z][A-Z0-9]*)$")
_PERCENT_ICP40 = {"Al", "Ca", "Fe", "K", "Mg", "Na", "P", "Ti"}
_NOT_ELEMENT_METHODS = {"ID", "NO", "NAME", "TYPE", "CODE"}


def ngs_element_columns(columns: list[str]) -> dict[str, tuple[str, str, float]]:
    """Map NGS element columns to (element, method, factor to ppm).

    >>> found = ngs_element_columns(["LA_ICP40", "AL_ICP40", "AU_FA", "LAB_ID"])
    >>> for column, spec in found.items():
    ...     print(column, spec)
    LA_ICP40 ('La', 'ICP40', 1.0)
    AL_ICP40 ('Al', 'ICP40', 10000.0)
    AU_FA ('Au', 'FA', 0.001)
    """
    out: dict[str, tuple[str, str, float]] = {}
    for column in columns:
        match = _COLUMN.match(column.strip())
        if not match or match["method"] in _NOT_ELEMENT_METHODS:
            continue
        element = match["el"].title()
        if element not in ELEMENTS:
            continue
        method = match["method"]
        if element == "Au":
            factor = 1e-3
        elif method == "ICP40" and element in _PERCENT_ICP40:
            factor = 1e4
        else:
            factor = 1.0
        out[column] = (element, method, factor)
    return out


def _element_values(
    frame: pd.DataFrame, elements: dict[str, tuple[str, str, float]], report: IngestReport
) -> dict[str, Any]:
    by_element: dict[str, list[str]] = {}
    for column, (element, _, _) in elements.items():
        by_element.setdefault(element, []).append(column)
    out: dict[str, Any] = {}
    n = len(frame)
    for element, columns in by_element.items():
        columns = sorted(
            columns, key=lambda c: (elements[c][1] != "ICP40", list(elements).index(c))
        )
        value = np.full(n, np.nan)
        censored = np.zeros(n, dtype=bool)
        limit = np.full(n, np.nan)
        method = np.full(n, "", dtype=object)
        done = np.zeros(n, dtype=bool)
        for column in columns:
            factor = elements[column][2]
            raw = pd.to_numeric(frame[column].replace("", np.nan), errors="coerce").to_numpy()
            text = frame[column].astype(str).str.strip()
            unreadable = (
                np.isnan(raw) & (text != "").to_numpy() & (text.str.lower() != "nan").to_numpy()
            )
            report.normalize(f"{column}: unreadable values set to NaN", int(unreadable.sum()))
            zero = raw == 0
            report.normalize(
                f"{column}: zero values (not a concentration) set to NaN", int(zero.sum())
            )
            has = np.isfinite(raw) & ~zero & ~done
            below = has & (raw < 0)
            value[has & ~below] = raw[has & ~below] * factor
            censored[below] = True
            limit[below] = -raw[below] * factor
            method[has] = elements[column][1]
            report.normalize(
                f"{column}: below detection (negative = -limit) kept as censored", int(below.sum())
            )
            done |= has
        out[f"{element}_ppm"] = value
        out[f"{element}_censored"] = censored
        out[f"{element}_dl_ppm"] = limit
        if len(columns) > 1:
            out[f"{element}_method"] = method
    return out


def read_ngs_path(
    source: Path,
    *,
    crs: str | None,
    bbox: BBox | None = None,
    encoding: str = "utf-8",
    dataset_id: str = "usgs-national-geochemical-survey",
) -> Any:
    """Read ``geochem.csv`` (zipped or not) into the geochemistry schema, inside ``bbox``.

    Parameters
    ----------
    crs : str
        The CRS of LATITUDE/LONGITUDE (from the catalog entry; required, never assumed).
    """
    import geopandas as gpd

    if crs is None:
        raise CRSError(
            f"{source}: the NGS coordinates need a declared CRS; set 'crs' on the catalog file "
            "entry (the NGS documentation gives the datum) or pass crs=..."
        )
    bbox = check_bbox(bbox)
    report = IngestReport(dataset_id)
    kept = []
    outside = 0
    for chunk in iter_csv_chunks(
        Path(source), "geochem.csv", encoding=encoding, required=NGS_REQUIRED
    ):
        report.records_in += len(chunk)
        lat = pd.to_numeric(chunk["LATITUDE"], errors="coerce").to_numpy()
        lon = pd.to_numeric(chunk["LONGITUDE"], errors="coerce").to_numpy()
        usable = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        report.drop("no or invalid coordinates", int((~usable).sum()))
        inside = usable & in_bbox(lon, lat, bbox)
        outside += int((usable & ~inside).sum())
        kept.append(chunk.loc[inside].assign(_lon=lon[inside], _lat=lat[inside]))
    frame = pd.concat(kept, ignore_index=True)
    if bbox is not None:
        report.notes.append(
            f"window {bbox}: {len(frame):,} samples kept, {outside:,} outside not kept"
        )
    elements = ngs_element_columns([c for c in frame.columns if not c.startswith("_")])
    if not elements:
        raise DataError(
            f"{source}: no element columns (<EL>_<METHOD>, e.g. LA_ICP40); check the file"
        )
    table: dict[str, Any] = {
        "sample_id": frame.get("LAB_ID", frame.get("REC_NO", pd.Series([""] * len(frame)))).astype(
            "string"
        ),
        "category": frame["CATEGORY"].astype("string"),
        "dataset": frame["DATASET"].astype("string"),
        "medium": frame["MEDIUM"].astype("string"),
    }
    if "STATE" in frame.columns:
        table["state"] = frame["STATE"].astype("string")
    table.update(_element_values(frame, elements, report))
    out = gpd.GeoDataFrame(
        pd.DataFrame(table), geometry=gpd.points_from_xy(frame["_lon"], frame["_lat"]), crs=crs
    )
    report.records_out = len(out)
    symbols = sorted({e for e, _, _ in elements.values()})
    return attach_report(
        out, report, geomap_source=dataset_id, geomap_elements=symbols, geomap_window=bbox
    )


@reader("usgs-ngs")
def read_ngs(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    bbox: BBox | None = None,
    encoding: str | None = None,
    **options: Any,
) -> Any:
    """Read the NGS catalog dataset (see :func:`read_ngs_path`)."""
    reject_unknown_options("usgs-ngs", options, ["bbox", "encoding"])
    relpath, path = only_file(dataset, paths, layer, "samples")
    entry = dataset.file(relpath)
    return read_ngs_path(
        path,
        crs=entry.crs,
        bbox=bbox,
        encoding=encoding or entry.encoding or "utf-8",
        dataset_id=dataset.id,
    )


read_ngs.geomap_windowed = True  # type: ignore[attr-defined]

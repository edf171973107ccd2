"""Reader for the carbonatite and kimberlite point tables (``carbonatites-kimberlites-global``).

These are occurrences of rocks, not of commodities: they come back in the common occurrence
schema with empty ``commodities``, ``deposit_class`` ``"carbonatite"`` or ``"kimberlite"`` and
an extra ``rock_type`` column.  ``layer`` is ``"carbonatites"``, ``"kimberlites"`` or None
(both).

- ``carbonatites_woolley2008.csv`` (CRLF, header ``longitude,latitude,age_info``, no names or
  ids): the free-text ages are parsed to Ma where possible (:func:`parse_age_ma`); the record
  id is the coordinate pair as written (``"-115.53,35.48"``, with ``#2`` ... for repeats), so
  it does not depend on row order.
- ``kimberlites_tappe2018.csv`` (UTF-8 with a byte-order mark, **no header on line 1**, a
  section title and a header buried mid-file before the Group-2 kimberlites): rows are data
  when their first field is an integer; the title and the buried header are skipped and noted;
  rows without coordinates are dropped and counted.  Record ids are ``"<No.>"`` in the first
  section and ``"group2-<No.>"`` in the second (the numbering restarts there).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from geomap.catalog import DataFile, Dataset
from geomap.core.report import IngestReport
from geomap.errors import CRSError, DataError, UnknownNameError
from geomap.io.registry import reader

__all__ = ["parse_age_ma", "read_point_tables"]

_LAYERS = {
    "carbonatites": "carbonatites_woolley2008.csv",
    "kimberlites": "kimberlites_tappe2018.csv",
}

# geological time intervals (start, end) in Ma, ICS chart 2023 (boundaries rounded)
_INTERVALS: dict[str, tuple[float, float]] = {
    "precambrian": (4600.0, 538.8),
    "archean": (4000.0, 2500.0),
    "paleoproterozoic": (2500.0, 1600.0),
    "mesoproterozoic": (1600.0, 1000.0),
    "neoproterozoic": (1000.0, 538.8),
    "proterozoic": (2500.0, 538.8),
    "phanerozoic": (538.8, 0.0),
    "paleozoic": (538.8, 251.9),
    "cambrian": (538.8, 485.4),
    "ordovician": (485.4, 443.8),
    "silurian": (443.8, 419.2),
    "devonian": (419.2, 358.9),
    "carboniferous": (358.9, 298.9),
    "mississippian": (358.9, 323.2),
    "pennsylvanian": (323.2, 298.9),
    "permian": (298.9, 251.9),
    "mesozoic": (251.9, 66.0),
    "triassic": (251.9, 201.4),
    "jurassic": (201.4, 145.0),
    "cretaceous": (145.0, 66.0),
    "cenozoic": (66.0, 0.0),
    "tertiary": (66.0, 2.58),
    "paleogene": (66.0, 23.03),
    "paleocene": (66.0, 56.0),
    "eocene": (56.0, 33.9),
    "oligocene": (33.9, 23.03),
    "neogene": (23.03, 2.58),
    "miocene": (23.03, 5.333),
    "pliocene": (5.333, 2.58),
    "quaternary": (2.58, 0.0),
    "pleistocene": (2.58, 0.0117),
    "holocene": (0.0117, 0.0),
    # orogenic / magmatic events named in the carbonatite list
    "hercynian": (380.0, 280.0),
    "variscan": (380.0, 280.0),
    "gardar": (1350.0, 1140.0),
}
_QUALIFIER_THIRD = {"early": 0, "lower": 0, "middle": 1, "mid": 1, "late": 2, "upper": 2}
_NUMBER = r"(\d+(?:\.\d+)?)"
_RANGE = re.compile(_NUMBER + r"\s*(?:-|–|to)\s*" + _NUMBER + r"\s*(Ga|Ma|ka)?", re.IGNORECASE)
_SINGLE = re.compile(_NUMBER + r"\s*(?:±\s*[\d.]+\s*)?(Ga|Ma|ka)?", re.IGNORECASE)
_OPEN_BOUND = re.compile(r"\b(post|pre|younger|older|after|before)\b", re.IGNORECASE)
_NAMED = re.compile(
    r"(?:\b(early|lower|middle|mid|late|upper)\b[\s-]*)?\b(" + "|".join(_INTERVALS) + r")\b",
    re.IGNORECASE,
)
_UNIT_FACTOR = {"ga": 1000.0, "ma": 1.0, "ka": 0.001, "": 1.0}


def parse_age_ma(text: object) -> tuple[float, str]:
    """Parse a free-text age to Ma; return ``(age, how)`` with ``how`` in number/interval/''.

    Numbers win over names: ``"Late Proterozoic-- 679 ± 25 Ma (K-Ar)"`` is 679; a range gives
    its midpoint (``"109-130 Ma"`` -> 119.5); ``Ga`` and ``ka`` are converted; bare numbers are
    Ma (the column's unit).  Without numbers, named intervals give the midpoint of their span
    (``"Early Cretaceous"`` -> the oldest third of the Cretaceous); open bounds such as
    ``"Post-Devonian"`` or ``"Permian or younger"`` give NaN.

    >>> parse_age_ma("Proterozoic-- 1400 Ma")
    (1400.0, 'number')
    >>> parse_age_ma("1.25 Ga  (U-Pb")
    (1250.0, 'number')
    >>> parse_age_ma("Cretaceous")
    (105.5, 'interval')
    >>> parse_age_ma("Post-early Cretaceous")[1]
    ''
    """
    if not isinstance(text, str) or not text.strip():
        return math.nan, ""
    cleaned = text.replace("--", " ")
    ranged = _RANGE.search(cleaned)
    single = _SINGLE.search(cleaned)
    if ranged and (single is None or ranged.start() <= single.start()):
        low, high = float(ranged.group(1)), float(ranged.group(2))
        factor = _UNIT_FACTOR[(ranged.group(3) or "").lower()]
        return (low + high) / 2 * factor, "number"
    if single:
        factor = _UNIT_FACTOR[(single.group(2) or "").lower()]
        return float(single.group(1)) * factor, "number"
    if _OPEN_BOUND.search(text):
        return math.nan, ""
    spans = []
    for match in _NAMED.finditer(text):
        start, end = _INTERVALS[match.group(2).lower()]
        qualifier = (match.group(1) or "").lower()
        if qualifier:
            third = (start - end) / 3
            start = start - _QUALIFIER_THIRD[qualifier] * third
            end = start - third
        spans.append((start, end))
    if not spans:
        return math.nan, ""
    oldest = max(s for s, _ in spans)
    youngest = min(e for _, e in spans)
    return round((oldest + youngest) / 2, 3), "interval"


def decode_text(path: Path, entry: DataFile, dataset_id: str, report: IngestReport) -> str:
    """Read a text file in its catalog-declared encoding; clear errors for empty or wrong files."""
    encoding = entry.encoding or "utf-8"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(
            f"{path}: cannot be read ({exc.strerror}); re-fetch with `geomap fetch {dataset_id}`"
        ) from exc
    if not raw.strip():
        raise DataError(
            f"{path} is empty ({len(raw)} bytes); re-fetch it with `geomap fetch {dataset_id}`"
        )
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        # utf-8-sig decodes after its 3-byte BOM: shift positions back onto the file's bytes
        at = exc.start + len(raw) - len(exc.object)
        raise DataError(
            f"{path} is not valid {encoding} (byte {raw[at]:#04x} at offset {at}); "
            "set the file's 'encoding' in data_catalog.yaml to the real one (e.g. cp1252)"
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
        report.normalize(f"{Path(entry.path).name}: byte-order mark removed")
    return text


def _check_degrees(lon: np.ndarray, lat: np.ndarray, labels: list[str], on_bad: str) -> np.ndarray:
    bad = (np.abs(lat) > 90) | (np.abs(lon) > 180)
    if bad.any() and on_bad == "raise":
        shown = "; ".join(
            f"{labels[i]} at ({lon[i]:g}, {lat[i]:g})"
            + (": longitude and latitude look swapped" if abs(lat[i]) > 90 >= abs(lon[i]) else "")
            for i in np.flatnonzero(bad)[:5]
        )
        raise CRSError(
            f"{int(bad.sum())} points are outside lon [-180, 180] / lat [-90, 90]: {shown}. "
            "Fix the source rows or pass on_bad_coordinates='drop' to drop and count them"
        )
    return bad


def _float(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _read_carbonatites(
    dataset: Dataset, entry: DataFile, path: Path, report: IngestReport, on_bad: str
) -> Any:
    from geomap.harmonize.occurrences import make_occurrences

    text = decode_text(path, entry, dataset.id, report)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = [h.strip().lower() for h in rows[0]] if rows else []
    if header[:3] != ["longitude", "latitude", "age_info"]:
        raise DataError(
            f"{path}: expected the header 'longitude,latitude,age_info', "
            f"got {rows[0] if rows else []!r}; replace it with the catalogued file "
            "(`geomap fetch` checks its hash)"
        )
    lons, lats, ages, texts, ids = [], [], [], [], []
    seen: Counter[str] = Counter()
    how_counts: Counter[str] = Counter()
    for line_no, row in enumerate(rows[1:], start=2):
        report.records_in += 1
        lon = _float(row[0]) if len(row) > 0 else math.nan
        lat = _float(row[1]) if len(row) > 1 else math.nan
        if math.isnan(lon) or math.isnan(lat):
            report.drop("carbonatites: no coordinates")
            continue
        age_text = row[2].strip() if len(row) > 2 else ""
        age, how = parse_age_ma(age_text)
        how_counts[how or ("no age given" if not age_text else "age text not parsed")] += 1
        key = f"{row[0].strip()},{row[1].strip()}"
        seen[key] += 1
        ids.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
        lons.append(lon)
        lats.append(lat)
        ages.append(age)
        texts.append(age_text)
        del line_no
    report.normalize("carbonatites: age parsed from numbers (Ma)", how_counts["number"])
    report.normalize("carbonatites: age from a named interval (midpoint)", how_counts["interval"])
    for reason in ("age text not parsed", "no age given"):
        if how_counts[reason]:
            report.notes.append(f"carbonatites: {how_counts[reason]} rows, {reason} (age_ma NaN)")
    lon_a, lat_a = np.asarray(lons, dtype=float), np.asarray(lats, dtype=float)
    bad = _check_degrees(lon_a, lat_a, [f"carbonatite {i}" for i in ids], on_bad)
    report.drop("carbonatites: invalid coordinates (dropped on request)", int(bad.sum()))
    keep = ~bad
    n = int(keep.sum())
    columns = {
        "name": [""] * n,
        "dataset_id": [dataset.id] * n,
        "source": ["carbonatites_woolley2008"] * n,
        "record_id": [v for v, k in zip(ids, keep, strict=True) if k],
        "deposit_type": ["carbonatite"] * n,
        "deposit_class": ["carbonatite"] * n,
        "age_ma": np.asarray(ages, dtype=float)[keep],
        "license": [dataset.license.spdx] * n,
        "source_crs": [entry.crs or ""] * n,
    }
    extra = {
        "rock_type": ["carbonatite"] * n,
        "age_text": [v for v, k in zip(texts, keep, strict=True) if k],
        "age_method": [""] * n,
    }
    return make_occurrences(columns, lon_a[keep], lat_a[keep], crs=entry.crs, extra=extra)


def _read_kimberlites(
    dataset: Dataset, entry: DataFile, path: Path, report: IngestReport, on_bad: str
) -> Any:
    from geomap.harmonize.occurrences import country_iso3, make_occurrences

    text = decode_text(path, entry, dataset.id, report)
    section = 1
    cols: dict[str, list[Any]] = {
        k: [] for k in ("id", "name", "country", "lon", "lat", "method", "age")
    }
    for line_no, row in enumerate(csv.reader(io.StringIO(text, newline="")), start=1):
        first = row[0].strip() if row else ""
        if not any(field.strip() for field in row):
            continue
        if first.lower().startswith("no."):
            report.notes.append(f"kimberlites: embedded header on line {line_no} skipped")
            continue
        if not first.isdigit():
            if not any(field.strip() for field in row[1:]):
                section += 1
                report.notes.append(
                    f"kimberlites: section title on line {line_no} skipped ({first[:60]!r}); "
                    "the rows after it are Group-2 kimberlites (orangeites)"
                )
            else:
                report.records_in += 1
                report.drop("kimberlites: row without a record number")
            continue
        report.records_in += 1
        if len(row) < 8:
            report.drop("kimberlites: row with fewer than 8 fields")
            continue
        lon, lat = _float(row[3]), _float(row[4])
        if math.isnan(lon) or math.isnan(lat):
            report.drop("kimberlites: no coordinates")
            continue
        cols["id"].append(first if section == 1 else f"group{section}-{first}")
        cols["name"].append(row[1].strip())
        cols["country"].append(row[2].strip())
        cols["lon"].append(lon)
        cols["lat"].append(lat)
        cols["method"].append(" / ".join(p.strip() for p in row[5:7] if p.strip()))
        cols["age"].append(_float(row[7]))
    lon_a, lat_a = np.asarray(cols["lon"], dtype=float), np.asarray(cols["lat"], dtype=float)
    labels = [f"kimberlite {i} ({n!r})" for i, n in zip(cols["id"], cols["name"], strict=True)]
    bad = _check_degrees(lon_a, lat_a, labels, on_bad)
    report.drop("kimberlites: invalid coordinates (dropped on request)", int(bad.sum()))
    keep = ~bad

    def kept(values: list[Any]) -> list[Any]:
        return [v for v, k in zip(values, keep, strict=True) if k]

    iso3 = []
    for name in kept(cols["country"]):
        code = country_iso3(name)
        if code is None:
            report.unmapped[f"country: {name}"] += 1
        iso3.append(code or "")
    n = int(keep.sum())
    rock = [
        "kimberlite" if not i.startswith("group") else "orangeite (Group-2 kimberlite)"
        for i in kept(cols["id"])
    ]
    columns = {
        "name": kept(cols["name"]),
        "dataset_id": [dataset.id] * n,
        "source": ["kimberlites_tappe2018"] * n,
        "record_id": kept(cols["id"]),
        "country": iso3,
        "country_name": kept(cols["country"]),
        "deposit_type": rock,
        "deposit_class": ["kimberlite"] * n,
        "age_ma": np.asarray(cols["age"], dtype=float)[keep],
        "license": [dataset.license.spdx] * n,
        "source_crs": [entry.crs or ""] * n,
    }
    extra = {"rock_type": rock, "age_text": [""] * n, "age_method": kept(cols["method"])}
    return make_occurrences(columns, lon_a[keep], lat_a[keep], crs=entry.crs, extra=extra)


@reader("carbonatites-kimberlites")
def read_point_tables(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    on_bad_coordinates: str = "raise",
    **options: Any,
) -> Any:
    """Read the carbonatite and/or kimberlite tables into the common occurrence schema.

    Parameters
    ----------
    dataset : Dataset
        The catalog entry (``carbonatites-kimberlites-global``).
    paths : dict
        Catalog file path -> verified local path.
    layer : {"carbonatites", "kimberlites"}, optional
        One table; default both.
    on_bad_coordinates : {"raise", "drop"}, default "raise"
        Out-of-range coordinates raise a CRSError naming the rows, or are dropped and counted.

    Returns
    -------
    GeoDataFrame
        In the catalog-declared CRS (EPSG:4326), with ``rock_type``, ``age_text`` and
        ``age_method`` after the schema's columns and ``attrs["geomap_report"]``.
    """
    import geopandas as gpd
    import pandas as pd

    from geomap.harmonize.occurrences import validate_occurrences

    if options:
        raise TypeError(f"read_point_tables got unknown options {sorted(options)}")
    if on_bad_coordinates not in ("raise", "drop"):
        raise ValueError(f"on_bad_coordinates={on_bad_coordinates!r}; use 'raise' or 'drop'")
    if layer is not None and layer not in _LAYERS:
        raise UnknownNameError(
            f"dataset {dataset.id!r} has no layer {layer!r}; use one of {sorted(_LAYERS)}"
        )
    report = IngestReport(dataset.id)
    parts = []
    for name in [layer] if layer else list(_LAYERS):
        entry = next((f for f in dataset.files if f.path.endswith(_LAYERS[name])), None)
        if entry is None:
            raise DataError(f"dataset {dataset.id!r} lists no file {_LAYERS[name]!r}")
        if entry.crs is None:
            raise CRSError(
                f"{entry.path} has no CRS in the file nor in the catalog; add 'crs:' to its "
                "catalog entry (never assumed)"
            )
        read = _read_carbonatites if name == "carbonatites" else _read_kimberlites
        parts.append(read(dataset, entry, paths[entry.path], report, on_bad_coordinates))
    frame = (
        parts[0]
        if len(parts) == 1
        else gpd.GeoDataFrame(
            pd.concat(parts, ignore_index=True), geometry="geometry", crs=parts[0].crs
        )
    )
    report.records_out = len(frame)
    frame.attrs["geomap_report"] = report.to_dict()
    validate_occurrences(frame)
    return frame

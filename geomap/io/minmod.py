"""Reader for MinMod *MineralSite* JSON (DARPA CriticalMAAS ta2-minmod-data).

Each ``b*.json`` file is a JSON array of MineralSite records; each folder of a dataset is one
source compilation (``mrdata_vms``, ``usgs_mrds_california``, ...), kept in the ``source``
column.  ``layer`` selects folders (comma-separated), default all.

What the reader does with each record:

- **location**: the WKT point in ``location_info.location`` is read in the CRS the record
  declares (``location_info.crs``; the Utah UMOS records are in UTM 12N, EPSG:26912, not
  degrees) or, when the record declares none, in the CRS the catalog declares for the file.
  Records with neither are a :class:`~geomap.errors.CRSError`.  Coordinates are converted to
  EPSG:4326 (``always_xy``).  Records without a point, or with a NaN coordinate, are dropped
  and counted ("no location").  Longitudes or latitudes out of range, points outside the
  declared CRS's area of use and non-finite values after the transform are errors naming the
  records (``on_bad_coordinates="drop"`` drops and counts them instead).
- **commodities**: every ``mineral_inventory[].commodity.observed_name`` goes through the
  commodity vocabulary; a name the vocabulary does not know falls back to the record's
  ``normalized_uri`` (MinMod Q-id, resolved with ``entities/commodity.csv`` when the dataset
  has it); what is still unknown is counted in ``report.unmapped``.
- **deposit type**: the candidate with the highest confidence (source text), plus a class.
- **grade/tonnage**: ``grades`` lists ``CODE value unit`` per inventory item with a grade;
  ``ore_tonnage_mt`` is the largest ore tonnage converted to million tonnes.
- **primary commodities**: MinMod does not flag a main commodity, so the compilation's scope
  is used where it names one (REE compilation: the REE it lists; Ni-Co laterites: Ni, Co;
  carbonatites: Nb, REE; Sn-W database: Sn, W); elsewhere the column is empty.  605 of the
  954 Sn-W database records list no commodity at all: they get the database's subject, Sn and
  W (counted in the report), so tin-or-tungsten deposits are not lost to commodity selections.

Parsed folders are cached in memory per process, keyed by file paths, sizes and modification
times, so reading the same data twice in a session is cheap.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from geomap.catalog import DataFile, Dataset
from geomap.core.report import IngestReport
from geomap.errors import CRSError, DataError, UnknownNameError
from geomap.io.registry import reader

__all__ = ["read_minmod"]

_POINT = re.compile(
    r"^\s*POINT\s*(?:Z\s*)?\(\s*([-+0-9.eE]+|nan|NaN)\s+([-+0-9.eE]+|nan|NaN)(?:\s+\S+)?\s*\)\s*$",
    re.IGNORECASE,
)

# compilation (folder) -> (selector of its primary commodities, deposit class of the whole
# set, commodities of a record that lists none: the compilation's subject)
_COMPILATION_SCOPE: dict[str, tuple[str | None, str | None, str | None]] = {
    "mrdata_ree": ("REE", None, None),
    "mrdata_carbonatite": ("Nb,REE", "carbonatite", None),
    "mrdata_laterite": ("Ni,Co", "laterite", None),
    "mrdata_vms": (None, "vms", None),
    "world_tin_tungsten_deposit": ("Sn,W", None, "Sn,W"),
}

# ore-tonnage unit (lower case) -> factor to million metric tonnes
_TONNAGE_TO_MT: dict[str, float] = {
    "million tonnes": 1.0,
    "million metric tons": 1.0,
    "mt": 1.0,
    "tonnes": 1e-6,
    "metric tons": 1e-6,
    "t": 1e-6,
    "million short tons": 0.90718474,
    "short tons": 0.90718474e-6,
}
_GRADE_UNITS: dict[str, str] = {
    "wt-pct": "%",
    "percent": "%",
    "g/t": "g/t",
    "grams/metric ton": "g/t",
    "kilograms/metric ton": "kg/t",
    "ppm": "ppm",
    "grams/cubic metre": "g/m3",
    "kilograms/cubic metre": "kg/m3",
}


@dataclass
class _FolderResult:
    columns: dict[str, list[Any]]
    x: np.ndarray
    y: np.ndarray
    source_crs: list[str]
    bad: list[str]
    bad_mask: np.ndarray
    dropped: Counter[str] = field(default_factory=Counter)
    unmapped: Counter[str] = field(default_factory=Counter)
    records_in: int = 0
    records_unmapped: int = 0
    normalized: Counter[str] = field(default_factory=Counter)


_CACHE: dict[tuple[Any, ...], tuple[_FolderResult, Any]] = {}
_CACHE_MAX = 32


def _load_json(path: Path, entry: DataFile, dataset_id: str) -> list[dict[str, Any]]:
    encoding = entry.encoding or "utf-8"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(
            f"{path}: cannot be read ({exc.strerror}); re-fetch with `geomap fetch {dataset_id}`"
        ) from exc
    if not raw.strip():
        raise DataError(
            f"{path} is empty ({len(raw)} bytes): a MinMod JSON file must hold an array of "
            f"records; re-fetch it with `geomap fetch {dataset_id}`"
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
    try:
        records = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            f"the file is truncated or corrupted: re-fetch it with `geomap fetch {dataset_id}`"
        ) from None
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise DataError(
            f"{path}: expected a JSON array of MineralSite objects, got "
            f"{type(records).__name__}; check that the file is a MinMod mineral-site file"
        )
    return records


def _first_name(items: Any) -> str:
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and item.get("observed_name"):
                return str(item["observed_name"]).strip()
    return ""


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def _uri_table(dataset: Dataset, paths: dict[str, Path], vocab: Any) -> dict[str, frozenset[str]]:
    """Map MinMod Q-ids to codes with entities/commodity.csv, when the dataset has it."""
    import csv

    table: dict[str, frozenset[str]] = {}
    for entry in dataset.files:
        if not entry.path.endswith("entities/commodity.csv"):
            continue
        with paths[entry.path].open(encoding=entry.encoding or "utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                for candidate in (row.get("name"), row.get("aliases"), row.get("mrds_code")):
                    match = vocab.match(candidate)
                    if match.codes and not match.unmapped:
                        table[str(row.get("minmod_id"))] = match.codes
                        break
    return table


def _read_folder(
    dataset: Dataset,
    folder: str,
    files: list[tuple[DataFile, Path]],
    vocab: Any,
    uri_codes: dict[str, frozenset[str]],
) -> _FolderResult:
    from geomap.harmonize.occurrences import country_iso3, deposit_class

    scope_primary, scope_class, scope_default = _COMPILATION_SCOPE.get(folder, (None, None, None))
    primary_pool = vocab.expand(scope_primary) if scope_primary else frozenset()
    default_codes = vocab.normalize(scope_default) if scope_default else frozenset()
    cols: dict[str, list[Any]] = defaultdict(list)
    xs: list[float] = []
    ys: list[float] = []
    crs_list: list[str] = []
    result_dropped: Counter[str] = Counter()
    unmapped: Counter[str] = Counter()
    normalized: Counter[str] = Counter()
    seen: set[str] = set()
    records_in = 0
    records_unmapped = 0
    match_cache: dict[tuple[str, str], tuple[frozenset[str], str | None]] = {}
    for entry, path in files:
        for record in _load_json(path, entry, dataset.id):
            records_in += 1
            record_id = record.get("record_id")
            if record_id is None or str(record_id).strip() == "":
                raise DataError(
                    f"{path}: record {records_in} ({record.get('name')!r}) has no record_id; "
                    "every MineralSite needs one (fix the source file)"
                )
            record_id = str(record_id)
            if record_id in seen:
                result_dropped["duplicate record_id in the same compilation"] += 1
                continue
            location = record.get("location_info") or {}
            wkt = location.get("location")
            match = _POINT.match(wkt) if isinstance(wkt, str) else None
            if wkt and match is None:
                x, y = _non_point(wkt)
                if math.isnan(x):
                    raise DataError(
                        f"{path}: record {record_id} ({record.get('name')!r}) has an unreadable "
                        f"location {str(wkt)[:60]!r}; expected WKT such as 'POINT (lon lat)'"
                    )
                normalized["non-point location reduced to a representative point"] += 1
            elif match is None:
                result_dropped["no location"] += 1
                continue
            else:
                x, y = _number(match.group(1)), _number(match.group(2))
            if math.isnan(x) or math.isnan(y):
                result_dropped["no location (NaN coordinate)"] += 1
                continue
            seen.add(record_id)
            crs_name = (location.get("crs") or {}).get("observed_name") or entry.crs
            if not crs_name:
                raise CRSError(
                    f"{path}: record {record_id} ({record.get('name')!r}) declares no CRS and "
                    "the catalog declares none for the file; add 'crs:' to the file's catalog "
                    "entry (never assumed)"
                )
            xs.append(x)
            ys.append(y)
            crs_list.append(str(crs_name))
            country_name = _first_name(location.get("country"))
            iso3 = country_iso3(country_name)
            if iso3 is None:
                unmapped[f"country: {country_name}"] += 1
                iso3 = ""
            codes: set[str] = set()
            raw_names: list[str] = []
            grades: list[str] = []
            ore_mt = math.nan
            record_has_unmapped = False
            for item in record.get("mineral_inventory") or []:
                commodity = item.get("commodity") or {}
                raw_name = str(commodity.get("observed_name") or "").strip()
                uri = str(commodity.get("normalized_uri") or "")
                cache_key = (raw_name, uri)
                resolved = match_cache.get(cache_key)
                if resolved is None:
                    found = vocab.match(raw_name)
                    item_codes = set(found.codes)
                    missing = None
                    if found.unmapped:
                        qid = uri.rsplit("/", 1)[-1]
                        if qid in uri_codes:
                            item_codes |= uri_codes[qid]
                        else:
                            missing = raw_name
                    resolved = (frozenset(item_codes), missing)
                    match_cache[cache_key] = resolved
                item_codes_frozen, missing = resolved
                if missing is not None:
                    unmapped[missing] += 1
                    record_has_unmapped = True
                elif uri and not vocab.match(raw_name).codes and item_codes_frozen:
                    normalized["commodity resolved through its MinMod URI"] += 1
                codes |= item_codes_frozen
                if raw_name and raw_name not in raw_names:
                    raw_names.append(raw_name)
                grade = item.get("grade") or {}
                if grade.get("value") is not None:
                    value = _number(grade.get("value"))
                    unit = str((grade.get("unit") or {}).get("observed_name") or "")
                    label = "+".join(sorted(item_codes_frozen)) or raw_name or "?"
                    if not math.isnan(value):
                        text = f"{label} {value:g} {_GRADE_UNITS.get(unit.lower(), unit)}".strip()
                        if text not in grades:
                            grades.append(text)
                ore = item.get("ore") or {}
                if ore.get("value") is not None:
                    unit = str((ore.get("unit") or {}).get("observed_name") or "").lower()
                    factor = _TONNAGE_TO_MT.get(unit)
                    value = _number(ore.get("value"))
                    if factor is None:
                        normalized[f"ore amount in {unit or 'no unit'} not converted"] += 1
                    elif not math.isnan(value):
                        ore_mt = (
                            value * factor if math.isnan(ore_mt) else max(ore_mt, value * factor)
                        )
            records_unmapped += record_has_unmapped
            if not codes and not raw_names and default_codes:
                codes = set(default_codes)
                normalized[
                    f"{folder}: record lists no commodity; the compilation's subject "
                    f"({scope_default}) used"
                ] += 1
            candidates = [
                c for c in record.get("deposit_type_candidate") or [] if isinstance(c, dict)
            ]
            best = max(candidates, key=_confidence, default={})
            deposit_text = str(best.get("observed_name") or "").strip()
            cols["name"].append(str(record.get("name") or "").strip())
            cols["record_id"].append(record_id)
            cols["country"].append(iso3)
            cols["country_name"].append(country_name)
            cols["state"].append(_first_name(location.get("state_or_province")))
            cols["commodities"].append(";".join(sorted(codes)))
            cols["primary_commodities"].append(";".join(sorted(codes & primary_pool)))
            cols["commodities_raw"].append("; ".join(raw_names))
            cols["deposit_type"].append(deposit_text)
            cols["deposit_class"].append(scope_class or deposit_class(deposit_text))
            cols["grades"].append("; ".join(grades))
            cols["ore_tonnage_mt"].append(ore_mt)
    x_arr, y_arr, bad, bad_mask = _to_wgs84(
        np.asarray(xs, dtype="float64"),
        np.asarray(ys, dtype="float64"),
        crs_list,
        [
            f"{dataset.id}/{folder} record {rid} ({name!r})"
            for rid, name in zip(cols["record_id"], cols["name"], strict=True)
        ],
    )
    return _FolderResult(
        columns=dict(cols),
        x=x_arr,
        y=y_arr,
        source_crs=crs_list,
        bad=bad,
        bad_mask=bad_mask,
        dropped=result_dropped,
        unmapped=unmapped,
        records_in=records_in,
        records_unmapped=records_unmapped,
        normalized=normalized,
    )


def _confidence(candidate: dict[str, Any]) -> float:
    value = _number(candidate.get("confidence"))
    return 0.0 if math.isnan(value) else value


def _non_point(wkt: str) -> tuple[float, float]:
    import shapely

    try:
        geom = shapely.from_wkt(wkt)
    except Exception:  # shapely raises GEOSException subclasses of Exception
        return math.nan, math.nan
    if geom is None or geom.is_empty:
        return math.nan, math.nan
    point = geom.representative_point()
    return float(point.x), float(point.y)


def _to_wgs84(
    x: np.ndarray, y: np.ndarray, crs_names: list[str], labels: list[str]
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Convert coordinates to EPSG:4326 per declared CRS; return problems found per record."""
    import pyproj

    out_x = x.copy()
    out_y = y.copy()
    bad_mask = np.zeros(len(x), dtype=bool)
    problems: list[str] = []
    names = np.asarray(crs_names, dtype=object)
    for name in sorted(set(crs_names)):
        idx = np.flatnonzero(names == name)
        try:
            crs = pyproj.CRS.from_user_input(name)
        except pyproj.exceptions.CRSError:
            raise CRSError(
                f"{labels[idx[0]]}: unknown CRS {name!r} in location_info.crs; "
                "use an EPSG code such as 'EPSG:4326'"
            ) from None
        if crs.is_geographic:
            gx, gy = x[idx], y[idx]
            target = pyproj.CRS.from_epsg(4326)
            if not crs.equals(target, ignore_axis_order=True):
                transformer = pyproj.Transformer.from_crs(crs, target, always_xy=True)
                gx, gy = transformer.transform(gx, gy)
            out_of_range = (np.abs(x[idx]) > 180) | (np.abs(y[idx]) > 90)
            for i in idx[out_of_range]:
                reason = _geographic_problem(float(x[i]), float(y[i]))
                problems.append(f"{labels[i]} at ({x[i]:g}, {y[i]:g}) in {name}: {reason}")
                bad_mask[i] = True
            out_x[idx], out_y[idx] = gx, gy
        else:
            transformer = pyproj.Transformer.from_crs(crs, 4326, always_xy=True)
            gx, gy = transformer.transform(x[idx], y[idx])
            gx = np.asarray(gx, dtype="float64")
            gy = np.asarray(gy, dtype="float64")
            area = crs.area_of_use
            bounds = area.bounds if area is not None else None
            suspect = ~(np.isfinite(gx) & np.isfinite(gy))
            if area is not None:
                suspect |= ~_inside(gx, gy, area.bounds, margin=1.0)
            for j in np.flatnonzero(suspect):
                i = idx[j]
                lon, lat = float(gx[j]), float(gy[j])
                if not (math.isfinite(lon) and math.isfinite(lat)):
                    problems.append(
                        f"{labels[i]} at ({x[i]:g}, {y[i]:g}) in {name}: the transform to "
                        "EPSG:4326 gives infinite values (coordinates outside the CRS's domain)"
                    )
                    bad_mask[i] = True
                else:
                    problems.append(
                        f"{labels[i]} at ({x[i]:g}, {y[i]:g}) in {name}: lands at "
                        f"({lon:.4f}, {lat:.4f}), outside the CRS's area of use {bounds} "
                        "(wrong CRS or swapped x/y)"
                    )
                    bad_mask[i] = True
            out_x[idx], out_y[idx] = gx, gy
    return out_x, out_y, problems, bad_mask


def _geographic_problem(lon: float, lat: float) -> str:
    if abs(lat) > 90 and abs(lon) <= 90 and abs(lat) <= 180:
        return "latitude out of [-90, 90]: longitude and latitude look swapped"
    if abs(lat) > 90:
        return "latitude out of [-90, 90]"
    if abs(lon) > 180:
        return "longitude out of [-180, 180] (projected coordinates declared as degrees?)"
    return ""


def _inside(
    lon: np.ndarray, lat: np.ndarray, bounds: tuple[float, float, float, float], margin: float
) -> np.ndarray:
    west, south, east, north = bounds
    in_lat = (lat >= south - margin) & (lat <= north + margin)
    if west <= east:
        return in_lat & (lon >= west - margin) & (lon <= east + margin)
    return in_lat & ((lon >= west - margin) | (lon <= east + margin))


def _folders(dataset: Dataset) -> dict[str, list[DataFile]]:
    folders: dict[str, list[DataFile]] = defaultdict(list)
    for entry in dataset.files:
        if entry.format != "minmod-json":
            continue
        parts = PurePosixPath(entry.path).parts
        folder = parts[-2] if len(parts) >= 2 else ""
        folders[folder].append(entry)
    return dict(folders)


def _selected(folders: Iterable[str], layer: str | None, dataset_id: str) -> list[str]:
    available = sorted(folders)
    if layer is None:
        return available
    wanted = [name.strip() for name in layer.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in available]
    if unknown or not wanted:
        raise UnknownNameError(
            f"dataset {dataset_id!r} has no MinMod folder {unknown[0] if unknown else layer!r}; "
            f"use one of {available} (comma-separated for several)"
        )
    return wanted


@reader("minmod-json")
def read_minmod(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    on_bad_coordinates: str = "raise",
    **options: Any,
) -> Any:
    """Read MinMod MineralSite JSON folders into the common occurrence schema (EPSG:4326).

    Parameters
    ----------
    dataset : Dataset
        The catalog entry.
    paths : dict
        Catalog file path -> verified local path (from :func:`geomap.fetching.fetch`).
    layer : str, optional
        Folder(s) to read, comma-separated (e.g. ``"mrdata_vms"``); default all.
    on_bad_coordinates : {"raise", "drop"}, default "raise"
        What to do with out-of-range coordinates, points outside the declared CRS's area of
        use and non-finite transformed values: raise a CRSError naming the records, or drop
        them and count them in the report.

    Returns
    -------
    GeoDataFrame
        One row per site in the schema of :mod:`geomap.harmonize.occurrences`, in EPSG:4326,
        with ``attrs["geomap_report"]``.

    Raises
    ------
    DataError
        A file is empty, truncated, not JSON, not in its declared encoding, or a record has
        no record_id.
    CRSError
        Coordinates are out of range or outside their CRS's area of use (names the records).
    """
    from geomap.harmonize.commodities import load_vocabulary
    from geomap.harmonize.occurrences import validate_occurrences

    if options:
        raise TypeError(
            f"read_minmod got unknown options {sorted(options)}; use layer= or on_bad_coordinates="
        )
    if on_bad_coordinates not in ("raise", "drop"):
        raise ValueError(f"on_bad_coordinates={on_bad_coordinates!r}; use 'raise' or 'drop'")
    vocab = load_vocabulary()
    folders = _folders(dataset)
    selected = _selected(folders, layer, dataset.id)
    uri_codes = _uri_table(dataset, paths, vocab)
    report = IngestReport(dataset.id)
    parts = []
    for folder in selected:
        files = [(entry, paths[entry.path]) for entry in folders[folder]]
        key = (
            dataset.id,
            folder,
            vocab.source,
            tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for _, p in files),
        )
        cached = _CACHE.get(key)
        if cached is None:
            result = _read_folder(dataset, folder, files, vocab, uri_codes)
            part = _folder_frame(result, dataset, folder)
            if len(_CACHE) >= _CACHE_MAX:
                _CACHE.pop(next(iter(_CACHE)))
            _CACHE[key] = (result, part)
        else:
            result, part = cached
        if result.bad and on_bad_coordinates == "raise":
            shown = "; ".join(result.bad[:5])
            more = f" (and {len(result.bad) - 5} more)" if len(result.bad) > 5 else ""
            raise CRSError(
                f"{len(result.bad)} records have invalid coordinates: {shown}{more}. Fix the "
                "source records, or pass on_bad_coordinates='drop' to drop and count them"
            )
        report.records_in += result.records_in
        for reason, count in result.dropped.items():
            report.drop(reason, count)
        report.drop("invalid coordinates (on_bad_coordinates='drop')", int(result.bad_mask.sum()))
        report.unmapped.update(result.unmapped)
        report.normalized.update(result.normalized)
        converted = sum(1 for name in result.source_crs if name != "EPSG:4326")
        report.normalize(
            f"{folder}: coordinates converted to EPSG:4326 from another CRS", converted
        )
        report.notes.append(
            f"{folder}: {result.records_in} records, {len(part)} kept, "
            f"{result.records_unmapped} with unmapped commodity names"
        )
        parts.append(part.copy())
    frame = _concat(parts)
    report.records_out = len(frame)
    if report.records_out == 0:
        report.notes.append("no records with a location: the result is empty")
    frame.attrs["geomap_report"] = report.to_dict()
    validate_occurrences(frame)
    return frame


def _folder_frame(result: _FolderResult, dataset: Dataset, folder: str) -> Any:
    from geomap.harmonize.occurrences import make_occurrences

    keep = ~result.bad_mask
    n_keep = int(keep.sum())
    columns = {
        name: [v for v, k in zip(values, keep, strict=True) if k]
        for name, values in result.columns.items()
    }
    columns["source_crs"] = [c for c, k in zip(result.source_crs, keep, strict=True) if k]
    columns["dataset_id"] = [dataset.id] * n_keep
    columns["source"] = [folder] * n_keep
    columns["license"] = [dataset.license.spdx] * n_keep
    return make_occurrences(columns, result.x[keep], result.y[keep], crs="EPSG:4326")


def _concat(parts: list[Any]) -> Any:
    import geopandas as gpd
    import pandas as pd

    from geomap.harmonize.occurrences import empty_occurrences

    if not parts:
        return empty_occurrences("EPSG:4326")
    if len(parts) == 1:
        return parts[0]
    frame = pd.concat(parts, ignore_index=True)
    return gpd.GeoDataFrame(frame, geometry="geometry", crs="EPSG:4326")

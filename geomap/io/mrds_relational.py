"""Reader ``usgs-mrds-rdbms``: the relational, tab-separated release of USGS MRDS.

Source
    U.S. Geological Survey (2005), Mineral Resources Data System,
    https://mrdata.usgs.gov/mrds/ , download ``rdbms-tab-all.zip``.  U.S. Government work,
    public domain; credit "U.S. Geological Survey Mineral Resources Data System (MRDS)".

Layout
    ``rdbms-tab-all.zip`` holds one tab-separated text file per table of the MRDS database,
    each with a header line, all keyed on ``dep_id`` (``MRDS.txt``, ``Deposits.txt``,
    ``Location.txt``, ``Coords.txt``, ``Commodity.txt``, ``Model.txt``, ``Names.txt``,
    ``Materials.txt``, ``Rocks.txt``, ``Ages.txt`` ... about 35 tables; ``Datadxny.txt`` is
    the data dictionary).  This reader uses

    * ``MRDS.txt``: one row per site, ``dep_id, name, dev_stat, code_list, latitude,
      longitude`` (decimal degrees, WGS 84);
    * ``Location.txt``: ``dep_id, country, state_prov, county, region``;
    * ``Commodity.txt``: one row per commodity of a site, ``dep_id, line, commod, code,
      commod_tp, commod_group, import`` (``import`` is the importance; ``Primary`` or
      ``Major`` marks a main commodity);
    * ``Deposits.txt`` (optional): ``dep_id, dep_tp, dev_st, oper_tp, mrds_id, mas_id``;
    * ``Model.txt`` (optional): ``dep_id, model_name``.

    The field lists were taken from public programs that parse this release (the MRDS data
    dictionary itself, ``Datadxny.txt``, could not be read offline); columns a table has
    beyond these are ignored, a required one that is missing is refused.

``MRDS.txt`` is streamed and only the sites inside ``bbox`` are kept; the other tables are
then streamed and only rows of kept sites are held, so memory follows the region, not the
database.  The result has exactly the columns of the CSV reader
(:func:`geomap.io.mrds.read_mrds_path`): the same site gives the same commodities, primary
commodities, deposit class, state and county from either release.  ``url`` is the MRDS
record page (``https://mrdata.usgs.gov/mrds/show-mrds.php?dep_id=...``, the link the MRDS
web services give); ``prod_size`` is not in these tables and stays empty.
"""

from __future__ import annotations

import zipfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.errors import DataError
from geomap.io._reader_entry import only_file, reject_unknown_options
from geomap.io._windows import BBox, check_bbox
from geomap.io.mrds import in_bbox, iter_csv_chunks, mrds_occurrences
from geomap.io.registry import reader

__all__ = ["RDBMS_TABLES", "read_mrds_rdbms", "read_mrds_rdbms_path"]

RDBMS_TABLES: dict[str, tuple[tuple[str, ...], bool]] = {
    "MRDS.txt": (("dep_id", "name", "dev_stat", "latitude", "longitude"), True),
    "Location.txt": (("dep_id", "country", "state_prov", "county"), True),
    "Commodity.txt": (("dep_id", "line", "commod", "import"), True),
    "Deposits.txt": (("dep_id", "dep_tp"), False),
    "Model.txt": (("dep_id", "model_name"), False),
}
"""Table file -> (columns the reader needs, whether the table itself is required)."""

_PRIMARY = {"primary", "major"}
_RECORD_URL = "https://mrdata.usgs.gov/mrds/show-mrds.php?dep_id={}"


def _members(source: Path) -> set[str]:
    """Which table files ``source`` (the zip or an unpacked folder) holds, by file name."""
    if source.is_dir():
        return {p.name for p in source.iterdir() if p.is_file()}
    try:
        with zipfile.ZipFile(source) as archive:
            return {n.rsplit("/", 1)[-1] for n in archive.namelist() if not n.endswith("/")}
    except zipfile.BadZipFile as exc:
        raise DataError(f"{source} is not a readable zip ({exc}); fetch it again") from None


def _check_tables(source: Path) -> set[str]:
    present = {name.lower() for name in _members(source)}
    missing = [
        t for t, (_, required) in RDBMS_TABLES.items() if required and t.lower() not in present
    ]
    if missing:
        raise DataError(
            f"{source}: wrong layout for the MRDS relational release: table(s) {missing} "
            f"missing (it holds {sorted(present)[:8]}); download rdbms-tab-all.zip from "
            "https://mrdata.usgs.gov/mrds/ again, or read mrds-csv.zip with reader 'usgs-mrds'"
        )
    return {t for t in RDBMS_TABLES if t.lower() in present}


def _chunks(source: Path, table: str, encoding: str) -> Iterator[pd.DataFrame]:
    required, _ = RDBMS_TABLES[table]
    if source.is_dir():
        (path,) = [p for p in source.iterdir() if p.name.lower() == table.lower()]
        return iter_csv_chunks(path, table, encoding=encoding, required=required, sep="\t")
    return iter_csv_chunks(source, table, encoding=encoding, required=required, sep="\t")


def _rows_of(
    source: Path, table: str, encoding: str, keep: set[str], columns: tuple[str, ...]
) -> pd.DataFrame:
    """Return the rows of ``table`` whose ``dep_id`` is in ``keep`` (others are never held)."""
    parts = []
    for chunk in _chunks(source, table, encoding):
        ids = chunk["dep_id"].str.strip()
        mask = ids.isin(keep)
        if mask.any():
            part = chunk.loc[mask].reindex(columns=list(columns), fill_value="")
            parts.append(part.assign(dep_id=ids[mask]))
    if not parts:
        return pd.DataFrame({c: pd.Series([], dtype=str) for c in columns})
    return pd.concat(parts, ignore_index=True).fillna("")


def _first_by_site(frame: pd.DataFrame, column: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for dep_id, value in zip(frame["dep_id"], frame[column], strict=True):
        text = str(value).strip()
        if text and dep_id not in values:
            values[dep_id] = text
    return values


def read_mrds_rdbms_path(
    source: Path,
    *,
    bbox: BBox | None = None,
    encoding: str = "utf-8",
    dataset_id: str = "usgs-mrds-rdbms",
) -> Any:
    """Read ``rdbms-tab-all.zip`` (or its unpacked folder) into the occurrence schema.

    Parameters
    ----------
    source : Path
        The official zip, or a folder holding its ``.txt`` tables.
    bbox : (west, south, east, north), optional
        Keep only sites inside this lon/lat box (antimeridian-aware).
    encoding : str
        Text encoding of the tables.
    dataset_id : str
        Catalog id recorded in the rows and the report.

    Returns
    -------
    GeoDataFrame
        The common occurrence schema plus ``url, mrds_id, dev_stat, oper_type, prod_size,
        county`` (as :func:`geomap.io.mrds.read_mrds_path`).

    Raises
    ------
    DataError
        A required table missing, a table without the columns listed in
        :data:`RDBMS_TABLES`, or text that is not ``encoding``; each message names the file.
    """
    source = Path(source)
    bbox = check_bbox(bbox)
    tables = _check_tables(source)
    report = IngestReport(dataset_id)
    kept: list[pd.DataFrame] = []
    outside = 0
    for chunk in _chunks(source, "MRDS.txt", encoding):
        report.records_in += len(chunk)
        lat = pd.to_numeric(chunk["latitude"], errors="coerce").to_numpy()
        lon = pd.to_numeric(chunk["longitude"], errors="coerce").to_numpy()
        usable = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        report.drop("no or invalid coordinates", int((~usable).sum()))
        inside = usable & in_bbox(lon, lat, bbox)
        outside += int((usable & ~inside).sum())
        part = chunk.loc[inside, ["dep_id", "name", "dev_stat"]].copy()
        kept.append(
            part.assign(dep_id=part["dep_id"].str.strip(), _lon=lon[inside], _lat=lat[inside])
        )
    sites = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame()
    repeated = int(sites["dep_id"].duplicated().sum()) if len(sites) else 0
    if repeated:
        raise DataError(
            f"{source}!MRDS.txt repeats {repeated} dep_id value(s); the table must have one row "
            "per site: download rdbms-tab-all.zip again"
        )
    if bbox is not None:
        report.notes.append(
            f"window {bbox}: {len(sites):,} sites kept, {outside:,} outside the window not kept"
        )
    keep = set(sites["dep_id"]) if len(sites) else set()
    location = _rows_of(
        source, "Location.txt", encoding, keep, ("dep_id", "country", "state_prov", "county")
    )
    commodity = _rows_of(
        source, "Commodity.txt", encoding, keep, ("dep_id", "line", "commod", "import")
    )
    commodity["_line"] = pd.to_numeric(commodity["line"], errors="coerce")
    commodity = commodity.sort_values(["dep_id", "_line"], kind="stable")
    lists: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for dep_id, name, importance in zip(
        commodity["dep_id"], commodity["commod"], commodity["import"], strict=True
    ):
        lists[dep_id].append((str(name), str(importance).strip().lower() in _PRIMARY))
    deposits: dict[str, dict[str, str]] = {}
    if "Deposits.txt" in tables:
        frame = _rows_of(
            source, "Deposits.txt", encoding, keep, ("dep_id", "dep_tp", "oper_tp", "mrds_id")
        )
        deposits = {c: _first_by_site(frame, c) for c in ("dep_tp", "oper_tp", "mrds_id")}
    else:
        report.notes.append("Deposits.txt absent: deposit types from Model.txt only")
    models: dict[str, str] = {}
    if "Model.txt" in tables:
        models = _first_by_site(
            _rows_of(source, "Model.txt", encoding, keep, ("dep_id", "model_name")), "model_name"
        )
    places = {c: _first_by_site(location, c) for c in ("country", "state_prov", "county")}
    ids = sites["dep_id"].tolist() if len(sites) else []

    def of(table: dict[str, dict[str, str]], column: str) -> list[str]:
        values = table.get(column, {})
        return [values.get(i, "") for i in ids]

    dep_type = of(deposits, "dep_tp")
    frame = pd.DataFrame(
        {
            "dep_id": ids,
            "name": sites["name"].str.strip().tolist() if len(sites) else [],
            "country": of(places, "country"),
            "state": of(places, "state_prov"),
            "county": of(places, "county"),
            "deposit_type": [d or models.get(i, "") for d, i in zip(dep_type, ids, strict=True)],
            "url": [_RECORD_URL.format(i) for i in ids],
            "mrds_id": of(deposits, "mrds_id"),
            "dev_stat": sites["dev_stat"].str.strip().tolist() if len(sites) else [],
            "oper_type": of(deposits, "oper_tp"),
            "prod_size": [""] * len(ids),
            "_lon": sites["_lon"].to_numpy() if len(sites) else np.array([]),
            "_lat": sites["_lat"].to_numpy() if len(sites) else np.array([]),
        }
    )
    no_location = sum(1 for i in ids if i not in places["country"])
    if no_location:
        report.notes.append(f"{no_location} sites without a Location.txt row (country left empty)")
    return mrds_occurrences(
        frame, [lists.get(i, []) for i in ids], report, dataset_id=dataset_id, bbox=bbox
    )


@reader("usgs-mrds-rdbms")
def read_mrds_rdbms(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    bbox: BBox | None = None,
    encoding: str | None = None,
    **options: Any,
) -> Any:
    """Read the MRDS relational catalog dataset (see :func:`read_mrds_rdbms_path`)."""
    reject_unknown_options("usgs-mrds-rdbms", options, ["bbox", "encoding"])
    relpath, path = only_file(dataset, paths, layer, "sites")
    declared = dataset.file(relpath).encoding
    return read_mrds_rdbms_path(
        path, bbox=bbox, encoding=encoding or declared or "utf-8", dataset_id=dataset.id
    )


read_mrds_rdbms.geomap_windowed = True  # type: ignore[attr-defined]

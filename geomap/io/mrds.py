"""Reader ``usgs-mrds``: the complete USGS Mineral Resources Data System (MRDS) CSV.

Source
    U.S. Geological Survey (2005), Mineral Resources Data System,
    https://mrdata.usgs.gov/mrds/ .  U.S. Government work, public domain; credit "U.S.
    Geological Survey Mineral Resources Data System (MRDS)" (the catalog attribution).

Layout
    ``mrds-csv.zip`` -> ``mrds.csv``: one row per site, comma-separated with a header
    (``dep_id, url, mrds_id, mas_id, site_name, latitude, longitude, region, country,
    state, county, com_type, commod1, commod2, commod3, oper_type, dep_type, prod_size,
    dev_stat, ore, gangue, other_matl, orebody_fm, work_type, model, alteration,
    conc_proc, ...``).  ``commod1`` (major), ``commod2`` (minor) and ``commod3`` (trace)
    are quoted ``", "``-separated lists of commodity names ("Rare Earth Elements,
    Barium-Barite").  Coordinates are decimal degrees on WGS 84.

The file (~300,000 rows) is streamed from the archive in chunks; only rows inside
``bbox`` are kept (rows outside are counted, never held).  Rows without coordinates
are dropped and counted.  The result is the common occurrence schema
(:data:`geomap.harmonize.occurrences.OCCURRENCE_COLUMNS`): commodity names are
normalized with the project vocabulary (``commodities`` from all three lists,
``primary_commodities`` from ``commod1``; names the vocabulary does not know are
counted in ``report.unmapped``), plus the columns ``url``, ``mrds_id``, ``dev_stat``,
``oper_type`` and ``prod_size``.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.errors import DataError
from geomap.harmonize.commodities import join_codes, load_vocabulary
from geomap.harmonize.occurrences import country_iso3, deposit_class, make_occurrences
from geomap.io._archive_members import _safe_member_name
from geomap.io._formats import require_format
from geomap.io._reader_entry import attach_report, only_file, reject_unknown_options
from geomap.io._windows import BBox, check_bbox, split_antimeridian
from geomap.io.registry import reader

__all__ = [
    "MRDS_REQUIRED",
    "iter_csv_chunks",
    "mrds_occurrences",
    "read_mrds",
    "read_mrds_path",
]

MRDS_REQUIRED = ("dep_id", "site_name", "latitude", "longitude", "country", "commod1")
"""Columns the reader needs; the others of the published list are used when present."""

_EXTRA = ("url", "mrds_id", "dev_stat", "oper_type", "prod_size")
_CHUNK = 50_000


def _open_text(source: Path, member: str, encoding: str) -> tuple[io.TextIOBase, str]:
    """Open ``member`` of a zip (or a plain CSV) as a streaming text handle."""
    if source.suffix.lower() != ".zip":
        require_format(source, "text", what=f"{member} table")
        return open(source, encoding=encoding, newline=""), str(source)
    require_format(source, "zip", what="zip archive")
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile as exc:
        raise DataError(f"{source} is not a readable zip ({exc}); fetch it again") from None
    names = archive.namelist()
    for name in names:
        _safe_member_name(source, name)
    matches = [n for n in names if n.rsplit("/", 1)[-1].lower() == member.lower()]
    if len(matches) != 1:
        archive.close()
        raise DataError(
            f"{source}: wrong archive layout: expected one member {member!r}, found "
            f"{len(matches)} (it holds {', '.join(names[:6])}); download the official archive again"
        )
    binary = archive.open(matches[0])
    return io.TextIOWrapper(binary, encoding=encoding, newline=""), f"{source}!{matches[0]}"


def iter_csv_chunks(
    source: Path, member: str, *, encoding: str, required: tuple[str, ...], sep: str = ","
) -> Iterator[pd.DataFrame]:
    """Stream a (zipped) CSV in chunks of strings, checking header and encoding.

    Raises
    ------
    DataError
        Required columns missing (the message lists them and what the file has), a
        repeated column, or bytes that are not ``encoding``.
    """
    handle, label = _open_text(Path(source), member, encoding)
    with handle:
        try:
            header_line = handle.readline()
        except UnicodeDecodeError as exc:
            raise _encoding_error(label, encoding, exc) from None
        names = [
            n.strip().strip('"').lstrip("\ufeff") for n in header_line.rstrip("\r\n").split(sep)
        ]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise DataError(
                f"{label}: the header repeats column(s) {repeated}; remove the duplicate"
            )
        missing = [c for c in required if c not in names]
        if missing:
            raise DataError(
                f"{label}: unexpected columns: {missing} missing (the file has "
                f"{names[:10]}{'...' if len(names) > 10 else ''}); this reader needs "
                f"{list(required)}: check that this is the official file"
            )
        try:
            reader_ = pd.read_csv(
                handle,
                sep=sep,
                names=names,
                header=None,
                dtype=str,
                keep_default_na=False,
                chunksize=_CHUNK,
            )
            yield from reader_
        except UnicodeDecodeError as exc:
            raise _encoding_error(label, encoding, exc) from None
        except pd.errors.ParserError as exc:
            raise DataError(f"{label} is not a well-formed CSV ({exc}); fetch it again") from None


def _encoding_error(label: str, encoding: str, exc: UnicodeDecodeError) -> DataError:
    return DataError(
        f"{label} is not {encoding} text (byte {exc.object[exc.start : exc.end]!r} at offset "
        f"{exc.start} of a block); pass the file's real encoding, e.g. encoding='cp1252'"
    )


def in_bbox(lon: np.ndarray, lat: np.ndarray, bbox: BBox | None) -> np.ndarray:
    """Which points fall inside a lon/lat bbox (antimeridian-aware)."""
    if bbox is None:
        return np.ones(lon.shape, dtype=bool)
    inside = np.zeros(lon.shape, dtype=bool)
    for west, south, east, north in split_antimeridian(bbox):
        inside |= (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
    return inside


def read_mrds_path(
    source: Path,
    *,
    bbox: BBox | None = None,
    encoding: str = "utf-8",
    dataset_id: str = "usgs-mrds-full",
) -> Any:
    """Read ``mrds-csv.zip`` (or ``mrds.csv``) into the occurrence schema, inside ``bbox``."""
    bbox = check_bbox(bbox)
    report = IngestReport(dataset_id)
    kept: list[pd.DataFrame] = []
    outside = 0
    for chunk in iter_csv_chunks(
        Path(source), "mrds.csv", encoding=encoding, required=MRDS_REQUIRED
    ):
        report.records_in += len(chunk)
        lat = pd.to_numeric(chunk["latitude"], errors="coerce").to_numpy()
        lon = pd.to_numeric(chunk["longitude"], errors="coerce").to_numpy()
        usable = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
        report.drop("no or invalid coordinates", int((~usable).sum()))
        inside = usable & in_bbox(lon, lat, bbox)
        outside += int((usable & ~inside).sum())
        kept.append(chunk.loc[inside].assign(_lon=lon[inside], _lat=lat[inside]))
    frame = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame()
    if bbox is not None:
        report.notes.append(
            f"window {bbox}: {len(frame):,} sites kept, {outside:,} outside the window not kept"
        )
    column = _column_getter(frame)
    lists = [
        [
            (text, name == "commod1")
            for name, text in zip(("commod1", "commod2", "commod3"), row, strict=True)
        ]
        for row in zip(column("commod1"), column("commod2"), column("commod3"), strict=True)
    ]
    sites = pd.DataFrame(
        {
            "dep_id": column("dep_id"),
            "name": column("site_name"),
            "country": column("country"),
            "state": column("state"),
            "county": column("county"),
            "deposit_type": [
                d or m for d, m in zip(column("dep_type"), column("model"), strict=True)
            ],
            **{c: column(c) for c in _EXTRA},
            "_lon": frame.get("_lon", pd.Series([], dtype="float64")).to_numpy(),
            "_lat": frame.get("_lat", pd.Series([], dtype="float64")).to_numpy(),
        }
    )
    return mrds_occurrences(sites, lists, report, dataset_id=dataset_id, bbox=bbox)


def _column_getter(frame: pd.DataFrame) -> Any:
    def column(name: str) -> list[str]:
        if name not in frame:
            return [""] * len(frame)
        return [str(v).strip() for v in frame[name].tolist()]

    return column


def mrds_occurrences(
    sites: pd.DataFrame,
    commodity_lists: list[list[tuple[str, bool]]],
    report: IngestReport,
    *,
    dataset_id: str,
    bbox: BBox | None,
) -> Any:
    """Put MRDS sites into the occurrence schema (shared by the CSV and relational readers).

    Parameters
    ----------
    sites : DataFrame
        One row per site: ``dep_id, name, country, state, county, deposit_type``, the extra
        columns (``url, mrds_id, dev_stat, oper_type, prod_size``) and ``_lon``/``_lat``.
    commodity_lists : list of list of (str, bool)
        Per site, the commodity texts in the source's order and whether the source marks
        each as a main (primary) commodity.
    report : IngestReport
        Receives unmapped commodity names and the counts.
    """
    from geomap.catalog import load_catalog

    vocab = load_vocabulary()
    commodities, primary, raw_names = [], [], []
    for items in commodity_lists:
        codes: set[str] = set()
        main: set[str] = set()
        names = []
        for text, is_primary in items:
            if not text.strip():
                continue
            names.append(text.strip())
            match = vocab.match(text)
            for part in match.unmapped:
                report.unmapped[part] += 1
            codes |= match.codes
            if is_primary:
                main |= match.codes
        commodities.append(join_codes(codes))
        primary.append(join_codes(main))
        raw_names.append("; ".join(names))
    n = len(sites)
    try:
        license_id = load_catalog().dataset(dataset_id).license.spdx
    except Exception:  # a user's own copy outside the catalog
        license_id = "LicenseRef-US-Government-Public-Domain"
    deposit_text = sites["deposit_type"].tolist() if n else []
    columns = {
        "name": sites["name"].tolist() if n else [],
        "dataset_id": [dataset_id] * n,
        "source": ["mrds"] * n,
        "record_id": sites["dep_id"].tolist() if n else [],
        "country": [country_iso3(c) or "" for c in (sites["country"] if n else [])],
        "country_name": sites["country"].tolist() if n else [],
        "state": sites["state"].tolist() if n else [],
        "commodities": commodities,
        "primary_commodities": primary,
        "commodities_raw": raw_names,
        "deposit_type": deposit_text,
        "deposit_class": [deposit_class(t) if t else "" for t in deposit_text],
        "license": [license_id] * n,
        "source_crs": ["EPSG:4326"] * n,
    }
    extra = {
        c: pd.Series(sites[c] if n else [], dtype="string").to_numpy() for c in (*_EXTRA, "county")
    }
    out = make_occurrences(
        columns,
        sites["_lon"] if n else [],
        sites["_lat"] if n else [],
        crs="EPSG:4326",
        extra=extra,
    )
    no_commodity = out["commodities"] == ""
    report.notes.append(f"{int(no_commodity.sum())} sites without a recognised commodity (kept)")
    report.records_out = len(out)
    return attach_report(out, report, geomap_source=dataset_id, geomap_window=bbox)


@reader("usgs-mrds")
def read_mrds(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    bbox: BBox | None = None,
    encoding: str | None = None,
    **options: Any,
) -> Any:
    """Read the MRDS catalog dataset (see :func:`read_mrds_path`)."""
    reject_unknown_options("usgs-mrds", options, ["bbox", "encoding"])
    relpath, path = only_file(dataset, paths, layer, "sites")
    declared = dataset.file(relpath).encoding
    return read_mrds_path(
        path, bbox=bbox, encoding=encoding or declared or "utf-8", dataset_id=dataset.id
    )


read_mrds.geomap_windowed = True  # type: ignore[attr-defined]

"""Readers for administrative boundaries: ``japan-prefectures`` and ``natural-earth``.

* ``japan-prefectures``: the Global Map Japan prefectures TopoJSON (47
  polygons; ``id`` is the JIS X 0401 prefecture code), joined **by that code**
  to ``prefectures.csv`` (English name, region); the join is checked by
  comparing the romanised names of both files.
* ``natural-earth``: GeoJSON layers and the 1:50m countries inside a 7-Zip
  archive, which is read in memory with a bound on its uncompressed size and
  no path traversal.  ``layer`` is the file stem without ``ne_`` (e.g.
  ``"110m_admin_0_countries"``, ``"50m_coastline"``).
"""

from __future__ import annotations

import io
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.errors import DataError
from geomap.harmonize.geometry import clean_geometries
from geomap.io._archive_members import DEFAULT_MAX_UNCOMPRESSED, read_7z_member
from geomap.io._crs_checks import resolve_crs
from geomap.io._formats import require_format
from geomap.io._gdal import read_ogr
from geomap.io._reader_entry import attach_report, local_file, pick_layer, reject_unknown_options
from geomap.io._text import decode_text, refuse_duplicate_columns
from geomap.io.registry import reader

__all__ = ["natural_earth_layers", "read_japan_prefectures", "read_natural_earth"]


@reader("japan-prefectures")
def read_japan_prefectures(
    dataset: Dataset, paths: dict[str, Path], *, layer: str | None = None, **options: Any
) -> Any:
    """Read the 47 Japanese prefectures with their JIS codes and names.

    Returns
    -------
    GeoDataFrame
        Columns ``pref_code`` (JIS X 0401, 1–47), ``name`` (English), ``name_full``
        (romanised with suffix, e.g. ``"Kyoto Fu"``), ``name_ja``, ``region_code``;
        CRS from the catalog (the TopoJSON declares none).
    """
    reject_unknown_options("japan-prefectures", options, [])
    pick_layer(dataset.id, layer, {"prefectures": None})
    relpath, path = local_file(dataset, paths, "japan.topojson")
    require_format(path, "json", what="prefecture TopoJSON")
    frame = read_ogr(path, driver="TopoJSON", name=str(path))
    frame = frame.set_crs(
        resolve_crs(frame.crs, dataset.file(relpath).crs, source=str(path)), allow_override=True
    )
    report = IngestReport(dataset.id, records_in=len(frame))
    codes = pd.to_numeric(frame["id"], errors="coerce")
    if codes.isna().any() or not codes.between(1, 47).all() or codes.duplicated().any():
        raise DataError(
            f"{path}: prefecture ids {sorted(frame['id'].astype(str))[:5]}... are not the 47 "
            "distinct JIS codes 1-47; fetch the catalogued file"
        )
    table_rel, table_path = local_file(dataset, paths, "prefectures.csv")
    require_format(table_path, "text")
    text = decode_text(
        table_path.read_bytes(), dataset.file(table_rel).encoding or "utf-8", source=str(table_path)
    )
    refuse_duplicate_columns(text, source=str(table_path))
    table = pd.read_csv(io.StringIO(text), dtype={"id": "Int64"})
    missing = sorted({"id", "name-en", "name-ja", "regions"} - set(table.columns))
    if missing:
        raise DataError(f"{table_path} lacks column(s) {missing}; fetch the catalogued file")
    out = pd.DataFrame(
        {
            "pref_code": codes.astype("int64").to_numpy(),
            "name_full": frame["nam"].astype("string").to_numpy(),
            "name_ja": frame["nam_ja"].astype("string").to_numpy(),
        },
        index=frame.index,
    ).merge(
        table.rename(columns={"id": "pref_code", "name-en": "name", "name-ja": "name_ja_table"})[
            ["pref_code", "name", "name_ja_table", "regions"]
        ].astype({"pref_code": "int64"}),
        on="pref_code",
        how="left",
    )
    out.index = frame.index
    disagree = [
        f"{code}: {full!r} vs {short!r}"
        for code, full, short, ja, ja_table in zip(
            out["pref_code"],
            out["name_full"],
            out["name"],
            out["name_ja"],
            out["name_ja_table"],
            strict=True,
        )
        if pd.isna(short) or not _squash(full).startswith(_squash(short)) or ja != ja_table
    ]
    if disagree:
        raise DataError(
            f"{path} and {table_path} disagree on prefecture names for codes {disagree[:3]}; "
            "the code join is not trustworthy: fetch the catalogued files"
        )
    report.normalize("prefectures joined to prefectures.csv by JIS code (names agree)", len(out))
    gdf = frame[[frame.geometry.name]].join(
        out.rename(columns={"regions": "region_code"}).drop(columns=["name_ja_table"])
    )
    gdf = gdf[["pref_code", "name", "name_full", "name_ja", "region_code", frame.geometry.name]]
    gdf = clean_geometries(gdf, report, what=str(path))
    report.records_out = len(gdf)
    return attach_report(gdf, report, geomap_source=dataset.id)


def _squash(name: Any) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def natural_earth_layers(dataset: Dataset) -> dict[str, str]:
    """Map layer names (file stem without ``ne_``) to catalog paths."""
    layers = {}
    for entry in dataset.files:
        if entry.format in ("geojson", "7z"):
            stem = PurePosixPath(entry.path).name.split(".")[0]
            layers[stem.removeprefix("ne_")] = entry.path
    return layers


@reader("natural-earth")
def read_natural_earth(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
    **options: Any,
) -> Any:
    """Read one Natural Earth layer (default ``"110m_admin_0_countries"``).

    Parameters
    ----------
    layer : str, optional
        File stem without ``ne_``; see :func:`natural_earth_layers`.
    max_uncompressed_bytes : int
        Bound on the 7-Zip member's size.

    Returns
    -------
    GeoDataFrame
        In EPSG:4326/CRS84 with ``attrs["geomap_report"]``.
    """
    reject_unknown_options("natural-earth", options, ["max_uncompressed_bytes"])
    layers = natural_earth_layers(dataset)
    chosen = pick_layer(dataset.id, layer, layers)
    entry = dataset.file(layers[chosen])
    path = paths[entry.path]
    if entry.format == "7z":
        member, data = read_7z_member(
            path, suffixes=(".json", ".geojson"), max_bytes=max_uncompressed_bytes
        )
        name = f"{path}!{member}"
        if not data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{":
            raise DataError(f"{name} is not a GeoJSON document; replace the archive")
        frame = read_ogr(data, driver="GeoJSON", name=name)
    else:
        require_format(path, "json", what="Natural Earth GeoJSON")
        name = str(path)
        frame = read_ogr(path, driver="GeoJSON", name=name)
    frame = frame.set_crs(resolve_crs(frame.crs, entry.crs, source=name), allow_override=True)
    report = IngestReport(dataset.id, records_in=len(frame))
    frame = clean_geometries(frame, report, what=name)
    report.records_out = len(frame)
    return attach_report(frame, report, geomap_source=dataset.id, geomap_layer=chosen)

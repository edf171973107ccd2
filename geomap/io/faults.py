"""Reader ``gem-faults``: the GEM Global Active Faults zipped GeoJSON.

The archive is opened in memory: member names are checked (no absolute paths,
no ``..``) and decompression stops at ``max_uncompressed_bytes``.  Null
geometries are dropped and counted, invalid ones repaired, and the attributes
normalized by :func:`geomap.harmonize.faults.normalize_faults` (slip-type
vocabulary, ``"(preferred,min,max)"`` strings parsed into numeric columns).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.harmonize.faults import normalize_faults
from geomap.harmonize.geometry import clean_geometries
from geomap.io._archive_members import DEFAULT_MAX_UNCOMPRESSED, read_zip_member
from geomap.io._crs_checks import resolve_crs
from geomap.io._gdal import read_ogr
from geomap.io._reader_entry import attach_report, pick_layer, reject_unknown_options
from geomap.io.registry import reader

__all__ = ["read_gem_faults"]


@reader("gem-faults")
def read_gem_faults(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    normalize: bool = True,
    max_uncompressed_bytes: int = DEFAULT_MAX_UNCOMPRESSED,
    **options: Any,
) -> Any:
    """Read GEM active-fault traces.

    Parameters
    ----------
    dataset : Dataset
        The catalog entry.
    paths : dict
        Catalog path -> local path.
    layer : {None, "faults"}
        The only layer.
    normalize : bool, default True
        Normalize slip types and parse the tuple strings (see
        :mod:`geomap.harmonize.faults`); ``False`` keeps the source columns.
    max_uncompressed_bytes : int
        Refuse an archive member that expands beyond this.

    Returns
    -------
    GeoDataFrame
        Line traces in EPSG:4326 with ``attrs["geomap_report"]``.
    """
    reject_unknown_options("gem-faults", options, ["normalize", "max_uncompressed_bytes"])
    pick_layer(dataset.id, layer, {"faults": None})
    entry = next(f for f in dataset.files if f.format == "geojson-zip")
    archive = paths[entry.path]
    member, data = read_zip_member(
        archive, suffixes=(".geojson", ".json"), max_bytes=max_uncompressed_bytes
    )
    name = f"{archive}!{member}"
    _require_json(data, name)
    frame = read_ogr(data, driver="GeoJSON", name=name)
    frame = frame.set_crs(resolve_crs(frame.crs, entry.crs, source=name), allow_override=True)
    report = IngestReport(dataset.id, records_in=len(frame))
    frame = clean_geometries(frame, report, what=name)
    if normalize:
        frame = normalize_faults(frame, report)
    report.records_out = len(frame)
    return attach_report(frame, report, geomap_source=dataset.id)


def _require_json(data: bytes, name: str) -> None:
    from geomap.errors import DataError

    head = data[:64].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"{"):
        raise DataError(
            f"{name} is not a GeoJSON document (starts with {data[:16]!r}); "
            "replace the archive with the genuine file"
        )

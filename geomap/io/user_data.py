"""The user's own files: evidence layers (any vector or raster GDAL reads) and training sites.

``geomap build RECIPE --evidence NAME=PATH --sites FILE`` and the recipe keys
``source: {path: FILE}`` / ``training: {path: FILE}`` read files that are not in the
catalog.  They get the same guards as the catalog readers:

* the content is checked before GDAL opens it (:func:`geomap.io._formats.require_format`),
  and exactly one GDAL driver is allowed per format (GeoTIFF, GeoPackage, shapefile,
  GeoJSON, FlatGeobuf); anything else is refused with the list of accepted formats;
* the CRS must be in the file (a ``.prj``, the GeoPackage/GeoTIFF CRS); a CSV carries
  none, so its CRS is given explicitly (``--sites-crs``) — no CRS is ever assumed;
* the data must lie inside the CRS's area of use (a wrong ``.prj`` shows up as
  coordinates far outside it) and overlap the region being built;
* geometries are cleaned and counted; CSV text must be UTF-8 (the error names the
  encoding it looks like and the fix);
* the file's sha256 is recorded (:func:`file_record`) and goes into the build manifest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyproj

from geomap.errors import CRSError, DataError

__all__ = ["UserFile", "file_record", "read_user_evidence", "read_user_sites", "sniff_format"]

_VECTOR_DRIVERS = {
    "shapefile": "ESRI Shapefile",
    "geopackage": "GPKG",
    "geojson": "GeoJSON",
    "flatgeobuf": "FlatGeobuf",
}
_ACCEPTED = (
    "GeoTIFF (.tif), GeoPackage (.gpkg), shapefile (.shp), GeoJSON (.geojson), "
    "FlatGeobuf (.fgb); sites also CSV"
)


@dataclass(frozen=True)
class UserFile:
    """Provenance of one user file (written to the manifest)."""

    name: str
    path: str
    sha256: str
    size: int
    format: str
    crs: str | None

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return dict(self.__dict__)


def sniff_format(path: Path) -> str:
    """Return the format of a user file, from its first bytes (not its name).

    Raises
    ------
    DataError
        Missing, empty, or not one of the accepted formats.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file; check the path given to --evidence/--sites")
    head = path.read_bytes()[:512]
    if not head:
        raise DataError(f"{path} is empty; nothing can be read from it")
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "geotiff"
    if head.startswith(b"SQLite format 3\x00"):
        return "geopackage"
    if head.startswith(b"\x00\x00\x27\x0a"):
        return "shapefile"
    if head.startswith(b"fgb\x03"):
        return "flatgeobuf"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] == b"{":
        return "geojson"
    if path.suffix.lower() in (".csv", ".txt") and b"\x00" not in head:
        return "csv"
    raise DataError(
        f"{path} is not a format geomap reads as user data (it looks like "
        f"{_describe(head)}); accepted: {_ACCEPTED}. Convert it with GDAL "
        "(ogr2ogr / gdal_translate)"
    )


def _describe(head: bytes) -> str:
    from geomap.io._formats import _describe_content

    return _describe_content(head)


def file_record(name: str, path: Path, fmt: str, crs: Any) -> UserFile:
    """Hash a user file (the file itself; shapefile sidecars are part of its format)."""
    from geomap.fetching import file_sha256

    path = Path(path).resolve()
    label = None if crs is None else pyproj.CRS.from_user_input(crs).to_string()
    return UserFile(name, str(path), file_sha256(path), path.stat().st_size, fmt, label)


def _lonlat_bounds(bounds: tuple[float, float, float, float], crs: pyproj.CRS) -> tuple[float, ...]:
    if crs.is_geographic:
        return bounds
    to_lonlat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return to_lonlat.transform_bounds(*bounds, densify_pts=21)


def check_area(path: Path, bounds: tuple[float, ...], crs: pyproj.CRS, region: Any | None) -> None:
    """Refuse data outside its CRS's area of use, or not overlapping the region.

    Raises
    ------
    CRSError
        The coordinates lie outside the CRS's area of use (a wrong CRS in the file).
    DataError
        The data do not overlap the region's bounding box.
    """
    if not all(math.isfinite(v) for v in bounds):
        raise DataError(f"{path}: the data have no finite extent; check the file")
    west, south, east, north = _lonlat_bounds(tuple(bounds), crs)  # type: ignore[arg-type]
    area = crs.area_of_use
    if area is not None:
        margin = 2.0
        outside = (
            south > area.north + margin
            or north < area.south - margin
            or (area.west <= area.east and (west > area.east + margin or east < area.west - margin))
        )
        if outside:
            raise CRSError(
                f"{path}: its data ({west:.2f}, {south:.2f}, {east:.2f}, {north:.2f} in lon/lat) "
                "lie "
                f"outside the area of use of its CRS {crs.name!r} ({area.west:g}, {area.south:g}, "
                f"{area.east:g}, {area.north:g}); the CRS in the file is probably wrong: fix the "
                ".prj / CRS (e.g. ogr2ogr -a_srs EPSG:xxxx)"
            )
    if region is not None:
        rw, rs, re_, rn = region.bbox
        lon_overlap = (west <= re_ and east >= rw) if rw <= re_ else (east >= rw or west <= re_)
        if not (lon_overlap and south <= rn and north >= rs):
            raise DataError(
                f"{path}: its data ({west:.2f}, {south:.2f}, {east:.2f}, {north:.2f}) do not "
                "overlap "
                f"region {region.id!r} ({rw:g}, {rs:g}, {re_:g}, {rn:g}); choose the region the "
                "file covers, or the right file"
            )


def read_user_evidence(path: Path, *, name: str, region: Any | None = None) -> tuple[Any, UserFile]:
    """Read a user raster or vector file for an evidence layer, with the catalog readers' guards.

    Returns
    -------
    (GeoDataFrame or DataArray, UserFile)
        The data with its own CRS (``attrs["geomap_source"] = "user:NAME"``) and its
        provenance (path, sha256, size, format, CRS).
    """
    from geomap.core.report import IngestReport
    from geomap.io.grids import read_geotiff_path
    from geomap.io.vectors import read_vector_path

    path = Path(path)
    fmt = sniff_format(path)
    report = IngestReport(f"user:{name}")
    if fmt == "csv":
        raise DataError(
            f"{path}: a CSV cannot be an evidence layer (it has no geometry); convert it to a "
            "GeoPackage, or pass it as training sites with --sites"
        )
    if fmt == "geotiff":
        data = read_geotiff_path(path, report=report, dataset_id=f"user:{name}")
        crs = pyproj.CRS.from_user_input(data.rio.crs.to_wkt())
        bounds = data.rio.bounds()
    else:
        if fmt == "flatgeobuf":
            from geomap.harmonize.geometry import clean_geometries
            from geomap.io._gdal import read_ogr

            data = read_ogr(path, driver="FlatGeobuf", name=str(path))
            if data.crs is None:
                raise CRSError(_no_crs(path))
            report.records_in += len(data)
            data = clean_geometries(data, report, what=str(path), mixed="keep")
        else:
            try:
                data = read_vector_path(
                    path, file_format=fmt, declared_crs=None, report=report, mixed="keep"
                )
            except CRSError:
                raise CRSError(_no_crs(path)) from None
        crs = pyproj.CRS.from_user_input(data.crs)
        bounds = tuple(data.total_bounds)
        report.records_out = len(data)
        data.attrs["geomap_report"] = report.to_dict()
    check_area(path, bounds, crs, region)
    data.attrs["geomap_source"] = f"user:{name}"
    return data, file_record(name, path, fmt, crs)


def _no_crs(path: Path) -> str:
    return (
        f"{path} carries no CRS and geomap never assumes one; add it to the file (a .prj beside a "
        "shapefile, or ogr2ogr -a_srs EPSG:xxxx / gdal_edit.py -a_srs EPSG:xxxx)"
    )


_LON = ("longitude", "lon", "long", "x", "easting")
_LAT = ("latitude", "lat", "y", "northing")


def read_user_sites(
    path: Path, *, crs: str | None = None, region: Any | None = None, encoding: str = "utf-8"
) -> tuple[Any, UserFile]:
    """Read a CSV or vector file of training sites into the occurrence schema (EPSG:4326).

    Parameters
    ----------
    path : Path
        A CSV with x/y columns (``longitude``/``latitude``, ``lon``/``lat`` or ``x``/``y``,
        case-insensitive) and optional ``name`` and ``commodities`` columns; or a point
        GeoPackage/shapefile/GeoJSON.
    crs : str, optional
        The CRS of a CSV's coordinates (required for CSV: a CSV carries none).
    region : Region, optional
        Sites must overlap it.

    Returns
    -------
    (GeoDataFrame, UserFile)
    """
    import pandas as pd

    from geomap.core.report import IngestReport
    from geomap.harmonize.commodities import join_codes, load_vocabulary
    from geomap.harmonize.occurrences import make_occurrences

    path = Path(path)
    fmt = sniff_format(path)
    report = IngestReport("user:sites")
    if fmt == "csv":
        if crs is None:
            raise CRSError(
                f"{path}: a CSV carries no CRS and geomap never assumes one; pass the CRS of its "
                "coordinates (--sites-crs EPSG:4326 for longitude/latitude in WGS 84)"
            )
        data = path.read_bytes()
        try:
            text = data.decode(encoding.replace("utf-8", "utf-8-sig"))
        except UnicodeDecodeError as exc:
            guess = next((e for e in ("cp1252", "cp932", "latin-1") if _decodes(data, e)), None)
            raise DataError(
                f"{path} is not {encoding} text (byte {data[exc.start : exc.end]!r} at offset "
                f"{exc.start}); it looks like {guess or 'another encoding'}: re-save it as UTF-8"
            ) from None
        import io

        frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        lower = {c.lower().strip(): c for c in frame.columns}
        xcol = next((lower[c] for c in _LON if c in lower), None)
        ycol = next((lower[c] for c in _LAT if c in lower), None)
        if xcol is None or ycol is None:
            raise DataError(
                f"{path}: unexpected columns {list(frame.columns)[:10]}; a sites CSV needs x/y "
                "columns named longitude/latitude, lon/lat or x/y"
            )
        x = pd.to_numeric(frame[xcol], errors="coerce").to_numpy()
        y = pd.to_numeric(frame[ycol], errors="coerce").to_numpy()
        report.records_in = len(frame)
        ok = np.isfinite(x) & np.isfinite(y)
        report.drop("no or unreadable coordinates", int((~ok).sum()))
        frame, x, y = frame.loc[ok], x[ok], y[ok]
        source_crs = pyproj.CRS.from_user_input(crs)
    else:
        points, _ = read_user_evidence(path, name="sites")
        types = set(points.geom_type.unique())
        if not types <= {"Point", "MultiPoint"}:
            raise DataError(f"{path}: training sites must be points, got {sorted(types)}")
        points = points.explode(index_parts=False)
        frame = pd.DataFrame(points.drop(columns=points.geometry.name))
        x, y = points.geometry.x.to_numpy(), points.geometry.y.to_numpy()
        source_crs = pyproj.CRS.from_user_input(points.crs)
        report.records_in = len(points)
        lower = {c.lower(): c for c in frame.columns}
    if not len(frame):
        raise DataError(f"{path} holds no sites with coordinates")
    bounds = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
    check_area(path, bounds, source_crs, region)
    lon, lat = pyproj.Transformer.from_crs(source_crs, "EPSG:4326", always_xy=True).transform(x, y)
    vocab = load_vocabulary()
    names = frame[lower["name"]].astype(str).tolist() if "name" in lower else [""] * len(frame)
    raw = (
        frame[lower["commodities"]].astype(str).tolist()
        if "commodities" in lower
        else [""] * len(frame)
    )
    codes = [join_codes(vocab.normalize(r)) for r in raw]
    n = len(frame)
    out = make_occurrences(
        {
            "name": names,
            "dataset_id": ["user:sites"] * n,
            "source": [path.name] * n,
            "record_id": [str(i) for i in range(n)],
            "commodities": codes,
            "commodities_raw": raw,
            "license": ["LicenseRef-user-data"] * n,
            "source_crs": [source_crs.to_string()] * n,
        },
        lon,
        lat,
        crs="EPSG:4326",
    )
    report.records_out = len(out)
    out.attrs["geomap_report"] = report.to_dict()
    out.attrs["geomap_source"] = "user:sites"
    return out, file_record("sites", path, fmt, source_crs)


def _decodes(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True

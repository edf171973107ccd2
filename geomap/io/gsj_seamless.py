"""Reader ``gsj-seamless-v2``: the Seamless Digital Geological Map of Japan 1:200,000 V2.

Source
    Geological Survey of Japan, AIST: https://gbank.gsj.jp/seamless/ .  Licence: the
    GSJ/AIST content terms (compatible with CC BY 4.0); every product must credit
    "Seamless Digital Geological Map of Japan 1:200,000 V2, Geological Survey of Japan,
    AIST (出典：産総研地質調査総合センター)" (the catalog entry's attribution, carried into
    every output like any other dataset).

Bulk download (``seamlessV2.zip``)
    ``seamlessV2_poly.shp`` (map-unit polygons, field ``symbol``),
    ``seamlessV2_line.shp`` (faults and other lines) and ``legend.tsv`` (tab-separated
    UTF-8 with the columns :data:`LEGEND_COLUMNS`, about 2,400 units); geographic
    coordinates on JGD2000 (EPSG:4612).  The archive is unpacked once into the cache
    (:func:`geomap.io.archives.unpack_zip`) and the polygons are read only inside
    ``bbox``.  Polygons are joined to the legend on ``symbol``; each legend unit gets a
    lithology class of the shared vocabulary (rules kept as data in
    ``geomap/data/official_lithology.yaml``), its age in Ma (``age_older_ma``,
    ``age_younger_ma`` from ``formationAge_en``) and its display colour (``color``,
    ``#rrggbb`` from ``r, g, b``).

Web API (:func:`seamless_legend_at`, :data:`SEAMLESS_TILES`)
    ``.../api/1.3.1/legend.json?point=LAT,LON`` (latitude first) returns the legend
    unit at a point; a point with no unit (sea, outside Japan) answers HTTP 200 with
    ``{}`` or ``"symbol": null``, returned here as ``None``.  Map tiles are at
    ``.../tiles/{z}/{y}/{x}.png`` (row before column).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geomap.catalog import Dataset
from geomap.core.report import IngestReport
from geomap.errors import DataError, FetchError, ParameterError
from geomap.harmonize.ages import age_range_ma
from geomap.harmonize.geometry import clean_geometries
from geomap.harmonize.lithology import lithology_code
from geomap.harmonize.official_lithology import seamless_lithology
from geomap.io._reader_entry import attach_report, pick_layer, reject_unknown_options
from geomap.io._text import decode_text
from geomap.io._windows import BBox, check_bbox, check_shapefile, read_vector_window
from geomap.io.archives import find_member, layout_error, unpack_zip
from geomap.io.registry import reader

__all__ = [
    "LEGEND_COLUMNS",
    "SEAMLESS_API",
    "SEAMLESS_TILES",
    "read_gsj_seamless",
    "read_seamless_legend",
    "read_seamless_path",
    "seamless_legend_at",
    "seamless_tile_url",
]

LEGEND_COLUMNS = (
    "ser",
    "symbol",
    "r",
    "g",
    "b",
    "formationAge_ja",
    "formationAge_en",
    "group_ja",
    "group_en",
    "lithology_ja",
    "lithology_en",
)
"""Columns of ``legend.tsv``, in order, as the download's ``readme.txt`` lists them.

The first, ``ser``, is a serial number that GSJ says may change as units are added or
removed (units are identified by ``symbol``); a legend whose first column is called ``no``
is read the same way.
"""

SEAMLESS_API = "https://gbank.gsj.jp/seamless/v2/api/1.3.1"
"""Base URL of the Seamless V2 web API."""

SEAMLESS_TILES = SEAMLESS_API + "/tiles/{z}/{y}/{x}.png"
"""Tile URL template (Leaflet placeholders; the row ``y`` comes before the column ``x``)."""

JGD2000 = "EPSG:4612"
_LAYOUT = "seamlessV2_poly.shp (+ .shx, .dbf, .prj), seamlessV2_line.shp, legend.tsv"
_POLY, _LINE, _LEGEND = "seamlessV2_poly.shp", "seamlessV2_line.shp", "legend.tsv"


def _folder(source: Path) -> tuple[Path, Path]:
    """(unpacked folder, archive-or-folder for messages)."""
    source = Path(source)
    if source.is_dir():
        return source, source
    return unpack_zip(source), source


def _member(folder: Path, name: str, origin: Path, *also: str) -> Path:
    """Return the member ``name``; if it (or one of ``also``) is missing, name all missing."""
    found = {n: find_member(folder, (n,), archive=origin, expected=_LAYOUT) for n in (name, *also)}
    missing = [n for n, path in found.items() if path is None]
    if missing:
        raise layout_error(folder, origin, missing, _LAYOUT)
    return found[name]  # type: ignore[return-value]


def read_seamless_legend(path: Path, report: IngestReport | None = None) -> pd.DataFrame:
    """Read ``legend.tsv`` into a table of units with lithology class, ages and colour.

    Raises
    ------
    DataError
        Not UTF-8 (e.g. saved as Shift_JIS), other columns than :data:`LEGEND_COLUMNS`,
        a symbol listed twice, or no units.
    """
    report = report or IngestReport("gsj-seamless-geology-200k-v2")
    data = path.read_bytes()
    if not data.strip():
        raise DataError(f"{path} is empty; fetch the Seamless V2 archive again")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            data.decode("cp932")
            hint = " (it decodes as Shift_JIS/cp932: re-save it as UTF-8)"
        except UnicodeDecodeError:
            hint = ""
        decode_text(data, "utf-8", source=f"{path}{hint}")
        raise  # pragma: no cover  (decode_text raised)
    header = text.splitlines()[0].split("\t")
    names = [h.strip() for h in header]
    if names[:1] == ["no"]:
        names[0] = "ser"
    if names != list(LEGEND_COLUMNS):
        missing = [c for c in LEGEND_COLUMNS if c not in names]
        extra = [c for c in names if c not in LEGEND_COLUMNS]
        sep = "" if "\t" in text.splitlines()[0] else " (no tab found: is it tab-separated?)"
        raise DataError(
            f"{path}: unexpected columns{sep}: missing {missing or 'none'}, unexpected "
            f"{extra or 'none'}; legend.tsv must have the tab-separated columns "
            f"{', '.join(LEGEND_COLUMNS)} (the Seamless V2 download)"
        )
    frame = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False, quoting=3)
    frame.columns = names
    frame["symbol"] = frame["symbol"].str.strip()
    empty = frame["symbol"] == ""
    report.drop("legend rows without a symbol", int(empty.sum()))
    frame = frame.loc[~empty]
    repeated = sorted(frame.loc[frame["symbol"].duplicated(), "symbol"].unique())
    if repeated:
        raise DataError(
            f"{path}: symbol(s) {repeated[:5]} are listed more than once; the join on symbol "
            "would be ambiguous: use the legend.tsv of the same download as the shapefile"
        )
    if frame.empty:
        raise DataError(f"{path} lists no legend units; fetch the Seamless V2 archive again")
    rgb = frame[["r", "g", "b"]].apply(pd.to_numeric, errors="coerce")
    bad_rgb = rgb.isna().any(axis=1) | ((rgb < 0) | (rgb > 255)).any(axis=1)
    report.normalize("legend units without a valid colour (no display colour)", int(bad_rgb.sum()))
    frame["color"] = [
        None if bad else f"#{int(r):02x}{int(g):02x}{int(b):02x}"
        for bad, r, g, b in zip(
            bad_rgb, rgb["r"].fillna(0), rgb["g"].fillna(0), rgb["b"].fillna(0), strict=True
        )
    ]
    frame["lithology"] = [
        seamless_lithology(le, lj, ge, gj)
        for le, lj, ge, gj in zip(
            frame["lithology_en"],
            frame["lithology_ja"],
            frame["group_en"],
            frame["group_ja"],
            strict=True,
        )
    ]
    frame["lithology_code"] = [lithology_code(c) for c in frame["lithology"]]
    ages = [age_range_ma(a) for a in frame["formationAge_en"]]
    frame["age_older_ma"] = np.array([a[0] for a in ages], dtype="float64")
    frame["age_younger_ma"] = np.array([a[1] for a in ages], dtype="float64")
    unknown = frame.loc[frame["lithology"] == "unknown", "lithology_en"]
    for term, count in unknown.value_counts().items():
        report.unmapped[str(term)] += int(count)
    report.normalize(
        "legend units given a lithology class", int((frame["lithology"] != "unknown").sum())
    )
    report.normalize(
        "legend units given an age in Ma", int(np.isfinite(frame["age_older_ma"]).sum())
    )
    return frame.reset_index(drop=True)


def read_seamless_path(
    source: Path,
    *,
    layer: str = "polygons",
    bbox: BBox | None = None,
    missing_symbols: str = "error",
    dataset_id: str = "gsj-seamless-geology-200k-v2",
) -> Any:
    """Read the Seamless V2 download (the zip or its unpacked folder).

    Parameters
    ----------
    source : Path
        ``seamlessV2.zip`` or a folder holding its files.
    layer : {"polygons", "lines", "legend"}
        The map-unit polygons joined to the legend, the line features, or the legend.
    bbox : (west, south, east, north), optional
        Degrees; only features intersecting it are read.
    missing_symbols : {"error", "keep"}
        Polygons whose ``symbol`` is not in ``legend.tsv``: refuse (default), or keep
        them with lithology ``unknown`` (counted in the report).

    Returns
    -------
    GeoDataFrame or DataFrame
        With ``attrs["geomap_report"]``.
    """
    if layer not in ("polygons", "lines", "legend"):
        raise ParameterError(f"layer={layer!r} is unknown; use 'polygons', 'lines' or 'legend'")
    if missing_symbols not in ("error", "keep"):
        raise ParameterError(f"missing_symbols={missing_symbols!r}; use 'error' or 'keep'")
    bbox = check_bbox(bbox)
    folder, origin = _folder(source)
    report = IngestReport(dataset_id)
    if layer == "legend":
        legend = read_seamless_legend(_member(folder, _LEGEND, origin), report)
        report.records_in = report.records_out = len(legend)
        return attach_report(legend, report, geomap_source=dataset_id)
    if layer == "lines":
        path = _member(folder, _LINE, origin)
        check_shapefile(path)
        lines = read_vector_window(
            path,
            driver="ESRI Shapefile",
            report=report,
            bbox=bbox,
            declared_crs=JGD2000,
            encoding="UTF-8",
        )
        if len(lines):
            lines = clean_geometries(lines, report, what=str(path))
        report.records_out = len(lines)
        return attach_report(lines, report, geomap_source=dataset_id, geomap_window=bbox)
    path = _member(folder, _POLY, origin, _LEGEND)
    legend_path = _member(folder, _LEGEND, origin)
    legend = read_seamless_legend(legend_path, report)
    check_shapefile(path)
    polys = read_vector_window(
        path,
        driver="ESRI Shapefile",
        report=report,
        bbox=bbox,
        declared_crs=JGD2000,
        encoding="UTF-8",
    )
    symbol_column = next((c for c in polys.columns if c.lower() == "symbol"), None)
    if symbol_column is None:
        raise DataError(
            f"{path}: no 'symbol' field (fields: {[c for c in polys.columns if c != 'geometry']}); "
            "the polygons cannot be joined to legend.tsv: use the official seamlessV2_poly.shp"
        )
    polys = polys.rename(columns={symbol_column: "symbol"})
    polys["symbol"] = polys["symbol"].astype("string").str.strip()
    known = polys["symbol"].isin(legend["symbol"]).to_numpy(dtype=bool)
    if (~known).any():
        absent = sorted(polys.loc[~known, "symbol"].fillna("<null>").unique())
        if missing_symbols == "error":
            raise DataError(
                f"{path}: {int((~known).sum())} polygon(s) carry symbol(s) {absent[:8]} that "
                f"{legend_path} does not list; use the legend.tsv of the same download, or pass "
                "missing_symbols='keep' to keep them as lithology 'unknown'"
            )
        report.normalize(
            f"polygons whose symbol is not in legend.tsv kept as 'unknown' ({absent[:5]})",
            int((~known).sum()),
        )
    keep = [
        "symbol",
        "lithology",
        "lithology_code",
        "age_older_ma",
        "age_younger_ma",
        "formationAge_en",
        "group_en",
        "lithology_en",
        "lithology_ja",
        "color",
    ]
    joined = polys[["symbol", polys.geometry.name]].merge(legend[keep], on="symbol", how="left")
    joined["lithology"] = joined["lithology"].fillna("unknown")
    joined["lithology_code"] = (
        joined["lithology_code"].fillna(lithology_code("unknown")).astype("uint8")
    )
    joined = joined.set_geometry(polys.geometry.name).set_crs(polys.crs, allow_override=True)
    if len(joined):
        joined = clean_geometries(joined, report, what=str(path))
    report.records_out = len(joined)
    return attach_report(joined, report, geomap_source=dataset_id, geomap_window=bbox)


@reader("gsj-seamless-v2")
def read_gsj_seamless(
    dataset: Dataset,
    paths: dict[str, Path],
    *,
    layer: str | None = None,
    bbox: BBox | None = None,
    missing_symbols: str = "error",
    **options: Any,
) -> Any:
    """Read a layer of the Seamless V2 catalog dataset (see :func:`read_seamless_path`)."""
    reject_unknown_options("gsj-seamless-v2", options, ["bbox", "missing_symbols"])
    chosen = pick_layer(dataset.id, layer, {"polygons": 1, "lines": 1, "legend": 1})
    (path,) = paths.values()
    return read_seamless_path(
        path, layer=chosen, bbox=bbox, missing_symbols=missing_symbols, dataset_id=dataset.id
    )


read_gsj_seamless.geomap_windowed = True  # type: ignore[attr-defined]


# ------------------------------------------------------------------------- web API


def seamless_tile_url(z: int, x: int, y: int, *, base_url: str = SEAMLESS_API) -> str:
    """URL of one map tile (the API orders the path ``z/y/x``)."""
    return f"{base_url.rstrip('/')}/tiles/{int(z)}/{int(y)}/{int(x)}.png"


def _api_error(response: Any) -> str:
    """Describe the API's own error (``{"code": "102", "message": {...}}``), if it sent one."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict) or "code" not in body:
        return ""
    message = body.get("message")
    if isinstance(message, dict):
        message = message.get("en") or message.get("ja")
    return f" (API error {body['code']}: {message})" if message else f" (API error {body['code']})"


def seamless_legend_at(
    lat: float, lon: float, *, base_url: str = SEAMLESS_API, timeout: float = 10.0
) -> dict[str, Any] | None:
    """Look up the Seamless V2 legend unit at a point with the web API.

    Parameters
    ----------
    lat, lon : float
        Latitude first, as the API's ``point=lat,lon`` (degrees, JGD2011 ≈ WGS84).
    base_url : str
        The API root (tests point it at a local server).
    timeout : float
        Seconds to wait.

    Returns
    -------
    dict or None
        The unit (the API's fields plus ``lithology``, ``lithology_code``,
        ``age_older_ma``, ``age_younger_ma``), or ``None`` where the map has no unit
        (the API answers ``{}`` or ``"symbol": null`` with HTTP 200).

    Raises
    ------
    ParameterError
        Coordinates out of range (e.g. longitude given first).
    FetchError
        No connection, an HTTP error, or an answer that is not JSON.
    """
    import requests

    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 360):
        raise ParameterError(
            f"point lat={lat}, lon={lon} is not a latitude/longitude pair; the API takes the "
            "latitude first (e.g. lat=35.68, lon=139.77)"
        )
    url = f"{base_url.rstrip('/')}/legend.json"
    try:
        # the comma stays literal, as the API documents it (point=lat,lon)
        response = requests.get(f"{url}?point={float(lat)!r},{float(lon)!r}", timeout=timeout)
        response.raise_for_status()
        payload = response.json()
    except requests.HTTPError as exc:
        raise FetchError(
            f"Seamless V2 API {url} answered HTTP {exc.response.status_code}"
            f"{_api_error(exc.response)} for point={lat},{lon}"
        ) from None
    except requests.RequestException as exc:
        raise FetchError(
            f"cannot reach the Seamless V2 API {url} ({type(exc).__name__}); use the bulk "
            "download (`geomap fetch gsj-seamless-geology-200k-v2`) to work offline"
        ) from None
    except ValueError:
        raise FetchError(f"Seamless V2 API {url} answered something that is not JSON") from None
    if isinstance(payload, list):
        payload = payload[0] if payload else {}
    if not isinstance(payload, dict) or not payload.get("symbol"):
        return None
    unit = dict(payload)
    unit["lithology"] = seamless_lithology(
        unit.get("lithology_en"),
        unit.get("lithology_ja"),
        unit.get("group_en"),
        unit.get("group_ja"),
    )
    unit["lithology_code"] = lithology_code(unit["lithology"])
    unit["age_older_ma"], unit["age_younger_ma"] = age_range_ma(unit.get("formationAge_en"))
    return unit

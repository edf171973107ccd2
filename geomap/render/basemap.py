"""Basemaps: a light offline vector basemap from the mirrored data, and optional online tiles.

The offline basemap (coastlines, countries, US states, Japanese prefectures) makes a saved map
readable with no network.  Online tile layers are offered as options only: OpenStreetMap, the
USGS National Map (topographic and imagery) and the Geospatial Information Authority of
Japan's tiles (地理院タイル), which the xyzservices catalogue does not include.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from geomap.errors import DataError

__all__ = [
    "BASEMAP_DATASETS",
    "GSI_PALE",
    "GSI_PHOTO",
    "GSI_STANDARD",
    "ONLINE_BASEMAPS",
    "offline_basemap",
    "world_outline",
]

NATURAL_EARTH = "natural-earth"
JAPAN_PREFECTURES = "japan-prefectures-globalmap"
BASEMAP_DATASETS = (NATURAL_EARTH, JAPAN_PREFECTURES)
"""Catalog ids of the datasets the offline basemap is drawn from."""

_COASTLINE = "natural-earth/ne_50m_coastline.json"
_COUNTRIES = "natural-earth/ne_110m_admin_0_countries.json"
_ADMIN1 = "natural-earth/ne_50m_admin_1_states_provinces.json"
_PREFECTURES = "japan-prefectures-globalmap/japan.topojson"
_JAPAN_BBOX = (122.5, 20.0, 154.0, 46.0)

_GSI_ATTRIBUTION = (
    '<a href="https://maps.gsi.go.jp/development/ichiran.html" target="_blank">地理院タイル</a>'
)


def _gsi(name: str, path: str, ext: str, title: str) -> Any:
    from xyzservices import TileProvider

    return TileProvider(
        name=f"GSI.{name}",
        url=f"https://cyberjapandata.gsi.go.jp/xyz/{path}/{{z}}/{{x}}/{{y}}.{ext}",
        attribution="地理院タイル (GSI Tiles, Geospatial Information Authority of Japan)",
        html_attribution=_GSI_ATTRIBUTION,
        max_zoom=18,
        min_zoom=2,
        title=title,
    )


def _online() -> dict[str, Any]:
    import xyzservices.providers as xyz

    return {
        "OpenStreetMap": xyz.OpenStreetMap.Mapnik,
        "USGS topographic (The National Map)": xyz.USGS.USTopo,
        "USGS imagery (The National Map)": xyz.USGS.USImagery,
        "GSI standard map (地理院タイル 標準地図)": GSI_STANDARD,
        "GSI pale map (地理院タイル 淡色地図)": GSI_PALE,
        "GSI aerial photo (地理院タイル 写真)": GSI_PHOTO,
        "GSJ Seamless geology V2 (1:200,000)": GSJ_SEAMLESS,
    }


GSI_STANDARD = _gsi("Standard", "std", "png", "GSI standard map")
"""The GSI standard map tiles (地理院タイル 標準地図), an ``xyzservices`` provider."""
GSI_PALE = _gsi("Pale", "pale", "png", "GSI pale map")
"""The GSI pale map tiles (地理院タイル 淡色地図), an ``xyzservices`` provider."""
GSI_PHOTO = _gsi("SeamlessPhoto", "seamlessphoto", "jpg", "GSI seamless aerial photo")
"""The GSI seamless aerial photo tiles (地理院タイル 写真), an ``xyzservices`` provider."""


def _gsj_seamless() -> Any:
    """Return the GSJ Seamless V2 geology tiles (web API; the path is ``z/y/x``: row first)."""
    from xyzservices import TileProvider

    from geomap.io.gsj_seamless import SEAMLESS_TILES

    return TileProvider(
        name="GSJ.SeamlessV2",
        url=SEAMLESS_TILES,
        attribution="Seamless Digital Geological Map of Japan 1:200,000 V2, Geological Survey of "
        "Japan, AIST (出典：産総研地質調査総合センター)",
        html_attribution='<a href="https://gbank.gsj.jp/seamless/" target="_blank">'
        "20万分の1日本シームレス地質図V2, 産総研地質調査総合センター (GSJ, AIST)</a>",
        max_zoom=13,
        min_zoom=3,
        title="GSJ Seamless geology V2",
    )


GSJ_SEAMLESS = _gsj_seamless()
"""The GSJ Seamless V2 geology tiles, an ``xyzservices`` provider (``z/y/x`` paths)."""
ONLINE_BASEMAPS: dict[str, Any] = _online()
"""Optional online tile layers by display name (never loaded in an offline map)."""


def _paths(dataset_id: str, catalog: Any) -> dict[str, Any]:
    from geomap.fetching import fetch
    from geomap.io.registry import local_paths

    return local_paths(catalog.dataset(dataset_id), fetch(dataset_id, catalog=catalog))


def _boxes(bbox: Sequence[float]) -> list[tuple[float, float, float, float]]:
    west, south, east, north = (float(v) for v in bbox)
    if not (-90 <= south < north <= 90):
        raise DataError(f"basemap bbox {tuple(bbox)} has south >= north; give (W, S, E, N) degrees")
    if west > east:  # crosses the antimeridian
        return [(west, south, 180.0, north), (-180.0, south, east, north)]
    return [(west, south, east, north)]


def _read(
    path: Any, crs: str, bbox: Sequence[float] | None, columns: list[str], layer: str | None
) -> Any:
    import geopandas as gpd
    import pandas as pd
    import shapely

    from geomap.io._formats import require_format
    from geomap.io._gdal import read_ogr

    # the same guards as every reader: content checked, one GDAL driver, safe GDAL options
    require_format(path, "json", what="basemap file")
    driver = "TopoJSON" if str(path).endswith(".topojson") else "GeoJSON"
    parts, repaired = [], 0
    for box in _boxes(bbox) if bbox is not None else [None]:
        part = read_ogr(
            path,
            driver=driver,
            name=path.name,
            layer=layer,
            columns=columns,
            bbox=box,
            allow_empty=True,
        )
        part = part[part.geometry.notna() & ~part.geometry.is_empty]
        invalid = ~part.geometry.is_valid
        if invalid.any():  # e.g. self-touching prefecture rings in the TopoJSON
            part.loc[invalid, "geometry"] = shapely.make_valid(part.geometry[invalid].to_numpy())
            repaired += int(invalid.sum())
        if box is not None and len(part):
            # keep only what the map shows (clipping is display generalisation)
            part = part.clip(shapely.box(*box))
        parts.append(part)
    frame = gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), geometry="geometry")
    frame.attrs["geomap_repaired_geometries"] = repaired  # display only, but counted
    # the catalog declares the CRS of these files (GeoJSON/TopoJSON carry none)
    return frame.set_crs(crs, allow_override=True)


def _with_margin(bbox: Sequence[float], margin: float) -> tuple[float, float, float, float]:
    west, south, east, north = (float(v) for v in bbox)
    width = (east - west) % 360 or 360.0
    dx, dy = width * margin, (north - south) * margin
    south, north = max(-90.0, south - dy), min(90.0, north + dy)
    if width + 2 * dx >= 360:
        return -180.0, south, 180.0, north
    west = (west - dx + 180) % 360 - 180
    east = (east + dx + 180) % 360 - 180
    return west, south, east, north


def _intersects(a: Sequence[float], b: Sequence[float]) -> bool:
    return any(
        box[0] <= b[2] and b[0] <= box[2] and box[1] <= b[3] and b[1] <= box[3] for box in _boxes(a)
    )


def offline_basemap(
    bbox: Sequence[float], *, margin: float = 0.15, catalog: Any = None
) -> dict[str, Any]:
    """Read the light vector basemap for a lon/lat box from the mirrored data.

    Parameters
    ----------
    bbox : (west, south, east, north)
        Degrees; ``west > east`` crosses the antimeridian.
    margin : float, default 0.15
        Fraction of the box's size added on every side before clipping.
    catalog : Catalog, optional
        Defaults to the project catalog.

    Returns
    -------
    dict of str to GeoDataFrame
        ``"coastline"``, ``"countries"``, ``"states"`` (first-order units where Natural Earth
        has them) and, when the box reaches Japan, ``"japan_prefectures"``; each with its
        source dataset id in ``attrs["geomap_source"]``.
    """
    from geomap.catalog import load_catalog

    cat = catalog or load_catalog()
    bbox = _with_margin(bbox, margin)
    out: dict[str, Any] = {}
    ne = _paths(NATURAL_EARTH, cat)
    ne_set = cat.dataset(NATURAL_EARTH)
    for key, rel, columns in (
        ("coastline", _COASTLINE, ["featurecla"]),
        ("countries", _COUNTRIES, ["NAME", "ISO_A3"]),
        ("states", _ADMIN1, ["name", "admin", "iso_3166_2"]),
    ):
        crs = ne_set.file(rel).crs or "OGC:CRS84"
        frame = _read(ne[rel], crs, bbox, columns, None)
        frame.attrs["geomap_source"] = NATURAL_EARTH
        out[key] = frame
    if _intersects(bbox, _JAPAN_BBOX):
        jp = _paths(JAPAN_PREFECTURES, cat)
        crs = cat.dataset(JAPAN_PREFECTURES).file(_PREFECTURES).crs or "OGC:CRS84"
        frame = _read(jp[_PREFECTURES], crs, bbox, ["nam", "nam_ja", "id"], "japan")
        frame.attrs["geomap_source"] = JAPAN_PREFECTURES
        out["japan_prefectures"] = frame
    return out


def world_outline(*, catalog: Any = None) -> Any:
    """Natural Earth 1:110m countries of the whole world (for the overview map)."""
    from geomap.catalog import load_catalog

    cat = catalog or load_catalog()
    paths = _paths(NATURAL_EARTH, cat)
    crs = cat.dataset(NATURAL_EARTH).file(_COUNTRIES).crs or "OGC:CRS84"
    frame = _read(paths[_COUNTRIES], crs, None, ["NAME"], None)
    frame.attrs["geomap_source"] = NATURAL_EARTH
    return frame

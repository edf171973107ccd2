"""Reading only the region asked for: bounding boxes, vector bbox reads, raster windows.

The official sources are large (SGMC's geodatabase ~1 GB, EMAG2v3 ~700 MB per grid,
MRDS ~300,000 rows); their readers take ``bbox`` (west, south, east, north in degrees,
west > east across the antimeridian) and read only the features or cells inside it:

* vectors through GDAL's spatial filter (:func:`read_vector_window`: the bbox is
  transformed into the layer's CRS, split at the antimeridian, and the features
  read are counted in the report, so tests can check that only the window was read);
* tables in chunks with a coordinate filter (the readers themselves);
* rasters with a rasterio window (:mod:`geomap.io.emag2v3`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyproj

from geomap.core.report import IngestReport
from geomap.errors import DataError, ParameterError
from geomap.io._crs_checks import resolve_crs
from geomap.io._formats import require_format
from geomap.io._gdal import gdal_options, read_ogr

__all__ = [
    "BBox",
    "check_bbox",
    "check_shapefile",
    "expand_bbox",
    "read_vector_window",
    "split_antimeridian",
]

BBox = tuple[float, float, float, float]
"""A box in degrees: west, south, east, north (west > east crosses the antimeridian)."""


def check_bbox(bbox: Sequence[float] | None) -> BBox | None:
    """Validate a lon/lat bbox (west, south, east, north); ``None`` passes through."""
    if bbox is None:
        return None
    try:
        west, south, east, north = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise ParameterError(
            f"bbox={bbox!r} must be four numbers (west, south, east, north) in degrees"
        ) from None
    if not (-90 <= south < north <= 90 and -180 <= west <= 180 and -180 <= east <= 180):
        raise ParameterError(
            f"bbox={bbox!r} is not (west, south, east, north) in degrees with south < north; "
            "give longitudes in [-180, 180] (west > east crosses the antimeridian)"
        )
    return (west, south, east, north)


def expand_bbox(bbox: BBox, degrees: float) -> BBox:
    """Widen a lon/lat box by ``degrees`` on every side (latitudes clamped, longitudes wrapped).

    >>> expand_bbox((-125.0, 24.0, -66.5, 49.5), 5)
    (-130.0, 19.0, -61.5, 54.5)
    >>> expand_bbox((172.0, 51.0, -129.0, 71.5), 10)
    (162.0, 41.0, -119.0, 81.5)
    """
    west, south, east, north = bbox
    if (east - west) % 360 + 2 * degrees >= 360:
        return (-180.0, max(south - degrees, -90.0), 180.0, min(north + degrees, 90.0))

    def wrap(lon: float) -> float:
        return (lon + 180.0) % 360.0 - 180.0

    return (
        wrap(west - degrees),
        max(south - degrees, -90.0),
        wrap(east + degrees),
        min(north + degrees, 90.0),
    )


def split_antimeridian(bbox: BBox) -> list[BBox]:
    """One box, or two when it crosses the antimeridian (west > east)."""
    west, south, east, north = bbox
    if west <= east:
        return [bbox]
    return [(west, south, 180.0, north), (-180.0, south, east, north)]


def _boxes_in_crs(bbox: BBox, crs: pyproj.CRS) -> list[BBox]:
    boxes = split_antimeridian(bbox)
    if crs.is_geographic:
        return boxes
    to_layer = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    out = []
    for box in boxes:
        xmin, ymin, xmax, ymax = to_layer.transform_bounds(*box, densify_pts=21)
        if not np.all(np.isfinite([xmin, ymin, xmax, ymax])):
            raise DataError(
                f"the window {box} cannot be expressed in the layer CRS {crs.name!r}; "
                "choose a region the layer covers"
            )
        out.append((xmin, ymin, xmax, ymax))
    return out


def check_shapefile(path: Path) -> None:
    """Check a shapefile and its ``.shx``/``.dbf`` before GDAL opens it."""
    require_format(path, "shapefile", what="shapefile")
    for suffix, kind in ((".shx", "shapefile"), (".dbf", "dbf")):
        sidecar = next(
            (c for c in (path.with_suffix(suffix), path.with_suffix(suffix.upper())) if c.exists()),
            None,
        )
        if sidecar is None:
            raise DataError(f"{path}: the {suffix} file is missing; fetch the whole shapefile")
        require_format(sidecar, kind, what=f"shapefile {suffix}")


def layer_info(path: Path, *, layer: str | None = None) -> dict[str, Any]:
    """``pyogrio.read_info`` under the safe GDAL options."""
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    try:
        with gdal_options():
            return dict(pyogrio.read_info(path, layer=layer))
    except (DataSourceError, DataLayerError) as exc:
        raise DataError(
            f"{path}{f' layer {layer!r}' if layer else ''} could not be opened ({exc}); check "
            "that the file is complete and the layer name is right"
        ) from None


def read_vector_window(
    path: Path,
    *,
    driver: str,
    report: IngestReport,
    bbox: BBox | None = None,
    declared_crs: str | None = None,
    layer: str | None = None,
    encoding: str | None = None,
    columns: Sequence[str] | None = None,
    where: str | None = None,
) -> Any:
    """Read the features of one layer that intersect ``bbox`` (lon/lat), with the file's CRS.

    ``report.records_in`` grows by the features read; a note records how many of the
    layer's features the window selected.  An empty selection returns an empty frame.
    """
    info = layer_info(path, layer=layer)
    crs = resolve_crs(info.get("crs"), declared_crs, source=str(path))
    total = int(info.get("features") or 0)
    boxes = [None] if bbox is None else _boxes_in_crs(bbox, crs)
    frames = []
    for box in boxes:
        frame = read_ogr(
            path,
            driver=driver,
            name=str(path),
            layer=layer,
            encoding=encoding,
            allow_empty=True,
            bbox=box,
            columns=list(columns) if columns is not None else None,
            where=where,
            fid_as_index=True,
        )
        frames.append(frame)
    if len(frames) == 1:
        out = frames[0]
    else:
        import pandas as pd

        out = pd.concat(frames)
        out = out.loc[~out.index.duplicated()]
    out = out.set_crs(crs, allow_override=True)
    report.records_in += len(out)
    if bbox is not None:
        report.notes.append(
            f"{path.name}: window {tuple(round(v, 4) for v in bbox)} selected {len(out):,} of "
            f"{total:,} features (only those were read)"
        )
    return out.reset_index(drop=True)

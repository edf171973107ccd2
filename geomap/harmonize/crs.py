"""CRS rules: one analysis CRS per region, checked coordinates, recorded operations.

:func:`to_region` is the one door into a region's analysis CRS (the catalog's
``Region.crs``) for vectors and rasters alike:

* a missing CRS is an error (no CRS is ever assumed), and so are GeoDataFrames
  whose geometry columns disagree (:func:`require_same_crs` checks layers);
* coordinates are checked against the source CRS before anything is moved
  (:func:`check_coordinates`): values outside the valid range, swapped
  latitude/longitude and points outside the CRS's area of use raise
  :class:`~geomap.errors.CRSError` naming the records; so do infinities after
  the transformation;
* the transformation is chosen with ``always_xy`` axis order among the
  operations PROJ knows for the region's area; the one used and its accuracy
  are recorded in ``attrs["geomap_crs_operation"]``.  When only a less
  accurate one is available (a grid is missing, a "ballpark" offset, or a known
  accuracy worse than ``max_error_m``) a :class:`CRSAccuracyWarning` is issued,
  or a :class:`~geomap.errors.CRSError` in strict mode (``strict=True`` or the
  environment variable ``GEOMAP_STRICT_CRS=1``);
* data are clipped to the region's bounding box in a longitude frame centred
  on the region, so boxes and geometries that cross the antimeridian (Alaska,
  the Pacific) stay continuous instead of spanning the globe.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import Point
>>> from geomap.harmonize import to_region
>>> tokyo = gpd.GeoDataFrame(geometry=[Point(139.69, 35.69)], crs="EPSG:4326")
>>> out = to_region(tokyo, "japan")
>>> out.crs.is_projected, out.attrs["geomap_crs_operation"]["best_available"]
(True, True)
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyproj
from pyproj.transformer import AreaOfInterest, TransformerGroup

from geomap.errors import CRSError
from geomap.harmonize.region_frame import region_polygon

if TYPE_CHECKING:
    import geopandas as gpd
    import xarray as xr

    from geomap.catalog import Region

__all__ = [
    "STRICT_ENV",
    "CRSAccuracyWarning",
    "OperationInfo",
    "check_coordinates",
    "describe_operation",
    "region_polygon",
    "require_crs",
    "require_same_crs",
    "to_region",
    "transformer_for",
]

STRICT_ENV = "GEOMAP_STRICT_CRS"
"""Environment variable that turns accuracy warnings into errors (``1``/``true``/``yes``)."""

_MAX_NAMED = 10


class CRSAccuracyWarning(UserWarning):
    """Only a less accurate coordinate operation than the best known one is available."""


@dataclass(frozen=True)
class OperationInfo:
    """The coordinate operation used between two CRSs, and how good it is.

    Attributes
    ----------
    source_crs, target_crs : str
        The CRSs (``EPSG:xxxx`` where one exists, else the PROJ string or name).
    operation : str
        PROJ's description of the operation used.
    accuracy_m : float or None
        PROJ's accuracy estimate in metres; ``None`` when unknown.
    best_available : bool
        False when a more accurate operation exists but needs a grid that is
        not installed (named in ``missing_grids``).
    ballpark : bool
        True when PROJ could only use a "ballpark" offset (datum shift unknown).
    missing_grids : tuple of str
        Grids that the better operations need.
    proj_pipeline : str
        The PROJ pipeline, for reproduction.
    """

    source_crs: str
    target_crs: str
    operation: str
    accuracy_m: float | None
    best_available: bool
    ballpark: bool
    missing_grids: tuple[str, ...] = field(default_factory=tuple)
    proj_pipeline: str = ""

    @property
    def degraded(self) -> bool:
        """Whether the operation is a fallback (missing grid or ballpark)."""
        return self.ballpark or not self.best_available

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        out = asdict(self)
        out["missing_grids"] = list(self.missing_grids)
        return out


_CRS_LABELS: dict[str, str] = {}
"""``_crs_label`` by WKT: the authority lookup searches PROJ's database, and a build asks it
tens of times for the same few CRSs."""


def _crs_label(crs: pyproj.CRS) -> str:
    """Return ``AUTH:CODE`` of a CRS, else its short definition or its name."""
    key = crs.to_wkt()
    label = _CRS_LABELS.get(key)
    if label is None:
        code = crs.to_authority(min_confidence=90)
        srs = crs.srs or ""
        if code is not None:
            label = f"{code[0]}:{code[1]}"
        else:
            label = srs if srs and len(srs) <= 120 else crs.name
        _CRS_LABELS[key] = label
    return label


def _strict_default(strict: bool | None) -> bool:
    if strict is not None:
        return strict
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def _area(bbox: Sequence[float] | None) -> AreaOfInterest | None:
    if bbox is None:
        return None
    west, south, east, north = bbox
    return AreaOfInterest(west, south, east, north)


def _zero_towgs84_hub(crs: pyproj.CRS) -> pyproj.CRS | None:
    """Return the WGS 84 hub of a BoundCRS whose datum shift is explicitly zero, else None.

    The Japan region CRS is GRS80 with ``+towgs84=0,0,0,0,0,0,0``: the datum is
    *declared* identical to WGS 84, but PROJ reports the accuracy of that step
    as unknown.  Accuracy is then judged on the way to the hub.
    """
    if not crs.is_bound or crs.coordinate_operation is None:
        return None
    if any(abs(float(p.value)) > 0 for p in crs.coordinate_operation.params):
        return None
    return crs.target_crs


def describe_operation(
    source: Any, target: Any, *, area: Sequence[float] | None = None
) -> tuple[pyproj.Transformer, OperationInfo]:
    """Pick the best available operation from ``source`` to ``target`` and describe it.

    Parameters
    ----------
    source, target : CRS-like
        Anything :meth:`pyproj.CRS.from_user_input` accepts.
    area : (west, south, east, north), optional
        Area of interest in degrees; operations valid there are preferred.

    Returns
    -------
    (pyproj.Transformer, OperationInfo)
        The transformer (``always_xy=True``) and its description.
    """
    src = pyproj.CRS.from_user_input(source)
    dst = pyproj.CRS.from_user_input(target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # pyproj warns on missing grids; we report
        group = TransformerGroup(src, dst, always_xy=True, area_of_interest=_area(area))
    if not group.transformers:
        raise CRSError(
            f"PROJ knows no coordinate operation from {_crs_label(src)} to {_crs_label(dst)}; "
            "check both CRS definitions"
        )
    transformer = group.transformers[0]
    accuracy: float | None = transformer.accuracy if transformer.accuracy >= 0 else None
    best_available = bool(group.best_available)
    description = transformer.description or ""
    ballpark = "ballpark" in description.lower()
    missing = {
        grid.short_name
        for op in group.unavailable_operations
        for grid in op.grids
        if not grid.available
    }
    src_hub, dst_hub = _zero_towgs84_hub(src), _zero_towgs84_hub(dst)
    if accuracy is None and not ballpark and (src_hub is not None or dst_hub is not None):
        # judge the accuracy on the way to/from the declared-identical WGS 84 hub
        _, hub_info = describe_operation(
            src_hub if src_hub is not None else src,
            dst_hub if dst_hub is not None else dst,
            area=area,
        )
        accuracy, ballpark = hub_info.accuracy_m, hub_info.ballpark
        best_available = best_available and hub_info.best_available
        missing |= set(hub_info.missing_grids)
    if src == dst:
        accuracy, ballpark, best_available = 0.0, False, True
    info = OperationInfo(
        source_crs=_crs_label(src),
        target_crs=_crs_label(dst),
        operation=description,
        accuracy_m=accuracy,
        best_available=best_available,
        ballpark=ballpark,
        missing_grids=tuple(sorted(missing)) if not best_available else (),
        proj_pipeline=transformer.definition,
    )
    return transformer, info


def transformer_for(
    source: Any,
    target: Any,
    *,
    area: Sequence[float] | None = None,
    strict: bool | None = None,
    max_error_m: float = 5.0,
) -> tuple[pyproj.Transformer, OperationInfo]:
    """Like :func:`describe_operation`, warning (or raising) on a degraded operation.

    Parameters
    ----------
    strict : bool, optional
        Raise instead of warning; defaults to ``$GEOMAP_STRICT_CRS``.
    max_error_m : float, default 5.0
        A known accuracy worse than this also counts as degraded (e.g. the
        Tokyo datum to WGS 84 Helmert shift, 9 m).

    Raises
    ------
    CRSError
        In strict mode, when the operation is degraded.
    """
    transformer, info = describe_operation(source, target, area=area)
    problems = []
    if not info.best_available:
        grids = ", ".join(info.missing_grids) or "a grid"
        problems.append(f"the best operation needs {grids}, which is not installed")
    if info.ballpark:
        problems.append("only a ballpark offset is available (datum shift unknown, errors ~100 m)")
    if info.accuracy_m is not None and info.accuracy_m > max_error_m:
        problems.append(f"its accuracy is {info.accuracy_m:g} m (> {max_error_m:g} m)")
    if problems:
        message = (
            f"transforming {info.source_crs} -> {info.target_crs} with "
            f"{info.operation!r}: {'; '.join(problems)}. Install the PROJ grids "
            "(projsync --all, or PROJ_NETWORK=ON) or supply data in a modern datum"
        )
        if _strict_default(strict):
            raise CRSError(f"strict CRS mode ({STRICT_ENV}=1): {message}")
        warnings.warn(message, CRSAccuracyWarning, stacklevel=3)
    return transformer, info


# ---------------------------------------------------------------------------------------------
# Checking inputs


def require_crs(obj: Any, what: str = "the input") -> pyproj.CRS:
    """Return the CRS of a GeoDataFrame/GeoSeries/DataArray, or raise CRSError."""
    crs = _crs_of(obj)
    if crs is None:
        raise CRSError(
            f"{what} has no CRS; no CRS is ever assumed: set it with .set_crs('EPSG:xxxx') "
            "(vectors) or .rio.write_crs('EPSG:xxxx') (rasters), or declare 'crs' in the catalog"
        )
    return pyproj.CRS.from_user_input(crs)


def _crs_of(obj: Any) -> Any:
    if hasattr(obj, "rio") and hasattr(obj, "dims"):
        return obj.rio.crs
    return getattr(obj, "crs", None)


def require_same_crs(*layers: Any, names: Sequence[str] | None = None) -> pyproj.CRS:
    """Check that every layer has a CRS and that they are all the same.

    Parameters
    ----------
    *layers : GeoDataFrame, GeoSeries or DataArray
    names : sequence of str, optional
        Names for messages (default ``layer 0``, ``layer 1``, ...).

    Returns
    -------
    pyproj.CRS
        The common CRS.

    Raises
    ------
    CRSError
        A layer has no CRS, or two layers differ.
    """
    labels = list(names) if names is not None else [f"layer {i}" for i in range(len(layers))]
    crss = [require_crs(layer, label) for layer, label in zip(layers, labels, strict=True)]
    for crs, label in zip(crss[1:], labels[1:], strict=True):
        if not crs.equals(crss[0], ignore_axis_order=True):
            raise CRSError(
                f"CRS mismatch: {labels[0]} is {_crs_label(crss[0])} but {label} is "
                f"{_crs_label(crs)}; bring both into one CRS first (e.g. to_region(layer, region))"
            )
    return crss[0] if crss else pyproj.CRS("EPSG:4326")


def _name_records(labels: Sequence[Any], bad: np.ndarray) -> str:
    idx = np.flatnonzero(bad)
    shown = ", ".join(repr(labels[i]) for i in idx[:_MAX_NAMED])
    more = f" and {idx.size - _MAX_NAMED} more" if idx.size > _MAX_NAMED else ""
    return f"{idx.size} record(s) [{shown}{more}]"


def _in_lon_range(lon: np.ndarray, west: float, east: float, margin: float) -> np.ndarray:
    """Whether longitudes fall in [west, east] (west > east crosses the antimeridian)."""
    span = (east - west) % 360 or 360.0
    rel = (lon - (west - margin)) % 360
    return rel <= span + 2 * margin


def check_coordinates(
    x: np.ndarray,
    y: np.ndarray,
    crs: Any,
    *,
    labels: Sequence[Any] | None = None,
    what: str = "the data",
    margin_deg: float = 2.0,
) -> None:
    """Check coordinates against a CRS's valid range and area of use.

    Parameters
    ----------
    x, y : array
        Coordinates in ``crs`` axis order x/y (longitude/latitude for geographic CRSs).
    crs : CRS-like
    labels : sequence, optional
        A label per coordinate (record id) used to name offenders.
    what : str
        Words for the message.
    margin_deg : float, default 2.0
        Tolerance around the CRS's area of use, in degrees.

    Raises
    ------
    CRSError
        Non-finite coordinates; latitudes beyond ±90 or longitudes beyond
        [-180, 360]; coordinates that look like swapped latitude/longitude;
        points outside the CRS's area of use.
    """
    crs = pyproj.CRS.from_user_input(crs)
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")
    names = list(labels) if labels is not None else list(range(x.size))
    label = _crs_label(crs)
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.all():
        raise CRSError(
            f"{what}: {_name_records(names, ~finite)} have non-finite coordinates (NaN or "
            "infinity); remove or correct them before reprojecting"
        )
    if crs.is_geographic:
        lon, lat = x, y
        bad = (np.abs(lat) > 90) | (lon < -180) | (lon > 360)
        if bad.any():
            swapped = bad & (np.abs(x) <= 90) & (np.abs(y) <= 180)
            if swapped.sum() == bad.sum():
                raise CRSError(
                    f"{what}: {_name_records(names, bad)} have |latitude| > 90 while their "
                    f"longitude is within ±90: latitude and longitude look swapped ({label} "
                    "is x = longitude, y = latitude); swap the columns"
                )
            raise CRSError(
                f"{what}: {_name_records(names, bad)} lie outside the valid range of {label} "
                "(longitude -180..360, latitude -90..90); these are not degrees in this CRS: "
                "declare the data's real CRS"
            )
    else:
        geodetic = crs.geodetic_crs or pyproj.CRS("EPSG:4326")
        to_geo = pyproj.Transformer.from_crs(crs, geodetic, always_xy=True)
        lon, lat = to_geo.transform(x, y, errcheck=False)
        lon, lat = np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
        bad = ~(np.isfinite(lon) & np.isfinite(lat))
        if bad.any():
            raise CRSError(
                f"{what}: {_name_records(names, bad)} cannot be converted from {label} to "
                "degrees (outside the projection's domain); check the declared CRS"
            )
    aou = crs.area_of_use
    if aou is None:
        return
    west, south, east, north = aou.bounds
    inside = (
        _in_lon_range(lon, west, east, margin_deg)
        & (lat >= south - margin_deg)
        & (lat <= north + margin_deg)
    )
    if inside.all():
        return
    hint = ""
    if not crs.is_geographic:
        inside_if_swapped = _projected_swap_inside(x, y, crs, aou.bounds, margin_deg)
        if inside_if_swapped[~inside].all():
            hint = " (they would fall inside if x and y were swapped: swap the columns)"
    else:
        swapped_inside = _in_lon_range(lat, west, east, margin_deg) & (
            (lon >= south - margin_deg) & (lon <= north + margin_deg)
        )
        if swapped_inside[~inside].all():
            hint = " (they would fall inside if latitude and longitude were swapped)"
    raise CRSError(
        f"{what}: {_name_records(names, ~inside)} lie outside the area of use of {label} "
        f"({aou.name}: {west:g}..{east:g}E, {south:g}..{north:g}N, ±{margin_deg:g}°){hint}; "
        "declare the data's real CRS or fix the coordinates"
    )


def _projected_swap_inside(
    x: np.ndarray, y: np.ndarray, crs: pyproj.CRS, bounds: Sequence[float], margin: float
) -> np.ndarray:
    geodetic = crs.geodetic_crs or pyproj.CRS("EPSG:4326")
    to_geo = pyproj.Transformer.from_crs(crs, geodetic, always_xy=True)
    lon, lat = to_geo.transform(y, x, errcheck=False)
    lon, lat = np.asarray(lon), np.asarray(lat)
    west, south, east, north = bounds
    return (
        np.isfinite(lon)
        & _in_lon_range(lon, west, east, margin)
        & (lat >= south - margin)
        & (lat <= north + margin)
    )


# ---------------------------------------------------------------------------------------------
# to_region: the door; vectors in geomap.harmonize.vector_region, rasters in
# geomap.harmonize.raster_region, the antimeridian frame in geomap.harmonize.region_frame


def to_region(
    obj: gpd.GeoDataFrame | xr.DataArray,
    region: Region | str,
    *,
    clip: bool = True,
    strict: bool | None = None,
    max_error_m: float = 5.0,
    resolution: float | None = None,
    resampling: str | None = None,
    geobox: Any = None,
    margin_deg: float = 2.0,
    catalog: Any = None,
) -> Any:
    """Reproject a vector or raster into a region's analysis CRS, clipped to its box.

    Parameters
    ----------
    obj : GeoDataFrame or DataArray
        Must carry a CRS.  DataArrays need dims ``("y", "x")`` (rioxarray).
    region : Region or str
        A catalog region or its id.
    clip : bool, default True
        Clip to the region's bounding box (records entirely outside are
        dropped and counted in the report).
    strict : bool, optional
        Raise instead of warning when only a degraded coordinate operation is
        available; default ``$GEOMAP_STRICT_CRS``.
    max_error_m : float, default 5.0
        Operations with a known accuracy worse than this count as degraded.
    resolution : float, optional
        Rasters: the cell size in metres of the region's analysis grid
        (:func:`geomap.grid.region_grid`) they are put on (default: the
        source's, rounded to two significant digits).
    resampling : {"bilinear", "nearest", "average", "mode"}, optional
        Raster resampling; by default :func:`geomap.grid.reproject_to`'s choice
        (integers and booleans are classes: ``nearest``, or ``mode`` onto a
        coarser grid; other values ``bilinear``, or ``average`` onto a coarser
        grid).  Rasters take one route into a region: windowed in their own CRS,
        then resampled once by :func:`geomap.grid.reproject_to`; cells whose
        centre lies outside the region's box are nodata.
    geobox : odc.geo.geobox.GeoBox, optional
        Put rasters on exactly this grid (overrides ``resolution``).
    margin_deg : float, default 2.0
        Tolerance around the source CRS's area of use.
    catalog : Catalog, optional
        Used to resolve a region id.

    Returns
    -------
    GeoDataFrame or DataArray
        In the region's CRS, with ``attrs["geomap_crs_operation"]`` (the
        operation and its accuracy), ``attrs["geomap_region"]`` and the
        updated ``attrs["geomap_report"]``.

    Raises
    ------
    CRSError
        Missing or mixed CRS, coordinates outside the source CRS's valid range
        or area of use (naming the records), swapped latitude/longitude,
        infinities after the transformation, or (strict mode) a degraded
        operation.
    """
    from geomap.harmonize.raster_region import _raster_to_region
    from geomap.harmonize.region_frame import _resolve_region
    from geomap.harmonize.vector_region import _vector_to_region

    region = _resolve_region(region, catalog)
    if hasattr(obj, "rio") and hasattr(obj, "dims"):
        return _raster_to_region(
            obj,
            region,
            strict=strict,
            max_error_m=max_error_m,
            resolution=resolution,
            resampling=resampling,
            geobox=geobox,
            margin_deg=margin_deg,
        )
    return _vector_to_region(
        obj, region, clip=clip, strict=strict, max_error_m=max_error_m, margin_deg=margin_deg
    )


def _report_dict(obj: Any) -> dict[str, Any]:
    report = obj.attrs.get("geomap_report")
    if isinstance(report, dict):
        return json.loads(json.dumps(report))
    return {
        "dataset_id": "(unknown)",
        "records_in": 0,
        "records_out": 0,
        "normalized": {},
        "repaired": {},
        "dropped": {},
        "unmapped": {},
        "notes": [],
    }


def _bump(section: dict[str, int], key: str, count: int) -> None:
    if count:
        section[key] = section.get(key, 0) + int(count)

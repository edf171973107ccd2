"""A dataset's CRS: the file's own or the catalog's, never assumed, and plausible for the data."""

from __future__ import annotations

from typing import Any

import pyproj

from geomap.errors import CRSError

__all__ = ["resolve_crs"]


def check_extent_plausible(bounds: Any, crs: Any, *, source: str) -> None:
    """Refuse coordinates that cannot be in ``crs`` (degrees in a projected CRS, or metres).

    Parameters
    ----------
    bounds : (minx, miny, maxx, maxy)
        The data's extent (NaN for an empty layer: nothing to check).
    crs : CRS-like
        The CRS the data declares (file or catalog).
    source : str
        The file name for messages.

    Raises
    ------
    CRSError
        A projected CRS (metres or feet) whose coordinates all fit in ±180 x ±90, i.e.
        degrees (e.g. a ``.prj`` saying EPSG:3857 beside longitude/latitude data); or a
        geographic CRS with coordinates beyond ±360 / ±90.
    """
    import math

    values = [float(v) for v in bounds]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        return
    minx, miny, maxx, maxy = values
    crs = pyproj.CRS.from_user_input(crs)
    name = crs.to_string()
    if crs.is_geographic:
        if min(miny, -maxy) < -90 or minx < -360 or maxx > 360:
            raise CRSError(
                f"{source}: coordinates span x {minx:g}..{maxx:g}, y {miny:g}..{maxy:g}, which "
                f"cannot be degrees, but the CRS is geographic ({name}); declare the data's "
                "real (projected) CRS in the catalog or the .prj"
            )
        return
    if crs.is_projected and -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        raise CRSError(
            f"{source}: every coordinate lies within x {minx:g}..{maxx:g}, y {miny:g}..{maxy:g}, "
            f"i.e. longitude/latitude degrees, but the declared CRS {name} is projected (in "
            f"{crs.axis_info[0].unit_name}s); declare the data's real CRS (e.g. EPSG:4326) "
            "in the catalog or the .prj"
        )


def resolve_crs(found: Any, declared: str | None, *, source: str) -> pyproj.CRS:
    """Choose a dataset's CRS: the file's own, else the catalog's declaration.

    Parameters
    ----------
    found : CRS-like or None
        The CRS the file carries (``None`` if it carries none).
    declared : str or None
        The catalog's ``crs`` for the file.
    source : str
        The file name for messages.

    Raises
    ------
    CRSError
        Neither is given (no CRS is ever assumed), or both are given and differ.
    """
    file_crs = pyproj.CRS.from_user_input(found) if found is not None else None
    declared_crs = pyproj.CRS.from_user_input(declared) if declared is not None else None
    if file_crs is None and declared_crs is None:
        raise CRSError(
            f"{source} carries no CRS and the catalog declares none; no CRS is assumed: "
            "add 'crs: EPSG:xxxx' to the file's catalog entry"
        )
    if file_crs is not None and declared_crs is not None and not _same_crs(file_crs, declared_crs):
        raise CRSError(
            f"{source} declares CRS {file_crs.to_string()!r} but the catalog says "
            f"{declared!r}; fix the catalog entry's 'crs' (or the file's .prj)"
        )
    return file_crs if file_crs is not None else declared_crs  # type: ignore[return-value]


def _same_crs(a: pyproj.CRS, b: pyproj.CRS) -> bool:
    """Whether two CRSs are the same up to axis order (CRS84 vs EPSG:4326) and naming (ESRI WKT)."""
    if a == b or a.equals(b, ignore_axis_order=True):
        return True
    code_a, code_b = a.to_epsg(min_confidence=70), b.to_epsg(min_confidence=70)
    return code_a is not None and code_a == code_b

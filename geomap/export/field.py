"""Targets and occurrences for field GPS units and Google Earth: GPX and KML (via GDAL).

GPX holds points only, so each target is a waypoint at its centroid (its outline is in the KML
and the GeoPackage); every occurrence is a waypoint.  KML holds the target polygons and the
occurrence points.  Names and descriptions are short, human text (``"T001 (rank 1)"``,
``"28,700 km², mean prospectivity 0.166, Colorado"``); the files are written by GDAL's GPX and
KML drivers through pyogrio, atomically, in WGS84 as both formats require.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from geomap.errors import CRSError, DataError

__all__ = ["FIELD_FORMATS", "write_field_files"]

FIELD_FORMATS = ("gpx", "kml")
"""Field-GPS formats ``geomap export --format`` writes (through GDAL's drivers)."""


def _text(value: Any) -> str | None:
    from geomap.styles import display_text

    return display_text(value)


def _target_points(targets: Any, *, points: bool) -> Any:
    import geopandas as gpd

    from geomap.styles import human_number

    frame = targets.to_crs("EPSG:4326")
    if points:
        centroids = targets.geometry.centroid.to_crs("EPSG:4326")
        frame = frame.set_geometry(centroids.to_numpy())
    names, descriptions = [], []
    for row in frame.itertuples(index=False):
        ident = getattr(row, "target_id", None) or f"T{int(row.rank):03d}"
        names.append(f"{ident} (rank {row.rank})")
        parts = []
        if hasattr(row, "area_km2"):
            parts.append(f"{human_number(float(row.area_km2))} km²")
        if hasattr(row, "mean_prospectivity"):
            parts.append(f"mean prospectivity {human_number(float(row.mean_prospectivity))}")
        place = ", ".join(
            p
            for p in (_text(getattr(row, "state", None)), _text(getattr(row, "country", None)))
            if p
        )
        if place:
            parts.append(place)
        if getattr(row, "n_occurrences", 0):
            parts.append(f"{int(row.n_occurrences)} known occurrence(s)")
        descriptions.append(", ".join(parts))
    return gpd.GeoDataFrame(
        {"name": names, "desc": descriptions}, geometry=frame.geometry.to_numpy(), crs="EPSG:4326"
    )


def _occurrence_points(occurrences: Any) -> Any:
    import geopandas as gpd
    import shapely

    frame = occurrences.to_crs("EPSG:4326")
    geoms = frame.geometry.to_numpy()
    geoms = shapely.point_on_surface(geoms)
    keep = ~shapely.is_empty(geoms) & ~shapely.is_missing(geoms)
    frame = frame.loc[keep]
    names, descriptions = [], []
    for row in frame.itertuples(index=False):
        name = _text(getattr(row, "name", None)) or _text(getattr(row, "site_id", None))
        names.append(name or "Unnamed occurrence")
        parts = [
            p
            for p in (
                _text(getattr(row, "commodities", None)),
                _text(getattr(row, "deposit_type", None)),
                "training site" if bool(getattr(row, "training", False)) else None,
                _text(getattr(row, "dataset_id", None)),
            )
            if p
        ]
        descriptions.append("; ".join(parts))
    return gpd.GeoDataFrame(
        {"name": names, "desc": descriptions}, geometry=geoms[keep], crs="EPSG:4326"
    ), int((~keep).sum())


def write_field_files(
    folder: str | os.PathLike[str],
    *,
    targets: Any = None,
    occurrences: Any = None,
    formats: Iterable[str] = FIELD_FORMATS,
) -> dict[str, Path]:
    """Write ``targets.gpx``/``occurrences.gpx`` and ``targets.kml``/``occurrences.kml``.

    Parameters
    ----------
    folder : path-like
        Existing output folder.
    targets : GeoDataFrame, optional
        Ranked target polygons (``rank``, ``area_km2``, ``mean_prospectivity``, ``state``...)
        with a CRS.
    occurrences : GeoDataFrame, optional
        Occurrences in the common schema with a CRS (``training`` marks training sites).
    formats : iterable of {"gpx", "kml"}
        Which files.

    Returns
    -------
    dict of str to Path
        File name -> path.

    Raises
    ------
    DataError
        An unknown format, or nothing to write.
    CRSError
        A layer has no CRS.
    """
    import pyogrio

    from geomap.core.atomic import atomic_path

    wanted = [f.lower() for f in formats]
    unknown = sorted(set(wanted) - set(FIELD_FORMATS))
    if unknown:
        raise DataError(f"field format(s) {unknown} unknown; use {list(FIELD_FORMATS)}")
    layers = {"targets": targets, "occurrences": occurrences}
    layers = {k: v for k, v in layers.items() if v is not None and len(v)}
    if not layers:
        raise DataError("no targets and no occurrences to write for the field")
    for key, frame in layers.items():
        if frame.crs is None:
            raise CRSError(f"the {key} layer has no CRS; set it with .set_crs()")
    written: dict[str, Path] = {}
    out = Path(folder)
    for fmt in wanted:
        for key, frame in layers.items():
            if key == "targets":
                shown = _target_points(frame, points=fmt == "gpx")
            else:
                shown, dropped = _occurrence_points(frame)
                if dropped:
                    import warnings

                    warnings.warn(
                        f"{dropped} occurrence(s) without a location left out of {key}.{fmt}",
                        stacklevel=2,
                    )
            path = out / f"{key}.{fmt}"
            with atomic_path(path) as tmp:
                work = tmp.with_name(tmp.name + f".{fmt}")
                try:
                    if fmt == "gpx":
                        pyogrio.write_dataframe(
                            shown, work, driver="GPX", layer="waypoints", promote_to_multi=False
                        )
                    else:
                        pyogrio.write_dataframe(
                            shown.rename(columns={"desc": "description"}),
                            work,
                            driver="KML",
                            layer=key,
                        )
                    work.replace(tmp)
                finally:
                    work.unlink(missing_ok=True)
            written[path.name] = path
    return written

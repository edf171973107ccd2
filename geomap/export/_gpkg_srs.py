"""GeoPackage housekeeping: one spatial reference row per CRS; lithology class styling data."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

__all__ = ["lithology_classes", "unify_srs"]


def lithology_classes(values: Sequence[str]) -> list[tuple[str, ...]] | None:
    """Return the lithology vocabulary's colour and name of each class id (unknown unfilled).

    ``None`` when the values are not all ids of geomap's lithology vocabulary.
    """
    from geomap.harmonize.lithology import load_lithology_vocabulary

    vocabulary = {c.id: c for c in load_lithology_vocabulary().classes}
    if not values or not set(values) <= set(vocabulary):
        return None
    return [
        (
            v,
            "transparent" if v == "unknown" else vocabulary[v].color,
            vocabulary[v].name.split(" (")[0],
        )
        for v in values
    ]


def unify_srs(con: sqlite3.Connection) -> None:
    """One ``gpkg_spatial_ref_sys`` row per CRS, under its EPSG code where it has one.

    GDAL gives a CRS without an EPSG code a new custom id each time a raster (rasterio) or a
    vector layer (pyogrio) is written, so one analysis CRS can appear twice (100000, 100001):
    QGIS then treats the layers as in different CRSs.  Rows describing the same CRS are merged
    (the lowest id kept) and every reference is moved to it; a custom row that PROJ identifies
    with an EPSG code gets that code.
    """
    import pyproj

    rows = con.execute(
        "SELECT srs_id, organization, organization_coordsys_id, definition "
        "FROM gpkg_spatial_ref_sys WHERE srs_id > 0 ORDER BY srs_id"
    ).fetchall()
    references = [
        ("gpkg_contents", "srs_id"),
        ("gpkg_geometry_columns", "srs_id"),
        ("gpkg_tile_matrix_set", "srs_id"),
    ]
    kept: list[tuple[int, Any]] = []
    moves: dict[int, int] = {}
    for srs_id, organization, _code, definition in rows:
        try:
            crs = pyproj.CRS.from_wkt(definition)
        except pyproj.exceptions.CRSError:
            continue
        same = next((k for k, other in kept if other.equals(crs)), None)
        if same is not None:
            moves[srs_id] = same
            continue
        if str(organization).upper() != "EPSG":
            epsg = crs.to_epsg(min_confidence=100)
            taken = con.execute(
                "SELECT 1 FROM gpkg_spatial_ref_sys WHERE srs_id = ?", (epsg,)
            ).fetchone()
            if epsg is not None and not taken:
                con.execute(
                    "UPDATE gpkg_spatial_ref_sys SET srs_id = ?, organization = 'EPSG', "
                    "organization_coordsys_id = ? WHERE srs_id = ?",
                    (epsg, epsg, srs_id),
                )
                for table, column in references:
                    con.execute(
                        f"UPDATE {table} SET {column} = ? WHERE {column} = ?",
                        (epsg, srs_id),
                    )
                srs_id = epsg
        kept.append((srs_id, crs))
    for old, new in moves.items():
        for table, column in references:
            con.execute(
                f"UPDATE {table} SET {column} = ? WHERE {column} = ?",
                (new, old),
            )
        con.execute("DELETE FROM gpkg_spatial_ref_sys WHERE srs_id = ?", (old,))

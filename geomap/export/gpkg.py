"""GeoPackage export: vector layers, raster tables, QGIS styles and provenance in one file.

:func:`write_geopackage` writes, into a single ``.gpkg`` (atomically):

* vector layers (occurrences, faults, geology, boundaries, targets...) with their own CRS and
  ASCII snake_case names;
* each raster as float values through GDAL's *2D gridded coverage* extension (the numbers, for
  analysis) and, optionally, as an RGBA-rendered PNG tile table ``<name>_rendered`` coloured
  like the HTML map (for viewing in any GeoPackage client);
* beside each prospectivity raster, its classes by share of the study area as
  ``<name>_classes`` (integer codes 1 to 6, 0 = no data declared in ``data_null``; the cells
  of ``prospectivity_classes.tif``, tied values split by position as on the map) with a
  one-colour-per-class style, so QGIS draws exactly the map's classes;
* a QGIS ``layer_styles`` table (QML and SLD per layer, default style) so layers open styled;
* provenance (datasets with file hashes and licences, parameters, the attribution block) in
  the GeoPackage metadata tables ``gpkg_metadata`` / ``gpkg_metadata_reference``, for the whole
  package and per table.

:func:`export_geopackage` names the layers of one prospectivity run.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from geomap.errors import CRSError, DataError, ExportError, OutputExistsError
from geomap.export._gpkg_rasters import (
    GPKG_VERSION,
    RASTER_NODATA,
    _check_raster,
    _class_table_name,
    _raster_colormap,
    _raster_tags,
    _write_class_table,
    _write_raster,
    _write_rendered,
)

__all__ = [
    "LAYER_NAME_PATTERN",
    "PROVENANCE_STANDARD_URI",
    "export_geopackage",
    "read_provenance",
    "write_geopackage",
]

LAYER_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
"""Allowed GeoPackage table names: ASCII snake_case, at most 63 characters."""
PROVENANCE_STANDARD_URI = "https://geomap.dev/provenance/v1"
"""``md_standard_uri`` of the provenance records in ``gpkg_metadata``."""

# layer-name prefix -> style kind
_KIND_BY_NAME = (
    ("occurrence", "occurrence"),
    ("fault", "fault"),
    ("geolog", "geology"),
    ("litholog", "geology"),
    ("target", "target"),
    ("boundar", "boundary"),
    ("region", "region"),
    ("coast", "coastline"),
    ("countr", "country"),
    ("state", "boundary"),
    ("prefecture", "boundary"),
)


def snake_case(name: str) -> str:
    """Suggest an ASCII snake_case layer name for ``name``.

    Examples
    --------
    >>> snake_case("Japan: Targets (VMS)")
    'japan_targets_vms'
    """
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "_", ascii_name.lower()).strip("_")
    if not text or not text[0].isalpha():
        text = "layer_" + text
    return text[:63]


def _check_name(name: str, seen: set[str]) -> None:
    if not LAYER_NAME_PATTERN.match(name):
        raise DataError(
            f"GeoPackage layer name {name!r} is not ASCII snake_case (lower-case letters, digits "
            f"and _, starting with a letter, at most 63 characters); use {snake_case(name)!r}"
        )
    if name in seen or name.startswith(("gpkg_", "rtree_", "sqlite_")) or name == "layer_styles":
        raise DataError(
            f"GeoPackage layer name {name!r} is used twice or reserved; choose another name"
        )
    seen.add(name)


def _kind(name: str) -> str:
    for fragment, kind in _KIND_BY_NAME:
        if fragment in name:
            return kind
    return "boundary"


def _scalar(value: Any) -> Any:
    """Return a value GDAL can store in a column (lists and dicts become text)."""
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        return "; ".join(str(v) for v in value)
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return value


def _plain_columns(frame: Any, skip: str | None = None) -> Any:
    """Return a copy without attrs whose object and categorical columns GDAL can write."""
    import pandas as pd

    out = frame.copy()
    out.attrs = {}
    for column in out.columns:
        if column == skip:
            continue
        if out[column].dtype == object:
            out[column] = out[column].map(_scalar)
        elif isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype("string")
    return out


def _prepare_vector(frame: Any, name: str) -> Any:
    if not hasattr(frame, "geometry"):
        raise DataError(f"layer {name!r} must be a GeoDataFrame, not {type(frame).__name__}")
    if frame.crs is None:
        raise CRSError(
            f"layer {name!r} has no CRS; set it with .set_crs() (geomap never assumes EPSG:4326)"
        )
    out = _plain_columns(frame, skip=frame.geometry.name)
    if name.startswith("occurrence") or "occurrence" in name:
        from geomap.styles import commodity_group

        if "commodities" in out.columns and "commodity_group" not in out.columns:
            out["commodity_group"] = [commodity_group(v) for v in out["commodities"].tolist()]
    return out


_SITE_LAYERS = ("occurrences", "training_sites")


def _flag_study_area(vectors: dict[str, Any], rasters: Mapping[str, Any]) -> None:
    """Add ``in_study_area`` to ``<prefix>occurrences`` / ``<prefix>training_sites``.

    True where the site lies on a cell of ``<prefix>prospectivity`` with a value.  A region's
    sites are read in its box, which reaches into neighbouring countries; a model leaves the
    sites outside the study area out, and the flag says which (an existing column stands).
    """
    from geomap.export.sites import on_data_cells

    for name, frame in vectors.items():
        suffix = next((s for s in _SITE_LAYERS if name.endswith(s)), None)
        if suffix is None or "in_study_area" in frame.columns:
            continue
        surface = rasters.get(f"{name[: -len(suffix)]}prospectivity")
        if surface is not None:
            _check_raster(surface, f"{name[: -len(suffix)]}prospectivity")
            frame["in_study_area"] = on_data_cells(frame, surface)


def _geometry_type(frame: Any) -> str:
    types = set(frame.geometry.geom_type.dropna().unique())
    if not types:
        return "Unknown"
    base = {t.replace("Multi", "") for t in types}
    if len(base) == 1:
        kind = base.pop()
        return f"Multi{kind}" if any(t.startswith("Multi") for t in types) else kind
    return "Unknown"


def _write_vector(path: Path, name: str, frame: Any, *, first: bool) -> tuple[str, str]:
    import pyogrio

    geometry_type = _geometry_type(frame)
    kwargs: dict[str, Any] = {
        "layer": name,
        "driver": "GPKG",
        "append": not first,
        "promote_to_multi": geometry_type.startswith("Multi"),
        "layer_options": {"SPATIAL_INDEX": "YES", "GEOMETRY_NAME": "geom"},
    }
    if first:
        kwargs["dataset_options"] = {"VERSION": GPKG_VERSION}
    if not len(frame):
        kwargs["geometry_type"] = "Unknown"
    if geometry_type == "Unknown" and len(frame):
        kwargs["geometry_type"] = "Unknown"
    pyogrio.write_dataframe(frame, path, **kwargs)
    return "geom", geometry_type


def _write_attributes(path: Path, name: str, table: Any) -> None:
    import pandas as pd
    import pyogrio

    if hasattr(table, "geometry") or not isinstance(table, pd.DataFrame):
        raise DataError(
            f"table {name!r} must be a pandas DataFrame without geometry; pass geometries "
            "in vectors="
        )
    pyogrio.write_dataframe(_plain_columns(table), path, layer=name, driver="GPKG", append=True)


def _ensure_metadata_tables(con: sqlite3.Connection) -> None:
    con.execute(
        """CREATE TABLE IF NOT EXISTS gpkg_metadata (
            id INTEGER CONSTRAINT m_pk PRIMARY KEY ASC NOT NULL,
            md_scope TEXT NOT NULL DEFAULT 'dataset',
            md_standard_uri TEXT NOT NULL,
            mime_type TEXT NOT NULL DEFAULT 'text/xml',
            metadata TEXT NOT NULL DEFAULT '')"""
    )
    con.execute(
        """CREATE TABLE IF NOT EXISTS gpkg_metadata_reference (
            reference_scope TEXT NOT NULL,
            table_name TEXT,
            column_name TEXT,
            row_id_value INTEGER,
            timestamp DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
            md_file_id INTEGER NOT NULL,
            md_parent_id INTEGER,
            CONSTRAINT crmr_mfi_fk FOREIGN KEY (md_file_id) REFERENCES gpkg_metadata(id),
            CONSTRAINT crmr_mpi_fk FOREIGN KEY (md_parent_id) REFERENCES gpkg_metadata(id))"""
    )
    for table in ("gpkg_metadata", "gpkg_metadata_reference"):
        exists = con.execute(
            "SELECT 1 FROM gpkg_extensions WHERE table_name = ? AND extension_name = ?",
            (table, "gpkg_metadata"),
        ).fetchone()
        if not exists:
            con.execute(
                "INSERT INTO gpkg_extensions (table_name, column_name, extension_name, definition,"
                " scope) VALUES (?, NULL, 'gpkg_metadata', "
                "'http://www.geopackage.org/spec120/#extension_metadata', 'read-write')",
                (table,),
            )


def _write_metadata(
    con: sqlite3.Connection, package: Mapping[str, Any], tables: Mapping[str, Mapping[str, Any]]
) -> None:
    _ensure_metadata_tables(con)
    text = json.dumps(package, ensure_ascii=False, indent=1, sort_keys=True, default=str)
    cur = con.execute(
        "INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) "
        "VALUES ('dataset', ?, 'application/json', ?)",
        (PROVENANCE_STANDARD_URI, text),
    )
    parent = cur.lastrowid
    con.execute(
        "INSERT INTO gpkg_metadata_reference (reference_scope, table_name, column_name, "
        "row_id_value, md_file_id, md_parent_id) VALUES ('geopackage', NULL, NULL, NULL, ?, NULL)",
        (parent,),
    )
    for table, record in tables.items():
        cur = con.execute(
            "INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) "
            "VALUES ('dataset', ?, 'application/json', ?)",
            (
                PROVENANCE_STANDARD_URI,
                json.dumps(record, ensure_ascii=False, indent=1, sort_keys=True, default=str),
            ),
        )
        con.execute(
            "INSERT INTO gpkg_metadata_reference (reference_scope, table_name, column_name, "
            "row_id_value, md_file_id, md_parent_id) VALUES ('table', ?, NULL, NULL, ?, ?)",
            (table, cur.lastrowid, parent),
        )


def _write_layer_styles(con: sqlite3.Connection, rows: Sequence[Any]) -> None:
    """Write the table QGIS reads styles from (its own schema), registered as attributes."""
    con.execute(
        """CREATE TABLE IF NOT EXISTS layer_styles (
            id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
            f_table_catalog TEXT(256),
            f_table_schema TEXT(256),
            f_table_name TEXT(256),
            f_geometry_column TEXT(256),
            styleName TEXT(30),
            styleQML TEXT,
            styleSLD TEXT,
            useAsDefault BOOLEAN,
            description TEXT,
            owner TEXT(30),
            ui TEXT(30),
            update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"""
    )
    exists = con.execute("SELECT 1 FROM gpkg_contents WHERE table_name = 'layer_styles'").fetchone()
    if not exists:
        con.execute(
            "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, "
            "last_change) VALUES ('layer_styles', 'attributes', 'layer_styles', "
            "'QGIS layer styles', strftime('%Y-%m-%dT%H:%M:%fZ','now'))"
        )
    for row in rows:
        con.execute(
            "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, "
            "f_geometry_column, styleName, styleQML, styleSLD, useAsDefault, description, owner)"
            " VALUES ('', '', ?, ?, ?, ?, ?, 1, ?, 'geomap')",
            (row.table, row.geometry_column, row.name, row.qml, row.sld, row.description),
        )


@contextlib.contextmanager
def _gpkg_work_file(part: Path) -> Iterator[Path]:
    """Yield a ``.gpkg``-named work file beside ``part`` (GDAL wants the extension)."""
    if part.suffix.lower() == ".gpkg":
        yield part
        return
    work = part.with_name(part.name + ".gpkg")
    try:
        yield work
        os.replace(work, part)
    finally:
        for leftover in (work, work.with_name(work.name + "-journal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def write_geopackage(
    path: str | os.PathLike[str],
    *,
    vectors: Mapping[str, Any] | None = None,
    rasters: Mapping[str, Any] | None = None,
    tables: Mapping[str, Any] | None = None,
    rendered: bool = False,
    qgis_project: bool = False,
    regions: Sequence[str] = (),
    class_columns: Mapping[str, str] | None = None,
    datasets: Iterable[str] = (),
    parameters: Mapping[str, Any] | None = None,
    catalog: Any = None,
    overwrite: bool = True,
) -> Path:
    """Write vector layers, raster tables, QGIS styles and provenance to one GeoPackage.

    Parameters
    ----------
    path : path-like
        The ``.gpkg`` file; it appears only when complete.
    vectors : mapping of str to GeoDataFrame
        Layer name (ASCII snake_case) -> layer, each with a CRS (kept as is).  Names
        containing ``occurrence``, ``fault``, ``geolog``, ``target``, ``boundar``... choose the
        style; an occurrence layer gains a ``commodity_group`` column (the map's colours),
        and ``<prefix>occurrences`` / ``<prefix>training_sites`` beside a
        ``<prefix>prospectivity`` raster gain ``in_study_area`` (False for sites on cells
        without data, e.g. across a border inside the region's box: no model used them).
    rasters : mapping of str to DataArray
        Table name -> raster (dims ``("y", "x")``, a CRS, NumPy or Dask: written in row
        blocks).  Float values go to a gridded-coverage table; a table whose name holds
        ``prospectivity`` also gets ``<name>_classes``, its classes by share of the study
        area (the cells of ``prospectivity_classes.tif``), styled in the map's class colours.
    tables : mapping of str to DataFrame, optional
        Table name -> attribute table without geometry (e.g. a summary), written as a
        GeoPackage ``attributes`` table.
    rendered : bool, default False
        Also write each raster as an RGBA PNG table ``<name>_rendered`` (coloured like the
        map; for viewers without QGIS styles).  Off by default: the value tables open styled
        in QGIS from ``layer_styles``.
    qgis_project : bool, default False
        Also write a QGIS project (``<stem>.qgs``) beside the GeoPackage that opens every
        layer styled and grouped (:func:`geomap.export.qgis_project.write_qgis_project`).
    regions : sequence of str
        Region ids (``["conus", "japan"]``) whose tables are prefixed with
        :func:`~geomap.export.qgis_project.region_prefix` of the id and ``_``, grouped per
        region in the project.
    class_columns : mapping of str to str, optional
        Layer -> column to colour by (default: ``lithology_class``/``lithology``/``class``
        for geology, ``commodity_group`` for occurrences).
    datasets : iterable of str
        Catalog ids to record (besides those named by the layers' ``attrs`` / ``dataset_id``).
    parameters : mapping, optional
        Run parameters to record (recipe, model, resolution, seeds...).
    catalog : Catalog, optional
        For licences, citations and file hashes; defaults to the project catalog.
    overwrite : bool, default True
        Replace an existing file.

    Returns
    -------
    Path

    Raises
    ------
    DataError
        A layer name is not ASCII snake_case (the message suggests one), is reserved or
        repeated, or a layer is not a GeoDataFrame / 2-D raster.
    CRSError
        A layer has no CRS.
    ExportError
        The file cannot be written (nothing is left under ``path``).
    """
    from geomap import styles
    from geomap.core.atomic import atomic_path
    from geomap.core.provenance import dataset_records, source_ids
    from geomap.export._gpkg_srs import lithology_classes, unify_srs
    from geomap.export._gpkg_styles import (
        raster_class_style,
        raster_palette_style,
        raster_style,
        vector_style,
    )

    final = Path(path)
    if final.suffix.lower() != ".gpkg":
        raise ExportError(f"GeoPackage path {final} must end in .gpkg; e.g. {final.stem}.gpkg")
    if final.exists() and not overwrite:
        raise OutputExistsError(f"{final} already exists; pass overwrite=True to replace it")
    vectors = dict(vectors or {})
    rasters = dict(rasters or {})
    if not vectors and not rasters:
        raise DataError("write_geopackage needs at least one vector layer or raster")
    tables = dict(tables or {})
    seen: set[str] = set()
    for name in [*vectors, *rasters, *tables]:
        _check_name(name, seen)
    if rendered:
        for name in rasters:
            _check_name(f"{name}_rendered", seen)
    for name in rasters:
        if (class_table := _class_table_name(name)) is not None:
            _check_name(class_table, seen)
    prepared = {name: _prepare_vector(frame, name) for name, frame in vectors.items()}
    _flag_study_area(prepared, rasters)
    for name, data in rasters.items():
        _check_raster(data, name)
    if catalog is None:
        from geomap.catalog import load_catalog

        catalog = load_catalog()
    class_columns = dict(class_columns or {})
    dataset_ids = list(dict.fromkeys(datasets))
    table_records: dict[str, dict[str, Any]] = {}
    style_rows = []
    class_tables: list[str] = []
    with atomic_path(final) as part, _gpkg_work_file(part) as tmp:
        first = True
        # rasters first: rasterio's GDAL then registers custom CRSs before pyogrio's does
        for name, data in rasters.items():
            value_range = _write_raster(tmp, name, data, first=first)
            first = False
            lo, hi = value_range["min"], value_range["max"]
            if not math.isfinite(lo):
                lo, hi = 0.0, 1.0
            cmap = _raster_colormap(name)
            area_classes = None
            class_table = _class_table_name(name)
            if class_table is not None and value_range["max"] >= value_range["min"]:
                from geomap.classes import area_share_classes

                area_classes = area_share_classes(data)
                colors = list(styles.PROSPECTIVITY_CLASS_COLORS)
                style_rows.append(
                    raster_class_style(
                        name,
                        area_classes.breaks,
                        colors,
                        area_classes.labels,
                        ties=area_classes.ties,
                        note=area_classes.tie_note,
                    )
                )
                lut = [(int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)) for c in colors]
                codes = np.asarray(area_classes.classify(data))  # the whole grid (tie rule)
                _write_class_table(tmp, class_table, codes, data)
                class_tables.append(class_table)
                entries = list(zip(area_classes.codes, colors, area_classes.labels, strict=True))
                style_rows.append(
                    raster_palette_style(
                        class_table,
                        entries,
                        description="classes by share of the study area, cell by cell as on "
                        "the map and in prospectivity_classes.tif"
                        + (f". {area_classes.tie_note}" if area_classes.tie_note else ""),
                    )
                )
            else:
                hexes = ["#{:02x}{:02x}{:02x}".format(*c) for c in styles.colormap_stops(cmap, 9)]
                style_rows.append(raster_style(name, hexes, lo, hi))
                lut = styles.colormap_stops(cmap, 255)
            if rendered:
                _write_rendered(tmp, f"{name}_rendered", data, lut, lo, hi, area_classes)
            sources = source_ids(data)
            dataset_ids.extend(s for s in sources if s not in dataset_ids)
            record = {
                "table": name,
                "kind": "raster",
                "shape": [int(data.sizes["y"]), int(data.sizes["x"])],
                "crs": data.rio.crs.to_wkt(),
                "transform": list(data.rio.transform(recalc=True))[:6],
                "value_range": [lo, hi],
                "nodata": RASTER_NODATA,
                "classes": area_classes.to_dict() if area_classes is not None else None,
                "sources": sources,
                "attrs": _raster_tags(data),
            }
            table_records[name] = record
            if rendered:
                table_records[f"{name}_rendered"] = {**record, "rendered_from": name}
            if area_classes is not None and class_table is not None:
                table_records[class_table] = {
                    **record,
                    "value_range": [min(area_classes.codes), max(area_classes.codes)],
                    "nodata": 0,
                    "classified_from": name,
                    "class_labels": dict(
                        zip(map(str, area_classes.codes), area_classes.labels, strict=True)
                    ),
                }
        for name, frame in prepared.items():
            geometry_column, geometry_type = _write_vector(tmp, name, frame, first=first)
            first = False
            kind = _kind(name)
            sources = source_ids(vectors[name])
            dataset_ids.extend(s for s in sources if s not in dataset_ids)
            column = class_columns.get(name)
            if column is None and kind == "geology":
                column = next(
                    (
                        c
                        for c in ("lithology_class", "lithology", "litho_class", "class", "unit")
                        if c in frame.columns
                    ),
                    None,
                )
            if column is None and kind == "occurrence" and "commodity_group" in frame.columns:
                column = "commodity_group"
            if column is not None and column not in frame.columns:
                raise DataError(
                    f"class column {column!r} is not in layer {name!r}; "
                    f"its columns are {list(frame.columns)}"
                )
            classes: list[tuple[str, ...]] | None = None
            if column is not None:
                values = sorted({str(v) for v in frame[column].dropna().tolist()})
                if kind == "occurrence":
                    classes = [(v, styles.commodity_group_color(v)) for v in values]
                elif kind == "geology" and (lithology := lithology_classes(values)):
                    classes = lithology
                else:
                    palette = styles.categorical_colors(values)
                    classes = [(v, palette[v]) for v in values]
            label = "rank" if kind == "target" and "rank" in frame.columns else None
            style_rows.append(
                vector_style(
                    name,
                    geometry_column,
                    geometry_type,
                    kind,
                    classes=classes,
                    class_column=column,
                    label_column=label,
                )
            )
            table_records[name] = {
                "table": name,
                "kind": kind,
                "features": len(frame),
                "crs": frame.crs.to_wkt(),
                "sources": sources,
                "attrs": {
                    k: v for k, v in vectors[name].attrs.items() if isinstance(v, str | int | float)
                },
            }
        for name, table in tables.items():
            _write_attributes(tmp, name, table)
            table_records[name] = {"table": name, "kind": "attributes", "rows": len(table)}
        from geomap._version import __version__

        package = {
            "generator": f"geomap {__version__}",
            "datasets": dataset_records(dataset_ids, catalog),
            "attribution": _attribution(dataset_ids, catalog),
            "parameters": dict(parameters or {}),
            "tables": sorted(table_records),
        }
        con = sqlite3.connect(tmp)
        try:
            with con:
                unify_srs(con)
                for name in rasters:  # declare NoData where QGIS and GDAL read it
                    con.execute(
                        "UPDATE gpkg_2d_gridded_coverage_ancillary SET data_null = ? "
                        "WHERE tile_matrix_set_name = ?",
                        (RASTER_NODATA, name),
                    )
                for name in class_tables:  # class code 0: no data
                    con.execute(
                        "UPDATE gpkg_2d_gridded_coverage_ancillary SET data_null = 0 "
                        "WHERE tile_matrix_set_name = ?",
                        (name,),
                    )
                _write_layer_styles(con, style_rows)
                _write_metadata(con, package, table_records)
        finally:
            con.close()
    if qgis_project:
        from geomap.export.qgis_project import write_qgis_project

        write_qgis_project(final, regions=regions)
    return final


def _attribution(dataset_ids: Sequence[str], catalog: Any) -> str:
    known = []
    for dataset_id in dataset_ids:
        try:
            catalog.dataset(dataset_id)
        except KeyError:
            continue
        known.append(dataset_id)
    return str(catalog.attribution(known)) if known else ""


def export_geopackage(
    path: str | os.PathLike[str],
    *,
    occurrences: Any = None,
    faults: Any = None,
    geology: Any = None,
    boundaries: Any = None,
    targets: Any = None,
    prospectivity: Any = None,
    uncertainty: Any = None,
    coverage: Any = None,
    evidence: Mapping[str, Any] | None = None,
    prefix: str = "",
    datasets: Iterable[str] = (),
    parameters: Mapping[str, Any] | None = None,
    catalog: Any = None,
    overwrite: bool = True,
    rendered: bool = False,
    qgis_project: bool = True,
    training_sites: Any = None,
) -> Path:
    """Write one prospectivity run's layers to a GeoPackage with conventional names.

    Layers: ``occurrences``, ``training_sites`` (the training audit: every site considered,
    kept or dropped and why), ``faults``, ``geology``, ``boundaries`` (or
    ``boundaries_<name>`` for a mapping), ``targets``; rasters ``prospectivity``,
    ``prospectivity_classes`` (its classes by share of the study area, as on the map),
    ``uncertainty``, ``coverage`` and ``evidence_<name>``, each with ``prefix``
    (e.g. ``"japan_"``) in front.  See :func:`write_geopackage` for everything else; a QGIS
    project (``<stem>.qgs``) is written beside it unless ``qgis_project=False``.
    """
    vectors: dict[str, Any] = {}
    for name, frame in (
        ("occurrences", occurrences),
        ("training_sites", training_sites),
        ("faults", faults),
        ("geology", geology),
        ("targets", targets),
    ):
        if frame is not None:
            vectors[f"{prefix}{name}"] = frame
    if isinstance(boundaries, Mapping):
        for name, frame in boundaries.items():
            vectors[f"{prefix}boundaries_{snake_case(str(name))}"] = frame
    elif boundaries is not None:
        vectors[f"{prefix}boundaries"] = boundaries
    rasters: dict[str, Any] = {}
    for name, data in (
        ("prospectivity", prospectivity),
        ("uncertainty", uncertainty),
        ("coverage", coverage),
    ):
        if data is not None:
            rasters[f"{prefix}{name}"] = data
    for name, data in (evidence or {}).items():
        rasters[f"{prefix}evidence_{snake_case(str(name))}"] = data
    return write_geopackage(
        path,
        vectors=vectors,
        rasters=rasters,
        datasets=datasets,
        parameters=parameters,
        catalog=catalog,
        overwrite=overwrite,
        rendered=rendered,
        qgis_project=qgis_project,
    )


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the package-level provenance record written by :func:`write_geopackage`."""
    con = sqlite3.connect(f"file:{os.fspath(path)}?mode=ro", uri=True)
    try:
        row = con.execute(
            "SELECT m.metadata FROM gpkg_metadata m JOIN gpkg_metadata_reference r "
            "ON r.md_file_id = m.id WHERE r.reference_scope = 'geopackage' "
            "AND m.md_standard_uri = ?",
            (PROVENANCE_STANDARD_URI,),
        ).fetchone()
    except sqlite3.DatabaseError as exc:
        raise DataError(f"{path} is not a GeoPackage with geomap provenance ({exc})") from exc
    finally:
        con.close()
    if row is None:
        raise DataError(f"{path} has no geomap provenance record; was it written by geomap?")
    return dict(json.loads(row[0]))

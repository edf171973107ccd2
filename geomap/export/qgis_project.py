"""A QGIS project file (``.qgs``) beside a geomap GeoPackage: every layer styled and grouped.

The project refers to the GeoPackage by a relative path (``./name.gpkg``), so the two files
can be moved together.  Each layer carries the style stored in the GeoPackage's
``layer_styles`` table (the QML of :mod:`geomap.export._gpkg_styles`), and layers are grouped
per region (a ``japan_`` prefix, as in the joint packet) and per kind (model results,
evidence, occurrences and targets, geology and structure, reference).  XML is written with
:mod:`xml.etree.ElementTree`, never by string formatting.

Examples
--------
>>> group_of("japan_evidence_fault_distance", ["japan", "conus"])
('japan', 'Evidence layers')
>>> group_of("capricorn_wa_targets", ["capricorn-wa"])
('capricorn-wa', 'Targets and occurrences')
>>> group_of("targets", [])
(None, 'Targets and occurrences')
"""

from __future__ import annotations

import os
import re
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from geomap.errors import DataError

__all__ = ["group_of", "region_prefix", "write_qgis_project"]

QGIS_PROJECT_VERSION = "3.28.0-Firenze"
_KIND_GROUPS = (
    ("evidence_", "Evidence layers"),
    ("prospectivity", "Model results"),
    ("uncertainty", "Model results"),
    ("coverage", "Model results"),
    ("target", "Targets and occurrences"),
    ("occurrence", "Targets and occurrences"),
    ("training", "Targets and occurrences"),
    ("fault", "Geology and structure"),
    ("geolog", "Geology and structure"),
)
_GROUP_ORDER = [
    "Targets and occurrences",
    "Model results",
    "Geology and structure",
    "Evidence layers",
    "Reference",
]


def region_prefix(region_id: str) -> str:
    """Return the table-name prefix of a region's layers in a joint GeoPackage (before ``_``).

    A region id may hold ``-``, ``.`` or capitals (``capricorn-wa``), a table name may not
    (:data:`geomap.export.gpkg.LAYER_NAME_PATTERN`): the packet names each region's tables
    with this prefix and the QGIS project finds them by it, so the two always agree.

    Examples
    --------
    >>> region_prefix("capricorn-wa")
    'capricorn_wa'
    >>> region_prefix("japan")
    'japan'
    >>> region_prefix("NE.Wisconsin")
    'ne_wisconsin'
    """
    return re.sub(r"[^a-z0-9_]", "_", region_id.lower())


def group_of(table: str, regions: Sequence[str]) -> tuple[str | None, str]:
    """Return the (region, kind) group of a GeoPackage table from its name.

    ``regions`` are region ids; a region's tables start with :func:`region_prefix` of its
    id and ``_``, and the group is named by the id itself.
    """
    region = next((r for r in regions if table.startswith(f"{region_prefix(r)}_")), None)
    rest = table[len(region_prefix(region)) + 1 :] if region else table
    kind = next((g for fragment, g in _KIND_GROUPS if fragment in rest), "Reference")
    return region, kind


def _layers(gpkg: Path) -> list[dict[str, Any]]:
    con = sqlite3.connect(f"file:{os.fspath(gpkg)}?mode=ro", uri=True)
    try:
        contents = con.execute(
            "SELECT c.table_name, c.data_type, c.identifier, s.definition, s.srs_id "
            "FROM gpkg_contents c LEFT JOIN gpkg_spatial_ref_sys s ON s.srs_id = c.srs_id "
            "WHERE c.data_type IN ('features', 'tiles', '2d-gridded-coverage') "
            "ORDER BY c.rowid"
        ).fetchall()
        styles: dict[str, str] = {}
        exists = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'layer_styles'"
        ).fetchone()
        if exists:
            for table, qml in con.execute(
                "SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault = 1"
            ):
                styles.setdefault(table, qml)
    finally:
        con.close()
    return [
        {
            "table": table,
            "type": "vector" if data_type == "features" else "raster",
            "title": identifier or table,
            "wkt": definition or "",
            "srs_id": srs_id,
            "qml": styles.get(table),
        }
        for table, data_type, identifier, definition, srs_id in contents
    ]


def _style_elements(qml: str | None) -> list[ET.Element]:
    if not qml:
        return []
    text = qml.split("\n", 1)[1] if qml.startswith("<!DOCTYPE") else qml
    root = ET.fromstring(text)
    return [child for child in root if child.tag in ("renderer-v2", "labeling", "pipe")]


def write_qgis_project(
    gpkg: str | os.PathLike[str],
    path: str | os.PathLike[str] | None = None,
    *,
    regions: Sequence[str] = (),
    title: str | None = None,
) -> Path:
    """Write a ``.qgs`` project that opens every layer of a GeoPackage styled and grouped.

    Parameters
    ----------
    gpkg : path-like
        A GeoPackage written by :func:`geomap.export.gpkg.write_geopackage`.
    path : path-like, optional
        The ``.qgs`` file; default: beside the GeoPackage with the same stem.
    regions : sequence of str
        Region ids (``["conus", "japan"]`` for the packet) whose tables start with
        :func:`region_prefix` of the id and ``_``: one top-level group each, named by the id.
    title : str, optional
        Project title; default the GeoPackage's stem.

    Returns
    -------
    Path

    Raises
    ------
    DataError
        The GeoPackage holds no layer, or the project would not sit beside it.
    """
    from geomap.core.atomic import atomic_path

    source = Path(gpkg)
    final = Path(path) if path is not None else source.with_suffix(".qgs")
    if final.suffix.lower() != ".qgs":
        raise DataError(f"QGIS project path {final} must end in .qgs; e.g. {final.stem}.qgs")
    if final.resolve().parent != source.resolve().parent:
        raise DataError(
            f"write the project {final.name} in the GeoPackage's folder ({source.parent}): "
            "it refers to the GeoPackage by a relative path"
        )
    layers = _layers(source)
    if not layers:
        raise DataError(f"{source} holds no vector or raster layer; nothing to put in a project")
    relative = f"./{source.name}"
    root = ET.Element("qgis", projectname=title or source.stem, version=QGIS_PROJECT_VERSION)
    ET.SubElement(root, "title").text = title or source.stem
    first_wkt = next((layer["wkt"] for layer in layers if layer["wkt"]), "")
    if first_wkt:
        project_crs = ET.SubElement(root, "projectCrs")
        ET.SubElement(ET.SubElement(project_crs, "spatialrefsys"), "wkt").text = first_wkt
    tree = ET.SubElement(root, "layer-tree-group")
    ET.SubElement(tree, "customproperties")
    groups: dict[tuple[str | None, str], ET.Element] = {}
    region_nodes: dict[str, ET.Element] = {}

    def order(layer: dict[str, Any]) -> tuple[int, int, int]:
        region, kind = group_of(layer["table"], regions)
        on_top = 0 if layer["table"].endswith("prospectivity_classes") else 1  # the map's view
        return (list(regions).index(region) if region else -1, _GROUP_ORDER.index(kind), on_top)

    ordered = sorted(layers, key=order)
    tables = {layer["table"] for layer in layers}
    project_layers = ET.SubElement(root, "projectlayers")
    for layer in ordered:
        region, kind = group_of(layer["table"], regions)
        has_classes = f"{layer['table']}_classes" in tables
        key = (region, kind)
        if key not in groups:
            parent = tree
            if region is not None:
                if region not in region_nodes:
                    region_nodes[region] = ET.SubElement(
                        tree,
                        "layer-tree-group",
                        name=region,
                        checked="Qt::Checked",
                        expanded="1",
                    )
                parent = region_nodes[region]
            groups[key] = ET.SubElement(
                parent,
                "layer-tree-group",
                name=kind,
                checked="Qt::Checked",
                expanded="0" if kind in ("Evidence layers", "Reference") else "1",
            )
        layer_id = f"{layer['table']}_geomap"
        if layer["type"] == "vector":
            datasource, provider = f"{relative}|layername={layer['table']}", "ogr"
        else:
            datasource, provider = f"GPKG:{relative}:{layer['table']}", "gdal"
        # shown: targets, occurrences and the prospectivity classes (exactly the map's);
        # the continuous values, uncertainty, coverage and rendered copies are a click away
        visible = kind == "Targets and occurrences" or (
            layer["table"].endswith("prospectivity_classes")
            or (layer["table"].endswith("prospectivity") and not has_classes)
        )
        ET.SubElement(
            groups[key],
            "layer-tree-layer",
            id=layer_id,
            name=layer["table"],
            source=datasource,
            providerKey=provider,
            checked="Qt::Checked" if visible else "Qt::Unchecked",
            expanded="0",
        )
        element = ET.SubElement(project_layers, "maplayer", type=layer["type"])
        ET.SubElement(element, "id").text = layer_id
        ET.SubElement(element, "datasource").text = datasource
        ET.SubElement(element, "layername").text = layer["table"]
        if layer["wkt"]:
            srs = ET.SubElement(ET.SubElement(element, "srs"), "spatialrefsys")
            ET.SubElement(srs, "wkt").text = layer["wkt"]
        ET.SubElement(element, "provider").text = provider
        for child in _style_elements(layer["qml"]):
            element.append(child)
    properties = ET.SubElement(root, "properties")
    paths = ET.SubElement(properties, "Paths")
    ET.SubElement(paths, "Absolute", type="bool").text = "false"
    ET.indent(root)
    text = "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(
        root, encoding="unicode"
    )
    with atomic_path(final) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return final

"""QGIS (QML) and OGC SLD styles for the layers of a geomap GeoPackage.

The colours are those of the HTML map (:mod:`geomap.styles`), so a layer looks the
same in the browser and in QGIS.  Every text that reaches the XML (class values, layer names)
goes through an XML serializer, never string formatting.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from geomap import styles

__all__ = [
    "LayerStyle",
    "raster_class_style",
    "raster_palette_style",
    "raster_style",
    "vector_style",
]

QGIS_VERSION = "3.28.0-Firenze"
_SLD_NS = "http://www.opengis.net/sld"
_SE_NS = "http://www.opengis.net/se"
_OGC_NS = "http://www.opengis.net/ogc"


@dataclass(frozen=True)
class LayerStyle:
    """One row of the ``layer_styles`` table."""

    table: str
    geometry_column: str
    name: str
    qml: str
    sld: str
    description: str


def _rgba(color: str, alpha: float = 1.0) -> str:
    if color == "transparent":
        return "0,0,0,0"
    color = color.lstrip("#")
    r, g, b = (int(color[i : i + 2], 16) for i in (0, 2, 4))
    return f"{r},{g},{b},{round(alpha * 255)}"


def _option_map(parent: ET.Element, options: dict[str, str]) -> None:
    """Symbol-layer properties, as QGIS >= 3.26 writes them and as earlier 3.x read them."""
    outer = ET.SubElement(parent, "Option", type="Map")
    for key, value in options.items():
        ET.SubElement(outer, "Option", type="QString", name=key, value=str(value))
    for key, value in options.items():
        ET.SubElement(parent, "prop", k=key, v=str(value))


def _symbol(parent: ET.Element, name: str, geometry: str, color: str, kind: str) -> None:
    """Add a QGIS symbol (marker, line or fill) in the map's style for ``kind``."""
    style = styles.LAYER_STYLES.get(kind, {})
    symbol = ET.SubElement(
        parent,
        "symbol",
        type=geometry,
        name=name,
        alpha="1",
        clip_to_extent="1",
        force_rhr="0",
    )
    if geometry == "marker":
        layer = ET.SubElement(symbol, "layer", {"class": "SimpleMarker", "enabled": "1"})
        _option_map(
            layer,
            {
                "name": "circle",
                "color": _rgba(color),
                "outline_color": "255,255,255,255",
                "outline_width": "0.3",
                "outline_width_unit": "MM",
                "size": "2.6",
                "size_unit": "MM",
            },
        )
    elif geometry == "line":
        layer = ET.SubElement(symbol, "layer", {"class": "SimpleLine", "enabled": "1"})
        _option_map(
            layer,
            {
                "line_color": _rgba(color, float(style.get("opacity", 1.0))),  # type: ignore[arg-type]
                "line_width": f"{float(style.get('weight', 1.0)) * 0.26:.2f}",  # type: ignore[arg-type]
                "line_width_unit": "MM",
                "line_style": "solid",
            },
        )
    else:
        fill_alpha = float(style.get("fillOpacity", 0.0)) if style.get("fill", True) else 0.0  # type: ignore[arg-type]
        if color == "transparent":  # e.g. geology of unknown lithology: outlined, not filled
            fill_alpha = 0.0
        stroke = str(style.get("color", color)) if kind != "geology" else "#666666"
        layer = ET.SubElement(symbol, "layer", {"class": "SimpleFill", "enabled": "1"})
        _option_map(
            layer,
            {
                "color": _rgba(color, fill_alpha),
                "style": "solid" if fill_alpha > 0 else "no",
                "outline_color": _rgba(stroke, float(style.get("opacity", 1.0))),  # type: ignore[arg-type]
                "outline_width": f"{float(style.get('weight', 1.0)) * 0.26:.2f}",  # type: ignore[arg-type]
                "outline_width_unit": "MM",
                "outline_style": "solid",
            },
        )


def _qml_root(categories: str) -> ET.Element:
    return ET.Element("qgis", version=QGIS_VERSION, styleCategories=categories)


def _serialize_qml(root: ET.Element) -> str:
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(
        root, encoding="unicode"
    )


def _qml_vector(
    geometry: str,
    kind: str,
    color: str,
    classes: Sequence[tuple[str, ...]] | None,
    column: str | None,
    label_column: str | None,
) -> str:
    root = _qml_root("Symbology|Labeling")
    if classes and column:
        renderer = ET.SubElement(
            root,
            "renderer-v2",
            type="categorizedSymbol",
            attr=column,
            symbollevels="0",
            enableorderby="0",
            forceraster="0",
        )
        cats = ET.SubElement(renderer, "categories")
        symbols = ET.SubElement(renderer, "symbols")
        for i, (value, class_color, *label) in enumerate(classes):
            ET.SubElement(
                cats,
                "category",
                value=value,
                symbol=str(i),
                label=label[0] if label else value,
                render="true",
            )
            _symbol(symbols, str(i), geometry, class_color, kind)
    else:
        renderer = ET.SubElement(
            root,
            "renderer-v2",
            type="singleSymbol",
            symbollevels="0",
            enableorderby="0",
            forceraster="0",
        )
        symbols = ET.SubElement(renderer, "symbols")
        _symbol(symbols, "0", geometry, color, kind)
    if label_column:
        labeling = ET.SubElement(root, "labeling", type="simple")
        settings = ET.SubElement(labeling, "settings", calloutType="simple")
        ET.SubElement(
            settings,
            "text-style",
            fieldName=label_column,
            fontSize="9",
            fontWeight="75",
            textColor="0,0,0,255",
            isExpression="0",
        )
        ET.SubElement(settings, "placement", placement="1" if geometry == "polygon" else "0")
        ET.SubElement(settings, "rendering", drawLabels="1", obstacle="1")
        ET.SubElement(root, "labelsEnabled").text = "1"
    return _serialize_qml(root)


def _sld(name: str, rules: list[tuple[str, str | None, str | None, str]], geometry: str) -> str:
    """SLD 1.1 with one rule per ``(title, column, value, colour)`` (column None = all)."""
    ET.register_namespace("", _SLD_NS)
    ET.register_namespace("se", _SE_NS)
    ET.register_namespace("ogc", _OGC_NS)
    root = ET.Element(
        f"{{{_SLD_NS}}}StyledLayerDescriptor",
        {"version": "1.1.0"},
    )
    layer = ET.SubElement(root, f"{{{_SLD_NS}}}NamedLayer")
    ET.SubElement(layer, f"{{{_SE_NS}}}Name").text = name
    user = ET.SubElement(layer, f"{{{_SLD_NS}}}UserStyle")
    ET.SubElement(user, f"{{{_SE_NS}}}Name").text = name
    fts = ET.SubElement(user, f"{{{_SE_NS}}}FeatureTypeStyle")
    for title, column, value, color in rules:
        rule = ET.SubElement(fts, f"{{{_SE_NS}}}Rule")
        ET.SubElement(rule, f"{{{_SE_NS}}}Name").text = title
        if column is not None and value is not None:
            flt = ET.SubElement(rule, f"{{{_OGC_NS}}}Filter")
            eq = ET.SubElement(flt, f"{{{_OGC_NS}}}PropertyIsEqualTo")
            ET.SubElement(eq, f"{{{_OGC_NS}}}PropertyName").text = column
            ET.SubElement(eq, f"{{{_OGC_NS}}}Literal").text = value
        if geometry == "marker":
            sym = ET.SubElement(rule, f"{{{_SE_NS}}}PointSymbolizer")
            graphic = ET.SubElement(sym, f"{{{_SE_NS}}}Graphic")
            mark = ET.SubElement(graphic, f"{{{_SE_NS}}}Mark")
            ET.SubElement(mark, f"{{{_SE_NS}}}WellKnownName").text = "circle"
            fill = ET.SubElement(mark, f"{{{_SE_NS}}}Fill")
            ET.SubElement(fill, f"{{{_SE_NS}}}SvgParameter", name="fill").text = color
            ET.SubElement(graphic, f"{{{_SE_NS}}}Size").text = "7"
        elif geometry == "line":
            sym = ET.SubElement(rule, f"{{{_SE_NS}}}LineSymbolizer")
            stroke = ET.SubElement(sym, f"{{{_SE_NS}}}Stroke")
            ET.SubElement(stroke, f"{{{_SE_NS}}}SvgParameter", name="stroke").text = color
            ET.SubElement(stroke, f"{{{_SE_NS}}}SvgParameter", name="stroke-width").text = "1"
        else:
            sym = ET.SubElement(rule, f"{{{_SE_NS}}}PolygonSymbolizer")
            fill = ET.SubElement(sym, f"{{{_SE_NS}}}Fill")
            ET.SubElement(fill, f"{{{_SE_NS}}}SvgParameter", name="fill").text = color
            ET.SubElement(fill, f"{{{_SE_NS}}}SvgParameter", name="fill-opacity").text = "0.4"
            stroke = ET.SubElement(sym, f"{{{_SE_NS}}}Stroke")
            ET.SubElement(stroke, f"{{{_SE_NS}}}SvgParameter", name="stroke").text = color
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def vector_style(
    table: str,
    geometry_column: str,
    geometry_type: str,
    kind: str,
    *,
    classes: Sequence[tuple[str, ...]] | None = None,
    class_column: str | None = None,
    label_column: str | None = None,
) -> LayerStyle:
    """Style a vector table.

    Parameters
    ----------
    table, geometry_column : str
        The GeoPackage table and its geometry column.
    geometry_type : str
        OGR geometry type name (``Point``, ``MultiLineString``...).
    kind : str
        A key of :data:`geomap.styles.LAYER_STYLES` or ``"occurrence"``.
    classes : sequence of (value, colour) or (value, colour, label), optional
        Categorized rendering on ``class_column``; ``"transparent"`` leaves a class unfilled.
    label_column : str, optional
        Label features with this column.
    """
    lowered = geometry_type.lower()
    geometry = "marker" if "point" in lowered else "line" if "line" in lowered else "polygon"
    base = styles.LAYER_STYLES.get(kind, {})
    color = str(base.get("fillColor") or base.get("color") or "#333333")
    if kind == "occurrence":
        color = styles.UNKNOWN_GROUP[1]
    qml = _qml_vector(geometry, kind, color, classes, class_column, label_column)
    if classes and class_column:
        rules: list[tuple[str, str | None, str | None, str]] = [
            (label[0] if label else value, class_column, value, c) for value, c, *label in classes
        ]
    else:
        rules = [(table, None, None, str(base.get("color", color)))]
    sld = _sld(table, rules, geometry)
    return LayerStyle(table, geometry_column, f"geomap {kind}", qml, sld, f"geomap {kind} style")


def _raster_sld_root(table: str) -> tuple[ET.Element, ET.Element]:
    """Return an SLD 1.1 document for a raster table and its (empty) ``ColorMap`` element."""
    ET.register_namespace("", _SLD_NS)
    ET.register_namespace("se", _SE_NS)
    sld_root = ET.Element(f"{{{_SLD_NS}}}StyledLayerDescriptor", {"version": "1.1.0"})
    layer = ET.SubElement(sld_root, f"{{{_SLD_NS}}}NamedLayer")
    ET.SubElement(layer, f"{{{_SE_NS}}}Name").text = table
    user = ET.SubElement(layer, f"{{{_SLD_NS}}}UserStyle")
    cs = ET.SubElement(ET.SubElement(user, f"{{{_SE_NS}}}CoverageStyle"), f"{{{_SE_NS}}}Rule")
    sym = ET.SubElement(cs, f"{{{_SE_NS}}}RasterSymbolizer")
    return sld_root, ET.SubElement(sym, f"{{{_SE_NS}}}ColorMap")


def _sld_text(sld_root: ET.Element) -> str:
    """Serialize an SLD document (indented, with its XML declaration)."""
    ET.indent(sld_root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(sld_root, encoding="unicode")


def _qml_pseudocolor(
    lowest: str, highest: str, ramp_type: str, *, mode: str
) -> tuple[ET.Element, ET.Element]:
    """Return a QML single-band pseudocolour document and its (empty) colour ramp element."""
    root = _qml_root("Symbology")
    renderer = ET.SubElement(
        ET.SubElement(root, "pipe"),
        "rasterrenderer",
        type="singlebandpseudocolor",
        band="1",
        opacity="1",
        alphaBand="-1",
        classificationMin=lowest,
        classificationMax=highest,
    )
    ramp = ET.SubElement(
        ET.SubElement(renderer, "rastershader"),
        "colorrampshader",
        colorRampType=ramp_type,
        classificationMode=mode,
        clip="0",
        minimumValue=lowest,
        maximumValue=highest,
    )
    return root, ramp


def raster_style(
    table: str, colors: Sequence[str], vmin: float, vmax: float, *, classes: bool = False
) -> LayerStyle:
    """Style a single-band raster table as a colour ramp (QML pseudocolour and SLD ColorMap).

    Parameters
    ----------
    table : str
        The raster table.
    colors : sequence of str
        Hex colours from ``vmin`` to ``vmax``.
    vmin, vmax : float
        Value range.
    classes : bool
        Discrete (one colour per integer step) instead of interpolated.
    """
    n = len(colors)
    values = [vmin + (vmax - vmin) * i / max(1, n - 1) for i in range(n)]
    root, ramp = _qml_pseudocolor(
        repr(vmin), repr(vmax), "DISCRETE" if classes else "INTERPOLATED", mode="1"
    )
    for value, color in zip(values, colors, strict=True):
        ET.SubElement(
            ramp, "item", value=repr(value), color=color, label=f"{value:.4g}", alpha="255"
        )
    qml = _serialize_qml(root)

    sld_root, cmap = _raster_sld_root(table)
    interp = ET.SubElement(cmap, f"{{{_SE_NS}}}Interpolate", fallbackValue="#00000000")
    ET.SubElement(interp, f"{{{_SE_NS}}}LookupValue").text = "Rasterdata"
    for value, color in zip(values, colors, strict=True):
        point = ET.SubElement(interp, f"{{{_SE_NS}}}InterpolationPoint")
        ET.SubElement(point, f"{{{_SE_NS}}}Data").text = repr(value)
        ET.SubElement(point, f"{{{_SE_NS}}}Value").text = color
    sld = _sld_text(sld_root)
    return LayerStyle(table, "", "geomap raster", qml, sld, "geomap colour ramp")


def raster_class_style(
    table: str,
    breaks: Sequence[float],
    colors: Sequence[str],
    labels: Sequence[str],
    *,
    ties: Sequence[Any] = (),
    note: str | None = None,
) -> LayerStyle:
    """Style a prospectivity table in classes by share of the study area (:mod:`geomap.classes`).

    Parameters
    ----------
    table : str
        The raster table.
    breaks : sequence of float
        Lowest value of each class but the last, highest class first (``AreaClasses.breaks``).
    colors, labels : sequence of str
        One per class, highest class first (``len(breaks) + 1``).
    ties : sequence of TieSplit or None, optional
        ``AreaClasses.ties``.  A style reads values only, so it cannot split a block of equal
        values the way the classes do (by position); it draws the whole block in the class
        that holds most of it, and ``note`` says so.
    note : str, optional
        ``AreaClasses.tie_note``, added to the style's description.
    """
    import math

    breaks = [
        math.nextafter(float(b), math.inf)
        if tie is not None and 2 * tie.admitted < tie.tied  # most of the block goes down
        else float(b)
        for b, tie in zip(breaks, [*ties, *[None] * len(breaks)][: len(breaks)], strict=True)
    ]

    # QGIS's DISCRETE ramp gives an item's colour to values <= its value, from the lowest item;
    # the classes hold values >= their break, so each upper edge is just below the next break
    uppers = [math.nextafter(float(b), -math.inf) for b in breaks]
    items = list(zip([*uppers[::-1], math.inf], colors[::-1], labels[::-1], strict=True))
    root, ramp = _qml_pseudocolor(
        repr(float(breaks[-1])), repr(float(breaks[0])), "DISCRETE", mode="3"
    )
    for upper, color, label in items:
        ET.SubElement(
            ramp,
            "item",
            value="inf" if math.isinf(upper) else repr(upper),
            color=color,
            label=label,
            alpha="255",
        )
    qml = _serialize_qml(root)

    sld_root, cmap = _raster_sld_root(table)
    categorize = ET.SubElement(
        cmap, f"{{{_SE_NS}}}Categorize", fallbackValue="#00000000", threshholdsBelongTo="succeeding"
    )
    ET.SubElement(categorize, f"{{{_SE_NS}}}LookupValue").text = "Rasterdata"
    lowest_first = list(zip(colors[::-1], [None, *list(breaks)[::-1]], strict=True))
    for color, threshold in lowest_first:
        if threshold is not None:
            ET.SubElement(categorize, f"{{{_SE_NS}}}Threshold").text = repr(float(threshold))
        ET.SubElement(categorize, f"{{{_SE_NS}}}Value").text = color
    sld = _sld_text(sld_root)
    description = "classes by share of the study area"
    if note:
        description += (
            f". {note} This style reads values only and draws each such block in the class "
            f"holding most of it; the table {table}_classes (and prospectivity_classes.tif) "
            "holds the exact classes."
        )
    return LayerStyle(table, "", "geomap classes", qml, sld, description)


def raster_palette_style(
    table: str, entries: Sequence[tuple[int, str, str]], *, description: str
) -> LayerStyle:
    """Style a table of integer class codes: one colour per code (QML paletted, SLD values).

    Parameters
    ----------
    table : str
        The raster table (class codes; its NoData is declared in the table, not styled).
    entries : sequence of (int, str, str)
        ``(code, hex colour, label)`` per class, in legend order.
    description : str
        The style's description in ``layer_styles``.

    Examples
    --------
    >>> style = raster_palette_style("c", [(1, "#ff0000", "Top 1 %")], description="classes")
    >>> '<paletteEntry value="1" color="#ff0000" label="Top 1 %" alpha="255" />' in style.qml
    True
    """
    root = _qml_root("Symbology")
    pipe = ET.SubElement(root, "pipe")
    renderer = ET.SubElement(
        pipe, "rasterrenderer", type="paletted", band="1", opacity="1", alphaBand="-1"
    )
    palette = ET.SubElement(renderer, "colorPalette")
    for code, color, label in entries:
        ET.SubElement(
            palette, "paletteEntry", value=str(int(code)), color=color, label=label, alpha="255"
        )
    qml = _serialize_qml(root)

    sld_root, cmap = _raster_sld_root(table)
    cmap.set("type", "values")
    for code, color, label in entries:
        ET.SubElement(
            cmap,
            f"{{{_SLD_NS}}}ColorMapEntry",
            color=color,
            quantity=str(int(code)),
            label=label,
            opacity="1",
        )
    return LayerStyle(table, "", "geomap class palette", qml, _sld_text(sld_root), description)

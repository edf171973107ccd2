"""folium elements written for geomap maps.

Every attribute value reaches the page as JSON inside a ``<script>`` (with ``<``, ``>``, ``&``,
``{``, ``}`` and the JavaScript line separators escaped) and is put on screen with
``textContent`` by the helpers in :data:`HELPERS_JS`, never through ``innerHTML``: survey
attributes are untrusted text.  Static HTML built in Python (titles, legends, the sources
panel) is escaped with :func:`escape_html`.

No map text ever reaches a template engine as template text.  branca renders each element's
Jinja2 macros and then, by default, wraps the *result* in a new Jinja2 template that is
rendered again with the page: a site name ``{{ ... }}`` would run as template code there.
Every element here derives from :class:`LiteralRender`, which puts the rendered text on the
page verbatim (:class:`LiteralElement`), and map text is escaped so that it holds no ``{`` or
``}`` in any case.  Never add ``folium.Element(text)`` / ``branca.element.Element(text)`` or a
``Template`` built from text to a map: use :class:`LiteralElement`.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from branca.element import Element, Figure, MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template

from geomap.core.safe_text import escape_html

__all__ = [
    "AttributionLine",
    "GeoJsonOverlay",
    "GroupedLayers",
    "HtmlPanel",
    "InitialView",
    "LiteralElement",
    "LiteralRender",
    "LocalTileLayer",
    "OccurrenceClusters",
    "PageHelpers",
    "VectorMiniMap",
    "ZoomToButtons",
    "escape_html",
    "safe_json",
    "stable_ids",
]

MARKERCLUSTER_JS = (
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/leaflet.markercluster.js"
)
MARKERCLUSTER_CSS = (
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet.markercluster/1.1.0/MarkerCluster.css"
)
GROUPED_JS = (
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet-groupedlayercontrol/0.6.1/"
    "leaflet.groupedlayercontrol.min.js"
)
GROUPED_CSS = (
    "https://cdnjs.cloudflare.com/ajax/libs/leaflet-groupedlayercontrol/0.6.1/"
    "leaflet.groupedlayercontrol.min.css"
)
MINIMAP_JS = "https://cdnjs.cloudflare.com/ajax/libs/leaflet-minimap/3.6.1/Control.MiniMap.js"
MINIMAP_CSS = "https://cdnjs.cloudflare.com/ajax/libs/leaflet-minimap/3.6.1/Control.MiniMap.css"


def stable_ids(root: Element) -> None:
    """Renumber the elements of a page in tree order, replacing folium's random ids.

    Element names (and so JavaScript variables and the map's ``div`` id) then depend only on
    the map's content: the same inputs give a byte-identical HTML file.
    """
    counter = iter(range(10**9))

    def visit(element: Element) -> None:
        element._id = f"{next(counter):06d}"
        for child in element._children.values():
            visit(child)

    visit(root)


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


def _escape_braces(match: re.Match[str]) -> str:
    text = match.group(0)
    if "{" not in text and "}" not in text:
        return text
    return text.replace("{", "\\u007b").replace("}", "\\u007d")


def safe_json(obj: Any) -> str:
    r"""Compact JSON that is safe inside an HTML ``<script>`` element and inert to templates.

    ``<``, ``>`` and ``&`` (which could close the script or open a comment) and U+2028/U+2029
    (line terminators in older JavaScript) are written as ``\uXXXX`` escapes, and so are
    ``{`` and ``}`` inside strings (no ``{{``, ``{%`` or ``{#`` a template engine could read);
    NaN is refused.

    Examples
    --------
    >>> print(safe_json({"name": "</script><img onerror=alert(1)>"}))
    {"name":"\u003c/script\u003e\u003cimg onerror=alert(1)\u003e"}
    >>> print(safe_json({"name": "{{7*7}}"}))
    {"name":"\u007b\u007b7*7\u007d\u007d"}
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    text = (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    if "{" in text[1:-1] or "}" in text[1:-1]:  # braces other than the outer object's
        text = _JSON_STRING.sub(_escape_braces, text)
    return text


class LiteralElement(Element):
    """Text put on the page exactly as given: never parsed or rendered as a template.

    Use it instead of ``folium.Element(text)``, which compiles ``text`` as a Jinja2 template.
    """

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "LiteralElement"
        self.text = str(text)

    def render(self, **kwargs: Any) -> str:
        """Return the text unchanged."""
        return self.text


class LiteralRender(MacroElement):
    """Renders an element's ``header``/``html``/``script`` macros once, as literal text.

    :meth:`branca.element.MacroElement.render` wraps each macro's output in a new
    ``Element(output)`` -- a Jinja2 template rendered again with the page, so any ``{{``/``{%``
    in the data would be executed or break the page.  Subclasses (put this class last among
    the bases, so folium's own ``render`` steps still run first) add
    :class:`LiteralElement` s instead.
    """

    @staticmethod
    def js_value(value: Any) -> str:
        """:func:`safe_json`, for templates (instead of Jinja2's ``tojson``)."""
        return safe_json(value)

    def render(self, **kwargs: Any) -> str:
        """Add the rendered macros to the figure, verbatim, then render the children."""
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError(f"{type(self).__name__} can only be rendered inside a Figure")
        module = self._template.module
        for part, target in (
            ("header", figure.header),
            ("html", figure.html),
            ("script", figure.script),
        ):
            macro = getattr(module, part, None)
            if macro is not None:
                target.add_child(LiteralElement(str(macro(self, kwargs))), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)
        return ""


HELPERS_CSS = """
.geomap-info { font: 12px/1.35 system-ui, sans-serif; max-width: 340px; }
.geomap-info-title { font-weight: 600; font-size: 13px; margin-bottom: 4px; }
.geomap-info table { border-collapse: collapse; }
.geomap-info th { text-align: left; vertical-align: top; padding: 1px 8px 1px 0;
  color: #555; font-weight: 500; white-space: nowrap; }
.geomap-info td { padding: 1px 0; word-break: break-word; }
.geomap-cluster-icon { background: transparent; border: 0; }
.geomap-cluster { border-radius: 50%; color: #fff; text-align: center; font: 600 12px system-ui,
  sans-serif; box-shadow: 0 0 0 4px rgba(255,255,255,.55); opacity: .9; }
.geomap-panel { background: rgba(255,255,255,.92); padding: 6px 9px; border-radius: 5px;
  box-shadow: 0 1px 5px rgba(0,0,0,.4); font: 12px/1.35 system-ui, sans-serif;
  max-width: 420px; max-height: 45vh; overflow: auto; }
.geomap-panel summary { cursor: pointer; font-weight: 600; }
.geomap-panel h4 { margin: 6px 0 2px; font-size: 12px; }
.geomap-panel p { margin: 2px 0 6px; }
.geomap-panel table { border-collapse: collapse; font-size: 11px; }
.geomap-panel th, .geomap-panel td { border-bottom: 1px solid #ddd; padding: 1px 5px;
  text-align: left; }
.geomap-title { position: absolute; top: 10px; left: 50%; transform: translateX(-50%);
  z-index: 1000; background: rgba(255,255,255,.9); padding: 4px 12px; border-radius: 5px;
  box-shadow: 0 1px 5px rgba(0,0,0,.4); font: 600 15px system-ui, sans-serif;
  text-align: center; pointer-events: none; }
.geomap-title small { display: block; font-weight: 400; font-size: 11px; color: #444; }
.geomap-legend-item { margin: 2px 0 6px; }
.geomap-legend-item .geomap-legend-title { font-weight: 600; }
.geomap-legend-note { font-size: 10px; color: #555; max-width: 220px; margin-top: 2px; }
.geomap-swatch { display: inline-block; width: 12px; height: 12px; margin-right: 5px;
  vertical-align: -2px; border: 1px solid rgba(0,0,0,.3); }
.geomap-zoom-to button { display: block; width: 100%; margin: 2px 0; cursor: pointer;
  font: 12px system-ui, sans-serif; }
.leaflet-control-layers-group-name { font-weight: 600; display: block; margin-top: 4px; }
.leaflet-control-layers-expanded { font-size: 12px; max-height: 75vh; overflow-y: auto; }
#export { top: 10px !important; right: auto !important; left: 50px; z-index: 1000 !important; }
.leaflet-control-minimap a.minimap-toggle-display {
  background-image: url("data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' \
viewBox='0 0 16 16'%3E%3Cpath d='M4 4l8 8M12 5v7H5' stroke='%23333' stroke-width='2' \
fill='none'/%3E%3C/svg%3E");
  background-size: 14px; background-repeat: no-repeat; background-position: center; }
.leaflet-image-layer.geomap-raster, .geomap-raster img { image-rendering: pixelated; }
"""

HELPERS_JS = """
(function () {
  var g = window.geomap = window.geomap || {};
  g.el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  };
  g.table = function (title, rows) {
    var div = g.el('div', 'geomap-info');
    if (title !== undefined && title !== null && title !== '') {
      div.appendChild(g.el('div', 'geomap-info-title', title));
    }
    var table = g.el('table');
    for (var i = 0; i < rows.length; i++) {
      var value = rows[i][1];
      if (value === undefined || value === null || value === '') { continue; }
      var tr = g.el('tr');
      tr.appendChild(g.el('th', '', rows[i][0]));
      tr.appendChild(g.el('td', '', value));
      table.appendChild(tr);
    }
    div.appendChild(table);
    return div;
  };
  g.featureInfo = function (spec) {
    return function (feature, layer) {
      var p = feature.properties || {};
      layer.bindPopup(function () {
        var rows = spec.fields.map(function (f) { return [f[1], p[f[0]]]; });
        var title = spec.title ? p[spec.title] : spec.name;
        if (spec.titlePrefix && title !== undefined && title !== null) {
          title = spec.titlePrefix + String(title);
        }
        return g.table(title, rows);
      }, {maxWidth: 380});
      if (spec.tooltip) {
        layer.bindTooltip(function () {
          var t = p[spec.tooltip];
          if (spec.titlePrefix && t !== undefined && t !== null) {
            t = spec.titlePrefix + String(t);
          }
          return g.el('span', '', t === undefined || t === null ? spec.name : t);
        }, {sticky: true});
      }
    };
  };
  g.styleBy = function (base, property, colors) {
    return function (feature) {
      var s = Object.assign({}, base);
      if (property) {
        var c = colors[String((feature.properties || {})[property])];
        if (c) { s.color = base.color || c; s.fillColor = c; }
      }
      return s;
    };
  };
  // columns arrive either as plain arrays or dictionary-encoded as {v: values, i: codes}
  g.columns = function (data) {
    var out = {};
    Object.keys(data).forEach(function (key) {
      var c = data[key];
      out[key] = Array.isArray(c) ? c : c.i.map(function (k) { return k < 0 ? null : c.v[k]; });
    });
    return out;
  };
  // XYZ tiles written by geomap: valid exactly where files exist (columns unwrapped, so
  // a raster east of 180 degrees works), file columns wrapped modulo 2^z
  g.LocalTiles = L.TileLayer.extend({
    _isValidTile: function (c) {
      var r = this.options.geomapRanges[c.z];
      return !!r && c.x >= r[0] && c.x <= r[1] && c.y >= r[2] && c.y <= r[3];
    },
    getTileUrl: function (c) {
      var n = Math.pow(2, c.z);
      return L.Util.template(this._url, {z: c.z, x: ((c.x % n) + n) % n, y: c.y});
    }
  });
  g.clusterIcon = function (color) {
    return function (cluster) {
      var n = cluster.getChildCount();
      var size = n < 10 ? 26 : (n < 100 ? 32 : (n < 1000 ? 38 : 44));
      var d = g.el('div', 'geomap-cluster', n);
      d.style.background = color;
      d.style.width = size + 'px';
      d.style.height = size + 'px';
      d.style.lineHeight = size + 'px';
      return L.divIcon({html: d, className: 'geomap-cluster-icon', iconSize: [size, size]});
    };
  };
})();
"""


class PageHelpers(LiteralRender):
    """Adds the geomap CSS and JavaScript helpers to the page header (once)."""

    def render(self, **kwargs: Any) -> Any:
        """Add the helpers to the figure's header."""
        figure = self.get_root()
        if isinstance(figure, Figure):
            figure.header.add_child(
                LiteralElement(f"<style>{HELPERS_CSS}</style>"), name="geomap_css"
            )
            figure.header.add_child(
                LiteralElement(f"<script>{HELPERS_JS}</script>"), name="geomap_js"
            )
        return super().render(**kwargs)


class GeoJsonOverlay(Layer, LiteralRender):
    """Vector features drawn with a fixed style (or a colour per class) and safe popups.

    Parameters
    ----------
    data : dict
        A GeoJSON FeatureCollection in lon/lat whose properties are display strings.
    name : str
        Layer name in the layer control.
    style : mapping
        Leaflet path options (``color``, ``weight``, ``fillOpacity``...).
    popup_fields : sequence of (property, label)
        Rows of the popup table.
    title_field, tooltip_field : str, optional
        Property used as popup title and hover text.
    color_by : str, optional
        Property whose value picks a colour from ``colors``.
    colors : mapping, optional
        Class value -> CSS colour.
    show : bool
        Shown when the page opens.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJSON({{ this.data_json }}, {
            style: geomap.styleBy({{ this.style_json }}, {{ this.color_by_json }},
                                  {{ this.colors_json }}),
            pointToLayer: function (feature, latlng) {
                return L.circleMarker(latlng, {radius: 5});
            },
            onEachFeature: geomap.featureInfo({{ this.info_json }})
        });
        {% endmacro %}
        """
    )

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        name: str,
        style: Mapping[str, Any],
        popup_fields: Sequence[tuple[str, str]] = (),
        title_field: str | None = None,
        tooltip_field: str | None = None,
        title_prefix: str | None = None,
        color_by: str | None = None,
        colors: Mapping[str, str] | None = None,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "GeoJsonOverlay"
        self.data_json = safe_json(data)
        self.style_json = safe_json(dict(style))
        self.color_by_json = safe_json(color_by)
        self.colors_json = safe_json(dict(colors or {}))
        self.info_json = safe_json(
            {
                "name": name,
                "fields": [list(f) for f in popup_fields],
                "title": title_field,
                "tooltip": tooltip_field,
                "titlePrefix": title_prefix,
            }
        )
        self.nbytes = len(self.data_json)


class OccurrenceClusters(JSCSSMixin, Layer, LiteralRender):
    """Mineral occurrences of one commodity group, clustered (Leaflet.markercluster).

    Markers are created in one loop from column arrays and added with ``addLayers`` in
    chunks, which keeps tens of thousands of points responsive; popups are built on
    demand from the arrays with ``textContent``.

    Parameters
    ----------
    columns : mapping
        ``lat``, ``lon`` (floats) and display columns (lists of str or None) of equal length.
    fields : sequence of (column, label)
        Popup rows; the ``title`` column is the popup title.
    color : str
        Marker and cluster colour.
    name : str
        Layer name in the layer control.
    show : bool
        Shown when the page opens.
    """

    default_js = [("markercluster", MARKERCLUSTER_JS)]  # noqa: RUF012
    default_css = [("markercluster_css", MARKERCLUSTER_CSS)]  # noqa: RUF012

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = (function () {
            var d = geomap.columns({{ this.data_json }});
            var fields = {{ this.fields_json }};
            var color = {{ this.color_json }};
            var group = L.markerClusterGroup({
                // not chunked: chunked loading races with zooming (markercluster 1.1 bug)
                chunkedLoading: false, maxClusterRadius: 45, showCoverageOnHover: false,
                spiderfyOnMaxZoom: true, iconCreateFunction: geomap.clusterIcon(color)
            });
            var markers = new Array(d.lat.length);
            for (var i = 0; i < d.lat.length; i++) {
                var m = L.circleMarker([d.lat[i], d.lon[i]], {
                    radius: 5, color: '#ffffff', weight: 1, fillColor: color, fillOpacity: 0.95
                });
                m.geomapIndex = i;
                markers[i] = m;
            }
            group.bindPopup(function (layer) {
                var i = layer.geomapIndex;
                var rows = fields.map(function (f) { return [f[1], d[f[0]][i]]; });
                return geomap.table(d.title[i], rows);
            }, {maxWidth: 380});
            group.bindTooltip(function (layer) {
                return geomap.el('span', '', d.title[layer.geomapIndex]);
            });
            group.addLayers(markers);
            return group;
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self,
        columns: Mapping[str, Sequence[Any]],
        *,
        fields: Sequence[tuple[str, str]],
        color: str,
        name: str,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "OccurrenceClusters"
        self.data_json = safe_json({k: _encode_column(list(v)) for k, v in columns.items()})
        self.fields_json = safe_json([list(f) for f in fields])
        self.color_json = safe_json(color)
        self.nbytes = len(self.data_json)


def _encode_column(values: list[Any]) -> Any:
    """Dictionary-encode a column of repeated strings (``{"v": values, "i": codes}``).

    Numbers and columns of mostly distinct values stay plain arrays.
    """
    if not values or not all(v is None or isinstance(v, str) for v in values):
        return values
    distinct = list(dict.fromkeys(v for v in values if v is not None))
    if len(distinct) > len(values) // 2:
        return values
    code = {v: i for i, v in enumerate(distinct)}
    return {"v": distinct, "i": [-1 if v is None else code[v] for v in values]}


class LocalTileLayer(Layer, LiteralRender):
    """A raster drawn from XYZ PNG tiles in a folder beside the page.

    Parameters
    ----------
    url : str
        Relative URL template ``folder/{z}/{x}/{y}.png``.
    ranges : mapping of int to (int, int, int, int)
        Zoom -> first/last column (unwrapped) and first/last row written; no other tile is
        ever requested, so an offline page makes no failing request.
    name : str
        Layer name in the layer control.
    opacity : float
        0..1.
    show : bool
        Shown when the page opens.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = new geomap.LocalTiles({{ this.url_json }}, {
            opacity: {{ this.opacity_json }}, minNativeZoom: {{ this.zmin }},
            maxNativeZoom: {{ this.zmax }}, maxZoom: 19, noWrap: true,
            className: "geomap-raster", attribution: "geomap",
            geomapRanges: {{ this.ranges_json }}
        });
        {% endmacro %}
        """
    )

    def __init__(
        self,
        url: str,
        ranges: Mapping[int, tuple[int, int, int, int]],
        *,
        name: str,
        opacity: float,
        show: bool = True,
    ) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "LocalTileLayer"
        self.url_json = safe_json(url)
        self.ranges_json = safe_json({str(z): list(r) for z, r in ranges.items()})
        self.opacity_json = safe_json(float(opacity))
        self.zmin = int(min(ranges))
        self.zmax = int(max(ranges))


class GroupedLayers(JSCSSMixin, LiteralRender):
    """Layer control with base layers and named, non-exclusive overlay groups.

    Parameters
    ----------
    base_layers : sequence of Layer
        Radio-button base layers (the first is shown).
    groups : mapping of str to sequence of Layer
        Overlay groups in display order.
    collapsed : bool
        Collapse the control into an icon.
    """

    default_js = [("groupedlayercontrol", GROUPED_JS)]  # noqa: RUF012
    default_css = [("groupedlayercontrol_css", GROUPED_CSS)]  # noqa: RUF012

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control.groupedLayers(
            {
            {%- for label, layer in this.base %}
                {{ this.js_value(label) }}: {{ layer.get_name() }},
            {%- endfor %}
            },
            {
            {%- for group, members in this.groups %}
                {{ this.js_value(group) }}: {
                {%- for label, layer in members %}
                    {{ this.js_value(label) }}: {{ layer.get_name() }},
                {%- endfor %}
                },
            {%- endfor %}
            },
            {collapsed: {{ this.js_value(this.collapsed) }}, groupCheckboxes: false}
        ).addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(
        self,
        base_layers: Sequence[Layer],
        groups: Mapping[str, Sequence[Layer]],
        *,
        collapsed: bool = True,
    ) -> None:
        super().__init__()
        self._name = "GroupedLayers"
        # the control inserts labels as HTML: escape them here
        self.base = [(escape_html(layer.layer_name), layer) for layer in base_layers]
        self.groups = [
            (escape_html(group), [(escape_html(layer.layer_name), layer) for layer in layers])
            for group, layers in groups.items()
            if layers
        ]
        self.collapsed = collapsed

    def labels(self) -> list[str]:
        """Return the (unescaped) text of every entry, base layers first."""
        from html import unescape

        out = [unescape(label) for label, _ in self.base]
        for _group, members in self.groups:
            out.extend(unescape(label) for label, _ in members)
        return out


class HtmlPanel(LiteralRender):
    """A static panel (already-escaped HTML) in a map corner.

    Parameters
    ----------
    html : str
        The panel content; callers escape every value.
    position : str
        Leaflet control corner.
    css_class : str
        Extra CSS class.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var control = L.control({position: {{ this.js_value(this.position) }}});
            control.onAdd = function () {
                var div = L.DomUtil.create('div', {{ this.js_value(this.css_class) }});
                div.innerHTML = {{ this.js_value(this.html) }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            control.addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, html: str, *, position: str = "bottomleft", css_class: str = "") -> None:
        super().__init__()
        self._name = "HtmlPanel"
        self.html = html
        self.position = position
        self.css_class = f"geomap-panel {css_class}".strip()


class VectorMiniMap(JSCSSMixin, LiteralRender):
    """An overview map drawn from embedded vectors (no tiles, so it works offline)."""

    default_js = [("Control_MiniMap_js", MINIMAP_JS)]  # noqa: RUF012
    default_css = [("Control_MiniMap_css", MINIMAP_CSS)]  # noqa: RUF012

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var layer = L.geoJSON({{ this.data_json }}, {
                style: {color: '#666', weight: 0.6, fillColor: '#e8e4d8', fillOpacity: 1}
            });
            new L.Control.MiniMap(layer, {
                position: 'bottomright', toggleDisplay: true, zoomLevelOffset: -5,
                width: 160, height: 120, minimized: false
            }).addTo({{ this._parent.get_name() }});
        })();
        {% endmacro %}
        """
    )

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__()
        self._name = "VectorMiniMap"
        self.data_json = safe_json(data)
        self.nbytes = len(self.data_json)


class AttributionLine(LiteralRender):
    """Adds a credit line (escaped text) to Leaflet's attribution control."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.addAttribution(
            {{ this.js_value(this.html) }});
        {% endmacro %}
        """
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "AttributionLine"
        self.html = escape_html(text)


class InitialView(LiteralRender):
    """Fits the map to ``bounds`` at once, before any layer is created (no animation)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.fitBounds({{ this.bounds_json }}, {animate: false});
        {% endmacro %}
        """
    )

    def __init__(self, bounds: Sequence[Sequence[float]]) -> None:
        super().__init__()
        self._name = "InitialView"
        self.bounds_json = safe_json([list(map(float, corner)) for corner in bounds])


class ZoomToButtons(LiteralRender):
    """Buttons that fit the map to named extents (one per region)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var targets = {{ this.targets_json }};
            var control = L.control({position: 'topleft'});
            control.onAdd = function () {
                var div = L.DomUtil.create('div', 'geomap-panel geomap-zoom-to');
                L.DomEvent.disableClickPropagation(div);
                targets.forEach(function (t) {
                    var b = geomap.el('button', '', t[0]);
                    b.type = 'button';
                    b.onclick = function () { map.fitBounds(t[1]); };
                    div.appendChild(b);
                });
                return div;
            };
            control.addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, targets: Sequence[tuple[str, Sequence[Sequence[float]]]]) -> None:
        super().__init__()
        self._name = "ZoomToButtons"
        self.targets_json = safe_json([[label, [list(p) for p in b]] for label, b in targets])


def svg_colorbar(colors: Sequence[str], vmin: float, vmax: float, *, width: int = 200) -> str:
    """Return an SVG colour bar with its range labels (numbers only; no user text)."""
    stops = "".join(
        f'<stop offset="{i / max(1, len(colors) - 1):.4f}" stop-color="{escape(c)}"/>'
        for i, c in enumerate(colors)
    )
    digest = hashlib.sha1(repr((tuple(colors), vmin, vmax)).encode()).hexdigest()[:10]
    uid = f"geomap-grad-{digest}"
    return (
        f'<svg width="{width}" height="30" xmlns="http://www.w3.org/2000/svg">'
        f'<defs><linearGradient id="{uid}">{stops}</linearGradient></defs>'
        f'<rect x="0" y="0" width="{width}" height="12" fill="url(#{uid})" stroke="#999"/>'
        f'<text x="0" y="26" font-size="11">{_fmt(vmin)}</text>'
        f'<text x="{width}" y="26" font-size="11" text-anchor="end">{_fmt(vmax)}</text>'
        "</svg>"
    )


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    magnitude = abs(value)
    if magnitude >= 1000 or magnitude < 0.01:
        return f"{value:.3g}"
    return f"{value:.3f}".rstrip("0").rstrip(".")

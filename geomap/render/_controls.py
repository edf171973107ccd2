"""Map controls that answer the user: values on click, opacity, the target table, the legend.

Like :mod:`geomap.render._elements`, every value reaches the page as JSON
(:func:`~geomap.render._elements.safe_json`) and is put on screen with ``textContent``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from folium.map import Layer
from folium.template import Template

from geomap.render._elements import LiteralElement, LiteralRender, safe_json

__all__ = [
    "CollapsibleLegend",
    "FoldableGroups",
    "OpacitySlider",
    "TargetTable",
    "ValueProbe",
    "budget_probes",
]

CONTROLS_CSS = """
.geomap-legend details > summary, .geomap-values > summary, .geomap-targets > summary {
  cursor: pointer; font-weight: 600; }
.geomap-values { min-width: 180px; }
.leaflet-control-layers-group-name { cursor: pointer; }
.geomap-folded label:not(.leaflet-control-layers-group-label) { display: none; }
.geomap-values table { border-collapse: collapse; }
.geomap-values th { text-align: left; font-weight: 500; color: #444; padding: 0 6px 0 0;
  white-space: nowrap; }
.geomap-values td { text-align: right; }
.geomap-values .geomap-values-region { font-weight: 600; padding-top: 4px; }
.geomap-opacity input { width: 110px; vertical-align: middle; }
.geomap-targets table { border-collapse: collapse; font-size: 11px; }
.geomap-targets td, .geomap-targets th { padding: 1px 4px; border-bottom: 1px solid #ddd;
  text-align: right; }
.geomap-targets td:last-child, .geomap-targets th:last-child { text-align: left; }
.geomap-targets button { font-size: 11px; padding: 0 4px; cursor: pointer; }
@media (max-width: 600px) {
  .geomap-panel { max-width: 42vw; max-height: 32vh; font-size: 11px; }
  .geomap-title { top: 10px; left: 64px; right: 64px; transform: none; font-size: 12px;
    padding: 2px 6px; }
  .geomap-title small { display: none; }
  .leaflet-control-minimap { display: none !important; }
  .leaflet-control-attribution { max-width: 46vw; white-space: nowrap; overflow: hidden;
    text-overflow: ellipsis; }
  .leaflet-control-mouseposition, .leaflet-control-measure { display: none !important; }
  #export { display: none !important; }
  .leaflet-draw { display: none !important; }
}
"""


def _format_js() -> str:
    return """
  // numbers as people write them: 28,700 / 0.0432 / 0.000184 / 1.2e-8
  g.fmt = function (v, digits) {
    if (v === null || v === undefined || !isFinite(v)) { return null; }
    var a = Math.abs(v);
    if (a !== 0 && (a < 1e-6 || a >= 1e7)) { return v.toExponential(1); }
    var d = digits === undefined ? 3 : digits;
    return Number(v.toPrecision(d)).toLocaleString('en-US', {maximumFractionDigits: 9});
  };
"""


CONTROLS_JS = (
    """
(function () {
  var g = window.geomap = window.geomap || {};
"""
    + _format_js()
    + """
  // a half float (IEEE 754 binary16) from its 16 bits
  function half(bits) {
    var sign = bits & 0x8000 ? -1 : 1, e = (bits >> 10) & 0x1f, f = bits & 0x3ff;
    if (e === 0) { return sign * Math.pow(2, -14) * (f / 1024); }
    if (e === 31) { return f ? NaN : sign * Infinity; }
    return sign * Math.pow(2, e - 15) * (1 + f / 1024);
  }
  // a probe plane: base64 of deflated bytes -> typed array (DecompressionStream, offline)
  g.decodePlane = function (plane) {
    var text = atob(plane.z), bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) { bytes[i] = text.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('deflate'));
    return new Response(stream).arrayBuffer().then(function (buffer) {
      var view = new DataView(buffer);
      plane.get = plane.enc === 'dict16' ? function (i) {
        var c = view.getUint16(2 * i, true); return c ? plane.table[c - 1] : null;
      } : plane.enc === 'dict8' ? function (i) {
        var c = view.getUint8(i); return c ? plane.table[c - 1] : null;
      } : plane.enc === 'u8' ? function (i) {
        var c = view.getUint8(i); return c ? c : null;
      } : function (i) {
        var v = half(view.getUint16(2 * i, true)); return isNaN(v) ? null : v * plane.k;
      };
    });
  };
  g.sample = function (plane, latlng) {
    var p = L.CRS.EPSG3857.project(latlng);
    var col = Math.floor((p.x - plane.t[1]) / plane.t[0]);
    var row = Math.floor((p.y - plane.t[3]) / plane.t[2]);
    if (!plane.get || col < 0 || row < 0 || col >= plane.w || row >= plane.h) { return null; }
    return plane.get(row * plane.w + col);
  };
})();
"""
)


class ControlHelpers(LiteralRender):
    """Adds the CSS and JavaScript of these controls to the page header (once)."""

    def render(self, **kwargs: Any) -> Any:
        """Add the helpers to the figure's header."""
        from branca.element import Figure

        figure = self.get_root()
        if isinstance(figure, Figure):
            figure.header.add_child(
                LiteralElement(f"<style>{CONTROLS_CSS}</style>"), name="geomap_controls_css"
            )
            figure.header.add_child(
                LiteralElement(f"<script>{CONTROLS_JS}</script>"), name="geomap_controls_js"
            )
            figure.header.add_child(
                LiteralElement(
                    '<meta name="viewport" content="width=device-width, initial-scale=1.0" />'
                ),
                name="viewport",
            )
        return super().render(**kwargs)


class ValueProbe(LiteralRender):
    """Shows every raster's value at the clicked point in a panel (values embedded, offline).

    Parameters
    ----------
    grids : sequence of dict
        One per raster (:func:`budget_probes`): ``label``, ``region``, ``units``, ``planes``
        (the values, then for classed rasters the class codes of the drawn cells; each with
        its Web Mercator ``t = [a, c, e, f]``, ``w``, ``h`` and compressed cells), ``step``
        (1, or the side of the blocks whose means are embedded), optional ``classes``
        (``labels`` by class code) and ``of`` (coverage: number of evidence layers).
    position : str
        Leaflet control corner.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var grids = {{ this.grids_json }};
            var control = L.control({position: {{ this.js_value(this.position) }}});
            var body, marker = null;
            control.onAdd = function () {
                var div = L.DomUtil.create('details', 'geomap-panel geomap-values');
                div.open = window.innerWidth > 600;
                div.appendChild(geomap.el('summary', '', 'Values at a point'));
                body = geomap.el('div', 'geomap-values-body',
                                 'Click the map to read every layer here.');
                div.appendChild(body);
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            control.addTo(map);
            var ready = Promise.all(grids.reduce(function (all, grid) {
                return all.concat(grid.planes.map(geomap.decodePlane));
            }, []));
            function describe(grid, v, code) {
                var text = geomap.fmt(v);
                if (grid.step > 1) {
                    text = '\u2248 ' + text;
                }
                if (grid.of) {
                    text = Math.round(v) + ' of ' + grid.of + ' evidence layers';
                }
                if (grid.units) { text += ' ' + grid.units; }
                if (grid.step > 1) {
                    text += ' (mean of ' + grid.step + ' \u00d7 ' + grid.step + ' map cells)';
                }
                if (grid.classes && code) {
                    text += ' (' + grid.classes.labels[code - 1] + ')';
                }
                return text;
            }
            map.on('click', function (e) { ready.then(function () { show(e); }); });
            function show(e) {
                body.textContent = '';
                var table = geomap.el('table'), region = null, any = false;
                grids.forEach(function (grid) {
                    var v = geomap.sample(grid.planes[0], e.latlng);
                    var code = grid.planes[1] ? geomap.sample(grid.planes[1], e.latlng) : null;
                    if (v === null) { return; }
                    if (grid.region && grid.region !== region) {
                        region = grid.region;
                        var tr0 = geomap.el('tr');
                        var th0 = geomap.el('td', 'geomap-values-region', region);
                        th0.colSpan = 2;
                        tr0.appendChild(th0);
                        table.appendChild(tr0);
                    }
                    var tr = geomap.el('tr');
                    tr.appendChild(geomap.el('th', '', grid.label));
                    tr.appendChild(geomap.el('td', 'geomap-value', describe(grid, v, code)));
                    table.appendChild(tr);
                    any = true;
                });
                var lng = (((e.latlng.lng + 540) % 360) - 180).toFixed(4);
                var where = e.latlng.lat.toFixed(4) + ', ' + lng;
                body.appendChild(geomap.el('div', '',
                    where + (any ? '' : ': outside the study area')));
                if (any) { body.appendChild(table); }
                body.parentNode.open = true;
                if (marker) { marker.setLatLng(e.latlng); } else {
                    marker = L.circleMarker(e.latlng, {radius: 6, color: '#000', weight: 2,
                        fillColor: '#fff', fillOpacity: 0.6, interactive: false}).addTo(map);
                }
            }
        })();
        {% endmacro %}
        """
    )

    def __init__(self, grids: Sequence[Mapping[str, Any]], *, position: str = "topright") -> None:
        super().__init__()
        self._name = "ValueProbe"
        self.grids_json = safe_json([dict(g) for g in grids])
        self.position = position
        self.nbytes = len(self.grids_json)


class OpacitySlider(LiteralRender):
    """A slider setting the opacity of every raster layer (0–100 %)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var layers = [{% for layer in this.layers %}{{ layer.get_name() }}, {% endfor %}];
            var control = L.control({position: {{ this.js_value(this.position) }}});
            control.onAdd = function () {
                var div = L.DomUtil.create('div', 'geomap-panel geomap-opacity');
                var label = geomap.el('label', '', 'Raster opacity ');
                var input = geomap.el('input');
                input.type = 'range'; input.min = 0; input.max = 100;
                input.value = {{ this.value }};
                input.setAttribute('aria-label', 'Raster opacity');
                input.addEventListener('input', function () {
                    layers.forEach(function (l) { l.setOpacity(input.value / 100); });
                });
                label.appendChild(input);
                div.appendChild(label);
                L.DomEvent.disableClickPropagation(div);
                return div;
            };
            control.addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, layers: Sequence[Layer], *, value: float = 0.8, position: str = "topright"):
        super().__init__()
        self._name = "OpacitySlider"
        self.layers = list(layers)
        self.value = round(value * 100)
        self.position = position


class TargetTable(LiteralRender):
    """A collapsible table of ranked targets; each row zooms the map to its target.

    Parameters
    ----------
    rows : sequence of dict
        ``rank``, ``area``, ``mean``, ``centroid`` and ``place`` (display text) and ``bounds``
        (``[[south, west], [north, east]]``).
    title : str
        Summary text.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var rows = {{ this.rows_json }};
            var control = L.control({position: {{ this.js_value(this.position) }}});
            control.onAdd = function () {
                var div = L.DomUtil.create('details', 'geomap-panel geomap-targets');
                div.appendChild(geomap.el('summary', '', {{ this.title_json }}));
                var table = geomap.el('table'), head = geomap.el('tr');
                ['#', 'Area', 'Mean prosp.', 'Centroid', 'Where'].forEach(function (h) {
                    head.appendChild(geomap.el('th', '', h));
                });
                table.appendChild(head);
                rows.forEach(function (r) {
                    var tr = geomap.el('tr');
                    var cell = geomap.el('td'), b = geomap.el('button', '', r.rank);
                    b.type = 'button';
                    b.title = 'Zoom to target ' + r.rank;
                    b.onclick = function () { map.fitBounds(r.bounds, {maxZoom: 11}); };
                    cell.appendChild(b);
                    tr.appendChild(cell);
                    [r.area, r.mean, r.centroid, r.place].forEach(function (t) {
                        tr.appendChild(geomap.el('td', '', t));
                    });
                    table.appendChild(tr);
                });
                div.appendChild(table);
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            control.addTo(map);
        })();
        {% endmacro %}
        """
    )

    def __init__(
        self, rows: Sequence[Mapping[str, Any]], *, title: str, position: str = "bottomleft"
    ) -> None:
        super().__init__()
        self._name = "TargetTable"
        self.rows_json = safe_json([dict(r) for r in rows])
        self.title_json = safe_json(title)
        self.position = position


class CollapsibleLegend(LiteralRender):
    """A legend whose entries follow their layers' visibility, folded on small screens.

    Parameters
    ----------
    items : sequence of (layer, html)
        Each layer's legend as static HTML (already escaped) shown while the layer is on;
        identical entries of several layers are shown once.
    position : str
        Leaflet control corner.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var map = {{ this._parent.get_name() }};
            var items = [
            {%- for layers, html in this.items %}
                [[{% for layer in layers %}{{ layer.get_name() }}, {% endfor %}],
                 {{ this.js_value(html) }}],
            {%- endfor %}
            ];
            var control = L.control({position: {{ this.js_value(this.position) }}});
            control.onAdd = function () {
                var div = L.DomUtil.create('div', 'geomap-panel geomap-legend');
                var details = geomap.el('details');
                details.open = window.innerWidth > 600;
                details.appendChild(geomap.el('summary', '', 'Legend'));
                div.appendChild(details);
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                items.forEach(function (item) {
                    var entry = L.DomUtil.create('div', 'geomap-legend-item', details);
                    entry.innerHTML = item[1];
                    item.push(entry);
                });
                return div;
            };
            control.addTo(map);
            function refresh() {
                var any = false;
                items.forEach(function (item) {
                    var on = item[0].some(function (layer) { return map.hasLayer(layer); });
                    item[2].style.display = on ? '' : 'none';
                    any = any || on;
                });
                control.getContainer().style.display = any ? '' : 'none';
            }
            map.on('overlayadd overlayremove layeradd layerremove', refresh);
            refresh();
        })();
        {% endmacro %}
        """
    )

    def __init__(self, items: Sequence[tuple[Layer, str]], *, position: str = "bottomright"):
        super().__init__()
        self._name = "CollapsibleLegend"
        merged: dict[str, list[Layer]] = {}
        for layer, html in items:
            merged.setdefault(html, []).append(layer)
        self.items = [(names, html) for html, names in merged.items()]
        self.position = position


class FoldableGroups(LiteralRender):
    """Makes each group of a grouped layer control fold and unfold on a click on its name.

    Parameters
    ----------
    control : GroupedLayers
        The layer control.
    folded : sequence of str
        Groups folded when the page opens (e.g. the evidence layers).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var control = {{ this.control.get_name() }};
            var folded = {{ this.folded_json }};
            var container = control.getContainer();
            container.querySelectorAll('.leaflet-control-layers-group').forEach(function (group) {
                var name = group.querySelector('.leaflet-control-layers-group-name');
                if (!name) { return; }
                var title = name.textContent;
                name.setAttribute('role', 'button');
                name.title = 'Show or hide the layers of this group';
                function set(fold) {
                    group.classList.toggle('geomap-folded', fold);
                    name.textContent = (fold ? '\\u25b8 ' : '\\u25be ') + title;
                }
                set(folded.indexOf(title) >= 0);
                name.addEventListener('click', function (e) {
                    e.preventDefault(); e.stopPropagation();
                    set(!group.classList.contains('geomap-folded'));
                });
            });
        })();
        {% endmacro %}
        """
    )

    def __init__(self, control: Any, *, folded: Sequence[str] = ()) -> None:
        super().__init__()
        self._name = "FoldableGroups"
        self.control = control
        self.folded_json = safe_json(list(folded))


def _plane(values: np.ndarray, transform: Any, step: int, *, codes: bool = False) -> dict:
    """One grid of a probe, compressed: deflated bytes in base64 plus how to read them.

    ``u8``: class codes (0 = no data).  ``dict8``/``dict16``: an index into ``table`` (exact
    values; 0 = no data) for rasters with few distinct values.  ``f16``: half floats times
    ``k`` (a power of two), about 3.3 significant digits, NaN = no data.
    """
    import base64
    import zlib

    finite = np.isfinite(values)
    plane: dict[str, Any] = {
        "t": [transform.a * step, transform.c, transform.e * step, transform.f],
        "w": int(values.shape[1]),
        "h": int(values.shape[0]),
    }
    if codes:
        raw = np.where(finite, values, 0).astype(np.uint8)
        plane["enc"] = "u8"
    else:
        distinct = np.unique(values[finite])
        if distinct.size <= _DICT_MAX:
            wide = distinct.size >= 255
            index = np.searchsorted(distinct, np.where(finite, values, distinct[:1].sum()))
            raw = np.where(finite, index + 1, 0).astype(np.uint16 if wide else np.uint8)
            plane["enc"] = "dict16" if wide else "dict8"
            plane["table"] = [float(f"{v:.7g}") for v in distinct.tolist()]
        else:
            biggest = float(np.abs(values[finite]).max()) if finite.any() else 0.0
            k = 2.0 ** (np.floor(np.log2(biggest)) - 14) if biggest > 0 else 1.0
            raw = (values / k).astype("<f2")
            plane["enc"] = "f16"
            plane["k"] = float(k)
    plane["z"] = base64.b64encode(
        zlib.compress(raw.astype(raw.dtype.newbyteorder("<")).tobytes(), 9)
    ).decode("ascii")
    return plane


_DICT_MAX = 4096
"""Rasters with at most this many distinct values are embedded exactly (a value table)."""


def _block_means(values: np.ndarray, step: int) -> np.ndarray:
    """Means of ``step`` × ``step`` blocks (NaN ignored; NaN where a block has no value)."""
    if step == 1:
        return values
    rows = -(-values.shape[0] // step) * step
    cols = -(-values.shape[1] // step) * step
    padded = np.full((rows, cols), np.nan, dtype="float64")
    padded[: values.shape[0], : values.shape[1]] = values
    blocks = padded.reshape(rows // step, step, cols // step, step)
    count = np.isfinite(blocks).sum(axis=(1, 3))
    total = np.nansum(blocks, axis=(1, 3))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _probe_size(grids: Sequence[Mapping[str, Any]]) -> int:
    return sum(len(p["z"]) + 12 * len(p.get("table", ())) for g in grids for p in g["planes"])


def budget_probes(probes: Sequence[Mapping[str, Any]], budget_bytes: int) -> list[dict[str, Any]]:
    """Encode the probe grids compactly within ``budget_bytes`` (the HTML they add).

    Every grid is first embedded at the resolution it is drawn at (the display grid), so a
    click reads the value of the cell drawn under it; class codes (prospectivity classes)
    always are, so a click never contradicts the drawn class.  When that does not fit, the
    continuous layers are reduced to means of ``n`` × ``n`` display cells, ``n`` as small as
    fits (the popup then says so), the largest first and the classed layers' values last;
    coverage (drawn as whole numbers of layers) never.
    """
    entries = [dict(e) for e in probes]

    def encode(entry: Mapping[str, Any], n: int) -> dict[str, Any]:
        shown = entry["display"]
        codes = entry.get("class_codes")
        values = np.asarray(shown.values, dtype="float64")
        planes = [_plane(_block_means(values, n), shown.transform, n)]
        if codes is not None:
            planes.append(_plane(codes.values, codes.transform, 1, codes=True))
        grid = {k: v for k, v in entry.items() if k not in ("display", "class_codes")}
        grid["planes"] = planes
        grid["step"] = n
        return grid

    steps = [1] * len(entries)
    grids = [encode(entry, 1) for entry in entries]
    # the largest continuous grid gives way first (block means of 2 × 2, 3 × 3... cells);
    # class codes and coverage never do, the classed layers' values last
    while _probe_size(grids) > budget_bytes:
        shrinkable = [
            i
            for i, e in enumerate(entries)
            if not e.get("of") and steps[i] < 64 and e.get("class_codes") is None
        ] or [i for i, e in enumerate(entries) if not e.get("of") and steps[i] < 64]
        if not shrinkable:
            break
        largest = max(shrinkable, key=lambda i: len(grids[i]["planes"][0]["z"]))
        steps[largest] += 1
        grids[largest] = encode(entries[largest], steps[largest])
    return grids

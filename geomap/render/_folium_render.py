"""The folium renderer behind :meth:`MapBuilder.to_map <geomap.render.maps.MapBuilder.to_map>`.

:class:`FoliumMapRenderer` turns the layers a builder collected into a :class:`folium.Map`:
basemap, rasters (embedded images or a tile folder), occurrences, vectors, legends, the layer
control and the side panels.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from geomap import styles
from geomap.core.safe_text import escape_html as escape  # html.escape, braces too
from geomap.errors import UnknownNameError
from geomap.render._folium_vectors import VectorLayers
from geomap.render._layers import (
    GROUPS,
    _Layer,
)
from geomap.render._panels import (
    credit_line,
    sources_html,
    table_html,
    title_html,
)

if TYPE_CHECKING:
    from geomap.render.maps import MapBuilder

__all__ = ["FoliumMapRenderer"]


_NO_UNITS = (None, "1", "", "dimensionless", "probability")
"""Units not shown with a value (a probability or a score has none)."""


@dataclass
class FoliumMapRenderer(VectorLayers):
    """Draw one :class:`MapBuilder`'s layers on a new :class:`folium.Map` (:meth:`build`)."""

    builder: MapBuilder
    bounds: tuple[float, float, float, float] | None
    shift_east: bool
    tile_root: Path | None
    tile_url: str
    legends: list[tuple[Any, str]] = field(default_factory=list)
    groups: dict[str, list[Any]] = field(default_factory=dict)
    extents: list[tuple[float, float, float, float]] = field(default_factory=list)
    # (kind, label, colour) of every categorical legend entry, for colour-distance checks
    legend_entries: list[tuple[str, str, str]] = field(default_factory=list)
    # value grids answering a click (see geomap.render._controls.ValueProbe)
    probes: list[dict[str, Any]] = field(default_factory=list)
    rasters: list[Any] = field(default_factory=list)
    target_rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        """Notes the map builder collected (layers left out and why)."""
        return self.builder.notes

    def build(self) -> Any:
        """Render the builder's layers, panels and controls into a ``folium.Map``."""
        import folium
        from folium import plugins

        from geomap.render import _controls as ctl
        from geomap.render import _elements as el

        b = self.builder
        m = _OfflineMap(
            location=None,
            zoom_start=2,
            tiles=None,
            control_scale=True,
            prefer_canvas=True,
            world_copy_jump=False,
            maxZoom=18,  # the map option (folium's max_zoom only reaches tile layers)
            minZoom=1,
        )
        el.PageHelpers().add_to(m)
        ctl.ControlHelpers().add_to(m)
        if self.bounds is not None:  # the view first: layers then load at their final zoom
            el.InitialView(_leaflet_bounds(self.bounds)).add_to(m)
        base_layers: list[Any] = [folium.FeatureGroup(name="No basemap (offline)", overlay=False)]
        base_layers[0].add_to(m)
        for label, provider in self._online_providers():
            layer = folium.TileLayer(
                tiles=provider.build_url(),
                attr=provider.html_attribution,
                name=label,
                overlay=False,
                show=False,
                max_zoom=19,
                max_native_zoom=provider.get("max_zoom", 18),
            )
            layer.add_to(m)
            base_layers.append(layer)
        tolerance = b._tolerance(self.bounds)
        if b.basemap:
            self._add_basemap(m, tolerance)
        for label, bbox in b._regions:
            self._add_region_outline(m, label, bbox)
        order = {"raster": 0, "vector": 1, "occurrences": 2}
        vector_order = {"geology": 0, "boundary": 1, "country": 1, "coastline": 1, "region": 1}
        layers = sorted(
            b._layers,
            key=lambda layer: (
                order[layer.kind],
                vector_order.get(layer.options.get("style_kind", ""), 2),
            ),
        )
        for spec in layers:
            if spec.kind == "raster":
                self._add_raster(m, spec)
            elif spec.kind == "occurrences":
                self._add_occurrences(m, spec)
            else:
                self._add_vector(m, spec, tolerance)
        control = el.GroupedLayers(base_layers, self._ordered_groups(), collapsed=True)
        control.add_to(m)
        ctl.FoldableGroups(control, folded=[g for g in self.groups if "Evidence" in g]).add_to(m)
        b.layer_names = control.labels()
        b.legend_entries = list(dict.fromkeys(self.legend_entries))
        if self.rasters:
            ctl.OpacitySlider(self.rasters).add_to(m)
        if self.probes:
            ctl.ValueProbe(ctl.budget_probes(self.probes, self.builder.probe_budget_bytes)).add_to(
                m
            )
        if self.legends:
            ctl.CollapsibleLegend(self.legends).add_to(m)
        if self.target_rows:
            ctl.TargetTable(
                self.target_rows[:200], title=f"Targets ({len(self.target_rows)})"
            ).add_to(m)
        plugins.Fullscreen(position="topleft").add_to(m)
        plugins.MeasureControl(
            position="topleft",
            primary_length_unit="kilometers",
            secondary_length_unit="miles",
            primary_area_unit="hectares",
            secondary_area_unit="sqmiles",
        ).add_to(m)
        plugins.Draw(
            export=True,
            filename="survey_areas.geojson",
            position="topleft",
            draw_options={
                "polyline": False,
                "circle": False,
                "circlemarker": False,
                "marker": True,
                "polygon": True,
                "rectangle": True,
            },
        ).add_to(m)
        plugins.MousePosition(
            position="bottomleft",
            separator=" | ",
            prefix="lat | lon:",
            num_digits=4,
            # longitudes of a Pacific-centred map are shown in -180..180
            lng_formatter="function (n) { return (((n + 540) % 360) - 180).toFixed(4); }",
        ).add_to(m)
        if b.basemap:
            self._add_minimap(m)
        if len(b._regions) > 1:
            el.ZoomToButtons(
                [(label, _leaflet_bounds(self._region_box(bbox))) for label, bbox in b._regions]
            ).add_to(m)
        m.get_root().html.add_child(el.LiteralElement(title_html(b)))
        el.HtmlPanel(sources_html(b), position="bottomleft").add_to(m)
        el.AttributionLine(credit_line(b)).add_to(m)
        for title, frame in b._tables:
            el.HtmlPanel(table_html(title, frame), position="bottomleft").add_to(m)
        m.get_root().header.add_child(
            el.LiteralElement(f"<title>{escape(b.title)}</title>"), name="geomap_title"
        )
        if self.bounds is None and self.extents:
            m.fit_bounds(_leaflet_bounds(_union(self.extents)))  # type: ignore[arg-type]
        el.stable_ids(m.get_root())
        return m

    # -- pieces --------------------------------------------------------------------------

    def _online_providers(self) -> list[tuple[str, Any]]:
        from geomap.render.basemap import ONLINE_BASEMAPS

        wanted = self.builder.online_basemaps
        if wanted is False:
            return []
        if wanted is True:
            return list(ONLINE_BASEMAPS.items())
        unknown = [w for w in wanted if w not in ONLINE_BASEMAPS]
        if unknown:
            raise UnknownNameError(
                f"unknown online basemap(s) {unknown}; choose from {list(ONLINE_BASEMAPS)}"
            )
        return [(w, ONLINE_BASEMAPS[w]) for w in wanted]

    def _group(self, name: str, layer: Any) -> None:
        self.groups.setdefault(name, []).append(layer)

    def _ordered_groups(self) -> dict[str, list[Any]]:
        first_seen = {name: i for i, name in enumerate(self.groups)}
        panels = list(dict.fromkeys(name.split(": ")[0] for name in self.groups if ": " in name))

        def rank(name: str) -> tuple[int, int, int]:
            kind = next(
                (
                    i
                    for i, key in enumerate(
                        ("model", "evidence", "occurrences", "geology", "reference")
                    )
                    if name.endswith(GROUPS[key])
                ),
                len(GROUPS),
            )
            prefix = name.split(": ")[0] if ": " in name else ""
            panel = panels.index(prefix) if prefix in panels else len(panels)
            return (kind, panel, first_seen[name])

        return {name: self.groups[name] for name in sorted(self.groups, key=rank)}

    def _region_box(self, bbox: tuple[float, float, float, float]) -> tuple[float, ...]:
        west, south, east, north = bbox
        if west > east:
            east += 360
        elif self.shift_east and east < 0:
            west, east = west + 360, east + 360
        return (west, south, east, north)

    def _add_region_outline(
        self, m: Any, label: str, bbox: tuple[float, float, float, float]
    ) -> None:
        import shapely

        from geomap.render import _elements as el

        west, south, east, north = self._region_box(bbox)
        xs = np.linspace(west, east, 61)
        ring = (
            [(x, south) for x in xs]
            + [(east, north)]
            + [(x, north) for x in xs[::-1]]
            + [(west, south)]
        )
        geometry = shapely.Polygon(ring)
        data = {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": shapely.geometry.mapping(geometry),
                    "properties": {"name": label},
                }
            ],
        }
        layer = el.GeoJsonOverlay(
            data,
            name=f"Region: {label}",
            style=styles.LAYER_STYLES["region"],
            popup_fields=[("name", "Region")],
            tooltip_field="name",
            show=True,
        )
        layer.add_to(m)
        self._group(GROUPS["reference"], layer)

    def _add_basemap(self, m: Any, tolerance: float) -> None:
        from geomap.render import _elements as el
        from geomap.render._vectors import feature_collection, to_display_lonlat
        from geomap.render.basemap import BASEMAP_DATASETS, offline_basemap

        bounds = self.bounds
        if bounds is None:
            self.notes.append("no region given: the offline basemap was not added")
            return
        west, south, east, north = bounds
        bbox = (((west + 180) % 360) - 180, south, ((east + 180) % 360) - 180, north)
        if east - west >= 360:
            bbox = (-180.0, south, 180.0, north)
        layers = offline_basemap(bbox, catalog=self.builder.catalog)
        self.builder.add_datasets(
            d
            for d in BASEMAP_DATASETS
            if any(f.attrs.get("geomap_source") == d for f in layers.values())
        )
        spec = {
            "coastline": ("Coastline", "coastline", None, True),
            "countries": ("Countries", "country", "NAME", True),
            "states": ("States and provinces", "boundary", "name", True),
            "japan_prefectures": ("Japanese prefectures", "boundary", "nam", True),
        }
        for key, frame in layers.items():
            if not len(frame):
                continue
            label, style_kind, name_col, show = spec[key]
            shown = to_display_lonlat(
                frame, what=label, notes=self.notes, shift_east=self.shift_east, tolerance=tolerance
            )
            fields = [name_col] if name_col else []
            if key == "japan_prefectures":
                fields = ["nam", "nam_ja"]
            layer = el.GeoJsonOverlay(
                feature_collection(shown, fields),
                name=label,
                style=styles.LAYER_STYLES[style_kind],
                popup_fields=[
                    (f, "Name" if i == 0 else "Name (Japanese)") for i, f in enumerate(fields)
                ],
                title_field=name_col,
                tooltip_field=name_col,
                show=show,
            )
            layer.add_to(m)
            self._group(GROUPS["reference"], layer)

    def _add_minimap(self, m: Any) -> None:
        from geomap.render import _elements as el
        from geomap.render._vectors import feature_collection, to_display_lonlat
        from geomap.render.basemap import world_outline

        world = to_display_lonlat(
            world_outline(catalog=self.builder.catalog),
            what="overview map",
            notes=self.notes,
            tolerance=0.3,
            precision=2,
        )
        data = feature_collection(world, [])
        if self.shift_east:  # a second copy east of 180° so a Pacific-centred overview is whole
            import shapely

            moved = world.set_geometry(
                shapely.transform(world.geometry.to_numpy(), lambda xy: xy + np.array([360.0, 0.0]))
            )
            data["features"] += feature_collection(moved, [])["features"]
        el.VectorMiniMap(data).add_to(m)

    def _add_raster(self, m: Any, layer: _Layer) -> None:
        import folium

        from geomap.render import _elements as el
        from geomap.render import _raster as rr

        b = self.builder
        options = layer.options
        native = rr.display_size(layer.data)
        tiled = native > b.max_embed_pixels and self.tile_root is not None
        limit = b.max_tile_pixels if tiled else b.max_embed_pixels
        shown = rr.prepare_display_raster(layer.data, max_pixels=limit, what=layer.name)
        codes = None
        area_classes = options.get("classes")
        if area_classes is not None:
            # classified on the analysis grid (the tie rule needs cell positions); the codes
            # take the same nearest-neighbour path to the screen as the values, so a display
            # cell's class and value come from one analysis cell
            coded = area_classes.classify(layer.data)
            coded_da = layer.data.copy(data=coded).astype("float32")
            coded_da = coded_da.where(coded_da > 0).rio.write_nodata(np.nan)
            codes = rr.prepare_display_raster(coded_da, max_pixels=limit, what=layer.name)
        if self.shift_east:
            shown = rr.shift_east(shown)
            codes = rr.shift_east(codes) if codes is not None else None
        valid = np.isfinite(shown.values)
        if not valid.any():
            self.notes.append(f"{layer.name}: no cells with data; layer not drawn")
            return
        reduced = shown.values.size < native * 0.95
        if reduced:
            self.notes.append(
                f"{layer.name}: shown at reduced resolution ({shown.shape[1]} × {shown.shape[0]} "
                f"display cells for ~{native:,} at full resolution)"
            )
        palette, legend, display_values = self._palette(
            layer, shown.values, valid, None if codes is None else codes.values
        )
        self._add_probe(layer, shown, codes)
        west, south, east, north = shown.bounds_lonlat
        bounds = [[south, west], [north, east]]
        self.extents.append((west, south, east, north))
        if tiled and self.tile_root is not None:
            slug = _slug(
                " ".join(filter(None, [options.get("region_label"), layer.name])), len(self.extents)
            )
            zooms = rr.tile_zoom_range(shown)
            ranges = rr.write_tiles(
                rr.DisplayRaster(
                    display_values,
                    shown.transform,
                    shown.crs,
                    shown.bounds_lonlat,
                    shown.decimation,
                ),
                self.tile_root / slug,
                palette,
                zoom_range=zooms,
            )
            overlay: Any = el.LocalTileLayer(
                f"{self.tile_url}/{slug}/{{z}}/{{x}}/{{y}}.png",
                ranges,
                name=layer.name,
                opacity=options["opacity"],
                show=layer.show,
            )
            count = sum((r[1] - r[0] + 1) * (r[3] - r[2] + 1) for r in ranges.values())
            self.notes.append(f"{layer.name}: {count} tiles in {self.tile_url}/{slug}")
        else:
            png = rr.encode_png(palette.indices(display_values, valid), palette)
            uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            overlay = folium.raster_layers.ImageOverlay(
                uri,
                bounds=bounds,
                name=layer.name,
                opacity=options["opacity"],
                show=layer.show,
                pixelated=True,
                interactive=False,
                class_name="geomap-raster",
            )
        overlay.add_to(m)
        self._group(layer.group, overlay)
        self.rasters.append(overlay)
        units = options.get("units")
        if units in _NO_UNITS:
            units = None
        if options.get("classes") is not None:
            title = escape(f"{layer.name}: classes by share of the study area")
        else:
            title = escape(layer.name + (f" ({units})" if units else ""))
        self.legends.append((overlay, f'<div class="geomap-legend-title">{title}</div>{legend}'))

    def _palette(
        self, layer: _Layer, values: np.ndarray, valid: np.ndarray, codes: np.ndarray | None
    ) -> tuple[Any, str, np.ndarray]:
        """Palette, legend HTML and the values to colour (class codes for classed rasters)."""
        from geomap.classes import percentile_stretch
        from geomap.render._elements import svg_colorbar
        from geomap.render._raster import Palette

        options = layer.options
        area_classes = options.get("classes")
        if area_classes is not None and codes is not None:
            colors = list(styles.PROSPECTIVITY_CLASS_COLORS)
            palette = Palette(
                colors=[_rgb(c) for c in colors], classes=[float(c) for c in area_classes.codes]
            )
            items = ""
            for color, label in zip(colors, area_classes.labels, strict=True):
                items += (
                    f'<div><span class="geomap-swatch" style="background:{color}"></span>'
                    f"{escape(label)}</div>"
                )
                self.legend_entries.append(("prospectivity", label, color))
            if area_classes.tie_summary:
                items += f'<div class="geomap-legend-note">{escape(area_classes.tie_summary)}</div>'
            return palette, items, codes
        data = values[valid]
        classes = np.unique(data)
        integer_valued = bool(np.all(np.equal(np.mod(classes, 1), 0)))
        if options["categorical"] and integer_valued and len(classes) <= 64:
            # coverage: the colour says which share of the evidence layers has data, so the
            # same colour means the same thing in every region (steps of one ramp)
            total = _layer_count(layer.data) or int(classes.max()) or 1
            ramp = styles.colormap_stops(options["colormap"], 256)
            rgb = [ramp[round(min(1.0, max(0.0, c / total)) * 255)] for c in classes]
            palette = Palette(colors=rgb, classes=[float(c) for c in classes])
            items = "".join(
                f'<div><span class="geomap-swatch geomap-ramp" style="background:{_hex(c)}">'
                f"</span>{escape(_class_label(v, layer, total))}</div>"
                for c, v in zip(palette.colors, classes, strict=True)
            )
            return palette, items, values
        if options.get("stretch", True) and options["vmin"] is None and options["vmax"] is None:
            vmin, vmax = percentile_stretch(data)
        else:
            vmin = float(options["vmin"]) if options["vmin"] is not None else float(data.min())
            vmax = float(options["vmax"]) if options["vmax"] is not None else float(data.max())
        if not vmax > vmin:
            vmax = vmin + (abs(vmin) * 1e-6 or 1e-6)
        rgb = styles.colormap_stops(options["colormap"], 255)
        palette = Palette(colors=rgb, vmin=vmin, vmax=vmax)
        hexes = [_hex(c) for c in styles.colormap_stops(options["colormap"], 9)]
        return palette, svg_colorbar(hexes, vmin, vmax), values

    def _add_probe(self, layer: _Layer, shown: Any, codes: Any = None) -> None:
        """Keep the raster's display grid so a click can read its value (the drawn cell's)."""
        options = layer.options
        entry: dict[str, Any] = {
            "label": options.get("short_name") or layer.name,
            "region": options.get("region_label"),
            "units": None if options.get("units") in _NO_UNITS else options.get("units"),
            "display": shown,
        }
        area_classes = options.get("classes")
        if area_classes is not None and codes is not None:
            entry["class_codes"] = codes
            entry["classes"] = {"labels": area_classes.short_labels}
        if options.get("kind") == "coverage":
            entry["of"] = _layer_count(layer.data) or int(np.nanmax(shown.values))
            entry["units"] = None
        self.probes.append(entry)

    # -- panels --------------------------------------------------------------------------


@functools.cache
def _offline_map_class() -> Any:
    import folium
    from folium import folium as folium_module

    leaflet_js = dict(folium_module._default_js)["leaflet"]
    leaflet_css = dict(folium_module._default_css)["leaflet_css"]

    class OfflineMap(folium.Map):
        """A folium Map that loads only Leaflet itself (no jQuery, Bootstrap, fonts)."""

        default_js = [("leaflet", leaflet_js)]  # noqa: RUF012
        default_css = [("leaflet_css", leaflet_css)]  # noqa: RUF012

    return OfflineMap


def _OfflineMap(**kwargs: Any) -> Any:  # noqa: N802 - behaves as a class
    return _offline_map_class()(**kwargs)


def _leaflet_bounds(bbox: Sequence[float]) -> list[list[float]]:
    west, south, east, north = bbox
    return [[float(south), float(west)], [float(north), float(east)]]


def _union(
    boxes: Sequence[tuple[float, float, float, float]],
) -> tuple[float, float, float, float] | None:
    if not boxes:
        return None
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _rgb(color: str) -> tuple[int, int, int]:
    text = color.lstrip("#")
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def _hex(rgb: Sequence[int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb[:3])


def _class_label(value: float, layer: _Layer, total: int | None = None) -> str:
    text = f"{int(value)}" if float(value).is_integer() else f"{value:g}"
    if "coverage" in layer.name.lower() or layer.options.get("categorical"):
        of = f" of {total}" if total else ""
        return f"{text}{of} evidence layers with data"
    return text


def _layer_count(data: Any) -> int | None:
    """How many evidence layers a coverage raster counts (``attrs["geomap_layers"]``)."""
    import json

    layers = getattr(data, "attrs", {}).get("geomap_layers")
    try:
        return len(json.loads(layers)) if layers else None
    except (TypeError, ValueError):
        return None


def _slug(name: str, index: int) -> str:
    import re

    text = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "raster"
    return f"{index:02d}_{text[:40]}"
